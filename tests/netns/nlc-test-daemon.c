/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nlc-test-daemon.h"

#define START_TIMEOUT_MS 10000
#define NAME_TIMEOUT_MS  10000
#define EXIT_TIMEOUT_MS  5000

static void fail(NlcTestDaemon *d, const char *fmt, ...) G_GNUC_PRINTF(2, 3) G_GNUC_NORETURN;

static void
fail(NlcTestDaemon *d, const char *fmt, ...)
{
        g_autofree char *text = NULL;
        va_list ap;

        va_start(ap, fmt);
        text = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        if (!d->logs_shown_by_parent)
                nlc_test_print_logs(d->dir);
        g_error("%s", text);
}

void
nlc_test_daemon_init(NlcTestDaemon *d, const char *dir)
{
        memset(d, 0, sizeof *d);
        d->dir = g_strdup(dir);
        d->address = g_strconcat("unix:path=", dir, "/bus", NULL);
        d->state_dir = g_build_filename(dir, "state", NULL);
        d->daemon_log = g_build_filename(dir, "daemon.log", NULL);
}

/* ---- processes ---------------------------------------------------------- */

typedef struct {
        pid_t parent;
        GSpawnChildSetupFunc then;
        gpointer then_data;
} ChildSetup;

/* Children die with the process that started them, also when it is killed
 * on a timeout. */
static void
child_setup(gpointer data)
{
        const ChildSetup *s = data;

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* The parent may have gone before the line above took effect. */
        if (getppid() != s->parent)
                _exit(1);
        if (s->then)
                s->then(s->then_data);
}

/* The test's environment for a child, with @g_debug as its G_DEBUG and with
 * @system_bus the test's bus as its system bus. fatal-warnings is for the
 * test process: a daemon warning is reported in its log, not turned into a
 * crash that hides the real failure, unless the test asks for it. */
static GStrv
child_environ(NlcTestDaemon *d, const char *g_debug, gboolean system_bus)
{
        GStrv envp = g_environ_unsetenv(g_get_environ(), "G_DEBUG");

        if (g_debug)
                envp = g_environ_setenv(envp, "G_DEBUG", g_debug, TRUE);
        if (system_bus)
                envp = g_environ_setenv(envp, "DBUS_SYSTEM_BUS_ADDRESS", d->address, TRUE);
        return envp;
}

static GPid
spawn(const char *const *argv, GStrv envp, int log_fd, int pass_fd, int pass_as,
      GSpawnChildSetupFunc then, gpointer then_data)
{
        g_autoptr(GError) error = NULL;
        ChildSetup setup = { getpid(), then, then_data };
        int source_fds[1] = { pass_fd };
        int target_fds[1] = { pass_as };
        GPid pid = 0;

        if (!g_spawn_async_with_pipes_and_fds(NULL, argv, (const char *const *) envp,
                                              G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH,
                                              child_setup, &setup, -1, log_fd, log_fd,
                                              pass_fd >= 0 ? source_fds : NULL,
                                              pass_fd >= 0 ? target_fds : NULL,
                                              pass_fd >= 0 ? 1 : 0, &pid, NULL, NULL, NULL, &error))
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

/* A pidfd turns readable when the process ends (Linux 5.3); nothing else
 * reaps our children, so the pid stays ours until waitpid() below. */
static int
open_pidfd(GPid pid)
{
        int fd = (int) syscall(SYS_pidfd_open, pid, 0);

        if (fd < 0)
                g_error("pidfd_open(%d): %s", pid, g_strerror(errno));
        return fd;
}

/* Waits up to @timeout_ms for @pid to end and reaps it; FALSE while it runs. */
static gboolean
reap(GPid pid, guint timeout_ms, int *status)
{
        struct pollfd p = { .fd = open_pidfd(pid), .events = POLLIN };
        int ready;

        while ((ready = poll(&p, 1, (int) timeout_ms)) < 0 && errno == EINTR)
                ;
        close(p.fd);
        if (ready <= 0)
                return FALSE;
        g_assert_cmpint(waitpid(pid, status, 0), ==, pid);
        g_spawn_close_pid(pid);
        return TRUE;
}

/* ---- the bus ------------------------------------------------------------ */

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

void
nlc_test_start_bus(NlcTestDaemon *d, const char *config_file)
{
        g_autofree char *bus_log = g_build_filename(d->dir, "bus.log", NULL);
        g_autofree char *where = config_file ? g_strconcat("--config-file=", config_file, NULL)
                                             : g_strconcat("--address=", d->address, NULL);
        g_autofree char *printed = NULL;
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) envp = child_environ(d, NULL, FALSE);
        /* A configured bus might name a pid file; --print-address tells us
         * where it listens instead. */
        const char *argv[] = {
                "dbus-daemon",       config_file ? where : "--session", "--nofork", "--nopidfile",
                "--print-address=3", config_file ? NULL : where,        NULL
        };
        int pipe_fds[2], log_fd;

        if (!g_unix_open_pipe(pipe_fds, FD_CLOEXEC, &error))
                g_error("pipe: %s", error->message);
        log_fd = open_log(bus_log);
        d->bus_pid = spawn(argv, envp, log_fd, pipe_fds[1], 3, NULL, NULL);
        close(log_fd);
        close(pipe_fds[1]);
        /* The socket file exists before the bus listens on it; the address
         * is printed once it does. */
        printed = read_line_with_timeout(pipe_fds[0], NAME_TIMEOUT_MS);
        close(pipe_fds[0]);
        if (!printed || !g_str_has_prefix(printed, d->address))
                fail(d, "dbus-daemon did not print its address %s (got '%s')", d->address, printed);
        d->conn = g_dbus_connection_new_for_address_sync(
                d->address,
                G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                NULL, NULL, &error);
        if (!d->conn)
                fail(d, "cannot connect to %s: %s", d->address, error->message);
}

