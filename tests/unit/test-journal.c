/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/resource.h>
#include <string.h>

#include "nlc-journal-log.h"
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

static char *
log_path(const char *dir)
{
        return g_build_filename(dir, "devices.log", NULL);
}

static guint64
log_size(const char *dir)
{
        g_autofree char *path = log_path(dir);
        GStatBuf st;

        g_assert_cmpint(g_stat(path, &st), ==, 0);
        return (guint64) st.st_size;
}

/* Appends @payload as a whole entry, as another writer would. */
static void
append_raw(const char *dir, const char *payload)
{
        g_autofree char *path = log_path(dir);
        g_autoptr(GString) framed = g_string_new(NULL);
        FILE *f = fopen(path, "a");

        nlc_journal_log_frame(framed, payload, strlen(payload));
        g_assert_nonnull(f);
        g_assert_cmpuint(fwrite(framed->str, 1, framed->len, f), ==, framed->len);
        fclose(f);
}

static char *
corrupt_contents(const char *dir)
{
        g_autofree char *path = g_build_filename(dir, "devices.log.corrupt", NULL);
        char *contents = NULL;

        g_file_get_contents(path, &contents, NULL, NULL);
        return contents;
}

/* A record that does not parse is set aside, not dropped, and does not hide
 * the others; the next start does not see it again. */
static void
test_corrupt_record_set_aside(void)
{
        g_autofree char *dir = g_dir_make_tmp("nlc-journal-XXXXXX", NULL);
        g_autoptr(NlcJournalRecord) rec = sample("2");
        g_autofree char *aside = NULL;

        {
                g_autoptr(NlcJournal) j = nlc_journal_open(dir, NULL);

                g_assert_true(nlc_journal_write(j, rec, NULL));
        }
        append_raw(dir, "put 3\n[device]\nid=3\nstate=bogus\n");
        /* A whole record that claims another id. */
        append_raw(dir, "put 4\n[device]\nid=2\ninstance=vm9\nbackend=tap-bridge\n"
                        "mac=52:54:00:00:00:05\nstate=active\noptions={}\n");
        {
                g_autoptr(NlcJournal) j = nlc_journal_open(dir, NULL);
                g_autoptr(GPtrArray) loaded = NULL;

                g_string_truncate(warnings, 0);
                loaded = nlc_journal_load(j);
                g_assert_nonnull(strstr(warnings->str, "record 3, unreadable"));
                g_assert_nonnull(strstr(warnings->str, "record 4, which claims id 2"));
                g_assert_cmpuint(loaded->len, ==, 1);
                g_assert_cmpstr(((NlcJournalRecord *) loaded->pdata[0])->id, ==, "2");
        }
        aside = corrupt_contents(dir);
        g_assert_nonnull(aside);
        g_assert_nonnull(strstr(aside, "state=bogus"));
        {
                g_autoptr(NlcJournal) j = nlc_journal_open(dir, NULL);
                g_autoptr(GPtrArray) loaded = NULL;

                g_string_truncate(warnings, 0);
                loaded = nlc_journal_load(j);
                g_assert_cmpuint(loaded->len, ==, 1);
                g_assert_cmpstr(warnings->str, ==, "");
        }
}

/* Bytes a crash or the disk damaged: an entry whose digest does not match
 * is set aside when whole entries follow it; a tail that is not a whole
 * entry is set aside and cut off, and the next write follows the last good
 * entry. */
