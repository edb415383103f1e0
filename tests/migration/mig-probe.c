/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE /* setns, ppoll */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_bridge.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mig-probe.h"

#define PAYLOAD_LEN 56

struct _MigProbe {
        struct in_addr guest_ip;
        guint8 guest_mac[ETH_ALEN];
        guint16 echo_id;
        gint stop; /* atomic */
        GMutex lock;
        GArray *sent, *replies, *captures[2], *samples;
        GPtrArray *threads;
        GPtrArray *jobs; /* the threads' data, freed after they are joined */
        GArray *fds;     /* the threads' sockets, closed after they are joined */
        struct mnl_socket *nl[2];
        int ifindex[2];
        /* The second NIC, when the guest has one. */
        gboolean has_nic2;
        guint8 mac2[ETH_ALEN];
        char *tap2[2];
        int ifindex2[2];
};

gboolean
mig_in_netns(const char *ns, gboolean (*fn)(gpointer), gpointer data, GError **error)
{
        g_autofree char *path = g_build_filename("/run/netns", ns, NULL);
        int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        int target = open(path, O_RDONLY | O_CLOEXEC);
        gboolean ok = FALSE;

        if (self < 0 || target < 0 || setns(target, CLONE_NEWNET) < 0) {
                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                            "cannot enter network namespace %s: %s", ns, g_strerror(errno));
        } else {
                ok = fn(data);
                if (setns(self, CLONE_NEWNET) < 0)
                        g_error("cannot return to the test's network namespace: %s",
                                g_strerror(errno));
                if (!ok)
                        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                                    "in namespace %s: %s", ns, g_strerror(errno));
        }
        if (self >= 0)
                close(self);
        if (target >= 0)
                close(target);
        return ok;
}

static gint64
timespec_us(const struct timespec *ts)
{
        return (gint64) ts->tv_sec * G_USEC_PER_SEC + ts->tv_nsec / 1000;
}

static gboolean
stopping(MigProbe *p, gint64 deadline)
{
        return g_atomic_int_get(&p->stop) || g_get_monotonic_time() > deadline;
}

static void
add_arrival(MigProbe *p, GArray *a, gint64 at, guint32 seq)
{
        MigArrival x = { at, seq };

        g_mutex_lock(&p->lock);
        g_array_append_val(a, x);
        g_mutex_unlock(&p->lock);
}

static guint16
checksum(const void *data, size_t len)
{
        const guint8 *b = data;
        guint32 sum = 0;

        for (size_t i = 0; i + 1 < len; i += 2)
                sum += (guint32) (b[i] << 8 | b[i + 1]);
        if (len & 1)
                sum += (guint32) b[len - 1] << 8;
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        return htons((guint16) ~sum);
}

/* The sequence number of an echo of ours in @icmp (@len bytes), -1 if it is
 * not one of type @type. */
static gint64
our_echo(MigProbe *p, const guint8 *icmp, size_t len, guint8 type)
{
        const struct icmphdr *h = (const struct icmphdr *) icmp;
        guint32 seq;

        if (len < sizeof *h + sizeof seq || h->type != type || h->code != 0 ||
            ntohs(h->un.echo.id) != p->echo_id)
                return -1;
        memcpy(&seq, icmp + sizeof *h, sizeof seq);
        return ntohl(seq);
}

/* ---- echo: the peer's requests and the guest's replies ---- */

typedef struct {
        MigProbe *p;
        int fd;
} Job;

static gboolean
open_icmp(gpointer data)
{
        Job *j = data;

        j->fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_ICMP);
        return j->fd >= 0;
}

static void
send_echo(Job *j, guint32 seq)
{
        MigProbe *p = j->p;
        guint8 pkt[sizeof(struct icmphdr) + PAYLOAD_LEN] = { 0 };
        struct icmphdr *h = (struct icmphdr *) pkt;
        struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = p->guest_ip };
        guint32 nseq = htonl(seq);

        h->type = ICMP_ECHO;
        h->un.echo.id = htons(p->echo_id);
        h->un.echo.sequence = htons((guint16) seq);
        memcpy(pkt + sizeof *h, &nseq, sizeof nseq);
        h->checksum = checksum(pkt, sizeof pkt);
        if (sendto(j->fd, pkt, sizeof pkt, 0, (struct sockaddr *) &to, sizeof to) == sizeof pkt)
                add_arrival(p, p->sent, g_get_real_time(), seq);
}

