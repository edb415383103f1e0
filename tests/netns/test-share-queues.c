/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Device.ShareQueues against the real kernel: a second set of queues on the
 * same tap for a second QEMU (localhost live upgrade). The test holds the
 * queue fds as the two QEMUs would and checks, in the kernel, that the new
 * queues get nothing until the sharer activates, that the handover keeps the
 * one port (same ifindex, forwarding throughout, no FDB deletion) and that
 * afterwards the old queue gets nothing (the old QEMU cannot steal frames);
 * the way back, destroy of either side, refusals, and a kill -9 restart.
 */
#include <errno.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nlc-test-packet.h"
#include "ns-env.h"

#define NLC_MANAGER "org.netlifecd1.Manager"
#define NLC_DEVICE  "org.netlifecd1.Device"
#define GUEST_MAC   "52:54:00:5a:00:01"
#define SHAREABLE   "{'bridge': <'br0'>, 'ifname': <'vm1t'>, 'shareable': <true>}"

typedef struct {
        NsEnv env;
        char *old_path, *new_path;
        int old_fd, new_fd; /* what the old and the new QEMU would hold */
        int wire;           /* AF_PACKET on the upstream side of the bridge */
} Fixture;

/* The guest's port and the upstream one forward (2 x forward delay). */
static gboolean
ports_forwarding(gpointer data)
{
        Fixture *f = data;
        g_autofree char *up = ns_kernel_port_state("up0");

        return g_strcmp0(up, "forwarding") == 0 &&
               ns_get_bool(&f->env, f->old_path, NLC_DEVICE, "Ready");
}

/* The bridge (STP, forward delay 2 s), an "upstream" veth port to send from,
 * and the guest's device created, forwarding and active. */
static void
set_up(Fixture *f)
{
        g_autoptr(GUnixFDList) fds = NULL;

        ns_env_set_up(&f->env, NULL);
        ns_sh("ip link add br0 type bridge stp_state 1 forward_delay 200 && ip link set br0 up");
        ns_sh("ip link add up0 type veth peer name up0p && ip link set up0 master br0 && "
              "ip link set up0 up && ip link set up0p up");
        f->old_path = ns_allocate(&f->env, "vm1", GUEST_MAC, SHAREABLE);
        fds = ns_create(&f->env, f->old_path);
        f->old_fd = g_unix_fd_list_get(fds, 0, NULL);
        g_assert_cmpint(f->old_fd, >=, 0);
        f->new_fd = -1;
        f->wire = nlc_packet_open("up0p");
        ns_device_call(&f->env, f->old_path, "Activate");
        g_assert_true(ns_wait(ports_forwarding, f, 10000));
}

static void
tear_down(Fixture *f)
{
        if (f->old_fd >= 0)
                close(f->old_fd);
        if (f->new_fd >= 0)
                close(f->new_fd);
        close(f->wire);
        g_free(f->old_path);
        g_free(f->new_path);
        ns_env_tear_down(&f->env);
}

static void
assert_prop(Fixture *f, const char *path, const char *prop, const char *expected)
{
        g_autofree char *value = ns_get_string(&f->env, path, NLC_DEVICE, prop);

        g_assert_cmpstr(value, ==, expected);
}

static void
assert_fdb_on_tap(void)
{
        g_autofree char *port = ns_kernel_fdb_static(GUEST_MAC);

        g_assert_cmpstr(port, ==, "vm1t@br0");
}

/* Device.ShareQueues for instance vm1-new: the new device and its queue. */
static void
share(Fixture *f)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GUnixFDList) fds = NULL;
        g_autoptr(GVariant) r = g_dbus_connection_call_with_unix_fd_list_sync(
                f->env.conn, "org.netlifecd1", f->old_path, NLC_DEVICE, "ShareQueues",
                g_variant_new("(s)", "vm1-new"), G_VARIANT_TYPE("(oah)"), G_DBUS_CALL_FLAGS_NONE,
                20000, NULL, &fds, NULL, &error);

        g_assert_no_error(error);
        g_variant_get(r, "(o@ah)", &f->new_path, NULL);
        g_assert_nonnull(fds);
        g_assert_cmpint(g_unix_fd_list_get_length(fds), ==, 1);
        f->new_fd = g_unix_fd_list_get(fds, 0, NULL);
        g_assert_cmpint(f->new_fd, >=, 0);
}

