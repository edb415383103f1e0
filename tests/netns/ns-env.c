/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <unistd.h>

#include "nlc-test-ns.h"
#include "ns-env.h"

void
ns_env_set_up(NsEnv *env, const char *const *daemon_args)
{
        ns_env_set_up_full(env, daemon_args, FALSE);
}

void
ns_env_set_up_full(NsEnv *env, const char *const *daemon_args, gboolean own_sysfs)
{
        nlc_test_unshare(own_sysfs);
        nlc_run("ip link set lo up");
        ns_env_start_bus_and_daemon(env, "nlc-netns-XXXXXX", daemon_args);
}

void
ns_env_start_bus_and_daemon(NsEnv *env, const char *dir_template, const char *const *daemon_args)
{
        g_autoptr(GError) error = NULL;
        g_autofree char *dir = g_dir_make_tmp(dir_template, &error);

        g_assert_no_error(error);
        nlc_test_daemon_init(env, dir);
        env->daemon_args = g_strdupv((char **) daemon_args);
        nlc_test_start_bus(env, NULL);
        nlc_test_start_daemon(env);
}

void
ns_env_tear_down(NsEnv *env)
{
        if (g_test_failed())
                nlc_test_print_logs(env->dir);
        nlc_test_daemon_finish(env, TRUE);
}

static void
remove_file(gpointer path)
{
        g_unlink(path);
        g_free(path);
}

char *
ns_config_arg(const char *text)
{
        g_autofree char *path = NULL;
        g_autoptr(GError) error = NULL;
        int fd = g_file_open_tmp("nlc-conf-XXXXXX", &path, &error);

        g_assert_no_error(error);
        close(fd);
        g_assert_true(g_file_set_contents(path, text, -1, NULL));
        /* Read by each (re)start of the daemon during the case; gone with it. */
        g_test_queue_destroy(remove_file, g_strdup(path));
        return g_strconcat("--config=", path, NULL);
}

char *
ns_get_string(NsEnv *env, const char *path, const char *iface, const char *prop)
{
        g_autoptr(GVariant) v = nlc_get(env, path, iface, prop);

        return g_variant_dup_string(v, NULL);
}

void
ns_call_expect_error(NsEnv *env, const char *path, const char *iface, const char *method,
                     GVariant *params, const char *error_name)
{
        g_free(nlc_call_error(env, path, iface, method, params, error_name));
}

static gboolean
tick(gpointer data)
{
        return G_SOURCE_CONTINUE;
}

gboolean
ns_wait(gboolean (*cond)(gpointer), gpointer data, guint timeout_ms)
{
        guint id = g_timeout_add(1, tick, NULL);
        gboolean met = nlc_wait_until(cond, data, timeout_ms);

        g_source_remove(id);
        return met;
}

char *
ns_kernel_port_state(const char *ifname)
{
        g_autofree char *out = nlc_run_out("bridge -j link show dev %s", ifname);
        g_autoptr(JsonNode) root = json_from_string(out, NULL);
        JsonArray *a = root && JSON_NODE_HOLDS_ARRAY(root) ? json_node_get_array(root) : NULL;
        JsonObject *o = a && json_array_get_length(a) ? json_array_get_object_element(a, 0) : NULL;

        return g_strdup(o ? json_object_get_string_member_with_default(o, "state", "none")
                          : "none");
}

char *
ns_kernel_fdb_static(const char *mac)
{
        g_autofree char *out = nlc_run_out("bridge -j fdb show");
        g_autoptr(JsonNode) root = json_from_string(out, NULL);
        JsonArray *a = root && JSON_NODE_HOLDS_ARRAY(root) ? json_node_get_array(root) : NULL;
        g_autoptr(GString) s = g_string_new(NULL);

        for (guint i = 0; a && i < json_array_get_length(a); i++) {
                JsonObject *o = json_array_get_object_element(a, i);

                if (g_strcmp0(json_object_get_string_member_with_default(o, "mac", ""), mac) != 0 ||
                    g_strcmp0(json_object_get_string_member_with_default(o, "state", ""),
                              "static") != 0 ||
                    !json_object_has_member(o, "master"))
                        continue;
                g_string_append_printf(s, "%s%s@%s", s->len ? " " : "",
                                       json_object_get_string_member(o, "ifname"),
                                       json_object_get_string_member(o, "master"));
        }
        return g_string_free(g_steal_pointer(&s), FALSE);
}
