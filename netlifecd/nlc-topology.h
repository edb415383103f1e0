/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel's view of the bridges that hold managed devices, kept from the
 * monitor's events: bridge settings, every port's STP state, the devices'
 * readiness, and guest MACs seen where their owner is not (DESIGN §4).
 */
#pragma once

#include <gio/gio.h>

#include "nlc-device.h"

typedef struct {
        /* The device whose port is the interface @ifname, or NULL. */
        NlcDevice *(*device_by_ifname)(const char *ifname, gpointer user_data);
        /* The active device that owns @mac, or NULL. */
        NlcDevice *(*mac_owner)(const guint8 mac[6], gpointer user_data);
        /* Link @ifindex is gone (RTM_DELLINK of the link itself). */
        void (*link_removed)(int ifindex, gpointer user_data);
        /* A bridge that devices use was made again (or made only now) under
         * its name: put them back on it. Called from an idle. */
        void (*bridge_appeared)(const char *name, gpointer user_data);
        gpointer user_data;
} NlcTopologyHooks;

typedef struct _NlcTopology NlcTopology;

/* Bridge objects are exported through @object_manager. @rcvbuf: the event
 * socket's receive buffer (0: default). */
NlcTopology *nlc_topology_new(GDBusObjectManagerServer *object_manager,
                              const NlcTopologyHooks *hooks, guint rcvbuf, GError **error);
void nlc_topology_free(NlcTopology *topology);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlcTopology, nlc_topology_free)

/* Reads everything once (after the devices are restored). */
void nlc_topology_sync(NlcTopology *topology);
/* A device's state or port changed: track its bridge while it has a port,
 * and read its port's state from the kernel now. */
void nlc_topology_device_changed(NlcTopology *topology, NlcDevice *device);
/* The device goes away. */
void nlc_topology_forget_device(NlcTopology *topology, NlcDevice *device);
/* Recomputes the OwnedMacs of the device's bridge. */
void nlc_topology_ownership_changed(NlcTopology *topology, NlcDevice *device);
guint nlc_topology_get_overruns(NlcTopology *topology);
