/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The post-copy driver against the scripted QEMU (QEMU 7.2's greeting and
 * capability list) with fake devices: each policy, the readiness gate, the
 * fallbacks, cancel, the destination side, and refusals.
 */
#include <string.h>

#include "nlc-device.h"
#include "nlc-error.h"
#include "nlc-fake-backend.h"
#include "nlc-fake-qmp.h"
#include "nlc-journal.h"
#include "nlc-manager.h"

#define URI "tcp:198.51.100.2:4444"
#define CAPS_7_2                                                                               \
        "[{\"state\": false, \"capability\": \"xbzrle\"}, {\"state\": false, \"capability\": " \
        "\"auto-converge\"}, {\"state\": false, \"capability\": \"events\"}, {\"state\": "     \
        "false, \"capability\": \"postcopy-ram\"}, {\"state\": false, \"capability\": "        \
        "\"pause-before-switchover\"}, {\"state\": false, \"capability\": "                    \
        "\"postcopy-blocktime\"}]"
/* pause-before-switchover is set either way where QEMU offers it (off
 * here): a QEMU of an earlier migration may have it on. */
#define SET_CAPS(postcopy)                                                                     \
        "{\"capabilities\": [{\"capability\": \"events\", \"state\": true}, {\"capability\": " \
        "\"postcopy-ram\", \"state\": " postcopy "}, {\"capability\": "                        \
        "\"pause-before-switchover\", \"state\": false}]}"

/* Readiness "local" on a ready destination instance, and on one that is not
 * ready until the test creates its device. */
#define READY_DST   "'readiness': <'local'>, 'destination-instance': <'vm1-new'>"
#define WAITING_DST "'readiness': <'local'>, 'destination-instance': <'vm1-dst'>"

typedef struct {
        char *dir;
        NlcFakeQmp *fake;
        NlcManager *manager;
} Fixture;

/* vm1: the guest, device 1 created (ready: fake devices have no bridge).
 * vm1-dst: a destination instance in this daemon whose device 2 is only
 * allocated, so it is not ready until the test creates it. vm1-new: one
 * whose device 3 (same MAC) is created, so ready from the start. */
static void
set_up(Fixture *f, gconstpointer data)
{
        g_autoptr(GError) error = NULL;

        nlc_fake_backend_reset();
        f->dir = g_dir_make_tmp("nlc-migration-XXXXXX", NULL);
        nlc_fake_journal_device(f->dir, &(NlcFakeRecord){ .id = "1",
                                                          .instance = "vm1",
                                                          .state = NLC_DEVICE_STATE_CREATED });
        nlc_fake_journal_device(f->dir, &(NlcFakeRecord){ .id = "2",
                                                          .instance = "vm1-dst",
                                                          .state = NLC_DEVICE_STATE_ALLOCATED });
        nlc_fake_journal_device(f->dir, &(NlcFakeRecord){ .id = "3",
                                                          .instance = "vm1-new",
                                                          .state = NLC_DEVICE_STATE_CREATED });
        f->fake = nlc_fake_qmp_new(7, 2, 0);
        f->manager = nlc_manager_new(
                &(NlcManagerConfig){ .state_dir = f->dir, .runtime_dir = f->dir }, &error);
        g_assert_no_error(error);
}

static void
tear_down(Fixture *f, gconstpointer data)
{
        /* Every path here keeps to the phase table: no event refused. */
        g_assert_null(strstr(nlc_fake_warnings->str, "makes no sense"));
        g_clear_object(&f->manager);
        nlc_fake_qmp_free(f->fake);
        nlc_fake_remove_dir(f->dir);
}

/* The guest runs: following it activates vm1 and announces. */
static void
attach_running(Fixture *f)
{
        nlc_fake_qmp_expect(f->fake, "query-status", NULL,
                            "{\"running\": true, \"status\": \"running\"}");
        nlc_fake_qmp_expect(f->fake, "announce-self", NULL, NULL);
        g_assert_true(
                nlc_manager_attach_qemu(f->manager, "vm1", nlc_fake_qmp_get_path(f->fake), NULL));
        g_assert_true(nlc_fake_qmp_run_until_done(f->fake, 3000));
}

/* A destination QEMU (-incoming): the devices stay inactive. */
static void
attach_incoming(Fixture *f)
{
        nlc_fake_qmp_expect(f->fake, "query-status", NULL,
                            "{\"running\": false, \"status\": \"inmigrate\"}");
        g_assert_true(
                nlc_manager_attach_qemu(f->manager, "vm1", nlc_fake_qmp_get_path(f->fake), NULL));
        g_assert_true(nlc_fake_qmp_run_until_done(f->fake, 3000));
}

static void
expect_start(Fixture *f, const char *postcopy, const char *migrate_command, const char *uri_json)
{
        nlc_fake_qmp_expect(
                f->fake, "query-version", NULL,
                "{\"qemu\": {\"major\": 7, \"minor\": 2, \"micro\": 0}, \"package\": \"\"}");
        nlc_fake_qmp_expect(f->fake, "query-migrate-capabilities", NULL, CAPS_7_2);
        nlc_fake_qmp_expect(f->fake, "migrate-set-capabilities",
                            g_str_equal(postcopy, "true") ? SET_CAPS("true") : SET_CAPS("false"),
                            NULL);
        nlc_fake_qmp_expect(f->fake, migrate_command, uri_json, NULL);
}

static NlcMigration *
migrate(Fixture *f, const char *options_text)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) opts = g_variant_ref_sink(g_variant_new_parsed(options_text));
        NlcMigration *m = nlc_manager_start_migration(f->manager, "vm1", URI, opts, TRUE, &error);

        g_assert_no_error(error);
        return m;
}

static void
pass(Fixture *f, guint n, guint64 remaining)
{
        g_autofree char *data = g_strdup_printf("{\"pass\": %u}", n);
        g_autofree char *reply =
                g_strdup_printf("{\"status\": \"active\", \"ram\": {\"remaining\": "
                                "%" G_GUINT64_FORMAT "}}",
                                remaining);

        nlc_fake_qmp_event(f->fake, "MIGRATION_PASS", data);
        nlc_fake_qmp_expect(f->fake, "query-migrate", NULL, reply);
}

static const char *
phase(NlcMigration *m)
{
        return nlc_dbus_migration_get_phase(NLC_DBUS_MIGRATION(m));
}

static void
wait_phase(NlcMigration *m, const char *want)
{
        for (int i = 0; i < 3000 && g_strcmp0(phase(m), want) != 0; i++)
                g_main_context_iteration(NULL, FALSE) || (g_usleep(1000), TRUE);
        g_assert_cmpstr(phase(m), ==, want);
}

/* The timeline's event names, in order, space-separated. */
static char *
timeline(NlcMigration *m)
{
        GVariant *t = nlc_dbus_migration_get_timeline(NLC_DBUS_MIGRATION(m));
        g_autoptr(GString) s = g_string_new(NULL);

        for (gsize i = 0; i < g_variant_n_children(t); i++) {
                const char *what;
                guint64 at;

                g_variant_get_child(t, i, "(&st)", &what, &at);
                g_string_append_printf(s, "%s%s", s->len ? " " : "", what);
        }
        return g_string_free(g_steal_pointer(&s), FALSE);
}

