/*
 * vdp-request: one 802.1Qbg VDP request to lldpad, sent and followed the way
 * libvirt does it (src/util/virnetdevvportprofile.c, virnetlink.c), with
 * every message printed and timed. A probe for tests/lldpad, not part of the
 * build: see tests/lldpad/README.md.
 *
 *   gcc -O2 -Wall -Wextra -o vdp-request tests/lldpad/vdp-request.c
 *
 * What it does, as libvirt does:
 *  - two NETLINK_ROUTE sockets: an "event" socket (libvirt's netlink event
 *    service; its port id goes into nlmsg_pid of every request, and lldpad
 *    sends its unsolicited notifications to that port) and a request socket
 *    the replies come back on (lldpad answers to the sender's address);
 *  - RTM_SETLINK to lldpad's port id (= its pid, from a pid file or given):
 *    ifinfomsg of the uplink (the macvtap's lower device), IFLA_IFNAME,
 *    IFLA_VFINFO_LIST/IFLA_VF_INFO/{IFLA_VF_MAC, IFLA_VF_VLAN},
 *    IFLA_VF_PORTS/IFLA_VF_PORT/{IFLA_PORT_VSI_TYPE, IFLA_PORT_INSTANCE_UUID,
 *    IFLA_PORT_REQUEST}; the reply is an NLMSG_ERROR (0 = accepted);
 *  - then RTM_GETLINK (IFLA_EXT_MASK = RTEXT_FILTER_VF) to lldpad every
 *    125 ms for up to 10 s, looking for the IFLA_VF_PORT whose IFLA_PORT_VF is
 *    PORT_SELF_VF and whose IFLA_PORT_INSTANCE_UUID is ours: IFLA_PORT_RESPONSE
 *    0 or 0x100 is success, absent or 0x101 in progress, anything else failure;
 *  - optionally keeps the event socket open and prints what arrives there.
 *
 * Exit status: 0 success, 1 refused (a response code other than success),
 * 2 timed out (still in progress), 3 transport error (send failed or no reply
 * in 2 s), 4 lldpad answered the request with an error (NLMSG_ERROR != 0),
 * 5 no status entry for the instance, 6 --expect-unsolicited and none came,
 * 64 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#define ACK_TIMEOUT_MS 2000 /* libvirt's NETLINK_ACK_TIMEOUT_S (it is in ms) */

enum exit_code {
        EXIT_OK = 0,
        EXIT_REFUSED = 1,
        EXIT_TIMEOUT = 2,
        EXIT_TRANSPORT = 3,
        EXIT_NLERROR = 4,
        EXIT_NOENTRY = 5,
        EXIT_NO_UNSOLICITED = 6,
        EXIT_USAGE = 64,
};

static struct {
        const char *op;
        int request; /* PORT_REQUEST_*, or -1 for status/listen */
        uint32_t lldpad_pid;
        const char *pid_file;
        const char *link;
        const char *dev;
        unsigned char mac[6];
        bool have_mac;
        int vlan;
        int mgr, type, typever;
        unsigned char uuid[16];
        bool have_uuid;
        int timeout_ms, interval_ms;
        bool no_poll;
        bool no_vfinfo;
        int listen_ms;
        bool expect_unsolicited;
        uint32_t event_port;
        bool hex;
} opt = {
        .vlan = 0,
        .mgr = -1,
        .type = -1,
        .typever = -1,
        .timeout_ms = 10000,
        .interval_ms = 125,
};

static struct timespec t0;

static double
elapsed_ms(void)
{
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return (t.tv_sec - t0.tv_sec) * 1e3 + (t.tv_nsec - t0.tv_nsec) / 1e6;
}

static void __attribute__((format(printf, 1, 2))) out(const char *fmt, ...)
{
        va_list ap;

        printf("%9.3f ms  ", elapsed_ms());
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
        fflush(stdout);
}

static void
hexdump(const char *what, const void *data, size_t len)
{
        const unsigned char *p = data;

        if (!opt.hex)
                return;
        printf("             %s, %zu bytes:\n", what, len);
        for (size_t i = 0; i < len; i += 16) {
                printf("             %04zx ", i);
                for (size_t j = i; j < i + 16 && j < len; j++)
                        printf(" %02x", p[j]);
                putchar('\n');
        }
        fflush(stdout);
}

static const char *
uuid_str(const unsigned char *u)
{
        static char s[40];

        snprintf(s, sizeof(s),
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
                 u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
                 u[15]);
        return s;
}

