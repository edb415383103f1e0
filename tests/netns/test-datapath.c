/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The fds Create hands out are the tap's live queues, and the guest MAC is
 * announced (RARP) at Activate and on Announce(). Frames are watched on the
 * veth peer whose other end is a port of the bridge.
 */
#include <string.h>
#include <unistd.h>

#include "nlc-test-dbus.h"
#include "nlc-test-kernel.h"
#include "nlc-test-packet.h"

#define MAC  "52:54:00:12:34:01"
#define TAP  "lt0"
#define WAIT 3000 /* ms for a frame that must come */

static char *
allocate_queues(NlcTestEnv *env, guint queues)
{
        g_autofree char *opts = g_strdup_printf(
                "{'bridge': <'br0'>, 'ifname': <'lt0'>, 'queues': <uint32 %u>}", queues);

        return nlc_allocate(env, "vm-1", MAC, opts);
}

/* A frame the guest writes into queue @q (behind a zero virtio-net header)
 * comes out of the bridge unchanged. The port is locked: it must be sent as
 * the guest, and the device active. */
static void
assert_queue_sends(int sock, int fd, guint q)
{
        guint8 src[6], frame[NLC_FRAME_LEN], seen[NLC_FRAME_LEN];

        nlc_test_step("frame into queue %u", q);
        nlc_mac_parse(MAC, src);
        nlc_frame_build(frame, src, NLC_ETH_TEST, (guint8) (0x80 | q));
        nlc_queue_write(fd, frame, sizeof frame);
        g_assert_cmpint(nlc_packet_wait(sock, src, NLC_ETH_TEST, WAIT, seen, sizeof seen), ==,
                        NLC_FRAME_LEN);
        g_assert_cmpmem(seen, sizeof seen, frame, sizeof frame);
}

static void
test_fds_live(NlcTestEnv *env, gconstpointer data)
{
        int sock = nlc_packet_open(NLC_PEER_VETH);
        g_autofree char *path = allocate_queues(env, 1);
        g_autoptr(GUnixFDList) fds = nlc_device_create(env, path);
        const guint8 peer_src[6] = { 0x02, 0x00, 0x00, 0x00, 0x0e, 0x01 };
        guint8 frame[NLC_FRAME_LEN], seen[NLC_FRAME_LEN];
        int fd;

        g_assert_cmpint(g_unix_fd_list_get_length(fds), ==, 1);
        fd = g_unix_fd_list_peek_fds(fds, NULL)[0];
        nlc_assert_queue(fd, TAP, FALSE);
        nlc_assert_tap_port(TAP, NLC_BRIDGE, NLC_BRIDGE_MTU, 1);
        nlc_device_call(env, path, "Activate");
        assert_queue_sends(sock, fd, 0);

        /* The other way: a broadcast from the bridge side reaches the guest
         * through the same fd, header first. (A daemon reading its copy of
         * the queue would take it away.) */
        nlc_test_step("frame from the bridge side into the queue");
        nlc_frame_build(frame, peer_src, NLC_ETH_TEST, 0x42);
        nlc_packet_send(sock, frame, sizeof frame);
        g_assert_cmpint(nlc_queue_wait(fd, peer_src, NLC_ETH_TEST, WAIT, seen, sizeof seen), ==,
                        NLC_FRAME_LEN);
        g_assert_cmpmem(seen, sizeof seen, frame, sizeof frame);
        close(sock);
}

static void
assert_rarp(const guint8 *f, gssize len, const guint8 guest[6])
{
        static const guint8 broadcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
        static const guint8 zero_ip[4] = { 0 };
        /* htype Ethernet, ptype IPv4, hlen 6, plen 4, opcode 3 (reverse request) */
        static const guint8 arp_head[8] = { 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x03 };

        g_assert_cmpint(len, >=, 42);
        g_assert_cmpmem(f, 6, broadcast, 6);
        g_assert_cmpmem(f + 6, 6, guest, 6);
        g_assert_cmpuint(f[12] << 8 | f[13], ==, NLC_ETH_RARP);
        g_assert_cmpmem(f + 14, 8, arp_head, 8);
        /* As QEMU's announce-self: sender and target are the guest, no IPs. */
        g_assert_cmpmem(f + 22, 6, guest, 6);
        g_assert_cmpmem(f + 28, 4, zero_ip, 4);
        g_assert_cmpmem(f + 32, 6, guest, 6);
        g_assert_cmpmem(f + 38, 4, zero_ip, 4);
}