static NlcDeviceState
journal_state(Fixture *f, const char *id)
{
        g_autoptr(NlcJournal) j = nlc_journal_open(f->dir, NULL);
        g_autoptr(GPtrArray) all = nlc_journal_load(j);

        for (guint i = 0; i < all->len; i++) {
                NlcJournalRecord *r = all->pdata[i];

                if (g_str_equal(r->id, id))
                        return r->state;
        }
        g_error("no record %s", id);
}

/* after-precopy, destination ready: the switch goes on the second pass, the
 * STOP deactivates the source device, and the downtime is QEMU's. */
static void
test_after_precopy(Fixture *f, gconstpointer data)
{
        g_autofree char *t = NULL;
        NlcMigration *m;

        attach_running(f);
        expect_start(f, "true", "migrate-set-parameters", "{\"max-bandwidth\": 16777216}");
        nlc_fake_qmp_expect(f->fake, "migrate", "{\"uri\": \"" URI "\"}", NULL);
        nlc_fake_qmp_event(f->fake, "MIGRATION", "{\"status\": \"setup\"}");
        nlc_fake_qmp_event(f->fake, "MIGRATION", "{\"status\": \"active\"}");
        pass(f, 1, 900000);
        pass(f, 2, 400000);
        nlc_fake_qmp_expect(f->fake, "migrate-start-postcopy", NULL, NULL);
        nlc_fake_qmp_event(f->fake, "STOP", NULL);
        nlc_fake_qmp_event(f->fake, "MIGRATION", "{\"status\": \"postcopy-active\"}");
        nlc_fake_qmp_event(f->fake, "MIGRATION", "{\"status\": \"completed\"}");
        nlc_fake_qmp_expect(f->fake, "query-migrate", NULL,
                            "{\"status\": \"completed\", \"downtime\": 42}");
        m = migrate(f, "{'max-bandwidth': <uint64 16777216>, " READY_DST "}");
        wait_phase(m, "completed");
        nlc_fake_qmp_assert_done(f->fake);
        t = timeline(m);
        g_assert_cmpstr(t, ==,
                        "destination-ready migrate pass-1 pass-2 policy-fired postcopy-switch "
                        "source-stop postcopy-active completed");
        g_assert_cmpuint(nlc_dbus_migration_get_downtime(NLC_DBUS_MIGRATION(m)), ==, 42);
        g_assert_cmpuint(nlc_dbus_migration_get_pass(NLC_DBUS_MIGRATION(m)), ==, 2);
        g_assert_cmpuint(nlc_dbus_migration_get_remaining_bytes(NLC_DBUS_MIGRATION(m)), ==, 400000);
        g_assert_cmpuint(journal_state(f, "1"), ==,
                         NLC_DEVICE_STATE_CREATED); /* STOP deactivated it */
}

/* The policy fires before the destination is ready: no switch until its
 * ports forward (here: its device gets created). */
static void
test_gated_on_destination(Fixture *f, gconstpointer data)
{
        NlcInstance *dst = nlc_manager_lookup_instance(f->manager, "vm1-dst");
        g_autoptr(GError) error = NULL;
        g_autofree char *t = NULL;
        NlcMigration *m;

        attach_running(f);
        expect_start(f, "true", "migrate", "{\"uri\": \"" URI "\"}");
        pass(f, 1, 900000);
        pass(f, 2, 800000);
        m = migrate(f, "{" WAITING_DST "}");
        wait_phase(m, "waiting-for-destination");
        g_assert_true(nlc_fake_qmp_run_until_done(f->fake, 2000));
        /* Pre-copy keeps going while waiting. */
        pass(f, 3, 700000);
        g_assert_true(nlc_fake_qmp_run_until_done(f->fake, 2000));
        g_assert_cmpstr(phase(m), ==, "waiting-for-destination");
        nlc_fake_qmp_expect(f->fake, "migrate-start-postcopy", NULL, NULL);
        g_assert_true(
                nlc_device_run(nlc_instance_get_devices(dst)->pdata[0], NLC_OP_CREATE, &error));
        wait_phase(m, "postcopy-requested");
        nlc_fake_qmp_assert_done(f->fake);
        t = timeline(m);
        g_assert_cmpstr(
                t, ==,
                "migrate pass-1 pass-2 policy-fired pass-3 destination-ready postcopy-switch");
}

/* The daemon dies while the migration waits for the destination: after the
 * restart the migration is back at the same path, resyncs with QEMU, and
 * still switches only when the destination gets ready. */
static void
test_restart_while_waiting(Fixture *f, gconstpointer data)
{
        g_autoptr(GError) error = NULL;
        g_autofree char *t = NULL,
                        *record = g_build_filename(f->dir, "migrations", "1.migration", NULL);
        NlcMigration *m;
        NlcInstance *dst;

        attach_running(f);
        expect_start(f, "true", "migrate", "{\"uri\": \"" URI "\"}");
        pass(f, 2, 800000);
        m = migrate(f, "{" WAITING_DST "}");
        wait_phase(m, "waiting-for-destination");
        g_assert_true(nlc_fake_qmp_run_until_done(f->fake, 2000));
        g_assert_true(g_file_test(record, G_FILE_TEST_EXISTS));

        g_clear_object(&f->manager); /* the daemon goes away */
        nlc_fake_qmp_expect(f->fake, "query-status", NULL,
                            "{\"running\": true, \"status\": \"running\"}");
        nlc_fake_qmp_expect(f->fake, "query-migrate", NULL, "{\"status\": \"active\"}");
        nlc_fake_qmp_expect(f->fake, "announce-self", NULL, NULL);
        f->manager = nlc_manager_new(
                &(NlcManagerConfig){ .state_dir = f->dir, .runtime_dir = f->dir }, &error);
        g_assert_no_error(error);
        m = nlc_manager_lookup_migration(f->manager, "1");
        g_assert_nonnull(m);
        g_assert_cmpstr(nlc_migration_get_object_path(m), ==, "/org/netlifecd1/migration/1");
        g_assert_true(nlc_fake_qmp_run_until_done(f->fake, 3000));
        g_assert_cmpstr(phase(m), ==, "waiting-for-destination");
        t = timeline(m);
        g_assert_nonnull(strstr(t, "policy-fired"));
        nlc_fake_qmp_expect(f->fake, "migrate-start-postcopy", NULL, NULL);
        dst = nlc_manager_lookup_instance(f->manager, "vm1-dst");
        g_assert_true(
                nlc_device_run(nlc_instance_get_devices(dst)->pdata[0], NLC_OP_CREATE, &error));
        wait_phase(m, "postcopy-requested");
        nlc_fake_qmp_assert_done(f->fake);
        g_assert_cmpuint(nlc_fake_qmp_get_connections(f->fake), ==, 2);
}

/* The daemon goes away and comes back on the same journal. */
static void
restart_daemon(Fixture *f)
{
        g_autoptr(GError) error = NULL;

        g_clear_object(&f->manager);
        f->manager = nlc_manager_new(
                &(NlcManagerConfig){ .state_dir = f->dir, .runtime_dir = f->dir }, &error);
        g_assert_no_error(error);
}

/* Killed while probing, before migrate reached QEMU: the restarted daemon
 * finds no migration in QEMU and runs the sequence again from the journalled
 * URI (a migration left in setup would wait forever). */
