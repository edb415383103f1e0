/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The RARP announce, byte for byte, and its virtio-net framing. */
#include <glib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "nlc-announce.h"

static const guint8 mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static void
test_frame(void)
{
        static const guint8 expected[42] = {
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff,                   /* broadcast */
                0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x80, 0x35,       /* src, ETH_P_RARP */
                0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x03,       /* Ethernet/IPv4, op 3 */
                0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0,    0,    0, 0, /* sha, spa */
                0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0,    0,    0, 0, /* tha, tpa */
        };
        guint8 frame[NLC_RARP_FRAME_LEN];

        memset(frame, 0xaa, sizeof frame);
        nlc_rarp_build(frame, mac);
        g_assert_cmpmem(frame, sizeof expected, expected, sizeof expected);
        for (guint i = sizeof expected; i < sizeof frame; i++)
                g_assert_cmpuint(frame[i], ==, 0); /* padding */
}

/* On a non-tap fd TUNGETVNETHDRSZ fails and the default 10-byte header is
 * used: the bytes on the wire are 10 zeros then the frame. */
static void
test_vnet_framing(void)
{
        int p[2];
        guint8 buf[128], frame[NLC_RARP_FRAME_LEN];
        ssize_t n;

        g_assert_cmpint(pipe(p), ==, 0);
        g_assert_cmpint(nlc_announce_rarp_vnet(p[1], mac), ==, 0);
        n = read(p[0], buf, sizeof buf);
        g_assert_cmpint(n, ==, 10 + NLC_RARP_FRAME_LEN);
        for (int i = 0; i < 10; i++)
                g_assert_cmpuint(buf[i], ==, 0);
        nlc_rarp_build(frame, mac);
        g_assert_cmpmem(buf + 10, NLC_RARP_FRAME_LEN, frame, sizeof frame);
        close(p[0]);
        g_assert_cmpint(nlc_announce_rarp_vnet(p[1], mac), <, 0); /* EPIPE, reported */
        close(p[1]);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        signal(SIGPIPE, SIG_IGN); /* as the daemon does: a dead reader is an error code */
        g_test_add_func("/announce/frame", test_frame);
        g_test_add_func("/announce/vnet-framing", test_vnet_framing);
        return g_test_run();
}
