/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * 802.1Qbh port-profile requests to the kernel (a Cisco enic's driver
 * programs its switch), as netlink messages: the RTM_SETLINK libvirt sends
 * (IFLA_PORT_SELF for the device itself, or IFLA_VF_PORTS/IFLA_VF_PORT for
 * one of its VFs, with IFLA_PORT_PROFILE, IFLA_PORT_INSTANCE_UUID,
 * IFLA_PORT_HOST_UUID, IFLA_PORT_REQUEST; the guest MAC in
 * IFLA_VFINFO_LIST), and the status the driver reports in RTM_NEWLINK
 * (IFLA_PORT_RESPONSE: PORT_PROFILE_RESPONSE_*). Pure, like
 * nlc-vdp-netlink.h. No software device implements these: the kernel
 * refuses them for any other driver, and they have not run on enic
 * hardware; tests/unit/test-vdp-netlink.c holds them to libvirt's layout.
 */
#pragma once

#include "nlc-vdp-netlink.h"

G_BEGIN_DECLS

#define NLC_QBH_SELF_VF (-1) /* PORT_SELF_VF: the device itself */

typedef struct {
        int ifindex; /* the device (a VF's PF when @vf >= 0) */
        char ifname[16];
        gint32 vf;
        guint8 mac[6];
        char profile[40]; /* IFLA_PORT_PROFILE, with its NUL at most 40 bytes */
        guint8 instance_uuid[16];
        guint8 host_uuid[16];
} NlcQbhPort;

/* RTM_SETLINK to the kernel, NLM_F_ACK set (the kernel answers a SETLINK
 * only when asked). ASSOCIATE and PREASSOCIATE_RR carry the MAC, profile,
 * instance and host UUIDs; DISASSOCIATE only the request (as libvirt).
 * Returns the length. */
gsize nlc_qbh_build_setlink(guint8 buf[NLC_VDP_MSG_MAX], guint32 seq, const NlcQbhPort *port,
                            NlcVdpRequest request);

/* The driver's status in the kernel's RTM_NEWLINK answer to @seq: for the
 * device itself IFLA_PORT_SELF, for a VF its IFLA_VF_PORT with @vf and
 * the instance UUID. NO_ENTRY: the driver reports no port (any driver
 * but enic); PENDING: no response yet. */
NlcVdpStatus nlc_qbh_parse_status(const guint8 *buf, gsize len, guint32 seq, const NlcQbhPort *port,
                                  guint16 *response);

G_END_DECLS