static void
test_restart_in_setup(Fixture *f, gconstpointer data)
{
        g_autofree char *t = NULL;
        NlcMigration *m;

        attach_running(f);
        nlc_fake_qmp_expect_silence(f->fake, "query-version");
        m = migrate(f, "{" WAITING_DST "}");
        g_assert_true(nlc_fake_qmp_run_until_done(f->fake, 2000));
        g_assert_cmpstr(phase(m), ==, "setup");

        nlc_fake_qmp_expect(f->fake, "query-status", NULL,
                            "{\"running\": true, \"status\": \"running\"}");
        nlc_fake_qmp_expect(f->fake, "query-migrate", NULL, "{}");
        nlc_fake_qmp_expect(f->fake, "announce-self", NULL, NULL);
        expect_start(f, "true", "migrate", "{\"uri\": \"" URI "\"}");
        restart_daemon(f);
        m = nlc_manager_lookup_migration(f->manager, "1");
        g_assert_nonnull(m);
        wait_phase(m, "precopy");
        nlc_fake_qmp_assert_done(f->fake);
        t = timeline(m);
        g_assert_cmpstr(t, ==, "setup-restarted migrate");
}

/* A destination killed after migrate-incoming, before its reply: QEMU
 * listens ("setup"), so the restarted daemon says incoming and sends
 * nothing again. */
static void
test_destination_restart_in_setup(Fixture *f, gconstpointer data)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) opts = g_variant_ref_sink(g_variant_new_parsed("@a{sv} {}"));
        NlcMigration *m;

        attach_incoming(f);
        nlc_fake_qmp_expect_silence(f->fake, "query-version");
        m = nlc_manager_start_migration(f->manager, "vm1", "tcp:0.0.0.0:4444", opts, FALSE, &error);
        g_assert_no_error(error);
        g_assert_true(nlc_fake_qmp_run_until_done(f->fake, 2000));

        nlc_fake_qmp_expect(f->fake, "query-status", NULL,
                            "{\"running\": false, \"status\": \"inmigrate\"}");
        nlc_fake_qmp_expect(f->fake, "query-migrate", NULL, "{\"status\": \"setup\"}");
        restart_daemon(f);
        m = nlc_manager_lookup_migration(f->manager, "1");
        g_assert_nonnull(m);
        wait_phase(m, "incoming");
        g_assert_true(nlc_fake_qmp_run_until_done(f->fake, 2000));
        nlc_fake_qmp_assert_done(f->fake);
}

static void
test_timeout_fails(Fixture *f, gconstpointer data)
{
        NlcMigration *m;

        attach_running(f);
        expect_start(f, "true", "migrate", "{\"uri\": \"" URI "\"}");
        nlc_fake_qmp_expect(f->fake, "migrate_cancel", NULL, NULL);
        m = migrate(f, "{" WAITING_DST ", 'postcopy': <'immediate'>, "
                       "'readiness-timeout': <uint32 150>, 'fallback': <'fail'>}");
        wait_phase(m, "failed");
        nlc_fake_qmp_assert_done(f->fake);
        g_assert_nonnull(
                strstr(nlc_dbus_migration_get_error(NLC_DBUS_MIGRATION(m)), "within 150 ms"));
}

/* continue-precopy: no switch ever, the migration ends as a pre-copy one and
 * the source kept its MAC throughout. */
static void
test_timeout_continues_precopy(Fixture *f, gconstpointer data)
{
        g_autofree char *t = NULL;
        NlcMigration *m;

        attach_running(f);
        expect_start(f, "true", "migrate", "{\"uri\": \"" URI "\"}");
        m = migrate(f, "{" WAITING_DST ", 'postcopy': <'immediate'>, "
                       "'readiness-timeout': <uint32 150>}");
        wait_phase(m, "waiting-for-destination");
        wait_phase(m, "precopy");
        pass(f, 2, 100);
        nlc_fake_qmp_event(f->fake, "MIGRATION", "{\"status\": \"completed\"}");
        nlc_fake_qmp_expect(f->fake, "query-migrate", NULL,
                            "{\"status\": \"completed\", \"downtime\": 300}");
        wait_phase(m, "completed");
        nlc_fake_qmp_assert_done(f->fake);
        t = timeline(m);
        g_assert_null(strstr(t, "postcopy-switch"));
        g_assert_nonnull(strstr(t, "readiness-timeout"));
}

static void
test_coordinated(Fixture *f, gconstpointer data)
{
        g_autoptr(GError) error = NULL;
        NlcMigration *m;

        attach_running(f);
        expect_start(f, "true", "migrate", "{\"uri\": \"" URI "\"}");
        m = migrate(f, "{'readiness': <'coordinated'>, 'postcopy': <'immediate'>}");
        wait_phase(m, "waiting-for-destination");
        nlc_fake_qmp_expect(f->fake, "migrate-start-postcopy", NULL, NULL);
        g_assert_true(nlc_migration_destination_ready(m, &error));
        g_assert_no_error(error);
        wait_phase(m, "postcopy-requested");
        nlc_fake_qmp_assert_done(f->fake);
}

static void
test_on_stall(Fixture *f, gconstpointer data)
{
        NlcMigration *m;

        attach_running(f);
        expect_start(f, "true", "migrate", "{\"uri\": \"" URI "\"}");
        pass(f, 1, 5000);
        pass(f, 2, 4000); /* still shrinking */
        pass(f, 3, 4000); /* stalled once */
        pass(f, 4, 4100); /* stalled twice: switch */
        nlc_fake_qmp_expect(f->fake, "migrate-start-postcopy", NULL, NULL);
        m = migrate(f, "{'postcopy': <'on-stall'>, 'stall-passes': <uint32 2>, " READY_DST "}");
        wait_phase(m, "postcopy-requested");
        nlc_fake_qmp_assert_done(f->fake);
        g_assert_cmpuint(nlc_dbus_migration_get_pass(NLC_DBUS_MIGRATION(m)), ==, 4);
}

static void
test_never_and_manual(Fixture *f, gconstpointer data)
{
        g_autoptr(GError) error = NULL;
        NlcMigration *m;

        attach_running(f);
        expect_start(f, "false", "migrate", "{\"uri\": \"" URI "\"}");
        pass(f, 2, 100);
        pass(f, 3, 100);
        m = migrate(f, "{'postcopy': <'never'>}");
        g_assert_true(nlc_fake_qmp_run_until_done(f->fake, 3000));
        wait_phase(m, "precopy");
        g_assert_false(nlc_migration_start_postcopy(m, &error));
        g_assert_error(error, NLC_ERROR, NLC_ERROR_INVALID_STATE);
}

static void
test_cancel(Fixture *f, gconstpointer data)
{
        g_autoptr(GError) e1 = NULL, e2 = NULL;
        NlcMigration *m;

        attach_running(f);
        expect_start(f, "true", "migrate", "{\"uri\": \"" URI "\"}");
        m = migrate(f, "{'postcopy': <'never'>}");
        g_assert_true(nlc_fake_qmp_run_until_done(f->fake, 3000));
        wait_phase(m, "precopy");
        nlc_fake_qmp_expect(f->fake, "migrate_cancel", NULL, NULL);
        nlc_fake_qmp_event(f->fake, "MIGRATION", "{\"status\": \"cancelled\"}");
        g_assert_true(nlc_migration_cancel(m, &e1));
        wait_phase(m, "cancelled");
        g_assert_false(nlc_migration_cancel(m, &e2));
        g_assert_error(e2, NLC_ERROR, NLC_ERROR_INVALID_STATE);
        g_assert_cmpuint(journal_state(f, "1"), ==, NLC_DEVICE_STATE_ACTIVE); /* kept its MAC */
}

