/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE /* unshare */
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nlc-test-dbus.h"
#include "nlc-test-kernel.h"
#include "nlc-test-ns.h"

/* Far below meson's limit for a whole executable: one case that hangs must
 * not take the others' time. */
#define CASE_TIMEOUT_USEC (120 * G_USEC_PER_SEC)
#define CALL_TIMEOUT_MS   10000
#define NAME_TIMEOUT_MS   10000
#define EXIT_TIMEOUT_MS   5000

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

/* ---- processes ---------------------------------------------------------- */

/* Children die with the test process, also when it is killed on a timeout. */
static void
child_setup(gpointer data)
{
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != (pid_t) GPOINTER_TO_INT(data))
                _exit(1);
}

static GPid
spawn(char **argv, char **envp, int out_fd, int err_fd, int pass_fd, int pass_as)
{
        g_autoptr(GError) error = NULL;
        int source_fds[1] = { pass_fd };
        int target_fds[1] = { pass_as };
        GPid pid = 0;

        if (!g_spawn_async_with_pipes_and_fds(
                    NULL, (const char *const *) argv, (const char *const *) envp,
                    G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH, child_setup,
                    GINT_TO_POINTER(getpid()), -1, out_fd, err_fd, pass_fd >= 0 ? source_fds : NULL,
                    pass_fd >= 0 ? target_fds : NULL, pass_fd >= 0 ? 1 : 0, &pid, NULL, NULL, NULL,
                    &error))
                g_error("cannot start %s: %s", argv[0], error->message);
        return pid;
}

static int
open_log(const char *path)
{
        int fd = g_open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

        if (fd < 0)
                g_error("cannot open %s: %s", path, g_strerror(errno));
        return fd;
}

static char *
read_line_with_timeout(int fd, guint timeout_ms)
{
        g_autoptr(GString) line = g_string_new(NULL);
        gint64 deadline = g_get_monotonic_time() + (gint64) timeout_ms * 1000;

        while (!strchr(line->str, '\n')) {
                gint64 left = (deadline - g_get_monotonic_time()) / 1000;
                struct pollfd p = { .fd = fd, .events = POLLIN };
                char buf[256];
                ssize_t n;

                if (left <= 0 || poll(&p, 1, (int) left) <= 0)
                        return NULL;
                n = read(fd, buf, sizeof buf);
                if (n <= 0)
                        return NULL;
                g_string_append_len(line, buf, n);
        }
        return g_strstrip(g_string_free(g_steal_pointer(&line), FALSE));
}

static void
start_bus(NlcTestEnv *env)
{
        g_autofree char *bus_path = g_build_filename(env->dir, "bus", NULL);
        g_autofree char *bus_log = g_build_filename(env->dir, "bus.log", NULL);
        g_autofree char *address_arg = NULL, *printed = NULL;
        g_autoptr(GError) error = NULL;
        int pipe_fds[2], log_fd;

        /* unix:path, not an abstract socket: abstract names belong to a
         * network namespace, a path is reachable from every one. */
        env->address = g_strconcat("unix:path=", bus_path, NULL);
        address_arg = g_strconcat("--address=", env->address, NULL);
        {
                char *argv[] = { "dbus-daemon", "--session",         "--nofork",
                                 address_arg,   "--print-address=3", NULL };

                if (!g_unix_open_pipe(pipe_fds, FD_CLOEXEC, &error))
                        g_error("pipe: %s", error->message);
                log_fd = open_log(bus_log);
                env->bus_pid = spawn(argv, NULL, log_fd, log_fd, pipe_fds[1], 3);
                close(log_fd);
                close(pipe_fds[1]);
        }
        /* The address is printed once the bus listens. */
        printed = read_line_with_timeout(pipe_fds[0], NAME_TIMEOUT_MS);
        close(pipe_fds[0]);
        if (!printed || !g_str_has_prefix(printed, env->address))
                g_error("dbus-daemon did not print its address (got '%s')", printed);
}

static void
on_daemon_exit(GPid pid, int status, gpointer data)
{
        NlcTestEnv *env = data;

        env->daemon_exited = TRUE;
        env->daemon_status = status;
        g_spawn_close_pid(pid);
}

static gboolean
daemon_ready_or_gone(gpointer data)
{
        NlcTestEnv *env = data;

        return env->daemon_exited || (env->bus_owner && *env->bus_owner);
}

