/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The kernel's view of a tap-bridge port, read with iproute2's JSON output. */
#pragma once

#include <glib.h>

typedef struct {
        gboolean exists;
        char master[16];
        guint mtu;
        gboolean up;       /* IFF_UP */
        gboolean lower_up; /* carrier: a process holds a queue */
        gboolean is_tap;   /* tun driver in tap mode */
        gboolean vnet_hdr;
        gboolean multi_queue;
        gboolean pi;
        gboolean learning; /* bridge port flags */
        gboolean flood;
} KernelPort;

void kernel_port_read(const char *ifname, KernelPort *out);
/* Every link name in the namespace, sorted, space-separated. */
char *kernel_link_names(void);
