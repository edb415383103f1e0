/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* MAC announcements: the RARP frame QEMU's announce-self sends. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NLC_RARP_FRAME_LEN 60 /* minimum Ethernet frame without FCS */

/* Fills @frame with a broadcast RARP "reverse request" for @mac (sender and
 * target hardware address @mac, protocol addresses 0), padded to 60 bytes. */
void nlc_rarp_build(guint8 frame[NLC_RARP_FRAME_LEN], const guint8 mac[6]);

/* Writes that frame into a tap or macvtap queue opened with IFF_VNET_HDR,
 * prefixed with an all-zero virtio-net header of the queue's current size
 * (QEMU may change it to 12 on the same open file). Returns 0 or -errno. */
int nlc_announce_rarp_vnet(int queue_fd, const guint8 mac[6]);

/* Sends that frame out of the link @ifindex through an AF_PACKET socket bound
 * to it, for a device whose queues the daemon does not hold (an assigned host
 * netdev, or a macvtap whose queues only the hypervisor holds). The link must
 * be up. Returns 0 or -errno. */
int nlc_announce_rarp_packet(int ifindex, const guint8 mac[6]);

G_END_DECLS
