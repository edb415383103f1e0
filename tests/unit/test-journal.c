/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "nlc-journal.h"

/* The daemon logs structured; g_test_expect_message() does not see that in
 * GLib 2.74, so warnings are captured here and checked by the test. */
static GString *warnings;

static GLogWriterOutput
capture_writer(GLogLevelFlags level, const GLogField *fields, gsize n, gpointer user_data)
{
        if (level & G_LOG_LEVEL_WARNING) {
                for (gsize i = 0; i < n; i++)
                        if (g_str_equal(fields[i].key, "MESSAGE"))
                                g_string_append_printf(warnings, "%s\n",
                                                       (const char *) fields[i].value);
                return G_LOG_WRITER_HANDLED;
        }
        return g_log_writer_default(level, fields, n, user_data);
}

static NlcJournalRecord *
sample(const char *id)
{
        NlcJournalRecord *rec = g_new0(NlcJournalRecord, 1);

        rec->id = g_strdup(id);
        rec->instance = g_strdup("vm1");
        rec->backend = g_strdup("tap-bridge");
        rec->mac = g_strdup("52:54:00:12:34:56");
        rec->state = NLC_DEVICE_STATE_CREATED;
        rec->options = g_variant_ref_sink(g_variant_new_parsed(
                "{'bridge': <'br0'>, 'queues': <uint32 2>, 'odd': <'a=b;[c]\\n'>}"));
        rec->props = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        g_hash_table_insert(rec->props, g_strdup("ifname"), g_strdup("nlc1"));
        rec->allocated_usec = 1234567;
        return rec;
}

static void
test_roundtrip(void)
{
        g_autofree char *dir = g_dir_make_tmp("nlc-journal-XXXXXX", NULL);
        g_autoptr(NlcJournal) j = nlc_journal_open(dir, NULL);
        g_autoptr(NlcJournalRecord) rec = sample("1");
        g_autoptr(GPtrArray) loaded = NULL;
        NlcJournalRecord *back;

        g_assert_nonnull(j);
        rec->has_pending = TRUE;
        rec->pending = NLC_OP_ACTIVATE;
        g_assert_true(nlc_journal_write(j, rec, NULL));
        loaded = nlc_journal_load(j);
        g_assert_cmpuint(loaded->len, ==, 1);
        back = loaded->pdata[0];
        g_assert_cmpstr(back->id, ==, "1");
        g_assert_cmpstr(back->instance, ==, "vm1");
        g_assert_cmpstr(back->mac, ==, rec->mac);
        g_assert_cmpuint(back->state, ==, NLC_DEVICE_STATE_CREATED);
        g_assert_true(back->has_pending);
        g_assert_cmpuint(back->pending, ==, NLC_OP_ACTIVATE);
        g_assert_true(g_variant_equal(back->options, rec->options));
        g_assert_cmpstr(g_hash_table_lookup(back->props, "ifname"), ==, "nlc1");
        g_assert_cmpint(back->allocated_usec, ==, 1234567);

        g_assert_true(nlc_journal_remove(j, "1", NULL));
        g_assert_true(nlc_journal_remove(j, "1", NULL)); /* idempotent */
        g_clear_pointer(&loaded, g_ptr_array_unref);
        loaded = nlc_journal_load(j);
        g_assert_cmpuint(loaded->len, ==, 0);
}

/* A damaged record is set aside, not dropped, and does not hide the others. */
static void
test_corrupt_record_set_aside(void)
{
        g_autofree char *dir = g_dir_make_tmp("nlc-journal-XXXXXX", NULL);
        g_autoptr(NlcJournal) j = nlc_journal_open(dir, NULL);
        g_autoptr(NlcJournalRecord) rec = sample("2");
        g_autofree char *bad = g_build_filename(dir, "devices", "3.device", NULL);
        g_autofree char *aside = g_strconcat(bad, ".corrupt", NULL);
        g_autoptr(GPtrArray) loaded = NULL;

        g_assert_true(nlc_journal_write(j, rec, NULL));
        g_assert_true(g_file_set_contents(bad, "[device]\nid=3\nstate=bogus\n", -1, NULL));
        g_string_truncate(warnings, 0);
        loaded = nlc_journal_load(j);
        g_assert_nonnull(strstr(warnings->str, "3.device is unreadable"));
        g_assert_cmpuint(loaded->len, ==, 1);
        g_assert_true(g_file_test(aside, G_FILE_TEST_EXISTS));
        g_assert_false(g_file_test(bad, G_FILE_TEST_EXISTS));
}

static void
test_next_id_persists(void)
{
        g_autofree char *dir = g_dir_make_tmp("nlc-journal-XXXXXX", NULL);
        g_autofree char *a = NULL, *b = NULL, *c = NULL;

        {
                g_autoptr(NlcJournal) j = nlc_journal_open(dir, NULL);
                a = nlc_journal_next_id(j, NULL);
                b = nlc_journal_next_id(j, NULL);
        }
        {
                /* A restart never hands out an id again. */
                g_autoptr(NlcJournal) j = nlc_journal_open(dir, NULL);
                c = nlc_journal_next_id(j, NULL);
        }
        g_assert_cmpstr(a, ==, "1");
        g_assert_cmpstr(b, ==, "2");
        g_assert_cmpstr(c, ==, "3");
}

/* The inode of record @id's file: an atomic replace makes a new one. */
static guint64
record_inode(const char *dir, const char *id)
{
        g_autofree char *name = g_strconcat(id, ".device", NULL);
        g_autofree char *path = g_build_filename(dir, "devices", name, NULL);
        GStatBuf st;

        g_assert_cmpint(g_stat(path, &st), ==, 0);
        return (guint64) st.st_ino;
}

