/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The time-left estimate from the kernel's forward-delay timer. */
#include <glib.h>
#include <string.h>

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
        /* The delay made shorter while a port listens: the timer runs out as
         * it was armed, then learning takes the new delay. */
        g_assert_cmpuint(nlc_port_ready_in_usec(NLC_PORT_STATE_LISTENING, 10 * SEC, 4 * SEC), ==,
                         14 * SEC);
        /* Not counting. */
        g_assert_cmpuint(nlc_port_ready_in_usec(NLC_PORT_STATE_DISABLED, 0, 2 * SEC), ==,
                         G_MAXUINT64);
        g_assert_cmpuint(nlc_port_ready_in_usec(NLC_PORT_STATE_BLOCKING, 1 * SEC, 2 * SEC), ==,
                         G_MAXUINT64);
}

/* A port as it should be: on its bridge, both up, carrier, forwarding. */
static NlcPortFacts
healthy_port(void)
{
        return (NlcPortFacts){ .on_bridge = TRUE,
                               .bridge_exists = TRUE,
                               .bridge_up = TRUE,
                               .link_exists = TRUE,
                               .link_up = TRUE,
                               .carrier = TRUE,
                               .is_port = TRUE,
                               .state = NLC_PORT_STATE_FORWARDING,
                               .bpdu_guard = TRUE };
}

static void
assert_reason(const NlcPortFacts *f, NlcPortReason want)
{
        g_assert_cmpstr(nlc_port_reason_to_string(nlc_port_reason(f)), ==,
                        nlc_port_reason_to_string(want));
}

static void
test_port_reasons(void)
{
        NlcPortFacts f = healthy_port();

        assert_reason(&f, NLC_PORT_REASON_NONE);
        f.state = NLC_PORT_STATE_LISTENING;
        assert_reason(&f, NLC_PORT_REASON_STP_FORWARD_DELAY);
        f.state = NLC_PORT_STATE_LEARNING;
        assert_reason(&f, NLC_PORT_REASON_STP_FORWARD_DELAY);
        f.state = NLC_PORT_STATE_BLOCKING;
        assert_reason(&f, NLC_PORT_REASON_STP_BLOCKING);
        /* Disabled with everything up: only a BPDU does that, with the guard. */
        f.state = NLC_PORT_STATE_DISABLED;
        assert_reason(&f, NLC_PORT_REASON_BPDU_GUARD);
        f.bpdu_guard = FALSE;
        assert_reason(&f, NLC_PORT_REASON_DISABLED);
        f.bpdu_guard = TRUE;
        /* The usual causes come before the guard. */
        f.bridge_up = FALSE;
        assert_reason(&f, NLC_PORT_REASON_BRIDGE_DOWN);
        f.carrier = FALSE;
        assert_reason(&f, NLC_PORT_REASON_NO_CARRIER);
        f.link_up = FALSE;
        assert_reason(&f, NLC_PORT_REASON_LINK_DOWN);
        f.is_port = FALSE;
        assert_reason(&f, NLC_PORT_REASON_NOT_ON_BRIDGE);
        f.link_exists = FALSE;
        assert_reason(&f, NLC_PORT_REASON_LINK_GONE);
        f.bridge_exists = FALSE;
        assert_reason(&f, NLC_PORT_REASON_BRIDGE_GONE);
        /* A port's own causes win only over a disabled state. */
        f = healthy_port();
        f.carrier = FALSE;
        assert_reason(&f, NLC_PORT_REASON_NONE);
}

/* Without a bridge: the link it follows decides, state and reason. */
static void
test_link_reasons(void)
{
        NlcPortFacts f = { .link_exists = TRUE, .link_up = TRUE, .carrier = TRUE };

        assert_reason(&f, NLC_PORT_REASON_NONE);
        g_assert_cmpint(nlc_port_state_of_link(&f), ==, NLC_PORT_STATE_FORWARDING);
        f.carrier = FALSE;
        assert_reason(&f, NLC_PORT_REASON_NO_CARRIER);
        g_assert_cmpint(nlc_port_state_of_link(&f), ==, NLC_PORT_STATE_DISABLED);
        f.link_up = FALSE;
        assert_reason(&f, NLC_PORT_REASON_LINK_DOWN);
        f.link_exists = FALSE;
        assert_reason(&f, NLC_PORT_REASON_LINK_GONE);
        g_assert_cmpint(nlc_port_state_of_link(&f), ==, NLC_PORT_STATE_DISABLED);
        /* No STP without a bridge: the state field means nothing. */
        f = (NlcPortFacts){ .link_exists = TRUE,
                            .link_up = TRUE,
                            .carrier = TRUE,
                            .state = NLC_PORT_STATE_BLOCKING };
        assert_reason(&f, NLC_PORT_REASON_NONE);
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

/* The words a timed-out migration's Error carries. */
static void
test_describe_not_ready(void)
{
        const char *const guest[] = { "52:54:00:00:00:01", "52:54:00:00:00:02", "52:54:00:00:00:03",
                                      NULL };
        const char *const ready[] = { "52:54:00:00:00:01", NULL };
        g_autoptr(GVariant) not_ready = g_variant_ref_sink(g_variant_new_parsed(
                "[('52:54:00:00:00:02', 'nlc2', 'stp-blocking'), ('52:54:00:00:00:09', 'nlc9', "
                "'no-carrier')]"));
        g_autofree char *both = nlc_describe_not_ready(guest, ready, not_ready);
        g_autofree char *all = nlc_describe_not_ready(NULL, NULL, not_ready);
        g_autofree char *none = nlc_describe_not_ready(ready, ready, not_ready);
        g_autofree char *unread = nlc_describe_not_ready(guest, NULL, NULL);

        /* The guest's NICs only: a ready one is not named, a missing one is. */
        g_assert_cmpstr(
                both, ==,
                "52:54:00:00:00:02 on nlc2: stp-blocking, 52:54:00:00:00:03: no device there");
        g_assert_cmpstr(all, ==,
                        "52:54:00:00:00:02 on nlc2: stp-blocking, 52:54:00:00:00:09 on nlc9: "
                        "no-carrier");
        g_assert_cmpstr(none, ==, "");
        g_assert_nonnull(strstr(unread, "52:54:00:00:00:01: no device there"));
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/readiness/port-reasons", test_port_reasons);
        g_test_add_func("/readiness/describe-not-ready", test_describe_not_ready);
        g_test_add_func("/readiness/link-reasons", test_link_reasons);
        g_test_add_func("/readiness/estimates", test_estimates);
        g_test_add_func("/readiness/destination-covers", test_destination_covers);
        return g_test_run();
}
