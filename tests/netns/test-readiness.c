/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Readiness against the real kernel: STP bridges (forward_delay 2 s, the
 * kernel minimum), the real daemon, its D-Bus signals and the kernel's port
 * state read through iproute2.
 */
#include <string.h>

#include "ns-env.h"
#include "nlc-test-log.h"

#define DEV  "org.netlifecd1.Device"
#define INST "org.netlifecd1.Instance"
#define MAC  "52:54:00:00:0a:01"

typedef struct {
        NsEnv env;
        char *path;
        GUnixFDList *fds;
        gint64 ready_signal_at; /* monotonic, when PropertiesChanged(Ready=true) arrived */
        guint subscription;
} Fixture;

static void
on_properties_changed(GDBusConnection *c, const char *sender, const char *path, const char *iface,
                      const char *signal, GVariant *params, gpointer data)
{
        Fixture *f = data;
        g_autoptr(GVariant) changed = g_variant_get_child_value(params, 1);
        gboolean ready;

        if (g_variant_lookup(changed, "Ready", "b", &ready) && ready && !f->ready_signal_at)
                f->ready_signal_at = g_get_monotonic_time();
}

static void
watch_device(Fixture *f)
{
        f->subscription = g_dbus_connection_signal_subscribe(
                f->env.conn, "org.netlifecd1", "org.freedesktop.DBus.Properties",
                "PropertiesChanged", f->path, DEV, G_DBUS_SIGNAL_FLAGS_NONE, on_properties_changed,
                f, NULL);
}

/* A bridge with an uplink veth, so it has carrier and STP runs. */
static void
make_bridge(const char *name, gboolean stp, int forward_delay_cs)
{
        ns_sh("ip link add %s type bridge stp_state %d forward_delay %d", name, stp ? 1 : 0,
              forward_delay_cs);
        ns_sh("ip link add %s-up type veth peer name %s-peer", name, name);
        ns_sh("ip link set %s-up master %s && ip link set %s-up up && ip link set %s-peer up && "
              "ip link set %s up",
              name, name, name, name, name);
}

static void
set_up(Fixture *f, gconstpointer data)
{
        ns_env_set_up(&f->env, data);
}

static void
tear_down(Fixture *f, gconstpointer data)
{
        if (f->subscription)
                g_dbus_connection_signal_unsubscribe(f->env.conn, f->subscription);
        g_clear_object(&f->fds);
        g_free(f->path);
        ns_env_tear_down(&f->env);
}

static gboolean
ready_signalled(gpointer data)
{
        Fixture *f = data;

        return f->ready_signal_at != 0;
}

static char *
kernel_state(void)
{
        return ns_kernel_port_state("rt0");
}

/* The kernel's forwarding transition, seen by polling it every 5 ms from
 * @since; returns its monotonic time. */
static gint64
poll_kernel_forwarding(guint timeout_ms)
{
        gint64 deadline = g_get_monotonic_time() + (gint64) timeout_ms * 1000;

        while (g_get_monotonic_time() < deadline) {
                g_autofree char *s = kernel_state();

                if (g_str_equal(s, "forwarding"))
                        return g_get_monotonic_time();
                g_usleep(5000);
        }
        g_error("the kernel never put rt0 in forwarding");
}

typedef struct {
        gint64 at;
        guint64 eta;
} Sample;

/* Ready goes false → true with the kernel's forwarding transition, and
 * ReadyInUsec counts down to it within 10 %. */