/* After the switch the guest may run on the destination: no way back. */
static void
test_no_cancel_after_switch(Fixture *f, gconstpointer data)
{
        g_autoptr(GError) error = NULL;
        NlcMigration *m;

        attach_running(f);
        expect_start(f, "true", "migrate", "{\"uri\": \"" URI "\"}");
        nlc_fake_qmp_expect(f->fake, "migrate-start-postcopy", NULL, NULL);
        m = migrate(f, "{'postcopy': <'immediate'>, " READY_DST "}");
        wait_phase(m, "postcopy-requested");
        g_assert_false(nlc_migration_cancel(m, &error));
        g_assert_error(error, NLC_ERROR, NLC_ERROR_INVALID_STATE);
        nlc_fake_qmp_assert_done(f->fake);
}

/* QEMU's reply to migrate-start-postcopy after its postcopy-active event
 * (a switch sent again after a restart): the phase does not go back. */
static void
test_late_switch_reply(Fixture *f, gconstpointer data)
{
        g_autoptr(GString) replies = g_string_new(NULL);
        NlcMigration *m;

        attach_running(f);
        expect_start(f, "true", "migrate", "{\"uri\": \"" URI "\"}");
        nlc_fake_qmp_expect_silence(f->fake, "migrate-start-postcopy");
        nlc_fake_qmp_event(f->fake, "MIGRATION", "{\"status\": \"postcopy-active\"}");
        /* Its id is whichever is pending; the others are ignored. */
        for (guint id = 1; id < 64; id++)
                g_string_append_printf(replies, "{\"return\": {}, \"id\": %u}\r\n", id);
        nlc_fake_qmp_raw(f->fake, replies->str);
        m = migrate(f, "{'postcopy': <'immediate'>, " READY_DST "}");
        g_assert_true(nlc_fake_qmp_run_until_done(f->fake, 3000));
        for (int i = 0; i < 100; i++)
                g_main_context_iteration(NULL, FALSE) || (g_usleep(1000), TRUE);
        g_assert_cmpstr(phase(m), ==, "postcopy");
        nlc_fake_qmp_assert_done(f->fake);
}

/* Restarted after QEMU took the switch but before it left pre-copy: QEMU
 * switches whatever the gate says, so the migration stays
 * postcopy-requested (not back to waiting, not sent again) and Cancel
 * stays refused. */
static void
test_restart_after_switch_accepted(Fixture *f, gconstpointer data)
{
        g_autoptr(GError) error = NULL;
        NlcMigration *m;

        attach_running(f);
        expect_start(f, "true", "migrate", "{\"uri\": \"" URI "\"}");
        m = migrate(f, "{'readiness': <'coordinated'>, 'postcopy': <'immediate'>}");
        wait_phase(m, "waiting-for-destination");
        nlc_fake_qmp_expect(f->fake, "migrate-start-postcopy", NULL, NULL);
        g_assert_true(nlc_migration_destination_ready(m, &error));
        wait_phase(m, "postcopy-requested");
        nlc_fake_qmp_assert_done(f->fake);

        nlc_fake_qmp_expect(f->fake, "query-status", NULL,
                            "{\"running\": true, \"status\": \"running\"}");
        nlc_fake_qmp_expect(f->fake, "query-migrate", NULL, "{\"status\": \"active\"}");
        nlc_fake_qmp_expect(f->fake, "announce-self", NULL, NULL);
        restart_daemon(f);
        m = nlc_manager_lookup_migration(f->manager, "1");
        g_assert_nonnull(m);
        g_assert_true(nlc_fake_qmp_run_until_done(f->fake, 3000));
        for (int i = 0; i < 100; i++)
                g_main_context_iteration(NULL, FALSE) || (g_usleep(1000), TRUE);
        g_assert_cmpstr(phase(m), ==, "postcopy-requested");
        g_assert_false(nlc_migration_cancel(m, &error));
        g_assert_error(error, NLC_ERROR, NLC_ERROR_INVALID_STATE);
        nlc_fake_qmp_assert_done(f->fake);
}

/* DestinationReady() said before a restart still holds after it: the
 * coordinator will not say it again. */
static void
test_restart_keeps_coordinated_ready(Fixture *f, gconstpointer data)
{
        g_autoptr(GError) error = NULL;
        NlcMigration *m;

        attach_running(f);
        expect_start(f, "true", "migrate", "{\"uri\": \"" URI "\"}");
        m = migrate(f, "{'readiness': <'coordinated'>}");
        wait_phase(m, "precopy");
        g_assert_true(nlc_migration_destination_ready(m, &error));
        nlc_fake_qmp_assert_done(f->fake);

        nlc_fake_qmp_expect(f->fake, "query-status", NULL,
                            "{\"running\": true, \"status\": \"running\"}");
        nlc_fake_qmp_expect(f->fake, "query-migrate", NULL, "{\"status\": \"active\"}");
        nlc_fake_qmp_expect(f->fake, "announce-self", NULL, NULL);
        restart_daemon(f);
        m = nlc_manager_lookup_migration(f->manager, "1");
        g_assert_true(nlc_fake_qmp_run_until_done(f->fake, 3000));
        g_assert_true(nlc_dbus_migration_get_destination_ready(NLC_DBUS_MIGRATION(m)));
        pass(f, 2, 100); /* the policy fires: the switch goes at once */
        nlc_fake_qmp_expect(f->fake, "migrate-start-postcopy", NULL, NULL);
        wait_phase(m, "postcopy-requested");
        nlc_fake_qmp_assert_done(f->fake);
}

/* The destination side: capabilities, migrate-incoming, then the guest
 * starts here (RESUME: the daemon activates and announces). */
static void
test_destination(Fixture *f, gconstpointer data)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) opts = g_variant_ref_sink(g_variant_new_parsed("@a{sv} {}"));
        g_autofree char *t = NULL;
        NlcMigration *m;

        attach_incoming(f);
        expect_start(f, "true", "migrate-incoming", "{\"uri\": \"tcp:0.0.0.0:4444\"}");
        nlc_fake_qmp_event(f->fake, "MIGRATION", "{\"status\": \"active\"}");
        nlc_fake_qmp_event(f->fake, "MIGRATION", "{\"status\": \"postcopy-active\"}");
        nlc_fake_qmp_event(f->fake, "RESUME", NULL);
        nlc_fake_qmp_expect(f->fake, "announce-self", NULL, NULL);
        nlc_fake_qmp_event(f->fake, "MIGRATION", "{\"status\": \"completed\"}");
        m = nlc_manager_start_migration(f->manager, "vm1", "tcp:0.0.0.0:4444", opts, FALSE, &error);
        g_assert_no_error(error);
        wait_phase(m, "completed");
        nlc_fake_qmp_assert_done(f->fake);
        t = timeline(m);
        g_assert_cmpstr(t, ==,
                        "destination-ready incoming postcopy-active destination-resume completed");
        g_assert_cmpuint(journal_state(f, "1"), ==, NLC_DEVICE_STATE_ACTIVE);
}

