/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * NlcMigration: org.netlifecd1.Migration, the post-copy migration driver for
 * one instance on one side (DESIGN §5). The source sends
 * migrate-start-postcopy only when its policy fires AND the destination is
 * ready; both sides follow QEMU's MIGRATION / MIGRATION_PASS events. The
 * devices themselves follow the guest's CPUs through NlcGuest (STOP and
 * RESUME), so the MAC moves at the exact moments the CPUs stop and start.
 */
#pragma once

#include "nlc-config.h"
#include "nlc-dbus-generated.h"
#include "nlc-enums.h"
#include "nlc-instance.h"
#include "nlc-qmp.h"

G_BEGIN_DECLS

typedef struct {
        NlcPostcopyPolicy policy;
        guint precopy_passes;   /* after-precopy: full passes before the switch */
        guint stall_passes;     /* on-stall: passes without progress */
        gboolean has_readiness; /* FALSE: nothing to gate (postcopy never, no pause) */
        NlcReadinessSource readiness;
        char *destination_instance; /* local (never the migrating one) and destination-bus */
        char *destination_bus;      /* destination-bus: D-Bus address */
        guint readiness_timeout_ms;
        gboolean fallback_fail;           /* else continue pre-copy */
        guint64 max_bandwidth;            /* bytes/s; 0: QEMU's default */
        gboolean allow_postcopy;          /* destination */
        gboolean preempt;                 /* use postcopy-preempt where QEMU offers it (8.0+) */
        gboolean pause_before_switchover; /* hard gate at QEMU's pre-switchover pause */
        gboolean release_source;          /* destroy and free the source devices at the end */
} NlcMigrationOptions;

void nlc_migration_options_clear(NlcMigrationOptions *o);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(NlcMigrationOptions, nlc_migration_options_clear)

/* Parses Migrate() (@source) or PrepareIncoming() options; InvalidArgs
 * naming the option on anything unknown, mistyped or out of range, and on a
 * Migrate that gives no way to learn the destination's readiness (none
 * given, none in @defaults) or a "local" one without another instance.
 * @instance, the migrating instance, is the default remote instance name. */
gboolean nlc_migration_options_parse(GVariant *options, gboolean source, const char *instance,
                                     const NlcConfig *defaults, NlcMigrationOptions *out,
                                     GError **error);

#define NLC_TYPE_MIGRATION (nlc_migration_get_type())
G_DECLARE_FINAL_TYPE(NlcMigration, nlc_migration, NLC, MIGRATION, NlcDbusMigrationSkeleton)

/* @destination: with readiness "local", the destination instance on this
 * host (the localhost live upgrade's new QEMU), never @instance itself. The
 * destination is ready when it holds a ready device for every NIC
 * @instance has in the kernel now. @options are taken;
 * @options_variant (as the caller gave them) is kept for the journal. */
NlcMigration *nlc_migration_new_source(const char *id, NlcInstance *instance, NlcQmp *qmp,
                                       NlcInstance *destination, NlcMigrationOptions *options,
                                       GVariant *options_variant);
NlcMigration *nlc_migration_new_destination(const char *id, NlcInstance *instance, NlcQmp *qmp,
                                            NlcMigrationOptions *options,
                                            GVariant *options_variant);
/* A migration from its journal record, after a daemon restart; it resyncs
 * with QEMU (query-migrate) as soon as the QMP connection is up.
 * @destination: as for _new_source; NULL (gone) means never ready. */
NlcMigration *nlc_migration_restore(GKeyFile *kf, NlcInstance *instance, NlcQmp *qmp,
                                    NlcInstance *destination, const NlcConfig *defaults,
                                    GError **error);
/* An instance appeared in this daemon (its first device): when it is the
 * destination of a "local" migration under way, the migration follows it
 * (the one it followed went away with its last device, or was missing at a
 * restart). */
void nlc_migration_follow_destination(NlcMigration *self, NlcInstance *destination);
/* Journals the migration from now on (every phase change and event). */
void nlc_migration_set_journal(NlcMigration *self, struct _NlcJournal *journal);
const char *nlc_migration_get_id(NlcMigration *self);
/* Probes QEMU, sets capabilities, then migrate / migrate-incoming @uri. */
void nlc_migration_start(NlcMigration *self, const char *uri);
/* A destination's PrepareIncoming is answered through here: with the
 * object path once migrate-incoming returned (QEMU listens, the source may
 * connect), or with Error.Failed naming the failure. */
void nlc_migration_reply_when_listening(NlcMigration *self, GDBusMethodInvocation *invocation);

/* Migration.StartPostcopy(), .DestinationReady(), .Cancel(). */
gboolean nlc_migration_start_postcopy(NlcMigration *self, GError **error);
gboolean nlc_migration_destination_ready(NlcMigration *self, GError **error);
gboolean nlc_migration_cancel(NlcMigration *self, GError **error);

const char *nlc_migration_get_object_path(NlcMigration *self);
const char *nlc_migration_get_instance(NlcMigration *self);
NlcMigrationPhase nlc_migration_get_phase(NlcMigration *self);
gboolean nlc_migration_is_finished(NlcMigration *self);

G_END_DECLS
