/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* netlifecd-libvirt-agent's table: what each libvirt event and state means
 * for the guest's devices, and when post-copy is requested. */
#include <glib.h>

#include "nlc-libvirt-policy.h"

typedef struct {
        int event;
        int detail;
        NlcLibvirtAction action;
        const char *text;
} LifecycleRow;

static void
test_lifecycle(void)
{
        static const LifecycleRow rows[] = {
                { VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_UNPAUSED,
                  NLC_LIBVIRT_ACTION_ACTIVATE, "resumed (unpaused)" },
                { VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_MIGRATED,
                  NLC_LIBVIRT_ACTION_ACTIVATE, "resumed (migrated)" },
                { VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_FROM_SNAPSHOT,
                  NLC_LIBVIRT_ACTION_ACTIVATE, "resumed (from snapshot)" },
                { VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_POSTCOPY,
                  NLC_LIBVIRT_ACTION_ACTIVATE, "resumed (post-copy)" },
#if LIBVIR_CHECK_VERSION(8, 5, 0)
                { VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_POSTCOPY_FAILED,
                  NLC_LIBVIRT_ACTION_ACTIVATE, "resumed (post-copy failed)" },
#endif
                /* A detail newer than this build still resumes the guest. */
                { VIR_DOMAIN_EVENT_RESUMED, 99, NLC_LIBVIRT_ACTION_ACTIVATE, "resumed" },
                { VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED,
                  NLC_LIBVIRT_ACTION_DEACTIVATE, "suspended (migrated)" },
                { VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY,
                  NLC_LIBVIRT_ACTION_DEACTIVATE, "suspended (post-copy)" },
                { VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_PAUSED,
                  NLC_LIBVIRT_ACTION_NONE, "suspended (paused)" },
                { VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_IOERROR,
                  NLC_LIBVIRT_ACTION_NONE, "suspended (I/O error)" },
                { VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY_FAILED,
                  NLC_LIBVIRT_ACTION_NONE, "suspended (post-copy failed)" },
                { VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_WATCHDOG,
                  NLC_LIBVIRT_ACTION_NONE, "suspended" },
                { VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_API_ERROR,
                  NLC_LIBVIRT_ACTION_NONE, "suspended" },
                { VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_BOOTED,
                  NLC_LIBVIRT_ACTION_NONE, "started (booted)" },
                { VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_MIGRATED,
                  NLC_LIBVIRT_ACTION_NONE, "started (migrated)" },
                { VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_MIGRATED,
                  NLC_LIBVIRT_ACTION_NONE, "stopped (migrated)" },
                { VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_DESTROYED,
                  NLC_LIBVIRT_ACTION_NONE, "stopped (destroyed)" },
                { VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_ADDED, NLC_LIBVIRT_ACTION_NONE,
                  "defined (added)" },
                { VIR_DOMAIN_EVENT_UNDEFINED, VIR_DOMAIN_EVENT_UNDEFINED_REMOVED,
                  NLC_LIBVIRT_ACTION_NONE, "undefined" },
                { VIR_DOMAIN_EVENT_SHUTDOWN, 0, NLC_LIBVIRT_ACTION_NONE, "shutdown" },
                { VIR_DOMAIN_EVENT_PMSUSPENDED, 0, NLC_LIBVIRT_ACTION_NONE, "pmsuspended" },
                { VIR_DOMAIN_EVENT_CRASHED, 0, NLC_LIBVIRT_ACTION_NONE, "crashed" },
                { 99, 0, NLC_LIBVIRT_ACTION_NONE, "unknown event" },
        };

        for (guint i = 0; i < G_N_ELEMENTS(rows); i++) {
                const LifecycleRow *r = &rows[i];

                g_test_message("%s", r->text);
                g_assert_cmpint(nlc_libvirt_lifecycle_action(r->event, r->detail), ==, r->action);
                g_assert_cmpstr(nlc_libvirt_event_describe(r->event, r->detail), ==, r->text);
        }
}

static void
test_migration_ends(void)
{
        g_assert_true(nlc_libvirt_lifecycle_ends_migration(VIR_DOMAIN_EVENT_RESUMED));
        g_assert_true(nlc_libvirt_lifecycle_ends_migration(VIR_DOMAIN_EVENT_SUSPENDED));
        g_assert_true(nlc_libvirt_lifecycle_ends_migration(VIR_DOMAIN_EVENT_STOPPED));
        g_assert_true(nlc_libvirt_lifecycle_ends_migration(VIR_DOMAIN_EVENT_UNDEFINED));
        g_assert_false(nlc_libvirt_lifecycle_ends_migration(VIR_DOMAIN_EVENT_STARTED));
        g_assert_false(nlc_libvirt_lifecycle_ends_migration(VIR_DOMAIN_EVENT_DEFINED));
}

