/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE /* sched_setaffinity() */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench-env.h"
#include "nlc-netlink.h"
#include "nlc-test-ns.h"

/* The child setup of the daemon: its threads inherit the affinity. */
static void
daemon_child_setup(gpointer data)
{
        int cpu = GPOINTER_TO_INT(data);
        cpu_set_t set;

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
        g_autofree char *dir = NULL;

        if (daemon_cpu >= 0)
                leave_cpu(daemon_cpu);
        nlc_test_unshare(FALSE);
        bench_run("ip link set lo up");
        dir = g_dir_make_tmp("nlc-bench-XXXXXX", NULL);
        g_assert_nonnull(dir);
        nlc_test_daemon_init(e, dir);
        e->daemon = daemon;
        /* A restart verifies every device against the kernel first: with
         * thousands, far longer than a test waits. */
        e->start_timeout_ms = 120000;
        if (daemon_cpu >= 0) {
                e->daemon_setup = daemon_child_setup;
                e->daemon_setup_data = GINT_TO_POINTER(daemon_cpu);
        }
        nlc_test_start_bus(e, NULL);
        nlc_netlink_init();
}

void
bench_env_finish(BenchEnv *e)
{
        nlc_test_daemon_finish(e, TRUE);
}

double
bench_start_daemon(BenchEnv *e)
{
        gint64 t0 = g_get_monotonic_time();

        nlc_test_start_daemon(e);
        return (g_get_monotonic_time() - t0) / 1e6;
}

void
bench_stop_daemon(BenchEnv *e)
{
        nlc_test_stop_daemon(e, SIGTERM);
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
