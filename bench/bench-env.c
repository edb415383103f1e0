/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE /* unshare() */
#include <errno.h>
#include <glib/gstdio.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-env.h"
#include "nlc-netlink.h"

static void
die_with_parent(gpointer unused)
{
        prctl(PR_SET_PDEATHSIG, SIGTERM);
}

/* The child setup of the daemon: its threads inherit the affinity. */
static void
daemon_child_setup(gpointer data)
{
        int cpu = GPOINTER_TO_INT(data);
        cpu_set_t set;

        die_with_parent(NULL);
        if (cpu < 0)
                return;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        sched_setaffinity(0, sizeof set, &set);
}

/* This process (and what it spawns from now on) keeps off @cpu. */
static void
leave_cpu(int cpu)
{
        cpu_set_t set;

        if (sched_getaffinity(0, sizeof set, &set) < 0 || !CPU_ISSET(cpu, &set) ||
            CPU_COUNT(&set) < 2)
                g_error("--daemon-cpu %d: this process may not use that CPU, or no other", cpu);
        CPU_CLR(cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) < 0)
                g_error("cannot keep off CPU %d: %s", cpu, g_strerror(errno));
}

void
bench_run(const char *cmd)
{
        int status = 0;

        if (!g_spawn_command_line_sync(cmd, NULL, NULL, &status, NULL) ||
            !g_spawn_check_wait_status(status, NULL))
                g_error("'%s' failed", cmd);
}

void
bench_env_init(BenchEnv *e, const char *daemon, int daemon_cpu)
{
        g_autofree char *arg = NULL, *sock = NULL;
        char *argv_bus[] = { "dbus-daemon", "--session", "--nofork", NULL, NULL };

        memset(e, 0, sizeof *e);
        e->daemon_cpu = daemon_cpu;
        if (daemon_cpu >= 0)
                leave_cpu(daemon_cpu);
        if (unshare(CLONE_NEWNET) < 0)
                g_error("unshare(CLONE_NEWNET) failed: run as root");
        bench_run("ip link set lo up");
        e->daemon = g_strdup(daemon);
        e->dir = g_dir_make_tmp("nlc-bench-XXXXXX", NULL);
        e->address = g_strconcat("unix:path=", e->dir, "/bus", NULL);
        arg = g_strconcat("--address=", e->address, NULL);
        sock = g_strconcat(e->dir, "/bus", NULL);
        argv_bus[3] = arg;
        g_spawn_async(NULL, argv_bus, NULL,
                      G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                              G_SPAWN_STDERR_TO_DEV_NULL,
                      die_with_parent, NULL, &e->bus, NULL);
        for (int i = 0; i < 500 && !e->conn; i++) {
                if (g_file_test(sock, G_FILE_TEST_EXISTS))
                        e->conn = g_dbus_connection_new_for_address_sync(
                                e->address,
                                G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                NULL, NULL, NULL);
                if (!e->conn)
                        g_usleep(10000);
        }
        g_assert_nonnull(e->conn);
        nlc_netlink_init();
}

void
bench_env_finish(BenchEnv *e)
{
        g_autofree char *rm = g_strdup_printf("rm -rf '%s'", e->dir);

        kill(e->bus, SIGTERM);
        bench_run(rm);
        g_clear_object(&e->conn);
        g_free(e->daemon);
        g_free(e->dir);
        g_free(e->address);
}

static gboolean
name_owned(BenchEnv *e)
{
        g_autoptr(GVariant) r = g_dbus_connection_call_sync(
                e->conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                "NameHasOwner", g_variant_new("(s)", "org.netlifecd1"), G_VARIANT_TYPE("(b)"), 0,
                -1, NULL, NULL);
        gboolean has = FALSE;

        if (r)
                g_variant_get(r, "(b)", &has);
        return has;
}

double
bench_start_daemon(BenchEnv *e)
{
        g_autofree char *a = g_strconcat("--address=", e->address, NULL);
        g_autofree char *s = g_strconcat("--state-dir=", e->dir, "/state", NULL);
        g_autofree char *r = g_strconcat("--runtime-dir=", e->dir, "/run", NULL);
        g_autofree char *c = e->config ? g_strconcat("--config=", e->config, NULL) : NULL;
        char *argv[] = { e->daemon, a, s, r, c, NULL };
        gint64 t0 = g_get_monotonic_time();

        if (!g_spawn_async(NULL, argv, NULL,
                           G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
                                   G_SPAWN_STDERR_TO_DEV_NULL,
                           daemon_child_setup, GINT_TO_POINTER(e->daemon_cpu), &e->pid, NULL))
                g_error("cannot start %s", e->daemon);
        while (!name_owned(e)) {
                if (g_get_monotonic_time() - t0 > 120 * G_USEC_PER_SEC)
                        g_error("the daemon did not come up");
                g_usleep(1000);
        }
        return (g_get_monotonic_time() - t0) / 1e6;
}

void
bench_stop_daemon(BenchEnv *e)
{
        int status;

        kill(e->pid, SIGTERM);
        waitpid(e->pid, &status, 0);
}

double
bench_cpu_seconds(GPid pid)
{
        g_autofree char *path = g_strdup_printf("/proc/%d/stat", pid);
        g_autofree char *text = NULL;
        g_auto(GStrv) fields = NULL;
        const char *after_comm;

        if (!g_file_get_contents(path, &text, NULL, NULL) || !(after_comm = strrchr(text, ')')))
                return 0;
        /* After "pid (comm)": state is field 3; utime and stime 14 and 15. */
        fields = g_strsplit(after_comm + 2, " ", 0);
        if (g_strv_length(fields) < 13)
                return 0;
        return (g_ascii_strtod(fields[11], NULL) + g_ascii_strtod(fields[12], NULL)) /
               sysconf(_SC_CLK_TCK);
}

guint64
bench_rss_kib(GPid pid)
{
        g_autofree char *path = g_strdup_printf("/proc/%d/status", pid);
        g_autofree char *text = NULL;
        const char *line;

        g_file_get_contents(path, &text, NULL, NULL);
        line = text ? strstr(text, "VmRSS:") : NULL;
        return line ? g_ascii_strtoull(line + 6, NULL, 10) : 0;
}

void
bench_call_holding(BenchEnv *e, const char *path, const char *iface, const char *method,
                   GVariant *args, char **out_path, GPtrArray *held)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL;

        if (g_str_equal(method, "Create")) {
                g_autoptr(GUnixFDList) fds = NULL;

                r = g_dbus_connection_call_with_unix_fd_list_sync(e->conn, "org.netlifecd1", path,
                                                                  iface, method, args, NULL, 0, -1,
                                                                  NULL, &fds, NULL, &error);
                if (held && fds)
                        g_ptr_array_add(held, g_steal_pointer(&fds));
        } else {
                r = g_dbus_connection_call_sync(e->conn, "org.netlifecd1", path, iface, method,
                                                args, NULL, 0, -1, NULL, &error);
        }
        if (!r)
                g_error("%s: %s", method, error->message);
        if (out_path)
                g_variant_get(r, "(o)", out_path);
}

void
bench_call(BenchEnv *e, const char *path, const char *iface, const char *method, GVariant *args,
           char **out_path)
{
        bench_call_holding(e, path, iface, method, args, out_path, NULL);
}

static int
cmp_double(const void *a, const void *b)
{
        double x = *(const double *) a, y = *(const double *) b;

        return x < y ? -1 : x > y;
}

double
bench_median(double *v, guint n)
{
        qsort(v, n, sizeof *v, cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
