/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The migration's phase table (nlc-migration-phase.c), every row against an
 * independent statement of it, and the rules it must keep whatever the rows
 * say: no final phase is ever left, each role stays on its side, a method
 * call never moves the phase, every phase is reachable and can end, and
 * every status QEMU 7.2 and 10 send has a row.
 */
#include <string.h>

#include "nlc-migration-phase.h"

#define PHASES (NLC_MIGRATION_PHASE_LAST + 1)

/* One letter a phase, in the enum's order: setup, incoming, precopy,
 * waiting-for-destination, postcopy-requested, postcopy (Active),
 * postcopy-paused (Z), postcopy-recover (V), completed, failed, cancelled
 * (X). In a row: '.' refused, '=' taken and staying, a letter: moves there. */
static const char letters[] = "SIPWRAZVCFX";
G_STATIC_ASSERT(sizeof letters == PHASES + 1);

#define EV(x) [NLC_PHASE_EV_##x]

/* clang-format off */
static const char *const source[NLC_PHASE_EV_LAST + 1] = {
        /*                         SIPWRAZVCFX */
        EV(NONE)                   = "=.FFFFFF...",
        EV(SETUP)                  = "=.===......",
        EV(CANCELLING)             = "=.======...",
        EV(CANCELLED)              = "X.XXXXXX...",
        EV(ACTIVE)                 = "P.===......",
        EV(POSTCOPY_ACTIVE)        = "A.AAA=AA...",
        EV(POSTCOPY_PAUSED)        = "Z.ZZZZ=Z...",
        EV(POSTCOPY_RECOVER_SETUP) = "=.======...",
        EV(POSTCOPY_RECOVER)       = "V.VVVVV=...",
        EV(COMPLETED)              = "=.======...",
        EV(FAILED)                 = "=.======...",
        EV(COLO)                   = "...........",
        EV(PRE_SWITCHOVER)         = "=.===......",
        EV(DEVICE)                 = "=.===......",
        EV(WAIT_UNPLUG)            = "=.===......",
        EV(STARTED)                = "P.===......",
        EV(WAIT)                   = "..W=.......",
        EV(SWITCH_ACCEPTED)        = "..RR====...",
        EV(FALLBACK)               = "..=P.......",
        EV(DONE)                   = "C.CCCCCC...",
        EV(ERROR)                  = "F.FFFFFF...",
        EV(START_POSTCOPY)         = "..==.......",
        EV(CANCEL)                 = "=.===......",
        EV(RECOVER)                = "......=....",
};

static const char *const destination[NLC_PHASE_EV_LAST + 1] = {
        /*                         SIPWRAZVCFX */
        EV(NONE)                   = "==...FFF...",
        EV(SETUP)                  = "I=.........",
        EV(CANCELLING)             = "==...===...",
        EV(CANCELLED)              = "XX...XXX...",
        EV(ACTIVE)                 = "I=.........",
        EV(POSTCOPY_ACTIVE)        = "AA...=AA...",
        EV(POSTCOPY_PAUSED)        = "ZZ...Z=Z...",
        EV(POSTCOPY_RECOVER_SETUP) = "==...===...",
        EV(POSTCOPY_RECOVER)       = "VV...VV=...",
        EV(COMPLETED)              = "CC...CCC...",
        EV(FAILED)                 = "FF...FFF...",
        EV(COLO)                   = "...........",
        EV(PRE_SWITCHOVER)         = "...........",
        EV(DEVICE)                 = "...........",
        EV(WAIT_UNPLUG)            = "...........",
        EV(STARTED)                = "I=.........",
        EV(WAIT)                   = "...........",
        EV(SWITCH_ACCEPTED)        = "...........",
        EV(FALLBACK)               = "...........",
        EV(DONE)                   = "...........",
        EV(ERROR)                  = "FF...FFF...",
        EV(START_POSTCOPY)         = "...........",
        EV(CANCEL)                 = "==.........",
        EV(RECOVER)                = "......=....",
};
/* clang-format on */

static gboolean
source_only(NlcMigrationPhase p)
{
        return p == NLC_MIGRATION_PHASE_PRECOPY ||
               p == NLC_MIGRATION_PHASE_WAITING_FOR_DESTINATION ||
               p == NLC_MIGRATION_PHASE_POSTCOPY_REQUESTED;
}

