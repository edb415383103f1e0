/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE /* unshare */
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
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

/* Children die with the test, also when it aborts. */
static void
child_setup(gpointer data)
{
        prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static GPid
spawn(char **argv, const char *log_path)
{
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) env = g_get_environ();
        GPid pid;
        int log_fd = -1;

        /* The daemon's own warnings are not the test's: G_DEBUG stays ours,
         * unless the test asks for one of the daemon's (NLC_DAEMON_G_DEBUG). */
        env = g_environ_unsetenv(env, "G_DEBUG");
        if (g_getenv("NLC_DAEMON_G_DEBUG"))
                env = g_environ_setenv(env, "G_DEBUG", g_getenv("NLC_DAEMON_G_DEBUG"), TRUE);
        if (log_path)
                log_fd = g_open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (!g_spawn_async_with_fds(NULL, argv, env,
                                    G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH, child_setup,
                                    NULL, &pid, -1, log_fd, log_fd, &error))
                g_error("cannot start %s: %s", argv[0], error->message);
        if (log_fd >= 0)
                close(log_fd);
        return pid;
}

static gboolean
name_has_owner(NsEnv *env)
{
        g_autoptr(GVariant) r = g_dbus_connection_call_sync(
                env->conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                "NameHasOwner", g_variant_new("(s)", "org.netlifecd1"), G_VARIANT_TYPE("(b)"),
                G_DBUS_CALL_FLAGS_NONE, 1000, NULL, NULL);
        gboolean has = FALSE;

        if (r)
                g_variant_get(r, "(b)", &has);
        return has;
}

void
ns_env_start_daemon(NsEnv *env)
{
        g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
        const char *daemon = g_getenv("NLC_DAEMON");

        if (!daemon)
                g_error("NLC_DAEMON is not set: run through meson test");
        g_ptr_array_add(argv, g_strdup(daemon));
        g_ptr_array_add(argv, g_strconcat("--address=", env->address, NULL));
        g_ptr_array_add(argv, g_strconcat("--state-dir=", env->dir, "/state", NULL));
        g_ptr_array_add(argv, g_strconcat("--runtime-dir=", env->dir, "/run", NULL));
        for (guint i = 0; env->daemon_args && env->daemon_args[i]; i++)
                g_ptr_array_add(argv, g_strdup(env->daemon_args[i]));
        g_ptr_array_add(argv, NULL);
        env->daemon_pid = spawn((char **) argv->pdata, env->daemon_log);
        for (int i = 0; i < 500 && !name_has_owner(env); i++)
                g_usleep(10000);
        if (!name_has_owner(env))
                g_error("netlifecd did not take its bus name within 5 s");
}

static void
dump_log(NsEnv *env)
{
        g_autofree char *log = NULL;

        if (env->daemon_log && g_file_get_contents(env->daemon_log, &log, NULL, NULL))
                g_test_message("daemon log:\n%s", log);
}

void
ns_env_kill9_daemon(NsEnv *env)
{
        int status;

        kill(env->daemon_pid, SIGKILL);
        waitpid(env->daemon_pid, &status, 0);
        g_spawn_close_pid(env->daemon_pid);
        env->daemon_pid = 0;
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

GDBusConnection *
ns_bus_connect(const char *address)
{
        g_autoptr(GError) error = NULL;
        GDBusConnection *conn = NULL;

        /* dbus-daemon makes the socket file before it listens: retry. */
        for (int i = 0; i < 500 && !conn; i++) {
                g_clear_error(&error);
                conn = g_dbus_connection_new_for_address_sync(
                        address,
                        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                        NULL, NULL, &error);
                if (!conn)
                        g_usleep(10000);
        }
        g_assert_no_error(error);
        return conn;
}

void
ns_env_start_bus_and_daemon(NsEnv *env, const char *dir_template, const char *const *daemon_args)
{
        g_autoptr(GError) error = NULL;
        g_autofree char *bus_path = NULL, *bus_arg = NULL;
        char *bus_argv[] = { "dbus-daemon", "--session", "--nofork", NULL, NULL };

        memset(env, 0, sizeof *env);
        env->dir = g_dir_make_tmp(dir_template, &error);
        g_assert_no_error(error);
        env->daemon_log = g_build_filename(env->dir, "daemon.log", NULL);
        env->daemon_args = g_strdupv((char **) daemon_args);
        bus_path = g_build_filename(env->dir, "bus", NULL);
        /* unix:path, not an abstract socket: those belong to a namespace. */
        env->address = g_strconcat("unix:path=", bus_path, NULL);
        bus_arg = g_strconcat("--address=", env->address, NULL);
        bus_argv[3] = bus_arg;
        env->bus_pid = spawn(bus_argv, NULL);
        env->conn = ns_bus_connect(env->address);
        ns_env_start_daemon(env);
}

void
ns_env_tear_down(NsEnv *env)
{
        int status = 0;

        if (g_test_failed())
                dump_log(env);
        if (env->daemon_pid) {
                /* A clean shutdown is part of the contract: exit 0 on SIGTERM. */
                kill(env->daemon_pid, SIGTERM);
                waitpid(env->daemon_pid, &status, 0);
                g_spawn_close_pid(env->daemon_pid);
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        dump_log(env);
                        g_error("netlifecd did not exit cleanly on SIGTERM (status %d)", status);
                }
        }
        g_clear_object(&env->conn);
        kill(env->bus_pid, SIGTERM);
        waitpid(env->bus_pid, &status, 0);
        ns_sh("rm -rf '%s'", env->dir);
        g_free(env->dir);
        g_free(env->address);
        g_free(env->daemon_log);
        g_strfreev(env->daemon_args);
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