static void
test_stp_transition(Fixture *f, gconstpointer data)
{
        g_autoptr(GArray) samples = g_array_new(FALSE, FALSE, sizeof(Sample));
        g_autofree char *state = NULL;
        gint64 kernel_at, signal_at;
        guint64 prev = G_MAXUINT64;

        make_bridge("br0", TRUE, 200);
        f->path = ns_allocate(&f->env, "vm1", MAC, "{'bridge': <'br0'>, 'ifname': <'rt0'>}");
        watch_device(f);
        f->fds = ns_create(&f->env, f->path);
        state = ns_get_string(&f->env, f->path, DEV, "PortState");
        g_assert_cmpstr(state, ==, "listening");
        g_assert_false(ns_get_bool(&f->env, f->path, DEV, "Ready"));
        /* Sample the estimate while the port counts. */
        for (int i = 0; i < 6; i++) {
                Sample s = { g_get_monotonic_time(),
                             ns_get_u64(&f->env, f->path, DEV, "ReadyInUsec") };

                g_assert_cmpuint(s.eta, <, prev);
                prev = s.eta;
                g_array_append_val(samples, s);
                g_usleep(500000);
        }
        kernel_at = poll_kernel_forwarding(10000);
        g_assert_true(ns_wait(ready_signalled, f, 2000));
        signal_at = f->ready_signal_at;
        /* The signal is not early (the kernel said forwarding first, give or
         * take our 5 ms polling) and not late. */
        g_assert_cmpint(signal_at, >=, kernel_at - 10000);
        g_assert_cmpint(signal_at - kernel_at, <, 50000);
        for (guint i = 0; i < samples->len; i++) {
                Sample *s = &g_array_index(samples, Sample, i);
                double truth = (double) (kernel_at - s->at);

                if (ABS((double) s->eta - truth) > 0.10 * truth + 20000)
                        g_error("ReadyInUsec %" G_GUINT64_FORMAT " at t-%.0f µs: off by more "
                                "than 10 %%",
                                s->eta, truth);
        }
        g_assert_true(ns_get_bool(&f->env, f->path, DEV, "Ready"));
        g_assert_cmpuint(ns_get_u64(&f->env, f->path, DEV, "ReadyInUsec"), ==, 0);
}

static void
test_stp_off_ready_at_create(Fixture *f, gconstpointer data)
{
        g_autofree char *state = NULL;

        make_bridge("br0", FALSE, 200);
        f->path = ns_allocate(&f->env, "vm1", MAC, "{'bridge': <'br0'>, 'ifname': <'rt0'>}");
        g_assert_false(ns_get_bool(&f->env, f->path, DEV, "Ready"));
        f->fds = ns_create(&f->env, f->path);
        state = ns_get_string(&f->env, f->path, DEV, "PortState");
        g_assert_cmpstr(state, ==, "forwarding");
        g_assert_true(ns_get_bool(&f->env, f->path, DEV, "Ready"));
}

/* No port yet, or none any more: not ready, and not counting. */
static void
test_not_ready_without_port(Fixture *f, gconstpointer data)
{
        g_autofree char *s1 = NULL, *s2 = NULL;

        make_bridge("br0", FALSE, 200);
        f->path = ns_allocate(&f->env, "vm1", MAC, "{'bridge': <'br0'>, 'ifname': <'rt0'>}");
        s1 = ns_get_string(&f->env, f->path, DEV, "PortState");
        g_assert_cmpstr(s1, ==, "disabled");
        g_assert_false(ns_get_bool(&f->env, f->path, DEV, "Ready"));
        g_assert_cmpuint(ns_get_u64(&f->env, f->path, DEV, "ReadyInUsec"), ==, G_MAXUINT64);
        f->fds = ns_create(&f->env, f->path);
        g_assert_true(ns_get_bool(&f->env, f->path, DEV, "Ready"));
        /* The tap taken down behind the daemon's back: the kernel disables
         * the port and the daemon follows at once. */
        ns_sh("ip link set rt0 down");
        for (int i = 0; i < 100 && ns_get_bool(&f->env, f->path, DEV, "Ready"); i++)
                g_usleep(10000);
        s2 = ns_get_string(&f->env, f->path, DEV, "PortState");
        g_assert_cmpstr(s2, ==, "disabled");
        g_assert_false(ns_get_bool(&f->env, f->path, DEV, "Ready"));
}

typedef struct {
        gboolean done;
        gboolean result;
        gint64 at;
} Wait;

static void
wait_ready_done(GObject *source, GAsyncResult *res, gpointer data)
{
        Wait *w = data;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r =
                g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);

        g_assert_no_error(error);
        g_variant_get(r, "(b)", &w->result);
        w->at = g_get_monotonic_time();
        w->done = TRUE;
}

static gboolean
wait_done(gpointer data)
{
        return ((Wait *) data)->done;
}

static void
call_wait_ready(Fixture *f, const char *instance_path, guint timeout_ms, Wait *w)
{
        g_dbus_connection_call(f->env.conn, "org.netlifecd1", instance_path, INST, "WaitReady",
                               g_variant_new("(u)", timeout_ms), G_VARIANT_TYPE("(b)"),
                               G_DBUS_CALL_FLAGS_NONE, 60000, NULL, wait_ready_done, w);
}

