/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The VDP messages, built and read with libmnl. Part of the netlink layer
 * (with nlc-netlink.c and nlc-monitor.c): the only other file that includes
 * netlink headers. Layouts: tests/lldpad/README.md, 3.2-3.4.
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nlc-vdp-netlink.h"

/* PORT_SELF_VF of <linux/if_link.h>: the request is for the device itself,
 * not one of its SR-IOV VFs. */
#define SELF_VF 0xffffffffu

const char *
nlc_vdp_request_to_string(NlcVdpRequest request)
{
        switch (request) {
        case NLC_VDP_PREASSOCIATE:
                return "preassociate";
        case NLC_VDP_PREASSOCIATE_RR:
                return "preassociate-rr";
        case NLC_VDP_ASSOCIATE:
                return "associate";
        case NLC_VDP_DISASSOCIATE:
                return "disassociate";
        }
        return "unknown";
}

struct nlmsghdr *
nlc_vdp_put_link_header(guint8 *buf, guint16 type, guint32 seq, guint32 port_pid, int ifindex)
{
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifi;

        memset(buf, 0, NLC_VDP_MSG_MAX);
        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST;
        nlh->nlmsg_seq = seq;
        nlh->nlmsg_pid = port_pid;
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = ifindex;
        return nlh;
}

gsize
nlc_vdp_build_setlink(guint8 buf[NLC_VDP_MSG_MAX], guint32 seq, guint32 port_pid,
                      const NlcVdpVsi *vsi, NlcVdpRequest request)
{
        struct nlmsghdr *nlh =
                nlc_vdp_put_link_header(buf, RTM_SETLINK, seq, port_pid, vsi->uplink);
        struct ifla_vf_mac vf_mac = { .vf = SELF_VF };
        struct ifla_vf_vlan vf_vlan = { .vf = SELF_VF, .vlan = vsi->vlan };
        struct ifla_port_vsi port_vsi = {
                .vsi_mgr_id = vsi->manager_id,
                /* Least significant byte first, as libvirt writes it. */
                .vsi_type_id = { vsi->type_id & 0xff, (vsi->type_id >> 8) & 0xff,
                                 (vsi->type_id >> 16) & 0xff },
                .vsi_type_version = vsi->type_id_version,
        };
        struct nlattr *list, *info, *ports, *port;

        memcpy(vf_mac.mac, vsi->mac, 6);
        mnl_attr_put_strz(nlh, IFLA_IFNAME, vsi->uplink_name);
        /* lldpad refuses a request without the filter (EINVAL): MAC and VLAN
         * make VDP filter format 2. */
        list = mnl_attr_nest_start(nlh, IFLA_VFINFO_LIST);
        info = mnl_attr_nest_start(nlh, IFLA_VF_INFO);
        mnl_attr_put(nlh, IFLA_VF_MAC, sizeof vf_mac, &vf_mac);
        mnl_attr_put(nlh, IFLA_VF_VLAN, sizeof vf_vlan, &vf_vlan);
        mnl_attr_nest_end(nlh, info);
        mnl_attr_nest_end(nlh, list);
        /* lldpad reads only IFLA_VF_PORTS (IFLA_PORT_SELF is for 802.1Qbh,
         * to the kernel). */
        ports = mnl_attr_nest_start(nlh, IFLA_VF_PORTS);
        port = mnl_attr_nest_start(nlh, IFLA_VF_PORT);
        mnl_attr_put(nlh, IFLA_PORT_VSI_TYPE, sizeof port_vsi, &port_vsi);
        mnl_attr_put(nlh, IFLA_PORT_INSTANCE_UUID, 16, vsi->instance_uuid);
        mnl_attr_put_u8(nlh, IFLA_PORT_REQUEST, (guint8) request);
        mnl_attr_nest_end(nlh, port);
        mnl_attr_nest_end(nlh, ports);
        return nlh->nlmsg_len;
}

gsize
nlc_vdp_build_getlink(guint8 buf[NLC_VDP_MSG_MAX], guint32 seq, guint32 port_pid, int uplink)
{
        struct nlmsghdr *nlh = nlc_vdp_put_link_header(buf, RTM_GETLINK, seq, port_pid, uplink);

        mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_VF);
        return nlh->nlmsg_len;
}

static const struct nlmsghdr *
reply_header(const guint8 *buf, gsize len, guint32 seq)
{
        const struct nlmsghdr *nlh = (const struct nlmsghdr *) buf;

        if (len < sizeof(*nlh) || !mnl_nlmsg_ok(nlh, (int) len) || nlh->nlmsg_seq != seq)
                return NULL;
        return nlh;
}

