/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Mass teardown. N tap-bridge devices (created over D-Bus, not timed) are
 * destroyed three ways by the real daemon — one call after the other,
 * all N calls sent at once by concurrent callers, and one DestroyInstances —
 * and, as the kernel's own figures, N taps (up, queue held, as the daemon's)
 * deleted with one RTM_DELLINK each and with one RTM_DELLINK for their
 * netdev group, in the same run and namespace. Then the latency of a lone
 * Destroy on an idle daemon against one kernel delete (medians of 21).
 *
 *   sudo build/bench/destroy-batch [-n 1000] [--daemon build/netlifecd/netlifecd]
 */
#include <stdio.h>
#include <unistd.h>

#include "bench-env.h"
#include "nlc-netlink.h"
#include "nlc-tap.h"

#define DEVICES_PER_INSTANCE 10
#define LONE_SAMPLES         21

static double
now_s(void)
{
        return g_get_monotonic_time() / 1e6;
}

/* ---- the kernel alone ---------------------------------------------------- */

/* N persistent taps on the bridge, up, each with its queue held open in
 * @fds as the daemon holds its taps' queues (deleting a tap with an attached
 * queue costs the kernel one more RCU grace period than an orphan one);
 * their ifindexes. */
static GArray *
kernel_taps(guint n, GArray *fds)
{
        GArray *idx = g_array_new(FALSE, FALSE, sizeof(int));
        NlcLinkInfo br, tap;

        g_assert_cmpint(nlc_link_get("benchbr", &br), ==, 0);
        for (guint i = 0; i < n; i++) {
                g_autofree char *ifname = g_strdup_printf("kt%u", i);
                int fd = nlc_tap_open_queue(ifname, FALSE);

                g_assert_cmpint(fd, >=, 0);
                g_assert_cmpint(nlc_link_get(ifname, &tap), ==, 0);
                nlc_link_set_master(tap.ifindex, br.ifindex);
                nlc_link_set_up(tap.ifindex, TRUE);
                g_array_append_val(fds, fd);
                g_array_append_val(idx, tap.ifindex);
        }
        return idx;
}

/* Closes the queues once their taps are gone (as the daemon does). */
static void
close_all(GArray *fds)
{
        for (guint i = 0; i < fds->len; i++)
                close(g_array_index(fds, int, i));
        g_array_set_size(fds, 0);
}

static double
kernel_one_by_one(guint n)
{
        g_autoptr(GArray) fds = g_array_new(FALSE, FALSE, sizeof(int));
        g_autoptr(GArray) idx = kernel_taps(n, fds);
        double t0 = now_s(), t;

        for (guint i = 0; i < idx->len; i++)
                g_assert_cmpint(nlc_link_delete(g_array_index(idx, int, i)), ==, 0);
        t = now_s() - t0;
        close_all(fds);
        return t;
}

/* Marking them counts: the daemon has to do it too. */
static double
kernel_group(guint n)
{
        g_autoptr(GArray) fds = g_array_new(FALSE, FALSE, sizeof(int));
        g_autoptr(GArray) idx = kernel_taps(n, fds);
        double t0 = now_s(), t;

        for (guint i = 0; i < idx->len; i++)
                g_assert_cmpint(nlc_link_set_group(g_array_index(idx, int, i), 4242), ==, 0);
        g_assert_cmpint(nlc_link_delete_group(4242), ==, 0);
        t = now_s() - t0;
        close_all(fds);
        return t;
}

/* ---- the daemon ------------------------------------------------------------ */

static char *
instance_of(guint i)
{
        return g_strdup_printf("bd%u", i / DEVICES_PER_INSTANCE);
}

static GPtrArray *
allocate_all(BenchEnv *e, guint n)
{
        GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);

        for (guint i = 0; i < n; i++) {
                g_autofree char *mac = g_strdup_printf("52:54:00:%02x:%02x:%02x", (i >> 16) & 0xff,
                                                       (i >> 8) & 0xff, i & 0xff);
                g_autofree char *ifname = g_strdup_printf("bd%u", i);
                g_autofree char *instance = instance_of(i);
                char *path = NULL;

                bench_call(e, "/org/netlifecd1", "org.netlifecd1.Manager", "Allocate",
                           g_variant_new_parsed("(%s, 'tap-bridge', %s, {'bridge': <'benchbr'>, "
                                                "'ifname': <%s>})",
                                                instance, mac, ifname),
                           &path);
                g_ptr_array_add(paths, path);
        }
        return paths;
}

/* Destroyed devices may be created again: the same N taps each round. */
static void
create_all(BenchEnv *e, GPtrArray *paths)
{
        for (guint i = 0; i < paths->len; i++)
                bench_call(e, paths->pdata[i], "org.netlifecd1.Device", "Create", NULL, NULL);
}

static double
daemon_one_by_one(BenchEnv *e, GPtrArray *paths)
{
        double t0;

        create_all(e, paths);
        t0 = now_s();
        for (guint i = 0; i < paths->len; i++)
                bench_call(e, paths->pdata[i], "org.netlifecd1.Device", "Destroy", NULL, NULL);
        return now_s() - t0;
}

