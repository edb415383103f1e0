/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Network blackout of a post-copy migration: the naive sequence against
 * netlifecd, the same topology and guest, in one invocation.
 *
 * The setting is tests/migration's (mig-env.h): two namespace "hosts", each
 * with an STP bridge, joined by a switch; a peer pings the guest every 10 ms;
 * a real guest under QEMU 10 dirties 96 MiB. Both drivers (mig-run.h) create
 * the destination's tap right before its QEMU starts and start post-copy
 * after the first pre-copy pass; the naive one sends the switch at once and
 * leaves the MAC to learning and QEMU's announcements, netlifecd holds the
 * switch until B's port forwards, moves the MAC with the CPUs and announces
 * once the port forwards. Blackout is the largest gap in echo requests
 * reaching the tap of the instance that runs (A's before its STOP, B's from
 * its RESUME); when none reached B within the window the figure is a lower
 * bound, printed with ">=". Beside it, what the guest's users see: the
 * largest gap in the guest's own echo replies reaching the peer (">=" when
 * the guest had not answered again by the end of the window); a run whose
 * guest the emulator broke (an Oops on its console) is counted apart and
 * kept out of that median, never passed off as a reply gap. netlifecd runs a second time with postcopy-preempt
 * off (page faults then queue behind the bulk stream), and B's QEMU reports
 * its post-copy blocktime (capability postcopy-blocktime; -1 for naive).
 *
 * The third driver is libvirt (--drivers libvirt,libvirt+nlc; not in the
 * default set: it needs scripts/install-libvirt.sh): tests/libvirt's guest
 * under two real libvirtd, libvirt alone against libvirt with netlifecd's
 * hook and agent (blackout-libvirt.c).
 *
 *   build/bench/blackout [--forward-delay 4,15] [--runs 3] [--bandwidth 0]
 *                        [--drivers naive,netlifecd,nlc-nopreempt,libvirt,libvirt+nlc]
 *
 * Needs root, QEMU 10 (scripts/install-qemu.sh) and the guest
 * (tests/migration/build-guest.sh build/guest; NLC_GUEST_DIR, default
 * build/guest) and NLC_DAEMON (default build/netlifecd/netlifecd).
 */
#include <linux/if_bridge.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench-env.h"
#include "blackout-libvirt.h"
#include "mig-run.h"

typedef struct {
        gboolean ok;
        double blackout_ms, downtime_ms, total_s;
        gboolean lower_bound;         /* no request reached B within the window */
        double guest_gap_ms;          /* largest gap in the guest's replies */
        gboolean guest_lower_bound;   /* no reply again within the window */
        const char *guest_broken;     /* the emulator broke the guest: what its console said */
        double switch_after_ready_ms; /* switch minus B's port forwarding (kernel) */
        double blocktime_ms;          /* B's post-copy blocktime; -1: not measured */
} Result;

/* The rows of the table: one driver and its settings each. */
typedef enum {
        NO_LIBVIRT,
        LIBVIRT_ALONE,    /* unmodified libvirt, no netlifecd */
        LIBVIRT_WITH_NLC, /* the same with netlifecd's hook and agent */
} LibvirtMode;

typedef struct {
        const char *name;
        MigDriver driver;
        const char *options; /* Migrate() and PrepareIncoming() options */
        LibvirtMode libvirt;
} Variant;

static const Variant variants[] = {
        { "naive", MIG_DRIVER_NAIVE, NULL, NO_LIBVIRT },
        { "netlifecd", MIG_DRIVER_NETLIFECD, NULL, NO_LIBVIRT },
        /* Page faults on the bulk stream's channel instead of their own. */
        { "nlc-nopreempt", MIG_DRIVER_NETLIFECD, "{'preempt': <false>}", NO_LIBVIRT },
        /* The third driver: libvirt 11 doing the migration (tests/libvirt). */
        { "libvirt", 0, NULL, LIBVIRT_ALONE },
        { "libvirt+nlc", 0, NULL, LIBVIRT_WITH_NLC },
};

/* When the kernel first showed B's tap forwarding, from the sampler. */
static gint64
b_forwarding_at(const MigRun *run)
{
        for (guint i = 0; run->samples && i < run->samples->len; i++) {
                MigSample *s = &g_array_index(run->samples, MigSample, i);

                if (s->tap_state[1] == BR_STATE_FORWARDING)
                        return s->end;
        }
        return 0;
}

