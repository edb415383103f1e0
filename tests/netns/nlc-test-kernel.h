/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel's view, read with iproute2's JSON output (ip -j -d link,
 * bridge -j -d link, bridge -j fdb) and json-glib: independent of the
 * daemon's own netlink code.
 */
#pragma once

#include <glib.h>

typedef struct {
        char *name;
        gboolean exists;
        char *master; /* NULL when not enslaved */
        guint mtu;
        gboolean up;       /* IFF_UP */
        gboolean lower_up; /* carrier: a process holds a queue of the tap */
        char *kind;        /* linkinfo.info_kind, e.g. "tun"; NULL when none */
        char *tun_type;    /* info_data.type for tun: "tap" or "tun" */
        gboolean pi;
        gboolean vnet_hdr;
        gboolean multi_queue;
        gboolean persist;
        gint64 numqueues; /* attached queues; -1 when not shown (single queue) */
        gboolean is_port; /* listed by bridge link */
        char *port_state; /* its STP state ("forwarding", ...); NULL when not a port */
        gboolean learning;
        gboolean flood;      /* unicast flood */
        gboolean guard;      /* bpdu_guard */
        gboolean root_block; /* never the root port */
        gboolean locked;     /* only sources with an FDB entry on the port */
        gboolean ipv6_off;   /* net.ipv6.conf.<name>.disable_ipv6 = 1 */
        guint ipv6_addrs;    /* host IPv6 addresses on the link */
} NlcLink;

NlcLink *nlc_link_read(const char *ifname);
void nlc_link_free(NlcLink *link);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlcLink, nlc_link_free)

/* Every link name, sorted, space-separated. */
char *nlc_kernel_link_names(void);
gboolean nlc_kernel_link_exists(const char *ifname);
/* The ports holding a static FDB entry for @mac on @bridge, sorted,
 * space-separated ("" when none). */
char *nlc_kernel_fdb_static(const char *bridge, const char *mac);
/* A canonical text of everything a refused or repeated call must leave as it
 * is: links (master, MTU, flags, tun flags, attached queues), bridge ports
 * (state, learning, flood) and FDB entries that are not learnt. */
char *nlc_kernel_snapshot(void);
/* Fails unless the two snapshots are equal, showing the difference. */
void nlc_assert_kernel_unchanged(const char *before, const char *after);

/* The set-up's bridge and veth pair, as the tests rely on them. */
void nlc_kernel_assert_topology(void);

void nlc_assert_link_absent(const char *ifname);
/* A created tap-bridge port: persistent tap, IFF_NO_PI, IFF_VNET_HDR,
 * multi-queue iff @queues > 1 (then that many queues attached), enslaved to
 * @bridge with its MTU, up with carrier, learning and unicast flood off,
 * hardened (root_block, bpdu_guard and locked: the defaults), IPv6 off and no
 * host IPv6 address on it. */
void nlc_assert_tap_port(const char *ifname, const char *bridge, guint mtu, guint queues);
/* The port's guards: root_block always, bpdu_guard and locked as given. */
void nlc_assert_port_guards(const char *ifname, gboolean bpdu_guard, gboolean locked);
/* The static FDB entries for @mac on @bridge are exactly @ports ("" for none). */
void nlc_assert_fdb(const char *bridge, const char *mac, const char *ports);
/* What the kernel must show for a tap-bridge device in @state on the set-up's
 * bridge: no tap in allocated and destroyed, a port in created and active,
 * the guest MAC's static entry on that port in active only. */
void nlc_assert_device_kernel(const char *ifname, const char *mac, const char *state, guint queues);