/* Writing the bytes already on disk again is skipped (a restart verifies
 * every device and would fsync each record for nothing); any change is
 * written; after a restart the records read count as on disk. */
static void
test_unchanged_record_not_rewritten(void)
{
        g_autofree char *dir = g_dir_make_tmp("nlc-journal-XXXXXX", NULL);
        g_autoptr(NlcJournalRecord) rec = sample("1");
        guint64 first, again, changed;

        /* Several backend properties: their order must not make a record
         * look changed. */
        g_hash_table_insert(rec->props, g_strdup("tap-fd-count"), g_strdup("2"));
        g_hash_table_insert(rec->props, g_strdup("bridge-index"), g_strdup("7"));
        {
                g_autoptr(NlcJournal) j = nlc_journal_open(dir, NULL);

                g_assert_true(nlc_journal_write(j, rec, NULL));
                first = record_inode(dir, "1");
                g_assert_true(nlc_journal_write(j, rec, NULL));
                again = record_inode(dir, "1");
                g_assert_cmpuint(again, ==, first);
                rec->state = NLC_DEVICE_STATE_ACTIVE;
                g_assert_true(nlc_journal_write(j, rec, NULL));
                changed = record_inode(dir, "1");
                g_assert_cmpuint(changed, !=, first);
        }
        {
                g_autoptr(NlcJournal) j = nlc_journal_open(dir, NULL);
                g_autoptr(GPtrArray) loaded = nlc_journal_load(j);

                g_assert_cmpuint(loaded->len, ==, 1);
                g_assert_true(nlc_journal_write(j, loaded->pdata[0], NULL));
                g_assert_cmpuint(record_inode(dir, "1"), ==, changed);
                /* Removed, then the same bytes again: written. */
                g_assert_true(nlc_journal_remove(j, "1", NULL));
                g_assert_true(nlc_journal_write(j, loaded->pdata[0], NULL));
                g_assert_cmpuint(record_inode(dir, "1"), >, 0);
                g_assert_true(nlc_journal_remove(j, "1", NULL));
        }
}

static guint
files_in(const char *dir)
{
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        guint n = 0;

        while (d && g_dir_read_name(d))
                n++;
        return n;
}

/* A group commit puts nothing in place before commit, everything after it
 * (a record written twice with its last version), and a load after a crash
 * between the two finds the old records and removes the temporaries. */
static void
test_batch_commit(void)
{
        g_autofree char *dir = g_dir_make_tmp("nlc-journal-XXXXXX", NULL);
        g_autofree char *devices = g_build_filename(dir, "devices", NULL);
        g_autoptr(NlcJournal) j = nlc_journal_open(dir, NULL);
        g_autoptr(NlcJournalRecord) a = sample("1"), b = sample("2");
        g_autoptr(GPtrArray) loaded = NULL;
        g_autoptr(GError) error = NULL;

        g_assert_true(nlc_journal_write(j, a, NULL));
        nlc_journal_begin_batch(j);
        a->has_pending = TRUE;
        a->pending = NLC_OP_DESTROY;
        g_assert_true(nlc_journal_write(j, a, NULL));
        a->state = NLC_DEVICE_STATE_DESTROYED;
        a->has_pending = FALSE;
        g_assert_true(nlc_journal_write(j, a, NULL));
        g_assert_true(nlc_journal_write(j, b, NULL));
        {
                /* A crash now: the old record of 1, no 2, temporaries gone. */
                g_autoptr(NlcJournal) after_crash = nlc_journal_open(dir, NULL);

                loaded = nlc_journal_load(after_crash);
                g_assert_cmpuint(loaded->len, ==, 1);
                g_assert_cmpuint(((NlcJournalRecord *) loaded->pdata[0])->state, ==,
                                 NLC_DEVICE_STATE_CREATED);
                g_assert_false(((NlcJournalRecord *) loaded->pdata[0])->has_pending);
                g_assert_cmpuint(files_in(devices), ==, 1);
                g_clear_pointer(&loaded, g_ptr_array_unref);
        }
        /* The batch's temporaries are gone with that load: its commit fails
         * and says so, and forgets what it thought was on disk... */
        g_assert_false(nlc_journal_commit_batch(j, &error));
        g_assert_nonnull(error);
        g_clear_error(&error);
        /* ...so the same records written again really reach the disk. */
        nlc_journal_begin_batch(j);
        g_assert_true(nlc_journal_write(j, a, NULL));
        g_assert_true(nlc_journal_write(j, b, NULL));
        g_assert_true(nlc_journal_commit_batch(j, &error));
        g_assert_no_error(error);
        loaded = nlc_journal_load(j);
        g_assert_cmpuint(loaded->len, ==, 2);
        g_assert_cmpuint(files_in(devices), ==, 2);
        for (guint i = 0; i < loaded->len; i++) {
                NlcJournalRecord *r = loaded->pdata[i];

                g_assert_cmpuint(r->state, ==,
                                 g_str_equal(r->id, "1") ? NLC_DEVICE_STATE_DESTROYED
                                                         : NLC_DEVICE_STATE_CREATED);
                g_assert_false(r->has_pending);
        }
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        warnings = g_string_new(NULL);
        g_log_set_writer_func(capture_writer, NULL, NULL);
        g_test_add_func("/journal/roundtrip", test_roundtrip);
        g_test_add_func("/journal/batch-commit", test_batch_commit);
        g_test_add_func("/journal/corrupt-record-set-aside", test_corrupt_record_set_aside);
        g_test_add_func("/journal/next-id-persists", test_next_id_persists);
        g_test_add_func("/journal/unchanged-record-not-rewritten",
                        test_unchanged_record_not_rewritten);
        return g_test_run();
}
