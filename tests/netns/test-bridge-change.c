/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Bridges that change under the daemon, through the real daemon and kernel:
 * a bridge deleted under active devices and made again (the devices come
 * back on it without a restart), STP turned off and on, the forward delay
 * changed while a port counts, the bridge taken down, and a loop that STP
 * breaks by blocking a guest's port. PortState, PortReason, Ready and
 * ReadyInUsec follow the kernel; the changes come with PortStateChanged.
 */
#include <string.h>
#include <unistd.h>

#include "nlc-test-dbus.h"
#include "nlc-test-kernel.h"
#include "nlc-test-packet.h"

#define MAC1        "52:54:00:0b:00:01"
#define MAC2        "52:54:00:0b:00:02"
#define BRIDGE_PATH "/org/netlifecd1/bridge/" NLC_BRIDGE
#define INSTANCE    "org.netlifecd1.Instance"
#define SEC         1000000ull

static char *
allocate_on(NlcTestEnv *env, const char *instance, const char *mac, const char *bridge,
            const char *ifname, const char *extra)
{
        g_autofree char *opts = g_strdup_printf("{'bridge': <'%s'>, 'ifname': <'%s'>%s%s}", bridge,
                                                ifname, extra ? ", " : "", extra ? extra : "");

        return nlc_allocate(env, instance, mac, opts);
}

static char *
instance_path(const char *name)
{
        g_autofree char *escaped = g_dbus_escape_object_path(name);

        return g_strconcat("/org/netlifecd1/instance/", escaped, NULL);
}

typedef struct {
        NlcTestEnv *env;
        const char *path;
        const char *ifname;
} PortQuery;

/* The daemon's PortState is the kernel's (a port that is no port: "disabled"). */
static gboolean
daemon_agrees_with_kernel(gpointer data)
{
        PortQuery *q = data;
        g_autoptr(NlcLink) l = nlc_link_read(q->ifname);
        g_autofree char *shown = nlc_get_string(q->env, q->path, NLC_DEVICE, "PortState");
        const char *kernel = l->port_state ? l->port_state : "disabled";

        return g_str_equal(shown, kernel);
}

static void
assert_follows_kernel(NlcTestEnv *env, const char *path, const char *ifname)
{
        PortQuery q = { env, path, ifname };

        g_assert_true(nlc_wait_until(daemon_agrees_with_kernel, &q, 2000));
}

static gboolean
is_ready(gpointer data)
{
        PortQuery *q = data;

        return nlc_get_bool(q->env, q->path, NLC_DEVICE, "Ready");
}

/* Ready within @timeout_ms, and the kernel says forwarding then. */
static void
wait_ready(NlcTestEnv *env, const char *path, const char *ifname, guint timeout_ms)
{
        PortQuery q = { env, path, ifname };
        g_autoptr(NlcLink) l = NULL;

        g_assert_true(nlc_wait_until(is_ready, &q, timeout_ms));
        l = nlc_link_read(ifname);
        g_assert_cmpstr(l->port_state, ==, "forwarding");
}

static guint64
ready_in(NlcTestEnv *env, const char *path)
{
        g_autoptr(GVariant) v = nlc_get(env, path, NLC_DEVICE, "ReadyInUsec");

        return g_variant_get_uint64(v);
}

/* A unicast frame to @dst from the uplink's far end reaches the queue @fd:
 * the port forwards and the guest MAC's static entry points at it (unicast
 * flood is off on guest ports). */
static gboolean
reaches_guest(int sock, int fd, const char *dst, guint8 tag)
{
        static const guint8 peer[6] = { 0x02, 0x00, 0x00, 0x00, 0x0b, 0xfe };
        guint8 frame[NLC_FRAME_LEN];

        nlc_frame_build(frame, peer, NLC_ETH_TEST, tag);
        nlc_mac_parse(dst, frame);
        nlc_packet_send(sock, frame, sizeof frame);
        return nlc_queue_wait(fd, peer, NLC_ETH_TEST, 2000, NULL, 0) > 0;
}

static GVariant *
not_ready(NlcTestEnv *env, const char *instance)
{
        g_autofree char *path = instance_path(instance);

        return nlc_get(env, path, INSTANCE, "NotReady");
}