static gboolean
name_released(gpointer data)
{
        NlcTestEnv *env = data;

        return !env->bus_owner || !*env->bus_owner;
}

static void
refresh_owner(NlcTestEnv *env)
{
        g_autoptr(GVariant) r = g_dbus_connection_call_sync(
                env->conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                "NameHasOwner", g_variant_new("(s)", NLC_BUS_NAME), G_VARIANT_TYPE("(b)"),
                G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, NULL);
        gboolean has = FALSE;

        if (r)
                g_variant_get(r, "(b)", &has);
        /* Only the fact matters here; NameOwnerChanged keeps it current. */
        g_free(env->bus_owner);
        env->bus_owner = g_strdup(has ? "?" : "");
}

void
nlc_test_start_daemon(NlcTestEnv *env)
{
        const char *daemon = g_getenv("NLC_DAEMON");
        g_auto(GStrv) envp = g_get_environ();
        g_autofree char *address_arg = g_strconcat("--address=", env->address, NULL);
        g_autofree char *state_arg = g_strconcat("--state-dir=", env->state_dir, NULL);
        g_autofree char *runtime_arg = g_strconcat("--runtime-dir=", env->runtime_dir, NULL);
        g_autofree char *header = NULL;
        g_autofree char *config_arg =
                env->config ? g_strconcat("--config=", env->config, NULL) : NULL;
        char *argv[] = { (char *) daemon, address_arg, state_arg, runtime_arg,
                         "--verbose",     config_arg,  NULL };
        int log_fd;

        if (!daemon)
                g_error("NLC_DAEMON is not set: run the tests through meson test");
        g_assert_cmpint(env->daemon_pid, ==, 0);
        /* fatal-warnings is for the test process: a daemon warning is reported
         * in its log, not turned into a crash that hides the real failure. */
        envp = g_environ_unsetenv(envp, "G_DEBUG");
        log_fd = open_log(env->daemon_log);
        header = g_strdup_printf("---- netlifecd start %u ----\n", ++env->daemon_starts);
        g_assert_cmpint(write(log_fd, header, strlen(header)), ==, (gssize) strlen(header));
        env->daemon_exited = FALSE;
        env->daemon_pid = spawn(argv, envp, log_fd, log_fd, -1, -1);
        close(log_fd);
        g_child_watch_add(env->daemon_pid, on_daemon_exit, env);
        refresh_owner(env);
        if (!nlc_wait_until(daemon_ready_or_gone, env, NAME_TIMEOUT_MS))
                g_error("netlifecd did not own %s within %u ms", NLC_BUS_NAME, NAME_TIMEOUT_MS);
        if (env->daemon_exited)
                g_error("netlifecd exited before owning %s (wait status %d)", NLC_BUS_NAME,
                        env->daemon_status);
}

static gboolean
daemon_gone(gpointer data)
{
        return ((NlcTestEnv *) data)->daemon_exited;
}

/* Sends @signo and waits for the exit; returns the wait status. */
static int
signal_daemon(NlcTestEnv *env, int signo)
{
        g_assert_cmpint(env->daemon_pid, >, 0);
        g_assert_cmpint(kill(env->daemon_pid, signo), ==, 0);
        if (!nlc_wait_until(daemon_gone, env, EXIT_TIMEOUT_MS))
                g_error("netlifecd did not exit within %u ms of signal %d", EXIT_TIMEOUT_MS, signo);
        env->daemon_pid = 0;
        /* The next start must not mistake the old owner for the new one. */
        if (!nlc_wait_until(name_released, env, NAME_TIMEOUT_MS))
                g_error("the bus still lists an owner of %s after netlifecd exited", NLC_BUS_NAME);
        return env->daemon_status;
}

void
nlc_test_stop_daemon(NlcTestEnv *env, int signo)
{
        g_autoptr(GError) error = NULL;
        int status = signal_daemon(env, signo);

        /* The contract: SIGTERM and SIGINT end the daemon cleanly, status 0. */
        if (!g_spawn_check_wait_status(status, &error))
                g_error("netlifecd did not exit cleanly on signal %d: %s", signo, error->message);
}

void
nlc_test_kill9_daemon(NlcTestEnv *env)
{
        int status = signal_daemon(env, SIGKILL);

        g_assert_true(WIFSIGNALED(status));
        g_assert_cmpint(WTERMSIG(status), ==, SIGKILL);
}