int
nlc_vdp_parse_setlink_reply(const guint8 *buf, gsize len, guint32 seq)
{
        const struct nlmsghdr *nlh = reply_header(buf, len, seq);
        const struct nlmsgerr *err;

        if (!nlh || nlh->nlmsg_type != NLMSG_ERROR ||
            nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct nlmsgerr)))
                return -EBADMSG;
        err = mnl_nlmsg_get_payload(nlh);
        return err->error > 0 ? -EBADMSG : err->error;
}

typedef struct {
        const guint8 *uuid;
        gboolean found;
        gboolean has_response;
        guint16 response;
} PortSearch;

/* One IFLA_VF_PORT: is it ours (self VF, our UUID), and its response. */
static int
on_port_attr(const struct nlattr *attr, void *data)
{
        PortSearch *p = data;

        switch (mnl_attr_get_type(attr)) {
        case IFLA_PORT_VF:
                if (mnl_attr_get_payload_len(attr) >= 4 && mnl_attr_get_u32(attr) != SELF_VF)
                        p->found = FALSE;
                break;
        case IFLA_PORT_RESPONSE:
                if (mnl_attr_get_payload_len(attr) >= 2) {
                        p->has_response = TRUE;
                        p->response = mnl_attr_get_u16(attr);
                }
                break;
        default:
                break;
        }
        return MNL_CB_OK;
}

static gboolean
port_has_uuid(const struct nlattr *port, const guint8 *uuid)
{
        const struct nlattr *a;

        mnl_attr_for_each_nested(a, port)
        {
                if (mnl_attr_get_type(a) == IFLA_PORT_INSTANCE_UUID &&
                    mnl_attr_get_payload_len(a) == 16 &&
                    memcmp(mnl_attr_get_payload(a), uuid, 16) == 0)
                        return TRUE;
        }
        return FALSE;
}

NlcVdpStatus
nlc_vdp_parse_status(const guint8 *buf, gsize len, guint32 seq, const guint8 instance_uuid[16],
                     guint16 *response)
{
        const struct nlmsghdr *nlh = reply_header(buf, len, seq);
        const struct nlattr *a;

        /* lldpad answers with NLMSG_DONE carrying the link (not RTM_NEWLINK). */
        if (!nlh || (nlh->nlmsg_type != NLMSG_DONE && nlh->nlmsg_type != RTM_NEWLINK) ||
            nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct ifinfomsg)))
                return NLC_VDP_STATUS_BAD_MESSAGE;
        mnl_attr_for_each(a, nlh, sizeof(struct ifinfomsg))
        {
                const struct nlattr *port;

                if (mnl_attr_get_type(a) != IFLA_VF_PORTS)
                        continue;
                mnl_attr_for_each_nested(port, a)
                {
                        PortSearch p = { .uuid = instance_uuid, .found = TRUE };

                        if (mnl_attr_get_type(port) != IFLA_VF_PORT ||
                            !port_has_uuid(port, instance_uuid))
                                continue;
                        mnl_attr_parse_nested(port, on_port_attr, &p);
                        if (!p.found)
                                continue;
                        if (!p.has_response)
                                return NLC_VDP_STATUS_PENDING;
                        if (response)
                                *response = p.response;
                        return NLC_VDP_STATUS_DONE;
                }
        }
        return NLC_VDP_STATUS_NO_ENTRY;
}

/* The VSI in an IFLA_VF_PORT of a notification: its UUID and the request
 * lldpad reports (a u16 there, a u8 in the kernel's ABI: the first byte
 * either way, little-endian). */
static void
read_notified_port(const struct nlattr *port, NlcVdpNotification *out, gboolean *has_uuid,
                   gboolean *has_request)
{
        const struct nlattr *a;

        mnl_attr_for_each_nested(a, port)
        {
                if (mnl_attr_get_type(a) == IFLA_PORT_INSTANCE_UUID &&
                    mnl_attr_get_payload_len(a) == 16) {
                        memcpy(out->instance_uuid, mnl_attr_get_payload(a), 16);
                        *has_uuid = TRUE;
                } else if (mnl_attr_get_type(a) == IFLA_PORT_REQUEST &&
                           mnl_attr_get_payload_len(a) >= 1) {
                        out->request = (NlcVdpRequest) * (const guint8 *) mnl_attr_get_payload(a);
                        *has_request = TRUE;
                }
        }
}