/* libvirt's rows: lv-migrate.sh in a run directory of its own under
 * $NLC_LV_RUNS (default /tmp). Pre-copy is capped at 16 MiB/s unless
 * --bandwidth says otherwise: uncapped, the first pass can converge before
 * post-copy is asked for, and the row would not be post-copy. */
static Result
libvirt_run(const Variant *v, guint forward_delay_s, guint64 bandwidth)
{
        static guint n;
        /* "+" is no character of a D-Bus address (the hosts' buses live there). */
        g_autofree char *name = g_strdelimit(g_strdup(v->name), "+", '-');
        g_autofree char *dir =
                g_strdup_printf("%s/blackout-%s-fd%u-%u-%d", g_getenv("NLC_LV_RUNS") ?: "/tmp",
                                name, forward_delay_s, ++n, (int) getpid());
        g_autoptr(GError) error = NULL;
        NlcLibvirtBlackout b;
        Result r = { FALSE };

        if (!nlc_libvirt_blackout_run(dir, v->libvirt == LIBVIRT_WITH_NLC, forward_delay_s,
                                      bandwidth ? (guint) (bandwidth >> 20) : 16, &b, &error)) {
                fprintf(stderr, "  run failed: %s\n", error->message);
                return r;
        }
        r.ok = TRUE;
        r.blackout_ms = b.network_ms;
        r.lower_bound = b.network_lower_bound;
        r.guest_gap_ms = b.guest_gap_ms;
        r.guest_lower_bound = b.guest_lower_bound;
        r.guest_broken = b.guest_broken;
        r.downtime_ms = b.downtime_ms;
        r.total_s = b.total_s;
        r.switch_after_ready_ms = b.switch_after_ready_ms;
        r.blocktime_ms = -1;
        fprintf(stderr,
                "  %-13s fd %2u s: network %s%.1f ms, guest replies gap %s%.1f ms%s, downtime "
                "%.0f ms, total %.1f s, switch %+.0f ms from B's port forwarding (%s)\n",
                v->name, forward_delay_s, r.lower_bound ? ">=" : "", r.blackout_ms,
                r.guest_lower_bound ? ">=" : "", r.guest_gap_ms,
                r.guest_broken ? " (EMULATOR BROKE THE GUEST)" : "", r.downtime_ms, r.total_s,
                r.switch_after_ready_ms, dir);
        return r;
}

static Result
one_run(const Variant *v, guint forward_delay_s, guint64 bandwidth)
{
        g_autoptr(GError) error = NULL;
        MigEnv env = { .forward_delay_cs = forward_delay_s * 100 };
        MigRunConfig config = { .driver = v->driver,
                                .readiness = "destination-bus",
                                .max_bandwidth = bandwidth,
                                .migrate_options = v->options,
                                .incoming_options = v->options,
                                .blocktime = v->driver == MIG_DRIVER_NETLIFECD };
        MigRun run = { 0 };
        MigBlackout b;
        Result r = { FALSE };
        gint64 fwd, gap, gap_start = 0;

        if (v->libvirt != NO_LIBVIRT)
                return libvirt_run(v, forward_delay_s, bandwidth);
        /* The naive blackout can outlast the migration by B's two forward
         * delays and then some: watch that long for requests reaching B. */
        if (v->driver == MIG_DRIVER_NAIVE)
                config.settle_ms = forward_delay_s * 4000 + 10000;
        if (!mig_env_set_up(&env, &error) || !mig_run(&env, &config, &run, &error)) {
                fprintf(stderr, "  run failed: %s\n", error->message);
                mig_env_tear_down(&env, NULL);
                mig_run_clear(&run);
                return r;
        }
        mig_run_blackout(&run, &b);
        fwd = b_forwarding_at(&run);
        r.ok = TRUE;
        r.blackout_ms = b.blackout / 1e3;
        r.lower_bound = b.after_resume == 0;
        r.downtime_ms = (double) run.downtime_ms;
        r.total_s = (run.completed_at - run.migrate_at) / 1e6;
        r.switch_after_ready_ms = fwd && run.switch_at ? (run.switch_at - fwd) / 1e3 : 0;
        r.blocktime_ms = config.blocktime && run.vcpu_blocktime_ms ? (double) run.blocktime_ms : -1;
        gap = mig_largest_gap(run.replies, run.migrate_at, run.probe_end, &gap_start);
        r.guest_gap_ms = gap / 1e3;
        r.guest_lower_bound = gap_start + gap == run.probe_end;
        for (guint h = 0; h < 2 && !r.guest_broken; h++)
                r.guest_broken = mig_run_corruption(run.serial[h] ? run.serial[h] : "");
        fprintf(stderr,
                "  %-13s fd %2u s: blackout %s%.1f ms, guest replies gap %s%.1f ms%s%s, downtime "
                "%.0f ms, total %.1f s, switch %+.0f ms from B's port forwarding, blocktime %.0f "
                "ms (per vCPU %s); %u of %u requests reached no running instance\n",
                v->name, forward_delay_s, r.lower_bound ? ">=" : "", r.blackout_ms,
                r.guest_lower_bound ? ">=" : "", r.guest_gap_ms,
                r.guest_broken ? " (EMULATOR BROKE THE GUEST: " : "",
                r.guest_broken ? r.guest_broken : "", r.downtime_ms, r.total_s,
                r.switch_after_ready_ms, r.blocktime_ms,
                run.vcpu_blocktime_ms ? run.vcpu_blocktime_ms : "-", b.lost, b.sent);
        if (!mig_env_tear_down(&env, &error))
                fprintf(stderr, "  teardown: %s\n", error->message);
        mig_run_clear(&run);
        return r;
}

