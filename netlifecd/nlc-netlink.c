/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libnl wrapper: the one file that speaks rtnetlink requests. libnl
 * returns its own NLE_* codes; they are turned into negative errno here and
 * nowhere else.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/macvtap.h>
#include <string.h>
#include <unistd.h>

#include "nlc-netlink.h"

/* <net/if.h> (which our header needs for IF_NAMESIZE) hides the RFC 2863
 * flags of <linux/if.h>; the uapi value is stable. */
#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000
#endif

static struct nl_sock *route_sock;

static int
errno_from_nle(int nle)
{
        switch (nle < 0 ? -nle : nle) {
        case 0:
                return 0;
        case NLE_NODEV:
        case NLE_OBJ_NOTFOUND:
                return -ENODEV;
        case NLE_EXIST:
                return -EEXIST;
        case NLE_BUSY:
                return -EBUSY;
        case NLE_INVAL:
        case NLE_MISSING_ATTR:
                return -EINVAL;
        case NLE_PERM:
                return -EPERM;
        case NLE_NOACCESS:
                return -EACCES;
        case NLE_NOMEM:
                return -ENOMEM;
        case NLE_AGAIN:
                return -EAGAIN;
        case NLE_OPNOTSUPP:
                return -EOPNOTSUPP;
        case NLE_RANGE:
                return -ERANGE;
        case NLE_MSGSIZE:
                return -EMSGSIZE;
        case NLE_NOADDR:
                return -EADDRNOTAVAIL;
        default:
                return -EIO;
        }
}

int
nlc_netlink_init(void)
{
        int r;

        if (route_sock)
                return 0;
        route_sock = nl_socket_alloc();
        if (!route_sock)
                return -ENOMEM;
        r = nl_connect(route_sock, NETLINK_ROUTE);
        if (r < 0) {
                nl_socket_free(route_sock);
                route_sock = NULL;
                return errno_from_nle(r);
        }
        /* Requests are synchronous; a big buffer only matters for dumps. */
        nl_socket_set_buffer_size(route_sock, 1 << 20, 1 << 20);
        return 0;
}

void
nlc_netlink_close(void)
{
        g_clear_pointer(&route_sock, nl_socket_free);
}

static struct nl_sock *
sock(void)
{
        if (!route_sock)
                nlc_netlink_init();
        return route_sock;
}

static void
fill_info(struct rtnl_link *link, NlcLinkInfo *out)
{
        struct nl_addr *addr = rtnl_link_get_addr(link);
        const char *kind = rtnl_link_get_type(link);

        memset(out, 0, sizeof *out);
        out->ifindex = rtnl_link_get_ifindex(link);
        out->master_ifindex = rtnl_link_get_master(link);
        out->mtu = rtnl_link_get_mtu(link);
        out->flags = rtnl_link_get_flags(link);
        out->lower_up = (out->flags & IFF_LOWER_UP) != 0;
        g_strlcpy(out->name, rtnl_link_get_name(link), sizeof out->name);
        if (kind)
                g_strlcpy(out->kind, kind, sizeof out->kind);
        if (addr && nl_addr_get_len(addr) == 6)
                memcpy(out->mac, nl_addr_get_binary_addr(addr), 6);
}

static int
link_get(int ifindex, const char *name, NlcLinkInfo *out)
{
        struct rtnl_link *link = NULL;
        int r;

        if (!sock())
                return -ENOMEM;
        r = rtnl_link_get_kernel(sock(), ifindex, name, &link);
        if (r < 0)
                return errno_from_nle(r);
        fill_info(link, out);
        rtnl_link_put(link);
        return 0;
}

int
nlc_link_get(const char *ifname, NlcLinkInfo *out)
{
        if (!ifname || !*ifname || strlen(ifname) >= IF_NAMESIZE)
                return -EINVAL;
        return link_get(0, ifname, out);
}

int
nlc_link_get_by_index(int ifindex, NlcLinkInfo *out)
{
        return ifindex > 0 ? link_get(ifindex, NULL, out) : -EINVAL;
}