static void
read_replies(Job *j)
{
        guint8 buf[2048];

        for (int i = 0; i < 256; i++) {
                ssize_t n = recv(j->fd, buf, sizeof buf, 0);
                const struct iphdr *ip = (const struct iphdr *) buf;
                size_t ihl;
                gint64 seq;

                if (n < (ssize_t) sizeof *ip)
                        return;
                ihl = (size_t) ip->ihl * 4;
                if ((size_t) n < ihl || ip->saddr != j->p->guest_ip.s_addr)
                        continue;
                seq = our_echo(j->p, buf + ihl, (size_t) n - ihl, ICMP_ECHOREPLY);
                if (seq >= 0)
                        add_arrival(j->p, j->p->replies, g_get_real_time(), (guint32) seq);
        }
}

static gpointer
echo_thread(gpointer data)
{
        Job *j = data;
        gint64 deadline = g_get_monotonic_time() + MIG_PROBE_MAX_S * G_USEC_PER_SEC;
        gint64 next = g_get_monotonic_time();
        guint32 seq = 0;

        while (!stopping(j->p, deadline)) {
                gint64 now = g_get_monotonic_time(), wait;
                struct pollfd pfd = { .fd = j->fd, .events = POLLIN };
                struct timespec ts;

                if (now >= next) {
                        send_echo(j, seq++);
                        next += MIG_PROBE_INTERVAL_US;
                        /* Starved for long: keep the pace, do not burst. */
                        if (next < now)
                                next = now + MIG_PROBE_INTERVAL_US;
                }
                wait = MAX(0, next - g_get_monotonic_time());
                ts.tv_sec = wait / G_USEC_PER_SEC;
                ts.tv_nsec = (wait % G_USEC_PER_SEC) * 1000;
                if (ppoll(&pfd, 1, &ts, NULL) > 0)
                        read_replies(j);
        }
        return NULL;
}

/* ---- capture: echo requests reaching a tap ---- */

typedef struct {
        MigProbe *p;
        int fd;
        guint host;
        const char *ifname;
} Capture;

static gboolean
open_capture(gpointer data)
{
        Capture *c = data;
        struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
        int on = 1;

        sll.sll_ifindex = (int) if_nametoindex(c->ifname);
        if (sll.sll_ifindex == 0)
                return FALSE;
        c->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
        if (c->fd < 0)
                return FALSE;
        return setsockopt(c->fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) == 0 &&
               bind(c->fd, (struct sockaddr *) &sll, sizeof sll) == 0;
}

/* An echo request of ours to the guest, going out of the tap towards QEMU. */
static void
capture_frame(Capture *c, const guint8 *frame, size_t len, const struct sockaddr_ll *from,
              gint64 at)
{
        const struct ethhdr *eth = (const struct ethhdr *) frame;
        const struct iphdr *ip = (const struct iphdr *) (frame + sizeof *eth);
        size_t ihl;
        gint64 seq;

        if (from->sll_pkttype != PACKET_OUTGOING || len < sizeof *eth + sizeof *ip ||
            eth->h_proto != htons(ETH_P_IP) || ip->protocol != IPPROTO_ICMP ||
            ip->daddr != c->p->guest_ip.s_addr)
                return;
        ihl = (size_t) ip->ihl * 4;
        if (len < sizeof *eth + ihl)
                return;
        seq = our_echo(c->p, frame + sizeof *eth + ihl, len - sizeof *eth - ihl, ICMP_ECHO);
        if (seq >= 0)
                add_arrival(c->p, c->p->captures[c->host], at, (guint32) seq);
}

static void
read_frames(Capture *c)
{
        for (int i = 0; i < 256; i++) {
                guint8 frame[2048];
                union {
                        char buf[CMSG_SPACE(sizeof(struct timespec))];
                        struct cmsghdr align;
                } control;
                struct sockaddr_ll from;
                struct iovec iov = { frame, sizeof frame };
                struct msghdr msg = { .msg_name = &from,
                                      .msg_namelen = sizeof from,
                                      .msg_iov = &iov,
                                      .msg_iovlen = 1,
                                      .msg_control = control.buf,
                                      .msg_controllen = sizeof control.buf };
                gint64 at = 0;
                ssize_t n = recvmsg(c->fd, &msg, 0);

                if (n < 0)
                        return;
                for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
                        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
                                struct timespec ts;

                                memcpy(&ts, CMSG_DATA(cm), sizeof ts);
                                at = timespec_us(&ts);
                        }
                }
                capture_frame(c, frame, (size_t) n, &from, at ? at : g_get_real_time());
        }
}

