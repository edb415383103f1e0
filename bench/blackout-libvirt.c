/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One libvirt migration for bench/blackout: tests/libvirt/lv-migrate.sh does
 * the run (hosts, libvirtds, guest, peer, switch capture, teardown) and
 * writes timeline.txt; this reads the figures back. Paths: $NLC_LV_MIGRATE
 * (default tests/libvirt/lv-migrate.sh), $NLC_BUILD_DIR (default build),
 * $NLC_GUEST_DIR.
 */
#include "blackout-libvirt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static char *
slurp(const char *dir, const char *name)
{
        g_autofree char *path = g_build_filename(dir, name, NULL);
        char *text = NULL;

        if (!g_file_get_contents(path, &text, NULL, NULL))
                return g_strdup("");
        return text;
}

/* A number after @key in @text ("downtime=17", "largest-gap-ms 740"). */
static double
number_after(const char *text, const char *key)
{
        const char *at = strstr(text, key);
        char *end = NULL;
        double v;

        if (!at)
                return NAN;
        at += strlen(key);
        v = g_ascii_strtod(at, &end);
        return end == at ? NAN : v;
}

/* The time of the first "EPOCH<what>..." line of the markers, or NAN. */
static double
marker_time(const char *markers, const char *what)
{
        const char *bol = strstr(markers, what);

        if (!bol)
                return NAN;
        while (bol > markers && bol[-1] != '\n')
                bol--;
        return g_ascii_strtod(bol, NULL);
}

/* A "summary: NAME  +S.SSS" line of the timeline: seconds from the virsh
 * migrate call, or NAN when the event did not happen ("-"). */
static double
summary(const char *timeline, const char *name)
{
        g_autofree char *needle = g_strconcat("summary: ", name, " ", NULL);

        return number_after(timeline, needle);
}

gboolean
nlc_libvirt_blackout_run(const char *run_dir, gboolean with_netlifecd, guint forward_delay_s,
                         guint bandwidth_mib, NlcLibvirtBlackout *out, GError **error)
{
        const char *script = g_getenv("NLC_LV_MIGRATE") ?: "tests/libvirt/lv-migrate.sh";
        g_autofree char *build =
                g_canonicalize_filename(g_getenv("NLC_BUILD_DIR") ?: "build", NULL);
        g_autofree char *guest =
                g_canonicalize_filename(g_getenv("NLC_GUEST_DIR") ?: "build/guest", NULL);
        g_autofree char *fd = g_strdup_printf("%u", forward_delay_s);
        g_autofree char *flags = g_strdup_printf("--bandwidth %u", bandwidth_mib);
        g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(
                G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
        g_autoptr(GSubprocess) p = NULL;
        g_autofree char *timeline = NULL;
        g_autofree char *ping = NULL;
        g_autofree char *events = NULL;
        g_autofree char *markers = NULL;
        double stop, to_b, fwd, end, largest, tail_from, last, t0;

        memset(out, 0, sizeof(*out));
        g_subprocess_launcher_setenv(l, "LV_FORWARD_DELAY", fd, TRUE);
        g_subprocess_launcher_setenv(l, "LV_GUEST_DIR", guest, TRUE);
        g_subprocess_launcher_setenv(l, "LV_MIGRATE_FLAGS", flags, TRUE);
        g_subprocess_launcher_setenv(l, "LV_NO_HOOK", "1", TRUE);
        if (with_netlifecd) {
                g_subprocess_launcher_setenv(l, "LV_NETLIFECD", build, TRUE);
                g_subprocess_launcher_setenv(l, "LV_AGENT", "1", TRUE);
                g_subprocess_launcher_setenv(l, "LV_POSTCOPY_AFTER", "agent", TRUE);
        }
        p = g_subprocess_launcher_spawn(l, error, script, run_dir, NULL);
        if (!p || !g_subprocess_wait_check(p, NULL, error)) {
                g_prefix_error(error, "%s %s: ", script, run_dir);
                return FALSE;
        }
        timeline = slurp(run_dir, "timeline.txt");
        ping = slurp(run_dir, "ping.txt");
        markers = slurp(run_dir, "markers");
        events = slurp(run_dir, "A/events.log");
        stop = summary(timeline, "A guest stopped (STOP)");
        to_b = summary(timeline, "switch: 1st frame for guest to B");
        fwd = summary(timeline, "B port forwarding");
        out->total_s = summary(timeline, "virsh migrate returned");
        if (isnan(stop) || isnan(out->total_s)) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                            "%s/timeline.txt shows no switch or no end", run_dir);
                return FALSE;
        }
        /* t0 (the virsh migrate call: "EPOCH migrate-start ..." in the
         * markers) and the peer's last request, absolute. */
        t0 = marker_time(markers, " migrate-start");
        last = number_after(ping, " last ");
        end = isnan(t0) || isnan(last) ? NAN : last - t0;
        out->network_lower_bound = isnan(to_b);
        out->network_ms = ((out->network_lower_bound ? end : to_b) - stop) * 1000;
        out->switch_after_ready_ms = isnan(fwd) ? NAN : (stop - fwd) * 1000;
        out->downtime_ms = number_after(events, "downtime: ");
        largest = number_after(ping, "largest-gap-ms ");
        tail_from = number_after(ping, "unanswered-at-end ");
        out->guest_gap_ms = isnan(largest) ? 0 : largest;
        if (!isnan(tail_from) && !isnan(last) && (last - tail_from) * 1000 > out->guest_gap_ms) {
                out->guest_gap_ms = (last - tail_from) * 1000;
                out->guest_lower_bound = TRUE;
        }
        if (strstr(timeline, "guest-console-failure"))
                out->guest_broken = "the guest's console (see the serial logs)";
        return TRUE;
}