/* ---- the daemon's name -------------------------------------------------- */

typedef struct {
        gboolean owned;
        gboolean exited;
        gboolean timed_out;
        gboolean unsubscribed;
} Watch;

static gboolean
name_has_owner(NlcTestDaemon *d, const char *name)
{
        g_autoptr(GVariant) r = g_dbus_connection_call_sync(
                d->conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                "NameHasOwner", g_variant_new("(s)", name), G_VARIANT_TYPE("(b)"),
                G_DBUS_CALL_FLAGS_NONE, NAME_TIMEOUT_MS, NULL, NULL);
        gboolean has = FALSE;

        if (r)
                g_variant_get(r, "(b)", &has);
        return has;
}

static void
on_owner_changed(GDBusConnection *conn, const char *sender, const char *path, const char *iface,
                 const char *member, GVariant *params, gpointer data)
{
        Watch *w = data;
        const char *new_owner;

        g_variant_get(params, "(&s&s&s)", NULL, NULL, &new_owner);
        w->owned = *new_owner != '\0';
}

static void
on_unsubscribed(gpointer data)
{
        ((Watch *) data)->unsubscribed = TRUE;
}

static gboolean
on_process_exit(int fd, GIOCondition condition, gpointer data)
{
        ((Watch *) data)->exited = TRUE;
        return G_SOURCE_REMOVE;
}

static gboolean
on_timeout(gpointer data)
{
        ((Watch *) data)->timed_out = TRUE;
        return G_SOURCE_REMOVE;
}

/* Waits until @name has an owner (@owned) or none, the process behind
 * @pidfd ends (>= 0: watched), or @timeout_ms passes. */
static Watch
wait_for_owner(NlcTestDaemon *d, const char *name, gboolean owned, int pidfd, guint timeout_ms)
{
        g_autoptr(GMainContext) ctx = g_main_context_new();
        g_autoptr(GSource) timeout = g_timeout_source_new(timeout_ms);
        g_autoptr(GSource) ended = pidfd >= 0 ? g_unix_fd_source_new(pidfd, G_IO_IN) : NULL;
        Watch w = { 0 };
        guint sub;

        /* A context of its own: what the caller has pending on the default
         * one (recorded signals, replies) stays pending, in order. */
        g_main_context_push_thread_default(ctx);
        sub = g_dbus_connection_signal_subscribe(
                d->conn, "org.freedesktop.DBus", "org.freedesktop.DBus", "NameOwnerChanged",
                "/org/freedesktop/DBus", name, G_DBUS_SIGNAL_FLAGS_NONE, on_owner_changed, &w,
                on_unsubscribed);
        /* Asked after subscribing: a change from then on is not missed. */
        w.owned = name_has_owner(d, name);
        g_source_set_callback(timeout, on_timeout, &w, NULL);
        g_source_attach(timeout, ctx);
        if (ended) {
                g_source_set_callback(ended, G_SOURCE_FUNC(on_process_exit), &w, NULL);
                g_source_attach(ended, ctx);
        }
        while (w.owned != owned && !w.exited && !w.timed_out)
                g_main_context_iteration(ctx, TRUE);
        g_source_destroy(timeout);
        if (ended)
                g_source_destroy(ended);
        /* Callbacks already queued run before the notify: &w must outlive them. */
        g_dbus_connection_signal_unsubscribe(d->conn, sub);
        while (!w.unsubscribed)
                g_main_context_iteration(ctx, TRUE);
        g_main_context_pop_thread_default(ctx);
        return w;
}

