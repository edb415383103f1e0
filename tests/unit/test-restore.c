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
#include "nlc-manager.h"

static GString *calls; /* "op(id) " per backend call */
static gboolean fail_activate;
static NlcDeviceState kernel_says = NLC_DEVICE_STATE_NONE; /* NONE: agree */

static gboolean
record(const char *op, NlcBackendDevice *dev)
{
        g_string_append_printf(calls, "%s(%s) ", op, dev->id);
        return TRUE;
}

#define FAKE(op)                                                         \
        static gboolean fake_##op(NlcBackendDevice *dev, GError **error) \
        {                                                                \
                return record(#op, dev);                                 \
        }
FAKE(create)
FAKE(deactivate)
FAKE(destroy)
FAKE(free)

static gboolean
fake_activate(NlcBackendDevice *dev, GError **error)
{
        record("activate", dev);
        if (fail_activate) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_FAILED, "injected failure");
                return FALSE;
        }
        return TRUE;
}

static gboolean
fake_allocate(NlcBackendDevice *dev, GVariantDict *o, const NlcBackendHost *h, GError **error)
{
        return record("allocate", dev);
}

static gboolean
fake_notify(NlcBackendDevice *dev, NlcDeviceState *state, GError **error)
{
        record("notify", dev);
        if (kernel_says != NLC_DEVICE_STATE_NONE)
                *state = kernel_says;
        return TRUE;
}

static const NlcBackendOption no_options[] = { { NULL } };

NLC_BACKEND_DEFINE(fake_backend, .name = "fake", .options = no_options, .allocate = fake_allocate,
                   .create = fake_create, .activate = fake_activate, .deactivate = fake_deactivate,
                   .destroy = fake_destroy, .free = fake_free, .notify = fake_notify);

static GString *warnings;

static GLogWriterOutput
capture_writer(GLogLevelFlags level, const GLogField *fields, gsize n, gpointer user_data)
{
        if (!(level & G_LOG_LEVEL_WARNING))
                return G_LOG_WRITER_HANDLED; /* state-change chatter */
        for (gsize i = 0; i < n; i++)
                if (g_str_equal(fields[i].key, "MESSAGE"))
                        g_string_append_printf(warnings, "%s\n", (const char *) fields[i].value);
        return G_LOG_WRITER_HANDLED;
}

typedef struct {
        char *dir;
        NlcJournal *journal;
} Fixture;

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
        f->dir = g_dir_make_tmp("nlc-restore-XXXXXX", NULL);
        f->journal = nlc_journal_open(f->dir, NULL);
        g_string_truncate(calls, 0);
        g_string_truncate(warnings, 0);
        fail_activate = FALSE;
        kernel_says = NLC_DEVICE_STATE_NONE;
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->dir);

        nlc_journal_free(f->journal);
        g_spawn_command_line_sync(cmd, NULL, NULL, NULL, NULL);
        g_free(f->dir);
}

static void
write_record(Fixture *f, const char *id, const char *backend, NlcDeviceState state,
             gboolean has_pending, NlcOp pending)
{
        NlcJournalRecord rec = {
                .id = (char *) id,
                .instance = (char *) "vm1",
                .backend = (char *) backend,
                .mac = (char *) "52:54:00:00:00:01",
                .state = state,
                .has_pending = has_pending,
                .pending = pending,
                .options = g_variant_ref_sink(g_variant_new_parsed("@a{sv} {}")),
        };

        g_assert_true(nlc_journal_write(f->journal, &rec, NULL));
        g_variant_unref(rec.options);
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
        g_assert_cmpstr(calls->str, ==, "create(1) notify(1) ");
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
        g_assert_cmpstr(calls->str, ==, "free(2) ");
        rec = reread(f, "2");
        g_assert_null(rec);
}

static void
test_failed_roll_forward_keeps_state(Fixture *f, gconstpointer data)
{
        g_autoptr(NlcJournalRecord) rec = NULL;

        fail_activate = TRUE;
        write_record(f, "3", "fake", NLC_DEVICE_STATE_CREATED, TRUE, NLC_OP_ACTIVATE);
        restart(f);
        g_assert_cmpstr(calls->str, ==, "activate(3) notify(3) ");
        g_assert_nonnull(strstr(warnings->str, "could not complete activate (injected failure)"));
        rec = reread(f, "3");
        g_assert_cmpuint(rec->state, ==, NLC_DEVICE_STATE_CREATED);
        g_assert_false(rec->has_pending);
}

static void
test_kernel_state_wins(Fixture *f, gconstpointer data)
{
        g_autoptr(NlcJournalRecord) rec = NULL;

        kernel_says = NLC_DEVICE_STATE_ACTIVE;
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
        g_assert_cmpstr(calls->str, ==, "");
        g_assert_nonnull(strstr(warnings->str, "unknown backend not-built-in"));
        rec = reread(f, "5");
        g_assert_nonnull(rec);
        g_assert_cmpuint(rec->state, ==, NLC_DEVICE_STATE_ACTIVE);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        calls = g_string_new(NULL);
        warnings = g_string_new(NULL);
        /* This test provokes warnings and asserts on their text, so they are
         * captured instead of fatal; criticals stay fatal. */
        g_log_set_writer_func(capture_writer, NULL, NULL);
        g_log_set_default_handler(g_log_default_handler, NULL);
        g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL);
        nlc_error_quark();
        g_assert_true(nlc_backends_register(&fake_backend, NULL));

#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
        ADD("/restore/pending-create-rolls-forward", test_pending_create_rolls_forward);
        ADD("/restore/pending-free-removes-record", test_pending_free_removes_record);
        ADD("/restore/failed-roll-forward-keeps-state", test_failed_roll_forward_keeps_state);
        ADD("/restore/kernel-state-wins", test_kernel_state_wins);
        ADD("/restore/unknown-backend-kept", test_unknown_backend_kept);
        return g_test_run();
}
