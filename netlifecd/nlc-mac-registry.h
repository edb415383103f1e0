/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * NlcMacRegistry: which device holds each guest MAC on this host (DESIGN
 * §4), and the one place that decides claims, handovers and releases.
 * Every activation of a tracked device runs through it; a device that stops
 * being active (any operation, a restart's repair, its end) leaves it.
 *
 * A claim is refused with Conflict while another instance's device holds
 * the MAC (a device of the same instance, or the peer on a shared tap,
 * hands it over). The new holder is activated first and the previous one
 * deactivated after, so the MAC never has no home: on one bridge the new
 * port's entry replaces the old in one RTM_NEWNEIGH; across bridges the
 * two FDBs cannot conflict, and a window with no entry would flood the
 * guest's frames to every unmanaged port. The one exception is the kernel
 * refusing two holders at once (two macvtaps up with one MAC on one lower
 * device: EADDRINUSE): there the previous one goes first, and comes back if
 * the new one fails.
 *
 * Each activation takes the next number of a sequence journalled with the
 * record; after a crash in the middle of a handover, the latest activation
 * keeps the MAC (a wall-clock time would pick the stale one after a clock
 * step).
 */
#pragma once

#include "nlc-device.h"

typedef struct _NlcMacRegistry NlcMacRegistry;

/* Called after @owner (never NULL) became a MAC's holder. */
typedef void (*NlcMacOwnerChanged)(NlcDevice *owner, gpointer user_data);

NlcMacRegistry *nlc_mac_registry_new(NlcMacOwnerChanged changed, gpointer user_data);
void nlc_mac_registry_free(NlcMacRegistry *registry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlcMacRegistry, nlc_mac_registry_free)

/* Restart: the devices as the journal left them, interrupted operations
 * completed. Among active ones that share a MAC the latest activation keeps
 * it, the others yield; the sequence continues above every record's. Call
 * before tracking them. */
void nlc_mac_registry_restore(NlcMacRegistry *registry, GPtrArray *devices);
/* Follows @device from now on (an active one holds its MAC). */
void nlc_mac_registry_track(NlcMacRegistry *registry, NlcDevice *device);
/* @device goes away: it holds nothing any more. */
void nlc_mac_registry_untrack(NlcMacRegistry *registry, NlcDevice *device);
/* The holder of @mac (lower-case "52:54:..."), or NULL. */
NlcDevice *nlc_mac_registry_lookup(NlcMacRegistry *registry, const char *mac);
