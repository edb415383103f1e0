/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * How close is a lifecycle over D-Bus to raw netlink? N tap-bridge devices go
 * through allocate → create → activate → deactivate → destroy → free over
 * D-Bus against the real daemon (journal, fsync and all), and the same
 * kernel work done directly with the daemon's own libnl wrapper and no daemon
 * as the baseline, in the same run and namespace (activate there too adds the
 * entry and writes the RARP the bridge floods). Then the daemon's restart
 * time with N created devices and its memory per device. A Linux bridge
 * takes at most 1024 ports: device i is a port of bridge benchbr<i / 1000>,
 * so N = 4000 spreads over four. At the end, the scaling curve: one line
 * per N. With -u M, the round at N = 100 once more with M unmanaged veth
 * pairs, 900 of them ports of the same bridge. With --daemon-cpu C, the
 * daemon runs on CPU C alone and this process (client and baseline) and the
 * bus on the others: each call's work then stays on one CPU's caches instead
 * of following the bus's wakeups from CPU to CPU.
 *
 * With --guards-cost, only what the hardened guest port costs: the lifecycle
 * with the guards on and off, alternating, medians and ratios.
 *
 *   sudo build/bench/lifecycle [-n 100,1000,4000] [-u 4000] [--daemon-cpu C] [--daemon PATH]
 *   sudo build/bench/lifecycle --guards-cost [-n 1000]
 */
#include <gio/gio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench-env.h"
#include "nlc-announce.h"
#include "nlc-monitor.h"
#include "nlc-netlink.h"
#include "nlc-tap.h"

static const char *const ops[] = {
        "Allocate", "Create", "Activate", "Deactivate", "Destroy", "Free"
};
#define N_OPS G_N_ELEMENTS(ops)

/* The guest-port guards (bpdu_guard, locked; root_block is always on): on
 * as the daemon's defaults, off only in the --guards-cost comparison. */
static gboolean guards = TRUE;

/* Ports per bridge: the kernel's limit is 1024 (BR_MAX_PORTS). */
#define PORTS_PER_BRIDGE 1000

static char *
bridge_of(guint i)
{
        return g_strdup_printf("benchbr%u", i / PORTS_PER_BRIDGE);
}

/* What a call costs with no operation behind it: a Properties.Get of each
 * device's State, which takes the same way as a method call (bus, the
 * daemon's D-Bus thread, its main loop, the reply) and does nothing else.
 * calls/s, and the daemon's and the bus's CPU ms per call. */
typedef struct {
        double rate, cpu_ms, bus_ms;
} CallFloor;

static void
floor_round(BenchEnv *e, GPtrArray *paths, CallFloor *out)
{
        gint64 t0 = g_get_monotonic_time();
        double cpu0 = bench_cpu_seconds(e->daemon_pid), bus0 = bench_cpu_seconds(e->bus_pid);

        for (guint i = 0; i < paths->len; i++)
                bench_call(e, paths->pdata[i], "org.freedesktop.DBus.Properties", "Get",
                           g_variant_new("(ss)", "org.netlifecd1.Device", "State"), NULL);
        out->rate = paths->len / ((g_get_monotonic_time() - t0) / 1e6);
        out->cpu_ms = (bench_cpu_seconds(e->daemon_pid) - cpu0) * 1e3 / paths->len;
        out->bus_ms = (bench_cpu_seconds(e->bus_pid) - bus0) * 1e3 / paths->len;
}

/* ops/s over D-Bus, per operation; with @cpu_ms, also the CPU time (user +
 * system: the kernel work of its requests included) the daemon and the bus
 * daemon spent per call, and @call_floor measured between allocate and create. */
