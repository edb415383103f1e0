/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * MAC ownership against the real kernel: handover on one bridge (one
 * replace: never zero, never two entries, sampled every millisecond), across
 * bridges, refusal for another instance, and conflicts the bridge reveals.
 */
#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nlc-test-packet.h"
#include "ns-env.h"

#define DEV "org.netlifecd1.Device"
#define MAC "52:54:00:00:0b:01"
static const guint8 mac_bytes[6] = { 0x52, 0x54, 0x00, 0x00, 0x0b, 0x01 };

typedef struct {
        NsEnv env;
        GPtrArray *paths;
        GPtrArray *fds;
} Fixture;

static void
make_bridge(const char *name)
{
        ns_sh("ip link add %s type bridge stp_state 0 && ip link set %s up", name, name);
        ns_sh("ip link add %s-up type veth peer name %s-peer", name, name);
        ns_sh("ip link set %s-up master %s && ip link set %s-up up && ip link set %s-peer up", name,
              name, name, name);
}

static void
set_up(Fixture *f, gconstpointer data)
{
        ns_env_set_up(&f->env, NULL);
        f->paths = g_ptr_array_new_with_free_func(g_free);
        f->fds = g_ptr_array_new_with_free_func(g_object_unref);
        make_bridge("br0");
        make_bridge("br1");
}

static void
tear_down(Fixture *f, gconstpointer data)
{
        g_ptr_array_unref(f->fds);
        g_ptr_array_unref(f->paths);
        ns_env_tear_down(&f->env);
}

/* Allocates and creates a device; returns its path. */
static const char *
add_device(Fixture *f, const char *instance, const char *bridge, const char *ifname)
{
        g_autofree char *opts =
                g_strdup_printf("{'bridge': <'%s'>, 'ifname': <'%s'>}", bridge, ifname);
        char *path = ns_allocate(&f->env, instance, MAC, opts);

        g_ptr_array_add(f->paths, path);
        g_ptr_array_add(f->fds, ns_create(&f->env, path));
        return path;
}

static char *
state_of(Fixture *f, const char *path)
{
        return ns_get_string(&f->env, path, DEV, "State");
}

/* The sampler: its own rtnetlink socket, an AF_BRIDGE FDB dump every
 * millisecond, counting static entries for the guest MAC. */
typedef struct {
        volatile gboolean stop;
        guint samples, min, max;
} Sampler;

static int
count_cb(const struct nlmsghdr *nlh, void *data)
{
        guint *count = data;
        const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
        const struct nlattr *attr;

        if (nlh->nlmsg_type != RTM_NEWNEIGH || !(ndm->ndm_state & NUD_NOARP))
                return MNL_CB_OK;
        mnl_attr_for_each(attr, nlh, sizeof *ndm) if (mnl_attr_get_type(attr) == NDA_LLADDR &&
                                                      mnl_attr_get_payload_len(attr) == 6 &&
                                                      memcmp(mnl_attr_get_payload(attr), mac_bytes,
                                                             6) == 0)(*count)++;
        return MNL_CB_OK;
}

static guint
count_static_entries(struct mnl_socket *s, guint32 seq)
{
        char buf[64 * 1024];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct ndmsg *ndm;
        guint count = 0;
        ssize_t n;
        int r;

        nlh->nlmsg_type = RTM_GETNEIGH;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        nlh->nlmsg_seq = seq;
        ndm = mnl_nlmsg_put_extra_header(nlh, sizeof *ndm);
        ndm->ndm_family = AF_BRIDGE;
        g_assert_cmpint(mnl_socket_sendto(s, nlh, nlh->nlmsg_len), >, 0);
        do {
                n = mnl_socket_recvfrom(s, buf, sizeof buf);
                g_assert_cmpint(n, >, 0);
                r = mnl_cb_run(buf, (size_t) n, seq, mnl_socket_get_portid(s), count_cb, &count);
        } while (r > MNL_CB_STOP);
        g_assert_cmpint(r, ==, MNL_CB_STOP);
        return count;
}