/* Sends @msg (consumed) and waits for the kernel's ack. */
static int
send_and_ack(struct nl_msg *msg)
{
        if (!sock()) {
                nlmsg_free(msg);
                return -ENOMEM;
        }
        return errno_from_nle(nl_send_sync(sock(), msg));
}

/* Sends @msg (consumed) and hands every reply to @valid until the kernel
 * says it is done (a dump's end, or a lone reply). */
static int
send_and_collect(struct nl_msg *msg, nl_recvmsg_msg_cb_t valid, void *arg)
{
        struct nl_cb *cb;
        int r;

        if (!sock()) {
                nlmsg_free(msg);
                return -ENOMEM;
        }
        r = nl_send_auto(sock(), msg);
        nlmsg_free(msg);
        if (r < 0)
                return errno_from_nle(r);
        cb = nl_cb_alloc(NL_CB_DEFAULT);
        if (!cb)
                return -ENOMEM;
        nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, valid, arg);
        r = nl_recvmsgs(sock(), cb);
        nl_cb_put(cb);
        return r < 0 ? errno_from_nle(r) : 0;
}

static struct nl_msg *
link_msg(int type, int family, int ifindex, guint flags, guint change)
{
        struct ifinfomsg ifi = {
                .ifi_family = family,
                .ifi_index = ifindex,
                .ifi_flags = flags,
                .ifi_change = change,
        };
        struct nl_msg *msg = nlmsg_alloc_simple(type, 0);

        if (msg && nlmsg_append(msg, &ifi, sizeof ifi, NLMSG_ALIGNTO) < 0)
                g_clear_pointer(&msg, nlmsg_free);
        return msg;
}

static int
link_set_u32(int ifindex, int attr, guint32 value)
{
        struct nl_msg *msg = link_msg(RTM_SETLINK, AF_UNSPEC, ifindex, 0, 0);

        if (!msg)
                return -ENOMEM;
        if (nla_put_u32(msg, attr, value) < 0) {
                nlmsg_free(msg);
                return -EMSGSIZE;
        }
        return send_and_ack(msg);
}

int
nlc_link_set_master(int ifindex, int master_ifindex)
{
        return link_set_u32(ifindex, IFLA_MASTER, (guint32) master_ifindex);
}

int
nlc_link_set_mtu(int ifindex, guint mtu)
{
        return link_set_u32(ifindex, IFLA_MTU, mtu);
}

int
nlc_link_set_up(int ifindex, gboolean up)
{
        struct nl_msg *msg = link_msg(RTM_SETLINK, AF_UNSPEC, ifindex, up ? IFF_UP : 0, IFF_UP);

        return msg ? send_and_ack(msg) : -ENOMEM;
}

int
nlc_link_disable_ipv6(const char *ifname)
{
        g_autofree char *path = NULL;
        char now = 0;
        int fd, r = 0;

        if (!ifname || !*ifname || strlen(ifname) >= IF_NAMESIZE || strchr(ifname, '/'))
                return -EINVAL;
        path = g_strdup_printf("/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
        fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                /* No IPv6 in this kernel: nothing to turn off. */
                return r == -ENOENT && access("/proc/sys/net/ipv6/conf", F_OK) < 0 ? 0 : r;
        }
        if (read(fd, &now, 1) < 0)
                r = -errno;
        else if (now != '1' && pwrite(fd, "1", 1, 0) < 0)
                r = -errno;
        close(fd);
        return r;
}

/* RTM_DELLINK of link @ifindex, or (@ifindex 0) of netdev group @group. */
static struct nl_msg *
delete_msg(int ifindex, guint32 group)
{
        struct nl_msg *msg = link_msg(RTM_DELLINK, AF_UNSPEC, ifindex, 0, 0);

        /* ifi_index 0 with IFLA_GROUP: the kernel unregisters the whole group
         * in one unregister_netdevice_many(), one RCU grace period for all. */
        if (msg && !ifindex && nla_put_u32(msg, IFLA_GROUP, group) < 0)
                g_clear_pointer(&msg, nlmsg_free);
        return msg;
}

int
nlc_link_delete(int ifindex)
{
        struct nl_msg *msg = delete_msg(ifindex, 0);
        int r;

        if (!msg)
                return -ENOMEM;
        r = send_and_ack(msg);
        return r == -ENODEV ? 0 : r;
}