static void
test_damaged_entries(void)
{
        g_autofree char *dir = g_dir_make_tmp("nlc-journal-XXXXXX", NULL);
        g_autofree char *path = log_path(dir);
        g_autoptr(NlcJournalRecord) a = sample("1"), b = sample("2"), c = sample("3");
        g_autofree char *contents = NULL;
        gsize len;
        guint64 before_c;

        {
                g_autoptr(NlcJournal) j = nlc_journal_open(dir, NULL);

                g_assert_true(nlc_journal_write(j, a, NULL));
                g_assert_true(nlc_journal_write(j, b, NULL));
                before_c = log_size(dir);
                g_assert_true(nlc_journal_write(j, c, NULL));
        }
        /* One byte of 1's record flipped; 3's entry cut in half. */
        g_assert_true(g_file_get_contents(path, &contents, &len, NULL));
        contents[strstr(contents, "instance=vm1") - contents + 9] ^= 1;
        len = before_c + (len - before_c) / 2;
        g_assert_true(g_file_set_contents(path, contents, (gssize) len, NULL));
        {
                g_autoptr(NlcJournal) j = nlc_journal_open(dir, NULL);
                g_autoptr(GPtrArray) loaded = NULL;

                g_assert_nonnull(strstr(warnings->str, "a damaged entry"));
                g_assert_nonnull(strstr(warnings->str, "not a whole entry"));
                /* Rewritten without the damaged entry and the torn tail. */
                g_assert_cmpuint(log_size(dir), <, before_c);
                loaded = nlc_journal_load(j);
                g_assert_cmpuint(loaded->len, ==, 1);
                g_assert_cmpstr(((NlcJournalRecord *) loaded->pdata[0])->id, ==, "2");
                /* Written again, 3 is whole. */
                g_assert_true(nlc_journal_write(j, c, NULL));
        }
        g_string_truncate(warnings, 0);
        {
                /* Reported once: the log was rewritten without them. */
                g_autoptr(NlcJournal) j = nlc_journal_open(dir, NULL);
                g_autoptr(GPtrArray) loaded = nlc_journal_load(j);

                g_assert_cmpuint(loaded->len, ==, 2);
                g_assert_cmpstr(warnings->str, ==, "");
        }
}

/* Thousands of state changes: the log is rewritten with what is live, stays
 * bounded, and loses neither a record's last version nor the next id. */
static void
test_compaction(void)
{
        g_autofree char *dir = g_dir_make_tmp("nlc-journal-XXXXXX", NULL);
        g_autoptr(NlcJournalRecord) a = sample("1"), b = sample("2");
        g_autofree char *id = NULL;
        guint64 largest = 0;

        {
                g_autoptr(NlcJournal) j = nlc_journal_open(dir, NULL);

                nlc_journal_set_fsync(j, FALSE);
                g_free(nlc_journal_next_id(j, NULL));
                g_free(nlc_journal_next_id(j, NULL));
                g_assert_true(nlc_journal_write(j, b, NULL));
                for (guint i = 0; i < 3000; i++) {
                        a->state = i % 2 ? NLC_DEVICE_STATE_ACTIVE : NLC_DEVICE_STATE_CREATED;
                        a->activated_usec = i;
                        g_assert_true(nlc_journal_write(j, a, NULL));
                        largest = MAX(largest, log_size(dir));
                }
                nlc_journal_set_fsync(j, TRUE);
        }
        /* 3000 versions of ~400 bytes: over 1 MB had nothing been dropped. */
        g_assert_cmpuint(largest, <, 300 * 1024);
        g_assert_cmpuint(log_size(dir), <, largest);
        {
                g_autoptr(NlcJournal) j = nlc_journal_open(dir, NULL);
                g_autoptr(GPtrArray) loaded = nlc_journal_load(j);
                NlcJournalRecord *first = loaded->pdata[0];

                g_assert_cmpuint(loaded->len, ==, 2);
                g_assert_cmpstr(first->id, ==, "1");
                g_assert_cmpint(first->activated_usec, ==, 2999);
                g_assert_cmpuint(first->state, ==, NLC_DEVICE_STATE_ACTIVE);
                id = nlc_journal_next_id(j, NULL);
        }
        g_assert_cmpstr(id, ==, "3");
}

/* A write the file system refuses half way (here: the file size limit, so
 * write() stores part of the entry, then fails) is cut off again: the log
 * still ends with the last whole entry, the record's previous version
 * stands, and the same write later is really made (not skipped as already
 * on disk). */