static gpointer
sampler_thread(gpointer data)
{
        Sampler *s = data;
        struct mnl_socket *sock = mnl_socket_open(NETLINK_ROUTE);
        guint32 seq = 0;

        g_assert_nonnull(sock);
        g_assert_cmpint(mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID), ==, 0);
        s->min = G_MAXUINT;
        while (!s->stop) {
                guint n = count_static_entries(sock, ++seq);

                s->min = MIN(s->min, n);
                s->max = MAX(s->max, n);
                s->samples++;
                g_usleep(1000);
        }
        mnl_socket_close(sock);
        return NULL;
}

/* The kernel's own order of the guest MAC's FDB changes, read from its
 * RTNLGRP_NEIGH events while a handover runs: which bridges hold a static
 * entry after each event, at least and at most. A sampler can miss a short
 * window; the event order cannot. */
typedef struct {
        volatile gboolean stop;
        GHashTable *holders; /* bridge ifindex → itself */
        guint events, min, max;
} Holders;

static int
holders_cb(const struct nlmsghdr *nlh, void *data)
{
        Holders *h = data;
        const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
        const struct nlattr *attr;
        gboolean ours = FALSE;
        guint32 master = 0;

        if (ndm->ndm_family != AF_BRIDGE || !(ndm->ndm_state & NUD_NOARP))
                return MNL_CB_OK;
        mnl_attr_for_each(attr, nlh, sizeof *ndm)
        {
                if (mnl_attr_get_type(attr) == NDA_LLADDR && mnl_attr_get_payload_len(attr) == 6)
                        ours = memcmp(mnl_attr_get_payload(attr), mac_bytes, 6) == 0;
                else if (mnl_attr_get_type(attr) == NDA_MASTER)
                        master = mnl_attr_get_u32(attr);
        }
        if (!ours || !master)
                return MNL_CB_OK;
        if (nlh->nlmsg_type == RTM_NEWNEIGH)
                g_hash_table_add(h->holders, GUINT_TO_POINTER(master));
        else if (nlh->nlmsg_type == RTM_DELNEIGH)
                g_hash_table_remove(h->holders, GUINT_TO_POINTER(master));
        h->events++;
        h->min = MIN(h->min, g_hash_table_size(h->holders));
        h->max = MAX(h->max, g_hash_table_size(h->holders));
        return MNL_CB_OK;
}

static gpointer
holders_thread(gpointer data)
{
        Holders *h = data;
        struct mnl_socket *sock = mnl_socket_open(NETLINK_ROUTE);
        char buf[64 * 1024];

        g_assert_nonnull(sock);
        g_assert_cmpint(mnl_socket_bind(sock, RTMGRP_NEIGH, MNL_SOCKET_AUTOPID), ==, 0);
        while (!h->stop) {
                struct pollfd p = { .fd = mnl_socket_get_fd(sock), .events = POLLIN };
                ssize_t n;

                if (poll(&p, 1, 10) <= 0)
                        continue;
                n = mnl_socket_recvfrom(sock, buf, sizeof buf);
                g_assert_cmpint(n, >, 0);
                mnl_cb_run(buf, (size_t) n, 0, 0, holders_cb, h);
        }
        mnl_socket_close(sock);
        return NULL;
}

/* Runs Activate on @path while following the MAC's entries from @bridge
 * (its holder before) on. */
static void
activate_followed(Fixture *f, const char *path, const char *bridge, Holders *h)
{
        GThread *t;

        memset(h, 0, sizeof *h);
        h->holders = g_hash_table_new(NULL, NULL);
        g_hash_table_add(h->holders, GUINT_TO_POINTER(if_nametoindex(bridge)));
        h->min = h->max = 1;
        t = g_thread_new("fdb-events", holders_thread, h);
        g_usleep(20000);
        ns_device_call(&f->env, path, "Activate");
        g_usleep(50000);
        h->stop = TRUE;
        g_thread_join(t);
        g_clear_pointer(&h->holders, g_hash_table_unref);
}

/* Runs Activate on @path while the sampler watches the FDB. */
static void
activate_sampled(Fixture *f, const char *path, Sampler *s)
{
        GThread *t;

        memset(s, 0, sizeof *s);
        t = g_thread_new("fdb-sampler", sampler_thread, s);
        g_usleep(20000);
        ns_device_call(&f->env, path, "Activate");
        g_usleep(20000);
        s->stop = TRUE;
        g_thread_join(t);
        g_assert_cmpuint(s->samples, >=, 10);
}