/* ---- other services ----------------------------------------------------- */

void
nlc_test_start_service(NlcTestDaemon *d, const char *const *argv, const char *name)
{
        g_autofree char *log = g_build_filename(d->dir, "services.log", NULL);
        g_auto(GStrv) envp = child_environ(d, NULL, TRUE);
        int log_fd = open_log(log);
        GPid pid = spawn(argv, envp, log_fd, -1, -1, NULL, NULL);
        int pidfd = open_pidfd(pid);
        Watch w;

        close(log_fd);
        if (!d->services)
                d->services = g_array_new(FALSE, FALSE, sizeof(GPid));
        g_array_append_val(d->services, pid);
        w = wait_for_owner(d, name, TRUE, pidfd, NAME_TIMEOUT_MS);
        close(pidfd);
        if (w.exited)
                fail(d, "%s exited before owning %s", argv[0], name);
        if (!w.owned)
                fail(d, "%s did not own %s within %u ms", argv[0], name, NAME_TIMEOUT_MS);
}

/* The services' exit status is theirs (polkitd dies of SIGTERM): they
 * only have to go. */
static void
stop_services(NlcTestDaemon *d)
{
        for (guint i = d->services ? d->services->len : 0; i > 0; i--) {
                GPid pid = g_array_index(d->services, GPid, i - 1);
                int status;

                kill(pid, SIGTERM);
                if (!reap(pid, EXIT_TIMEOUT_MS, &status))
                        fail(d, "service %d did not exit within %u ms of SIGTERM", pid,
                             EXIT_TIMEOUT_MS);
        }
        g_clear_pointer(&d->services, g_array_unref);
}

/* ---- the daemon --------------------------------------------------------- */

void
nlc_test_start_daemon(NlcTestDaemon *d)
{
        const char *daemon = d->daemon ? d->daemon : g_getenv("NLC_DAEMON");
        guint timeout_ms = d->start_timeout_ms ? d->start_timeout_ms : START_TIMEOUT_MS;
        g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
        g_autofree char *header = NULL;
        g_auto(GStrv) envp = child_environ(d, g_getenv("NLC_DAEMON_G_DEBUG"), d->system_bus);
        int log_fd, pidfd, status = 0;
        Watch w;

        if (!daemon)
                g_error("NLC_DAEMON is not set: run the tests through meson test");
        g_assert_cmpint(d->daemon_pid, ==, 0);
        g_ptr_array_add(argv, g_strdup(daemon));
        if (!d->system_bus)
                g_ptr_array_add(argv, g_strconcat("--address=", d->address, NULL));
        g_ptr_array_add(argv, g_strconcat("--state-dir=", d->state_dir, NULL));
        g_ptr_array_add(argv, g_strconcat("--runtime-dir=", d->dir, "/run", NULL));
        if (d->config)
                g_ptr_array_add(argv, g_strconcat("--config=", d->config, NULL));
        for (guint i = 0; d->daemon_args && d->daemon_args[i]; i++)
                g_ptr_array_add(argv, g_strdup(d->daemon_args[i]));
        g_ptr_array_add(argv, NULL);

        log_fd = open_log(d->daemon_log);
        header = g_strdup_printf("---- netlifecd start %u ----\n", ++d->daemon_starts);
        g_assert_cmpint(write(log_fd, header, strlen(header)), ==, (gssize) strlen(header));
        d->daemon_pid = spawn((const char *const *) argv->pdata, envp, log_fd, -1, -1,
                              d->daemon_setup, d->daemon_setup_data);
        close(log_fd);
        pidfd = open_pidfd(d->daemon_pid);
        w = wait_for_owner(d, NLC_BUS_NAME, TRUE, pidfd, timeout_ms);
        close(pidfd);
        if (w.exited) {
                reap(d->daemon_pid, 0, &status);
                d->daemon_pid = 0;
                fail(d, "netlifecd exited before owning %s (wait status %d)", NLC_BUS_NAME, status);
        }
        if (!w.owned)
                fail(d, "netlifecd did not own %s within %u ms", NLC_BUS_NAME, timeout_ms);
}

