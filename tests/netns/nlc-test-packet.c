/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "nlc-test-packet.h"

/* However busy a link is, a wait reads at most this many frames. */
#define MAX_FRAMES 100000

void
nlc_mac_parse(const char *text, guint8 mac[6])
{
        unsigned int b[6];
        char end;

        if (sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
                   &end) != 6)
                g_error("bad MAC in the test: %s", text);
        for (int i = 0; i < 6; i++)
                mac[i] = (guint8) b[i];
}

void
nlc_frame_build(guint8 frame[NLC_FRAME_LEN], const guint8 src[6], guint16 ethertype, guint8 tag)
{
        memset(frame, 0, NLC_FRAME_LEN);
        /* Broadcast: the bridge floods it to every port, also to those
         * with unicast flooding off. */
        memset(frame, 0xff, 6);
        memcpy(frame + 6, src, 6);
        frame[12] = ethertype >> 8;
        frame[13] = ethertype & 0xff;
        frame[14] = tag;
}

int
nlc_packet_open(const char *ifname)
{
        struct sockaddr_ll sll = {
                .sll_family = AF_PACKET,
                .sll_protocol = htons(ETH_P_ALL),
                .sll_ifindex = (int) if_nametoindex(ifname),
        };
        int sock = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));

        g_assert_cmpint(sll.sll_ifindex, >, 0);
        if (sock < 0)
                g_error("AF_PACKET socket: %s", g_strerror(errno));
        if (bind(sock, (struct sockaddr *) &sll, sizeof sll) < 0)
                g_error("bind to %s: %s", ifname, g_strerror(errno));
        return sock;
}

void
nlc_packet_send(int sock, const guint8 *frame, gsize len)
{
        g_assert_cmpint(send(sock, frame, len, 0), ==, (gssize) len);
}

static gboolean
frame_matches(const guint8 *frame, gssize len, const guint8 src[6], guint16 ethertype)
{
        return len >= 14 && memcmp(frame + 6, src, 6) == 0 && frame[12] == (ethertype >> 8) &&
               frame[13] == (ethertype & 0xff);
}

/* Milliseconds left until @deadline (monotonic µs), at least 0. */
static int
ms_left(gint64 deadline)
{
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;

        return left > 0 ? (int) left : 0;
}

static gboolean
readable(int fd, gint64 deadline)
{
        struct pollfd p = { .fd = fd, .events = POLLIN };

        return poll(&p, 1, ms_left(deadline)) > 0;
}

gssize
nlc_packet_wait(int sock, const guint8 src[6], guint16 ethertype, guint timeout_ms, guint8 *frame,
                gsize size)
{
        gint64 deadline = g_get_monotonic_time() + (gint64) timeout_ms * 1000;

        for (int i = 0; i < MAX_FRAMES && readable(sock, deadline); i++) {
                guint8 buf[2048];
                struct sockaddr_ll from;
                socklen_t from_len = sizeof from;
                gssize n = recvfrom(sock, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *) &from,
                                    &from_len);

                if (n < 0 || from.sll_pkttype == PACKET_OUTGOING ||
                    !frame_matches(buf, n, src, ethertype))
                        continue;
                if (frame)
                        memcpy(frame, buf, MIN((gsize) n, size));
                return n;
        }
        return -1;
}

guint
nlc_packet_count(int sock, const guint8 src[6], guint16 ethertype, guint window_ms)
{
        gint64 deadline = g_get_monotonic_time() + (gint64) window_ms * 1000;
        guint count = 0;

        while (count < MAX_FRAMES && ms_left(deadline) > 0 &&
               nlc_packet_wait(sock, src, ethertype, (guint) ms_left(deadline), NULL, 0) >= 0)
                count++;
        return count;
}

void
nlc_assert_queue(int fd, const char *ifname, gboolean multi_queue)
{
        struct ifreq ifr = { 0 };
        int hdr_len = 0;
        unsigned int want = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_PERSIST;

        if (multi_queue)
                want |= IFF_MULTI_QUEUE;
        if (ioctl(fd, TUNGETIFF, &ifr) < 0)
                g_error("fd %d is no tap queue: TUNGETIFF: %s", fd, g_strerror(errno));
        g_assert_cmpstr(ifr.ifr_name, ==, ifname);
        g_assert_cmphex((unsigned int) (unsigned short) ifr.ifr_flags, ==, want);
        g_assert_cmpint(ioctl(fd, TUNGETVNETHDRSZ, &hdr_len), ==, 0);
        g_assert_cmpint(hdr_len, ==, NLC_VNET_HDR_LEN);
}