/* Cancel() on the destination side tells its QEMU directly (it has no
 * gate of its own). */
static void
test_destination_cancel(Fixture *f, gconstpointer data)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) opts = g_variant_ref_sink(g_variant_new_parsed("@a{sv} {}"));
        NlcMigration *m;

        attach_incoming(f);
        expect_start(f, "true", "migrate-incoming", "{\"uri\": \"tcp:0.0.0.0:4444\"}");
        m = nlc_manager_start_migration(f->manager, "vm1", "tcp:0.0.0.0:4444", opts, FALSE, &error);
        g_assert_no_error(error);
        wait_phase(m, "incoming");
        nlc_fake_qmp_expect(f->fake, "migrate_cancel", NULL, NULL);
        g_assert_true(nlc_migration_cancel(m, &error));
        g_assert_no_error(error);
        nlc_fake_qmp_assert_done(f->fake);
}

static void
test_refusals(Fixture *f, gconstpointer data)
{
        g_autoptr(GVariant) empty = g_variant_ref_sink(g_variant_new_parsed("@a{sv} {}"));
        g_autoptr(GVariant) bad =
                g_variant_ref_sink(g_variant_new_parsed("{'postcopy': <'sometimes'>}"));
        g_autoptr(GVariant) typo =
                g_variant_ref_sink(g_variant_new_parsed("{'max-bandwith': <uint64 1>}"));
        g_autoptr(GVariant) nobus =
                g_variant_ref_sink(g_variant_new_parsed("{'readiness': <'destination-bus'>}"));
        g_autoptr(GVariant) ready = g_variant_ref_sink(g_variant_new_parsed("{" READY_DST "}"));
        g_autoptr(GError) e1 = NULL, e2 = NULL, e3 = NULL, e4 = NULL, e5 = NULL, e6 = NULL;

        /* Not attached yet. */
        g_assert_null(nlc_manager_start_migration(f->manager, "vm1", URI, empty, TRUE, &e1));
        g_assert_error(e1, NLC_ERROR, NLC_ERROR_INVALID_STATE);
        attach_running(f);
        g_assert_null(nlc_manager_start_migration(f->manager, "vm1", URI, bad, TRUE, &e2));
        g_assert_error(e2, NLC_ERROR, NLC_ERROR_INVALID_ARGS);
        g_assert_null(nlc_manager_start_migration(f->manager, "vm1", URI, typo, TRUE, &e3));
        g_assert_error(e3, NLC_ERROR, NLC_ERROR_INVALID_ARGS);
        g_assert_nonnull(strstr(e3->message, "'max-bandwith'"));
        g_assert_null(nlc_manager_start_migration(f->manager, "vm1", URI, nobus, TRUE, &e4));
        g_assert_error(e4, NLC_ERROR, NLC_ERROR_INVALID_ARGS);
        g_assert_null(nlc_manager_start_migration(f->manager, "nobody", URI, empty, TRUE, &e5));
        g_assert_error(e5, NLC_ERROR, NLC_ERROR_NOT_FOUND);
        /* One migration at a time per instance. */
        expect_start(f, "true", "migrate", "{\"uri\": \"" URI "\"}");
        g_assert_nonnull(nlc_manager_start_migration(f->manager, "vm1", URI, ready, TRUE, NULL));
        g_assert_null(nlc_manager_start_migration(f->manager, "vm1", URI, ready, TRUE, &e6));
        g_assert_error(e6, NLC_ERROR, NLC_ERROR_BUSY);
}

static void
test_context(Fixture *f, gconstpointer data)
{
        g_autoptr(GVariant) both = g_variant_ref_sink(
                g_variant_new_parsed("{'context': <'evacuate'>, 'postcopy': <'never'>}"));
        g_autoptr(GVariant) odd =
                g_variant_ref_sink(g_variant_new_parsed("{'context': <'panic'>}"));
        g_autoptr(GError) e1 = NULL, e2 = NULL;
        NlcMigration *m;

        attach_running(f);
        g_assert_null(nlc_manager_start_migration(f->manager, "vm1", URI, both, TRUE, &e1));
        g_assert_error(e1, NLC_ERROR, NLC_ERROR_INVALID_ARGS);
        g_assert_null(nlc_manager_start_migration(f->manager, "vm1", URI, odd, TRUE, &e2));
        g_assert_error(e2, NLC_ERROR, NLC_ERROR_INVALID_ARGS);
        expect_start(f, "true", "migrate", "{\"uri\": \"" URI "\"}");
        m = migrate(f, "{'context': <'balance'>, " READY_DST "}");
        g_assert_cmpstr(nlc_dbus_migration_get_policy(NLC_DBUS_MIGRATION(m)), ==, "on-stall");
        nlc_fake_qmp_assert_done(f->fake);
}

static void
test_context_evacuate(Fixture *f, gconstpointer data)
{
        NlcMigration *m;

        attach_running(f);
        expect_start(f, "true", "migrate", "{\"uri\": \"" URI "\"}");
        m = migrate(f, "{'context': <'evacuate'>, " READY_DST "}");
        g_assert_cmpstr(nlc_dbus_migration_get_policy(NLC_DBUS_MIGRATION(m)), ==, "after-precopy");
        nlc_fake_qmp_assert_done(f->fake);
}

/* The hypervisor driver opts an instance out of post-copy: refused with a
 * clear error, allowed with 'never', and remembered across a restart. */
static void
test_allow_postcopy(Fixture *f, gconstpointer data)
{
        g_autoptr(GVariant) def = g_variant_ref_sink(g_variant_new_parsed("{" READY_DST "}"));
        g_autoptr(GError) e1 = NULL, error = NULL;
        NlcInstance *inst = nlc_manager_lookup_instance(f->manager, "vm1");

        g_assert_true(nlc_dbus_instance_get_allow_postcopy(NLC_DBUS_INSTANCE(inst)));
        nlc_dbus_instance_set_allow_postcopy(NLC_DBUS_INSTANCE(inst), FALSE);
        g_clear_object(&f->manager);
        f->manager = nlc_manager_new(
                &(NlcManagerConfig){ .state_dir = f->dir, .runtime_dir = f->dir }, &error);
        g_assert_no_error(error);
        inst = nlc_manager_lookup_instance(f->manager, "vm1");
        g_assert_false(nlc_dbus_instance_get_allow_postcopy(NLC_DBUS_INSTANCE(inst)));
        attach_running(f);
        g_assert_null(nlc_manager_start_migration(f->manager, "vm1", URI, def, TRUE, &e1));
        g_assert_error(e1, NLC_ERROR, NLC_ERROR_INVALID_STATE);
        g_assert_nonnull(strstr(e1->message, "AllowPostcopy"));
        expect_start(f, "false", "migrate", "{\"uri\": \"" URI "\"}");
        migrate(f, "{'postcopy': <'never'>}");
        nlc_fake_qmp_assert_done(f->fake);
}

/* release-source: once completed, the source's own device is destroyed and
 * freed; the destination instance's is left alone. */
