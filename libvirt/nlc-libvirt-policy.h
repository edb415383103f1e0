/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What netlifecd-libvirt-agent does for a libvirt event or domain state:
 * pure functions, no libvirt call and no D-Bus, so every row is unit-tested.
 * They take libvirt's enum values as ints (virDomainEventType and its
 * details, virDomainState and its reasons, virErrorNumber).
 */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

typedef enum {
        NLC_LIBVIRT_ACTION_NONE = 0,
        NLC_LIBVIRT_ACTION_ACTIVATE = 1,
        NLC_LIBVIRT_ACTION_DEACTIVATE = 2,
} NlcLibvirtAction;

/* The Instance method of @action ("Activate", "Deactivate"), "none" for NONE. */
const char *nlc_libvirt_action_to_string(NlcLibvirtAction action);

/* A lifecycle event (VIR_DOMAIN_EVENT_ID_LIFECYCLE): RESUMED (any detail)
 * activates; SUSPENDED for a migration's switchover deactivates; anything
 * else leaves the devices as they are. */
NlcLibvirtAction nlc_libvirt_lifecycle_action(int event, int detail);

/* A running domain found when (re)connecting: RUNNING activates; PAUSED for
 * a migration deactivates (a destination's incoming domain is paused the
 * same way; its instance is not active, so that is harmless). */
NlcLibvirtAction nlc_libvirt_reconcile_action(int state, int reason);

/* Whether a lifecycle event ends the domain's current outgoing migration as
 * far as post-copy driving goes (RESUMED, STOPPED, SUSPENDED: the switchover
 * happened or the migration is over). */
gboolean nlc_libvirt_lifecycle_ends_migration(int event);

/* Whether to ask for post-copy at MIGRATION_ITERATION @iteration (libvirt
 * emits 1 at the start of pass 1): after @passes full passes, once. */
gboolean nlc_libvirt_postcopy_due(guint iteration, guint passes, gboolean already_requested);

/* Whether libvirt's refusal of virDomainMigrateStartPostCopy holds for the
 * rest of the migration (not started with VIR_MIGRATE_POSTCOPY, already in
 * post-copy, QEMU without the capability), so asking again is pointless. */
gboolean nlc_libvirt_postcopy_refusal_is_final(int code, const char *message);

/* "resumed (post-copy)", "suspended (migrated)", "stopped": for the log. */
const char *nlc_libvirt_event_describe(int event, int detail);

/* "running", "paused (migration)": for the log. */
const char *nlc_libvirt_state_describe(int state, int reason);