static void
daemon_round(BenchEnv *e, guint n, double rate[N_OPS], double *cpu_ms, double *bus_ms,
             CallFloor *call_floor)
{
        g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);

        for (guint op = 0; op < N_OPS; op++) {
                gint64 t0;
                double cpu0, bus0;

                if (op == 1 && call_floor)
                        floor_round(e, paths, call_floor);
                t0 = g_get_monotonic_time();
                cpu0 = bench_cpu_seconds(e->daemon_pid), bus0 = bench_cpu_seconds(e->bus_pid);

                for (guint i = 0; i < n; i++) {
                        if (op == 0) {
                                g_autofree char *mac =
                                        g_strdup_printf("52:54:00:%02x:%02x:%02x", (i >> 16) & 0xff,
                                                        (i >> 8) & 0xff, i & 0xff);
                                g_autofree char *ifname = g_strdup_printf("bt%u", i);
                                g_autofree char *bridge = bridge_of(i);
                                char *path = NULL;

                                GVariantDict opts;

                                g_variant_dict_init(&opts, NULL);
                                g_variant_dict_insert(&opts, "bridge", "s", bridge);
                                g_variant_dict_insert(&opts, "ifname", "s", ifname);
                                if (!guards) {
                                        g_variant_dict_insert(&opts, "bpdu-guard", "b", FALSE);
                                        g_variant_dict_insert(&opts, "lock-mac", "b", FALSE);
                                }
                                bench_call(e, "/org/netlifecd1", "org.netlifecd1.Manager",
                                           "Allocate",
                                           g_variant_new("(sss@a{sv})", "bench", "tap-bridge", mac,
                                                         g_variant_dict_end(&opts)),
                                           &path);
                                g_ptr_array_add(paths, path);
                        } else {
                                bench_call(e, paths->pdata[i], "org.netlifecd1.Device", ops[op],
                                           NULL, NULL);
                        }
                }
                rate[op] = n / ((g_get_monotonic_time() - t0) / 1e6);
                if (cpu_ms) {
                        cpu_ms[op] = (bench_cpu_seconds(e->daemon_pid) - cpu0) * 1e3 / n;
                        bus_ms[op] = (bench_cpu_seconds(e->bus_pid) - bus0) * 1e3 / n;
                }
        }
}

typedef struct {
        int ifindex;
        gboolean gone;
} GoneWait;

static void
on_link_event(const NlcLinkEvent *ev, gpointer data)
{
        GoneWait *w = data;

        if (ev->removed && ev->ifindex == w->ifindex)
                w->gone = TRUE;
}

static void
delete_in_worker(gpointer data, gpointer unused)
{
        nlc_link_delete_on_own_socket(GPOINTER_TO_INT(data), 0);
}

/* The same kernel work with libnl directly: no bus, no journal. With
 * @answered_at_event, each delete is sent from a worker thread and counts
 * as done when its link's RTM_DELLINK event arrives, as the daemon does (the
 * kernel answers the request itself only after an RCU barrier). */
