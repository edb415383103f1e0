/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tap queues through /dev/net/tun (ioctls, not netlink). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Opens one queue of the persistent tap @ifname with IFF_TAP | IFF_NO_PI |
 * IFF_VNET_HDR (| IFF_MULTI_QUEUE), creating the tap if it does not exist.
 * Returns the fd (O_CLOEXEC) or a negative errno: -EBUSY when a single-queue
 * tap is already held by another process, -EINVAL when the existing tap's
 * flags differ.
 */
int nlc_tap_open_queue(const char *ifname, gboolean multi_queue);

/* TRUE when the fd is a tap queue: TUNGETIFF succeeds on it. */
gboolean nlc_tap_fd_is_tap(int fd, char ifname_out[16]);

G_END_DECLS