int
nlc_link_set_group(int ifindex, guint32 group)
{
        return link_set_u32(ifindex, IFLA_GROUP, group);
}

int
nlc_link_delete_group(guint32 group)
{
        struct nl_msg *msg = delete_msg(0, group);

        return msg ? send_and_ack(msg) : -ENOMEM;
}

int
nlc_link_delete_on_own_socket(int ifindex, guint32 group)
{
        struct nl_sock *own = nl_socket_alloc();
        struct nl_msg *msg = delete_msg(ifindex, group);
        int r = own && msg ? nl_connect(own, NETLINK_ROUTE) : -NLE_NOMEM;

        if (r >= 0)
                r = nl_send_sync(own, g_steal_pointer(&msg));
        if (msg)
                nlmsg_free(msg);
        if (own)
                nl_socket_free(own);
        r = errno_from_nle(r);
        return ifindex && r == -ENODEV ? 0 : r;
}

static int
on_link_group(struct nl_msg *msg, void *arg)
{
        struct nlmsghdr *hdr = nlmsg_hdr(msg);
        struct nlattr *tb[IFLA_MAX + 1];
        NlcLinkGroup entry;

        if (hdr->nlmsg_type != RTM_NEWLINK ||
            nlmsg_parse(hdr, sizeof(struct ifinfomsg), tb, IFLA_MAX, NULL) < 0)
                return NL_OK;
        entry.ifindex = ((struct ifinfomsg *) nlmsg_data(hdr))->ifi_index;
        entry.group = tb[IFLA_GROUP] ? nla_get_u32(tb[IFLA_GROUP]) : 0;
        g_array_append_val((GArray *) arg, entry);
        return NL_OK;
}

int
nlc_link_list_groups(GArray *out)
{
        struct nl_msg *msg = link_msg(RTM_GETLINK, AF_UNSPEC, 0, 0, 0);

        if (!msg)
                return -ENOMEM;
        nlmsg_hdr(msg)->nlmsg_flags |= NLM_F_DUMP;
        g_array_set_size(out, 0);
        return send_and_collect(msg, on_link_group, out);
}

/* One route of the dump: when it is a default route of the main table, the
 * interfaces it leaves through (one, or each hop of a multipath route). */
static int
on_route(struct nl_msg *msg, void *arg)
{
        struct nlmsghdr *hdr = nlmsg_hdr(msg);
        struct rtmsg *rtm = nlmsg_data(hdr);
        struct nlattr *tb[RTA_MAX + 1];
        guint32 table;

        if (hdr->nlmsg_type != RTM_NEWROUTE ||
            nlmsg_parse(hdr, sizeof(struct rtmsg), tb, RTA_MAX, NULL) < 0)
                return NL_OK;
        table = tb[RTA_TABLE] ? nla_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
        if (rtm->rtm_dst_len != 0 || table != RT_TABLE_MAIN || rtm->rtm_type != RTN_UNICAST)
                return NL_OK;
        if (tb[RTA_OIF]) {
                int oif = (int) nla_get_u32(tb[RTA_OIF]);

                g_array_append_val((GArray *) arg, oif);
        }
        if (tb[RTA_MULTIPATH]) {
                struct rtnexthop *nh = nla_data(tb[RTA_MULTIPATH]);
                int left = nla_len(tb[RTA_MULTIPATH]);

                while (left >= (int) sizeof *nh && nh->rtnh_len >= sizeof *nh &&
                       nh->rtnh_len <= left) {
                        int oif = nh->rtnh_ifindex;

                        g_array_append_val((GArray *) arg, oif);
                        left -= RTNH_ALIGN(nh->rtnh_len);
                        nh = RTNH_NEXT(nh);
                }
        }
        return NL_OK;
}

int
nlc_route_default_ifindexes(GArray *out)
{
        struct rtmsg rtm = { .rtm_family = AF_UNSPEC };
        struct nl_msg *msg = nlmsg_alloc_simple(RTM_GETROUTE, NLM_F_DUMP);

        if (!msg)
                return -ENOMEM;
        if (nlmsg_append(msg, &rtm, sizeof rtm, NLMSG_ALIGNTO) < 0) {
                nlmsg_free(msg);
                return -ENOMEM;
        }
        g_array_set_size(out, 0);
        return send_and_collect(msg, on_route, out);
}