static void
baseline_round(guint n, double rate[N_OPS], gboolean answered_at_event)
{
        GoneWait gone = { 0 };
        const NlcMonitorCallbacks cb = { .link = on_link_event };
        g_autoptr(NlcMonitor) monitor = NULL;
        GThreadPool *workers = NULL;
        g_autofree int *fds = g_new0(int, n);
        g_autofree int *idx = g_new0(int, n);
        g_autofree NlcLinkInfo *bridges = g_new0(NlcLinkInfo, n / PORTS_PER_BRIDGE + 1);
        NlcLinkInfo tap;
        guint8 mac[6] = { 0x52, 0x54, 0x01 };

        for (guint b = 0; b <= (n - 1) / PORTS_PER_BRIDGE; b++) {
                g_autofree char *name = bridge_of(b * PORTS_PER_BRIDGE);

                g_assert_cmpint(nlc_link_get(name, &bridges[b]), ==, 0);
        }
        rate[0] = 0; /* allocate touches no kernel object */
        for (guint op = 1; op < N_OPS; op++) {
                gint64 t0;

                if (op == 4 && answered_at_event) {
                        /* Listening only now: the events of the earlier
                         * operations would fill its socket. */
                        monitor = nlc_monitor_new(&cb, &gone, 0, NULL);
                        workers = g_thread_pool_new(delete_in_worker, NULL, 8, FALSE, NULL);
                }
                t0 = g_get_monotonic_time();
                for (guint i = 0; i < n; i++) {
                        g_autofree char *ifname = g_strdup_printf("bb%u", i);
                        const NlcLinkInfo *br = &bridges[i / PORTS_PER_BRIDGE];

                        mac[3] = (i >> 16) & 0xff, mac[4] = (i >> 8) & 0xff, mac[5] = i & 0xff;
                        switch (op) {
                        case 1: /* create */
                                fds[i] = nlc_tap_open_queue(ifname, FALSE);
                                g_assert_cmpint(fds[i], >=, 0);
                                g_assert_cmpint(nlc_link_get(ifname, &tap), ==, 0);
                                idx[i] = tap.ifindex;
                                nlc_link_set_mtu(tap.ifindex, br->mtu);
                                nlc_link_set_master(tap.ifindex, br->ifindex);
                                nlc_bridge_port_set_flags(tap.ifindex,
                                                          &(NlcPortFlags){ .bpdu_guard = guards,
                                                                           .root_block = TRUE,
                                                                           .locked = guards });
                                nlc_link_disable_ipv6(ifname);
                                nlc_link_set_up(tap.ifindex, TRUE);
                                break;
                        case 2: /* activate: the entry, then the RARP, as the daemon */
                                nlc_fdb_replace_static(idx[i], mac);
                                nlc_announce_rarp_vnet(fds[i], mac);
                                break;
                        case 3:
                                nlc_fdb_delete(idx[i], mac);
                                break;
                        case 4:
                                if (!workers) {
                                        nlc_link_delete(idx[i]);
                                        close(fds[i]);
                                        break;
                                }
                                gone = (GoneWait){ idx[i], FALSE };
                                g_thread_pool_push(workers, GINT_TO_POINTER(idx[i]), NULL);
                                while (!gone.gone)
                                        g_main_context_iteration(NULL, TRUE);
                                close(fds[i]);
                                break;
                        default: /* free: nothing in the kernel */
                                break;
                        }
                }
                rate[op] = n / ((g_get_monotonic_time() - t0) / 1e6);
        }
        if (workers)
                g_thread_pool_free(workers, FALSE, TRUE);
}

/* Sum of the per-operation times of the four kernel operations: ops/s. */
static double
kernel_ops_rate(guint n, const double rate[N_OPS])
{
        double t = 0;

        for (guint op = 1; op < N_OPS - 1; op++)
                t += n / rate[op];
        return 4 * n / t;
}

/* The call floor against each kernel operation (destroy: the baseline done
 * at the event): the best ratio a D-Bus service could reach if it added
 * only that call to the kernel work, and what netlifecd spends beyond both
 * (ms per call: its time minus the floor minus the kernel work). */
static void
print_floor(guint n, const CallFloor *f, const double d[N_OPS], const double base[N_OPS])
{
        double t_floor = 1e3 / f->rate, t_base = 0;

        printf("%6u D-Bus floor (Properties.Get of each device's State): %.0f calls/s, CPU ms per "
               "call %.2f/%.2f; best ratio with only it added, and netlifecd's own ms beyond "
               "it and the kernel work:",
               n, f->rate, f->cpu_ms, f->bus_ms);
        for (guint op = 1; op < N_OPS - 1; op++) {
                double t_op = 1e3 / base[op];

                t_base += t_op;
                printf(" %s %.2f %.2f", ops[op], t_op / (t_op + t_floor),
                       1e3 / d[op] - t_floor - t_op);
        }
        printf(" overall %.2f\n", t_base / (t_base + 4 * t_floor));
}

/* A Linux bridge takes at most 1024 ports (BR_MAX_PORTS); with the 100
 * managed ones of the round, this many unmanaged ones fit. */
#define MAX_UNMANAGED_PORTS 900

/* The monitor's cost must not grow with links the daemon does not manage:
 * the same round at N = 100 without, then with, @m veth pairs — the first
 * MAX_UNMANAGED_PORTS of them ports of the same bridge, the rest plain
 * links — and the restart with them there. */
