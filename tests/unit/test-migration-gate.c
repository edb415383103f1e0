/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The post-copy gate's table (nlc-migration-gate.c), row by row: it never
 * fails open, the destination turning un-ready never acts, Cancel is refused
 * exactly once the switch went out, the journalled decision drops QEMU's
 * hold, the names round-trip, and the rows the driver's design rests on.
 */
#include "nlc-migration-gate.h"

static void
test_never_fails_open(void)
{
        for (guint s = 0; s <= NLC_GATE_LAST; s++)
                for (guint e = 0; e <= NLC_GATE_EV_LAST; e++) {
                        NlcGateState next;
                        NlcGateAction a = nlc_gate_next(s, e, FALSE, &next);

                        /* Not ready: no switch, no migrate-continue, ever. */
                        if (a == NLC_GATE_DO_SWITCH || a == NLC_GATE_DO_CONTINUE)
                                g_error("%s + %s, not ready: %s", nlc_gate_state_to_string(s),
                                        nlc_gate_event_to_string(e), nlc_gate_action_to_string(a));
                        g_assert_cmpuint(next, <=, NLC_GATE_LAST);
                        nlc_gate_next(s, e, TRUE, &next);
                        g_assert_cmpuint(next, <=, NLC_GATE_LAST);
                }
}

/* Losing the destination only means the next switch waits: no row acts on
 * it, and none leaves a state the switch had reached. */
static void
test_unready_does_nothing(void)
{
        for (guint s = 0; s <= NLC_GATE_LAST; s++)
                for (int ready = 0; ready < 2; ready++) {
                        NlcGateState next;

                        g_assert_cmpuint(nlc_gate_next(s, NLC_GATE_EV_UNREADY, ready, &next), ==,
                                         NLC_GATE_DO_NOTHING);
                        g_assert_cmpuint(next, ==, s);
                }
}

/* Cancel: refused once the switch went out (the guest may run on the
 * destination), accepted everywhere else, held at pre-switchover too. */
static void
test_cancel(void)
{
        for (guint s = 0; s <= NLC_GATE_LAST; s++)
                for (int ready = 0; ready < 2; ready++) {
                        NlcGateState next;
                        NlcGateAction a = nlc_gate_next(s, NLC_GATE_EV_CANCEL, ready, &next);

                        g_assert_cmpuint(a, ==,
                                         s == NLC_GATE_SENT ? NLC_GATE_DO_REFUSE
                                                            : NLC_GATE_DO_CANCEL);
                }
}

static void
test_decision_journalled(void)
{
        for (guint s = 0; s <= NLC_GATE_LAST; s++) {
                NlcGateState d = nlc_gate_decision(s), back;

                g_assert_true(d != NLC_GATE_HELD && d != NLC_GATE_HELD_SWITCHING);
                g_assert_true(nlc_gate_state_from_string(nlc_gate_state_to_string(s), &back));
                g_assert_cmpuint(back, ==, s);
        }
        g_assert_cmpuint(nlc_gate_decision(NLC_GATE_HELD), ==, NLC_GATE_IDLE);
        g_assert_cmpuint(nlc_gate_decision(NLC_GATE_HELD_SWITCHING), ==, NLC_GATE_SENT);
        g_assert_cmpuint(nlc_gate_decision(NLC_GATE_WAITING), ==, NLC_GATE_WAITING);
        g_assert_false(nlc_gate_state_from_string("open", &(NlcGateState){ 0 }));
        for (guint e = 0; e <= NLC_GATE_EV_LAST; e++)
                g_assert_nonnull(nlc_gate_event_to_string(e));
        for (guint a = 0; a <= NLC_GATE_DO_LAST; a++)
                g_assert_nonnull(nlc_gate_action_to_string(a));
}

