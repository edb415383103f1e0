/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Frames on the wire: AF_PACKET sockets on a link, and tap queues (which
 * carry a virtio-net header in front of every frame).
 */
#pragma once

#include <glib.h>

#define NLC_ETH_TEST     0x88b5 /* IEEE 802 local experimental ethertype */
#define NLC_ETH_RARP     0x8035
#define NLC_VNET_HDR_LEN 10 /* struct virtio_net_hdr, the tap default */
#define NLC_FRAME_LEN    60

void nlc_mac_parse(const char *text, guint8 mac[6]);
/* A broadcast frame from @src with @ethertype, @tag in its payload. */
void nlc_frame_build(guint8 frame[NLC_FRAME_LEN], const guint8 src[6], guint16 ethertype,
                     guint8 tag);

/* An ETH_P_ALL packet socket bound to @ifname. */
int nlc_packet_open(const char *ifname);
void nlc_packet_send(int sock, const guint8 *frame, gsize len);
/* Waits up to @timeout_ms for a frame that arrived at the link (not one it
 * sent) from @src with @ethertype; copies it into @frame and returns its
 * length, or -1 when none came. */
gssize nlc_packet_wait(int sock, const guint8 src[6], guint16 ethertype, guint timeout_ms,
                       guint8 *frame, gsize size);
/* How many such frames arrive within @window_ms. */
guint nlc_packet_count(int sock, const guint8 src[6], guint16 ethertype, guint window_ms);

/* Asserts that @fd is a queue of the tap @ifname: TUNGETIFF names it, with
 * exactly IFF_TAP, IFF_NO_PI, IFF_VNET_HDR, IFF_PERSIST (and IFF_MULTI_QUEUE
 * when @multi_queue), and a 10-byte virtio-net header. */
void nlc_assert_queue(int fd, const char *ifname, gboolean multi_queue);
/* Writes @frame into a tap queue behind an all-zero virtio-net header. */
void nlc_queue_write(int fd, const guint8 *frame, gsize len);
/* @n configuration BPDUs claiming root priority 0, 100 ms apart, written
 * into a tap queue as a guest would send them. */
void nlc_queue_write_superior_bpdus(int fd, guint n);
/* Like nlc_packet_wait(), reading a tap queue (the header is stripped). */
gssize nlc_queue_wait(int fd, const guint8 src[6], guint16 ethertype, guint timeout_ms,
                      guint8 *frame, gsize size);

/* A guest that bridges two of its NICs: a thread copies every frame read
 * from one tap queue into the other, both ways, until stopped. */
typedef struct _NlcQueueRelay NlcQueueRelay;
NlcQueueRelay *nlc_queue_relay_start(int fd_a, int fd_b);
void nlc_queue_relay_stop(NlcQueueRelay *relay);
