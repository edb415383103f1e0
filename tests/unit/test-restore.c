/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Restart recovery with a fake backend: journal records left by a crash in
 * the middle of an operation are rolled forward, failures leave the previous
 * state, and the kernel's word (notify) wins. No bus, no kernel.
 */
#include <glib.h>
#include <string.h>

#include "nlc-backends.h"
#include "nlc-error.h"
#include "nlc-journal.h"
#include "nlc-fake-backend.h"
#include "nlc-instance.h"
#include "nlc-manager.h"

typedef struct {
        char *dir;
        NlcJournal *journal;
} Fixture;

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
        f->dir = g_dir_make_tmp("nlc-restore-XXXXXX", NULL);
        f->journal = nlc_journal_open(f->dir, NULL);
        nlc_fake_backend_reset();
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
        nlc_journal_free(f->journal);
        nlc_fake_remove_dir(f->dir);
}

static void
write_record_at(Fixture *f, const char *id, const char *backend, NlcDeviceState state,
                gboolean has_pending, NlcOp pending, gint64 activated_usec)
{
        nlc_fake_journal_device(f->dir, &(NlcFakeRecord){ .id = id,
                                                          .instance = "vm1",
                                                          .backend = backend,
                                                          .state = state,
                                                          .has_pending = has_pending,
                                                          .pending = pending,
                                                          .activated_usec = activated_usec });
}

static void
write_record(Fixture *f, const char *id, const char *backend, NlcDeviceState state,
             gboolean has_pending, NlcOp pending)
{
        write_record_at(f, id, backend, state, has_pending, pending, 0);
}

/* The journal as the next start would read it. */
static NlcJournalRecord *
reread(Fixture *f, const char *id)
{
        g_autoptr(GPtrArray) all = nlc_journal_load(f->journal);

        for (guint i = 0; i < all->len; i++) {
                NlcJournalRecord *rec = all->pdata[i];

                if (g_str_equal(rec->id, id))
                        return g_ptr_array_steal_index(all, i);
        }
        return NULL;
}

static void
restart(Fixture *f)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(NlcManager) manager = nlc_manager_new(
                &(NlcManagerConfig){ .state_dir = f->dir, .runtime_dir = f->dir }, &error);

        g_assert_no_error(error);
        g_assert_nonnull(manager);
}

static void
test_pending_create_rolls_forward(Fixture *f, gconstpointer data)
{
        g_autoptr(NlcJournalRecord) rec = NULL;

        write_record(f, "1", "fake", NLC_DEVICE_STATE_ALLOCATED, TRUE, NLC_OP_CREATE);
        restart(f);
        g_assert_cmpstr(nlc_fake_backend_calls->str, ==, "create(1) notify(1) ");
        rec = reread(f, "1");
        g_assert_cmpuint(rec->state, ==, NLC_DEVICE_STATE_CREATED);
        g_assert_false(rec->has_pending);
}

static void
test_pending_free_removes_record(Fixture *f, gconstpointer data)
{
        g_autoptr(NlcJournalRecord) rec = NULL;

        write_record(f, "2", "fake", NLC_DEVICE_STATE_DESTROYED, TRUE, NLC_OP_FREE);
        restart(f);
        g_assert_cmpstr(nlc_fake_backend_calls->str, ==, "free(2) ");
        rec = reread(f, "2");
        g_assert_null(rec);
}

static void
test_failed_roll_forward_keeps_state(Fixture *f, gconstpointer data)
{
        g_autoptr(NlcJournalRecord) rec = NULL;

        nlc_fake_backend_fail_activate = TRUE;
        write_record(f, "3", "fake", NLC_DEVICE_STATE_CREATED, TRUE, NLC_OP_ACTIVATE);
        restart(f);
        g_assert_cmpstr(nlc_fake_backend_calls->str, ==, "activate(3) notify(3) ");
        g_assert_nonnull(
                strstr(nlc_fake_warnings->str, "could not complete activate (injected failure)"));
        rec = reread(f, "3");
        g_assert_cmpuint(rec->state, ==, NLC_DEVICE_STATE_CREATED);
        g_assert_false(rec->has_pending);
}

