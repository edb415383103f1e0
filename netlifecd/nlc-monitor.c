/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <glib-unix.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>

#include "nlc-error.h"
#include "nlc-monitor.h"

/* USER_HZ: the kernel reports bridge times in clock_t (1/100 s). */
#define CLOCK_T_USEC 10000ull
#define BUF_SIZE     (64 * 1024)

struct _NlcMonitor {
        struct mnl_socket *events;
        struct mnl_socket *query; /* dumps and one-shot queries, never events */
        guint32 query_seq;
        guint watch_id;
        guint retry_id;
        NlcMonitorCallbacks cb;
        gpointer user_data;
        guint overruns;
        guint8 *buf;
};

typedef struct {
        const struct nlattr **tb;
        guint max;
} AttrTable;

static int
collect_attr(const struct nlattr *attr, void *data)
{
        AttrTable *t = data;
        guint type = mnl_attr_get_type(attr);

        if (type <= t->max)
                t->tb[type] = attr;
        return MNL_CB_OK;
}

static void
parse_nested(const struct nlattr *nest, const struct nlattr **tb, guint max)
{
        AttrTable t = { tb, max };

        memset(tb, 0, (max + 1) * sizeof *tb);
        mnl_attr_parse_nested(nest, collect_attr, &t);
}

static gboolean
get_u8(const struct nlattr *a, guint8 *out)
{
        if (!a || mnl_attr_validate(a, MNL_TYPE_U8) < 0)
                return FALSE;
        *out = mnl_attr_get_u8(a);
        return TRUE;
}

static gboolean
get_u32(const struct nlattr *a, guint32 *out)
{
        if (!a || mnl_attr_validate(a, MNL_TYPE_U32) < 0)
                return FALSE;
        *out = mnl_attr_get_u32(a);
        return TRUE;
}

static gboolean
get_u64(const struct nlattr *a, guint64 *out)
{
        if (!a || mnl_attr_get_payload_len(a) < sizeof(guint64))
                return FALSE;
        *out = mnl_attr_get_u64(a);
        return TRUE;
}

/* IFLA_BRPORT_*: in AF_BRIDGE messages under IFLA_PROTINFO, in AF_UNSPEC ones
 * under IFLA_INFO_SLAVE_DATA. */
static void
parse_brport(const struct nlattr *nest, NlcLinkEvent *ev)
{
        const struct nlattr *tb[IFLA_BRPORT_MAX + 1];
        guint8 state, guard;
        guint64 timer;

        parse_nested(nest, tb, IFLA_BRPORT_MAX);
        if (get_u8(tb[IFLA_BRPORT_GUARD], &guard))
                ev->bpdu_guard = guard != 0;
        if (get_u8(tb[IFLA_BRPORT_STATE], &state) && state <= NLC_PORT_STATE_LAST) {
                ev->has_port_state = TRUE;
                ev->port_state = (NlcPortState) state;
        }
        if (get_u64(tb[IFLA_BRPORT_FORWARD_DELAY_TIMER], &timer))
                ev->forward_delay_timer_usec = timer * CLOCK_T_USEC;
}

static void
parse_bridge_data(const struct nlattr *nest, NlcLinkEvent *ev)
{
        const struct nlattr *tb[IFLA_BR_MAX + 1];
        guint32 v;

        parse_nested(nest, tb, IFLA_BR_MAX);
        ev->is_bridge = TRUE;
        if (get_u32(tb[IFLA_BR_FORWARD_DELAY], &v))
                ev->forward_delay_usec = v * CLOCK_T_USEC;
        if (get_u32(tb[IFLA_BR_STP_STATE], &v))
                ev->stp_enabled = v != 0;
}