int
nlc_bridge_port_set_flags(int port_ifindex, const NlcPortFlags *flags)
{
        /* RTM_SETLINK in AF_BRIDGE with IFLA_PROTINFO: the kernel hands it to
         * the port's master (br_setlink), as `bridge link set` does. */
        struct nl_msg *msg = link_msg(RTM_SETLINK, AF_BRIDGE, port_ifindex, 0, 0);
        struct nlattr *protinfo;

        if (!msg)
                return -ENOMEM;
        protinfo = nla_nest_start(msg, IFLA_PROTINFO | NLA_F_NESTED);
        if (!protinfo || nla_put_u8(msg, IFLA_BRPORT_LEARNING, !!flags->learning) < 0 ||
            nla_put_u8(msg, IFLA_BRPORT_UNICAST_FLOOD, !!flags->unicast_flood) < 0 ||
            nla_put_u8(msg, IFLA_BRPORT_GUARD, !!flags->bpdu_guard) < 0 ||
            nla_put_u8(msg, IFLA_BRPORT_PROTECT, !!flags->root_block) < 0 ||
            nla_put_u8(msg, IFLA_BRPORT_LOCKED, !!flags->locked) < 0) {
                nlmsg_free(msg);
                return -EMSGSIZE;
        }
        nla_nest_end(msg, protinfo);
        return send_and_ack(msg);
}

static struct nl_msg *
fdb_msg(int type, int nl_flags, int port_ifindex, const guint8 mac[6])
{
        struct ndmsg ndm = {
                .ndm_family = AF_BRIDGE,
                .ndm_ifindex = port_ifindex,
                /* NUD_NOARP without NUD_PERMANENT is the bridge's "static":
                 * never aged, not a local address of the bridge. */
                .ndm_state = NUD_NOARP,
                /* Sticky: a plain static entry moves to whichever port
                 * learns the same source MAC (e.g. the destination QEMU's
                 * own RARP arriving on the uplink mid-handover), and a
                 * later delete on the tap then misses it. */
                .ndm_flags = NTF_MASTER | NTF_STICKY,
        };
        struct nl_msg *msg = nlmsg_alloc_simple(type, nl_flags);

        if (!msg)
                return NULL;
        if (nlmsg_append(msg, &ndm, sizeof ndm, NLMSG_ALIGNTO) < 0 ||
            nla_put(msg, NDA_LLADDR, 6, mac) < 0)
                g_clear_pointer(&msg, nlmsg_free);
        return msg;
}

int
nlc_fdb_replace_static(int port_ifindex, const guint8 mac[6])
{
        struct nl_msg *msg = fdb_msg(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, port_ifindex, mac);

        /* The snapshot would not know where the entry moved from. */
        nlc_fdb_snapshot_end();
        return msg ? send_and_ack(msg) : -ENOMEM;
}

int
nlc_fdb_delete(int port_ifindex, const guint8 mac[6])
{
        struct nl_msg *msg = fdb_msg(RTM_DELNEIGH, 0, port_ifindex, mac);
        int r;

        nlc_fdb_snapshot_end();
        if (!msg)
                return -ENOMEM;
        r = send_and_ack(msg);
        return r == -ENODEV || r == -ENOENT ? 0 : r;
}

/* Between nlc_fdb_snapshot_begin() and _end(): "port/mac" of every static
 * bridge entry, read in one dump; NULL otherwise, or once the daemon changed
 * an entry meanwhile. */
static GHashTable *fdb_snapshot;

static char *
fdb_key(int port_ifindex, const guint8 mac[6])
{
        return g_strdup_printf("%d/%02x:%02x:%02x:%02x:%02x:%02x", port_ifindex, mac[0], mac[1],
                               mac[2], mac[3], mac[4], mac[5]);
}