typedef struct {
        guint n, n_guest, broken;
        gboolean lower_bound, guest_lower_bound;
        double blackout[16], downtime[16], total[16], switch_after[16], blocktime[16];
        double guest[16]; /* runs whose guest stayed intact */
} Series;

static void
add(Series *s, Result r)
{
        if (!r.ok || s->n == G_N_ELEMENTS(s->blackout))
                return;
        s->lower_bound |= r.lower_bound;
        s->blackout[s->n] = r.blackout_ms;
        s->downtime[s->n] = r.downtime_ms;
        s->total[s->n] = r.total_s;
        s->switch_after[s->n] = r.switch_after_ready_ms;
        s->blocktime[s->n] = r.blocktime_ms;
        s->n++;
        if (r.guest_broken) {
                s->broken++;
                return;
        }
        s->guest_lower_bound |= r.guest_lower_bound;
        s->guest[s->n_guest++] = r.guest_gap_ms;
}

static guint
variant_index(const char *name)
{
        for (guint k = 0; k < G_N_ELEMENTS(variants); k++)
                if (g_str_equal(variants[k].name, name))
                        return k;
        return G_MAXUINT;
}

/* "fd 15 s: libvirt/libvirt+nlc ..." when both rows have runs. */
static void
print_ratios(guint fd_s, Series *s, const double *med, const double *guest_med,
             const char *base_name, const char *nlc_name)
{
        guint b = variant_index(base_name), n = variant_index(nlc_name);

        if (s[b].n && s[n].n && med[n] > 0)
                printf("fd %u s: %s/%s network blackout %s%.0fx (medians); %s blackout - "
                       "downtime %.1f ms\n",
                       fd_s, base_name, nlc_name, s[b].lower_bound ? ">=" : "", med[b] / med[n],
                       nlc_name, med[n] - bench_median(s[n].downtime, s[n].n));
        if (s[b].n_guest && s[n].n_guest && guest_med[n] > 0)
                printf("fd %u s: %s/%s guest-visible blackout %s%.0fx (medians)\n", fd_s, base_name,
                       nlc_name, s[b].guest_lower_bound ? ">=" : "", guest_med[b] / guest_med[n]);
}

