/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * NlcBridge: org.netlifecd1.Bridge, a Linux bridge holding at least one
 * managed port, as the kernel's events describe it.
 */
#pragma once

#include "nlc-dbus-generated.h"
#include "nlc-enums.h"

G_BEGIN_DECLS

#define NLC_TYPE_BRIDGE (nlc_bridge_get_type())
G_DECLARE_FINAL_TYPE(NlcBridge, nlc_bridge, NLC, BRIDGE, NlcDbusBridgeSkeleton)

NlcBridge *nlc_bridge_new(const char *name, int ifindex);
const char *nlc_bridge_get_name(NlcBridge *self);
const char *nlc_bridge_get_object_path(NlcBridge *self);
int nlc_bridge_get_ifindex(NlcBridge *self);
void nlc_bridge_set_ifindex(NlcBridge *self, int ifindex);

/* The settings from the bridge's RTM_NEWLINK; TRUE when one changed. */
gboolean nlc_bridge_set_config(NlcBridge *self, gboolean up, gboolean stp_enabled,
                               guint64 forward_delay_usec);
gboolean nlc_bridge_get_up(NlcBridge *self);
guint64 nlc_bridge_get_forward_delay_usec(NlcBridge *self);

void nlc_bridge_update_port(NlcBridge *self, int ifindex, const char *name, NlcPortState state);
void nlc_bridge_remove_port(NlcBridge *self, int ifindex);
/* The port's interface name, or NULL when it is not a port of this bridge. */
const char *nlc_bridge_get_port_name(NlcBridge *self, int ifindex);

/* @owner (a device) holds @mac's entry on this bridge; @mac NULL: no
 * longer. OwnedMacs lists each MAC held. */
void nlc_bridge_set_mac_owner(NlcBridge *self, gconstpointer owner, const char *mac);
/* Counts and signals a guest MAC seen on a port that is not its owner's. */
void nlc_bridge_report_conflict(NlcBridge *self, const char *mac, const char *owner_port,
                                const char *seen_port);

G_END_DECLS
