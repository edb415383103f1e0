/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The enums that cross the bus: every value has a string, every string maps
 * back, and every error code has its registered D-Bus name. */
#include <gio/gio.h>

#include "nlc-error.h"

static void
test_device_states(void)
{
        for (guint v = 0; v <= NLC_DEVICE_STATE_LAST; v++) {
                const char *s = nlc_device_state_to_string(v);
                NlcDeviceState back;

                g_assert_nonnull(s);
                g_assert_true(nlc_device_state_from_string(s, &back));
                g_assert_cmpuint(back, ==, v);
        }
        g_assert_null(nlc_device_state_to_string(NLC_DEVICE_STATE_LAST + 1));
        g_assert_cmpstr(nlc_device_state_to_string(NLC_DEVICE_STATE_ACTIVE), ==, "active");
        {
                NlcDeviceState unused;
                g_assert_false(nlc_device_state_from_string("Active", &unused));
                g_assert_false(nlc_device_state_from_string(NULL, &unused));
        }
}

static void
test_ops(void)
{
        for (guint v = 0; v <= NLC_OP_LAST; v++) {
                const char *s = nlc_op_to_string(v);
                NlcOp back;

                g_assert_nonnull(s);
                g_assert_true(nlc_op_from_string(s, &back));
                g_assert_cmpuint(back, ==, v);
        }
        g_assert_null(nlc_op_to_string(NLC_OP_LAST + 1));
}

static void
test_port_states(void)
{
        /* The values are the kernel's BR_STATE_*: the monitor casts. */
        static const char *const kernel_order[] = { "disabled", "listening", "learning",
                                                    "forwarding", "blocking" };

        G_STATIC_ASSERT(G_N_ELEMENTS(kernel_order) == NLC_PORT_STATE_LAST + 1);
        for (guint v = 0; v <= NLC_PORT_STATE_LAST; v++) {
                NlcPortState back;

                g_assert_cmpstr(nlc_port_state_to_string(v), ==, kernel_order[v]);
                g_assert_true(nlc_port_state_from_string(kernel_order[v], &back));
                g_assert_cmpuint(back, ==, v);
        }
        g_assert_null(nlc_port_state_to_string(NLC_PORT_STATE_LAST + 1));
}

static void
test_port_reasons(void)
{
        for (guint v = 0; v <= NLC_PORT_REASON_LAST; v++) {
                const char *s = nlc_port_reason_to_string(v);
                NlcPortReason back;

                g_assert_nonnull(s);
                g_assert_true(nlc_port_reason_from_string(s, &back));
                g_assert_cmpuint(back, ==, v);
                /* Only a forwarding port has no reason. */
                g_assert_cmpint(s[0] == '\0', ==, v == NLC_PORT_REASON_NONE);
        }
        g_assert_null(nlc_port_reason_to_string(NLC_PORT_REASON_LAST + 1));
        g_assert_cmpstr(nlc_port_reason_to_string(NLC_PORT_REASON_BPDU_GUARD), ==, "bpdu-guard");
}

static void
test_migration_tables(void)
{
        for (guint v = 0; v <= NLC_MIGRATION_PHASE_LAST; v++)
                g_assert_nonnull(nlc_migration_phase_to_string(v));
        g_assert_null(nlc_migration_phase_to_string(NLC_MIGRATION_PHASE_LAST + 1));
        for (guint v = 0; v <= NLC_POSTCOPY_LAST; v++) {
                NlcPostcopyPolicy back;

                g_assert_true(
                        nlc_postcopy_policy_from_string(nlc_postcopy_policy_to_string(v), &back));
                g_assert_cmpuint(back, ==, v);
        }
        for (guint v = 0; v <= NLC_READINESS_LAST; v++) {
                NlcReadinessSource back;

                g_assert_true(
                        nlc_readiness_source_from_string(nlc_readiness_source_to_string(v), &back));
                g_assert_cmpuint(back, ==, v);
        }
        g_assert_cmpstr(nlc_migration_phase_to_string(NLC_MIGRATION_PHASE_WAITING_FOR_DESTINATION),
                        ==, "waiting-for-destination");
}

static void
test_dbus_error_names(void)
{
        static const char *const expected[] = {
                "org.netlifecd1.Error.Failed",
                "org.netlifecd1.Error.InvalidArgs",
                "org.netlifecd1.Error.InvalidState",
                "org.netlifecd1.Error.NotFound",
                "org.netlifecd1.Error.Conflict",
                "org.netlifecd1.Error.Busy",
                "org.netlifecd1.Error.NotSupported",
                "org.netlifecd1.Error.NotAuthorized",
                "org.netlifecd1.Error.PortProfileRefused",
                "org.netlifecd1.Error.PortProfileTimedOut",
                "org.netlifecd1.Error.PortProfileUnavailable",
        };

        G_STATIC_ASSERT(G_N_ELEMENTS(expected) == NLC_ERROR_LAST + 1);
        for (guint v = 0; v <= NLC_ERROR_LAST; v++) {
                g_autoptr(GError) error = g_error_new(NLC_ERROR, (int) v, "x");
                g_autofree char *name = g_dbus_error_encode_gerror(error);
                g_autoptr(GError) back = g_dbus_error_new_for_dbus_error(name, "x");

                g_assert_cmpstr(name, ==, expected[v]);
                g_assert_error(back, NLC_ERROR, (int) v);
        }
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/tables/device-states", test_device_states);
        g_test_add_func("/tables/ops", test_ops);
        g_test_add_func("/tables/port-states", test_port_states);
        g_test_add_func("/tables/port-reasons", test_port_reasons);
        g_test_add_func("/tables/migration", test_migration_tables);
        g_test_add_func("/tables/dbus-error-names", test_dbus_error_names);
        return g_test_run();
}
