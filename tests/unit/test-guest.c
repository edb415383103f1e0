/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Following the guest's CPUs (Manager.AttachQemu) against the scripted QEMU
 * (7.2 greeting) with fake devices: STOP deactivates, RESUME activates and
 * then announce-self, reconnects resync with query-status, and the
 * attachment survives a daemon restart.
 */
#include <string.h>

#include "nlc-error.h"
#include "nlc-fake-backend.h"
#include "nlc-fake-qmp.h"
#include "nlc-journal.h"
#include "nlc-manager.h"

#define ANNOUNCE_ARGS "{\"initial\": 50, \"max\": 550, \"rounds\": 5, \"step\": 100}"

typedef struct {
        char *dir;
        NlcFakeQmp *fake;
        NlcManager *manager;
} Fixture;

static NlcManager *
start_manager(Fixture *f)
{
        g_autoptr(GError) error = NULL;
        NlcManager *m = nlc_manager_new(
                &(NlcManagerConfig){ .state_dir = f->dir, .runtime_dir = f->dir }, &error);

        g_assert_no_error(error);
        return m;
}

static void
set_up(Fixture *f, gconstpointer data)
{
        nlc_fake_backend_reset();
        f->dir = g_dir_make_tmp("nlc-guest-XXXXXX", NULL);
        nlc_fake_journal_device(f->dir, &(NlcFakeRecord){ .id = "1",
                                                          .instance = "vm1",
                                                          .state = NLC_DEVICE_STATE_CREATED });
        f->fake = nlc_fake_qmp_new(7, 2, 0);
        f->manager = start_manager(f);
}

static void
tear_down(Fixture *f, gconstpointer data)
{
        g_clear_object(&f->manager);
        nlc_fake_qmp_free(f->fake);
        nlc_fake_remove_dir(f->dir);
}

/* The instance's GuestTimeline as "a b c". */
static char *
timeline(Fixture *f)
{
        NlcInstance *inst = nlc_manager_lookup_instance(f->manager, "vm1");
        GVariant *t = nlc_dbus_instance_get_guest_timeline(NLC_DBUS_INSTANCE(inst));
        g_autoptr(GString) s = g_string_new(NULL);

        for (gsize i = 0; i < g_variant_n_children(t); i++) {
                const char *what;
                guint64 at;

                g_variant_get_child(t, i, "(&st)", &what, &at);
                g_assert_cmpuint(at, >, 0);
                g_string_append_printf(s, "%s%s", s->len ? " " : "", what);
        }
        return g_string_free(g_steal_pointer(&s), FALSE);
}

/* Iterates until the timeline ends with @suffix (bounded). */
static void
wait_timeline(Fixture *f, const char *suffix)
{
        for (int i = 0; i < 3000; i++) {
                g_autofree char *t = timeline(f);

                if (g_str_has_suffix(t, suffix))
                        return;
                g_main_context_iteration(NULL, FALSE) || (g_usleep(1000), TRUE);
        }
        {
                g_autofree char *t = timeline(f);
                g_error("timeline '%s' does not end with '%s'", t, suffix);
        }
}

static NlcDeviceState
device_state(const char *dir)
{
        g_autoptr(NlcJournal) j = nlc_journal_open(dir, NULL);
        g_autoptr(GPtrArray) all = nlc_journal_load(j);

        g_assert_cmpuint(all->len, ==, 1);
        return ((NlcJournalRecord *) all->pdata[0])->state;
}

static void
test_follows_cpus(Fixture *f, gconstpointer data)
{
        g_autoptr(GError) error = NULL;

        nlc_fake_qmp_expect(f->fake, "query-status", NULL,
                            "{\"running\": false, \"status\": \"prelaunch\"}");
        nlc_fake_qmp_event(f->fake, "RESUME", NULL);
        nlc_fake_qmp_expect(f->fake, "announce-self", ANNOUNCE_ARGS, NULL);
        nlc_fake_qmp_event(f->fake, "STOP", NULL);
        g_assert_true(
                nlc_manager_attach_qemu(f->manager, "vm1", nlc_fake_qmp_get_path(f->fake), &error));
        g_assert_no_error(error);
        wait_timeline(f, "qmp-connected deactivated resume activated announced stop deactivated");
        nlc_fake_qmp_assert_done(f->fake);
        /* The device was activated for the run and deactivated at the STOP,
         * at once, with no announce in between the two for the stopped copy. */
        g_assert_nonnull(strstr(nlc_fake_backend_calls->str, "activate(1) deactivate(1)"));
        g_assert_cmpuint(device_state(f->dir), ==, NLC_DEVICE_STATE_CREATED);
        /* Same socket again: nothing changes, no new connection. */
        g_assert_true(
                nlc_manager_attach_qemu(f->manager, "vm1", nlc_fake_qmp_get_path(f->fake), NULL));
        g_assert_cmpuint(nlc_fake_qmp_get_connections(f->fake), ==, 1);
}