static void
test_kernel_state_wins(Fixture *f, gconstpointer data)
{
        g_autoptr(NlcJournalRecord) rec = NULL;

        nlc_fake_backend_kernel_says = NLC_DEVICE_STATE_ACTIVE;
        write_record(f, "4", "fake", NLC_DEVICE_STATE_CREATED, FALSE, 0);
        restart(f);
        rec = reread(f, "4");
        g_assert_cmpuint(rec->state, ==, NLC_DEVICE_STATE_ACTIVE);
}

/* A record of a backend this daemon lacks is kept, untouched, for a daemon
 * that has it. */
static void
test_unknown_backend_kept(Fixture *f, gconstpointer data)
{
        g_autoptr(NlcJournalRecord) rec = NULL;

        write_record(f, "5", "not-built-in", NLC_DEVICE_STATE_ACTIVE, FALSE, 0);
        restart(f);
        g_assert_cmpstr(nlc_fake_backend_calls->str, ==, "");
        g_assert_nonnull(strstr(nlc_fake_warnings->str, "unknown backend not-built-in"));
        rec = reread(f, "5");
        g_assert_nonnull(rec);
        g_assert_cmpuint(rec->state, ==, NLC_DEVICE_STATE_ACTIVE);
}

/* A crash between the new owner's activation and the old owner's
 * deactivation leaves both active on disk: the later activation keeps the
 * MAC, the other drops to created (and its port's entry, if any, goes). */
static void
test_handover_interrupted(Fixture *f, gconstpointer data)
{
        g_autoptr(NlcJournalRecord) old_owner = NULL, new_owner = NULL;

        write_record_at(f, "6", "fake", NLC_DEVICE_STATE_ACTIVE, FALSE, 0, 1000);
        write_record_at(f, "7", "fake", NLC_DEVICE_STATE_ACTIVE, FALSE, 0, 2000);
        restart(f);
        old_owner = reread(f, "6");
        new_owner = reread(f, "7");
        g_assert_cmpuint(old_owner->state, ==, NLC_DEVICE_STATE_CREATED);
        g_assert_cmpuint(new_owner->state, ==, NLC_DEVICE_STATE_ACTIVE);
        g_assert_nonnull(strstr(nlc_fake_backend_calls->str, "deactivate(6)"));
        g_assert_null(strstr(nlc_fake_backend_calls->str, "deactivate(7)"));
}

/* kill -9 at every step of a handover from device 6 (active, activation 1)
 * to device 7 of the same guest: the new holder is journalled (write-ahead)
 * and activated first, the old one deactivated after, so every step leaves
 * the MAC with exactly one holder after the restart: 7 once its write-ahead
 * record is on disk. The times say the opposite (a clock stepped back
 * between the two activations): the sequence decides. */
static void
test_handover_every_step(Fixture *f, gconstpointer data)
{
        static const struct {
                const char *step;
                NlcDeviceState old_state, new_state;
                gboolean old_pending, new_pending;
                const char *holder;
        } steps[] = {
                { "before the claim", NLC_DEVICE_STATE_ACTIVE, NLC_DEVICE_STATE_CREATED, FALSE,
                  FALSE, "6" },
                { "new holder's write-ahead (its entry added or not)", NLC_DEVICE_STATE_ACTIVE,
                  NLC_DEVICE_STATE_CREATED, FALSE, TRUE, "7" },
                { "new holder active", NLC_DEVICE_STATE_ACTIVE, NLC_DEVICE_STATE_ACTIVE, FALSE,
                  FALSE, "7" },
                { "old holder's write-ahead (its entry deleted or not)", NLC_DEVICE_STATE_ACTIVE,
                  NLC_DEVICE_STATE_ACTIVE, TRUE, FALSE, "7" },
                { "old holder created", NLC_DEVICE_STATE_CREATED, NLC_DEVICE_STATE_ACTIVE, FALSE,
                  FALSE, "7" },
        };

        for (guint i = 0; i < G_N_ELEMENTS(steps); i++) {
                g_autoptr(NlcJournalRecord) old_holder = NULL, new_holder = NULL;

                g_test_message("crash at: %s", steps[i].step);
                nlc_fake_backend_reset();
                nlc_fake_journal_device(f->dir,
                                        &(NlcFakeRecord){ .id = "6",
                                                          .instance = "vm1",
                                                          .state = steps[i].old_state,
                                                          .has_pending = steps[i].old_pending,
                                                          .pending = NLC_OP_DEACTIVATE,
                                                          .activated_usec = 9000,
                                                          .activated_seq = 1 });
                nlc_fake_journal_device(f->dir,
                                        &(NlcFakeRecord){ .id = "7",
                                                          .instance = "vm1",
                                                          .state = steps[i].new_state,
                                                          .has_pending = steps[i].new_pending,
                                                          .pending = NLC_OP_ACTIVATE,
                                                          .activated_usec = 1000,
                                                          .activated_seq = 2 });
                restart(f);
                old_holder = reread(f, "6");
                new_holder = reread(f, "7");
                g_assert_cmpuint(old_holder->state, ==,
                                 g_str_equal(steps[i].holder, "6") ? NLC_DEVICE_STATE_ACTIVE
                                                                   : NLC_DEVICE_STATE_CREATED);
                g_assert_cmpuint(new_holder->state, ==,
                                 g_str_equal(steps[i].holder, "7") ? NLC_DEVICE_STATE_ACTIVE
                                                                   : NLC_DEVICE_STATE_CREATED);
        }
}