/* TRUE when @msg is a static entry of a bridge's FDB: its port and MAC. */
static gboolean
static_entry_of(struct nl_msg *msg, int *port_ifindex, const guint8 **mac)
{
        struct nlmsghdr *nlh = nlmsg_hdr(msg);
        struct ndmsg *ndm = nlmsg_data(nlh);
        struct nlattr *tb[NDA_MAX + 1];

        if (nlh->nlmsg_type != RTM_NEWNEIGH || ndm->ndm_family != AF_BRIDGE)
                return FALSE;
        if (nlmsg_parse(nlh, sizeof *ndm, tb, NDA_MAX, NULL) < 0 || !tb[NDA_LLADDR] ||
            nla_len(tb[NDA_LLADDR]) != 6)
                return FALSE;
        /* The bridge's own entries carry NDA_MASTER; it does not set
         * NTF_MASTER in dumps. NTF_SELF ones are the port device's list. */
        if (!tb[NDA_MASTER] || (ndm->ndm_flags & NTF_SELF) || !(ndm->ndm_state & NUD_NOARP) ||
            (ndm->ndm_state & NUD_PERMANENT))
                return FALSE;
        *port_ifindex = ndm->ndm_ifindex;
        *mac = nla_data(tb[NDA_LLADDR]);
        return TRUE;
}

/* The bridges' FDB entries through @cb: of port @port_ifindex only (an
 * ifinfomsg-sized dump request filters to one port, as `bridge fdb show dev
 * X` does), or with 0 of every port. */
static int
fdb_dump(int port_ifindex, nl_recvmsg_msg_cb_t cb, void *arg)
{
        struct nl_msg *msg = link_msg(RTM_GETNEIGH, AF_BRIDGE, port_ifindex, 0, 0);

        if (!msg)
                return -ENOMEM;
        nlmsg_hdr(msg)->nlmsg_flags |= NLM_F_DUMP;
        return send_and_collect(msg, cb, arg);
}

typedef struct {
        const guint8 *mac;
        int port_ifindex;
        gboolean found;
} FdbSearch;

static int
fdb_search_cb(struct nl_msg *msg, void *arg)
{
        FdbSearch *search = arg;
        const guint8 *mac;
        int port;

        if (static_entry_of(msg, &port, &mac) && port == search->port_ifindex &&
            memcmp(mac, search->mac, 6) == 0)
                search->found = TRUE;
        return NL_OK;
}

int
nlc_fdb_has_static(int port_ifindex, const guint8 mac[6])
{
        FdbSearch search = { .mac = mac, .port_ifindex = port_ifindex };
        int r;

        if (fdb_snapshot) {
                g_autofree char *key = fdb_key(port_ifindex, mac);

                return g_hash_table_contains(fdb_snapshot, key) ? 1 : 0;
        }
        r = fdb_dump(port_ifindex, fdb_search_cb, &search);
        if (r < 0)
                return r;
        return search.found ? 1 : 0;
}

static int
fdb_snapshot_cb(struct nl_msg *msg, void *arg)
{
        const guint8 *mac;
        int port;

        if (static_entry_of(msg, &port, &mac))
                g_hash_table_add(arg, fdb_key(port, mac));
        return NL_OK;
}

int
nlc_fdb_snapshot_begin(void)
{
        g_autoptr(GHashTable) snapshot =
                g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        int r = fdb_dump(0, fdb_snapshot_cb, snapshot);

        if (r < 0)
                return r;
        nlc_fdb_snapshot_end();
        fdb_snapshot = g_steal_pointer(&snapshot);
        return 0;
}

void
nlc_fdb_snapshot_end(void)
{
        g_clear_pointer(&fdb_snapshot, g_hash_table_unref);
}

int
nlc_link_get_lower(int ifindex)
{
        struct rtnl_link *link = NULL;
        int r, lower;

        if (ifindex <= 0)
                return -EINVAL;
        if (!sock())
                return -ENOMEM;
        r = rtnl_link_get_kernel(sock(), ifindex, NULL, &link);
        if (r < 0)
                return errno_from_nle(r);
        lower = rtnl_link_get_link(link);
        rtnl_link_put(link);
        return lower > 0 ? lower : 0;
}

