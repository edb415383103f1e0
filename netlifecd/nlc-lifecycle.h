/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The device transition table (DESIGN §3). Pure: no I/O, unit-tested.
 */
#pragma once

#include "nlc-enums.h"

typedef enum {
        NLC_TRANSITION_REFUSE = 0, /* out of order: InvalidState, nothing changes */
        NLC_TRANSITION_RUN = 1,    /* run the operation, then enter the target state */
        NLC_TRANSITION_NOOP = 2,   /* already in the state it leads to: succeed, change nothing */
} NlcTransition;

/* What @op does in @state. */
NlcTransition nlc_lifecycle_check(NlcDeviceState state, NlcOp op);
/* The state @op leads to. NLC_OP_NOTIFY has none (the kernel decides): NONE. */
NlcDeviceState nlc_lifecycle_target(NlcOp op);
/* The states @op may run from, for error messages: "created or destroyed". */
char *nlc_lifecycle_describe_sources(NlcOp op);

/* TRUE when the funnel may move a device from @old to @new for @op: @op runs
 * from @old and leads to @new. NLC_OP_NOTIFY may lead anywhere but FREED:
 * the kernel is the truth when a device is adopted or restored. */
gboolean nlc_lifecycle_transition_allowed(NlcDeviceState old_state, NlcDeviceState new_state,
                                          NlcOp op);