static const char *
mac_str(const unsigned char *m)
{
        static char s[20];

        snprintf(s, sizeof(s), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
        return s;
}

static const char *
request_name(int r)
{
        switch (r) {
        case PORT_REQUEST_PREASSOCIATE:
                return "PREASSOCIATE";
        case PORT_REQUEST_PREASSOCIATE_RR:
                return "PREASSOCIATE_RR";
        case PORT_REQUEST_ASSOCIATE:
                return "ASSOCIATE";
        case PORT_REQUEST_DISASSOCIATE:
                return "DISASSOCIATE";
        }
        return "?";
}

/* The IFLA_PORT_RESPONSE values of linux/if_link.h; lldpad's VDP22 reports
 * its own status byte (qbg_vdp22def.h), which shares 0..5 with these. */
static const char *
response_name(unsigned r)
{
        switch (r) {
        case PORT_VDP_RESPONSE_SUCCESS:
                return "VDP_SUCCESS";
        case PORT_VDP_RESPONSE_INVALID_FORMAT:
                return "VDP_INVALID_FORMAT";
        case PORT_VDP_RESPONSE_INSUFFICIENT_RESOURCES:
                return "VDP_INSUFFICIENT_RESOURCES";
        case PORT_VDP_RESPONSE_UNUSED_VTID:
                return "VDP_UNUSED_VTID (lldpad: no contact to VSI manager)";
        case PORT_VDP_RESPONSE_VTID_VIOLATION:
                return "VDP_VTID_VIOLATION (lldpad: other failure)";
        case PORT_VDP_RESPONSE_VTID_VERSION_VIOALTION:
                return "VDP_VTID_VERSION_VIOLATION (lldpad: invalid VID/MAC/group)";
        case PORT_VDP_RESPONSE_OUT_OF_SYNC:
                return "VDP_OUT_OF_SYNC";
        case 252:
                return "lldpad VDP22_RESP_DEASSOC";
        case 253:
                return "lldpad VDP22_RESP_TIMEOUT";
        case 254:
                return "lldpad VDP22_RESP_KEEP";
        case 255:
                return "lldpad VDP22_RESP_NONE";
        case PORT_PROFILE_RESPONSE_SUCCESS:
                return "PROFILE_SUCCESS";
        case PORT_PROFILE_RESPONSE_INPROGRESS:
                return "PROFILE_INPROGRESS";
        case PORT_PROFILE_RESPONSE_INVALID:
                return "PROFILE_INVALID";
        case PORT_PROFILE_RESPONSE_BADSTATE:
                return "PROFILE_BADSTATE";
        case PORT_PROFILE_RESPONSE_INSUFFICIENT_RESOURCES:
                return "PROFILE_INSUFFICIENT_RESOURCES";
        case PORT_PROFILE_RESPONSE_ERROR:
                return "PROFILE_ERROR";
        }
        return "unknown";
}

/* ---- building messages ------------------------------------------------- */

struct msg {
        union {
                struct nlmsghdr h;
                unsigned char buf[4096];
        };
};

static void
msg_init(struct msg *m, uint16_t type, uint16_t flags, uint32_t seq, uint32_t pid)
{
        memset(m, 0, sizeof(*m));
        m->h.nlmsg_len = NLMSG_HDRLEN;
        m->h.nlmsg_type = type;
        m->h.nlmsg_flags = flags;
        m->h.nlmsg_seq = seq;
        m->h.nlmsg_pid = pid;
}

static void *
msg_reserve(struct msg *m, size_t len)
{
        unsigned char *p = m->buf + NLMSG_ALIGN(m->h.nlmsg_len);

        if (NLMSG_ALIGN(m->h.nlmsg_len) + NLMSG_ALIGN(len) > sizeof(m->buf)) {
                fprintf(stderr, "vdp-request: message too long\n");
                exit(EXIT_USAGE);
        }
        m->h.nlmsg_len = NLMSG_ALIGN(m->h.nlmsg_len) + NLMSG_ALIGN(len);
        return p;
}

static struct nlattr *
attr_put(struct msg *m, uint16_t type, const void *data, size_t len)
{
        struct nlattr *a = msg_reserve(m, NLA_HDRLEN + len);

        a->nla_type = type;
        a->nla_len = NLA_HDRLEN + len;
        if (len)
                memcpy((unsigned char *) a + NLA_HDRLEN, data, len);
        return a;
}

static struct nlattr *
nest_start(struct msg *m, uint16_t type)
{
        return attr_put(m, type, NULL, 0);
}

static void
nest_end(struct msg *m, struct nlattr *a)
{
        a->nla_len = (unsigned char *) m->buf + m->h.nlmsg_len - (unsigned char *) a;
}

/* ---- parsing ------------------------------------------------------------ */

static void
parse(struct nlattr **tb, int max, const void *data, int len)
{
        const struct nlattr *a = data;

        memset(tb, 0, sizeof(*tb) * (max + 1));
        while (len >= (int) NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= len) {
                int type = a->nla_type & NLA_TYPE_MASK;

                if (type <= max)
                        tb[type] = (struct nlattr *) a;
                len -= NLA_ALIGN(a->nla_len);
                a = (const struct nlattr *) ((const unsigned char *) a + NLA_ALIGN(a->nla_len));
        }
}

static void *
adata(const struct nlattr *a)
{
        return (unsigned char *) a + NLA_HDRLEN;
}

static int
alen(const struct nlattr *a)
{
        return a->nla_len - NLA_HDRLEN;
}

/* ---- sockets ------------------------------------------------------------ */

static int
nl_open(uint32_t port, uint32_t *bound)
{
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_pid = port };
        socklen_t sl = sizeof(sa);
        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
            getsockname(fd, (struct sockaddr *) &sa, &sl) < 0) {
                fprintf(stderr, "vdp-request: netlink socket (port %u): %s\n", port,
                        strerror(errno));
                exit(EXIT_TRANSPORT);
        }
        *bound = sa.nl_pid;
        return fd;
}

