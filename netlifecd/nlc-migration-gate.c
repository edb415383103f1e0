/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "nlc-migration-gate.h"

typedef struct {
        NlcGateAction action;
        NlcGateState next;
} Step;

/* One row: what the event does when the destination is ready, and when not. */
typedef struct {
        Step ready, not_ready;
} Row;

#define SAME(a, n)                                    \
        {                                             \
                { NLC_GATE_DO_##a, NLC_GATE_##n },    \
                {                                     \
                        NLC_GATE_DO_##a, NLC_GATE_##n \
                }                                     \
        }
#define BY_READY(ra, rn, na, nn)                        \
        {                                               \
                { NLC_GATE_DO_##ra, NLC_GATE_##rn },    \
                {                                       \
                        NLC_GATE_DO_##na, NLC_GATE_##nn \
                }                                       \
        }

static const Row table[NLC_GATE_LAST + 1][NLC_GATE_EV_LAST + 1] = {
        [NLC_GATE_IDLE] = {
                [NLC_GATE_EV_POLICY] = BY_READY(SWITCH, SENT, WAIT, WAITING),
                [NLC_GATE_EV_MANUAL] = BY_READY(SWITCH, SENT, WAIT, WAITING),
                [NLC_GATE_EV_READY] = SAME(NOTHING, IDLE),
                [NLC_GATE_EV_UNREADY] = SAME(NOTHING, IDLE),
                [NLC_GATE_EV_TIMEOUT] = SAME(NOTHING, IDLE),
                [NLC_GATE_EV_REFUSED] = SAME(NOTHING, IDLE),
                /* Pre-copy converged with pause-before-switchover. */
                [NLC_GATE_EV_PRE_SWITCHOVER] = BY_READY(CONTINUE, IDLE, HOLD, HELD),
                [NLC_GATE_EV_RELEASED] = SAME(NOTHING, IDLE),
                [NLC_GATE_EV_CANCEL] = SAME(CANCEL, IDLE),
        },
        [NLC_GATE_WAITING] = {
                [NLC_GATE_EV_POLICY] = SAME(NOTHING, WAITING),
                [NLC_GATE_EV_MANUAL] = SAME(NOTHING, WAITING),
                [NLC_GATE_EV_READY] = BY_READY(SWITCH, SENT, NOTHING, WAITING),
                [NLC_GATE_EV_UNREADY] = SAME(NOTHING, WAITING),
                [NLC_GATE_EV_TIMEOUT] = SAME(FALLBACK, GIVEN_UP),
                [NLC_GATE_EV_REFUSED] = SAME(NOTHING, WAITING),
                /* Pre-copy converged while waiting: finishing it needs no
                 * post-copy, but its switchover needs the ports too. */
                [NLC_GATE_EV_PRE_SWITCHOVER] = BY_READY(CONTINUE, IDLE, HOLD, HELD),
                [NLC_GATE_EV_RELEASED] = SAME(NOTHING, WAITING),
                [NLC_GATE_EV_CANCEL] = SAME(CANCEL, WAITING),
        },
        [NLC_GATE_SENT] = {
                [NLC_GATE_EV_POLICY] = SAME(NOTHING, SENT),
                [NLC_GATE_EV_MANUAL] = SAME(NOTHING, SENT),
                [NLC_GATE_EV_READY] = SAME(NOTHING, SENT),
                [NLC_GATE_EV_UNREADY] = SAME(NOTHING, SENT),
                [NLC_GATE_EV_TIMEOUT] = SAME(NOTHING, SENT),
                /* Pre-copy finished first: nothing switched, wait as before. */
                [NLC_GATE_EV_REFUSED] = SAME(NOTHING, WAITING),
                /* The switch itself pauses there (postcopy_start). */
                [NLC_GATE_EV_PRE_SWITCHOVER] = BY_READY(CONTINUE, SENT, HOLD, HELD_SWITCHING),
                [NLC_GATE_EV_RELEASED] = SAME(NOTHING, SENT),
                /* The guest may run on the destination already. */
                [NLC_GATE_EV_CANCEL] = SAME(REFUSE, SENT),
        },
        [NLC_GATE_GIVEN_UP] = {
                [NLC_GATE_EV_POLICY] = SAME(NOTHING, GIVEN_UP),
                [NLC_GATE_EV_MANUAL] = BY_READY(SWITCH, SENT, WAIT, WAITING),
                [NLC_GATE_EV_READY] = SAME(NOTHING, GIVEN_UP),
                [NLC_GATE_EV_UNREADY] = SAME(NOTHING, GIVEN_UP),
                [NLC_GATE_EV_TIMEOUT] = SAME(NOTHING, GIVEN_UP),
                [NLC_GATE_EV_REFUSED] = SAME(NOTHING, GIVEN_UP),
                [NLC_GATE_EV_PRE_SWITCHOVER] = BY_READY(CONTINUE, GIVEN_UP, HOLD, HELD),
                [NLC_GATE_EV_RELEASED] = SAME(NOTHING, GIVEN_UP),
                [NLC_GATE_EV_CANCEL] = SAME(CANCEL, GIVEN_UP),
        },
        [NLC_GATE_HELD] = {
                /* QEMU is past the point where post-copy could start. */
                [NLC_GATE_EV_POLICY] = SAME(NOTHING, HELD),
                [NLC_GATE_EV_MANUAL] = SAME(NOTHING, HELD),
                [NLC_GATE_EV_READY] = BY_READY(CONTINUE, IDLE, NOTHING, HELD),
                [NLC_GATE_EV_UNREADY] = SAME(NOTHING, HELD),
                /* Pre-copy cannot go on past the switchover: both fallbacks
                 * cancel, the guest resumes on the source. */
                [NLC_GATE_EV_TIMEOUT] = SAME(GIVE_UP, IDLE),
                [NLC_GATE_EV_REFUSED] = SAME(NOTHING, HELD),
                [NLC_GATE_EV_PRE_SWITCHOVER] = SAME(NOTHING, HELD),
                [NLC_GATE_EV_RELEASED] = SAME(NOTHING, IDLE),
                [NLC_GATE_EV_CANCEL] = SAME(CANCEL, IDLE),
        },
        [NLC_GATE_HELD_SWITCHING] = {
                [NLC_GATE_EV_POLICY] = SAME(NOTHING, HELD_SWITCHING),
                [NLC_GATE_EV_MANUAL] = SAME(NOTHING, HELD_SWITCHING),
                [NLC_GATE_EV_READY] = BY_READY(CONTINUE, SENT, NOTHING, HELD_SWITCHING),
                [NLC_GATE_EV_UNREADY] = SAME(NOTHING, HELD_SWITCHING),
                [NLC_GATE_EV_TIMEOUT] = SAME(GIVE_UP, SENT),
                [NLC_GATE_EV_REFUSED] = SAME(NOTHING, HELD_SWITCHING),
                [NLC_GATE_EV_PRE_SWITCHOVER] = SAME(NOTHING, HELD_SWITCHING),
                [NLC_GATE_EV_RELEASED] = SAME(NOTHING, SENT),
                /* Held, the guest has not started on the destination yet. */
                [NLC_GATE_EV_CANCEL] = SAME(CANCEL, SENT),
        },
};

NlcGateAction
nlc_gate_next(NlcGateState state, NlcGateEvent event, gboolean ready, NlcGateState *next)
{
        const Step *step;

        if ((guint) state > NLC_GATE_LAST || (guint) event > NLC_GATE_EV_LAST) {
                *next = state;
                return NLC_GATE_DO_NOTHING;
        }
        step = ready ? &table[state][event].ready : &table[state][event].not_ready;
        *next = step->next;
        return step->action;
}

NlcGateState
nlc_gate_decision(NlcGateState state)
{
        if (state == NLC_GATE_HELD)
                return NLC_GATE_IDLE;
        if (state == NLC_GATE_HELD_SWITCHING)
                return NLC_GATE_SENT;
        return state;
}

static const char *const state_names[] = {
        [NLC_GATE_IDLE] = "idle", [NLC_GATE_WAITING] = "waiting",
        [NLC_GATE_SENT] = "sent", [NLC_GATE_GIVEN_UP] = "given-up",
        [NLC_GATE_HELD] = "held", [NLC_GATE_HELD_SWITCHING] = "held-switching",
};
G_STATIC_ASSERT(G_N_ELEMENTS(state_names) == NLC_GATE_LAST + 1);

static const char *const event_names[] = {
        [NLC_GATE_EV_POLICY] = "policy",
        [NLC_GATE_EV_MANUAL] = "manual",
        [NLC_GATE_EV_READY] = "ready",
        [NLC_GATE_EV_UNREADY] = "unready",
        [NLC_GATE_EV_TIMEOUT] = "timeout",
        [NLC_GATE_EV_REFUSED] = "refused",
        [NLC_GATE_EV_PRE_SWITCHOVER] = "pre-switchover",
        [NLC_GATE_EV_RELEASED] = "released",
        [NLC_GATE_EV_CANCEL] = "cancel",
};
G_STATIC_ASSERT(G_N_ELEMENTS(event_names) == NLC_GATE_EV_LAST + 1);

static const char *const action_names[] = {
        [NLC_GATE_DO_NOTHING] = "nothing", [NLC_GATE_DO_WAIT] = "wait",
        [NLC_GATE_DO_SWITCH] = "switch",   [NLC_GATE_DO_FALLBACK] = "fallback",
        [NLC_GATE_DO_HOLD] = "hold",       [NLC_GATE_DO_CONTINUE] = "continue",
        [NLC_GATE_DO_GIVE_UP] = "give-up", [NLC_GATE_DO_CANCEL] = "cancel",
        [NLC_GATE_DO_REFUSE] = "refuse",
};
G_STATIC_ASSERT(G_N_ELEMENTS(action_names) == NLC_GATE_DO_LAST + 1);

const char *
nlc_gate_state_to_string(NlcGateState state)
{
        return (guint) state <= NLC_GATE_LAST ? state_names[state] : NULL;
}

gboolean
nlc_gate_state_from_string(const char *s, NlcGateState *out)
{
        for (guint i = 0; s && i <= NLC_GATE_LAST; i++)
                if (strcmp(s, state_names[i]) == 0) {
                        *out = i;
                        return TRUE;
                }
        return FALSE;
}

const char *
nlc_gate_event_to_string(NlcGateEvent event)
{
        return (guint) event <= NLC_GATE_EV_LAST ? event_names[event] : NULL;
}

const char *
nlc_gate_action_to_string(NlcGateAction action)
{
        return (guint) action <= NLC_GATE_DO_LAST ? action_names[action] : NULL;
}
