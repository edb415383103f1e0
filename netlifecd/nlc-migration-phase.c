/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "nlc-migration-phase.h"

#define P(x) (1u << NLC_MIGRATION_PHASE_##x)
#define E(x) NLC_PHASE_EV_##x

/* The source before post-copy runs, the destination before it receives. */
#define SRC_PRE  (P(SETUP) | P(PRECOPY) | P(WAITING_FOR_DESTINATION) | P(POSTCOPY_REQUESTED))
#define DST_PRE  (P(SETUP) | P(INCOMING))
#define POST     (P(POSTCOPY) | P(POSTCOPY_PAUSED) | P(POSTCOPY_RECOVER))
#define SRC_LIVE (SRC_PRE | POST)
#define DST_LIVE (DST_PRE | POST)

typedef struct {
        guint16 from; /* phases the event moves from */
        guint16 stay; /* phases it is taken in, changing nothing */
        NlcMigrationPhase to;
} Row;
G_STATIC_ASSERT(NLC_MIGRATION_PHASE_LAST < 16);

/* From every phase of @live to @x; once there, staying. */
/* clang-format off */
#define TO(live, x) { (live) & ~P(x), (live) & P(x), NLC_MIGRATION_PHASE_##x }
#define STAY(mask)  { 0, (mask), NLC_MIGRATION_PHASE_SETUP }
/* clang-format on */

/* A missing event refuses in every phase, as does every final phase. */
static const Row source_rows[NLC_PHASE_EV_LAST + 1] = {
        /* In setup the driver runs the sequence again (migrate never reached
         * QEMU); later QEMU lost the migration: restarted. */
        [E(NONE)] = { SRC_LIVE & ~P(SETUP), P(SETUP), NLC_MIGRATION_PHASE_FAILED },
        /* setup and active may follow migrate's reply, so also the
         * "immediate" policy and its switch; never post-copy. */
        [E(SETUP)] = STAY(SRC_PRE),
        [E(WAIT_UNPLUG)] = STAY(SRC_PRE),
        [E(ACTIVE)] = { P(SETUP), SRC_PRE & ~P(SETUP), NLC_MIGRATION_PHASE_PRECOPY },
        /* Pre-copy's end: the gate holds or lets it go on. */
        [E(PRE_SWITCHOVER)] = STAY(SRC_PRE),
        [E(DEVICE)] = STAY(SRC_PRE),
        [E(POSTCOPY_ACTIVE)] = TO(SRC_LIVE, POSTCOPY),
        [E(POSTCOPY_PAUSED)] = TO(SRC_LIVE, POSTCOPY_PAUSED),
        /* The phase stays paused until the recovery itself runs. */
        [E(POSTCOPY_RECOVER_SETUP)] = STAY(SRC_LIVE),
        [E(POSTCOPY_RECOVER)] = TO(SRC_LIVE, POSTCOPY_RECOVER),
        /* The driver asks QEMU for the downtime or the error first, then
         * moves by DONE or ERROR. */
        [E(COMPLETED)] = STAY(SRC_LIVE),
        [E(FAILED)] = STAY(SRC_LIVE),
        [E(CANCELLING)] = STAY(SRC_LIVE),
        [E(CANCELLED)] = TO(SRC_LIVE, CANCELLED),
        /* COLO is never enabled: no row. */
        /* The events may have said "active" before the reply. */
        [E(STARTED)] = { P(SETUP), SRC_PRE & ~P(SETUP), NLC_MIGRATION_PHASE_PRECOPY },
        /* Not once QEMU took the switch: it happens whatever the destination. */
        [E(WAIT)] = { P(PRECOPY), P(WAITING_FOR_DESTINATION),
                      NLC_MIGRATION_PHASE_WAITING_FOR_DESTINATION },
        /* A reply that comes after QEMU's post-copy events does not go back. */
        [E(SWITCH_ACCEPTED)] = { P(PRECOPY) | P(WAITING_FOR_DESTINATION),
                                 P(POSTCOPY_REQUESTED) | POST,
                                 NLC_MIGRATION_PHASE_POSTCOPY_REQUESTED },
        [E(FALLBACK)] = { P(WAITING_FOR_DESTINATION), P(PRECOPY), NLC_MIGRATION_PHASE_PRECOPY },
        [E(DONE)] = TO(SRC_LIVE, COMPLETED),
        [E(ERROR)] = TO(SRC_LIVE, FAILED),
        [E(START_POSTCOPY)] = STAY(P(PRECOPY) | P(WAITING_FOR_DESTINATION)),
        /* Once post-copy runs the guest may run on the destination; in
         * postcopy-requested the gate decides (held at pre-switchover). */
        [E(CANCEL)] = STAY(SRC_PRE),
        [E(RECOVER)] = STAY(P(POSTCOPY_PAUSED)),
};

