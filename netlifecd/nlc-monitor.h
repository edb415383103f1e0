/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel event monitor: one libmnl socket subscribed to RTNLGRP_LINK and
 * RTNLGRP_NEIGH with a large receive buffer, its fd in the GLib main loop.
 * It parses; it keeps no state. On ENOBUFS (events were lost) it re-dumps
 * links and the FDB through the same callbacks, then calls resynced(), so a
 * consumer that applies every callback idempotently misses nothing.
 * No other file includes libmnl.
 */
#pragma once

#include <glib.h>

#include "nlc-enums.h"

typedef struct {
        int ifindex;
        const char *name;
        int master_ifindex; /* 0 when not enslaved */
        gboolean removed;   /* RTM_DELLINK of the link itself */
        gboolean af_bridge; /* an AF_BRIDGE message: bridge-port view */
        gboolean up;        /* IFF_UP */
        gboolean carrier;   /* IFF_LOWER_UP (only while up) */
        /* Bridges (IFLA_INFO_KIND "bridge"). */
        gboolean is_bridge;
        gboolean stp_enabled;
        guint64 forward_delay_usec;
        /* Bridge ports (AF_BRIDGE protinfo or IFLA_INFO_SLAVE_DATA). */
        gboolean has_port_state;
        NlcPortState port_state;
        guint64 forward_delay_timer_usec; /* time left on the port's timer */
        gboolean bpdu_guard;              /* the port's bpdu_guard flag */
} NlcLinkEvent;

typedef struct {
        int port_ifindex;
        int bridge_ifindex; /* 0 when the kernel did not say */
        guint8 mac[6];
        gboolean is_static; /* added by user space (static/permanent), not learnt */
        gboolean removed;   /* RTM_DELNEIGH */
} NlcFdbEvent;

typedef struct {
        void (*link)(const NlcLinkEvent *ev, gpointer user_data);
        void (*fdb)(const NlcFdbEvent *ev, gpointer user_data);
        /* Around a full re-dump that follows lost events: every link and FDB
         * entry is delivered in between. */
        void (*resync_begin)(gpointer user_data);
        void (*resynced)(gpointer user_data);
} NlcMonitorCallbacks;

typedef struct _NlcMonitor NlcMonitor;

/* @rcvbuf: the event socket's receive buffer in bytes (0: 8 MiB). */
NlcMonitor *nlc_monitor_new(const NlcMonitorCallbacks *callbacks, gpointer user_data, guint rcvbuf,
                            GError **error);
void nlc_monitor_free(NlcMonitor *monitor);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlcMonitor, nlc_monitor_free)

/* Dumps every link and the whole bridge FDB through the callbacks. */
int nlc_monitor_dump_all(NlcMonitor *monitor);
/* Dumps every bridge port (AF_BRIDGE) through the callbacks. */
int nlc_monitor_dump_ports(NlcMonitor *monitor);
/* Asks the kernel for one link now and delivers it through link(). */
int nlc_monitor_query_link(NlcMonitor *monitor, int ifindex);
/* Times the event socket overran and was re-dumped. */
guint nlc_monitor_get_overruns(NlcMonitor *monitor);