static gboolean
on_side(NlcMigrationRole role, NlcMigrationPhase p)
{
        return role == NLC_MIGRATION_SOURCE ? p != NLC_MIGRATION_PHASE_INCOMING : !source_only(p);
}

static void
test_every_row(void)
{
        for (guint role = 0; role <= NLC_MIGRATION_ROLE_LAST; role++)
                for (guint e = 0; e <= NLC_PHASE_EV_LAST; e++) {
                        const char *row = role == NLC_MIGRATION_SOURCE ? source[e] : destination[e];

                        g_assert_nonnull(row);
                        g_assert_cmpuint(strlen(row), ==, PHASES);
                        for (guint p = 0; p < PHASES; p++) {
                                NlcMigrationPhase next;
                                NlcPhaseStep got = nlc_phase_next(role, p, e, &next);
                                char seen = got == NLC_PHASE_REFUSE ? '.'
                                            : got == NLC_PHASE_STAY ? '='
                                                                    : letters[next];

                                if (got != NLC_PHASE_MOVE)
                                        g_assert_cmpuint(next, ==, p);
                                if (seen != row[p])
                                        g_error("%s: %s in %s: got '%c', want '%c'",
                                                nlc_migration_role_to_string(role),
                                                nlc_phase_event_to_string(e),
                                                nlc_migration_phase_to_string(p), seen, row[p]);
                        }
                }
}

/* The rules, on the table itself: whatever a future row says, these hold. */
static void
test_rules(void)
{
        for (guint role = 0; role <= NLC_MIGRATION_ROLE_LAST; role++)
                for (guint e = 0; e <= NLC_PHASE_EV_LAST; e++)
                        for (guint p = 0; p < PHASES; p++) {
                                NlcMigrationPhase next;
                                NlcPhaseStep got = nlc_phase_next(role, p, e, &next);

                                /* A final phase is never left, and takes nothing. */
                                if (nlc_phase_is_final(p))
                                        g_assert_cmpuint(got, ==, NLC_PHASE_REFUSE);
                                /* Each role stays on its side: the other's
                                 * phases take nothing, none is entered. */
                                if (!on_side(role, p))
                                        g_assert_cmpuint(got, ==, NLC_PHASE_REFUSE);
                                if (got != NLC_PHASE_MOVE)
                                        continue;
                                g_assert_true(on_side(role, next));
                                /* A move changes the phase; setup is only a start. */
                                g_assert_cmpuint(next, !=, p);
                                g_assert_cmpuint(next, !=, NLC_MIGRATION_PHASE_SETUP);
                                /* Method calls ask; QEMU's events move. */
                                g_assert_true(e < NLC_PHASE_EV_START_POSTCOPY);
                        }
        /* Out of range: refused, the phase kept. */
        for (guint role = 0; role <= NLC_MIGRATION_ROLE_LAST; role++) {
                NlcMigrationPhase next;

                g_assert_cmpuint(nlc_phase_next(role, NLC_MIGRATION_PHASE_PRECOPY,
                                                NLC_PHASE_EV_LAST + 1, &next),
                                 ==, NLC_PHASE_REFUSE);
                g_assert_cmpuint(next, ==, NLC_MIGRATION_PHASE_PRECOPY);
        }
        /* @next may be NULL: the step alone. */
        g_assert_cmpuint(nlc_phase_next(NLC_MIGRATION_SOURCE, NLC_MIGRATION_PHASE_SETUP,
                                        NLC_PHASE_EV_ACTIVE, NULL),
                         ==, NLC_PHASE_MOVE);
}

/* From setup every phase of the role is reachable, and from each of them a
 * final phase: the driver's error always ends it; nothing is a dead end. */