static void
test_handover_same_bridge(Fixture *f, gconstpointer data)
{
        const char *a = add_device(f, "vm1", "br0", "ta0");
        const char *b = add_device(f, "vm1", "br0", "tb0");
        g_autofree char *fdb1 = NULL, *fdb2 = NULL, *sa = NULL, *sb = NULL;
        Sampler s;

        ns_device_call(&f->env, a, "Activate");
        fdb1 = ns_kernel_fdb_static(MAC);
        g_assert_cmpstr(fdb1, ==, "ta0@br0");
        activate_sampled(f, b, &s);
        /* One RTM_NEWNEIGH with NLM_F_REPLACE: never zero, never two. */
        g_assert_cmpuint(s.min, ==, 1);
        g_assert_cmpuint(s.max, ==, 1);
        fdb2 = ns_kernel_fdb_static(MAC);
        g_assert_cmpstr(fdb2, ==, "tb0@br0");
        sa = state_of(f, a);
        sb = state_of(f, b);
        g_assert_cmpstr(sa, ==, "created");
        g_assert_cmpstr(sb, ==, "active");
        g_assert_false(ns_get_bool(&f->env, a, DEV, "OwnsMac"));
        g_assert_true(ns_get_bool(&f->env, b, DEV, "OwnsMac"));
}

/* Across bridges the new entry comes first and the old one goes after: the
 * two FDBs cannot conflict, and no moment without an entry floods the
 * guest's frames to every unmanaged port. */
static void
test_handover_cross_bridge(Fixture *f, gconstpointer data)
{
        const char *a = add_device(f, "vm1", "br0", "ta0");
        const char *c = add_device(f, "vm1", "br1", "tc1");
        g_autofree char *fdb = NULL, *sa = NULL;
        Holders h;

        ns_device_call(&f->env, a, "Activate");
        activate_followed(f, c, "br0", &h);
        g_test_message("%u FDB events for the MAC; bridges holding it: %u to %u", h.events, h.min,
                       h.max);
        g_assert_cmpuint(h.events, ==, 2); /* br1's entry added, br0's deleted */
        g_assert_cmpuint(h.min, ==, 1);    /* never none */
        g_assert_cmpuint(h.max, ==, 2);    /* both for a moment, one per bridge */
        fdb = ns_kernel_fdb_static(MAC);
        g_assert_cmpstr(fdb, ==, "tc1@br1");
        sa = state_of(f, a);
        g_assert_cmpstr(sa, ==, "created");
}

/* The new holder's activation fails (its port was taken off its bridge
 * behind the daemon): the previous one keeps the MAC, in the kernel and in
 * the registry, so another instance still meets Conflict. */
static void
test_failed_handover_keeps_holder(Fixture *f, gconstpointer data)
{
        const char *a = add_device(f, "vm1", "br0", "ta0");
        const char *c = add_device(f, "vm1", "br1", "tc1");
        const char *d = add_device(f, "vm2", "br0", "td0");
        g_autofree char *fdb = NULL, *sa = NULL, *sc = NULL;

        ns_device_call(&f->env, a, "Activate");
        ns_sh("ip link del tc1");
        ns_call_expect_error(&f->env, c, DEV, "Activate", NULL, "org.netlifecd1.Error.NotFound");
        sa = state_of(f, a);
        sc = state_of(f, c);
        g_assert_cmpstr(sa, ==, "active");
        g_assert_cmpstr(sc, ==, "created");
        g_assert_true(ns_get_bool(&f->env, a, DEV, "OwnsMac"));
        fdb = ns_kernel_fdb_static(MAC);
        g_assert_cmpstr(fdb, ==, "ta0@br0");
        ns_call_expect_error(&f->env, d, DEV, "Activate", NULL, "org.netlifecd1.Error.Conflict");
}

static void
test_other_instance_refused(Fixture *f, gconstpointer data)
{
        const char *a = add_device(f, "vm1", "br0", "ta0");
        const char *d = add_device(f, "vm2", "br0", "td0");
        g_autofree char *fdb = NULL, *sa = NULL, *sd = NULL;

        ns_device_call(&f->env, a, "Activate");
        ns_call_expect_error(&f->env, d, DEV, "Activate", NULL, "org.netlifecd1.Error.Conflict");
        fdb = ns_kernel_fdb_static(MAC);
        g_assert_cmpstr(fdb, ==, "ta0@br0");
        sa = state_of(f, a);
        sd = state_of(f, d);
        g_assert_cmpstr(sa, ==, "active");
        g_assert_cmpstr(sd, ==, "created");
}