static void
test_release_source(Fixture *f, gconstpointer data)
{
        g_autoptr(NlcJournal) j = NULL;
        g_autoptr(GPtrArray) left = NULL;
        NlcMigration *m;

        attach_running(f);
        expect_start(f, "true", "migrate", "{\"uri\": \"" URI "\"}");
        nlc_fake_qmp_expect(f->fake, "migrate-start-postcopy", NULL, NULL);
        nlc_fake_qmp_event(f->fake, "STOP", NULL);
        nlc_fake_qmp_event(f->fake, "MIGRATION", "{\"status\": \"postcopy-active\"}");
        nlc_fake_qmp_event(f->fake, "MIGRATION", "{\"status\": \"completed\"}");
        nlc_fake_qmp_expect(f->fake, "query-migrate", NULL,
                            "{\"status\": \"completed\", \"downtime\": 7}");
        m = migrate(f, "{'postcopy': <'immediate'>, 'release-source': <true>, " READY_DST "}");
        wait_phase(m, "completed");
        nlc_fake_qmp_assert_done(f->fake);
        g_assert_nonnull(strstr(nlc_fake_backend_calls->str, "destroy(1) free(1)"));
        g_assert_null(strstr(nlc_fake_backend_calls->str, "destroy(2)"));
        g_assert_null(strstr(nlc_fake_backend_calls->str, "free(2)"));
        g_assert_null(strstr(nlc_fake_backend_calls->str, "destroy(3)"));
        j = nlc_journal_open(f->dir, NULL);
        left = nlc_journal_load(j);
        g_assert_cmpuint(left->len, ==, 2);
        g_assert_cmpstr(((NlcJournalRecord *) left->pdata[0])->id, ==, "2");
        g_assert_cmpstr(((NlcJournalRecord *) left->pdata[1])->id, ==, "3");
        g_assert_null(nlc_manager_lookup_instance(f->manager, "vm1"));
}

/* The host configuration's switch: no post-copy on this host at all. */
static void
test_host_forbids_postcopy(Fixture *f, gconstpointer data)
{
        g_autoptr(GVariant) def = g_variant_ref_sink(g_variant_new_parsed("{" READY_DST "}"));
        g_autoptr(GError) e1 = NULL, error = NULL;
        NlcConfig host;

        nlc_config_init_defaults(&host);
        host.postcopy_allowed = FALSE;
        g_clear_object(&f->manager);
        f->manager = nlc_manager_new(
                &(NlcManagerConfig){ .host = &host, .state_dir = f->dir, .runtime_dir = f->dir },
                &error);
        g_assert_no_error(error);
        attach_running(f);
        g_assert_null(nlc_manager_start_migration(f->manager, "vm1", URI, def, TRUE, &e1));
        g_assert_error(e1, NLC_ERROR, NLC_ERROR_INVALID_STATE);
        g_assert_nonnull(strstr(e1->message, "allowed=false"));
        expect_start(f, "false", "migrate", "{\"uri\": \"" URI "\"}");
        migrate(f, "{'postcopy': <'never'>}");
        nlc_fake_qmp_assert_done(f->fake);
}

/* QEMU 10 offers postcopy-preempt: the fault channel is turned on. */
/* QEMU 10's version, and capabilities that include postcopy-preempt
 * (@preempt: its current state, "true" or "false"). */
static void
expect_probe_10(Fixture *f, const char *preempt)
{
        g_autofree char *caps = g_strdup_printf(
                "[{\"state\": false, \"capability\": \"events\"}, {\"state\": false, "
                "\"capability\": \"postcopy-ram\"}, {\"state\": %s, \"capability\": "
                "\"postcopy-preempt\"}]",
                preempt);

        nlc_fake_qmp_expect(
                f->fake, "query-version", NULL,
                "{\"qemu\": {\"major\": 10, \"minor\": 0, \"micro\": 0}, \"package\": \"\"}");
        nlc_fake_qmp_expect(f->fake, "query-migrate-capabilities", NULL, caps);
}

static void
test_preempt_when_offered(Fixture *f, gconstpointer data)
{
        g_autofree char *t = NULL;
        NlcMigration *m;

        attach_running(f);
        expect_probe_10(f, "false");
        nlc_fake_qmp_expect(f->fake, "migrate-set-capabilities",
                            "{\"capabilities\": [{\"capability\": \"events\", \"state\": true}, "
                            "{\"capability\": \"postcopy-ram\", \"state\": true}, {\"capability\": "
                            "\"postcopy-preempt\", \"state\": true}]}",
                            NULL);
        nlc_fake_qmp_expect(f->fake, "migrate", "{\"uri\": \"" URI "\"}", NULL);
        m = migrate(f, "{" READY_DST "}");
        wait_phase(m, "precopy");
        nlc_fake_qmp_assert_done(f->fake);
        t = timeline(m);
        g_assert_nonnull(strstr(t, "preempt-enabled"));
}

/* Without post-copy, preempt is switched off where QEMU offers it: a QEMU
 * that was an earlier migration's destination may still have it on, and
 * QEMU refuses preempt without postcopy-ram (found migrating a guest a
 * second time, tests/lldpad nlc-daemon-migrate). */
static void
test_preempt_off_without_postcopy(Fixture *f, gconstpointer data)
{
        NlcMigration *m;

        attach_running(f);
        expect_probe_10(f, "true");
        nlc_fake_qmp_expect(
                f->fake, "migrate-set-capabilities",
                "{\"capabilities\": [{\"capability\": \"events\", \"state\": true}, "
                "{\"capability\": \"postcopy-ram\", \"state\": false}, {\"capability\": "
                "\"postcopy-preempt\", \"state\": false}]}",
                NULL);
        nlc_fake_qmp_expect(f->fake, "migrate", "{\"uri\": \"" URI "\"}", NULL);
        m = migrate(f, "{'postcopy': <'never'>}");
        wait_phase(m, "precopy");
        nlc_fake_qmp_assert_done(f->fake);
}

/* A pre-copy migration with pause-before-switchover, up to migrate. */
static void
expect_start_paused(Fixture *f)
{
        nlc_fake_qmp_expect(
                f->fake, "query-version", NULL,
                "{\"qemu\": {\"major\": 7, \"minor\": 2, \"micro\": 0}, \"package\": \"\"}");
        nlc_fake_qmp_expect(f->fake, "query-migrate-capabilities", NULL, CAPS_7_2);
        nlc_fake_qmp_expect(
                f->fake, "migrate-set-capabilities",
                "{\"capabilities\": [{\"capability\": \"events\", \"state\": true}, "
                "{\"capability\": \"postcopy-ram\", \"state\": false}, {\"capability\": "
                "\"pause-before-switchover\", \"state\": true}]}",
                NULL);
        nlc_fake_qmp_expect(f->fake, "migrate", "{\"uri\": \"" URI "\"}", NULL);
}

/* The hard gate: QEMU pauses before the switchover and goes on only once
 * the destination is ready. */