int
nlc_link_set_address(int ifindex, const guint8 mac[6])
{
        struct nl_msg *msg = link_msg(RTM_SETLINK, AF_UNSPEC, ifindex, 0, 0);

        if (!msg)
                return -ENOMEM;
        if (nla_put(msg, IFLA_ADDRESS, 6, mac) < 0) {
                nlmsg_free(msg);
                return -EMSGSIZE;
        }
        return send_and_ack(msg);
}

static const struct {
        const char *name;
        guint32 mode;
} macvtap_modes[] = {
        { "bridge", MACVLAN_MODE_BRIDGE },
        { "vepa", MACVLAN_MODE_VEPA },
        { "private", MACVLAN_MODE_PRIVATE },
        { "passthru", MACVLAN_MODE_PASSTHRU },
};

static int
macvtap_mode(const char *name)
{
        for (guint i = 0; name && i < G_N_ELEMENTS(macvtap_modes); i++)
                if (g_str_equal(macvtap_modes[i].name, name))
                        return (int) macvtap_modes[i].mode;
        return -EINVAL;
}

gboolean
nlc_macvtap_mode_valid(const char *mode)
{
        return macvtap_mode(mode) > 0;
}

int
nlc_macvtap_create(const char *ifname, int lower_ifindex, const char *mode, const guint8 mac[6])
{
        struct rtnl_link *link;
        struct nl_addr *addr;
        int m = macvtap_mode(mode);
        int r;

        if (m < 0 || lower_ifindex <= 0 || !ifname || strlen(ifname) >= IF_NAMESIZE)
                return -EINVAL;
        if (!sock())
                return -ENOMEM;
        link = rtnl_link_macvtap_alloc();
        if (!link)
                return -ENOMEM;
        addr = nl_addr_build(AF_LLC, mac, 6);
        if (!addr) {
                rtnl_link_put(link);
                return -ENOMEM;
        }
        rtnl_link_set_name(link, ifname);
        rtnl_link_set_link(link, lower_ifindex);
        rtnl_link_set_addr(link, addr);
        r = rtnl_link_macvtap_set_mode(link, (guint32) m);
        /* No IFF_UP in the request: the link comes up only at activate. */
        if (r >= 0)
                r = rtnl_link_add(sock(), link, NLM_F_CREATE | NLM_F_EXCL);
        nl_addr_put(addr);
        rtnl_link_put(link);
        return errno_from_nle(r);
}

G_STATIC_ASSERT((int) NLC_VF_LINK_STATE_AUTO == (int) IFLA_VF_LINK_STATE_AUTO);
G_STATIC_ASSERT((int) NLC_VF_LINK_STATE_ENABLE == (int) IFLA_VF_LINK_STATE_ENABLE);
G_STATIC_ASSERT((int) NLC_VF_LINK_STATE_DISABLE == (int) IFLA_VF_LINK_STATE_DISABLE);

/* RTM_SETLINK on the PF: IFLA_VFINFO_LIST { IFLA_VF_INFO { IFLA_VF_MAC,
 * IFLA_VF_LINK_STATE } }, as `ip link set PF vf N mac M state S` sends it.
 * The kernel (do_setvfinfo) applies each attribute through the PF driver's
 * ndo_set_vf_mac / ndo_set_vf_link_state. */
static struct nl_msg *
vf_msg(int pf_ifindex, guint32 vf, const guint8 *mac, int link_state)
{
        struct nl_msg *msg = link_msg(RTM_SETLINK, AF_UNSPEC, pf_ifindex, 0, 0);
        struct nlattr *list, *info;
        gboolean ok;

        if (!msg)
                return NULL;
        list = nla_nest_start(msg, IFLA_VFINFO_LIST | NLA_F_NESTED);
        info = list ? nla_nest_start(msg, IFLA_VF_INFO | NLA_F_NESTED) : NULL;
        ok = info != NULL;
        if (ok && mac) {
                struct ifla_vf_mac vf_mac = { .vf = vf };

                memcpy(vf_mac.mac, mac, 6);
                ok = nla_put(msg, IFLA_VF_MAC, sizeof vf_mac, &vf_mac) >= 0;
        }
        if (ok && link_state >= 0) {
                struct ifla_vf_link_state vf_state = { .vf = vf,
                                                       .link_state = (guint32) link_state };

                ok = nla_put(msg, IFLA_VF_LINK_STATE, sizeof vf_state, &vf_state) >= 0;
        }
        if (!ok) {
                nlmsg_free(msg);
                return NULL;
        }
        nla_nest_end(msg, info);
        nla_nest_end(msg, list);
        return msg;
}