/* NotReady of @instance lists (@mac, @ifname, @reason). */
static void
assert_not_ready(NlcTestEnv *env, const char *instance, const char *mac, const char *ifname,
                 const char *reason)
{
        g_autoptr(GVariant) all = not_ready(env, instance);
        g_autoptr(GVariant) want = g_variant_ref_sink(g_variant_new("(sss)", mac, ifname, reason));
        g_autofree char *text = g_variant_print(all, FALSE);
        gboolean found = FALSE;

        for (gsize i = 0; i < g_variant_n_children(all); i++) {
                g_autoptr(GVariant) row = g_variant_get_child_value(all, i);

                found |= g_variant_equal(row, want);
        }
        g_test_message("NotReady of %s: %s", instance, text);
        g_assert_true(found);
}

/* The set-up's bridge deleted under an active and a created device: both
 * ports show disabled for "bridge-gone" and are not Ready; a bridge of the
 * same name made again gets them back — enslaved, hardened, the active
 * device's FDB entry (a frame to its MAC reaches its queue) and none for the
 * created one — with the same daemon. */
static void
test_deleted_and_made_again(NlcTestEnv *env, gconstpointer data)
{
        g_autofree char *active = allocate_on(env, "vm-1", MAC1, NLC_BRIDGE, "bc0", NULL);
        g_autofree char *created = allocate_on(env, "vm-2", MAC2, NLC_BRIDGE, "bc1", NULL);
        g_autoptr(GUnixFDList) fds1 = nlc_device_create(env, active);
        g_autoptr(GUnixFDList) fds2 = nlc_device_create(env, created);
        int fd1 = g_unix_fd_list_peek_fds(fds1, NULL)[0];
        int sock = nlc_packet_open(NLC_PEER_VETH);
        guint starts = env->daemon_starts;

        nlc_device_call(env, active, "Activate");
        wait_ready(env, active, "bc0", 2000);
        wait_ready(env, created, "bc1", 2000);
        g_assert_true(reaches_guest(sock, fd1, MAC1, 1));

        nlc_test_step("the bridge deleted");
        nlc_run("ip link del " NLC_BRIDGE);
        nlc_expect_port_state(env, active, "disabled", "bridge-gone", 3000);
        nlc_expect_port_state(env, created, "disabled", "bridge-gone", 3000);
        g_assert_false(nlc_get_bool(env, active, NLC_DEVICE, "Ready"));
        g_assert_false(nlc_get_bool(env, BRIDGE_PATH, "org.netlifecd1.Bridge", "Present"));
        assert_not_ready(env, "vm-1", MAC1, "bc0", "bridge-gone");
        /* The devices stay what they were; their taps too. */
        nlc_assert_state(env, active, "active");
        nlc_assert_state(env, created, "created");
        {
                g_autoptr(NlcLink) tap = nlc_link_read("bc0");

                g_assert_true(tap->exists);
                g_assert_null(tap->master);
        }

        nlc_test_step("a bridge of the same name made again");
        nlc_run("ip link add " NLC_BRIDGE " type bridge stp_state 0");
        nlc_run("ip link set " NLC_PORT_VETH " master " NLC_BRIDGE);
        nlc_run("ip link set " NLC_BRIDGE " up");
        nlc_expect_port_state(env, active, "forwarding", "", 3000);
        nlc_expect_port_state(env, created, "forwarding", "", 3000);
        nlc_assert_tap_port("bc0", NLC_BRIDGE, NLC_BRIDGE_MTU, 1);
        nlc_assert_tap_port("bc1", NLC_BRIDGE, NLC_BRIDGE_MTU, 1);
        nlc_assert_fdb(NLC_BRIDGE, MAC1, "bc0");
        nlc_assert_fdb(NLC_BRIDGE, MAC2, "");
        g_assert_true(nlc_get_bool(env, BRIDGE_PATH, "org.netlifecd1.Bridge", "Present"));
        {
                g_autofree char *vm1 = instance_path("vm-1");

                g_assert_true(nlc_get_bool(env, vm1, INSTANCE, "Ready"));
        }
        g_assert_true(reaches_guest(sock, fd1, MAC1, 2));
        g_assert_cmpuint(env->daemon_starts, ==, starts);
        close(sock);
}

