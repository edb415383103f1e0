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
/* Turns the host's IPv6 off on the link (net.ipv6.conf.<ifname>.disable_ipv6,
 * a sysctl: rtnetlink cannot set it). 0 when it already was, or when the
 * kernel has no IPv6. */
int nlc_link_disable_ipv6(const char *ifname);

/* The interfaces (int ifindex) the default routes of the main table, IPv4
 * and IPv6, leave through: the host's uplink, which no guest may take. */
int nlc_route_default_ifindexes(GArray *out);

/* Netdev groups (IFLA_GROUP), for deleting many links in one request. */
typedef struct {
        int ifindex;
        guint32 group;
} NlcLinkGroup;
int nlc_link_set_group(int ifindex, guint32 group);
/* Deletes every link in @group in one RTM_DELLINK (-ENODEV: none). */
int nlc_link_delete_group(guint32 group);
/* nlc_link_delete(@ifindex), or with @ifindex 0 nlc_link_delete_group(@group),
 * on a netlink socket of its own: safe from any thread (the functions above
 * share one socket and belong to the main thread). */
int nlc_link_delete_on_own_socket(int ifindex, guint32 group);
/* Every link in this namespace with its group, into @out (NlcLinkGroup). */
int nlc_link_list_groups(GArray *out);

/* A bridge port's flags, set in one request (what `bridge link set` calls
 * learning, flood, guard, root_block and locked). */
typedef struct {
        gboolean learning;      /* IFLA_BRPORT_LEARNING */
        gboolean unicast_flood; /* IFLA_BRPORT_UNICAST_FLOOD */
        gboolean bpdu_guard;    /* IFLA_BRPORT_GUARD: a BPDU received disables the port */
        gboolean root_block;    /* IFLA_BRPORT_PROTECT: never the root port */
        gboolean locked;        /* IFLA_BRPORT_LOCKED: frames only from sources with an
                                 * FDB entry on this port (Linux 5.18) */
} NlcPortFlags;
int nlc_bridge_port_set_flags(int port_ifindex, const NlcPortFlags *flags);

/* IFLA_BR_VLAN_FILTERING of a bridge: 1 on, 0 off, -ENOENT when the kernel
 * does not say (not a bridge; a kernel without VLAN filtering still
 * reports 0). _parse reads it from one RTM_NEWLINK message (@len bytes). */
int nlc_bridge_vlan_filtering_parse(const void *msg, gsize len);
int nlc_bridge_get_vlan_filtering(int bridge_ifindex);

/* Static FDB entry mac → port on the port's bridge (NTF_MASTER, NUD_NOARP),
 * sent with NLM_F_REPLACE so an entry on another port moves in one message. */
int nlc_fdb_replace_static(int port_ifindex, const guint8 mac[6]);
/* Removes the entry mac → port; 0 when there is none. */
int nlc_fdb_delete(int port_ifindex, const guint8 mac[6]);
/* 1 when a static entry mac → port exists on the port's bridge, 0 if not. */
int nlc_fdb_has_static(int port_ifindex, const guint8 mac[6]);
/* For many nlc_fdb_has_static() calls in a row (the daemon's start): the
 * kernel walks its whole FDB for each of them, even filtered to one port, so
 * N devices would cost N walks; with a snapshot, one dump answers them all
 * until _end(). A change the daemon makes to the FDB meanwhile ends it (the
 * calls after it ask the kernel again); a change by someone else is not
 * seen until _end(). */
int nlc_fdb_snapshot_begin(void);
void nlc_fdb_snapshot_end(void);

/* The link's IFLA_LINK: the ifindex of a macvtap's (or VLAN's) lower device,
 * 0 when it has none. */
int nlc_link_get_lower(int ifindex);
/* Sets the link-layer address (IFLA_ADDRESS). */
int nlc_link_set_address(int ifindex, const guint8 mac[6]);

/* TRUE for a macvtap mode nlc_macvtap_create() knows: "bridge", "vepa",
 * "private" or "passthru". */
gboolean nlc_macvtap_mode_valid(const char *mode);
/* Creates macvtap @ifname on @lower_ifindex in @mode, down, with address
 * @mac. -EEXIST when the name is taken, -EINVAL for an unknown mode. */
int nlc_macvtap_create(const char *ifname, int lower_ifindex, const char *mode,
                       const guint8 mac[6]);

/*
 * SR-IOV: a VF is programmed through its PF with RTM_SETLINK on the PF,
 * IFLA_VFINFO_LIST → IFLA_VF_INFO → IFLA_VF_MAC / IFLA_VF_LINK_STATE.
 * The values are those of the kernel's IFLA_VF_LINK_STATE_*.
 */
typedef enum {
        NLC_VF_LINK_STATE_AUTO = 0,    /* follows the PF's uplink */
        NLC_VF_LINK_STATE_ENABLE = 1,  /* always up */
        NLC_VF_LINK_STATE_DISABLE = 2, /* always down */
} NlcVfLinkState;

#define NLC_VF_MSG_MAX 256 /* room for any request nlc_vf_msg_build() makes */

/* Builds that request into @buf without sending it: the VF's MAC when @mac is
 * not NULL, its link state when @link_state is not negative. Returns the
 * message length, or -EMSGSIZE when @size is too small. The senders below
 * send these bytes, with the socket's sequence number and port and
 * NLM_F_REQUEST | NLM_F_ACK filled in. */
int nlc_vf_msg_build(void *buf, gsize size, int pf_ifindex, guint32 vf, const guint8 *mac,
                     int link_state);
int nlc_vf_set_mac(int pf_ifindex, guint32 vf, const guint8 mac[6]);
int nlc_vf_set_link_state(int pf_ifindex, guint32 vf, NlcVfLinkState state);
/* Reads VF @vf's MAC and link state from an RTM_NEWLINK of the PF (as the
 * kernel sends it for IFLA_EXT_MASK RTEXT_FILTER_VF): 0, -ENOENT when the
 * message lists no such VF, -EINVAL when it is malformed. */
int nlc_vf_info_parse(const void *msg, gsize len, guint32 vf, guint8 mac_out[6],
                      NlcVfLinkState *state_out);
/* Asks the kernel for the PF's VF list and parses it as above. */
int nlc_vf_get_info(int pf_ifindex, guint32 vf, guint8 mac_out[6], NlcVfLinkState *state_out);

G_END_DECLS