static void
test_failed_append_cut_back(void)
{
        g_autofree char *dir = g_dir_make_tmp("nlc-journal-XXXXXX", NULL);
        g_autoptr(NlcJournalRecord) rec = sample("1");
        g_autoptr(GError) error = NULL;
        struct rlimit saved, limited;
        guint64 size;

        {
                g_autoptr(NlcJournal) j = nlc_journal_open(dir, NULL);

                g_assert_true(nlc_journal_write(j, rec, NULL));
                size = log_size(dir);
                g_assert_cmpint(getrlimit(RLIMIT_FSIZE, &saved), ==, 0);
                limited = saved;
                limited.rlim_cur = size + 40; /* the header and a little */
                signal(SIGXFSZ, SIG_IGN);
                g_assert_cmpint(setrlimit(RLIMIT_FSIZE, &limited), ==, 0);
                rec->state = NLC_DEVICE_STATE_ACTIVE;
                g_assert_false(nlc_journal_write(j, rec, &error));
                g_assert_cmpint(setrlimit(RLIMIT_FSIZE, &saved), ==, 0);
                g_assert_nonnull(error);
                g_assert_cmpuint(log_size(dir), ==, size);
                g_assert_true(nlc_journal_write(j, rec, NULL));
                g_assert_cmpuint(log_size(dir), >, size);
        }
        g_string_truncate(warnings, 0);
        {
                g_autoptr(NlcJournal) j = nlc_journal_open(dir, NULL);
                g_autoptr(GPtrArray) loaded = nlc_journal_load(j);

                g_assert_cmpstr(warnings->str, ==, "");
                g_assert_cmpuint(loaded->len, ==, 1);
                g_assert_cmpuint(((NlcJournalRecord *) loaded->pdata[0])->state, ==,
                                 NLC_DEVICE_STATE_ACTIVE);
        }
}

/* A state directory of the per-file layout (devices/<id>.device, next-id)
 * is moved into the log at open. */
static void
test_import_record_files(void)
{
        g_autofree char *dir = g_dir_make_tmp("nlc-journal-XXXXXX", NULL);
        g_autofree char *devices = g_build_filename(dir, "devices", NULL);
        g_autofree char *file = g_build_filename(devices, "5.device", NULL);
        g_autofree char *next = g_build_filename(dir, "next-id", NULL);
        g_autofree char *id = NULL;
        g_autoptr(NlcJournal) j = NULL;
        g_autoptr(GPtrArray) loaded = NULL;

        g_assert_cmpint(g_mkdir(devices, 0700), ==, 0);
        g_assert_true(g_file_set_contents(file,
                                          "[device]\nid=5\ninstance=vm9\nbackend=tap-bridge\n"
                                          "mac=52:54:00:00:00:05\nstate=active\noptions={}\n"
                                          "allocated-usec=1\n\n[backend]\nifname=nlc5\n",
                                          -1, NULL));
        g_assert_true(g_file_set_contents(next, "6\n", -1, NULL));
        j = nlc_journal_open(dir, NULL);
        g_assert_nonnull(j);
        g_assert_false(g_file_test(devices, G_FILE_TEST_EXISTS));
        g_assert_false(g_file_test(next, G_FILE_TEST_EXISTS));
        loaded = nlc_journal_load(j);
        g_assert_cmpuint(loaded->len, ==, 1);
        g_assert_cmpstr(((NlcJournalRecord *) loaded->pdata[0])->instance, ==, "vm9");
        g_assert_cmpuint(((NlcJournalRecord *) loaded->pdata[0])->state, ==,
                         NLC_DEVICE_STATE_ACTIVE);
        id = nlc_journal_next_id(j, NULL);
        g_assert_cmpstr(id, ==, "6");
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
                first = log_size(dir);
                g_assert_true(nlc_journal_write(j, rec, NULL));
                again = log_size(dir);
                g_assert_cmpuint(again, ==, first);
                rec->state = NLC_DEVICE_STATE_ACTIVE;
                g_assert_true(nlc_journal_write(j, rec, NULL));
                changed = log_size(dir);
                g_assert_cmpuint(changed, >, first);
        }
        {
                g_autoptr(NlcJournal) j = nlc_journal_open(dir, NULL);
                g_autoptr(GPtrArray) loaded = nlc_journal_load(j);

                g_assert_cmpuint(loaded->len, ==, 1);
                g_assert_true(nlc_journal_write(j, loaded->pdata[0], NULL));
                g_assert_cmpuint(log_size(dir), ==, changed);
                /* Removed, then the same bytes again: written. */
                g_assert_true(nlc_journal_remove(j, "1", NULL));
                again = log_size(dir);
                g_assert_true(nlc_journal_write(j, loaded->pdata[0], NULL));
                g_assert_cmpuint(log_size(dir), >, again);
                g_assert_true(nlc_journal_remove(j, "1", NULL));
        }
}