static void
parse_linkinfo(const struct nlattr *nest, NlcLinkEvent *ev)
{
        const struct nlattr *tb[IFLA_INFO_MAX + 1];
        const char *kind = NULL, *slave_kind = NULL;

        parse_nested(nest, tb, IFLA_INFO_MAX);
        if (tb[IFLA_INFO_KIND] && mnl_attr_validate(tb[IFLA_INFO_KIND], MNL_TYPE_STRING) >= 0)
                kind = mnl_attr_get_str(tb[IFLA_INFO_KIND]);
        if (tb[IFLA_INFO_SLAVE_KIND] &&
            mnl_attr_validate(tb[IFLA_INFO_SLAVE_KIND], MNL_TYPE_STRING) >= 0)
                slave_kind = mnl_attr_get_str(tb[IFLA_INFO_SLAVE_KIND]);
        if (g_strcmp0(kind, "bridge") == 0 && tb[IFLA_INFO_DATA])
                parse_bridge_data(tb[IFLA_INFO_DATA], ev);
        if (g_strcmp0(slave_kind, "bridge") == 0 && tb[IFLA_INFO_SLAVE_DATA])
                parse_brport(tb[IFLA_INFO_SLAVE_DATA], ev);
}

static void
handle_link(NlcMonitor *m, const struct nlmsghdr *nlh)
{
        const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
        const struct nlattr *tb[IFLA_MAX + 1] = { 0 };
        AttrTable t = { tb, IFLA_MAX };
        NlcLinkEvent ev = { 0 };
        guint32 master;

        if (mnl_nlmsg_get_payload_len(nlh) < sizeof *ifm)
                return;
        mnl_attr_parse(nlh, sizeof *ifm, collect_attr, &t);
        ev.ifindex = ifm->ifi_index;
        ev.up = (ifm->ifi_flags & IFF_UP) != 0;
        ev.carrier = (ifm->ifi_flags & IFF_LOWER_UP) != 0;
        if (tb[IFLA_IFNAME] && mnl_attr_validate(tb[IFLA_IFNAME], MNL_TYPE_STRING) >= 0)
                ev.name = mnl_attr_get_str(tb[IFLA_IFNAME]);
        if (get_u32(tb[IFLA_MASTER], &master))
                ev.master_ifindex = (int) master;
        ev.af_bridge = ifm->ifi_family == AF_BRIDGE;
        if (ev.af_bridge) {
                if (nlh->nlmsg_type == RTM_DELLINK) {
                        /* The port left its bridge; the link itself lives on. */
                        ev.has_port_state = TRUE;
                        ev.port_state = NLC_PORT_STATE_DISABLED;
                        ev.master_ifindex = 0;
                } else if (tb[IFLA_PROTINFO]) {
                        parse_brport(tb[IFLA_PROTINFO], &ev);
                }
        } else {
                ev.removed = nlh->nlmsg_type == RTM_DELLINK;
                if (tb[IFLA_LINKINFO])
                        parse_linkinfo(tb[IFLA_LINKINFO], &ev);
        }
        if (m->cb.link)
                m->cb.link(&ev, m->user_data);
}

static void
handle_neigh(NlcMonitor *m, const struct nlmsghdr *nlh)
{
        const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
        const struct nlattr *tb[NDA_MAX + 1] = { 0 };
        AttrTable t = { tb, NDA_MAX };
        NlcFdbEvent ev = { 0 };
        guint32 master;

        if (mnl_nlmsg_get_payload_len(nlh) < sizeof *ndm || ndm->ndm_family != AF_BRIDGE)
                return;
        /* NTF_SELF entries are a port device's own address list, not the
         * bridge's forwarding database. */
        if (ndm->ndm_flags & NTF_SELF)
                return;
        mnl_attr_parse(nlh, sizeof *ndm, collect_attr, &t);
        if (!tb[NDA_LLADDR] || mnl_attr_get_payload_len(tb[NDA_LLADDR]) != 6)
                return;
        memcpy(ev.mac, mnl_attr_get_payload(tb[NDA_LLADDR]), 6);
        if (get_u32(tb[NDA_MASTER], &master))
                ev.bridge_ifindex = (int) master;
        ev.port_ifindex = ndm->ndm_ifindex;
        ev.is_static = (ndm->ndm_state & (NUD_NOARP | NUD_PERMANENT)) != 0;
        ev.removed = nlh->nlmsg_type == RTM_DELNEIGH;
        if (m->cb.fdb)
                m->cb.fdb(&ev, m->user_data);
}