int
main(int argc, char **argv)
{
        g_autofree char *delays_arg = g_strdup("4,15");
        g_autofree char *drivers_arg = g_strdup("naive,netlifecd,nlc-nopreempt");
        g_auto(GStrv) delays = NULL;
        g_auto(GStrv) drivers = NULL;
        gboolean chosen[G_N_ELEMENTS(variants)] = { FALSE };
        int runs = 3;
        gint64 bandwidth_mib = 0;
        GOptionEntry entries[] = { { "forward-delay", 0, 0, G_OPTION_ARG_STRING, &delays_arg,
                                     "STP forward delays to try, seconds (4,15)", "S,S" },
                                   { "drivers", 0, 0, G_OPTION_ARG_STRING, &drivers_arg,
                                     "rows: naive, netlifecd, nlc-nopreempt, libvirt, libvirt+nlc "
                                     "(the first three)",
                                     "D,D" },
                                   { "runs", 0, 0, G_OPTION_ARG_INT, &runs,
                                     "runs per driver and delay (3)", "N" },
                                   { "bandwidth", 0, 0, G_OPTION_ARG_INT64, &bandwidth_mib,
                                     "migration bandwidth, MiB/s (0: as fast as it goes)", "MIB" },
                                   { NULL } };
        g_autoptr(GOptionContext) ctx =
                g_option_context_new("- post-copy blackout: naive vs netlifecd");
        g_autoptr(GError) error = NULL;

        g_option_context_add_main_entries(ctx, entries, NULL);
        if (!g_option_context_parse(ctx, &argc, &argv, &error) || runs < 1 || runs > 16) {
                fprintf(stderr, "%s\n", error ? error->message : "--runs: 1 to 16");
                return 2;
        }
        if (!g_getenv("NLC_GUEST_DIR"))
                g_setenv("NLC_GUEST_DIR", "build/guest", FALSE);
        if (!g_getenv("NLC_DAEMON"))
                g_setenv("NLC_DAEMON", "build/netlifecd/netlifecd", FALSE);
        delays = g_strsplit(delays_arg, ",", -1);
        drivers = g_strsplit(drivers_arg, ",", -1);
        for (guint i = 0; drivers[i]; i++) {
                guint k = variant_index(drivers[i]);

                if (k == G_MAXUINT) {
                        fprintf(stderr, "--drivers: no driver '%s'\n", drivers[i]);
                        return 2;
                }
                chosen[k] = TRUE;
        }

        printf("%-6s %-14s %5s %14s %14s %12s %10s %14s %13s\n", "fd", "driver", "runs",
               "blackout ms", "guest gap ms", "downtime ms", "total s", "switch-fwd ms",
               "blocktime ms");
        for (guint d = 0; delays[d]; d++) {
                guint fd_s = (guint) g_ascii_strtoull(delays[d], NULL, 10);
                Series s[G_N_ELEMENTS(variants)] = { { 0 } };
                g_autofree char *shown = NULL; /* a median, ">=" when a lower bound */
                g_autofree char *guest = NULL;
                double med[G_N_ELEMENTS(variants)], guest_med[G_N_ELEMENTS(variants)];

                if (fd_s < 2 || fd_s > 30) {
                        fprintf(stderr, "forward delay %s: 2 to 30 s (the kernel's range)\n",
                                delays[d]);
                        return 2;
                }
                /* Alternating, so drift in the machine's load hits all. */
                for (int i = 0; i < runs; i++)
                        for (guint k = 0; k < G_N_ELEMENTS(variants); k++)
                                if (chosen[k])
                                        add(&s[k], one_run(&variants[k], fd_s,
                                                           (guint64) bandwidth_mib << 20));
                for (guint k = 0; k < G_N_ELEMENTS(variants); k++) {
                        med[k] = 0;
                        guest_med[k] = 0;
                        if (!chosen[k])
                                continue;
                        if (!s[k].n) {
                                printf("%-6u %-14s %5u %14s\n", fd_s, variants[k].name, 0,
                                       "(no run completed)");
                                continue;
                        }
                        med[k] = bench_median(s[k].blackout, s[k].n);
                        guest_med[k] = s[k].n_guest ? bench_median(s[k].guest, s[k].n_guest) : 0;
                        g_free(shown);
                        shown = g_strdup_printf("%s%.1f", s[k].lower_bound ? ">=" : "", med[k]);
                        g_free(guest);
                        guest = s[k].n_guest ? g_strdup_printf("%s%.1f",
                                                               s[k].guest_lower_bound ? ">=" : "",
                                                               guest_med[k])
                                             : g_strdup("(broken)");
                        printf("%-6u %-14s %5u %14s %14s %12.1f %10.1f %+14.0f %13.0f\n", fd_s,
                               variants[k].name, s[k].n, shown, guest,
                               bench_median(s[k].downtime, s[k].n),
                               bench_median(s[k].total, s[k].n),
                               bench_median(s[k].switch_after, s[k].n),
                               bench_median(s[k].blocktime, s[k].n));
                        if (s[k].broken)
                                printf("       %u run(s) of %s: the emulator broke the guest "
                                       "(console); not in the guest gap\n",
                                       s[k].broken, variants[k].name);
                }
                print_ratios(fd_s, s, med, guest_med, "naive", "netlifecd");
                print_ratios(fd_s, s, med, guest_med, "libvirt", "libvirt+nlc");
        }
        return 0;
}
