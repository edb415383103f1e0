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
        return g_test_run();
}