static gpointer
capture_thread(gpointer data)
{
        Capture *c = data;
        gint64 deadline = g_get_monotonic_time() + MIG_PROBE_MAX_S * G_USEC_PER_SEC;

        while (!stopping(c->p, deadline)) {
                struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

                if (poll(&pfd, 1, 50) > 0)
                        read_frames(c);
        }
        return NULL;
}

/* ---- sampler: static FDB entries and tap port states, by netlink ---- */

typedef struct {
        MigProbe *p;
        guint host;
        const char *tap, *tap2;
        int fd;
        int ifindex, ifindex2;
} NlOpen;

static gboolean
open_netlink(gpointer data)
{
        NlOpen *o = data;

        o->ifindex = (int) if_nametoindex(o->tap);
        if (o->ifindex <= 0)
                return FALSE;
        if (o->tap2) {
                o->ifindex2 = (int) if_nametoindex(o->tap2);
                if (o->ifindex2 <= 0)
                        return FALSE;
        }
        o->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        return o->fd >= 0;
}

typedef struct {
        MigProbe *p;
        guint host;
        MigSample *s;
} DumpCtx;

static int
on_neigh(const struct nlmsghdr *nlh, void *data)
{
        DumpCtx *d = data;
        const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
        const struct nlattr *attr;
        const guint8 *lladdr = NULL;
        gboolean on_bridge = FALSE;

        if (nlh->nlmsg_type != RTM_NEWNEIGH || ndm->ndm_family != AF_BRIDGE)
                return MNL_CB_OK;
        mnl_attr_for_each(attr, nlh, sizeof *ndm)
        {
                if (mnl_attr_get_type(attr) == NDA_LLADDR &&
                    mnl_attr_get_payload_len(attr) == ETH_ALEN)
                        lladdr = mnl_attr_get_payload(attr);
                else if (mnl_attr_get_type(attr) == NDA_MASTER)
                        on_bridge = TRUE;
        }
        /* Static (NUD_NOARP) or permanent entries on a bridge port; learnt
         * ones are not an owner's. */
        if (!lladdr || !on_bridge || !(ndm->ndm_state & (NUD_NOARP | NUD_PERMANENT)))
                return MNL_CB_OK;
        if (memcmp(lladdr, d->p->guest_mac, ETH_ALEN) == 0) {
                d->s->owner[d->host] = ndm->ndm_ifindex;
                d->s->owners[d->host]++;
        } else if (d->p->has_nic2 && memcmp(lladdr, d->p->mac2, ETH_ALEN) == 0) {
                d->s->owner2[d->host] = ndm->ndm_ifindex;
                d->s->owners2[d->host]++;
        }
        return MNL_CB_OK;
}

static int
on_link(const struct nlmsghdr *nlh, void *data)
{
        DumpCtx *d = data;
        const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
        const struct nlattr *attr, *inner;
        int *state;

        if (nlh->nlmsg_type != RTM_NEWLINK)
                return MNL_CB_OK;
        if (ifm->ifi_index == d->p->ifindex[d->host])
                state = &d->s->tap_state[d->host];
        else if (d->p->has_nic2 && ifm->ifi_index == d->p->ifindex2[d->host])
                state = &d->s->tap2_state[d->host];
        else
                return MNL_CB_OK;
        mnl_attr_for_each(attr, nlh, sizeof *ifm)
        {
                if (mnl_attr_get_type(attr) != IFLA_PROTINFO)
                        continue;
                mnl_attr_for_each_nested(inner, attr)
                {
                        if (mnl_attr_get_type(inner) == IFLA_BRPORT_STATE)
                                *state = mnl_attr_get_u8(inner);
                }
        }
        return MNL_CB_OK;
}