static int
dispatch(const struct nlmsghdr *nlh, void *data)
{
        switch (nlh->nlmsg_type) {
        case RTM_NEWLINK:
        case RTM_DELLINK:
                handle_link(data, nlh);
                break;
        case RTM_NEWNEIGH:
        case RTM_DELNEIGH:
                handle_neigh(data, nlh);
                break;
        default:
                break;
        }
        return MNL_CB_OK;
}

static struct mnl_socket *open_socket(int flags, unsigned groups, GError **error);

/* Sends a request on the query socket and feeds the replies to dispatch()
 * until the kernel says it is done. A dump the kernel marks interrupted
 * (NLM_F_DUMP_INTR: links changed meanwhile, common during event floods) is
 * still read to its end, so the socket stays in step, and reported. */
static int
request_once(NlcMonitor *m, guint16 type, guint16 flags, guint8 family, int ifindex,
             gboolean *interrupted)
{
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(m->buf);
        guint32 seq = ++m->query_seq;
        guint32 portid = mnl_socket_get_portid(m->query);
        ssize_t n;
        int r;

        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST | flags;
        nlh->nlmsg_seq = seq;
        if (type == RTM_GETNEIGH) {
                struct ndmsg *ndm = mnl_nlmsg_put_extra_header(nlh, sizeof *ndm);
                ndm->ndm_family = family;
        } else {
                struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
                ifm->ifi_family = family;
                ifm->ifi_index = ifindex;
        }
        if (mnl_socket_sendto(m->query, nlh, nlh->nlmsg_len) < 0)
                return -errno;
        do {
                int left;

                n = mnl_socket_recvfrom(m->query, m->buf, BUF_SIZE);
                if (n < 0)
                        return -errno;
                left = (int) n;
                /* libmnl stops at the first interrupted part; we want all. */
                for (nlh = (struct nlmsghdr *) m->buf; mnl_nlmsg_ok(nlh, left);
                     nlh = mnl_nlmsg_next(nlh, &left))
                        if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) {
                                *interrupted = TRUE;
                                nlh->nlmsg_flags &= ~NLM_F_DUMP_INTR;
                        }
                r = mnl_cb_run(m->buf, (size_t) n, seq, portid, dispatch, m);
        } while (r > MNL_CB_STOP);
        return r < 0 ? -errno : 0;
}

static int
request(NlcMonitor *m, guint16 type, guint16 flags, guint8 family, int ifindex)
{
        for (int attempt = 0; attempt < 10; attempt++) {
                gboolean interrupted = FALSE;
                int r = request_once(m, type, flags, family, ifindex, &interrupted);

                if (r < 0) {
                        /* Replies may be left in the socket: start afresh. */
                        struct mnl_socket *fresh = open_socket(SOCK_CLOEXEC, 0, NULL);

                        if (fresh) {
                                mnl_socket_close(m->query);
                                m->query = fresh;
                        }
                        return r;
                }
                if (!interrupted)
                        return 0;
        }
        return -EINTR;
}

int
nlc_monitor_query_link(NlcMonitor *m, int ifindex)
{
        return request(m, RTM_GETLINK, NLM_F_ACK, AF_UNSPEC, ifindex);
}

int
nlc_monitor_dump_ports(NlcMonitor *m)
{
        return request(m, RTM_GETLINK, NLM_F_DUMP, AF_BRIDGE, 0);
}

int
nlc_monitor_dump_all(NlcMonitor *m)
{
        int r;

        /* AF_UNSPEC links carry bridge settings and port states (slave data);
         * then the bridge FDB. */
        r = request(m, RTM_GETLINK, NLM_F_DUMP, AF_UNSPEC, 0);
        if (r == 0)
                r = request(m, RTM_GETNEIGH, NLM_F_DUMP, AF_BRIDGE, 0);
        return r;
}

static gboolean resync_retry(gpointer data);