static NlcDevice *
device_by_id(NlcManager *manager, const char *id)
{
        GPtrArray *devices = nlc_instance_get_devices(nlc_manager_lookup_instance(manager, "vm1"));

        for (guint i = 0; i < devices->len; i++)
                if (g_str_equal(nlc_device_get_id(devices->pdata[i]), id))
                        return devices->pdata[i];
        g_error("no device %s", id);
}

static NlcManager *
start(Fixture *f)
{
        g_autoptr(GError) error = NULL;
        NlcManager *manager = nlc_manager_new(
                &(NlcManagerConfig){ .state_dir = f->dir, .runtime_dir = f->dir }, &error);

        g_assert_no_error(error);
        return manager;
}

/* Each activation takes the next number, also across a restart, and it is
 * journalled with the record. */
static void
test_activation_sequence(Fixture *f, gconstpointer data)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(NlcJournalRecord) first = NULL, second = NULL, third = NULL;
        NlcManager *manager;

        write_record(f, "6", "fake", NLC_DEVICE_STATE_CREATED, FALSE, 0);
        write_record(f, "7", "fake", NLC_DEVICE_STATE_CREATED, FALSE, 0);
        manager = start(f);
        g_assert_true(nlc_device_run(device_by_id(manager, "6"), NLC_OP_ACTIVATE, &error));
        g_assert_true(nlc_device_run(device_by_id(manager, "7"), NLC_OP_ACTIVATE, &error));
        g_assert_no_error(error);
        g_object_unref(manager);
        first = reread(f, "6");
        second = reread(f, "7");
        g_assert_cmpuint(first->activated_seq, >, 0);
        g_assert_cmpuint(second->activated_seq, >, first->activated_seq);
        g_assert_cmpuint(first->state, ==, NLC_DEVICE_STATE_CREATED); /* handed over */
        /* A new daemon goes on above the journal's numbers. */
        manager = start(f);
        g_assert_true(nlc_device_run(device_by_id(manager, "6"), NLC_OP_ACTIVATE, &error));
        g_assert_no_error(error);
        g_object_unref(manager);
        third = reread(f, "6");
        g_assert_cmpuint(third->activated_seq, >, second->activated_seq);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        nlc_fake_backend_init();

#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
        ADD("/restore/pending-create-rolls-forward", test_pending_create_rolls_forward);
        ADD("/restore/pending-free-removes-record", test_pending_free_removes_record);
        ADD("/restore/failed-roll-forward-keeps-state", test_failed_roll_forward_keeps_state);
        ADD("/restore/kernel-state-wins", test_kernel_state_wins);
        ADD("/restore/unknown-backend-kept", test_unknown_backend_kept);
        ADD("/restore/handover-interrupted", test_handover_interrupted);
        ADD("/restore/handover-every-step", test_handover_every_step);
        ADD("/restore/activation-sequence", test_activation_sequence);
        return g_test_run();
}