static void
unmanaged_ports(BenchEnv *e, guint m)
{
        g_autofree char *batch = g_build_filename(e->dir, "veths.batch", NULL);
        g_autofree char *cmd = g_strdup_printf("ip -batch %s", batch);
        g_autoptr(GString) lines = g_string_new(NULL);
        double without[N_OPS], with[N_OPS], base_without[N_OPS], base_with[N_OPS], restart;
        const guint n = 100;

        bench_start_daemon(e);
        daemon_round(e, n, without, NULL, NULL, NULL);
        bench_stop_daemon(e);
        baseline_round(n, base_without, FALSE);
        for (guint i = 0; i < m; i++) {
                g_string_append_printf(lines,
                                       "link add uv%u type veth peer name up%u\n"
                                       "link set uv%u up\nlink set up%u up\n",
                                       i, i, i, i);
                if (i < MAX_UNMANAGED_PORTS)
                        g_string_append_printf(lines, "link set uv%u master benchbr0\n", i);
        }
        g_file_set_contents(batch, lines->str, -1, NULL);
        bench_run(cmd);
        restart = bench_start_daemon(e);
        daemon_round(e, n, with, NULL, NULL, NULL);
        bench_stop_daemon(e);
        baseline_round(n, base_with, FALSE);
        /* The kernel itself slows down with thousands of links (IPv6 routes
         * per link, rtnl contention): the daemon is judged by its ratio to
         * direct libnl in each setting. */
        printf("\n%u unmanaged veth pairs (%u of them ports of the same bridge), N = %u, ops/s "
               "without / with them; ratio = netlifecd / direct libnl:\n",
               m, MIN(m, MAX_UNMANAGED_PORTS), n);
        printf("%6s %-11s %12s %12s %12s %12s %8s %8s\n", "N", "operation", "without", "with",
               "direct w/o", "direct with", "ratio", "ratio");
        for (guint op = 1; op < N_OPS - 1; op++)
                printf("%6u %-11s %12.0f %12.0f %12.0f %12.0f %8.2f %8.2f\n", n, ops[op],
                       without[op], with[op], base_without[op], base_with[op],
                       without[op] / base_without[op], with[op] / base_with[op]);
        printf("%6u %-11s %12.0f %12.0f %12.0f %12.0f %8.2f %8.2f\n", n, "kernel ops",
               kernel_ops_rate(n, without), kernel_ops_rate(n, with),
               kernel_ops_rate(n, base_without), kernel_ops_rate(n, base_with),
               kernel_ops_rate(n, without) / kernel_ops_rate(n, base_without),
               kernel_ops_rate(n, with) / kernel_ops_rate(n, base_with));
        printf("restart with the %u unmanaged pairs and no device: %.3f s\n", m, restart);
}

static int
compare_doubles(gconstpointer a, gconstpointer b)
{
        double x = *(const double *) a, y = *(const double *) b;

        return (x > y) - (x < y);
}

