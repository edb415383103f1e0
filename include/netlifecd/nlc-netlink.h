/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernel services for the daemon and its backends. Everything netlink goes
 * through nlc-netlink.c (libnl-route-3); no other file includes a netlink
 * header. All functions return 0 or a positive value on success and a
 * negative errno on failure — never libnl's NLE_* codes.
 */
#pragma once

#include <glib.h>
#include <net/if.h>

G_BEGIN_DECLS

typedef struct {
        int ifindex;
        int master_ifindex; /* 0 when not enslaved */
        guint mtu;
        guint flags;       /* IFF_UP, ... */
        gboolean lower_up; /* carrier: for a tap, some process holds a queue */
        char name[IF_NAMESIZE];
        char kind[32]; /* "bridge", "tun", "veth", ... or "" */
        guint8 mac[6];
} NlcLinkInfo;

/* Opens the route socket once; later calls are no-ops. */
int nlc_netlink_init(void);
void nlc_netlink_close(void);

/* -ENODEV when there is no such link. */
int nlc_link_get(const char *ifname, NlcLinkInfo *out);
int nlc_link_get_by_index(int ifindex, NlcLinkInfo *out);
int nlc_link_set_master(int ifindex, int master_ifindex);
int nlc_link_set_mtu(int ifindex, guint mtu);
int nlc_link_set_up(int ifindex, gboolean up);
/* 0 when the link is already gone. */
int nlc_link_delete(int ifindex);

/* Sets IFLA_BRPORT_LEARNING and IFLA_BRPORT_UNICAST_FLOOD on a bridge port. */
int nlc_bridge_port_set_flags(int port_ifindex, gboolean learning, gboolean unicast_flood);

/* Static FDB entry mac → port on the port's bridge (NTF_MASTER, NUD_NOARP),
 * sent with NLM_F_REPLACE so an entry on another port moves in one message. */
int nlc_fdb_replace_static(int port_ifindex, const guint8 mac[6]);
/* Removes the entry mac → port; 0 when there is none. */
int nlc_fdb_delete(int port_ifindex, const guint8 mac[6]);
/* 1 when a static entry mac → port exists on the port's bridge, 0 if not. */
int nlc_fdb_has_static(int port_ifindex, const guint8 mac[6]);

G_END_DECLS
