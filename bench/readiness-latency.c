/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * How long after the kernel announces a bridge-port state change does a
 * D-Bus client see PortState change? Measured against a raw rtnetlink
 * listener (the daemon's own parser, in this process) in the same run.
 *
 * In a private network namespace: a bridge with STP off, one tap-bridge
 * device created through the real daemon on a private bus; the tap is set
 * down and up N times (each a kernel RTM_NEWLINK AF_BRIDGE event: port
 * disabled / forwarding). For every change we time, from the request:
 *   raw   the raw listener reads the kernel's event,
 *   dbus  PropertiesChanged(PortState) reaches this client.
 * and print p50/p99 of both and of dbus - raw, the daemon's own cost.
 *
 *   sudo build/bench/readiness-latency [-n 500] [--daemon build/netlifecd/netlifecd]
 */
#include <gio/gio.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench-env.h"
#include "nlc-monitor.h"
#include "nlc-netlink.h"

#define TAP "benchtap0"

typedef struct {
        GMainContext *ctx;
        int tap_ifindex;
        NlcPortState want;
        gint64 raw_at, dbus_at;
} Bench;

static void
on_link(const NlcLinkEvent *ev, gpointer data)
{
        Bench *b = data;

        if (ev->ifindex == b->tap_ifindex && ev->af_bridge && ev->has_port_state &&
            ev->port_state == b->want && !b->raw_at)
                b->raw_at = g_get_monotonic_time();
}

static void
on_properties_changed(GDBusConnection *c, const char *sender, const char *path, const char *iface,
                      const char *signal, GVariant *params, gpointer data)
{
        Bench *b = data;
        g_autoptr(GVariant) changed = g_variant_get_child_value(params, 1);
        const char *state;

        if (g_variant_lookup(changed, "PortState", "&s", &state) && !b->dbus_at &&
            g_str_equal(state, nlc_port_state_to_string(b->want)))
                b->dbus_at = g_get_monotonic_time();
}

static int
cmp_i64(const void *a, const void *b)
{
        gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

        return (x > y) - (x < y);
}

static double
percentile(GArray *v, double p)
{
        guint i = (guint) (p / 100.0 * (v->len - 1) + 0.5);

        qsort(v->data, v->len, sizeof(gint64), cmp_i64);
        return g_array_index(v, gint64, i) / 1000.0;
}

int
main(int argc, char **argv)
{
        int n = 500;
        g_autofree char *daemon_path = g_strdup("build/netlifecd/netlifecd");
        const GOptionEntry entries[] = {
                { "count", 'n', 0, G_OPTION_ARG_INT, &n, "State changes to time", "N" },
                { "daemon", 0, 0, G_OPTION_ARG_FILENAME, &daemon_path, "netlifecd binary", "PATH" },
                { NULL },
        };
        g_autoptr(GOptionContext) oc = g_option_context_new("- readiness signal latency");
        g_autoptr(GError) error = NULL;
        g_autoptr(GArray) raw = g_array_new(FALSE, FALSE, sizeof(gint64));
        g_autoptr(GArray) dbus = g_array_new(FALSE, FALSE, sizeof(gint64));
        g_autoptr(GArray) added = g_array_new(FALSE, FALSE, sizeof(gint64));
        const NlcMonitorCallbacks cb = { .link = on_link };
        NlcMonitor *monitor;
        NlcLinkInfo link;
        g_autofree char *path = NULL;
        Bench b = { 0 };
        BenchEnv env;

        g_option_context_add_main_entries(oc, entries, NULL);
        if (!g_option_context_parse(oc, &argc, &argv, &error) || n < 10) {
                g_printerr("%s\n", error ? error->message : "need -n 10 or more");
                return 2;
        }
        bench_env_init(&env, daemon_path, -1);
        bench_run("ip link add benchbr type bridge stp_state 0");
        bench_run("ip link set benchbr up");
        bench_start_daemon(&env);
        bench_call(&env, "/org/netlifecd1", "org.netlifecd1.Manager", "Allocate",
                   g_variant_new_parsed("('bench', 'tap-bridge', '52:54:00:be:00:01', "
                                        "{'bridge': <'benchbr'>, 'ifname': <%s>})",
                                        TAP),
                   &path);
        bench_call(&env, path, "org.netlifecd1.Device", "Create", NULL, NULL);
        g_assert_cmpint(nlc_link_get(TAP, &link), ==, 0);
        b.tap_ifindex = link.ifindex;
        monitor = nlc_monitor_new(&cb, &b, 0, &error);
        g_assert_no_error(error);
        g_dbus_connection_signal_subscribe(env.conn, "org.netlifecd1",
                                           "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                           path, "org.netlifecd1.Device", G_DBUS_SIGNAL_FLAGS_NONE,
                                           on_properties_changed, &b, NULL);

        for (int i = 0; i < n + 10; i++) {
                gboolean up = i % 2 == 1;
                gint64 t0, deadline;

                b.want = up ? NLC_PORT_STATE_FORWARDING : NLC_PORT_STATE_DISABLED;
                b.raw_at = b.dbus_at = 0;
                t0 = g_get_monotonic_time();
                g_assert_cmpint(nlc_link_set_up(b.tap_ifindex, up), ==, 0);
                deadline = t0 + 2 * G_USEC_PER_SEC;
                while ((!b.raw_at || !b.dbus_at) && g_get_monotonic_time() < deadline)
                        g_main_context_iteration(NULL, TRUE);
                if (!b.raw_at || !b.dbus_at)
                        g_error("change %d: no %s event within 2 s", i,
                                b.raw_at ? "D-Bus" : "kernel");
                if (i < 10)
                        continue; /* warm-up */
                g_array_append_val(raw, (gint64){ b.raw_at - t0 });
                g_array_append_val(dbus, (gint64){ b.dbus_at - t0 });
                g_array_append_val(added, (gint64){ b.dbus_at - b.raw_at });
        }

        printf("readiness latency, %d port state changes (tap down/up on a bridge, STP off)\n", n);
        printf("%-44s %10s %10s\n", "", "p50 ms", "p99 ms");
        printf("%-44s %10.3f %10.3f\n", "raw netlink listener (baseline)", percentile(raw, 50),
               percentile(raw, 99));
        printf("%-44s %10.3f %10.3f\n", "D-Bus PropertiesChanged(PortState)", percentile(dbus, 50),
               percentile(dbus, 99));
        printf("%-44s %10.3f %10.3f\n", "added by netlifecd + D-Bus (dbus - raw)",
               percentile(added, 50), percentile(added, 99));
        printf("ratio dbus/raw at p50: %.2fx\n", percentile(dbus, 50) / percentile(raw, 50));

        nlc_monitor_free(monitor);
        bench_stop_daemon(&env);
        bench_env_finish(&env);
        return 0;
}