static double
median(double *v, guint n)
{
        qsort(v, n, sizeof *v, compare_doubles);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define GUARD_ROUNDS 3

/* What the hardened guest port costs (bpdu_guard and locked, beside the
 * root_block every port has): GUARD_ROUNDS rounds each way, alternating, through
 * the daemon and directly with libnl; medians per operation and the ratio
 * guarded / unguarded. The kernel difference is three more port attributes
 * in create's one RTM_SETLINK, and the locked port's FDB check on each frame
 * the guest sends (the RARP at activate among them). */
static void
guards_cost(BenchEnv *e, guint n)
{
        double d[2][GUARD_ROUNDS][N_OPS], b[2][GUARD_ROUNDS][N_OPS];

        bench_start_daemon(e);
        baseline_round(n, b[0][0], FALSE); /* unmeasured warm-up */
        for (guint r = 0; r < GUARD_ROUNDS; r++) {
                for (guint g = 0; g < 2; g++) {
                        guards = g == 0;
                        daemon_round(e, n, d[g][r], NULL, NULL, NULL);
                        baseline_round(n, b[g][r], FALSE);
                }
        }
        guards = TRUE;
        bench_stop_daemon(e);
        printf("\nguest-port guards, N = %u, medians of %u rounds each way, ops/s: "
               "guarded (bpdu_guard, locked, root_block) / unguarded (root_block only)\n",
               n, GUARD_ROUNDS);
        printf("%-11s %10s %10s %7s %10s %10s %7s\n", "operation", "netlifecd", "unguarded",
               "ratio", "direct", "unguarded", "ratio");
        for (guint op = 1; op < N_OPS - 1; op++) {
                double m[2][2];

                for (guint g = 0; g < 2; g++) {
                        double dv[GUARD_ROUNDS], bv[GUARD_ROUNDS];

                        for (guint r = 0; r < GUARD_ROUNDS; r++)
                                dv[r] = d[g][r][op], bv[r] = b[g][r][op];
                        m[g][0] = median(dv, GUARD_ROUNDS);
                        m[g][1] = median(bv, GUARD_ROUNDS);
                }
                printf("%-11s %10.0f %10.0f %7.3f %10.0f %10.0f %7.3f\n", ops[op], m[0][0], m[1][0],
                       m[0][0] / m[1][0], m[0][1], m[1][1], m[0][1] / m[1][1]);
        }
}

int
main(int argc, char **argv)
{
        g_autofree char *counts = g_strdup("100,1000");
        g_autofree char *daemon = g_strdup("build/netlifecd/netlifecd");
        int unmanaged = 0, daemon_cpu = -1;
        gboolean only_guards = FALSE;
        const GOptionEntry entries[] = {
                { "counts", 'n', 0, G_OPTION_ARG_STRING, &counts, "Device counts", "N,N" },
                { "unmanaged", 'u', 0, G_OPTION_ARG_INT, &unmanaged,
                  "Then the round at N = 100 again with this many unmanaged veth pairs", "M" },
                { "daemon", 0, 0, G_OPTION_ARG_FILENAME, &daemon, "netlifecd binary", "PATH" },
                { "guards-cost", 0, 0, G_OPTION_ARG_NONE, &only_guards,
                  "Only what the guest-port guards cost, at each N", NULL },
                { "daemon-cpu", 0, 0, G_OPTION_ARG_INT, &daemon_cpu,
                  "Run the daemon on this CPU alone, the client, baseline and bus on the others",
                  "C" },
                { NULL },
        };
        g_autoptr(GOptionContext) oc = g_option_context_new("- lifecycle throughput");
        g_auto(GStrv) ns = NULL;
        g_autofree char *nofsync = NULL;
        g_autoptr(GString) curve = g_string_new(NULL);
        guint most = 100;
        BenchEnv e;

        setvbuf(stdout, NULL, _IOLBF, 0); /* figures kept when a later step fails */
        g_option_context_add_main_entries(oc, entries, NULL);
        if (!g_option_context_parse(oc, &argc, &argv, NULL))
                return 2;
        bench_env_init(&e, daemon, daemon_cpu);
        ns = g_strsplit(counts, ",", -1);
        for (guint c = 0; ns[c]; c++)
                most = MAX(most, (guint) g_ascii_strtoull(ns[c], NULL, 10));
        for (guint b = 0; b <= (most - 1) / PORTS_PER_BRIDGE; b++) {
                g_autofree char *add =
                        g_strdup_printf("ip link add benchbr%u type bridge stp_state 0", b);
                g_autofree char *up = g_strdup_printf("ip link set benchbr%u up", b);

                bench_run(add);
                bench_run(up);
        }
        if (only_guards) {
                for (guint c = 0; ns[c]; c++)
                        guards_cost(&e, (guint) g_ascii_strtoull(ns[c], NULL, 10));
                bench_env_finish(&e);
                return 0;
        }
        nofsync = g_build_filename(e.dir, "nofsync.conf", NULL);
        g_file_set_contents(nofsync, "[journal]\nfsync = false\n", -1, NULL);

        printf("lifecycle throughput, sequential calls, ops/s; ratio = netlifecd / direct libnl");
        if (daemon_cpu >= 0)
                printf("; the daemon alone on CPU %d", daemon_cpu);
        printf("\n");
        printf("%6s %-11s %12s %12s %12s %8s %8s\n", "N", "operation", "fsync", "no fsync",
               "direct", "ratio", "no fsync");
        for (guint c = 0; ns[c]; c++) {
                guint n = (guint) g_ascii_strtoull(ns[c], NULL, 10);
                double d[N_OPS], b[N_OPS], early[N_OPS], cpu_ms[N_OPS], bus_ms[N_OPS];
                CallFloor call_floor;
                guint64 rss_half = 0, rss1, rss_fresh;
                double restart;

                double nf[N_OPS];

                /* Unmeasured, the same kernel work once first: the round
                 * that runs first on a fresh namespace is slower whoever
                 * does it (the kernel grows its tables and caches), which
                 * used to be charged to the daemon's no-fsync round. */
                baseline_round(n, b, FALSE);
                /* The journal without fsync first, then the default. */
                e.config = g_strdup(nofsync);
                bench_start_daemon(&e);
                daemon_round(&e, n, nf, NULL, NULL, NULL);
                bench_stop_daemon(&e);
                g_clear_pointer(&e.config, g_free);
                bench_start_daemon(&e);
                daemon_round(&e, n, d, cpu_ms, bus_ms, &call_floor);
                baseline_round(n, b, FALSE);
                for (guint op = 0; op < N_OPS; op++) {
                        /* allocate and free touch no kernel object: no baseline */
                        gboolean kernel = op > 0 && op < N_OPS - 1;
                        g_autofree char *ratio =
                                kernel ? g_strdup_printf("%.2f", d[op] / b[op]) : g_strdup("-");
                        g_autofree char *ratio_nf =
                                kernel ? g_strdup_printf("%.2f", nf[op] / b[op]) : g_strdup("-");
                        g_autofree char *base =
                                kernel ? g_strdup_printf("%.0f", b[op]) : g_strdup("-");

                        printf("%6u %-11s %12.0f %12.0f %12s %8s %8s\n", n, ops[op], d[op], nf[op],
                               base, ratio, ratio_nf);
                }
                printf("%6u %-11s %12.0f %12.0f %12.0f %8.2f %8.2f\n", n, "kernel ops",
                       kernel_ops_rate(n, d), kernel_ops_rate(n, nf), kernel_ops_rate(n, b),
                       kernel_ops_rate(n, d) / kernel_ops_rate(n, b),
                       kernel_ops_rate(n, nf) / kernel_ops_rate(n, b));
                printf("%6u CPU ms per call (fsync round), netlifecd / dbus-daemon:", n);
                for (guint op = 0; op < N_OPS; op++)
                        printf(" %s %.2f/%.2f", ops[op], cpu_ms[op], bus_ms[op]);
                printf("\n");
                /* The daemon answers Destroy once the kernel has unlisted
                 * the link; the same done directly, for comparison. */
                baseline_round(n, early, TRUE);
                early[0] = b[0], early[1] = b[1], early[2] = b[2], early[3] = b[3];
                printf("%6u %-11s %12.0f %12.0f %12.0f %8.2f %8.2f  (direct: deleted from a "
                       "thread, done at the link's RTM_DELLINK event)\n",
                       n, "destroy", d[4], nf[4], early[4], d[4] / early[4], nf[4] / early[4]);
                printf("%6u %-11s %12.0f %12.0f %12.0f %8.2f %8.2f  (the same, overall)\n", n,
                       "kernel ops", kernel_ops_rate(n, d), kernel_ops_rate(n, nf),
                       kernel_ops_rate(n, early), kernel_ops_rate(n, d) / kernel_ops_rate(n, early),
                       kernel_ops_rate(n, nf) / kernel_ops_rate(n, early));
                print_floor(n, &call_floor, d, early);
                /* Restart with N created devices, and memory per device:
                 * first with every tap's queues held by this process, as
                 * the hypervisors would hold them (the taps keep carrier
                 * across the restart), then with none held (the new daemon
                 * opens each tap again: a carrier change per port). */
                {
                        g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
                        g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func(g_object_unref);
                        double orphaned;

                        /* A daemon that has done nothing yet, for the memory
                         * N devices cost on their own. */
                        bench_stop_daemon(&e);
                        bench_start_daemon(&e);
                        rss_fresh = bench_rss_kib(e.daemon_pid);
                        for (guint i = 0; i < n; i++) {
                                g_autofree char *mac =
                                        g_strdup_printf("52:54:02:%02x:%02x:%02x", (i >> 16) & 0xff,
                                                        (i >> 8) & 0xff, i & 0xff);
                                g_autofree char *ifname = g_strdup_printf("br%u", i);
                                g_autofree char *bridge = bridge_of(i);
                                char *path = NULL;

                                bench_call(&e, "/org/netlifecd1", "org.netlifecd1.Manager",
                                           "Allocate",
                                           g_variant_new_parsed(
                                                   "('restart', 'tap-bridge', %s, {'bridge': "
                                                   "<%s>, 'ifname': <%s>})",
                                                   mac, bridge, ifname),
                                           &path);
                                bench_call_holding(&e, path, "org.netlifecd1.Device", "Create",
                                                   NULL, NULL, held);
                                g_ptr_array_add(paths, path);
                                if (i + 1 == n / 2)
                                        rss_half = bench_rss_kib(e.daemon_pid);
                        }
                        rss1 = bench_rss_kib(e.daemon_pid);
                        bench_stop_daemon(&e);
                        restart = bench_start_daemon(&e);
                        bench_stop_daemon(&e);
                        g_ptr_array_set_size(held, 0); /* closes the queues */
                        orphaned = bench_start_daemon(&e);
                        /* Memory per device in a daemon that did nothing
                         * else before (a lifecycle round first leaves heap
                         * glibc keeps, which the earlier form of this figure
                         * counted), and what each device of the second half
                         * added (the marginal cost). */
                        printf("%6u restart to all %u devices verified: %.3f s with the queues "
                               "held by the hypervisors, %.3f s with none held\n",
                               n, n, restart, orphaned);
                        printf("%6u RSS per device: %.1f KiB in a fresh daemon, %.1f KiB "
                               "marginal (its second half)\n",
                               n, (double) (rss1 - rss_fresh) / n,
                               (double) (rss1 - rss_half) / (n - n / 2));
                        g_string_append_printf(
                                curve, "%6u %10.0f %10.0f %8.2f %8.2f %8.2f %10.3f %10.3f %8.1f\n",
                                n, kernel_ops_rate(n, d), kernel_ops_rate(n, b),
                                kernel_ops_rate(n, d) / kernel_ops_rate(n, b),
                                kernel_ops_rate(n, nf) / kernel_ops_rate(n, b),
                                kernel_ops_rate(n, d) / kernel_ops_rate(n, early), restart,
                                orphaned, (double) (rss1 - rss_fresh) / n);
                        for (guint i = 0; i < n; i++) {
                                bench_call(&e, paths->pdata[i], "org.netlifecd1.Device", "Destroy",
                                           NULL, NULL);
                                bench_call(&e, paths->pdata[i], "org.netlifecd1.Device", "Free",
                                           NULL, NULL);
                        }
                }
                bench_stop_daemon(&e);
        }
        printf("\nscaling: kernel ops/s (netlifecd, direct), ratio (fsync, no fsync, fsync "
               "against the direct deletes done at the event), restart s (queues held, none "
               "held), RSS KiB/device (fresh daemon)\n");
        printf("%6s %10s %10s %8s %8s %8s %10s %10s %8s\n%s", "N", "netlifecd", "direct", "ratio",
               "no fsync", "at event", "held", "none held", "RSS", curve->str);
        if (unmanaged > 0)
                unmanaged_ports(&e, (guint) unmanaged);
        bench_env_finish(&e);
        return 0;
}