/* A group commit puts nothing in the log before commit and everything
 * with one append after it (a record written twice with its last version);
 * a start between the two finds the old records. */
static void
test_batch_commit(void)
{
        g_autofree char *dir = g_dir_make_tmp("nlc-journal-XXXXXX", NULL);
        g_autoptr(NlcJournal) j = nlc_journal_open(dir, NULL);
        g_autoptr(NlcJournalRecord) a = sample("1"), b = sample("2");
        g_autoptr(GPtrArray) loaded = NULL;
        g_autoptr(GError) error = NULL;
        guint64 before;

        g_assert_true(nlc_journal_write(j, a, NULL));
        before = log_size(dir);
        nlc_journal_begin_batch(j);
        a->has_pending = TRUE;
        a->pending = NLC_OP_DESTROY;
        g_assert_true(nlc_journal_write(j, a, NULL));
        a->state = NLC_DEVICE_STATE_DESTROYED;
        a->has_pending = FALSE;
        g_assert_true(nlc_journal_write(j, a, NULL));
        g_assert_true(nlc_journal_write(j, b, NULL));
        g_assert_cmpuint(log_size(dir), ==, before);
        {
                /* A crash now: the old record of 1, no 2. */
                g_autoptr(NlcJournal) after_crash = nlc_journal_open(dir, NULL);

                loaded = nlc_journal_load(after_crash);
                g_assert_cmpuint(loaded->len, ==, 1);
                g_assert_cmpuint(((NlcJournalRecord *) loaded->pdata[0])->state, ==,
                                 NLC_DEVICE_STATE_CREATED);
                g_assert_false(((NlcJournalRecord *) loaded->pdata[0])->has_pending);
                g_clear_pointer(&loaded, g_ptr_array_unref);
        }
        g_assert_true(nlc_journal_commit_batch(j, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(log_size(dir), >, before);
        loaded = nlc_journal_load(j);
        g_assert_cmpuint(loaded->len, ==, 2);
        for (guint i = 0; i < loaded->len; i++) {
                NlcJournalRecord *r = loaded->pdata[i];

                g_assert_cmpuint(r->state, ==,
                                 g_str_equal(r->id, "1") ? NLC_DEVICE_STATE_DESTROYED
                                                         : NLC_DEVICE_STATE_CREATED);
                g_assert_false(r->has_pending);
        }
        /* Nothing changed since: an empty commit writes nothing. */
        before = log_size(dir);
        nlc_journal_begin_batch(j);
        g_assert_true(nlc_journal_write(j, a, NULL));
        g_assert_true(nlc_journal_commit_batch(j, NULL));
        g_assert_cmpuint(log_size(dir), ==, before);
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
        g_test_add_func("/journal/damaged-entries", test_damaged_entries);
        g_test_add_func("/journal/compaction", test_compaction);
        g_test_add_func("/journal/failed-append-cut-back", test_failed_append_cut_back);
        g_test_add_func("/journal/import-record-files", test_import_record_files);
        g_test_add_func("/journal/next-id-persists", test_next_id_persists);
        g_test_add_func("/journal/unchanged-record-not-rewritten",
                        test_unchanged_record_not_rewritten);
        return g_test_run();
}