typedef struct {
        char *mac, *owner, *seen;
} Conflict;

static void
on_conflict(GDBusConnection *c, const char *sender, const char *path, const char *iface,
            const char *signal, GVariant *params, gpointer data)
{
        Conflict *k = data;

        if (!k->mac)
                g_variant_get(params, "(sss)", &k->mac, &k->owner, &k->seen);
}

static gboolean
conflict_seen(gpointer data)
{
        return ((Conflict *) data)->mac != NULL;
}

/* A frame with the guest MAC as source, sent into @ifname. */
static void
inject(const char *ifname)
{
        guint8 frame[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
        struct sockaddr_ll sll = { .sll_family = AF_PACKET,
                                   .sll_ifindex = (int) if_nametoindex(ifname) };
        int fd = socket(AF_PACKET, SOCK_RAW, 0);

        g_assert_cmpint(fd, >=, 0);
        memcpy(frame + 6, mac_bytes, 6);
        frame[12] = 0x08, frame[13] = 0x06; /* ARP */
        g_assert_cmpint(sendto(fd, frame, sizeof frame, 0, (struct sockaddr *) &sll, sizeof sll),
                        ==, sizeof frame);
        close(fd);
}

/* The guest runs on br1; its MAC shows up on br0's uplink: MacConflict on br0. */
static void
test_conflict_learnt_elsewhere(Fixture *f, gconstpointer data)
{
        const char *c = add_device(f, "vm1", "br1", "tc1");
        Conflict k = { 0 };
        guint sub;

        add_device(f, "vm1", "br0", "ta0"); /* makes br0 a managed bridge */
        ns_device_call(&f->env, c, "Activate");
        sub = g_dbus_connection_signal_subscribe(f->env.conn, "org.netlifecd1",
                                                 "org.netlifecd1.Bridge", "MacConflict",
                                                 "/org/netlifecd1/bridge/br0", NULL,
                                                 G_DBUS_SIGNAL_FLAGS_NONE, on_conflict, &k, NULL);
        g_usleep(100000); /* the peer's carrier settles before we send */
        inject("br0-peer");
        g_assert_true(ns_wait(conflict_seen, &k, 3000));
        g_assert_cmpstr(k.mac, ==, MAC);
        g_assert_cmpstr(k.owner, ==, "tc1");
        g_assert_cmpstr(k.seen, ==, "br0-up");
        g_assert_cmpuint(ns_get_u64(&f->env, "/org/netlifecd1/bridge/br0", "org.netlifecd1.Bridge",
                                    "Conflicts"),
                         ==, 1);
        g_dbus_connection_signal_unsubscribe(f->env.conn, sub);
        g_free(k.mac), g_free(k.owner), g_free(k.seen);
}

/* Someone moves the owner's entry on its own bridge: signalled and put back. */
static void
test_conflict_on_owner_bridge_repaired(Fixture *f, gconstpointer data)
{
        const char *a = add_device(f, "vm1", "br0", "ta0");
        g_autofree char *fdb = NULL;
        Conflict k = { 0 };
        guint sub;

        ns_device_call(&f->env, a, "Activate");
        sub = g_dbus_connection_signal_subscribe(f->env.conn, "org.netlifecd1",
                                                 "org.netlifecd1.Bridge", "MacConflict",
                                                 "/org/netlifecd1/bridge/br0", NULL,
                                                 G_DBUS_SIGNAL_FLAGS_NONE, on_conflict, &k, NULL);
        ns_sh("bridge fdb replace %s dev br0-up master static", MAC);
        g_assert_true(ns_wait(conflict_seen, &k, 3000));
        g_assert_cmpstr(k.seen, ==, "br0-up");
        for (int i = 0; i < 100; i++) {
                g_free(fdb);
                fdb = ns_kernel_fdb_static(MAC);
                if (g_str_equal(fdb, "ta0@br0"))
                        break;
                g_usleep(10000);
        }
        g_assert_cmpstr(fdb, ==, "ta0@br0");
        g_dbus_connection_signal_unsubscribe(f->env.conn, sub);
        g_free(k.mac), g_free(k.owner), g_free(k.seen);
}

/* Waits @window_ms for an RTM_NEWNEIGH that puts the guest MAC on a port other
 * than @owner_ifindex; returns that port's ifindex, 0 when none came. */
static int
foreign_move_cb(const struct nlmsghdr *nlh, void *data)
{
        int *moved = data;
        const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
        const struct nlattr *attr;

        if (nlh->nlmsg_type != RTM_NEWNEIGH || ndm->ndm_family != AF_BRIDGE)
                return MNL_CB_OK;
        mnl_attr_for_each(attr, nlh, sizeof *ndm)
        {
                if (mnl_attr_get_type(attr) == NDA_LLADDR && mnl_attr_get_payload_len(attr) == 6 &&
                    memcmp(mnl_attr_get_payload(attr), mac_bytes, 6) == 0 && !*moved)
                        *moved = ndm->ndm_ifindex;
        }
        return MNL_CB_OK;
}

/* The guest's own frame comes back in through the uplink (in a migration: the
 * destination QEMU's RARP while the source is still active). The static entry
 * is sticky, so the bridge must not move it there: no RTM_NEWNEIGH for the MAC
 * at all, and the frame really crossed the bridge (flooded to the tap). A
 * non-sticky static entry moves, and a Deactivate then misses it. */
static void
test_guest_mac_from_uplink_does_not_move_entry(Fixture *f, gconstpointer data)
{
        const char *a = add_device(f, "vm1", "br0", "ta0");
        GUnixFDList *fds = g_ptr_array_index(f->fds, 0);
        int queue = g_unix_fd_list_get(fds, 0, NULL);
        struct mnl_socket *mon = mnl_socket_open(NETLINK_ROUTE);
        g_autofree char *before = NULL, *after = NULL, *flags = NULL;
        guint8 frame[NLC_FRAME_LEN];
        char buf[16384];
        gint64 until;
        int moved = 0;

        ns_device_call(&f->env, a, "Activate");
        before = ns_kernel_fdb_static(MAC);
        g_assert_cmpstr(before, ==, "ta0@br0");
        flags = ns_sh_out("bridge fdb show dev ta0 | grep -i %s", MAC);
        g_assert_nonnull(strstr(flags, "sticky"));

        g_assert_nonnull(mon);
        g_assert_cmpint(mnl_socket_bind(mon, RTMGRP_NEIGH, MNL_SOCKET_AUTOPID), ==, 0);
        g_usleep(100000); /* the peer's carrier settles before we send */
        inject("br0-peer");
        g_assert_cmpint(nlc_queue_wait(queue, mac_bytes, 0x0806, 2000, frame, sizeof frame), >, 0);

        until = g_get_monotonic_time() + 300 * G_TIME_SPAN_MILLISECOND;
        while (g_get_monotonic_time() < until) {
                struct pollfd pfd = { .fd = mnl_socket_get_fd(mon), .events = POLLIN };
                ssize_t n;

                if (poll(&pfd, 1, 20) <= 0)
                        continue;
                n = mnl_socket_recvfrom(mon, buf, sizeof buf);
                g_assert_cmpint(n, >, 0);
                mnl_cb_run(buf, (size_t) n, 0, 0, foreign_move_cb, &moved);
        }
        mnl_socket_close(mon);
        close(queue);
        g_assert_cmpint(moved, ==, 0);
        after = ns_kernel_fdb_static(MAC);
        g_assert_cmpstr(after, ==, "ta0@br0");
        g_assert_true(ns_get_bool(&f->env, a, DEV, "OwnsMac"));
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, set_up, fn, tear_down)
        ADD("/ownership/handover-same-bridge", test_handover_same_bridge);
        ADD("/ownership/handover-cross-bridge", test_handover_cross_bridge);
        ADD("/ownership/failed-handover-keeps-holder", test_failed_handover_keeps_holder);
        ADD("/ownership/other-instance-refused", test_other_instance_refused);
        ADD("/ownership/conflict-learnt-elsewhere", test_conflict_learnt_elsewhere);
        ADD("/ownership/conflict-on-owner-bridge-repaired", test_conflict_on_owner_bridge_repaired);
        ADD("/ownership/guest-mac-from-uplink-does-not-move-entry",
            test_guest_mac_from_uplink_does_not_move_entry);
        return g_test_run();
}