static void
test_reconnect_resyncs(Fixture *f, gconstpointer data)
{
        nlc_fake_qmp_expect(f->fake, "query-status", NULL,
                            "{\"running\": true, \"status\": \"running\"}");
        nlc_fake_qmp_expect(f->fake, "announce-self", ANNOUNCE_ARGS, NULL);
        nlc_fake_qmp_hang_up(f->fake);
        /* While we were away the guest was paused: the next connection sees it. */
        nlc_fake_qmp_expect(f->fake, "query-status", NULL,
                            "{\"running\": false, \"status\": \"paused\"}");
        g_assert_true(
                nlc_manager_attach_qemu(f->manager, "vm1", nlc_fake_qmp_get_path(f->fake), NULL));
        wait_timeline(
                f, "qmp-connected activated announced qmp-disconnected qmp-connected deactivated");
        nlc_fake_qmp_assert_done(f->fake);
        g_assert_cmpuint(nlc_fake_qmp_get_connections(f->fake), ==, 2);
        g_assert_cmpuint(device_state(f->dir), ==, NLC_DEVICE_STATE_CREATED);
}

static void
test_attachment_survives_restart(Fixture *f, gconstpointer data)
{
        nlc_fake_qmp_expect(f->fake, "query-status", NULL,
                            "{\"running\": false, \"status\": \"paused\"}");
        nlc_fake_qmp_expect(f->fake, "query-status", NULL,
                            "{\"running\": true, \"status\": \"running\"}");
        nlc_fake_qmp_expect(f->fake, "announce-self", ANNOUNCE_ARGS, NULL);
        g_assert_true(
                nlc_manager_attach_qemu(f->manager, "vm1", nlc_fake_qmp_get_path(f->fake), NULL));
        wait_timeline(f, "qmp-connected deactivated");
        g_clear_object(&f->manager);
        f->manager = start_manager(f); /* journal only: no new AttachQemu */
        wait_timeline(f, "qmp-connected activated announced");
        nlc_fake_qmp_assert_done(f->fake);
        g_assert_cmpuint(nlc_fake_qmp_get_connections(f->fake), ==, 2);
        g_assert_cmpuint(device_state(f->dir), ==, NLC_DEVICE_STATE_ACTIVE);
}

/* Attached to a running guest: activated, then announced. */
static void
attach_running(Fixture *f)
{
        nlc_fake_qmp_expect(f->fake, "query-status", NULL,
                            "{\"running\": true, \"status\": \"running\"}");
        nlc_fake_qmp_expect(f->fake, "announce-self", ANNOUNCE_ARGS, NULL);
        g_assert_true(
                nlc_manager_attach_qemu(f->manager, "vm1", nlc_fake_qmp_get_path(f->fake), NULL));
        wait_timeline(f, "qmp-connected activated announced");
        nlc_fake_qmp_assert_done(f->fake);
}

/* The daemon was down when the guest's QEMU ended: restarted, it finds
 * nobody listening on the monitor, and the device that still held the MAC
 * lets go of it (a sticky entry would pull the guest's traffic here). */
static void
test_qemu_gone_after_restart(Fixture *f, gconstpointer data)
{
        attach_running(f);
        g_clear_object(&f->manager);
        g_clear_pointer(&f->fake, nlc_fake_qmp_free); /* QEMU ends: its socket goes */
        g_assert_cmpuint(device_state(f->dir), ==, NLC_DEVICE_STATE_ACTIVE);
        f->manager = start_manager(f);
        wait_timeline(f, "qemu-gone");
        g_assert_cmpuint(device_state(f->dir), ==, NLC_DEVICE_STATE_CREATED);
}

/* One stray record of the instance (allocated, never created) does not keep
 * the guest's real NIC inactive at RESUME, nor hold back announce-self. */
