/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <linux/if_tun.h>
#include <netpacket/packet.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "nlc-announce.h"

#define ETH_P_RARP_BE  0x8035
#define ARPOP_RREQUEST 3 /* "reverse request", as QEMU's qemu_announce_self */

void
nlc_rarp_build(guint8 frame[NLC_RARP_FRAME_LEN], const guint8 mac[6])
{
        guint8 *p = frame;

        memset(frame, 0, NLC_RARP_FRAME_LEN);
        memset(p, 0xff, 6);    /* destination: broadcast */
        memcpy(p + 6, mac, 6); /* source: the guest */
        p[12] = ETH_P_RARP_BE >> 8;
        p[13] = ETH_P_RARP_BE & 0xff;
        p += 14;
        p[0] = 0x00, p[1] = 0x01; /* hardware type: Ethernet */
        p[2] = 0x08, p[3] = 0x00; /* protocol type: IPv4 */
        p[4] = 6, p[5] = 4;       /* address lengths */
        p[6] = 0x00, p[7] = ARPOP_RREQUEST;
        memcpy(p + 8, mac, 6);  /* sender hardware address; sender IP 0 */
        memcpy(p + 18, mac, 6); /* target hardware address; target IP 0 */
}

int
nlc_announce_rarp_vnet(int queue_fd, const guint8 mac[6])
{
        guint8 frame[NLC_RARP_FRAME_LEN];
        guint8 vnet_hdr[32] = { 0 };
        int hdr_len = 10; /* sizeof(struct virtio_net_hdr): the kernel default */
        struct iovec iov[2];
        ssize_t n;

        /* The queue is shared with the hypervisor, which may have switched the
         * header to 12 bytes (mergeable rx buffers) on this same open file. */
        if (ioctl(queue_fd, TUNGETVNETHDRSZ, &hdr_len) < 0 || hdr_len < 10 ||
            hdr_len > (int) sizeof vnet_hdr)
                hdr_len = 10;
        nlc_rarp_build(frame, mac);
        iov[0] = (struct iovec){ vnet_hdr, (size_t) hdr_len };
        iov[1] = (struct iovec){ frame, sizeof frame };
        n = writev(queue_fd, iov, 2);
        if (n < 0)
                return -errno;
        return n == (ssize_t) (hdr_len + sizeof frame) ? 0 : -EIO;
}

int
nlc_announce_rarp_packet(int ifindex, const guint8 mac[6])
{
        /* Protocol 0: the socket only sends, it never queues received frames. */
        struct sockaddr_ll sll = {
                .sll_family = AF_PACKET,
                .sll_ifindex = ifindex,
        };
        guint8 frame[NLC_RARP_FRAME_LEN];
        ssize_t n;
        int fd, e;

        if (ifindex <= 0)
                return -EINVAL;
        fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sll, sizeof sll) < 0) {
                e = errno;
                close(fd);
                return -e;
        }
        /* SOCK_RAW: the frame goes out as built, Ethernet header included. */
        nlc_rarp_build(frame, mac);
        n = send(fd, frame, sizeof frame, 0);
        e = errno;
        close(fd);
        if (n < 0)
                return -e;
        return n == (ssize_t) sizeof frame ? 0 : -EIO;
}