/* Waits for the guest's RARP on the bridge side; it must have entered the
 * bridge from the tap (written into a queue), so the bridge does not send it
 * back out of the tap port: nothing reaches the guest's queue @fd. */
static void
expect_rarp(int sock, int fd, const guint8 guest[6], const char *after)
{
        guint8 frame[128];
        gssize n;

        n = nlc_packet_wait(sock, guest, NLC_ETH_RARP, WAIT, frame, sizeof frame);
        if (n < 0)
                g_error("no RARP from %s on the bridge after %s", MAC, after);
        assert_rarp(frame, n, guest);
        g_assert_cmpint(nlc_queue_wait(fd, guest, NLC_ETH_RARP, 500, NULL, 0), ==, -1);
}

static void
test_announce(NlcTestEnv *env, gconstpointer data)
{
        int sock = nlc_packet_open(NLC_PEER_VETH);
        g_autofree char *path = allocate_queues(env, 1);
        g_autoptr(GUnixFDList) fds = NULL;
        guint8 guest[6];
        int fd;

        nlc_mac_parse(MAC, guest);
        fds = nlc_device_create(env, path);
        fd = g_unix_fd_list_peek_fds(fds, NULL)[0];
        nlc_expect_state_changed(env, path, "allocated", "created", "create");
        /* Before Activate the device does not speak as the guest. */
        g_assert_cmpuint(nlc_packet_count(sock, guest, NLC_ETH_RARP, 500), ==, 0);

        nlc_device_step(env, path, "Activate", "created", "active");
        expect_rarp(sock, fd, guest, "Activate");
        /* Activation may announce more than once; let those pass so that
         * what follows Announce() is Announce()'s own. */
        nlc_packet_count(sock, guest, NLC_ETH_RARP, 1500);

        nlc_test_step("Announce");
        nlc_device_call(env, path, "Announce");
        expect_rarp(sock, fd, guest, "Announce()");
        nlc_assert_state(env, path, "active");
        nlc_assert_device_kernel(TAP, MAC, "active", 1);
        close(sock);
}

static void
check_multiqueue(NlcTestEnv *env, guint queues)
{
        int sock = nlc_packet_open(NLC_PEER_VETH);
        g_autofree char *path = allocate_queues(env, queues);
        g_autoptr(GUnixFDList) fds = nlc_device_create(env, path);
        const int *fd = g_unix_fd_list_peek_fds(fds, NULL);

        g_assert_cmpint(g_unix_fd_list_get_length(fds), ==, (int) queues);
        nlc_assert_tap_port(TAP, NLC_BRIDGE, NLC_BRIDGE_MTU, queues);
        nlc_device_call(env, path, "Activate");
        for (guint q = 0; q < queues; q++) {
                nlc_assert_queue(fd[q], TAP, TRUE);
                assert_queue_sends(sock, fd[q], q);
        }
        close(sock);
}

static void
test_multiqueue(NlcTestEnv *env, gconstpointer data)
{
        check_multiqueue(env, 2);
}

static void
test_multiqueue_max(NlcTestEnv *env, gconstpointer data)
{
        check_multiqueue(env, 16);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        nlc_test_add("/datapath/fds-live", test_fds_live, NULL);
        nlc_test_add("/datapath/announce", test_announce, NULL);
        nlc_test_add("/datapath/multiqueue", test_multiqueue, NULL);
        nlc_test_add("/datapath/multiqueue-16", test_multiqueue_max, NULL);
        return g_test_run();
}