static void
test_wait_ready(Fixture *f, gconstpointer data)
{
        g_autoptr(GVariant) r = NULL;
        const char *inst;
        Wait early = { 0 }, late = { 0 };
        gint64 start, kernel_at;

        make_bridge("br0", TRUE, 200);
        f->path = ns_allocate(&f->env, "vm1", MAC, "{'bridge': <'br0'>, 'ifname': <'rt0'>}");
        r = ns_call(&f->env, "/org/netlifecd1", "org.netlifecd1.Manager", "GetInstance",
                    g_variant_new("(s)", "vm1"), "(o)", NULL);
        g_variant_get(r, "(&o)", &inst);
        f->fds = ns_create(&f->env, f->path);
        /* Too short: false after its timeout. */
        start = g_get_monotonic_time();
        call_wait_ready(f, inst, 300, &early);
        g_assert_true(ns_wait(wait_done, &early, 5000));
        g_assert_false(early.result);
        g_assert_cmpint(early.at - start, >=, 290000);
        /* Long enough: true, within 50 ms of the kernel's transition. */
        call_wait_ready(f, inst, 20000, &late);
        kernel_at = poll_kernel_forwarding(10000);
        g_assert_true(ns_wait(wait_done, &late, 5000));
        g_assert_true(late.result);
        g_assert_cmpint(late.at - kernel_at, <, 50000);
        g_assert_true(ns_get_bool(&f->env, inst, INST, "Ready"));
}

/* kill -9 while the port is listening (the hypervisor, here the test, keeps
 * the queues, so the port keeps counting): after the restart the state and
 * the estimate match the kernel. */
static void
test_restart_while_listening(Fixture *f, gconstpointer data)
{
        g_autofree char *state = NULL;
        guint64 eta;
        gint64 read_at, kernel_at;
        double truth;

        make_bridge("br0", TRUE, 400);
        f->path = ns_allocate(&f->env, "vm1", MAC, "{'bridge': <'br0'>, 'ifname': <'rt0'>}");
        f->fds = ns_create(&f->env, f->path);
        g_usleep(1000000);
        ns_env_kill9_daemon(&f->env);
        ns_env_start_daemon(&f->env);
        state = ns_get_string(&f->env, f->path, DEV, "PortState");
        g_assert_cmpstr(state, ==, "listening");
        read_at = g_get_monotonic_time();
        eta = ns_get_u64(&f->env, f->path, DEV, "ReadyInUsec");
        kernel_at = poll_kernel_forwarding(15000);
        truth = (double) (kernel_at - read_at);
        if (ABS((double) eta - truth) > 0.10 * truth + 20000)
                g_error("after restart ReadyInUsec %" G_GUINT64_FORMAT ", truth %.0f", eta, truth);
}

/* Events lost to a tiny socket buffer while thousands of links come and go:
 * the re-dump catches up, no readiness change is missed. */
static void
test_overrun(Fixture *f, gconstpointer data)
{
        g_autofree char *batch = g_build_filename(f->env.dir, "batch", NULL);
        g_autoptr(GString) cmds = g_string_new(NULL);
        g_autofree char *state = NULL;
        guint overruns;

        make_bridge("br0", TRUE, 200);
        f->path = ns_allocate(&f->env, "vm1", MAC, "{'bridge': <'br0'>, 'ifname': <'rt0'>}");
        f->fds = ns_create(&f->env, f->path);
        /* 2500 veth pairs made and deleted: two RTM_NEWLINK and two
         * RTM_DELLINK each, at least 10,000 link events. */
        for (int i = 0; i < 2500; i++)
                g_string_append_printf(cmds, "link add fl%d type veth peer name fp%d\n", i, i);
        for (int i = 0; i < 2500; i++)
                g_string_append_printf(cmds, "link del fl%d\n", i);
        g_assert_true(g_file_set_contents(batch, cmds->str, -1, NULL));
        ns_sh("ip -batch %s", batch); /* across the port's STP transitions */
        poll_kernel_forwarding(10000);
        for (int i = 0; i < 300 && !ns_get_bool(&f->env, f->path, DEV, "Ready"); i++)
                g_usleep(10000);
        g_assert_true(ns_get_bool(&f->env, f->path, DEV, "Ready"));
        state = ns_get_string(&f->env, f->path, DEV, "PortState");
        g_assert_cmpstr(state, ==, "forwarding");
        overruns = nlc_test_log_count(f->env.daemon_log, "kernel events were lost");
        /* The buffer really overran: otherwise this proves nothing. */
        g_assert_cmpuint(overruns, >=, 1);
        g_test_message("the event socket overran %u times; readiness still right", overruns);
}