gboolean
nlc_vdp_parse_notification(const guint8 *buf, gsize len, NlcVdpNotification *out)
{
        const struct nlmsghdr *nlh = (const struct nlmsghdr *) buf;
        gboolean has_name = FALSE, has_uuid = FALSE, has_request = FALSE;
        const struct nlattr *a;

        memset(out, 0, sizeof(*out));
        if (len < sizeof(*nlh) || !mnl_nlmsg_ok(nlh, (int) len) || nlh->nlmsg_type != RTM_SETLINK ||
            nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct ifinfomsg)))
                return FALSE;
        /* lldpad leaves ifi_index 0: the uplink is only named. */
        mnl_attr_for_each(a, nlh, sizeof(struct ifinfomsg))
        {
                const struct nlattr *port;

                if (mnl_attr_get_type(a) == IFLA_IFNAME &&
                    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0) {
                        g_strlcpy(out->uplink_name, mnl_attr_get_str(a), sizeof out->uplink_name);
                        has_name = TRUE;
                }
                if (mnl_attr_get_type(a) != IFLA_VF_PORTS)
                        continue;
                mnl_attr_for_each_nested(port, a)
                {
                        if (mnl_attr_get_type(port) == IFLA_VF_PORT)
                                read_notified_port(port, out, &has_uuid, &has_request);
                }
        }
        return has_name && has_uuid && has_request;
}

gboolean
nlc_vdp_response_is_success(guint16 response)
{
        return response == PORT_VDP_RESPONSE_SUCCESS || response == PORT_PROFILE_RESPONSE_SUCCESS;
}

gboolean
nlc_vdp_response_is_pending(guint16 response)
{
        return response == PORT_PROFILE_RESPONSE_INPROGRESS;
}

const char *
nlc_vdp_response_to_string(guint16 response)
{
        /* lldpad reports VDP22's status byte; its low nibble shares the
         * first values of PORT_VDP_RESPONSE_* (tests/lldpad/README.md 3.4). */
        if (response >= 0x100) {
                switch (response) {
                case PORT_PROFILE_RESPONSE_SUCCESS:
                        return "success";
                case PORT_PROFILE_RESPONSE_INPROGRESS:
                        return "in progress";
                case PORT_PROFILE_RESPONSE_INVALID:
                        return "invalid";
                case PORT_PROFILE_RESPONSE_BADSTATE:
                        return "bad state";
                case PORT_PROFILE_RESPONSE_INSUFFICIENT_RESOURCES:
                        return "insufficient resources";
                default:
                        return "error";
                }
        }
        switch (response & 0x0f) {
        case 0:
                return "success";
        case 1:
                return "invalid format";
        case 2:
                return "insufficient resources";
        case 3:
                return "unable to contact the VSI manager (unused VTID)";
        case 4:
                return "other failure (VTID violation)";
        case 5:
                return "invalid VID, MAC or group (VTID version violation)";
        case 6:
                return "out of sync";
        default:
                return "unknown response";
        }
}

int
nlc_vdp_socket_open(guint32 *port_id)
{
        struct sockaddr_nl addr = { .nl_family = AF_NETLINK };
        socklen_t len = sizeof addr;
        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
        int e;

        if (fd < 0)
                return -errno;
        /* The kernel picks the port id: it names this socket in the requests
         * (nlmsg_pid), where lldpad sends its notifications. */
        if (bind(fd, (struct sockaddr *) &addr, sizeof addr) < 0 ||
            getsockname(fd, (struct sockaddr *) &addr, &len) < 0) {
                e = errno;
                close(fd);
                return -e;
        }
        *port_id = addr.nl_pid;
        return fd;
}

int
nlc_vdp_socket_open_at(guint32 port_id)
{
        struct sockaddr_nl addr = { .nl_family = AF_NETLINK, .nl_pid = port_id };
        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
        int e;

        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &addr, sizeof addr) < 0) {
                e = errno;
                close(fd);
                return -e;
        }
        return fd;
}

int
nlc_vdp_socket_send(int fd, guint32 to_port, const guint8 *buf, gsize len)
{
        struct sockaddr_nl to = { .nl_family = AF_NETLINK, .nl_pid = to_port };

        /* ECONNREFUSED: nobody holds that port (lldpad is gone). */
        return sendto(fd, buf, len, 0, (struct sockaddr *) &to, sizeof to) < 0 ? -errno : 0;
}

gssize
nlc_vdp_socket_receive(int fd, guint8 *buf, gsize size, guint32 from_port)
{
        struct sockaddr_nl from = { 0 };
        socklen_t len = sizeof from;
        gssize n = recvfrom(fd, buf, size, 0, (struct sockaddr *) &from, &len);

        if (n < 0)
                return -errno;
        /* Anything but lldpad's answer (a kernel message, another sender) is
         * not for us: 0, read on. */
        return from.nl_pid == from_port ? n : 0;
}
