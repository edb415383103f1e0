/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The phase a migration shows on the bus, as a table: role × event × phase
 * → the next phase, "stay", or "refused" (the event makes no sense there:
 * logged and ignored), as the device lifecycle moves by its table. The
 * events are QEMU's MIGRATION statuses (7.2 and 10) and the driver's own.
 * Pure: unit-tested row by row (tests/unit/test-migration-phase.c).
 *
 * A restarted daemon learns QEMU's status with query-migrate and may lag it
 * by many steps, so a status QEMU reaches later in a migration is taken from
 * every earlier phase; one QEMU has left behind is refused. No final phase
 * is ever left, and the destination never enters a source-only phase.
 */
#pragma once

#include <glib.h>

#include "nlc-enums.h"

typedef enum {
        NLC_MIGRATION_SOURCE = 0,
        NLC_MIGRATION_DESTINATION = 1,
        NLC_MIGRATION_ROLE_LAST = NLC_MIGRATION_DESTINATION,
} NlcMigrationRole;

typedef enum {
        /* QEMU's MigrationStatus, in its order ("none" only from query-migrate) */
        NLC_PHASE_EV_NONE = 0,
        NLC_PHASE_EV_SETUP = 1,
        NLC_PHASE_EV_CANCELLING = 2,
        NLC_PHASE_EV_CANCELLED = 3,
        NLC_PHASE_EV_ACTIVE = 4,
        NLC_PHASE_EV_POSTCOPY_ACTIVE = 5,
        NLC_PHASE_EV_POSTCOPY_PAUSED = 6,
        NLC_PHASE_EV_POSTCOPY_RECOVER_SETUP = 7, /* QEMU 9.1+ */
        NLC_PHASE_EV_POSTCOPY_RECOVER = 8,
        NLC_PHASE_EV_COMPLETED = 9,
        NLC_PHASE_EV_FAILED = 10,
        NLC_PHASE_EV_COLO = 11,
        NLC_PHASE_EV_PRE_SWITCHOVER = 12,
        NLC_PHASE_EV_DEVICE = 13,
        NLC_PHASE_EV_WAIT_UNPLUG = 14,
        NLC_PHASE_EV_STATUS_LAST = NLC_PHASE_EV_WAIT_UNPLUG,
        /* the driver's own */
        NLC_PHASE_EV_STARTED = 15,         /* migrate / migrate-incoming returned */
        NLC_PHASE_EV_WAIT = 16,            /* the gate holds the switch for the destination */
        NLC_PHASE_EV_SWITCH_ACCEPTED = 17, /* QEMU took migrate-start-postcopy */
        NLC_PHASE_EV_FALLBACK = 18,        /* readiness timeout, fallback continue-precopy */
        NLC_PHASE_EV_DONE = 19,            /* source: completed, the downtime read */
        NLC_PHASE_EV_ERROR = 20,           /* the driver gives up (fail()) */
        /* method calls: taken or refused, never a move (QEMU's events move) */
        NLC_PHASE_EV_START_POSTCOPY = 21,
        NLC_PHASE_EV_CANCEL = 22,
        NLC_PHASE_EV_RECOVER = 23,
        NLC_PHASE_EV_LAST = NLC_PHASE_EV_RECOVER,
} NlcPhaseEvent;

typedef enum {
        NLC_PHASE_REFUSE = 0, /* no row: the event is ignored, nothing changes */
        NLC_PHASE_STAY = 1,   /* taken; the phase stays */
        NLC_PHASE_MOVE = 2,   /* taken; the phase moves to *next */
} NlcPhaseStep;

/* What @event does to a migration of @role in @phase; the phase it leads to
 * in *@next (@phase unless MOVE), when @next is not NULL. */
NlcPhaseStep nlc_phase_next(NlcMigrationRole role, NlcMigrationPhase phase, NlcPhaseEvent event,
                            NlcMigrationPhase *next);
gboolean nlc_phase_is_final(NlcMigrationPhase phase);

/* QEMU's status string as an event; FALSE for one newer than the table. */
gboolean nlc_phase_event_from_status(const char *status, NlcPhaseEvent *out);
/* QEMU's status string, or the driver event's name ("started", "cancel"). */
const char *nlc_phase_event_to_string(NlcPhaseEvent event);
const char *nlc_migration_role_to_string(NlcMigrationRole role);