/* PropertiesChanged on an object: the names invalidated, and whether one
 * came with its value. */
typedef struct {
        GString *invalidated; /* "Name," each */
        gboolean value_sent;
        const char *watch;
} Invalidations;

static void
on_invalidated(GDBusConnection *c, const char *sender, const char *path, const char *iface,
               const char *signal, GVariant *params, gpointer data)
{
        Invalidations *inv = data;
        g_autoptr(GVariant) changed = g_variant_get_child_value(params, 1);
        g_autofree const char **names = NULL;
        g_autoptr(GVariant) value = g_variant_lookup_value(changed, inv->watch, NULL);

        g_variant_get_child(params, 2, "^a&s", &names);
        for (guint i = 0; names[i]; i++)
                g_string_append_printf(inv->invalidated, "%s,", names[i]);
        inv->value_sent |= value != NULL;
}

static gboolean
was_invalidated(gpointer data)
{
        Invalidations *inv = data;
        g_autofree char *needle = g_strconcat(inv->watch, ",", NULL);

        return strstr(inv->invalidated->str, needle) != NULL;
}

/* The collection properties (Bridge.Ports and .OwnedMacs, Instance.Devices)
 * are announced by name, not sent: a change of @prop of @iface at @path,
 * made by @change, emits an invalidation without the value. */
static void
expect_invalidation(Fixture *f, const char *path, const char *iface, const char *prop,
                    void (*change)(Fixture *f))
{
        Invalidations inv = { g_string_new(NULL), FALSE, prop };
        guint sub = g_dbus_connection_signal_subscribe(
                f->env.conn, "org.netlifecd1", "org.freedesktop.DBus.Properties",
                "PropertiesChanged", path, iface, G_DBUS_SIGNAL_FLAGS_NONE, on_invalidated, &inv,
                NULL);

        change(f);
        g_assert_true(ns_wait(was_invalidated, &inv, 5000));
        g_assert_false(inv.value_sent);
        g_dbus_connection_signal_unsubscribe(f->env.conn, sub);
        g_string_free(inv.invalidated, TRUE);
}

static void
activate_device(Fixture *f)
{
        ns_device_call(&f->env, f->path, "Activate");
}

static void
destroy_and_free_device(Fixture *f)
{
        ns_device_call(&f->env, f->path, "Destroy");
        ns_device_call(&f->env, f->path, "Free");
}

static void
test_bridge_object(Fixture *f, gconstpointer data)
{
        const char *br = "/org/netlifecd1/bridge/br0";
        g_autoptr(GVariant) ports = NULL, owned = NULL;
        g_autofree char *ports_text = NULL;

        make_bridge("br0", TRUE, 200);
        f->path = ns_allocate(&f->env, "vm1", MAC, "{'bridge': <'br0'>, 'ifname': <'rt0'>}");
        f->fds = ns_create(&f->env, f->path);
        g_assert_true(ns_get_bool(&f->env, br, "org.netlifecd1.Bridge", "StpEnabled"));
        g_assert_cmpuint(ns_get_u64(&f->env, br, "org.netlifecd1.Bridge", "ForwardDelayUsec"), ==,
                         2000000);
        /* Ports follows the kernel's events on the daemon's next loop turn. */
        for (int i = 0; i < 200; i++) {
                g_clear_pointer(&ports, g_variant_unref);
                g_clear_pointer(&ports_text, g_free);
                ports = ns_get(&f->env, br, "org.netlifecd1.Bridge", "Ports");
                ports_text = g_variant_print(ports, FALSE);
                if (strstr(ports_text, "('rt0', 'listening')"))
                        break;
                g_usleep(10000);
        }
        g_assert_nonnull(strstr(ports_text, "('rt0', 'listening')"));
        g_assert_nonnull(strstr(ports_text, "('br0-up', "));
        poll_kernel_forwarding(10000);
        expect_invalidation(f, br, "org.netlifecd1.Bridge", "OwnedMacs", activate_device);
        owned = ns_get(&f->env, br, "org.netlifecd1.Bridge", "OwnedMacs");
        g_assert_cmpuint(g_variant_n_children(owned), ==, 1);
        {
                const char *mac = NULL;

                g_variant_get_child(owned, 0, "&s", &mac);
                g_assert_cmpstr(mac, ==, MAC);
        }
        ns_device_call(&f->env, f->path, "Deactivate");
        ns_device_call(&f->env, f->path, "Destroy");
        /* No managed port left: the object goes. */
        {
                g_autoptr(GError) error = NULL;
                g_autoptr(GVariant) gone = g_dbus_connection_call_sync(
                        f->env.conn, "org.netlifecd1", br, "org.freedesktop.DBus.Properties", "Get",
                        g_variant_new("(ss)", "org.netlifecd1.Bridge", "Name"), NULL,
                        G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);

                g_assert_null(gone);
                g_assert_nonnull(error);
        }
}