/* STP turned off while a port counts, and on again: PortState, Ready and
 * ReadyInUsec follow the kernel (6.x keeps counting a listening port's
 * timer with STP off; a port made with STP off forwards at once; one made
 * after STP is back on counts again). */
static void
test_stp_toggled(NlcTestEnv *env, gconstpointer data)
{
        g_autofree char *first = NULL, *second = NULL, *third = NULL;
        g_autoptr(GUnixFDList) fds1 = NULL, fds2 = NULL, fds3 = NULL;
        guint64 left;

        nlc_run("ip link add bs type bridge stp_state 1 forward_delay 400");
        nlc_run("ip link set bs up");
        first = allocate_on(env, "vm-1", MAC1, "bs", "bs0", NULL);
        fds1 = nlc_device_create(env, first);
        assert_follows_kernel(env, first, "bs0");
        left = ready_in(env, first);
        g_assert_cmpuint(left, >, 6 * SEC);
        g_assert_cmpuint(left, <=, 8 * SEC + 10000);
        g_assert_false(nlc_get_bool(env, first, NLC_DEVICE, "Ready"));

        nlc_test_step("STP off while the port listens");
        nlc_run("ip link set bs type bridge stp_state 0");
        assert_follows_kernel(env, first, "bs0");
        second = allocate_on(env, "vm-2", MAC2, "bs", "bs1", NULL);
        fds2 = nlc_device_create(env, second);
        wait_ready(env, second, "bs1", 1000);
        g_assert_false(nlc_get_bool(env, "/org/netlifecd1/bridge/bs", "org.netlifecd1.Bridge",
                                    "StpEnabled"));
        wait_ready(env, first, "bs0", 9000);

        nlc_test_step("STP on again: a new port counts, the others keep forwarding");
        nlc_run("ip link set bs type bridge stp_state 1");
        third = allocate_on(env, "vm-3", "52:54:00:0b:00:03", "bs", "bs2", NULL);
        fds3 = nlc_device_create(env, third);
        assert_follows_kernel(env, third, "bs2");
        g_assert_false(nlc_get_bool(env, third, NLC_DEVICE, "Ready"));
        g_assert_cmpuint(ready_in(env, third), >, 6 * SEC);
        assert_follows_kernel(env, first, "bs0");
        assert_follows_kernel(env, second, "bs1");
        g_assert_true(nlc_get_bool(env, first, NLC_DEVICE, "Ready"));
}

static gboolean
estimate_below_8s(gpointer data)
{
        PortQuery *q = data;

        return ready_in(q->env, q->path) < 8 * SEC + 10000;
}

/* The forward delay shortened while a port listens: ReadyInUsec follows at
 * once (the listening timer runs out as armed, learning takes the new
 * delay), and the port forwards that early. The bridge taken down: the
 * port is disabled for "bridge-down"; up again, it counts again. */
static void
test_forward_delay_changed(NlcTestEnv *env, gconstpointer data)
{
        g_autofree char *path = NULL;
        g_autoptr(GUnixFDList) fds = NULL;
        PortQuery q = { env, NULL, "bf0" };
        g_autoptr(GVariant) delay = NULL;
        gint64 changed;

        nlc_run("ip link add bf type bridge stp_state 1 forward_delay 600");
        nlc_run("ip link set bf up");
        path = allocate_on(env, "vm-1", MAC1, "bf", "bf0", NULL);
        q.path = path;
        fds = nlc_device_create(env, path);
        assert_follows_kernel(env, path, "bf0");
        g_assert_cmpuint(ready_in(env, path), >, 10 * SEC);

        nlc_test_step("forward delay 6 s -> 2 s while listening");
        nlc_run("ip link set bf type bridge forward_delay 200");
        changed = g_get_monotonic_time();
        g_assert_true(nlc_wait_until(estimate_below_8s, &q, 2000));
        g_assert_cmpuint(ready_in(env, path), >, 1 * SEC);
        delay = nlc_get(env, "/org/netlifecd1/bridge/bf", "org.netlifecd1.Bridge",
                        "ForwardDelayUsec");
        g_assert_cmpuint(g_variant_get_uint64(delay), ==, 2 * SEC);
        wait_ready(env, path, "bf0", 9000);
        /* Not after the 12 s the old delay would have taken. */
        g_assert_cmpint(g_get_monotonic_time() - changed, <, 8500 * G_TIME_SPAN_MILLISECOND);

        nlc_test_step("the bridge down, then up");
        nlc_run("ip link set bf down");
        nlc_expect_port_state(env, path, "disabled", "bridge-down", 3000);
        g_assert_false(nlc_get_bool(env, path, NLC_DEVICE, "Ready"));
        nlc_run("ip link set bf up");
        nlc_expect_port_state(env, path, "listening", "stp-forward-delay", 3000);
        assert_follows_kernel(env, path, "bf0");
}