/* TRUE when the kernel steers frames to the queue (TUNGETIFF has no
 * IFF_DETACH_QUEUE). */
static gboolean
queue_attached(int fd)
{
        struct ifreq ifr = { 0 };

        g_assert_cmpint(ioctl(fd, TUNGETIFF, &ifr), ==, 0);
        g_assert_cmpstr(ifr.ifr_name, ==, "vm1t");
        return !(ifr.ifr_flags & IFF_DETACH_QUEUE);
}

/* A unicast frame to the guest MAC from upstream: the bridge forwards it to
 * the static entry's port only. */
static void
send_to_guest(Fixture *f, guint8 tag)
{
        static const guint8 src[6] = { 0x02, 0, 0, 0, 0x5a, 0x99 };
        guint8 frame[NLC_FRAME_LEN];

        nlc_frame_build(frame, src, NLC_ETH_TEST, tag);
        nlc_mac_parse(GUEST_MAC, frame);
        nlc_packet_send(f->wire, frame, sizeof frame);
}

/* Sends a frame and checks that exactly @to_fd gets it, not @other_fd. */
static void
assert_frame_reaches(Fixture *f, int to_fd, int other_fd, guint8 tag)
{
        static const guint8 src[6] = { 0x02, 0, 0, 0, 0x5a, 0x99 };
        guint8 got[NLC_FRAME_LEN];

        send_to_guest(f, tag);
        g_assert_cmpint(nlc_queue_wait(to_fd, src, NLC_ETH_TEST, 2000, got, sizeof got), >, 0);
        g_assert_cmpuint(got[14], ==, tag);
        g_assert_cmpint(nlc_queue_wait(other_fd, src, NLC_ETH_TEST, 200, NULL, 0), <, 0);
}

static int
tap_ifindex(void)
{
        g_autofree char *out = ns_sh_out("ip -o link show dev vm1t | cut -d: -f1");

        return atoi(out);
}

static guint
tap_count(void)
{
        g_autofree char *out = ns_sh_out("ip -o link show type tun | wc -l");

        return (guint) g_ascii_strtoull(out, NULL, 10);
}