/* Events were lost: throw away what is queued (it predates the dump), then
 * re-read the whole state. resynced() only follows a complete dump; a failed
 * one is tried again shortly. */
static void
resync(NlcMonitor *m)
{
        int r;

        if (m->cb.resync_begin)
                m->cb.resync_begin(m->user_data);
        while (mnl_socket_recvfrom(m->events, m->buf, BUF_SIZE) > 0 || errno == ENOBUFS)
                ;
        r = nlc_monitor_dump_all(m);
        if (r < 0) {
                g_message("monitor: re-reading links and FDB failed (%s); trying again",
                          g_strerror(-r));
                if (!m->retry_id)
                        m->retry_id = g_timeout_add(100, resync_retry, m);
                return;
        }
        if (m->cb.resynced)
                m->cb.resynced(m->user_data);
}

static gboolean
resync_retry(gpointer data)
{
        NlcMonitor *m = data;

        m->retry_id = 0;
        resync(m);
        return G_SOURCE_REMOVE;
}

static gboolean
on_events(int fd, GIOCondition condition, gpointer data)
{
        NlcMonitor *m = data;

        for (;;) {
                ssize_t n = mnl_socket_recvfrom(m->events, m->buf, BUF_SIZE);

                if (n < 0) {
                        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                                break;
                        if (errno == ENOBUFS) {
                                m->overruns++;
                                g_message("monitor: kernel events were lost (overrun %u); "
                                          "re-reading links and FDB",
                                          m->overruns);
                                resync(m);
                                continue;
                        }
                        g_warning("monitor: reading kernel events failed: %s", g_strerror(errno));
                        break;
                }
                /* Events: any sequence number, from the kernel (port 0). */
                mnl_cb_run(m->buf, (size_t) n, 0, 0, dispatch, m);
        }
        return G_SOURCE_CONTINUE;
}

static struct mnl_socket *
open_socket(int flags, unsigned groups, GError **error)
{
        struct mnl_socket *s = mnl_socket_open2(NETLINK_ROUTE, flags);

        if (!s) {
                nlc_error_set_errno(error, -errno, "cannot open a netlink socket");
                return NULL;
        }
        if (mnl_socket_bind(s, groups, MNL_SOCKET_AUTOPID) < 0) {
                nlc_error_set_errno(error, -errno, "cannot bind a netlink socket");
                mnl_socket_close(s);
                return NULL;
        }
        return s;
}

NlcMonitor *
nlc_monitor_new(const NlcMonitorCallbacks *callbacks, gpointer user_data, guint rcvbuf,
                GError **error)
{
        g_autoptr(NlcMonitor) m = g_new0(NlcMonitor, 1);
        int size = rcvbuf ? (int) rcvbuf : 8 << 20;
        int fd;

        m->cb = *callbacks;
        m->user_data = user_data;
        m->buf = g_malloc(BUF_SIZE);
        m->events = open_socket(SOCK_NONBLOCK | SOCK_CLOEXEC, RTMGRP_LINK | RTMGRP_NEIGH, error);
        if (!m->events)
                return NULL;
        m->query = open_socket(SOCK_CLOEXEC, 0, error);
        if (!m->query)
                return NULL;
        fd = mnl_socket_get_fd(m->events);
        /* FORCE passes net.core.rmem_max (we are root); without the
         * privilege the plain option still gets what the sysctl allows. */
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
        m->watch_id = g_unix_fd_add(fd, G_IO_IN, on_events, m);
        return g_steal_pointer(&m);
}

void
nlc_monitor_free(NlcMonitor *m)
{
        if (!m)
                return;
        if (m->watch_id)
                g_source_remove(m->watch_id);
        if (m->retry_id)
                g_source_remove(m->retry_id);
        if (m->events)
                mnl_socket_close(m->events);
        if (m->query)
                mnl_socket_close(m->query);
        g_free(m->buf);
        g_free(m);
}

guint
nlc_monitor_get_overruns(NlcMonitor *m)
{
        return m->overruns;
}