int
nlc_vf_msg_build(void *buf, gsize size, int pf_ifindex, guint32 vf, const guint8 *mac,
                 int link_state)
{
        struct nl_msg *msg = vf_msg(pf_ifindex, vf, mac, link_state);
        struct nlmsghdr *nlh;
        int len;

        if (!msg)
                return -ENOMEM;
        nlh = nlmsg_hdr(msg);
        len = (int) nlh->nlmsg_len;
        if ((gsize) len > size) {
                nlmsg_free(msg);
                return -EMSGSIZE;
        }
        memcpy(buf, nlh, (gsize) len);
        nlmsg_free(msg);
        return len;
}

static int
vf_send(int pf_ifindex, guint32 vf, const guint8 *mac, int link_state)
{
        struct nl_msg *msg = vf_msg(pf_ifindex, vf, mac, link_state);

        return msg ? send_and_ack(msg) : -ENOMEM;
}

int
nlc_vf_set_mac(int pf_ifindex, guint32 vf, const guint8 mac[6])
{
        return vf_send(pf_ifindex, vf, mac, -1);
}

int
nlc_vf_set_link_state(int pf_ifindex, guint32 vf, NlcVfLinkState state)
{
        return vf_send(pf_ifindex, vf, NULL, (int) state);
}

/* One IFLA_VF_INFO: 1 when it describes @vf (and fills what it carries). */
static int
vf_info_match(struct nlattr *info, guint32 vf, guint8 mac_out[6], NlcVfLinkState *state_out)
{
        struct nlattr *tb[IFLA_VF_MAX + 1];
        const struct ifla_vf_mac *vf_mac;
        const struct ifla_vf_link_state *vf_state;

        if (nla_parse_nested(tb, IFLA_VF_MAX, info, NULL) < 0)
                return -EINVAL;
        if (!tb[IFLA_VF_MAC] || nla_len(tb[IFLA_VF_MAC]) < (int) sizeof *vf_mac)
                return -EINVAL;
        vf_mac = nla_data(tb[IFLA_VF_MAC]);
        if (vf_mac->vf != vf)
                return 0;
        memcpy(mac_out, vf_mac->mac, 6);
        /* Kernels since 3.11 report the link state; auto is its default. */
        *state_out = NLC_VF_LINK_STATE_AUTO;
        if (tb[IFLA_VF_LINK_STATE] && nla_len(tb[IFLA_VF_LINK_STATE]) >= (int) sizeof *vf_state) {
                vf_state = nla_data(tb[IFLA_VF_LINK_STATE]);
                *state_out = (NlcVfLinkState) vf_state->link_state;
        }
        return 1;
}

int
nlc_vf_info_parse(const void *msg, gsize len, guint32 vf, guint8 mac_out[6],
                  NlcVfLinkState *state_out)
{
        struct nlmsghdr *nlh = (struct nlmsghdr *) msg;
        struct nlattr *tb[IFLA_MAX + 1];
        struct nlattr *info;
        int rem;

        if (len < sizeof *nlh || nlh->nlmsg_len > len || nlh->nlmsg_type != RTM_NEWLINK ||
            nlmsg_parse(nlh, sizeof(struct ifinfomsg), tb, IFLA_MAX, NULL) < 0)
                return -EINVAL;
        if (!tb[IFLA_VFINFO_LIST])
                return -ENOENT;
        for (info = nla_data(tb[IFLA_VFINFO_LIST]), rem = nla_len(tb[IFLA_VFINFO_LIST]);
             nla_ok(info, rem); info = nla_next(info, &rem)) {
                int r;

                if (nla_type(info) != IFLA_VF_INFO)
                        continue;
                r = vf_info_match(info, vf, mac_out, state_out);
                if (r != 0)
                        return r < 0 ? r : 0;
        }
        return -ENOENT;
}

