/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The 802.1Qbh messages, built and read with libmnl. Part of the netlink
 * layer (see nlc-vdp-netlink.c).
 */
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>

#include "nlc-qbh-netlink.h"

gsize
nlc_qbh_build_setlink(guint8 buf[NLC_VDP_MSG_MAX], guint32 seq, const NlcQbhPort *port,
                      NlcVdpRequest request)
{
        struct nlmsghdr *nlh = nlc_vdp_put_link_header(buf, RTM_SETLINK, seq, 0, port->ifindex);
        gboolean full = request != NLC_VDP_DISASSOCIATE;
        struct nlattr *nest, *ports = NULL;

        nlh->nlmsg_flags |= NLM_F_ACK;
        if (full) {
                struct ifla_vf_mac vf_mac = { .vf = (guint32) port->vf };
                struct nlattr *list, *info;

                memcpy(vf_mac.mac, port->mac, 6);
                list = mnl_attr_nest_start(nlh, IFLA_VFINFO_LIST);
                info = mnl_attr_nest_start(nlh, IFLA_VF_INFO);
                mnl_attr_put(nlh, IFLA_VF_MAC, sizeof vf_mac, &vf_mac);
                mnl_attr_nest_end(nlh, info);
                mnl_attr_nest_end(nlh, list);
        }
        if (port->vf == NLC_QBH_SELF_VF) {
                nest = mnl_attr_nest_start(nlh, IFLA_PORT_SELF);
        } else {
                ports = mnl_attr_nest_start(nlh, IFLA_VF_PORTS);
                nest = mnl_attr_nest_start(nlh, IFLA_VF_PORT);
        }
        if (full) {
                mnl_attr_put_strz(nlh, IFLA_PORT_PROFILE, port->profile);
                mnl_attr_put(nlh, IFLA_PORT_INSTANCE_UUID, 16, port->instance_uuid);
                mnl_attr_put(nlh, IFLA_PORT_HOST_UUID, 16, port->host_uuid);
        }
        if (port->vf != NLC_QBH_SELF_VF)
                mnl_attr_put_u32(nlh, IFLA_PORT_VF, (guint32) port->vf);
        mnl_attr_put_u8(nlh, IFLA_PORT_REQUEST, (guint8) request);
        mnl_attr_nest_end(nlh, nest);
        if (ports)
                mnl_attr_nest_end(nlh, ports);
        return nlh->nlmsg_len;
}

typedef struct {
        const NlcQbhPort *want;
        gboolean has_vf, vf_matches, uuid_matches;
        gboolean has_response;
        guint16 response;
} PortRead;

static void
read_port(const struct nlattr *nest, PortRead *p)
{
        const struct nlattr *a;

        mnl_attr_for_each_nested(a, nest)
        {
                switch (mnl_attr_get_type(a)) {
                case IFLA_PORT_VF:
                        if (mnl_attr_get_payload_len(a) >= 4) {
                                p->has_vf = TRUE;
                                p->vf_matches = mnl_attr_get_u32(a) == (guint32) p->want->vf;
                        }
                        break;
                case IFLA_PORT_INSTANCE_UUID:
                        p->uuid_matches =
                                mnl_attr_get_payload_len(a) == 16 &&
                                memcmp(mnl_attr_get_payload(a), p->want->instance_uuid, 16) == 0;
                        break;
                case IFLA_PORT_RESPONSE:
                        if (mnl_attr_get_payload_len(a) >= 2) {
                                p->has_response = TRUE;
                                p->response = mnl_attr_get_u16(a);
                        }
                        break;
                default:
                        break;
                }
        }
}

static NlcVdpStatus
status_of(const PortRead *p, guint16 *response)
{
        if (!p->has_response)
                return NLC_VDP_STATUS_PENDING;
        if (response)
                *response = p->response;
        return NLC_VDP_STATUS_DONE;
}

NlcVdpStatus
nlc_qbh_parse_status(const guint8 *buf, gsize len, guint32 seq, const NlcQbhPort *port,
                     guint16 *response)
{
        const struct nlmsghdr *nlh = (const struct nlmsghdr *) buf;
        const struct nlattr *a;

        if (len < sizeof(*nlh) || !mnl_nlmsg_ok(nlh, (int) len) || nlh->nlmsg_seq != seq ||
            nlh->nlmsg_type != RTM_NEWLINK ||
            nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct ifinfomsg)))
                return NLC_VDP_STATUS_BAD_MESSAGE;
        mnl_attr_for_each(a, nlh, sizeof(struct ifinfomsg))
        {
                const struct nlattr *vf_port;
                guint16 type = mnl_attr_get_type(a);

                if (type == IFLA_PORT_SELF && port->vf == NLC_QBH_SELF_VF) {
                        PortRead p = { .want = port };

                        read_port(a, &p);
                        return status_of(&p, response);
                }
                if (type != IFLA_VF_PORTS || port->vf == NLC_QBH_SELF_VF)
                        continue;
                mnl_attr_for_each_nested(vf_port, a)
                {
                        PortRead p = { .want = port };

                        if (mnl_attr_get_type(vf_port) != IFLA_VF_PORT)
                                continue;
                        read_port(vf_port, &p);
                        /* libvirt's match: the VF and the instance. */
                        if (p.has_vf && p.vf_matches && p.uuid_matches)
                                return status_of(&p, response);
                }
        }
        return NLC_VDP_STATUS_NO_ENTRY;
}