static void
test_pause_before_switchover(Fixture *f, gconstpointer data)
{
        g_autoptr(GError) error = NULL;
        g_autofree char *t = NULL;
        NlcInstance *dst = nlc_manager_lookup_instance(f->manager, "vm1-dst");
        NlcMigration *m;

        attach_running(f);
        expect_start_paused(f);
        nlc_fake_qmp_event(f->fake, "MIGRATION", "{\"status\": \"pre-switchover\"}");
        m = migrate(f,
                    "{'postcopy': <'never'>, 'pause-before-switchover': <true>, " WAITING_DST "}");
        g_assert_true(nlc_fake_qmp_run_until_done(f->fake, 3000));
        for (int i = 0; i < 200; i++)
                g_main_context_iteration(NULL, FALSE) || (g_usleep(1000), TRUE);
        t = timeline(m);
        g_assert_null(strstr(t, "switchover-continue")); /* held while not ready */
        nlc_fake_qmp_expect(f->fake, "migrate-continue", "{\"state\": \"pre-switchover\"}", NULL);
        g_assert_true(
                nlc_device_run(nlc_instance_get_devices(dst)->pdata[0], NLC_OP_CREATE, &error));
        nlc_fake_qmp_assert_done(f->fake);
        g_clear_pointer(&t, g_free);
        t = timeline(m);
        g_assert_nonnull(strstr(t, "pre-switchover destination-ready switchover-continue"));
}

/* A QEMU without post-copy: a clear failure, nothing sent after the probe. */
static void
test_qemu_without_postcopy(Fixture *f, gconstpointer data)
{
        NlcMigration *m;

        attach_running(f);
        nlc_fake_qmp_expect(
                f->fake, "query-version", NULL,
                "{\"qemu\": {\"major\": 7, \"minor\": 2, \"micro\": 0}, \"package\": \"\"}");
        nlc_fake_qmp_expect(f->fake, "query-migrate-capabilities", NULL,
                            "[{\"state\": false, \"capability\": \"events\"}]");
        m = migrate(f, "{" READY_DST "}");
        wait_phase(m, "failed");
        nlc_fake_qmp_assert_done(f->fake);
        g_assert_nonnull(
                strstr(nlc_dbus_migration_get_error(NLC_DBUS_MIGRATION(m)), "postcopy-ram"));
}

/* No default fails open: a Migrate that gives no way to learn the
 * destination's readiness is refused, saying which option is missing; so is
 * "local" without another instance. Nothing reaches QEMU. */
static void
test_no_readiness_refused(Fixture *f, gconstpointer data)
{
        static const struct {
                const char *options, *says;
        } refused[] = {
                { "@a{sv} {}", "needs option 'readiness'" },
                { "{'postcopy': <'immediate'>}", "needs option 'readiness'" },
                { "{'destination-instance': <'vm1-new'>}", "needs option 'readiness'" },
                { "{'postcopy': <'never'>, 'pause-before-switchover': <true>}",
                  "needs option 'readiness'" },
                { "{'readiness': <'local'>}", "needs option 'destination-instance'" },
                { "{'readiness': <'local'>, 'destination-instance': <'vm1'>}",
                  "the migrating instance itself" },
        };
        NlcMigration *m;

        attach_running(f);
        for (guint i = 0; i < G_N_ELEMENTS(refused); i++) {
                g_autoptr(GVariant) opts =
                        g_variant_ref_sink(g_variant_new_parsed(refused[i].options));
                g_autoptr(GError) error = NULL;

                g_assert_null(
                        nlc_manager_start_migration(f->manager, "vm1", URI, opts, TRUE, &error));
                g_assert_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS);
                g_assert_nonnull(strstr(error->message, refused[i].says));
        }
        g_assert_null(nlc_manager_lookup_migration(f->manager, "1"));
        /* Pre-copy only, no pause: nothing is gated, nothing to learn. */
        expect_start(f, "false", "migrate", "{\"uri\": \"" URI "\"}");
        m = migrate(f, "{'postcopy': <'never'>}");
        g_assert_cmpstr(nlc_dbus_migration_get_readiness(NLC_DBUS_MIGRATION(m)), ==, "");
        g_assert_false(nlc_dbus_migration_get_destination_ready(NLC_DBUS_MIGRATION(m)));
        nlc_fake_qmp_assert_done(f->fake);
}

/* The host configuration may name the default ([migration] readiness). */
static void
test_host_default_readiness(Fixture *f, gconstpointer data)
{
        g_autoptr(GError) error = NULL;
        NlcConfig host;
        NlcMigration *m;

        nlc_config_init_defaults(&host);
        host.has_readiness = TRUE;
        host.readiness = NLC_READINESS_COORDINATED;
        g_clear_object(&f->manager);
        f->manager = nlc_manager_new(
                &(NlcManagerConfig){ .host = &host, .state_dir = f->dir, .runtime_dir = f->dir },
                &error);
        g_assert_no_error(error);
        attach_running(f);
        expect_start(f, "true", "migrate", "{\"uri\": \"" URI "\"}");
        m = migrate(f, "{'postcopy': <'immediate'>}");
        g_assert_cmpstr(nlc_dbus_migration_get_readiness(NLC_DBUS_MIGRATION(m)), ==, "coordinated");
        wait_phase(m, "waiting-for-destination");
        nlc_fake_qmp_expect(f->fake, "migrate-start-postcopy", NULL, NULL);
        g_assert_true(nlc_migration_destination_ready(m, &error));
        wait_phase(m, "postcopy-requested");
        nlc_fake_qmp_assert_done(f->fake);
}

/* Every NIC counts: the guest has two, the destination instance holds a
 * ready device for one only (its own Ready is TRUE: it knows no other).
 * The switch waits. */
static void
test_every_nic_counts(Fixture *f, gconstpointer data)
{
        g_autoptr(GError) error = NULL;
        NlcInstance *dst;
        NlcMigration *m;

        g_clear_object(&f->manager);
        nlc_fake_journal_device(f->dir, &(NlcFakeRecord){ .id = "4",
                                                          .instance = "vm1",
                                                          .mac = "52:54:00:00:00:02",
                                                          .state = NLC_DEVICE_STATE_CREATED });
        f->manager = nlc_manager_new(
                &(NlcManagerConfig){ .state_dir = f->dir, .runtime_dir = f->dir }, &error);
        g_assert_no_error(error);
        dst = nlc_manager_lookup_instance(f->manager, "vm1-new");
        g_assert_true(nlc_instance_get_ready(dst));
        attach_running(f);
        expect_start(f, "true", "migrate", "{\"uri\": \"" URI "\"}");
        m = migrate(f, "{'postcopy': <'immediate'>, 'readiness-timeout': <uint32 300>, "
                       "'fallback': <'fail'>, " READY_DST "}");
        wait_phase(m, "waiting-for-destination");
        g_assert_false(nlc_dbus_migration_get_destination_ready(NLC_DBUS_MIGRATION(m)));
        nlc_fake_qmp_expect(f->fake, "migrate_cancel", NULL, NULL);
        wait_phase(m, "failed");
        nlc_fake_qmp_assert_done(f->fake);
}

/* A destination that turns un-ready before the switch holds the gate
 * again: ready at Migrate, its device destroyed before the policy fires. */
static void
test_destination_turns_unready(Fixture *f, gconstpointer data)
{
        NlcInstance *dst = nlc_manager_lookup_instance(f->manager, "vm1-new");
        g_autoptr(GError) error = NULL;
        g_autofree char *t = NULL;
        NlcMigration *m;

        attach_running(f);
        expect_start(f, "true", "migrate", "{\"uri\": \"" URI "\"}");
        pass(f, 1, 900000);
        m = migrate(f, "{" READY_DST "}");
        g_assert_true(nlc_fake_qmp_run_until_done(f->fake, 2000));
        g_assert_true(nlc_dbus_migration_get_destination_ready(NLC_DBUS_MIGRATION(m)));
        g_assert_true(
                nlc_device_run(nlc_instance_get_devices(dst)->pdata[0], NLC_OP_DESTROY, &error));
        g_assert_no_error(error);
        g_assert_false(nlc_dbus_migration_get_destination_ready(NLC_DBUS_MIGRATION(m)));
        pass(f, 2, 800000); /* the policy fires: held */
        wait_phase(m, "waiting-for-destination");
        g_assert_true(nlc_fake_qmp_run_until_done(f->fake, 2000));
        nlc_fake_qmp_assert_done(f->fake);
        t = timeline(m);
        g_assert_cmpstr(t, ==,
                        "destination-ready migrate pass-1 destination-not-ready pass-2 "
                        "policy-fired");
}