static void
test_reachable(void)
{
        for (guint role = 0; role <= NLC_MIGRATION_ROLE_LAST; role++) {
                guint seen = 1u << NLC_MIGRATION_PHASE_SETUP, before = 0;

                while (seen != before) {
                        before = seen;
                        for (guint p = 0; p < PHASES; p++)
                                for (guint e = 0; (seen & (1u << p)) && e <= NLC_PHASE_EV_LAST;
                                     e++) {
                                        NlcMigrationPhase next;

                                        if (nlc_phase_next(role, p, e, &next) == NLC_PHASE_MOVE)
                                                seen |= 1u << next;
                                }
                }
                for (guint p = 0; p < PHASES; p++) {
                        NlcMigrationPhase next;

                        g_assert_cmpuint(!!(seen & (1u << p)), ==, on_side(role, p));
                        if (!on_side(role, p) || nlc_phase_is_final(p))
                                continue;
                        g_assert_cmpuint(nlc_phase_next(role, p, NLC_PHASE_EV_ERROR, &next), ==,
                                         NLC_PHASE_MOVE);
                        g_assert_cmpuint(next, ==, NLC_MIGRATION_PHASE_FAILED);
                        g_assert_cmpuint(nlc_phase_next(role, p, NLC_PHASE_EV_CANCELLED, &next), ==,
                                         NLC_PHASE_MOVE);
                        g_assert_cmpuint(next, ==, NLC_MIGRATION_PHASE_CANCELLED);
                }
        }
}

/* Cancel() only before post-copy runs: from then on the guest may run on
 * the destination and cannot come back. StartPostcopy() only in pre-copy,
 * on the source. */
static void
test_method_calls(void)
{
        for (guint role = 0; role <= NLC_MIGRATION_ROLE_LAST; role++)
                for (guint p = NLC_MIGRATION_PHASE_POSTCOPY; p < PHASES; p++) {
                        NlcMigrationPhase next;

                        g_assert_cmpuint(nlc_phase_next(role, p, NLC_PHASE_EV_CANCEL, &next), ==,
                                         NLC_PHASE_REFUSE);
                }
        for (guint p = 0; p < PHASES; p++) {
                NlcMigrationPhase next;
                gboolean precopy = p == NLC_MIGRATION_PHASE_PRECOPY ||
                                   p == NLC_MIGRATION_PHASE_WAITING_FOR_DESTINATION;

                g_assert_cmpuint(
                        nlc_phase_next(NLC_MIGRATION_SOURCE, p, NLC_PHASE_EV_START_POSTCOPY, &next),
                        ==, precopy ? NLC_PHASE_STAY : NLC_PHASE_REFUSE);
                g_assert_cmpuint(nlc_phase_next(NLC_MIGRATION_DESTINATION, p,
                                                NLC_PHASE_EV_START_POSTCOPY, &next),
                                 ==, NLC_PHASE_REFUSE);
        }
}

/* QEMU 7.2's MigrationStatus and 10's (postcopy-recover-setup, 9.1+). */
static void
test_statuses(void)
{
        g_auto(GStrv) qemu =
                g_strsplit("none setup cancelling cancelled active postcopy-active postcopy-paused "
                           "postcopy-recover-setup postcopy-recover completed failed colo "
                           "pre-switchover device wait-unplug",
                           " ", -1);
        NlcPhaseEvent e;

        g_assert_cmpuint(g_strv_length(qemu), ==, NLC_PHASE_EV_STATUS_LAST + 1);
        for (guint i = 0; qemu[i]; i++) {
                g_assert_true(nlc_phase_event_from_status(qemu[i], &e));
                g_assert_cmpstr(nlc_phase_event_to_string(e), ==, qemu[i]);
        }
        /* A newer QEMU's status, and the driver's own names, are no status. */
        g_assert_false(nlc_phase_event_from_status("postcopy-device", &e));
        g_assert_false(nlc_phase_event_from_status("started", &e));
        g_assert_false(nlc_phase_event_from_status("", &e));
        g_assert_false(nlc_phase_event_from_status(NULL, &e));
        for (guint a = 0; a <= NLC_PHASE_EV_LAST; a++)
                for (guint b = a + 1; b <= NLC_PHASE_EV_LAST; b++)
                        g_assert_cmpstr(nlc_phase_event_to_string(a), !=,
                                        nlc_phase_event_to_string(b));
        g_assert_null(nlc_phase_event_to_string(NLC_PHASE_EV_LAST + 1));
        g_assert_cmpstr(nlc_migration_role_to_string(NLC_MIGRATION_SOURCE), ==, "source");
        g_assert_cmpstr(nlc_migration_role_to_string(NLC_MIGRATION_DESTINATION), ==, "destination");
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/migration-phase/every-row", test_every_row);
        g_test_add_func("/migration-phase/rules", test_rules);
        g_test_add_func("/migration-phase/reachable", test_reachable);
        g_test_add_func("/migration-phase/method-calls", test_method_calls);
        g_test_add_func("/migration-phase/statuses", test_statuses);
        return g_test_run();
}
