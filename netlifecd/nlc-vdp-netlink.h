/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * 802.1Qbg VDP requests to lldpad, as netlink messages: the bytes libvirt
 * sends (RTM_SETLINK with IFLA_VFINFO_LIST and IFLA_VF_PORTS/IFLA_VF_PORT to
 * lldpad's netlink port; RTM_GETLINK with RTEXT_FILTER_VF for the status)
 * and the replies lldpad sends back. Pure: no socket here (nlc-vdp.c sends
 * them). tests/lldpad/README.md has the layouts as verified against a real
 * lldpad; tests/unit/test-vdp-netlink.c holds these functions to them byte
 * for byte.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* <linux/if_link.h>'s PORT_REQUEST_*: what lldpad is asked to do. */
typedef enum {
        NLC_VDP_PREASSOCIATE = 0,
        NLC_VDP_PREASSOCIATE_RR = 1,
        NLC_VDP_ASSOCIATE = 2,
        NLC_VDP_DISASSOCIATE = 3,
} NlcVdpRequest;

const char *nlc_vdp_request_to_string(NlcVdpRequest request);

/* One VSI (a guest NIC's port profile) on one uplink. */
typedef struct {
        guint8 manager_id;
        guint32 type_id; /* 24 bits */
        guint8 type_id_version;
        guint8 instance_uuid[16];
        guint8 mac[6]; /* the guest MAC: the VSI's filter */
        guint16 vlan;  /* 0: none */
        int uplink;    /* ifindex of the macvtap's root device */
        char uplink_name[16];
} NlcVdpVsi;

/* Largest message built here. */
#define NLC_VDP_MSG_MAX 256

/* An empty NLM_F_REQUEST link message (ifinfomsg, AF_UNSPEC, @ifindex) in
 * @buf, cleared first, for the builders here and in nlc-qbh-netlink.c
 * (struct nlmsghdr *, returned as a pointer to keep netlink headers out). */
struct nlmsghdr *nlc_vdp_put_link_header(guint8 *buf, guint16 type, guint32 seq, guint32 port_pid,
                                         int ifindex);

/* RTM_SETLINK for lldpad: @port_pid goes in nlmsg_pid (lldpad sends its
 * unsolicited notifications for the VSI there). Returns the length. */
gsize nlc_vdp_build_setlink(guint8 buf[NLC_VDP_MSG_MAX], guint32 seq, guint32 port_pid,
                            const NlcVdpVsi *vsi, NlcVdpRequest request);
/* RTM_GETLINK for the uplink's VSIs (RTEXT_FILTER_VF). */
gsize nlc_vdp_build_getlink(guint8 buf[NLC_VDP_MSG_MAX], guint32 seq, guint32 port_pid, int uplink);

/* lldpad's answer to a SETLINK (NLMSG_ERROR): 0 accepted (queued, not yet
 * answered by the switch), lldpad's -errno, or -EBADMSG when @buf is not an
 * answer to @seq. */
int nlc_vdp_parse_setlink_reply(const guint8 *buf, gsize len, guint32 seq);

typedef enum {
        NLC_VDP_STATUS_BAD_MESSAGE, /* not a status reply to @seq */
        NLC_VDP_STATUS_NO_ENTRY,    /* lldpad lists no such VSI on the uplink */
        NLC_VDP_STATUS_PENDING,     /* listed, no response yet */
        NLC_VDP_STATUS_DONE,        /* listed with a response: *response */
} NlcVdpStatus;

/* lldpad's status reply (NLMSG_DONE or RTM_NEWLINK with IFLA_VF_PORTS): the
 * entry of the VSI with @instance_uuid and vf PORT_SELF_VF. Nest flags
 * (NLA_F_NESTED) are masked: lldpad sets them, libvirt-era probes did not. */
NlcVdpStatus nlc_vdp_parse_status(const guint8 *buf, gsize len, guint32 seq,
                                  const guint8 instance_uuid[16], guint16 *response);

/* lldpad's unsolicited message (tests/lldpad/README.md 3.6): an
 * RTM_SETLINK from lldpad's port to the nlmsg_pid of the request that
 * created the VSI, when the VSI ended by the switch's doing (a DEASSOC it
 * sent, a refusal) — and also after a DISASSOCIATE some process on this
 * host asked for. The uplink is named only (ifi_index 0). */
typedef struct {
        char uplink_name[16];
        guint8 instance_uuid[16];
        NlcVdpRequest request; /* DISASSOCIATE in every one seen */
} NlcVdpNotification;

/* TRUE when @buf is such a message (uplink, UUID and request present). */
gboolean nlc_vdp_parse_notification(const guint8 *buf, gsize len, NlcVdpNotification *out);

/* PORT_VDP_RESPONSE_SUCCESS, and 0x100 which libvirt also counts as success
 * (PORT_PROFILE_RESPONSE_SUCCESS); 0x101 is in progress. */
gboolean nlc_vdp_response_is_success(guint16 response);
gboolean nlc_vdp_response_is_pending(guint16 response);
/* "invalid format", "insufficient resources", ... (lldpad's VDP22 status). */
const char *nlc_vdp_response_to_string(guint16 response);

/* The sockets the requests go through (NETLINK_ROUTE, raw, non-blocking,
 * close-on-exec): opened with the kernel's choice of port id; sent to
 * lldpad's port (its pid); lldpad's answers only (0 for a message from
 * anyone else, -EAGAIN when none is waiting). Negative errno on failure. Netlink unicast stays in the sender's
 * network namespace: lldpad must run in the daemon's. */
int nlc_vdp_socket_open(guint32 *port_id);
/* The same, bound to @port_id: the daemon's event port, where lldpad sends
 * its notifications; -EADDRINUSE when another socket of this network
 * namespace holds it. */
int nlc_vdp_socket_open_at(guint32 port_id);
int nlc_vdp_socket_send(int fd, guint32 to_port, const guint8 *buf, gsize len);
gssize nlc_vdp_socket_receive(int fd, guint8 *buf, gsize size, guint32 from_port);

G_END_DECLS