void
nlc_test_restart_daemon(NlcTestEnv *env)
{
        nlc_test_stop_daemon(env, SIGTERM);
        nlc_test_start_daemon(env);
}

/* ---- commands ----------------------------------------------------------- */

static char *
run_v(const char *fmt, va_list ap)
{
        g_autofree char *cmd = g_strdup_vprintf(fmt, ap);
        g_autofree char *err = NULL;
        g_auto(GStrv) argv = NULL;
        g_autoptr(GError) error = NULL;
        char *out = NULL;
        int status = 0;

        if (!g_shell_parse_argv(cmd, NULL, &argv, &error))
                g_error("cannot parse '%s': %s", cmd, error->message);
        if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status,
                          &error))
                g_error("cannot run '%s': %s", cmd, error->message);
        if (!g_spawn_check_wait_status(status, &error))
                g_error("'%s' failed (%s): %s", cmd, error->message, err);
        return out;
}

void
nlc_run(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        g_free(run_v(fmt, ap));
        va_end(ap);
}

char *
nlc_run_out(const char *fmt, ...)
{
        va_list ap;
        char *out;

        va_start(ap, fmt);
        out = run_v(fmt, ap);
        va_end(ap);
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
        g_autoptr(GError) error = NULL;
        const char *dir = g_getenv("NLC_TEST_DIR");

        if (!dir)
                g_error("NLC_TEST_DIR is not set (the parent test process sets it)");
        env->dir = g_strdup(dir);
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

        env->state_dir = g_build_filename(env->dir, "state", NULL);
        env->runtime_dir = g_build_filename(env->dir, "run", NULL);
        env->daemon_log = g_build_filename(env->dir, "daemon.log", NULL);
        g_assert_cmpint(g_mkdir(env->state_dir, 0700), ==, 0);
        g_assert_cmpint(g_mkdir(env->runtime_dir, 0700), ==, 0);

        start_bus(env);
        env->conn = g_dbus_connection_new_for_address_sync(
                env->address,
                G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                NULL, NULL, &error);
        g_assert_no_error(error);
        /* Everything is recorded from before the daemon starts. */
        nlc_test_signals_start(env);
        nlc_test_start_daemon(env);
}

static gboolean
bus_gone(gpointer data)
{
        return *(gboolean *) data;
}

static void
on_bus_exit(GPid pid, int status, gpointer data)
{
        *(gboolean *) data = TRUE;
        g_spawn_close_pid(pid);
}

static void
tear_down(NlcTestEnv *env)
{
        gboolean bus_exited = FALSE;

        nlc_test_step("tear-down");
        if (env->daemon_pid)
                nlc_test_stop_daemon(env, SIGTERM);
        nlc_test_signals_stop(env);
        g_dbus_connection_close_sync(env->conn, NULL, NULL);
        g_clear_object(&env->conn);
        g_child_watch_add(env->bus_pid, on_bus_exit, &bus_exited);
        kill(env->bus_pid, SIGTERM);
        if (!nlc_wait_until(bus_gone, &bus_exited, EXIT_TIMEOUT_MS))
                g_error("dbus-daemon did not exit within %u ms of SIGTERM", EXIT_TIMEOUT_MS);
        g_free(env->dir);
        g_free(env->address);
        g_free(env->state_dir);
        g_free(env->runtime_dir);
        g_free(env->daemon_log);
        g_free(env->config);
        g_free(env->bus_owner);
}

/* ---- the parent's side -------------------------------------------------- */

static void
remove_tree(const char *path)
{
        g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
        const char *name;

        while (dir && (name = g_dir_read_name(dir))) {
                g_autofree char *child = g_build_filename(path, name, NULL);

                if (g_file_test(child, G_FILE_TEST_IS_DIR) &&
                    !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
                        remove_tree(child);
                else
                        g_unlink(child);
        }
        g_rmdir(path);
}

static void
print_file(const char *dir, const char *name)
{
        g_autofree char *path = g_build_filename(dir, name, NULL);
        g_autofree char *text = NULL;

        if (g_file_get_contents(path, &text, NULL, NULL))
                g_printerr("==== %s ====\n%s==== end of %s ====\n", name, text, name);
        else
                g_printerr("==== no %s ====\n", name);
}

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
        if (!passed) {
                print_file(dir, "daemon.log");
                print_file(dir, "bus.log");
        }
        remove_tree(dir);
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