static void
test_postcopy_due(void)
{
        /* libvirt emits iteration 1 at the start of pass 1. */
        g_assert_false(nlc_libvirt_postcopy_due(0, 0, FALSE));
        g_assert_true(nlc_libvirt_postcopy_due(1, 0, FALSE));
        g_assert_true(nlc_libvirt_postcopy_due(5, 0, FALSE));
        g_assert_false(nlc_libvirt_postcopy_due(1, 2, FALSE));
        g_assert_false(nlc_libvirt_postcopy_due(2, 2, FALSE));
        g_assert_true(nlc_libvirt_postcopy_due(3, 2, FALSE));
        g_assert_true(nlc_libvirt_postcopy_due(4, 2, FALSE));
        for (guint it = 0; it < 6; it++) {
                g_assert_false(nlc_libvirt_postcopy_due(it, 0, TRUE));
                g_assert_false(nlc_libvirt_postcopy_due(it, 2, TRUE));
        }
}

static void
test_postcopy_refusal(void)
{
        g_assert_true(nlc_libvirt_postcopy_refusal_is_final(
                VIR_ERR_OPERATION_INVALID, "switching to post-copy requires migration to be "
                                           "started with VIR_MIGRATE_POSTCOPY flag"));
        g_assert_true(nlc_libvirt_postcopy_refusal_is_final(VIR_ERR_OPERATION_INVALID, NULL));
        /* QEMU's refusal through libvirt (tests/libvirt/README.md). */
        g_assert_true(nlc_libvirt_postcopy_refusal_is_final(
                VIR_ERR_INTERNAL_ERROR, "unable to execute QEMU command "
                                        "'migrate-start-postcopy': Enable postcopy with "
                                        "migrate_set_capability before the start of migration"));
        g_assert_false(nlc_libvirt_postcopy_refusal_is_final(VIR_ERR_INTERNAL_ERROR,
                                                             "client socket is closed"));
        g_assert_false(nlc_libvirt_postcopy_refusal_is_final(VIR_ERR_NO_DOMAIN, NULL));
}

typedef struct {
        int state;
        int reason;
        NlcLibvirtAction action;
        const char *text;
} ReconcileRow;

static void
test_reconcile(void)
{
        static const ReconcileRow rows[] = {
                { VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_BOOTED, NLC_LIBVIRT_ACTION_ACTIVATE,
                  "running" },
                { VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_MIGRATED, NLC_LIBVIRT_ACTION_ACTIVATE,
                  "running" },
                { VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_POSTCOPY, NLC_LIBVIRT_ACTION_ACTIVATE,
                  "running" },
                { VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_UNPAUSED, NLC_LIBVIRT_ACTION_ACTIVATE,
                  "running" },
                { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_MIGRATION, NLC_LIBVIRT_ACTION_DEACTIVATE,
                  "paused (migration)" },
                { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_POSTCOPY, NLC_LIBVIRT_ACTION_DEACTIVATE,
                  "paused (post-copy)" },
                { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_USER, NLC_LIBVIRT_ACTION_NONE,
                  "paused (user)" },
                { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_IOERROR, NLC_LIBVIRT_ACTION_NONE,
                  "paused (I/O error)" },
                { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_POSTCOPY_FAILED, NLC_LIBVIRT_ACTION_NONE,
                  "paused (post-copy failed)" },
                { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_STARTING_UP, NLC_LIBVIRT_ACTION_NONE,
                  "paused (starting up)" },
                { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_SAVE, NLC_LIBVIRT_ACTION_NONE, "paused" },
                { VIR_DOMAIN_SHUTOFF, 0, NLC_LIBVIRT_ACTION_NONE, "shut off" },
                { VIR_DOMAIN_SHUTDOWN, 0, NLC_LIBVIRT_ACTION_NONE, "shutting down" },
                { VIR_DOMAIN_CRASHED, 0, NLC_LIBVIRT_ACTION_NONE, "crashed" },
                { VIR_DOMAIN_PMSUSPENDED, 0, NLC_LIBVIRT_ACTION_NONE, "pmsuspended" },
                { VIR_DOMAIN_BLOCKED, 0, NLC_LIBVIRT_ACTION_NONE, "blocked" },
                { VIR_DOMAIN_NOSTATE, 0, NLC_LIBVIRT_ACTION_NONE, "no state" },
        };

        for (guint i = 0; i < G_N_ELEMENTS(rows); i++) {
                const ReconcileRow *r = &rows[i];

                g_test_message("%s", r->text);
                g_assert_cmpint(nlc_libvirt_reconcile_action(r->state, r->reason), ==, r->action);
                g_assert_cmpstr(nlc_libvirt_state_describe(r->state, r->reason), ==, r->text);
        }
}

static void
test_action_names(void)
{
        g_assert_cmpstr(nlc_libvirt_action_to_string(NLC_LIBVIRT_ACTION_ACTIVATE), ==, "Activate");
        g_assert_cmpstr(nlc_libvirt_action_to_string(NLC_LIBVIRT_ACTION_DEACTIVATE), ==,
                        "Deactivate");
        g_assert_cmpstr(nlc_libvirt_action_to_string(NLC_LIBVIRT_ACTION_NONE), ==, "none");
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/libvirt-agent/lifecycle", test_lifecycle);
        g_test_add_func("/libvirt-agent/migration-ends", test_migration_ends);
        g_test_add_func("/libvirt-agent/postcopy-due", test_postcopy_due);
        g_test_add_func("/libvirt-agent/postcopy-refusal", test_postcopy_refusal);
        g_test_add_func("/libvirt-agent/reconcile", test_reconcile);
        g_test_add_func("/libvirt-agent/action-names", test_action_names);
        return g_test_run();
}
