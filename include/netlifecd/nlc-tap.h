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

/*
 * Multiqueue taps only (TUNSETQUEUE). A detached queue stays open but the
 * kernel steers no frame to it: its reader sees nothing until it is attached
 * again. Idempotent; 0 or a negative errno.
 */
int nlc_tap_set_queue_attached(int fd, gboolean attached);
/* 1 attached, 0 detached, or a negative errno. */
int nlc_tap_queue_is_attached(int fd);
/* 1 when the queue's tap outlives its last queue (TUNSETPERSIST), 0 when it
 * goes with it, or a negative errno. */
int nlc_tap_queue_is_persistent(int fd);
/* 1 when the queue's tap is multiqueue, 0 when not, or a negative errno. */
int nlc_tap_queue_is_multi(int fd);

/*
 * Appends to @fds duplicates (pidfd_getfd, O_CLOEXEC) of the queues of tap
 * @ifname that process @pid holds, in the order of its fd numbers: after a
 * restart, the daemon's copies of queues a hypervisor still holds. Needs the
 * right to ptrace @pid (CAP_SYS_PTRACE, or the same user). Returns how many,
 * or a negative errno.
 */
int nlc_tap_take_queues_of(int pid, const char *ifname, GArray *fds);

/*
 * A duplicate of an attached queue of tap @ifname held by any process (the
 * hypervisor's, or libvirtd's while it starts QEMU), for a frame written on
 * the guest's behalf; the caller closes it at once, so the tap still goes
 * away with its owner. Scans /proc: for the rare device whose queues the
 * daemon never held (a tap libvirt made). Needs CAP_SYS_PTRACE over the
 * holder. A negative errno (-ENOENT: nobody holds one) otherwise.
 */
int nlc_tap_borrow_queue(const char *ifname);

G_END_DECLS
