/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the journal's reader: arbitrary bytes as the device
 * log (devices.log). A start on them must not crash or leak; what it cannot
 * use it sets aside, so a second start on the same directory reads a clean
 * log without a warning; and a record written after the first start is read
 * back by the second. Any crash, leak, sanitizer report or failed check is a
 * finding.
 */
#include <glib/gstdio.h>
#include <stdint.h>

#include "nlc-journal.h"

static guint warnings;

static GLogWriterOutput
count_warnings(GLogLevelFlags level, const GLogField *fields, gsize n, gpointer user_data)
{
        if (level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL))
                warnings++;
        return G_LOG_WRITER_HANDLED;
}

static void
remove_file(const char *dir, const char *name)
{
        g_autofree char *path = g_build_filename(dir, name, NULL);

        g_unlink(path);
}

/* A directory of its own, on tmpfs when there is one: the journal's fsyncs
 * would otherwise make every input a disk flush. */
static const char *
state_dir(void)
{
        static char *dir;

        if (!dir) {
                g_autofree char *tmpl = g_build_filename(
                        g_file_test("/dev/shm", G_FILE_TEST_IS_DIR) ? "/dev/shm" : g_get_tmp_dir(),
                        "fuzz-journal-XXXXXX", NULL);

                dir = g_mkdtemp(g_steal_pointer(&tmpl));
                g_assert(dir);
                g_log_set_writer_func(count_warnings, NULL, NULL);
        }
        return dir;
}

static NlcJournalRecord *
sample(void)
{
        NlcJournalRecord *rec = g_new0(NlcJournalRecord, 1);

        rec->id = g_strdup("4242");
        rec->instance = g_strdup("vm1");
        rec->backend = g_strdup("tap-bridge");
        rec->mac = g_strdup("52:54:00:12:34:56");
        rec->state = NLC_DEVICE_STATE_ACTIVE;
        rec->options = g_variant_ref_sink(g_variant_new_parsed("@a{sv} {}"));
        return rec;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *dir = state_dir();
        g_autofree char *log = g_build_filename(dir, "devices.log", NULL);
        g_autoptr(NlcJournalRecord) rec = sample();
        gboolean found = FALSE;

        g_assert(g_file_set_contents(log, (const char *) data, (gssize) size, NULL));
        {
                g_autoptr(NlcJournal) j = nlc_journal_open(dir, NULL);
                g_autoptr(GPtrArray) loaded = NULL;

                g_assert(j);
                loaded = nlc_journal_load(j);
                for (guint i = 0; i < loaded->len; i++)
                        g_assert(((NlcJournalRecord *) loaded->pdata[i])->id);
                g_assert(nlc_journal_write(j, rec, NULL));
        }
        warnings = 0;
        {
                g_autoptr(NlcJournal) j = nlc_journal_open(dir, NULL);
                g_autoptr(GPtrArray) loaded = NULL;

                g_assert(j);
                loaded = nlc_journal_load(j);
                g_assert(warnings == 0);
                for (guint i = 0; i < loaded->len; i++) {
                        NlcJournalRecord *r = loaded->pdata[i];

                        if (g_str_equal(r->id, rec->id)) {
                                g_assert(r->state == NLC_DEVICE_STATE_ACTIVE);
                                found = TRUE;
                        }
                }
        }
        g_assert(found);
        remove_file(dir, "devices.log");
        remove_file(dir, "devices.log.corrupt");
        return 0;
}