static void
test_instance_object(Fixture *f, gconstpointer data)
{
        g_autofree char *p2 = NULL;
        const char *inst = "/org/netlifecd1/instance/vm1";
        g_autoptr(GUnixFDList) fds2 = NULL;
        g_autoptr(GVariant) devices = NULL;

        make_bridge("br0", FALSE, 200);
        f->path = ns_allocate(&f->env, "vm1", MAC, "{'bridge': <'br0'>, 'ifname': <'rt0'>}");
        p2 = ns_allocate(&f->env, "vm1", "52:54:00:00:0a:02",
                         "{'bridge': <'br0'>, 'ifname': <'rt1'>}");
        devices = ns_get(&f->env, inst, INST, "Devices");
        g_assert_cmpuint(g_variant_n_children(devices), ==, 2);
        /* One device not created: Activate refuses, changing nothing. */
        f->fds = ns_create(&f->env, f->path);
        ns_call_expect_error(&f->env, inst, INST, "Activate", NULL,
                             "org.netlifecd1.Error.InvalidState");
        {
                g_autofree char *s = ns_get_string(&f->env, f->path, DEV, "State");
                g_assert_cmpstr(s, ==, "created");
        }
        fds2 = ns_create(&f->env, p2);
        g_assert_true(ns_get_bool(&f->env, inst, INST, "Ready"));
        g_assert_false(ns_get_bool(&f->env, inst, INST, "Active"));
        g_assert_nonnull(ns_call(&f->env, inst, INST, "Activate", NULL, "()", NULL));
        g_assert_true(ns_get_bool(&f->env, inst, INST, "Active"));
        {
                g_autofree char *fdb1 = ns_kernel_fdb_static(MAC);
                g_autofree char *fdb2 = ns_kernel_fdb_static("52:54:00:00:0a:02");
                g_assert_cmpstr(fdb1, ==, "rt0@br0");
                g_assert_cmpstr(fdb2, ==, "rt1@br0");
        }
        g_assert_nonnull(ns_call(&f->env, inst, INST, "Deactivate", NULL, "()", NULL));
        g_assert_false(ns_get_bool(&f->env, inst, INST, "Active"));
        ns_call_expect_error(&f->env, "/org/netlifecd1", "org.netlifecd1.Manager", "GetInstance",
                             g_variant_new("(s)", "nobody"), "org.netlifecd1.Error.NotFound");
        /* A device gone: Devices is invalidated, and read again it has one. */
        expect_invalidation(f, inst, INST, "Devices", destroy_and_free_device);
        g_clear_pointer(&devices, g_variant_unref);
        devices = ns_get(&f->env, inst, INST, "Devices");
        g_assert_cmpuint(g_variant_n_children(devices), ==, 1);
        {
                const char *path = NULL;

                g_variant_get_child(devices, 0, "&o", &path);
                g_assert_cmpstr(path, ==, p2);
        }
}

int
main(int argc, char **argv)
{
        static const char *const tiny_buffer[] = { "--monitor-rcvbuf=2048", NULL };

        g_test_init(&argc, &argv, NULL);
#define ADD(path, fn, args) g_test_add(path, Fixture, args, set_up, fn, tear_down)
        ADD("/readiness/stp-transition", test_stp_transition, NULL);
        ADD("/readiness/stp-off-ready-at-create", test_stp_off_ready_at_create, NULL);
        ADD("/readiness/not-ready-without-port", test_not_ready_without_port, NULL);
        ADD("/readiness/wait-ready", test_wait_ready, NULL);
        ADD("/readiness/restart-while-listening", test_restart_while_listening, NULL);
        ADD("/readiness/overrun", test_overrun, tiny_buffer);
        ADD("/readiness/bridge-object", test_bridge_object, NULL);
        ADD("/readiness/instance-object", test_instance_object, NULL);
        return g_test_run();
}