/* One AF_BRIDGE dump of @type; FALSE when it failed. */
static gboolean
dump(MigProbe *p, guint host, guint16 type, mnl_cb_t cb, MigSample *s)
{
        static char buf[2][65536]; /* the sampler thread's only */
        struct mnl_socket *nl = p->nl[host];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf[host]);
        DumpCtx d = { p, host, s };
        guint32 seq = (guint32) g_get_monotonic_time();
        int ret = MNL_CB_OK;

        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        nlh->nlmsg_seq = seq;
        if (type == RTM_GETNEIGH) {
                struct ndmsg *ndm = mnl_nlmsg_put_extra_header(nlh, sizeof *ndm);

                ndm->ndm_family = AF_BRIDGE;
        } else {
                struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);

                ifm->ifi_family = AF_BRIDGE;
        }
        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
                return FALSE;
        for (int i = 0; i < 1000 && ret > MNL_CB_STOP; i++) {
                ssize_t n = mnl_socket_recvfrom(nl, buf[host], sizeof buf[host]);

                if (n <= 0)
                        return FALSE;
                ret = mnl_cb_run(buf[host], (size_t) n, seq, mnl_socket_get_portid(nl), cb, &d);
        }
        return ret == MNL_CB_STOP;
}

static gpointer
sampler_thread(gpointer data)
{
        MigProbe *p = data;
        gint64 deadline = g_get_monotonic_time() + MIG_PROBE_MAX_S * G_USEC_PER_SEC;
        gint64 next = g_get_monotonic_time();

        while (!stopping(p, deadline)) {
                MigSample s = { .tap_state = { -1, -1 }, .tap2_state = { -1, -1 } };
                gint64 wait;

                s.start = g_get_real_time();
                /* The destination first: a legitimate hand-over (source entry
                 * removed, then destination entry added) can then never look
                 * like two owners within one sample; only a real overlap can. */
                for (int host = 1; host >= 0; host--) {
                        if (!dump(p, (guint) host, RTM_GETLINK, on_link, &s))
                                s.tap_state[host] = s.tap2_state[host] = -1;
                        if (!dump(p, (guint) host, RTM_GETNEIGH, on_neigh, &s))
                                s.owner[host] = s.owner2[host] = -1;
                }
                s.end = g_get_real_time();
                g_mutex_lock(&p->lock);
                g_array_append_val(p->samples, s);
                g_mutex_unlock(&p->lock);
                next += MIG_PROBE_INTERVAL_US;
                wait = next - g_get_monotonic_time();
                if (wait > 0)
                        g_usleep((gulong) wait);
                else
                        next = g_get_monotonic_time();
        }
        return NULL;
}

/* ---- the object ---- */

MigProbe *
mig_probe_new(const char *guest_ip, const char *guest_mac)
{
        MigProbe *p = g_new0(MigProbe, 1);

        g_mutex_init(&p->lock);
        inet_pton(AF_INET, guest_ip, &p->guest_ip);
        sscanf(guest_mac, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &p->guest_mac[0], &p->guest_mac[1],
               &p->guest_mac[2], &p->guest_mac[3], &p->guest_mac[4], &p->guest_mac[5]);
        p->echo_id = (guint16) (getpid() ^ 0x4e4c);
        p->sent = g_array_new(FALSE, FALSE, sizeof(MigArrival));
        p->replies = g_array_new(FALSE, FALSE, sizeof(MigArrival));
        p->captures[0] = g_array_new(FALSE, FALSE, sizeof(MigArrival));
        p->captures[1] = g_array_new(FALSE, FALSE, sizeof(MigArrival));
        p->samples = g_array_new(FALSE, FALSE, sizeof(MigSample));
        p->threads = g_ptr_array_new();
        p->jobs = g_ptr_array_new_with_free_func(g_free);
        p->fds = g_array_new(FALSE, FALSE, sizeof(int));
        return p;
}

void
mig_probe_stop(MigProbe *p)
{
        g_atomic_int_set(&p->stop, 1);
        for (guint i = 0; i < p->threads->len; i++)
                g_thread_join(p->threads->pdata[i]);
        g_ptr_array_set_size(p->threads, 0);
}

void
mig_probe_free(MigProbe *p)
{
        if (!p)
                return;
        mig_probe_stop(p);
        for (guint i = 0; i < p->fds->len; i++)
                close(g_array_index(p->fds, int, i));
        g_array_unref(p->fds);
        for (guint i = 0; i < 2; i++)
                if (p->nl[i])
                        mnl_socket_close(p->nl[i]);
        g_ptr_array_unref(p->jobs);
        g_ptr_array_unref(p->threads);
        g_free(p->tap2[0]);
        g_free(p->tap2[1]);
        g_array_unref(p->sent);
        g_array_unref(p->replies);
        g_array_unref(p->captures[0]);
        g_array_unref(p->captures[1]);
        g_array_unref(p->samples);
        g_mutex_clear(&p->lock);
        g_free(p);
}