/* The rows the driver's behaviour rests on. */
static void
test_rows(void)
{
        static const struct {
                NlcGateState state;
                NlcGateEvent event;
                gboolean ready;
                NlcGateAction action;
                NlcGateState next;
        } rows[] = {
                { NLC_GATE_IDLE, NLC_GATE_EV_POLICY, TRUE, NLC_GATE_DO_SWITCH, NLC_GATE_SENT },
                { NLC_GATE_IDLE, NLC_GATE_EV_POLICY, FALSE, NLC_GATE_DO_WAIT, NLC_GATE_WAITING },
                { NLC_GATE_IDLE, NLC_GATE_EV_READY, TRUE, NLC_GATE_DO_NOTHING, NLC_GATE_IDLE },
                { NLC_GATE_WAITING, NLC_GATE_EV_READY, TRUE, NLC_GATE_DO_SWITCH, NLC_GATE_SENT },
                { NLC_GATE_WAITING, NLC_GATE_EV_POLICY, TRUE, NLC_GATE_DO_NOTHING,
                  NLC_GATE_WAITING },
                { NLC_GATE_WAITING, NLC_GATE_EV_TIMEOUT, FALSE, NLC_GATE_DO_FALLBACK,
                  NLC_GATE_GIVEN_UP },
                { NLC_GATE_SENT, NLC_GATE_EV_REFUSED, TRUE, NLC_GATE_DO_NOTHING, NLC_GATE_WAITING },
                { NLC_GATE_SENT, NLC_GATE_EV_TIMEOUT, FALSE, NLC_GATE_DO_NOTHING, NLC_GATE_SENT },
                { NLC_GATE_GIVEN_UP, NLC_GATE_EV_POLICY, TRUE, NLC_GATE_DO_NOTHING,
                  NLC_GATE_GIVEN_UP },
                { NLC_GATE_GIVEN_UP, NLC_GATE_EV_MANUAL, FALSE, NLC_GATE_DO_WAIT,
                  NLC_GATE_WAITING },
                { NLC_GATE_IDLE, NLC_GATE_EV_PRE_SWITCHOVER, TRUE, NLC_GATE_DO_CONTINUE,
                  NLC_GATE_IDLE },
                { NLC_GATE_IDLE, NLC_GATE_EV_PRE_SWITCHOVER, FALSE, NLC_GATE_DO_HOLD,
                  NLC_GATE_HELD },
                { NLC_GATE_SENT, NLC_GATE_EV_PRE_SWITCHOVER, FALSE, NLC_GATE_DO_HOLD,
                  NLC_GATE_HELD_SWITCHING },
                { NLC_GATE_HELD, NLC_GATE_EV_READY, TRUE, NLC_GATE_DO_CONTINUE, NLC_GATE_IDLE },
                { NLC_GATE_HELD, NLC_GATE_EV_TIMEOUT, FALSE, NLC_GATE_DO_GIVE_UP, NLC_GATE_IDLE },
                { NLC_GATE_HELD, NLC_GATE_EV_RELEASED, FALSE, NLC_GATE_DO_NOTHING, NLC_GATE_IDLE },
                { NLC_GATE_HELD_SWITCHING, NLC_GATE_EV_READY, TRUE, NLC_GATE_DO_CONTINUE,
                  NLC_GATE_SENT },
                { NLC_GATE_HELD_SWITCHING, NLC_GATE_EV_TIMEOUT, FALSE, NLC_GATE_DO_GIVE_UP,
                  NLC_GATE_SENT },
        };

        for (guint i = 0; i < G_N_ELEMENTS(rows); i++) {
                NlcGateState next;
                NlcGateAction a = nlc_gate_next(rows[i].state, rows[i].event, rows[i].ready, &next);

                g_test_message("%s + %s (%s): %s -> %s", nlc_gate_state_to_string(rows[i].state),
                               nlc_gate_event_to_string(rows[i].event),
                               rows[i].ready ? "ready" : "not ready", nlc_gate_action_to_string(a),
                               nlc_gate_state_to_string(next));
                g_assert_cmpuint(a, ==, rows[i].action);
                g_assert_cmpuint(next, ==, rows[i].next);
        }
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/migration-gate/never-fails-open", test_never_fails_open);
        g_test_add_func("/migration-gate/unready-does-nothing", test_unready_does_nothing);
        g_test_add_func("/migration-gate/cancel", test_cancel);
        g_test_add_func("/migration-gate/decision-journalled", test_decision_journalled);
        g_test_add_func("/migration-gate/rows", test_rows);
        return g_test_run();
}
