/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The transition table against an independent statement of DESIGN §3. */
#include <glib.h>

#include "nlc-lifecycle.h"

#define R NLC_TRANSITION_RUN
#define N NLC_TRANSITION_NOOP
#define X NLC_TRANSITION_REFUSE

/* rows: none, allocated, created, active, destroyed, freed */
static const NlcTransition expected[NLC_OP_LAST + 1][NLC_DEVICE_STATE_LAST + 1] = {
        /*                      none alloc created active destroyed freed */
        [NLC_OP_ALLOCATE] = { R, N, X, X, X, X }, [NLC_OP_CREATE] = { X, R, N, X, R, X },
        [NLC_OP_ACTIVATE] = { X, X, R, N, X, X }, [NLC_OP_DEACTIVATE] = { X, X, N, R, X, X },
        [NLC_OP_DESTROY] = { X, X, R, X, N, X },  [NLC_OP_FREE] = { X, R, X, X, R, N },
        [NLC_OP_NOTIFY] = { R, R, R, R, R, X },
};

static void
test_table(void)
{
        for (guint op = 0; op <= NLC_OP_LAST; op++)
                for (guint st = 0; st <= NLC_DEVICE_STATE_LAST; st++) {
                        NlcTransition got = nlc_lifecycle_check(st, op);

                        if (got != expected[op][st])
                                g_error("%s in %s: got %d, want %d", nlc_op_to_string(op),
                                        nlc_device_state_to_string(st), got, expected[op][st]);
                }
}

/* Idempotency: every operation with a target is a no-op once there. */
static void
test_repeat_is_noop(void)
{
        for (guint op = 0; op <= NLC_OP_LAST; op++) {
                NlcDeviceState target = nlc_lifecycle_target(op);

                if (op == NLC_OP_NOTIFY) {
                        g_assert_cmpuint(target, ==, NLC_DEVICE_STATE_NONE);
                        continue;
                }
                g_assert_cmpuint(nlc_lifecycle_check(target, op), ==, NLC_TRANSITION_NOOP);
        }
}

static void
test_transition_allowed(void)
{
        g_assert_true(nlc_lifecycle_transition_allowed(NLC_DEVICE_STATE_CREATED,
                                                       NLC_DEVICE_STATE_ACTIVE, NLC_OP_ACTIVATE));
        /* The right op with the wrong target is refused by the funnel. */
        g_assert_false(nlc_lifecycle_transition_allowed(
                NLC_DEVICE_STATE_CREATED, NLC_DEVICE_STATE_DESTROYED, NLC_OP_ACTIVATE));
        g_assert_false(nlc_lifecycle_transition_allowed(
                NLC_DEVICE_STATE_ACTIVE, NLC_DEVICE_STATE_DESTROYED, NLC_OP_DESTROY));
        /* notify may move to any live state the kernel shows, never to freed. */
        g_assert_true(nlc_lifecycle_transition_allowed(NLC_DEVICE_STATE_NONE,
                                                       NLC_DEVICE_STATE_ACTIVE, NLC_OP_NOTIFY));
        g_assert_true(nlc_lifecycle_transition_allowed(NLC_DEVICE_STATE_ACTIVE,
                                                       NLC_DEVICE_STATE_CREATED, NLC_OP_NOTIFY));
        g_assert_false(nlc_lifecycle_transition_allowed(NLC_DEVICE_STATE_CREATED,
                                                        NLC_DEVICE_STATE_FREED, NLC_OP_NOTIFY));
        g_assert_false(nlc_lifecycle_transition_allowed(NLC_DEVICE_STATE_FREED,
                                                        NLC_DEVICE_STATE_CREATED, NLC_OP_NOTIFY));
}

static void
test_describe_sources(void)
{
        g_autofree char *create = nlc_lifecycle_describe_sources(NLC_OP_CREATE);
        g_autofree char *activate = nlc_lifecycle_describe_sources(NLC_OP_ACTIVATE);

        g_assert_cmpstr(create, ==, "allocated or destroyed");
        g_assert_cmpstr(activate, ==, "created");
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/lifecycle/table", test_table);
        g_test_add_func("/lifecycle/repeat-is-noop", test_repeat_is_noop);
        g_test_add_func("/lifecycle/transition-allowed", test_transition_allowed);
        g_test_add_func("/lifecycle/describe-sources", test_describe_sources);
        return g_test_run();
}