gboolean
mig_probe_start_echo(MigProbe *p, const char *ns, GError **error)
{
        Job *j = g_new0(Job, 1);

        j->p = p;
        j->fd = -1;
        g_ptr_array_add(p->jobs, j);
        if (!mig_in_netns(ns, open_icmp, j, error)) {
                g_prefix_error(error, "echo socket: ");
                return FALSE;
        }
        g_array_append_val(p->fds, j->fd);
        g_ptr_array_add(p->threads, g_thread_new("mig-echo", echo_thread, j));
        return TRUE;
}

gboolean
mig_probe_start_capture(MigProbe *p, guint host, const char *ns, const char *ifname, GError **error)
{
        Capture *c = g_new0(Capture, 1);

        g_return_val_if_fail(host < 2, FALSE);
        c->p = p;
        c->fd = -1;
        c->host = host;
        c->ifname = ifname;
        g_ptr_array_add(p->jobs, c);
        if (!mig_in_netns(ns, open_capture, c, error)) {
                if (c->fd >= 0)
                        close(c->fd);
                g_prefix_error(error, "capture on %s: ", ifname);
                return FALSE;
        }
        g_array_append_val(p->fds, c->fd);
        g_ptr_array_add(p->threads, g_thread_new("mig-capture", capture_thread, c));
        return TRUE;
}

void
mig_probe_add_second_nic(MigProbe *p, const char *mac, const char *const tap[2])
{
        p->has_nic2 = TRUE;
        sscanf(mac, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &p->mac2[0], &p->mac2[1], &p->mac2[2],
               &p->mac2[3], &p->mac2[4], &p->mac2[5]);
        for (guint i = 0; i < 2; i++)
                p->tap2[i] = g_strdup(tap[i]);
}

gboolean
mig_probe_start_sampler(MigProbe *p, const char *const ns[2], const char *const tap[2],
                        GError **error)
{
        for (guint i = 0; i < 2; i++) {
                NlOpen o = { p, i, tap[i], p->tap2[i], -1, 0, 0 };

                if (!mig_in_netns(ns[i], open_netlink, &o, error)) {
                        if (o.fd >= 0)
                                close(o.fd);
                        g_prefix_error(error, "sampler (%s): ", tap[i]);
                        return FALSE;
                }
                p->nl[i] = mnl_socket_fdopen(o.fd);
                p->ifindex[i] = o.ifindex;
                p->ifindex2[i] = o.ifindex2;
                if (!p->nl[i] || mnl_socket_bind(p->nl[i], 0, MNL_SOCKET_AUTOPID) < 0) {
                        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                                    "sampler: netlink socket: %s", g_strerror(errno));
                        return FALSE;
                }
        }
        g_ptr_array_add(p->threads, g_thread_new("mig-sampler", sampler_thread, p));
        return TRUE;
}

static GArray *
copy(MigProbe *p, GArray *a)
{
        GArray *c;

        g_mutex_lock(&p->lock);
        c = g_array_sized_new(FALSE, FALSE, g_array_get_element_size(a), a->len);
        g_array_append_vals(c, a->data, a->len);
        g_mutex_unlock(&p->lock);
        return c;
}

GArray *
mig_probe_get_sent(MigProbe *p)
{
        return copy(p, p->sent);
}

GArray *
mig_probe_get_replies(MigProbe *p)
{
        return copy(p, p->replies);
}

GArray *
mig_probe_get_captures(MigProbe *p, guint host)
{
        return copy(p, p->captures[host]);
}

GArray *
mig_probe_get_samples(MigProbe *p)
{
        return copy(p, p->samples);
}

guint
mig_probe_count_captures(MigProbe *p, guint host)
{
        guint n;

        g_mutex_lock(&p->lock);
        n = p->captures[host]->len;
        g_mutex_unlock(&p->lock);
        return n;
}

int
mig_probe_tap_ifindex(MigProbe *p, guint host)
{
        return p->ifindex[host];
}

int
mig_probe_tap2_ifindex(MigProbe *p, guint host)
{
        return p->ifindex2[host];
}

guint
mig_probe_count_replies(MigProbe *p)
{
        guint n;

        g_mutex_lock(&p->lock);
        n = p->replies->len;
        g_mutex_unlock(&p->lock);
        return n;
}