static void
on_reply(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r =
                g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);

        if (!r)
                g_error("Destroy: %s", error->message);
        (*(guint *) data)--;
}

static double
daemon_concurrent(BenchEnv *e, GPtrArray *paths)
{
        guint pending = paths->len;
        double t0;

        create_all(e, paths);
        t0 = now_s();
        for (guint i = 0; i < paths->len; i++)
                g_dbus_connection_call(e->conn, "org.netlifecd1", paths->pdata[i],
                                       "org.netlifecd1.Device", "Destroy", NULL, NULL,
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_reply, &pending);
        while (pending)
                g_main_context_iteration(NULL, TRUE);
        return now_s() - t0;
}

static double
daemon_destroy_instances(BenchEnv *e, GPtrArray *paths)
{
        g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
        double t0;

        for (guint i = 0; i < paths->len; i += DEVICES_PER_INSTANCE)
                g_ptr_array_add(names, instance_of(i));
        g_ptr_array_add(names, NULL);
        create_all(e, paths);
        t0 = now_s();
        bench_call(e, "/org/netlifecd1", "org.netlifecd1.Manager", "DestroyInstances",
                   g_variant_new("(^as)", (char **) names->pdata), NULL);
        return now_s() - t0;
}

/* A lone Destroy on an idle daemon against one kernel delete, ms. */
static void
lone_latency(BenchEnv *e, GPtrArray *paths, double *daemon_ms, double *kernel_ms)
{
        double d[LONE_SAMPLES], k[LONE_SAMPLES];

        for (guint s = 0; s < LONE_SAMPLES; s++) {
                g_autoptr(GArray) fds = g_array_new(FALSE, FALSE, sizeof(int));
                g_autoptr(GArray) idx = kernel_taps(1, fds);
                double t0;

                bench_call(e, paths->pdata[0], "org.netlifecd1.Device", "Create", NULL, NULL);
                g_usleep(20000); /* idle */
                t0 = now_s();
                bench_call(e, paths->pdata[0], "org.netlifecd1.Device", "Destroy", NULL, NULL);
                d[s] = (now_s() - t0) * 1e3;
                t0 = now_s();
                nlc_link_delete(g_array_index(idx, int, 0));
                k[s] = (now_s() - t0) * 1e3;
                close_all(fds);
        }
        *daemon_ms = bench_median(d, LONE_SAMPLES);
        *kernel_ms = bench_median(k, LONE_SAMPLES);
}

int
main(int argc, char **argv)
{
        g_autofree char *daemon = g_strdup("build/netlifecd/netlifecd");
        int n = 1000;
        const GOptionEntry entries[] = {
                { "devices", 'n', 0, G_OPTION_ARG_INT, &n, "Devices", "N" },
                { "daemon", 0, 0, G_OPTION_ARG_FILENAME, &daemon, "netlifecd binary", "PATH" },
                { NULL },
        };
        g_autoptr(GOptionContext) oc = g_option_context_new("- mass teardown");
        g_autoptr(GPtrArray) paths = NULL;
        double k1, kg, d1, dc, di, lone_d, lone_k;
        BenchEnv e;

        g_option_context_add_main_entries(oc, entries, NULL);
        if (!g_option_context_parse(oc, &argc, &argv, NULL) || n < DEVICES_PER_INSTANCE)
                return 2;
        bench_env_init(&e, daemon, -1);
        bench_run("ip link add benchbr type bridge stp_state 0");
        bench_run("ip link set benchbr up");
        bench_start_daemon(&e);
        paths = allocate_all(&e, (guint) n);

        k1 = kernel_one_by_one((guint) n);
        kg = kernel_group((guint) n);
        d1 = daemon_one_by_one(&e, paths);
        dc = daemon_concurrent(&e, paths);
        di = daemon_destroy_instances(&e, paths);
        lone_latency(&e, paths, &lone_d, &lone_k);

        printf("destroying %d tap-bridge devices (journal fsync on); speed-up = one by one "
               "through the daemon / this\n",
               n);
        printf("%-44s %9s %9s\n", "", "seconds", "speed-up");
        printf("%-44s %9.2f %8.1fx\n", "kernel: one RTM_DELLINK per tap", k1, d1 / k1);
        printf("%-44s %9.2f %8.1fx\n", "kernel: group marked, one RTM_DELLINK", kg, d1 / kg);
        printf("%-44s %9.2f %8.1fx\n", "netlifecd: Destroy calls one after the other", d1, 1.0);
        printf("%-44s %9.2f %8.1fx\n", "netlifecd: all Destroy calls at once", dc, d1 / dc);
        printf("%-44s %9.2f %8.1fx\n", "netlifecd: one DestroyInstances", di, d1 / di);
        printf("lone Destroy on an idle daemon: %.2f ms (median of %d); one kernel delete "
               "%.2f ms\n",
               lone_d, LONE_SAMPLES, lone_k);
        bench_stop_daemon(&e);
        bench_env_finish(&e);
        return 0;
}