static const Row destination_rows[NLC_PHASE_EV_LAST + 1] = {
        /* A listening QEMU says "none" until the source connects. */
        [E(NONE)] = { POST, DST_PRE, NLC_MIGRATION_PHASE_FAILED },
        [E(SETUP)] = { P(SETUP), P(INCOMING), NLC_MIGRATION_PHASE_INCOMING },
        [E(ACTIVE)] = { P(SETUP), P(INCOMING), NLC_MIGRATION_PHASE_INCOMING },
        /* pre-switchover, device, wait-unplug: the source's only. */
        [E(POSTCOPY_ACTIVE)] = TO(DST_LIVE, POSTCOPY),
        [E(POSTCOPY_PAUSED)] = TO(DST_LIVE, POSTCOPY_PAUSED),
        [E(POSTCOPY_RECOVER_SETUP)] = STAY(DST_LIVE),
        [E(POSTCOPY_RECOVER)] = TO(DST_LIVE, POSTCOPY_RECOVER),
        [E(COMPLETED)] = TO(DST_LIVE, COMPLETED),
        [E(FAILED)] = TO(DST_LIVE, FAILED),
        [E(CANCELLING)] = STAY(DST_LIVE),
        [E(CANCELLED)] = TO(DST_LIVE, CANCELLED),
        /* QEMU listens: the "setup" event may have said so already. */
        [E(STARTED)] = { P(SETUP), P(INCOMING), NLC_MIGRATION_PHASE_INCOMING },
        /* No gate, no switch, no fallback, no downtime to read. */
        [E(ERROR)] = TO(DST_LIVE, FAILED),
        [E(CANCEL)] = STAY(DST_PRE),
        [E(RECOVER)] = STAY(P(POSTCOPY_PAUSED)),
};

NlcPhaseStep
nlc_phase_next(NlcMigrationRole role, NlcMigrationPhase phase, NlcPhaseEvent event,
               NlcMigrationPhase *next)
{
        const Row *row;
        NlcMigrationPhase unused;

        next = next ? next : &unused;
        *next = phase;
        if ((guint) role > NLC_MIGRATION_ROLE_LAST || (guint) phase > NLC_MIGRATION_PHASE_LAST ||
            (guint) event > NLC_PHASE_EV_LAST)
                return NLC_PHASE_REFUSE;
        row = role == NLC_MIGRATION_SOURCE ? &source_rows[event] : &destination_rows[event];
        if (row->from & (1u << phase)) {
                *next = row->to;
                return NLC_PHASE_MOVE;
        }
        return row->stay & (1u << phase) ? NLC_PHASE_STAY : NLC_PHASE_REFUSE;
}

gboolean
nlc_phase_is_final(NlcMigrationPhase phase)
{
        return phase == NLC_MIGRATION_PHASE_COMPLETED || phase == NLC_MIGRATION_PHASE_FAILED ||
               phase == NLC_MIGRATION_PHASE_CANCELLED;
}

static const char *const event_names[] = {
        [E(NONE)] = "none",
        [E(SETUP)] = "setup",
        [E(CANCELLING)] = "cancelling",
        [E(CANCELLED)] = "cancelled",
        [E(ACTIVE)] = "active",
        [E(POSTCOPY_ACTIVE)] = "postcopy-active",
        [E(POSTCOPY_PAUSED)] = "postcopy-paused",
        [E(POSTCOPY_RECOVER_SETUP)] = "postcopy-recover-setup",
        [E(POSTCOPY_RECOVER)] = "postcopy-recover",
        [E(COMPLETED)] = "completed",
        [E(FAILED)] = "failed",
        [E(COLO)] = "colo",
        [E(PRE_SWITCHOVER)] = "pre-switchover",
        [E(DEVICE)] = "device",
        [E(WAIT_UNPLUG)] = "wait-unplug",
        [E(STARTED)] = "started",
        [E(WAIT)] = "wait",
        [E(SWITCH_ACCEPTED)] = "switch-accepted",
        [E(FALLBACK)] = "fallback",
        [E(DONE)] = "done",
        [E(ERROR)] = "error",
        [E(START_POSTCOPY)] = "start-postcopy",
        [E(CANCEL)] = "cancel",
        [E(RECOVER)] = "recover",
};
G_STATIC_ASSERT(G_N_ELEMENTS(event_names) == NLC_PHASE_EV_LAST + 1);

gboolean
nlc_phase_event_from_status(const char *status, NlcPhaseEvent *out)
{
        for (guint e = 0; status && e <= NLC_PHASE_EV_STATUS_LAST; e++)
                if (strcmp(status, event_names[e]) == 0) {
                        *out = e;
                        return TRUE;
                }
        return FALSE;
}

const char *
nlc_phase_event_to_string(NlcPhaseEvent event)
{
        return (guint) event <= NLC_PHASE_EV_LAST ? event_names[event] : NULL;
}

const char *
nlc_migration_role_to_string(NlcMigrationRole role)
{
        return role == NLC_MIGRATION_SOURCE ? "source" : "destination";
}
