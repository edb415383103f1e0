/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <json-glib/json-glib.h>
#include <unistd.h>

#include "nlc-test-ns.h"
#include "ns-env.h"

static char *
vrun(gboolean want_out, const char *fmt, va_list ap)
{
        g_autofree char *cmd = g_strdup_vprintf(fmt, ap);
        g_autofree char *out = NULL, *err = NULL;
        g_autoptr(GError) error = NULL;
        char *argv[] = { "/bin/sh", "-c", cmd, NULL };
        int status = 0;

        if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status,
                          &error))
                g_error("cannot run '%s': %s", cmd, error->message);
        if (!g_spawn_check_wait_status(status, NULL))
                g_error("'%s' failed: %s", cmd, err);
        return want_out ? g_steal_pointer(&out) : NULL;
}

void
ns_sh(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        g_free(vrun(FALSE, fmt, ap));
        va_end(ap);
}

char *
ns_sh_out(const char *fmt, ...)
{
        va_list ap;
        char *out;

        va_start(ap, fmt);
        out = vrun(TRUE, fmt, ap);
        va_end(ap);
        return out;
}

void
ns_env_set_up(NsEnv *env, const char *const *daemon_args)
{
        ns_env_set_up_full(env, daemon_args, FALSE);
}

void
ns_env_set_up_full(NsEnv *env, const char *const *daemon_args, gboolean own_sysfs)
{
        nlc_test_unshare(own_sysfs);
        ns_sh("ip link set lo up");
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

GVariant *
ns_call(NsEnv *env, const char *path, const char *iface, const char *method, GVariant *params,
        const char *reply_type, GError **error)
{
        return g_dbus_connection_call_sync(env->conn, "org.netlifecd1", path, iface, method, params,
                                           reply_type ? G_VARIANT_TYPE(reply_type) : NULL,
                                           G_DBUS_CALL_FLAGS_NONE, 20000, NULL, error);
}

void
ns_call_expect_error(NsEnv *env, const char *path, const char *iface, const char *method,
                     GVariant *params, const char *error_name)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = ns_call(env, path, iface, method, params, NULL, &error);
        g_autofree char *remote = NULL;

        g_assert_null(r);
        g_assert_nonnull(error);
        remote = g_dbus_error_get_remote_error(error);
        if (g_strcmp0(remote, error_name) != 0)
                g_error("%s: expected %s, got %s (%s)", method, error_name, remote, error->message);
}

char *
ns_allocate(NsEnv *env, const char *instance, const char *mac, const char *options_text)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) opts =
                g_variant_parse(G_VARIANT_TYPE_VARDICT, options_text, NULL, NULL, &error);
        g_autoptr(GVariant) r = NULL;
        char *path = NULL;

        g_assert_no_error(error);
        r = ns_call(env, "/org/netlifecd1", "org.netlifecd1.Manager", "Allocate",
                    g_variant_new("(sss@a{sv})", instance, "tap-bridge", mac, opts), "(o)", &error);
        g_assert_no_error(error);
        g_variant_get(r, "(o)", &path);
        return path;
}

GUnixFDList *
ns_create(NsEnv *env, const char *path)
{
        g_autoptr(GError) error = NULL;
        GUnixFDList *fds = NULL;
        g_autoptr(GVariant) r = g_dbus_connection_call_with_unix_fd_list_sync(
                env->conn, "org.netlifecd1", path, "org.netlifecd1.Device", "Create", NULL,
                G_VARIANT_TYPE("(ah)"), G_DBUS_CALL_FLAGS_NONE, 20000, NULL, &fds, NULL, &error);

        g_assert_no_error(error);
        g_assert_nonnull(fds);
        return fds;
}

void
ns_device_call(NsEnv *env, const char *path, const char *method)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r =
                ns_call(env, path, "org.netlifecd1.Device", method, NULL, "()", &error);

        g_assert_no_error(error);
}

GVariant *
ns_get(NsEnv *env, const char *path, const char *iface, const char *prop)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = g_dbus_connection_call_sync(
                env->conn, "org.netlifecd1", path, "org.freedesktop.DBus.Properties", "Get",
                g_variant_new("(ss)", iface, prop), G_VARIANT_TYPE("(v)"), G_DBUS_CALL_FLAGS_NONE,
                5000, NULL, &error);
        GVariant *v;

        g_assert_no_error(error);
        g_variant_get(r, "(v)", &v);
        return v;
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
        return g_strconcat("--config=", path, NULL);
}

char *
ns_get_string(NsEnv *env, const char *path, const char *iface, const char *prop)
{
        g_autoptr(GVariant) v = ns_get(env, path, iface, prop);

        return g_variant_dup_string(v, NULL);
}

gboolean
ns_get_bool(NsEnv *env, const char *path, const char *iface, const char *prop)
{
        g_autoptr(GVariant) v = ns_get(env, path, iface, prop);

        return g_variant_get_boolean(v);
}

guint64
ns_get_u64(NsEnv *env, const char *path, const char *iface, const char *prop)
{
        g_autoptr(GVariant) v = ns_get(env, path, iface, prop);

        return g_variant_get_uint64(v);
}

gboolean
ns_wait(gboolean (*cond)(gpointer), gpointer data, guint timeout_ms)
{
        gint64 deadline = g_get_monotonic_time() + (gint64) timeout_ms * 1000;

        while (!cond(data) && g_get_monotonic_time() < deadline)
                g_main_context_iteration(NULL, FALSE) || (g_usleep(1000), TRUE);
        return cond(data);
}

char *
ns_kernel_port_state(const char *ifname)
{
        g_autofree char *out = ns_sh_out("bridge -j link show dev %s", ifname);
        g_autoptr(JsonNode) root = json_from_string(out, NULL);
        JsonArray *a = root && JSON_NODE_HOLDS_ARRAY(root) ? json_node_get_array(root) : NULL;
        JsonObject *o = a && json_array_get_length(a) ? json_array_get_object_element(a, 0) : NULL;

        return g_strdup(o ? json_object_get_string_member_with_default(o, "state", "none")
                          : "none");
}

char *
ns_kernel_fdb_static(const char *mac)
{
        g_autofree char *out = ns_sh_out("bridge -j fdb show");
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