static void
test_handover(void)
{
        Fixture f = { 0 };
        g_autofree char *fdb_log = NULL, *fdb_events = NULL, *state = NULL;
        int ifindex;

        set_up(&f);
        ifindex = tap_ifindex();
        share(&f);
        /* One tap, one port; the new device is ready at once (same port). */
        g_assert_cmpuint(tap_count(), ==, 1);
        g_assert_true(ns_get_bool(&f.env, f.new_path, NLC_DEVICE, "Ready"));
        assert_prop(&f, f.new_path, "IfName", "vm1t");
        assert_prop(&f, f.new_path, "Instance", "vm1-new");
        assert_prop(&f, f.new_path, "State", "created");
        assert_prop(&f, f.new_path, "SharedWith", f.old_path);
        assert_prop(&f, f.old_path, "SharedWith", f.new_path);
        /* The new queue is detached: the running guest gets every frame. */
        g_assert_true(queue_attached(f.old_fd));
        g_assert_false(queue_attached(f.new_fd));
        assert_frame_reaches(&f, f.old_fd, f.new_fd, 1);

        /* The handover, watched by the kernel's own FDB event stream. */
        fdb_log = g_build_filename(f.env.dir, "fdb-monitor", NULL);
        ns_sh("bridge monitor fdb > %s 2>&1 & echo $! > %s.pid; sleep 0.3", fdb_log, fdb_log);
        ns_device_call(&f.env, f.new_path, "Activate");
        assert_prop(&f, f.new_path, "State", "active");
        assert_prop(&f, f.old_path, "State", "created");
        g_assert_true(queue_attached(f.new_fd));
        g_assert_false(queue_attached(f.old_fd));
        /* The old QEMU's queue gets nothing any more. */
        assert_frame_reaches(&f, f.new_fd, f.old_fd, 2);
        ns_sh("sleep 0.2; kill $(cat %s.pid)", fdb_log);
        fdb_events = ns_sh_out("grep -i '%s' %s || true", GUEST_MAC, fdb_log);
        g_test_message("FDB events for the guest MAC during the handover: '%s'", fdb_events);
        g_assert_null(strstr(fdb_events, "Deleted"));
        /* Same tap, same port, still forwarding, entry in place. */
        g_assert_cmpint(tap_ifindex(), ==, ifindex);
        state = ns_kernel_port_state("vm1t");
        g_assert_cmpstr(state, ==, "forwarding");
        assert_fdb_on_tap();
        g_assert_true(ns_get_bool(&f.env, f.new_path, NLC_DEVICE, "OwnsMac"));
        g_assert_false(ns_get_bool(&f.env, f.old_path, NLC_DEVICE, "OwnsMac"));

        /* The way back (a failed upgrade resumes the old QEMU). */
        ns_device_call(&f.env, f.old_path, "Activate");
        g_assert_true(queue_attached(f.old_fd));
        g_assert_false(queue_attached(f.new_fd));
        assert_frame_reaches(&f, f.old_fd, f.new_fd, 3);
        ns_device_call(&f.env, f.new_path, "Activate");
        assert_frame_reaches(&f, f.new_fd, f.old_fd, 4);

        /* The old device goes; the tap is the new one's alone. */
        ns_device_call(&f.env, f.old_path, "Destroy");
        ns_device_call(&f.env, f.old_path, "Free");
        g_assert_cmpint(tap_ifindex(), ==, ifindex);
        assert_prop(&f, f.new_path, "SharedWith", "/");
        assert_prop(&f, f.new_path, "State", "active");
        close(f.old_fd);
        f.old_fd = -1;
        g_clear_pointer(&f.old_path, g_free);
        {
                static const guint8 src[6] = { 0x02, 0, 0, 0, 0x5a, 0x99 };

                send_to_guest(&f, 5);
                g_assert_cmpint(nlc_queue_wait(f.new_fd, src, NLC_ETH_TEST, 2000, NULL, 0), >, 0);
        }
        assert_fdb_on_tap();
        /* Now destroying the last device deletes the tap. */
        ns_device_call(&f.env, f.new_path, "Deactivate");
        ns_device_call(&f.env, f.new_path, "Destroy");
        g_assert_cmpuint(tap_count(), ==, 0);
        tear_down(&f);
}

/* Destroying the sharer before any handover (a cancelled upgrade) leaves the
 * tap and the running guest's traffic alone. */
static void
test_cancelled(void)
{
        Fixture f = { 0 };

        set_up(&f);
        share(&f);
        ns_device_call(&f.env, f.new_path, "Destroy");
        ns_device_call(&f.env, f.new_path, "Free");
        g_assert_cmpuint(tap_count(), ==, 1);
        assert_prop(&f, f.old_path, "SharedWith", "/");
        assert_prop(&f, f.old_path, "State", "active");
        g_assert_true(queue_attached(f.old_fd));
        assert_frame_reaches(&f, f.old_fd, f.new_fd, 7);
        tear_down(&f);
}

static void
share_expect_error(Fixture *f, const char *path, const char *instance, const char *error_name)
{
        ns_call_expect_error(&f->env, path, NLC_DEVICE, "ShareQueues",
                             g_variant_new("(s)", instance), error_name);
}