/* Sends @signo and waits for the exit and the name's release; returns the
 * wait status. */
static int
signal_daemon(NlcTestDaemon *d, int signo)
{
        int status = 0;

        g_assert_cmpint(d->daemon_pid, >, 0);
        g_assert_cmpint(kill(d->daemon_pid, signo), ==, 0);
        if (!reap(d->daemon_pid, EXIT_TIMEOUT_MS, &status))
                fail(d, "netlifecd did not exit within %u ms of signal %d", EXIT_TIMEOUT_MS, signo);
        d->daemon_pid = 0;
        if (wait_for_owner(d, NLC_BUS_NAME, FALSE, -1, NAME_TIMEOUT_MS).owned)
                fail(d, "the bus still lists an owner of %s after netlifecd exited", NLC_BUS_NAME);
        return status;
}

void
nlc_test_stop_daemon(NlcTestDaemon *d, int signo)
{
        g_autoptr(GError) error = NULL;
        int status = signal_daemon(d, signo);

        /* The contract: SIGTERM and SIGINT end the daemon cleanly, status 0. */
        if (!g_spawn_check_wait_status(status, &error))
                fail(d, "netlifecd did not exit cleanly on signal %d: %s", signo, error->message);
}

void
nlc_test_kill9_daemon(NlcTestDaemon *d)
{
        int status = signal_daemon(d, SIGKILL);

        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
                fail(d, "netlifecd was not killed by SIGKILL (wait status %d)", status);
}

void
nlc_test_restart_daemon(NlcTestDaemon *d)
{
        nlc_test_stop_daemon(d, SIGTERM);
        nlc_test_start_daemon(d);
}

void
nlc_test_daemon_finish(NlcTestDaemon *d, gboolean remove_dir)
{
        int status;

        if (d->daemon_pid)
                nlc_test_stop_daemon(d, SIGTERM);
        stop_services(d);
        if (d->conn)
                g_dbus_connection_close_sync(d->conn, NULL, NULL);
        g_clear_object(&d->conn);
        if (d->bus_pid) {
                kill(d->bus_pid, SIGTERM);
                if (!reap(d->bus_pid, EXIT_TIMEOUT_MS, &status))
                        fail(d, "dbus-daemon did not exit within %u ms of SIGTERM",
                             EXIT_TIMEOUT_MS);
        }
        if (remove_dir)
                nlc_test_remove_tree(d->dir);
        g_free(d->dir);
        g_free(d->address);
        g_free(d->state_dir);
        g_free(d->daemon_log);
        g_free(d->config);
        g_strfreev(d->daemon_args);
        memset(d, 0, sizeof *d);
}

/* ---- the directory ------------------------------------------------------ */

static void
print_file(const char *dir, const char *name, gboolean optional)
{
        g_autofree char *path = g_build_filename(dir, name, NULL);
        g_autofree char *text = NULL;

        if (g_file_get_contents(path, &text, NULL, NULL))
                g_printerr("==== %s ====\n%s==== end of %s ====\n", name, text, name);
        else if (!optional)
                g_printerr("==== no %s ====\n", name);
}

void
nlc_test_print_logs(const char *dir)
{
        print_file(dir, "daemon.log", FALSE);
        print_file(dir, "bus.log", FALSE);
        print_file(dir, "services.log", TRUE);
}

void
nlc_test_remove_tree(const char *path)
{
        g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
        const char *name;

        while (dir && (name = g_dir_read_name(dir))) {
                g_autofree char *child = g_build_filename(path, name, NULL);

                if (g_file_test(child, G_FILE_TEST_IS_DIR) &&
                    !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
                        nlc_test_remove_tree(child);
                else
                        g_unlink(child);
        }
        g_rmdir(path);
}