static void
test_stray_record_skipped(Fixture *f, gconstpointer data)
{
        g_autoptr(NlcJournal) j = NULL;
        g_autoptr(GPtrArray) all = NULL;

        g_clear_object(&f->manager);
        nlc_fake_journal_device(f->dir, &(NlcFakeRecord){ .id = "2",
                                                          .instance = "vm1",
                                                          .mac = "52:54:00:00:00:02",
                                                          .state = NLC_DEVICE_STATE_ALLOCATED });
        f->manager = start_manager(f);
        attach_running(f);
        j = nlc_journal_open(f->dir, NULL);
        all = nlc_journal_load(j);
        for (guint i = 0; i < all->len; i++) {
                NlcJournalRecord *r = all->pdata[i];

                g_assert_cmpuint(r->state, ==,
                                 g_str_equal(r->id, "1") ? NLC_DEVICE_STATE_ACTIVE
                                                         : NLC_DEVICE_STATE_ALLOCATED);
        }
        g_assert_nonnull(strstr(nlc_fake_warnings->str, "not activated: device 2 (allocated)"));
}

static NlcDeviceState
state_of(Fixture *f, const char *id)
{
        g_autoptr(NlcJournal) j = nlc_journal_open(f->dir, NULL);
        g_autoptr(GPtrArray) all = nlc_journal_load(j);

        for (guint i = 0; i < all->len; i++)
                if (g_str_equal(((NlcJournalRecord *) all->pdata[i])->id, id))
                        return ((NlcJournalRecord *) all->pdata[i])->state;
        g_assert_not_reached();
}

/* A localhost upgrade's new QEMU whose RESUME is read before the old one's
 * STOP: the MAC is still the old instance's, so the device waits for it
 * and activates once the old one let go (then the announce) — it is not
 * left created (CI6 of 2026-12-07: local-upgrade new-tap, 2.9 s without
 * the guest's traffic, the new port never the MAC's home). */
static void
test_waits_for_the_mac(Fixture *f, gconstpointer data)
{
        gint64 until;

        g_clear_object(&f->manager);
        nlc_fake_journal_device(f->dir, &(NlcFakeRecord){ .id = "2",
                                                          .instance = "vm1-old",
                                                          .state = NLC_DEVICE_STATE_ACTIVE,
                                                          .activated_seq = 1 });
        f->manager = start_manager(f);
        nlc_fake_qmp_expect(f->fake, "query-status", NULL,
                            "{\"running\": true, \"status\": \"running\"}");
        nlc_fake_qmp_expect(f->fake, "announce-self", ANNOUNCE_ARGS, NULL);
        g_assert_true(
                nlc_manager_attach_qemu(f->manager, "vm1", nlc_fake_qmp_get_path(f->fake), NULL));
        wait_timeline(f, "qmp-connected activated");
        until = g_get_monotonic_time() + 100 * 1000;
        while (g_get_monotonic_time() < until)
                g_main_context_iteration(NULL, FALSE);
        g_assert_cmpint(state_of(f, "1"), ==, NLC_DEVICE_STATE_CREATED);
        /* The old QEMU's STOP. */
        g_assert_true(
                nlc_instance_deactivate(nlc_manager_lookup_instance(f->manager, "vm1-old"), NULL));
        wait_timeline(f, "announced");
        nlc_fake_qmp_assert_done(f->fake);
        g_assert_cmpint(state_of(f, "1"), ==, NLC_DEVICE_STATE_ACTIVE);
        g_assert_null(strstr(nlc_fake_warnings->str, "not activated"));
}

static void
test_attach_errors(Fixture *f, gconstpointer data)
{
        g_autoptr(GError) e1 = NULL, e2 = NULL;

        g_assert_false(nlc_manager_attach_qemu(f->manager, "nobody", "/run/qmp.sock", &e1));
        g_assert_error(e1, NLC_ERROR, NLC_ERROR_NOT_FOUND);
        g_assert_false(nlc_manager_attach_qemu(f->manager, "vm1", "relative/qmp.sock", &e2));
        g_assert_error(e2, NLC_ERROR, NLC_ERROR_INVALID_ARGS);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        nlc_fake_backend_init();
#define ADD(path, fn) g_test_add(path, Fixture, NULL, set_up, fn, tear_down)
        ADD("/guest/follows-cpus", test_follows_cpus);
        ADD("/guest/reconnect-resyncs", test_reconnect_resyncs);
        ADD("/guest/attachment-survives-restart", test_attachment_survives_restart);
        ADD("/guest/attach-errors", test_attach_errors);
        ADD("/guest/qemu-gone-after-restart", test_qemu_gone_after_restart);
        ADD("/guest/stray-record-skipped", test_stray_record_skipped);
        ADD("/guest/waits-for-the-mac", test_waits_for_the_mac);
        return g_test_run();
}
