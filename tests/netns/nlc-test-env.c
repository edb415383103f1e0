/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "nlc-test-dbus.h"
#include "nlc-test-kernel.h"
#include "nlc-test-ns.h"

/* Far below meson's limit for a whole executable: one case that hangs must
 * not take the others' time. */
#define CASE_TIMEOUT_USEC (120 * G_USEC_PER_SEC)

typedef struct {
        NlcTestFunc func;
        gconstpointer data;
} Case;

void
nlc_test_step(const char *fmt, ...)
{
        g_autofree char *text = NULL;
        va_list ap;

        va_start(ap, fmt);
        text = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        g_printerr("step: %s\n", text);
}

static gboolean
set_flag(gpointer data)
{
        *(gboolean *) data = TRUE;
        return G_SOURCE_REMOVE;
}

gboolean
nlc_wait_until(gboolean (*cond)(gpointer), gpointer data, guint timeout_ms)
{
        gboolean timed_out = FALSE;
        guint id;

        if (cond(data))
                return TRUE;
        /* The timeout source wakes the blocking iteration: bounded in time. */
        id = g_timeout_add(timeout_ms, set_flag, &timed_out);
        while (!cond(data) && !timed_out)
                g_main_context_iteration(NULL, TRUE);
        if (!timed_out)
                g_source_remove(id);
        return cond(data);
}

/* ---- commands ----------------------------------------------------------- */

char *
nlc_command(gboolean shell, const char *fmt, ...)
{
        g_autofree char *cmd = NULL;
        g_autofree char *err = NULL;
        g_auto(GStrv) argv = NULL;
        g_autoptr(GError) error = NULL;
        char *out = NULL;
        int status = 0;
        va_list ap;

        va_start(ap, fmt);
        cmd = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        if (shell)
                argv = g_strdupv((char *[]){ "/bin/sh", "-c", cmd, NULL });
        else if (!g_shell_parse_argv(cmd, NULL, &argv, &error))
                g_error("cannot parse '%s': %s", cmd, error->message);
        if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status,
                          &error))
                g_error("cannot run '%s': %s", cmd, error->message);
        if (!g_spawn_check_wait_status(status, &error))
                g_error("'%s' failed (%s): %s", cmd, error->message, err);
        return out;
}

/* ---- set-up and tear-down ----------------------------------------------- */

/* Plain open and write: a sysctl file takes no temporary file and rename. */
static void
write_file(const char *path, const char *text)
{
        int fd = g_open(path, O_WRONLY | O_CLOEXEC, 0);
        gssize len = (gssize) strlen(text);

        if (fd < 0)
                g_error("cannot open %s: %s", path, g_strerror(errno));
        if (write(fd, text, (size_t) len) != len)
                g_error("cannot write %s: %s", path, g_strerror(errno));
        close(fd);
}

static void
set_up(NlcTestEnv *env)
{
        const char *dir = g_getenv("NLC_TEST_DIR");

        if (!dir)
                g_error("NLC_TEST_DIR is not set (the parent test process sets it)");
        /* Root is required: without it the case fails here, never skips.
         * The namespace's own sysfs: /sys/class/net shows its links. */
        nlc_test_unshare(TRUE);
        /* No IPv6 in the namespace: no router solicitations, DAD or MLD
         * frames, so the bridge learns nothing and captures see only ours.
         * The files are the new namespace's: it was entered before opening. */
        write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
        write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
        nlc_run("ip link set lo up");
        /* STP off: a port forwards as soon as it has carrier. The bridge MTU
         * differs from the default 1500 so that "the tap takes the bridge's
         * MTU" means something. */
        nlc_run("ip link add " NLC_BRIDGE " type bridge stp_state 0");
        nlc_run("ip link set " NLC_BRIDGE " mtu %d", NLC_BRIDGE_MTU);
        nlc_run("ip link add " NLC_PORT_VETH " type veth peer name " NLC_PEER_VETH);
        nlc_run("ip link set " NLC_PORT_VETH " mtu %d", NLC_BRIDGE_MTU);
        nlc_run("ip link set " NLC_PEER_VETH " mtu %d", NLC_BRIDGE_MTU);
        nlc_run("ip link set " NLC_PORT_VETH " master " NLC_BRIDGE);
        nlc_run("ip link set " NLC_BRIDGE " up");
        nlc_run("ip link set " NLC_PORT_VETH " up");
        nlc_run("ip link set " NLC_PEER_VETH " up");
        nlc_kernel_assert_topology();

        nlc_test_daemon_init(env, dir);
        env->daemon_args = g_strdupv((char *[]){ "--verbose", NULL });
        env->logs_shown_by_parent = TRUE;
        nlc_test_start_bus(env, NULL);
        /* Everything is recorded from before the daemon starts. */
        nlc_test_signals_start(env);
        nlc_test_start_daemon(env);
}

static void
tear_down(NlcTestEnv *env)
{
        nlc_test_step("tear-down");
        nlc_test_signals_stop(env);
        /* The parent removes the directory, after printing its logs. */
        nlc_test_daemon_finish(env, FALSE);
}

/* ---- the parent's side -------------------------------------------------- */

static void
run_case(gconstpointer user_data)
{
        const Case *c = user_data;
        g_autoptr(GError) error = NULL;
        g_autofree char *dir = NULL;
        gboolean passed;

        if (g_test_subprocess()) {
                NlcTestEnv env = { 0 };

                set_up(&env);
                c->func(&env, c->data);
                tear_down(&env);
                return;
        }
        /* Each case in its own process: the namespace it enters, every
         * thread GLib starts in it and every child it spawns end with it,
         * whatever way the case ends. */
        dir = g_dir_make_tmp("nlc-tap-test-XXXXXX", &error);
        g_assert_no_error(error);
        g_setenv("NLC_TEST_DIR", dir, TRUE);
        g_test_trap_subprocess(NULL, CASE_TIMEOUT_USEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
        g_unsetenv("NLC_TEST_DIR");
        passed = g_test_trap_has_passed();
        if (!passed)
                nlc_test_print_logs(dir);
        nlc_test_remove_tree(dir);
        if (!passed)
                g_test_fail_printf("the case failed: its messages and the daemon log are above");
}

void
nlc_test_add(const char *test_path, NlcTestFunc func, gconstpointer data)
{
        Case *c = g_new0(Case, 1);

        c->func = func;
        c->data = data;
        g_test_add_data_func_full(test_path, c, run_case, g_free);
}