static int
nl_send(int fd, struct msg *m, uint32_t to)
{
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_pid = to };

        if (to)
                hexdump("sent", m->buf, m->h.nlmsg_len);
        if (sendto(fd, m->buf, m->h.nlmsg_len, 0, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        return 0;
}

/* Waits up to timeout_ms for one datagram; returns its length, 0 on timeout,
 * -errno on error. *from gets the sender's port id. */
static int
nl_recv(int fd, struct msg *m, int timeout_ms, uint32_t *from)
{
        struct pollfd p = { .fd = fd, .events = POLLIN };
        struct sockaddr_nl sa;
        socklen_t sl = sizeof(sa);
        int n = poll(&p, 1, timeout_ms);
        ssize_t len;

        if (n < 0)
                return -errno;
        if (n == 0)
                return 0;
        len = recvfrom(fd, m->buf, sizeof(m->buf), 0, (struct sockaddr *) &sa, &sl);
        if (len < 0)
                return -errno;
        *from = sa.nl_pid;
        if (sa.nl_pid)
                hexdump("received", m->buf, len);
        return (int) len;
}

/* ---- the uplink, as libvirt finds it ----------------------------------- */

struct link {
        int index;
        char name[IFNAMSIZ];
        unsigned char mac[6];
        int link;        /* IFLA_LINK, 0 if none */
        bool link_netns; /* IFLA_LINK_NETNSID present: IFLA_LINK is elsewhere */
        char kind[32];
};

static int
kernel_getlink(int index, const char *name, struct link *l)
{
        struct msg m, r;
        struct ifinfomsg *ifi;
        struct nlattr *tb[IFLA_MAX + 1];
        uint32_t port, from;
        int fd = nl_open(0, &port), len;

        msg_init(&m, RTM_GETLINK, NLM_F_REQUEST, 1, 0);
        ifi = msg_reserve(&m, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = index;
        if (name)
                attr_put(&m, IFLA_IFNAME, name, strlen(name) + 1);
        if (nl_send(fd, &m, 0) < 0 || (len = nl_recv(fd, &r, 2000, &from)) <= 0) {
                close(fd);
                return -1;
        }
        close(fd);
        if (r.h.nlmsg_type == NLMSG_ERROR) {
                errno = -((struct nlmsgerr *) NLMSG_DATA(&r.h))->error;
                return -1;
        }
        ifi = NLMSG_DATA(&r.h);
        parse(tb, IFLA_MAX, IFLA_RTA(ifi), IFLA_PAYLOAD(&r.h));
        memset(l, 0, sizeof(*l));
        l->index = ifi->ifi_index;
        if (tb[IFLA_IFNAME])
                snprintf(l->name, sizeof(l->name), "%s", (char *) adata(tb[IFLA_IFNAME]));
        if (tb[IFLA_ADDRESS] && alen(tb[IFLA_ADDRESS]) == 6)
                memcpy(l->mac, adata(tb[IFLA_ADDRESS]), 6);
        if (tb[IFLA_LINK])
                l->link = *(int *) adata(tb[IFLA_LINK]);
        l->link_netns = tb[IFLA_LINK_NETNSID] != NULL;
        if (tb[IFLA_LINKINFO]) {
                struct nlattr *li[IFLA_INFO_MAX + 1];

                parse(li, IFLA_INFO_MAX, adata(tb[IFLA_LINKINFO]), alen(tb[IFLA_LINKINFO]));
                if (li[IFLA_INFO_KIND])
                        snprintf(l->kind, sizeof(l->kind), "%s",
                                 (char *) adata(li[IFLA_INFO_KIND]));
        }
        return 0;
}

/* libvirt's virNetDevVPortProfileGetPhysdevAndVlan: follow IFLA_LINK to the
 * root device. libvirt follows every IFLA_LINK; a veth reports its peer's
 * index there (with IFLA_LINK_NETNSID when the peer is in another network
 * namespace), which libvirt would look up in its own namespace. This probe
 * stops there and says so. */
static int
find_uplink(const char *ifname, struct link *dev, unsigned char *mac)
{
        struct link l;

        if (kernel_getlink(0, ifname, &l) < 0) {
                fprintf(stderr, "vdp-request: %s: %s\n", ifname, strerror(errno));
                return -1;
        }
        memcpy(mac, l.mac, 6);
        out("link %s: index %d kind %s mac %s IFLA_LINK %d%s", l.name, l.index,
            l.kind[0] ? l.kind : "-", mac_str(l.mac), l.link,
            l.link_netns ? " (in another netns)" : "");
        for (int depth = 0; l.link && l.link != l.index && depth < 8; depth++) {
                struct link up;

                if (l.link_netns) {
                        out("note: %s's IFLA_LINK %d is in another namespace (veth peer); libvirt "
                            "would look up index %d here, this probe stops at %s",
                            l.name, l.link, l.link, l.name);
                        break;
                }
                if (kernel_getlink(l.link, NULL, &up) < 0) {
                        fprintf(stderr, "vdp-request: index %d: %s\n", l.link, strerror(errno));
                        return -1;
                }
                out("  lower %s: index %d kind %s IFLA_LINK %d%s", up.name, up.index,
                    up.kind[0] ? up.kind : "-", up.link,
                    up.link_netns ? " (in another netns)" : "");
                l = up;
        }
        *dev = l;
        return 0;
}

/* ---- the requests ------------------------------------------------------ */

static uint32_t seq;

static void
build_setlink(struct msg *m, const struct link *dev, const unsigned char *mac, uint32_t src_pid)
{
        struct ifinfomsg *ifi;
        struct nlattr *list, *info, *ports, *port;
        struct ifla_vf_mac vf_mac = { .vf = (uint32_t) PORT_SELF_VF };
        struct ifla_vf_vlan vf_vlan = { .vf = (uint32_t) PORT_SELF_VF, .vlan = opt.vlan, .qos = 0 };
        struct ifla_port_vsi vsi = { 0 };
        uint8_t req = opt.request;

        msg_init(m, RTM_SETLINK, NLM_F_REQUEST, ++seq, src_pid);
        ifi = msg_reserve(m, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = dev->index;
        attr_put(m, IFLA_IFNAME, dev->name, strlen(dev->name) + 1);

        if (!opt.no_vfinfo) { /* libvirt always sends it for 802.1Qbg */
                list = nest_start(m, IFLA_VFINFO_LIST);
                info = nest_start(m, IFLA_VF_INFO);
                memcpy(vf_mac.mac, mac, 6);
                attr_put(m, IFLA_VF_MAC, &vf_mac, sizeof(vf_mac));
                attr_put(m, IFLA_VF_VLAN, &vf_vlan, sizeof(vf_vlan));
                nest_end(m, info);
                nest_end(m, list);
        }

        ports = nest_start(m, IFLA_VF_PORTS);
        port = nest_start(m, IFLA_VF_PORT);
        vsi.vsi_mgr_id = opt.mgr;
        vsi.vsi_type_id[0] = opt.type & 0xff; /* least significant byte first */
        vsi.vsi_type_id[1] = (opt.type >> 8) & 0xff;
        vsi.vsi_type_id[2] = (opt.type >> 16) & 0xff;
        vsi.vsi_type_version = opt.typever;
        attr_put(m, IFLA_PORT_VSI_TYPE, &vsi, sizeof(vsi));
        attr_put(m, IFLA_PORT_INSTANCE_UUID, opt.uuid, 16);
        /* libvirt puts IFLA_PORT_VF only when vf != PORT_SELF_VF: not here */
        attr_put(m, IFLA_PORT_REQUEST, &req, 1);
        nest_end(m, port);
        nest_end(m, ports);
}

static void
build_getlink(struct msg *m, const struct link *dev, uint32_t src_pid)
{
        struct ifinfomsg *ifi;
        uint32_t mask = RTEXT_FILTER_VF;

        msg_init(m, RTM_GETLINK, NLM_F_REQUEST, ++seq, src_pid);
        ifi = msg_reserve(m, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = dev->index;
        /* libvirt's status poll passes no IFLA_IFNAME (ifname NULL) */
        attr_put(m, IFLA_EXT_MASK, &mask, sizeof(mask));
}

/* One IFLA_VF_PORT entry of a reply or notification. */
struct port_entry {
        bool have_vf, have_uuid, have_resp, have_req, have_vsi;
        uint32_t vf;
        unsigned char uuid[16];
        unsigned resp;
        unsigned req;
        struct ifla_port_vsi vsi;
};

static int
port_entries(struct nlattr *vf_ports, struct port_entry *e, int max)
{
        int n = 0, len = alen(vf_ports);
        struct nlattr *a = adata(vf_ports);

        while (len >= (int) NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= len &&
               n < max) {
                struct nlattr *tp[IFLA_PORT_MAX + 1];
                struct port_entry *p = &e[n];

                memset(p, 0, sizeof(*p));
                if ((a->nla_type & NLA_TYPE_MASK) == IFLA_VF_PORT) {
                        parse(tp, IFLA_PORT_MAX, adata(a), alen(a));
                        if ((p->have_vf = tp[IFLA_PORT_VF] && alen(tp[IFLA_PORT_VF]) >= 4))
                                p->vf = *(uint32_t *) adata(tp[IFLA_PORT_VF]);
                        if ((p->have_uuid = tp[IFLA_PORT_INSTANCE_UUID] &&
                                            alen(tp[IFLA_PORT_INSTANCE_UUID]) >= 16))
                                memcpy(p->uuid, adata(tp[IFLA_PORT_INSTANCE_UUID]), 16);
                        if ((p->have_resp =
                                     tp[IFLA_PORT_RESPONSE] && alen(tp[IFLA_PORT_RESPONSE]) >= 2))
                                p->resp = *(uint16_t *) adata(tp[IFLA_PORT_RESPONSE]);
                        /* lldpad's notifications carry it as a u16, the
                         * kernel's ABI says u8: read the first byte (LE) */
                        if ((p->have_req =
                                     tp[IFLA_PORT_REQUEST] && alen(tp[IFLA_PORT_REQUEST]) >= 1))
                                p->req = *(uint8_t *) adata(tp[IFLA_PORT_REQUEST]);
                        if ((p->have_vsi = tp[IFLA_PORT_VSI_TYPE] &&
                                           alen(tp[IFLA_PORT_VSI_TYPE]) >= (int) sizeof(p->vsi)))
                                memcpy(&p->vsi, adata(tp[IFLA_PORT_VSI_TYPE]), sizeof(p->vsi));
                        n++;
                }
                len -= NLA_ALIGN(a->nla_len);
                a = (struct nlattr *) ((unsigned char *) a + NLA_ALIGN(a->nla_len));
        }
        return n;
}

static void
print_entry(const char *prefix, const struct port_entry *p)
{
        char resp[96], vsi[64] = "", req[40] = "";

        if (p->have_resp)
                snprintf(resp, sizeof(resp), "response %u=0x%x (%s)", p->resp, p->resp,
                         response_name(p->resp & 0xff ? p->resp & 0xff : p->resp));
        else
                snprintf(resp, sizeof(resp), "no IFLA_PORT_RESPONSE (libvirt: in progress)");
        if (p->have_vsi)
                snprintf(vsi, sizeof(vsi), " mgr %u type %u ver %u", p->vsi.vsi_mgr_id,
                         p->vsi.vsi_type_id[0] | p->vsi.vsi_type_id[1] << 8 |
                                 p->vsi.vsi_type_id[2] << 16,
                         p->vsi.vsi_type_version);
        if (p->have_req)
                snprintf(req, sizeof(req), " request %u (%s)", p->req, request_name(p->req));
        out("%s vf %s%d uuid %s%s%s %s", prefix, p->have_vf ? "" : "(none)",
            p->have_vf ? (int) p->vf : 0, p->have_uuid ? uuid_str(p->uuid) : "(none)", vsi, req,
            resp);
}

enum status { ST_SUCCESS, ST_INPROGRESS, ST_FAILED, ST_NOENTRY, ST_ERROR };

/* One GETLINK to lldpad. */
static enum status
query_status(int fd, const struct link *dev, uint32_t src_pid, uint32_t dst, bool verbose,
             unsigned *code, int *nentries)
{
        struct msg m, r;
        struct port_entry e[32];
        struct nlattr *tb[IFLA_MAX + 1];
        uint32_t from;
        int len, n, err;

        build_getlink(&m, dev, src_pid);
        if ((err = nl_send(fd, &m, dst)) < 0) {
                out("GETLINK send to port %u failed: %s", dst, strerror(-err));
                return ST_ERROR;
        }
        if ((len = nl_recv(fd, &r, ACK_TIMEOUT_MS, &from)) <= 0) {
                out("GETLINK: %s", len == 0 ? "no reply in 2 s" : strerror(-len));
                return ST_ERROR;
        }
        if (r.h.nlmsg_type == NLMSG_ERROR) {
                struct nlmsgerr *ne = NLMSG_DATA(&r.h);

                out("GETLINK reply from port %u: NLMSG_ERROR %d (%s)", from, ne->error,
                    strerror(-ne->error));
                return ST_ERROR;
        }
        parse(tb, IFLA_MAX, IFLA_RTA((struct ifinfomsg *) NLMSG_DATA(&r.h)), IFLA_PAYLOAD(&r.h));
        n = tb[IFLA_VF_PORTS] ? port_entries(tb[IFLA_VF_PORTS], e, 32) : 0;
        *nentries = n;
        if (verbose)
                out("GETLINK reply from port %u: type %u (%s) len %u seq %u, %s, %d IFLA_VF_PORT",
                    from, r.h.nlmsg_type, r.h.nlmsg_type == NLMSG_DONE ? "NLMSG_DONE" : "?",
                    r.h.nlmsg_len, r.h.nlmsg_seq,
                    tb[IFLA_VF_PORTS] ? "IFLA_VF_PORTS" : "no IFLA_VF_PORTS", n);
        for (int i = 0; i < n; i++) {
                if (verbose)
                        print_entry("  entry", &e[i]);
                /* libvirt's match: IFLA_PORT_VF == vf and the instance uuid */
                if (e[i].have_vf && e[i].vf == (uint32_t) PORT_SELF_VF && e[i].have_uuid &&
                    memcmp(e[i].uuid, opt.uuid, 16) == 0) {
                        if (!e[i].have_resp || e[i].resp == PORT_PROFILE_RESPONSE_INPROGRESS)
                                return ST_INPROGRESS;
                        *code = e[i].resp;
                        if (e[i].resp == PORT_VDP_RESPONSE_SUCCESS ||
                            e[i].resp == PORT_PROFILE_RESPONSE_SUCCESS)
                                return ST_SUCCESS;
                        return ST_FAILED;
                }
        }
        return ST_NOENTRY;
}

static void
print_notification(const struct msg *r, int len, uint32_t from)
{
        struct nlattr *tb[IFLA_MAX + 1];
        struct port_entry e[8];
        const struct ifinfomsg *ifi = NLMSG_DATA(&r->h);
        int n;

        out("UNSOLICITED on the event socket from port %u: type %u%s len %d nlmsg_pid %u seq %u "
            "flags 0x%x",
            from, r->h.nlmsg_type, r->h.nlmsg_type == RTM_SETLINK ? " (RTM_SETLINK)" : "", len,
            r->h.nlmsg_pid, r->h.nlmsg_seq, r->h.nlmsg_flags);
        if (r->h.nlmsg_type != RTM_SETLINK)
                return;
        parse(tb, IFLA_MAX, IFLA_RTA(ifi), IFLA_PAYLOAD(&r->h));
        out("  ifindex %d IFLA_IFNAME %s", ifi->ifi_index,
            tb[IFLA_IFNAME] ? (char *) adata(tb[IFLA_IFNAME]) : "(none)");
        if (tb[IFLA_VFINFO_LIST]) {
                struct nlattr *a = adata(tb[IFLA_VFINFO_LIST]);
                int rem = alen(tb[IFLA_VFINFO_LIST]);

                while (rem >= (int) NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= rem) {
                        struct nlattr *vf[IFLA_VF_MAX + 1];

                        parse(vf, IFLA_VF_MAX, adata(a), alen(a));
                        if (vf[IFLA_VF_MAC])
                                out("  IFLA_VF_MAC vf %d mac %s",
                                    (int) ((struct ifla_vf_mac *) adata(vf[IFLA_VF_MAC]))->vf,
                                    mac_str(((struct ifla_vf_mac *) adata(vf[IFLA_VF_MAC]))->mac));
                        if (vf[IFLA_VF_VLAN])
                                out("  IFLA_VF_VLAN vlan %u qos %u",
                                    ((struct ifla_vf_vlan *) adata(vf[IFLA_VF_VLAN]))->vlan,
                                    ((struct ifla_vf_vlan *) adata(vf[IFLA_VF_VLAN]))->qos);
                        rem -= NLA_ALIGN(a->nla_len);
                        a = (struct nlattr *) ((unsigned char *) a + NLA_ALIGN(a->nla_len));
                }
        }
        n = tb[IFLA_VF_PORTS] ? port_entries(tb[IFLA_VF_PORTS], e, 8) : 0;
        for (int i = 0; i < n; i++)
                print_entry("  port", &e[i]);
}

/* ---- options ------------------------------------------------------------ */

static int
parse_hex_bytes(const char *s, unsigned char *out_bytes, int n, const char *seps)
{
        for (int i = 0; i < n; i++) {
                unsigned v;
                int used;

                while (*s && strchr(seps, *s))
                        s++;
                if (sscanf(s, "%2x%n", &v, &used) != 1 || used != 2)
                        return -1;
                out_bytes[i] = v;
                s += used;
        }
        while (*s && strchr(seps, *s))
                s++;
        return *s ? -1 : 0;
}

static void
usage(void)
{
        fprintf(stderr,
                "usage: vdp-request [options] OP\n"
                "  OP: preassociate | preassociate-rr | associate | disassociate | status | "
                "listen\n"
                "  -p, --lldpad-pid N      lldpad's netlink port id (its pid)\n"
                "  -P, --pid-file PATH     read it from PATH (libvirt reads /var/run/lldpad.pid)\n"
                "  -l, --link IF           the guest's macvtap: uplink and MAC found as libvirt "
                "does\n"
                "  -d, --dev IF            the uplink itself (then --mac is needed)\n"
                "  -m, --mac MAC           the VSI's MAC (default: the --link device's)\n"
                "      --vlan N            VLAN id in IFLA_VF_VLAN (default 0, libvirt's without "
                "a VLAN)\n"
                "      --mgr N --type N --typever N --uuid UUID   the VSI (managerid, typeid,\n"
                "                          typeidversion, instanceid of <virtualport>)\n"
                "  -t, --timeout-ms N      status poll limit (default 10000, libvirt's)\n"
                "  -i, --interval-ms N     status poll interval (default 125, libvirt's)\n"
                "      --no-poll           SETLINK only (libvirt's setlink_only)\n"
                "      --no-vfinfo         leave IFLA_VFINFO_LIST out (libvirt never does)\n"
                "  -w, --listen-ms N       then keep the event socket open N ms, print arrivals\n"
                "      --expect-unsolicited  exit 6 unless something arrived there\n"
                "      --event-port N      bind the event socket to port id N (default: kernel "
                "picks)\n"
                "  -x, --hex               hex dump every message\n");
        exit(EXIT_USAGE);
}

static void
parse_options(int argc, char **argv)
{
        enum {
                O_VLAN = 256,
                O_MGR,
                O_TYPE,
                O_TYPEVER,
                O_UUID,
                O_NOPOLL,
                O_EXPECT,
                O_EVPORT,
                O_NOVF
        };
        static const struct option lo[] = {
                { "lldpad-pid", required_argument, NULL, 'p' },
                { "pid-file", required_argument, NULL, 'P' },
                { "link", required_argument, NULL, 'l' },
                { "dev", required_argument, NULL, 'd' },
                { "mac", required_argument, NULL, 'm' },
                { "vlan", required_argument, NULL, O_VLAN },
                { "mgr", required_argument, NULL, O_MGR },
                { "type", required_argument, NULL, O_TYPE },
                { "typever", required_argument, NULL, O_TYPEVER },
                { "uuid", required_argument, NULL, O_UUID },
                { "timeout-ms", required_argument, NULL, 't' },
                { "interval-ms", required_argument, NULL, 'i' },
                { "no-poll", no_argument, NULL, O_NOPOLL },
                { "no-vfinfo", no_argument, NULL, O_NOVF },
                { "listen-ms", required_argument, NULL, 'w' },
                { "expect-unsolicited", no_argument, NULL, O_EXPECT },
                { "event-port", required_argument, NULL, O_EVPORT },
                { "hex", no_argument, NULL, 'x' },
                { NULL, 0, NULL, 0 },
        };
        int c;

        while ((c = getopt_long(argc, argv, "p:P:l:d:m:t:i:w:x", lo, NULL)) != -1) {
                switch (c) {
                case 'p':
                        opt.lldpad_pid = strtoul(optarg, NULL, 0);
                        break;
                case 'P':
                        opt.pid_file = optarg;
                        break;
                case 'l':
                        opt.link = optarg;
                        break;
                case 'd':
                        opt.dev = optarg;
                        break;
                case 'm':
                        if (parse_hex_bytes(optarg, opt.mac, 6, ":-") < 0)
                                usage();
                        opt.have_mac = true;
                        break;
                case O_VLAN:
                        opt.vlan = atoi(optarg);
                        break;
                case O_MGR:
                        opt.mgr = strtol(optarg, NULL, 0);
                        break;
                case O_TYPE:
                        opt.type = strtol(optarg, NULL, 0);
                        break;
                case O_TYPEVER:
                        opt.typever = strtol(optarg, NULL, 0);
                        break;
                case O_UUID:
                        if (parse_hex_bytes(optarg, opt.uuid, 16, "-") < 0)
                                usage();
                        opt.have_uuid = true;
                        break;
                case 't':
                        opt.timeout_ms = atoi(optarg);
                        break;
                case 'i':
                        opt.interval_ms = atoi(optarg);
                        break;
                case O_NOPOLL:
                        opt.no_poll = true;
                        break;
                case O_NOVF:
                        opt.no_vfinfo = true;
                        break;
                case 'w':
                        opt.listen_ms = atoi(optarg);
                        break;
                case O_EXPECT:
                        opt.expect_unsolicited = true;
                        break;
                case O_EVPORT:
                        opt.event_port = strtoul(optarg, NULL, 0);
                        break;
                case 'x':
                        opt.hex = true;
                        break;
                default:
                        usage();
                }
        }
        if (optind != argc - 1)
                usage();
        opt.op = argv[optind];
        if (!strcmp(opt.op, "preassociate"))
                opt.request = PORT_REQUEST_PREASSOCIATE;
        else if (!strcmp(opt.op, "preassociate-rr"))
                opt.request = PORT_REQUEST_PREASSOCIATE_RR;
        else if (!strcmp(opt.op, "associate"))
                opt.request = PORT_REQUEST_ASSOCIATE;
        else if (!strcmp(opt.op, "disassociate"))
                opt.request = PORT_REQUEST_DISASSOCIATE;
        else if (!strcmp(opt.op, "status") || !strcmp(opt.op, "listen"))
                opt.request = -1;
        else
                usage();
        if (strcmp(opt.op, "listen") && !opt.link && !opt.dev) {
                fprintf(stderr, "vdp-request: --link or --dev is needed\n");
                usage();
        }
        if (opt.request >= 0 &&
            (opt.mgr < 0 || opt.mgr > 255 || opt.type < 0 || opt.type > 0xffffff ||
             opt.typever < 0 || opt.typever > 255 || !opt.have_uuid)) {
                fprintf(stderr, "vdp-request: --mgr (0-255), --type (0-16777215), --typever "
                                "(0-255) and --uuid are needed\n");
                usage();
        }
        if (opt.dev && !opt.link && !opt.have_mac && opt.request >= 0) {
                fprintf(stderr, "vdp-request: --dev needs --mac\n");
                usage();
        }
}

static uint32_t
read_pid_file(const char *path)
{
        char buf[32] = "";
        FILE *f = fopen(path, "r");
        unsigned long v;
        char *end;

        if (!f) {
                out("cannot open %s: %s (libvirt: \"Error opening file\")", path, strerror(errno));
                return 0;
        }
        if (!fgets(buf, sizeof(buf), f))
                buf[0] = 0;
        fclose(f);
        v = strtoul(buf, &end, 10);
        if (end == buf || v == 0) {
                out("cannot parse the pid in %s (libvirt: \"error parsing pid of lldpad\")", path);
                return 0;
        }
        return (uint32_t) v;
}

/* ---- main ---------------------------------------------------------------- */

static int
listen_events(int ev, uint32_t ev_port)
{
        int got = 0;
        double end = elapsed_ms() + opt.listen_ms;

        out("listening on the event socket (port %u) for %d ms", ev_port, opt.listen_ms);
        for (double left; (left = end - elapsed_ms()) > 0;) {
                struct msg r;
                uint32_t from;
                int len = nl_recv(ev, &r, (int) left + 1, &from);

                if (len < 0) {
                        out("event socket: %s", strerror(-len));
                        break;
                }
                if (len == 0)
                        break;
                got++;
                print_notification(&r, len, from);
        }
        out("listened: %d message(s) arrived", got);
        return got;
}

int
main(int argc, char **argv)
{
        struct link dev = { 0 };
        unsigned char mac[6];
        uint32_t ev_port, req_port, dst;
        int ev, fd, rc = EXIT_OK;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        setvbuf(stdout, NULL, _IOLBF, 0);
        parse_options(argc, argv);
        {
                struct timespec wall;

                clock_gettime(CLOCK_REALTIME, &wall);
                out("start, wall clock %lld.%06ld", (long long) wall.tv_sec, wall.tv_nsec / 1000);
        }

        ev = nl_open(opt.event_port, &ev_port);
        out("event socket bound, port id %u (goes into nlmsg_pid)", ev_port);
        if (!strcmp(opt.op, "listen")) {
                int got = listen_events(ev, ev_port);

                return opt.expect_unsolicited && !got ? EXIT_NO_UNSOLICITED : EXIT_OK;
        }

        if (opt.link) {
                if (find_uplink(opt.link, &dev, mac) < 0)
                        return EXIT_USAGE;
        } else if (kernel_getlink(0, opt.dev, &dev) < 0) {
                fprintf(stderr, "vdp-request: %s: %s\n", opt.dev, strerror(errno));
                return EXIT_USAGE;
        }
        if (opt.have_mac)
                memcpy(mac, opt.mac, 6);
        out("uplink %s (index %d), VSI mac %s vlan %d", dev.name, dev.index, mac_str(mac),
            opt.vlan);

        dst = opt.lldpad_pid;
        if (!dst && opt.pid_file)
                dst = read_pid_file(opt.pid_file);
        if (!dst) {
                out("RESULT op=%s outcome=transport-error reason=no-lldpad-pid", opt.op);
                return EXIT_TRANSPORT;
        }
        fd = nl_open(0, &req_port);
        out("request socket port id %u, lldpad port id %u", req_port, dst);

        if (opt.request >= 0) {
                struct msg m, r;
                uint32_t from;
                int len, err;
                double t_sent;

                build_setlink(&m, &dev, mac, ev_port);
                out("SETLINK %s: ifindex %d ifname %s mac %s vlan %d mgr %d type %d typever %d "
                    "uuid %s, %u bytes, nlmsg_pid %u seq %u",
                    request_name(opt.request), dev.index, dev.name, mac_str(mac), opt.vlan, opt.mgr,
                    opt.type, opt.typever, uuid_str(opt.uuid), m.h.nlmsg_len, ev_port,
                    m.h.nlmsg_seq);
                t_sent = elapsed_ms();
                if ((err = nl_send(fd, &m, dst)) < 0) {
                        out("SETLINK sendto port %u failed: %s", dst, strerror(-err));
                        out("RESULT op=%s outcome=transport-error reason=send:%s", opt.op,
                            strerrorname_np(-err) ? strerrorname_np(-err) : "?");
                        return EXIT_TRANSPORT;
                }
                len = nl_recv(fd, &r, ACK_TIMEOUT_MS, &from);
                if (len <= 0) {
                        out("SETLINK: %s", len == 0 ? "no reply in 2 s" : strerror(-len));
                        out("RESULT op=%s outcome=transport-error reason=no-reply", opt.op);
                        return EXIT_TRANSPORT;
                }
                if (r.h.nlmsg_type != NLMSG_ERROR) {
                        out("SETLINK reply from port %u: unexpected type %u", from, r.h.nlmsg_type);
                        return EXIT_TRANSPORT;
                }
                err = ((struct nlmsgerr *) NLMSG_DATA(&r.h))->error;
                out("SETLINK reply from port %u after %.3f ms: NLMSG_ERROR error %d (%s%s%s) "
                    "seq %u",
                    from, elapsed_ms() - t_sent, err, err ? strerrorname_np(-err) : "accepted",
                    err ? ": " : "", err ? strerror(-err) : "", r.h.nlmsg_seq);
                if (err) {
                        out("RESULT op=%s outcome=rejected-by-lldpad errno=%s", opt.op,
                            strerrorname_np(-err));
                        rc = EXIT_NLERROR;
                        goto listen;
                }
                if (opt.no_poll) {
                        out("RESULT op=%s outcome=sent (no poll)", opt.op);
                        goto listen;
                }
                {
                        int polls = 0, last = -1, n = 0;
                        unsigned code = 0;
                        enum status st = ST_INPROGRESS;
                        double limit = t_sent + opt.timeout_ms;

                        while (elapsed_ms() < limit) {
                                polls++;
                                st = query_status(fd, &dev, ev_port, dst, polls == 1, &code, &n);
                                if ((int) st != last || st != ST_INPROGRESS)
                                        out("status poll %d: %s%s", polls,
                                            st == ST_SUCCESS      ? "success"
                                            : st == ST_INPROGRESS ? "in progress"
                                            : st == ST_FAILED     ? "failed"
                                            : st == ST_NOENTRY    ? "no entry for our instance"
                                                                  : "error",
                                            polls == 1 ? "" : "");
                                last = st;
                                if (st != ST_INPROGRESS)
                                        break;
                                usleep(opt.interval_ms * 1000);
                        }
                        if (st == ST_SUCCESS) {
                                out("RESULT op=%s outcome=success response=%u after_ms=%.1f "
                                    "polls=%d",
                                    opt.op, code, elapsed_ms() - t_sent, polls);
                        } else if (st == ST_FAILED) {
                                out("RESULT op=%s outcome=refused response=%u (%s) after_ms=%.1f "
                                    "polls=%d",
                                    opt.op, code, response_name(code), elapsed_ms() - t_sent,
                                    polls);
                                rc = EXIT_REFUSED;
                        } else if (st == ST_INPROGRESS) {
                                out("RESULT op=%s outcome=timeout after_ms=%.1f polls=%d "
                                    "(libvirt: \"port-profile setlink timed out\")",
                                    opt.op, elapsed_ms() - t_sent, polls);
                                rc = EXIT_TIMEOUT;
                        } else if (st == ST_NOENTRY) {
                                out("RESULT op=%s outcome=no-entry after_ms=%.1f polls=%d "
                                    "entries=%d (libvirt: \"Could not find vf/instanceId\")",
                                    opt.op, elapsed_ms() - t_sent, polls, n);
                                rc = EXIT_NOENTRY;
                        } else {
                                out("RESULT op=%s outcome=transport-error after_ms=%.1f", opt.op,
                                    elapsed_ms() - t_sent);
                                rc = EXIT_TRANSPORT;
                        }
                }
        } else {
                unsigned code = 0;
                int n = 0;
                enum status st = query_status(fd, &dev, ev_port, dst, true, &code, &n);

                out("RESULT op=status outcome=%s response=%u entries=%d",
                    st == ST_SUCCESS      ? "success"
                    : st == ST_INPROGRESS ? "in-progress"
                    : st == ST_FAILED     ? "failed"
                    : st == ST_NOENTRY    ? "no-entry"
                                          : "error",
                    code, n);
                rc = st == ST_ERROR ? EXIT_TRANSPORT : EXIT_OK;
        }
listen:
        if (opt.listen_ms > 0) {
                int got = listen_events(ev, ev_port);

                if (opt.expect_unsolicited && !got && rc == EXIT_OK)
                        rc = EXIT_NO_UNSOLICITED;
        }
        close(fd);
        close(ev);
        return rc;
}