typedef struct {
        guint32 vf;
        guint8 *mac;
        NlcVfLinkState *state;
        int result;
} VfSearch;

static int
vf_search_cb(struct nl_msg *msg, void *arg)
{
        VfSearch *search = arg;
        struct nlmsghdr *nlh = nlmsg_hdr(msg);

        if (nlh->nlmsg_type == RTM_NEWLINK)
                search->result = nlc_vf_info_parse(nlh, nlh->nlmsg_len, search->vf, search->mac,
                                                   search->state);
        return NL_OK;
}

/* RTM_GETLINK of one link (with IFLA_EXT_MASK @ext_mask when not 0), its
 * reply handed to @valid. The reply comes alone; the ack nl_send_auto()
 * asked for follows it and must not be left for the next request to trip
 * over. */
static int
get_one_link(int ifindex, guint32 ext_mask, nl_recvmsg_msg_cb_t valid, void *arg)
{
        struct nl_msg *msg = link_msg(RTM_GETLINK, AF_UNSPEC, ifindex, 0, 0);
        int r;

        if (!msg || !sock()) {
                nlmsg_free(msg);
                return -ENOMEM;
        }
        if (ext_mask && nla_put_u32(msg, IFLA_EXT_MASK, ext_mask) < 0) {
                nlmsg_free(msg);
                return -EMSGSIZE;
        }
        r = send_and_collect(msg, valid, arg);
        if (r < 0)
                return r;
        r = nl_wait_for_ack(sock());
        return r < 0 ? errno_from_nle(r) : 0;
}

int
nlc_vf_get_info(int pf_ifindex, guint32 vf, guint8 mac_out[6], NlcVfLinkState *state_out)
{
        VfSearch search = { .vf = vf, .mac = mac_out, .state = state_out, .result = -ENOENT };
        /* Without RTEXT_FILTER_VF the kernel leaves the VF list out. */
        int r = get_one_link(pf_ifindex, RTEXT_FILTER_VF, vf_search_cb, &search);

        return r < 0 ? r : search.result;
}

/* ---- a bridge's VLAN filtering ------------------------------------------ */

int
nlc_bridge_vlan_filtering_parse(const void *msg, gsize len)
{
        struct nlmsghdr *nlh = (struct nlmsghdr *) msg;
        struct nlattr *tb[IFLA_MAX + 1], *info[IFLA_INFO_MAX + 1], *br[IFLA_BR_MAX + 1];

        if (len < sizeof *nlh || nlh->nlmsg_len > len || nlh->nlmsg_type != RTM_NEWLINK ||
            nlmsg_parse(nlh, sizeof(struct ifinfomsg), tb, IFLA_MAX, NULL) < 0)
                return -EINVAL;
        if (!tb[IFLA_LINKINFO] ||
            nla_parse_nested(info, IFLA_INFO_MAX, tb[IFLA_LINKINFO], NULL) < 0 ||
            !info[IFLA_INFO_KIND] || strcmp(nla_get_string(info[IFLA_INFO_KIND]), "bridge") != 0 ||
            !info[IFLA_INFO_DATA] ||
            nla_parse_nested(br, IFLA_BR_MAX, info[IFLA_INFO_DATA], NULL) < 0 ||
            !br[IFLA_BR_VLAN_FILTERING])
                return -ENOENT;
        return nla_get_u8(br[IFLA_BR_VLAN_FILTERING]) ? 1 : 0;
}

static int
vlan_filtering_cb(struct nl_msg *msg, void *arg)
{
        struct nlmsghdr *nlh = nlmsg_hdr(msg);

        if (nlh->nlmsg_type == RTM_NEWLINK)
                *(int *) arg = nlc_bridge_vlan_filtering_parse(nlh, nlh->nlmsg_len);
        return NL_OK;
}

int
nlc_bridge_get_vlan_filtering(int bridge_ifindex)
{
        int result = -ENOENT;
        int r = get_one_link(bridge_ifindex, 0, vlan_filtering_cb, &result);

        return r < 0 ? r : result;
}
