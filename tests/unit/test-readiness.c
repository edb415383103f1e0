/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The time-left estimate from the kernel's forward-delay timer. */
#include <glib.h>

#include "nlc-readiness.h"

#define SEC 1000000ull

static void
test_estimates(void)
{
        /* Listening with 1.5 s left on the timer: 1.5 s, then a full delay learning. */
        g_assert_cmpuint(nlc_port_ready_in_usec(NLC_PORT_STATE_LISTENING, 1.5 * SEC, 2 * SEC), ==,
                         3.5 * SEC);
        g_assert_cmpuint(nlc_port_ready_in_usec(NLC_PORT_STATE_LEARNING, 0.25 * SEC, 2 * SEC), ==,
                         0.25 * SEC);
        g_assert_cmpuint(nlc_port_ready_in_usec(NLC_PORT_STATE_FORWARDING, 0, 2 * SEC), ==, 0);
        /* Announced before the timer was armed: the whole delay is ahead. */
        g_assert_cmpuint(nlc_port_ready_in_usec(NLC_PORT_STATE_LISTENING, 0, 15 * SEC), ==,
                         30 * SEC);
        /* A timer reading above the delay (rounding) is capped at the delay. */
        g_assert_cmpuint(nlc_port_ready_in_usec(NLC_PORT_STATE_LEARNING, 2.01 * SEC, 2 * SEC), ==,
                         2 * SEC);
        /* Not counting. */
        g_assert_cmpuint(nlc_port_ready_in_usec(NLC_PORT_STATE_DISABLED, 0, 2 * SEC), ==,
                         G_MAXUINT64);
        g_assert_cmpuint(nlc_port_ready_in_usec(NLC_PORT_STATE_BLOCKING, 1 * SEC, 2 * SEC), ==,
                         G_MAXUINT64);
}

/* The gate's rule: a ready device there for every NIC of the guest. */
static void
test_destination_covers(void)
{
        const char *const two[] = { "52:54:00:00:00:01", "52:54:00:00:00:02", NULL };
        const char *const first[] = { "52:54:00:00:00:01", NULL };
        const char *const none[] = { NULL };

        g_assert_true(nlc_destination_covers(two, two, TRUE));
        g_assert_true(nlc_destination_covers(first, two, FALSE)); /* a NIC of its own */
        /* The second NIC not (yet) there: held, whatever Ready says. */
        g_assert_false(nlc_destination_covers(two, first, TRUE));
        g_assert_false(nlc_destination_covers(two, none, TRUE));
        g_assert_false(nlc_destination_covers(two, NULL, TRUE));
        /* A guest without a NIC: the instance's own Ready. */
        g_assert_true(nlc_destination_covers(none, NULL, TRUE));
        g_assert_false(nlc_destination_covers(NULL, first, FALSE));
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/readiness/estimates", test_estimates);
        g_test_add_func("/readiness/destination-covers", test_destination_covers);
        return g_test_run();
}