typedef struct {
        NlcTestEnv *env;
        const char *paths[2];
        int blocked;
} LoopQuery;

static gboolean
one_port_blocks(gpointer data)
{
        LoopQuery *q = data;

        for (int i = 0; i < 2; i++) {
                g_autofree char *reason =
                        nlc_get_string(q->env, q->paths[i], NLC_DEVICE, "PortReason");

                if (g_str_equal(reason, "stp-blocking")) {
                        q->blocked = i;
                        return TRUE;
                }
        }
        return FALSE;
}

/* The loop through the guest: STP blocks one of its ports, which is not
 * Ready; the instance is not Ready, says why (NotReady), and WaitReady
 * times out. */
static void
test_loop_blocks(NlcTestEnv *env, gconstpointer data)
{
        static const char *const ifnames[] = { "bl0", "bl1" };
        g_autofree char *p0 = NULL, *p1 = NULL, *inst = instance_path("vm-loop");
        g_autoptr(GUnixFDList) fds0 = NULL, fds1 = NULL;
        g_autoptr(GVariant) waited = NULL;
        g_autoptr(NlcLink) l = NULL;
        g_autofree char *shown = NULL;
        NlcQueueRelay *relay;
        LoopQuery q = { env, { NULL, NULL }, -1 };
        gboolean ready;

        nlc_run("ip link add bl type bridge stp_state 1 forward_delay 200");
        nlc_run("ip link set bl up");
        /* bpdu-guard off: with it the kernel would disable the port the
         * first BPDU comes back on (guest-port tests that). */
        p0 = allocate_on(env, "vm-loop", MAC1, "bl", ifnames[0], "'bpdu-guard': <false>");
        p1 = allocate_on(env, "vm-loop", MAC2, "bl", ifnames[1], "'bpdu-guard': <false>");
        q.paths[0] = p0;
        q.paths[1] = p1;
        fds0 = nlc_device_create(env, p0);
        fds1 = nlc_device_create(env, p1);
        /* A guest that bridges its two NICs. */
        relay = nlc_queue_relay_start(g_unix_fd_list_peek_fds(fds0, NULL)[0],
                                      g_unix_fd_list_peek_fds(fds1, NULL)[0]);

        g_assert_true(nlc_wait_until(one_port_blocks, &q, 12000));
        l = nlc_link_read(ifnames[q.blocked]);
        g_test_message("%s blocks", ifnames[q.blocked]);
        g_assert_cmpstr(l->port_state, ==, "blocking");
        shown = nlc_get_string(env, q.paths[q.blocked], NLC_DEVICE, "PortState");
        g_assert_cmpstr(shown, ==, "blocking");
        g_assert_false(nlc_get_bool(env, q.paths[q.blocked], NLC_DEVICE, "Ready"));
        g_assert_cmpuint(ready_in(env, q.paths[q.blocked]), ==, G_MAXUINT64);
        assert_not_ready(env, "vm-loop", q.blocked ? MAC2 : MAC1, ifnames[q.blocked],
                         "stp-blocking");
        waited = nlc_call(env, inst, INSTANCE, "WaitReady", g_variant_new("(u)", 2000), "(b)");
        g_variant_get(waited, "(b)", &ready);
        g_assert_false(ready);

        nlc_queue_relay_stop(relay);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        nlc_test_add("/bridge-change/deleted-and-made-again", test_deleted_and_made_again, NULL);
        nlc_test_add("/bridge-change/stp-toggled", test_stp_toggled, NULL);
        nlc_test_add("/bridge-change/forward-delay-changed", test_forward_delay_changed, NULL);
        nlc_test_add("/bridge-change/loop-blocks", test_loop_blocks, NULL);
        return g_test_run();
}
