/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the migration test measures on the network plane, each from its own
 * thread with sockets opened in the namespace it watches:
 *
 * - echo: the peer sends an ICMP echo request to the guest every 10 ms (raw
 *   socket; the peer's static neighbour entry means nothing waits for ARP)
 *   and notes the guest's replies (a second, weaker signal);
 * - capture: on each host, an ETH_P_ALL packet socket on the host side of
 *   the guest's tap notes when each echo request reached it (the bridge's
 *   frames into a tap are PACKET_OUTGOING there; kernel timestamps);
 * - sampler: every 10 ms, both hosts' static FDB entries for the guest MAC
 *   and the STP state of each host's tap, from netlink dumps (not the
 *   daemon's view); the same for a second NIC's MAC and taps when the guest
 *   has one.
 *
 * Times are CLOCK_REALTIME microseconds, like the daemons' timelines. Every
 * thread stops on mig_probe_stop() and in any case after MIG_PROBE_MAX_S.
 */
#pragma once

#include <gio/gio.h>

#define MIG_PROBE_MAX_S       900
#define MIG_PROBE_INTERVAL_US 10000

typedef struct {
        gint64 at;
        guint32 seq;
} MigArrival;

typedef struct {
        gint64 start, end; /* the sample was taken between these */
        int owner[2];      /* ifindex of the port with the guest MAC's static
                            * entry on host i's bridges; 0 none; -1 dump failed */
        guint owners[2];   /* how many such entries host i has */
        int tap_state[2];  /* BR_STATE_* of host i's tap; -1 unknown */
        /* The same for the guest's second NIC (mig_probe_add_second_nic);
         * without one: no entries, states unknown. A tap on no bridge has
         * no state: -1. */
        int owner2[2];
        guint owners2[2];
        int tap2_state[2];
} MigSample;

typedef struct _MigProbe MigProbe;

/* Runs @fn(@data) in this thread with network namespace @ns (a name from
 * `ip netns add`), then returns to the thread's own: sockets and taps made by
 * @fn stay bound to @ns. @fn returns FALSE with errno set. */
gboolean mig_in_netns(const char *ns, gboolean (*fn)(gpointer), gpointer data, GError **error);

MigProbe *mig_probe_new(const char *guest_ip, const char *guest_mac);
/* Stops the threads and frees everything. */
void mig_probe_free(MigProbe *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MigProbe, mig_probe_free)

gboolean mig_probe_start_echo(MigProbe *p, const char *ns, GError **error);
gboolean mig_probe_start_capture(MigProbe *p, guint host, const char *ns, const char *ifname,
                                 GError **error);
/* The guest's second NIC: its MAC and tap[i] on host i, sampled as the
 * first's. Before mig_probe_start_sampler. */
void mig_probe_add_second_nic(MigProbe *p, const char *mac, const char *const tap[2]);
/* ns[i], tap[i]: host i's namespace and the guest's tap there. */
gboolean mig_probe_start_sampler(MigProbe *p, const char *const ns[2], const char *const tap[2],
                                 GError **error);
/* Ends all threads (joins them). The getters below work before and after. */
void mig_probe_stop(MigProbe *p);

/* Copies (MigArrival / MigSample arrays), in time order. */
GArray *mig_probe_get_sent(MigProbe *p);
GArray *mig_probe_get_replies(MigProbe *p);
GArray *mig_probe_get_captures(MigProbe *p, guint host);
GArray *mig_probe_get_samples(MigProbe *p);
guint mig_probe_count_captures(MigProbe *p, guint host);
/* The ifindex of host @host's tap, as the sampler found it (0 before). */
int mig_probe_tap_ifindex(MigProbe *p, guint host);
int mig_probe_tap2_ifindex(MigProbe *p, guint host);
guint mig_probe_count_replies(MigProbe *p);