void
nlc_queue_write(int fd, const guint8 *frame, gsize len)
{
        guint8 hdr[NLC_VNET_HDR_LEN] = { 0 };
        struct iovec iov[2] = { { hdr, sizeof hdr }, { (void *) frame, len } };

        g_assert_cmpint(writev(fd, iov, 2), ==, (gssize) (sizeof hdr + len));
}

/* 802.1D: LLC 42/42/03, protocol 0, version 0, type 0 (configuration). */
void
nlc_queue_write_superior_bpdus(int fd, guint n)
{
        static const guint8 head[] = {
                0x01, 0x80, 0xc2, 0x00, 0x00, 0x00, /* STP group address */
                0x52, 0x54, 0x00, 0x12, 0x34, 0x01, /* a guest */
                0x00, 0x26,                         /* 802.3 length: 38 */
                0x42, 0x42, 0x03,                   /* LLC */
                0x00, 0x00, 0x00, 0x00, 0x00,       /* protocol, version, config, flags */
                0x00, 0x00, 0x52, 0x54, 0x00, 0x12, 0x34, 0x01, /* root: priority 0 */
                0x00, 0x00, 0x00, 0x00,                         /* root path cost */
                0x00, 0x00, 0x52, 0x54, 0x00, 0x12, 0x34, 0x01, /* bridge id */
                0x80, 0x01,                                     /* port id */
                0x00, 0x00, 0x14, 0x00, 0x02, 0x00, 0x0f, 0x00, /* age 0, max 20, hello 2, fd 15 */
        };
        guint8 frame[NLC_FRAME_LEN] = { 0 };

        memcpy(frame, head, sizeof head);
        for (guint i = 0; i < n; i++) {
                nlc_queue_write(fd, frame, sizeof frame);
                g_usleep(100000);
        }
}

gssize
nlc_queue_wait(int fd, const guint8 src[6], guint16 ethertype, guint timeout_ms, guint8 *frame,
               gsize size)
{
        gint64 deadline = g_get_monotonic_time() + (gint64) timeout_ms * 1000;

        for (int i = 0; i < MAX_FRAMES && readable(fd, deadline); i++) {
                guint8 buf[NLC_VNET_HDR_LEN + 2048];
                gssize n = read(fd, buf, sizeof buf);

                if (n < NLC_VNET_HDR_LEN ||
                    !frame_matches(buf + NLC_VNET_HDR_LEN, n - NLC_VNET_HDR_LEN, src, ethertype))
                        continue;
                n -= NLC_VNET_HDR_LEN;
                if (frame)
                        memcpy(frame, buf + NLC_VNET_HDR_LEN, MIN((gsize) n, size));
                return n;
        }
        return -1;
}

struct _NlcQueueRelay {
        int fd[2];
        gint stop;
        GThread *thread;
};

static gpointer
relay_run(gpointer data)
{
        NlcQueueRelay *r = data;
        struct pollfd p[2] = { { r->fd[0], POLLIN, 0 }, { r->fd[1], POLLIN, 0 } };
        guint8 buf[NLC_VNET_HDR_LEN + 2048];

        while (!g_atomic_int_get(&r->stop)) {
                if (poll(p, 2, 100) <= 0)
                        continue;
                for (int i = 0; i < 2; i++) {
                        gssize n;

                        if (!(p[i].revents & POLLIN))
                                continue;
                        /* Both queues carry the same virtio-net header. */
                        n = read(r->fd[i], buf, sizeof buf);
                        if (n > 0 && write(r->fd[1 - i], buf, (gsize) n) != n)
                                g_message("relay: short write");
                }
        }
        return NULL;
}

NlcQueueRelay *
nlc_queue_relay_start(int fd_a, int fd_b)
{
        NlcQueueRelay *r = g_new0(NlcQueueRelay, 1);

        r->fd[0] = fd_a;
        r->fd[1] = fd_b;
        r->thread = g_thread_new("relay", relay_run, r);
        return r;
}

void
nlc_queue_relay_stop(NlcQueueRelay *r)
{
        g_atomic_int_set(&r->stop, 1);
        g_thread_join(r->thread);
        g_free(r);
}