static void
wait_journal_state(Fixture *f, const char *id, NlcDeviceState want)
{
        for (int i = 0; i < 3000 && journal_state(f, id) != want; i++)
                g_main_context_iteration(NULL, FALSE) || (g_usleep(1000), TRUE);
        g_assert_cmpuint(journal_state(f, id), ==, want);
}

/* QEMU paused at pre-switchover (guest stopped, devices deactivated), the
 * destination never ready: the script up to migrate_cancel, then QEMU's
 * cancel and the guest resumed on the source (RESUME: the daemon activates
 * and announces). */
static NlcMigration *
pause_until_given_up(Fixture *f, const char *options_text, gboolean cancel_call)
{
        g_autoptr(GError) error = NULL;
        NlcMigration *m;

        attach_running(f);
        expect_start_paused(f);
        nlc_fake_qmp_event(f->fake, "STOP", NULL);
        nlc_fake_qmp_event(f->fake, "MIGRATION", "{\"status\": \"pre-switchover\"}");
        m = migrate(f, options_text);
        g_assert_true(nlc_fake_qmp_run_until_done(f->fake, 3000));
        wait_journal_state(f, "1", NLC_DEVICE_STATE_CREATED); /* stopped */
        nlc_fake_qmp_expect(f->fake, "migrate_cancel", NULL, NULL);
        nlc_fake_qmp_event(f->fake, "MIGRATION", "{\"status\": \"cancelling\"}");
        nlc_fake_qmp_event(f->fake, "MIGRATION", "{\"status\": \"cancelled\"}");
        nlc_fake_qmp_event(f->fake, "RESUME", NULL);
        nlc_fake_qmp_expect(f->fake, "announce-self", NULL, NULL);
        if (cancel_call) {
                g_assert_true(nlc_migration_cancel(m, &error));
                g_assert_no_error(error);
        }
        g_assert_true(nlc_fake_qmp_run_until_done(f->fake, 3000));
        nlc_fake_qmp_assert_done(f->fake);
        /* The guest runs on the source again, its MAC back on its port. */
        wait_journal_state(f, "1", NLC_DEVICE_STATE_ACTIVE);
        return m;
}

/* The pre-switchover hold is bounded: fallback "fail" cancels, the guest
 * resumes on the source. */
static void
test_pause_timeout_fails(Fixture *f, gconstpointer data)
{
        NlcMigration *m = pause_until_given_up(
                f,
                "{'postcopy': <'never'>, 'pause-before-switchover': <true>, "
                "'readiness-timeout': <uint32 150>, 'fallback': <'fail'>, " WAITING_DST "}",
                FALSE);

        g_assert_cmpstr(phase(m), ==, "failed");
        g_assert_nonnull(strstr(nlc_dbus_migration_get_error(NLC_DBUS_MIGRATION(m)),
                                "not ready within 150 ms at the switchover"));
}

/* "continue-precopy" cannot go on past the switchover: cancelled too,
 * never leaving the guest paused with its devices deactivated. */
static void
test_pause_timeout_continue_precopy(Fixture *f, gconstpointer data)
{
        g_autofree char *t = NULL;
        NlcMigration *m =
                pause_until_given_up(f,
                                     "{'postcopy': <'never'>, 'pause-before-switchover': <true>, "
                                     "'readiness-timeout': <uint32 150>, " WAITING_DST "}",
                                     FALSE);

        wait_phase(m, "cancelled");
        g_assert_nonnull(strstr(nlc_dbus_migration_get_error(NLC_DBUS_MIGRATION(m)),
                                "pre-copy cannot go on past it"));
        t = timeline(m);
        g_assert_cmpstr(t, ==, "migrate source-stop pre-switchover readiness-timeout cancelled");
}

/* Cancel() works while QEMU holds the guest at pre-switchover. */
static void
test_cancel_at_pre_switchover(Fixture *f, gconstpointer data)
{
        NlcMigration *m = pause_until_given_up(
                f, "{'postcopy': <'never'>, 'pause-before-switchover': <true>, " WAITING_DST "}",
                TRUE);

        wait_phase(m, "cancelled");
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        nlc_fake_backend_init();
#define ADD(path, fn) g_test_add(path, Fixture, NULL, set_up, fn, tear_down)
        ADD("/migration/after-precopy", test_after_precopy);
        ADD("/migration/gated-on-destination", test_gated_on_destination);
        ADD("/migration/restart-while-waiting", test_restart_while_waiting);
        ADD("/migration/restart-in-setup", test_restart_in_setup);
        ADD("/migration/destination-restart-in-setup", test_destination_restart_in_setup);
        ADD("/migration/timeout-fails", test_timeout_fails);
        ADD("/migration/timeout-continues-precopy", test_timeout_continues_precopy);
        ADD("/migration/coordinated", test_coordinated);
        ADD("/migration/on-stall", test_on_stall);
        ADD("/migration/never-and-manual", test_never_and_manual);
        ADD("/migration/cancel", test_cancel);
        ADD("/migration/no-cancel-after-switch", test_no_cancel_after_switch);
        ADD("/migration/late-switch-reply", test_late_switch_reply);
        ADD("/migration/restart-after-switch-accepted", test_restart_after_switch_accepted);
        ADD("/migration/restart-keeps-coordinated-ready", test_restart_keeps_coordinated_ready);
        ADD("/migration/destination", test_destination);
        ADD("/migration/refusals", test_refusals);
        ADD("/migration/destination-cancel", test_destination_cancel);
        ADD("/migration/qemu-without-postcopy", test_qemu_without_postcopy);
        ADD("/migration/context", test_context);
        ADD("/migration/context-evacuate", test_context_evacuate);
        ADD("/migration/allow-postcopy", test_allow_postcopy);
        ADD("/migration/preempt-when-offered", test_preempt_when_offered);
        ADD("/migration/preempt-off-without-postcopy", test_preempt_off_without_postcopy);
        ADD("/migration/release-source", test_release_source);
        ADD("/migration/host-forbids-postcopy", test_host_forbids_postcopy);
        ADD("/migration/pause-before-switchover", test_pause_before_switchover);
        ADD("/migration/no-readiness-refused", test_no_readiness_refused);
        ADD("/migration/host-default-readiness", test_host_default_readiness);
        ADD("/migration/every-nic-counts", test_every_nic_counts);
        ADD("/migration/destination-turns-unready", test_destination_turns_unready);
        ADD("/migration/pause-timeout-fails", test_pause_timeout_fails);
        ADD("/migration/pause-timeout-continue-precopy", test_pause_timeout_continue_precopy);
        ADD("/migration/cancel-at-pre-switchover", test_cancel_at_pre_switchover);
        return g_test_run();
}
