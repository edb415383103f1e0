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

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/readiness/estimates", test_estimates);
        return g_test_run();
}