static void
test_refused(void)
{
        Fixture f = { 0 };
        g_autofree char *single = NULL, *allocated = NULL;
        g_autoptr(GUnixFDList) fds = NULL;

        set_up(&f);
        share_expect_error(&f, f.old_path, "vm1", "org.netlifecd1.Error.InvalidArgs");
        share_expect_error(&f, f.old_path, "no spaces", "org.netlifecd1.Error.InvalidArgs");
        single = ns_allocate(&f.env, "vm2", "52:54:00:5a:00:02",
                             "{'bridge': <'br0'>, 'ifname': <'vm2t'>}");
        fds = ns_create(&f.env, single);
        share_expect_error(&f, single, "vm2-new", "org.netlifecd1.Error.NotSupported");
        allocated = ns_allocate(&f.env, "vm3", "52:54:00:5a:00:03",
                                "{'bridge': <'br0'>, 'ifname': <'vm3t'>, 'shareable': <true>}");
        share_expect_error(&f, allocated, "vm3-new", "org.netlifecd1.Error.InvalidState");
        share(&f);
        share_expect_error(&f, f.old_path, "vm1-other", "org.netlifecd1.Error.Busy");
        /* Asked again for the same instance: the same device and queue. */
        {
                g_autofree char *first = g_strdup(f.new_path);
                int first_fd = f.new_fd;
                struct stat a, b;

                g_clear_pointer(&f.new_path, g_free);
                share(&f);
                g_assert_cmpstr(f.new_path, ==, first);
                g_assert_cmpint(fstat(first_fd, &a), ==, 0);
                g_assert_cmpint(fstat(f.new_fd, &b), ==, 0);
                g_assert_cmpuint(a.st_ino, ==, b.st_ino);
                g_assert_false(queue_attached(f.new_fd));
                close(first_fd);
        }
        /* The refused calls left no device behind. */
        ns_call_expect_error(&f.env, "/org/netlifecd1", NLC_MANAGER, "GetDevice",
                             g_variant_new("(ss)", "vm2-new", "52:54:00:5a:00:02"),
                             "org.netlifecd1.Error.NotFound");
        ns_call_expect_error(&f.env, "/org/netlifecd1", NLC_MANAGER, "GetDevice",
                             g_variant_new("(ss)", "vm1-other", GUEST_MAC),
                             "org.netlifecd1.Error.NotFound");
        tear_down(&f);
}

/* kill -9 after ShareQueues: both records come back linked, the tap stays;
 * the daemon no longer holds the queues, so a handover is refused (not done
 * half) and destroying the sharer still leaves the tap. */
static void
test_restart(void)
{
        Fixture f = { 0 };
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL;

        set_up(&f);
        share(&f);
        ns_env_kill9_daemon(&f.env);
        ns_env_start_daemon(&f.env);
        assert_prop(&f, f.new_path, "SharedWith", f.old_path);
        assert_prop(&f, f.old_path, "SharedWith", f.new_path);
        assert_prop(&f, f.old_path, "State", "active");
        assert_prop(&f, f.new_path, "State", "created");
        assert_fdb_on_tap();
        r = ns_call(&f.env, f.new_path, NLC_DEVICE, "Activate", NULL, NULL, &error);
        g_assert_null(r);
        g_assert_true(g_dbus_error_is_remote_error(error));
        g_test_message("handover after a restart: %s", error->message);
        g_assert_true(queue_attached(f.old_fd));
        assert_prop(&f, f.old_path, "State", "active");
        assert_frame_reaches(&f, f.old_fd, f.new_fd, 9);
        ns_device_call(&f.env, f.new_path, "Destroy");
        ns_device_call(&f.env, f.new_path, "Free");
        g_assert_cmpuint(tap_count(), ==, 1);
        assert_prop(&f, f.old_path, "SharedWith", "/");
        tear_down(&f);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/share-queues/handover", test_handover);
        g_test_add_func("/share-queues/cancelled", test_cancelled);
        g_test_add_func("/share-queues/refused", test_refused);
        g_test_add_func("/share-queues/restart", test_restart);
        return g_test_run();
}
