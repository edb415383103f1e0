/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The post-copy gate of a source migration as a table: what the daemon has
 * decided about the switch (migrate-start-postcopy) and QEMU's hold at
 * pre-switchover, moved only by nlc_gate_next(), state × event → action and
 * next state, as the device lifecycle moves by its table. The phase the bus
 * shows follows QEMU's events by its own table (nlc-migration-phase.c);
 * this is what the daemon itself does about them. Pure: unit-tested row by
 * row.
 *
 * The gate never fails open: no row sends the switch or lets QEMU go on from
 * pre-switchover unless the destination is ready at that moment.
 */
#pragma once

#include <glib.h>

typedef enum {
        NLC_GATE_IDLE = 0,           /* the policy has not fired */
        NLC_GATE_WAITING = 1,        /* it fired; held until the destination is ready */
        NLC_GATE_SENT = 2,           /* migrate-start-postcopy journalled and sent */
        NLC_GATE_GIVEN_UP = 3,       /* no destination in time, fallback continue-precopy:
                                      * pre-copy to the end unless StartPostcopy() */
        NLC_GATE_HELD = 4,           /* QEMU holds the guest at pre-switchover (pre-copy's
                                      * end) until the destination is ready */
        NLC_GATE_HELD_SWITCHING = 5, /* the same inside the post-copy switch */
        NLC_GATE_LAST = NLC_GATE_HELD_SWITCHING,
} NlcGateState;

typedef enum {
        NLC_GATE_EV_POLICY = 0,         /* the policy fired (after-precopy, immediate, on-stall) */
        NLC_GATE_EV_MANUAL = 1,         /* StartPostcopy() */
        NLC_GATE_EV_READY = 2,          /* the destination turned ready */
        NLC_GATE_EV_UNREADY = 3,        /* it stopped being ready */
        NLC_GATE_EV_TIMEOUT = 4,        /* the readiness timeout ended */
        NLC_GATE_EV_REFUSED = 5,        /* QEMU refused migrate-start-postcopy */
        NLC_GATE_EV_PRE_SWITCHOVER = 6, /* QEMU paused at pre-switchover */
        NLC_GATE_EV_RELEASED = 7,       /* QEMU left pre-switchover on its own (cancel, failure) */
        NLC_GATE_EV_CANCEL = 8,         /* Cancel() */
        NLC_GATE_EV_LAST = NLC_GATE_EV_CANCEL,
} NlcGateEvent;

typedef enum {
        NLC_GATE_DO_NOTHING = 0,
        NLC_GATE_DO_WAIT = 1,     /* phase waiting-for-destination, arm the readiness timeout */
        NLC_GATE_DO_SWITCH = 2,   /* disarm the timeout, journal, send migrate-start-postcopy */
        NLC_GATE_DO_FALLBACK = 3, /* the timeout's fallback: fail, or stay pre-copy */
        NLC_GATE_DO_HOLD = 4,     /* arm the readiness timeout; QEMU waits */
        NLC_GATE_DO_CONTINUE = 5, /* disarm the timeout, send migrate-continue */
        NLC_GATE_DO_GIVE_UP = 6,  /* at pre-switchover: cancel (the guest resumes on the source) */
        NLC_GATE_DO_CANCEL = 7,   /* send migrate_cancel */
        NLC_GATE_DO_REFUSE = 8,   /* refuse the call: the guest may run on the destination */
        NLC_GATE_DO_LAST = NLC_GATE_DO_REFUSE,
} NlcGateAction;

/* What @event does in @state, the destination being @ready now; the state
 * it leads to in *@next. */
NlcGateAction nlc_gate_next(NlcGateState state, NlcGateEvent event, gboolean ready,
                            NlcGateState *next);

/* What is journalled: the decision, not QEMU's hold (QEMU says it again at
 * the resync after a restart, and the timeout is armed again then). */
NlcGateState nlc_gate_decision(NlcGateState state);

const char *nlc_gate_state_to_string(NlcGateState state);
gboolean nlc_gate_state_from_string(const char *s, NlcGateState *out);
const char *nlc_gate_event_to_string(NlcGateEvent event);
const char *nlc_gate_action_to_string(NlcGateAction action);
