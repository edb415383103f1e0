/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nlc-error.h"
#include "nlc-journal-log.h"
#include "nlc-journal.h"

#define GROUP_DEVICE  "device"
#define GROUP_BACKEND "backend"

/* Device records live in one append-only log (nlc-journal-log.h); its
 * entries are "put <id>\n<key file>", "del <id>\n" and "next-id <n>\n". */
#define LOG_NAME "devices.log"
/* The log is rewritten with only its live entries once it is this big and
 * COMPACT_RATIO times their size: amortized, a few bytes per write. */
#define COMPACT_MIN_BYTES (256 * 1024)
#define COMPACT_RATIO     4
#define DIGEST_LEN        16

/* What the log holds for a record. */
typedef struct {
        guint8 digest[DIGEST_LEN]; /* MD5 of the record's key file */
        guint32 bytes;             /* its entry in the log, header included */
} OnDisk;

struct _NlcJournal {
        char *attachments_path;
        char *migrations_dir;
        NlcJournalLog *log;
        guint64 next_id;
        /* Record id → OnDisk. A write that would put the same bytes there
         * again is skipped: a restart verifies every device and rewrites
         * its record, unchanged nearly always. (MD5 only tells equal from
         * changed here.) */
        GHashTable *on_disk;
        guint64 live_bytes; /* what a compaction would keep */
        /* Between begin_batch and commit_batch: the framed entries, appended
         * with one write at commit, and what on_disk becomes then. */
        GString *batch;
        GHashTable *batch_on_disk;
        gboolean batch_durable;
};

/* Whether writes are fsynced: one process-wide policy, set at start. */
static gboolean durable_writes = TRUE;

/* @data in a new temporary file next to @path (returned), not synced. */
static char *
write_temp(const char *path, const char *data, gsize len, GError **error)
{
        g_autofree char *tmp = g_strconcat(path, ".XXXXXX", NULL);
        int fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0600);
        int r;

        if (fd < 0) {
                nlc_error_set_errno(error, -errno, "journal: cannot create %s", tmp);
                return NULL;
        }
        r = nlc_journal_log_write_all(fd, data, len);
        close(fd);
        if (r < 0) {
                g_unlink(tmp);
                nlc_error_set_errno(error, r, "journal: cannot write %s", tmp);
                return NULL;
        }
        return g_steal_pointer(&tmp);
}

/* Atomic replace of a whole file (instances, migrations): a temporary file
 * renamed over it, fsynced first when writes are durable. (GLib's
 * "consistent" mode alone still fsyncs when it replaces a file.) */
static gboolean
write_file(const char *path, const char *data, gsize len, GError **error)
{
        g_autoptr(GError) local = NULL;
        g_autofree char *tmp = NULL;

        if (durable_writes) {
                if (g_file_set_contents_full(path, data, (gssize) len,
                                             G_FILE_SET_CONTENTS_CONSISTENT |
                                                     G_FILE_SET_CONTENTS_DURABLE,
                                             0600, &local))
                        return TRUE;
                g_set_error(error, NLC_ERROR, NLC_ERROR_FAILED, "journal: %s", local->message);
                return FALSE;
        }
        tmp = write_temp(path, data, len, error);
        if (!tmp)
                return FALSE;
        if (g_rename(tmp, path) < 0) {
                int e = errno;

                g_unlink(tmp);
                return nlc_error_set_errno(error, -e, "journal: cannot replace %s", path);
        }
        return TRUE;
}

static void
digest_into(const char *data, gsize len, guint8 digest[DIGEST_LEN])
{
        g_autoptr(GChecksum) md5 = g_checksum_new(G_CHECKSUM_MD5);
        gsize digest_len = DIGEST_LEN;

        g_checksum_update(md5, (const guchar *) data, (gssize) len);
        g_checksum_get_digest(md5, digest, &digest_len);
}

/* ---- entries ------------------------------------------------------------ */

typedef enum {
        ENTRY_PUT,
        ENTRY_DEL,
        ENTRY_NEXT_ID,
        ENTRY_UNKNOWN,
} EntryKind;

/* An entry's kind and argument (the id, or the next id); @body is what
 * follows the first line (a put's key file). */
static EntryKind
parse_entry(const char *payload, gsize len, char **arg, const char **body, gsize *body_len)
{
        const char *nl = memchr(payload, '\n', len);
        const char *sp = nl ? memchr(payload, ' ', (gsize) (nl - payload)) : NULL;
        static const char *const kinds[] = { "put", "del", "next-id" };

        *arg = NULL;
        if (!sp)
                return ENTRY_UNKNOWN;
        *arg = g_strndup(sp + 1, (gsize) (nl - sp - 1));
        *body = nl + 1;
        *body_len = len - (gsize) (nl + 1 - payload);
        for (guint k = 0; k < G_N_ELEMENTS(kinds); k++)
                if (strlen(kinds[k]) == (gsize) (sp - payload) &&
                    memcmp(payload, kinds[k], (gsize) (sp - payload)) == 0)
                        return (EntryKind) k;
        return ENTRY_UNKNOWN;
}

static void
on_disk_remove(NlcJournal *journal, const char *id)
{
        OnDisk *known = g_hash_table_lookup(journal->on_disk, id);

        if (!known)
                return;
        journal->live_bytes -= known->bytes;
        g_hash_table_remove(journal->on_disk, id);
}

static void
on_disk_set(NlcJournal *journal, const char *id, const OnDisk *now)
{
        on_disk_remove(journal, id);
        journal->live_bytes += now->bytes;
        g_hash_table_insert(journal->on_disk, g_strdup(id), g_memdup2(now, sizeof *now));
}

/* Replay at open: what is on disk, and the next id. */
static gboolean
account_entry(const char *payload, gsize len, gpointer data)
{
        NlcJournal *journal = data;
        g_autofree char *arg = NULL;
        const char *body = NULL;
        gsize body_len = 0;
        OnDisk now;

        switch (parse_entry(payload, len, &arg, &body, &body_len)) {
        case ENTRY_PUT:
                digest_into(body, body_len, now.digest);
                now.bytes = (guint32) nlc_journal_log_entry_size(len);
                on_disk_set(journal, arg, &now);
                break;
        case ENTRY_DEL:
                on_disk_remove(journal, arg);
                break;
        case ENTRY_NEXT_ID:
                journal->next_id = MAX(journal->next_id, g_ascii_strtoull(arg, NULL, 10));
                break;
        case ENTRY_UNKNOWN:
                return FALSE; /* not of this version: set aside */
        }
        return TRUE;
}

/* Replay for load and compaction: id → the payload of its last put. */
static gboolean
collect_entry(const char *payload, gsize len, gpointer data)
{
        GHashTable *live = data;
        g_autofree char *arg = NULL;
        const char *body;
        gsize body_len;

        switch (parse_entry(payload, len, &arg, &body, &body_len)) {
        case ENTRY_PUT:
                g_hash_table_insert(live, g_steal_pointer(&arg), g_bytes_new(payload, len));
                break;
        case ENTRY_DEL:
                g_hash_table_remove(live, arg);
                break;
        default:
                break;
        }
        return TRUE;
}

static GHashTable *
collect_live(NlcJournal *journal, GError **error)
{
        g_autoptr(GHashTable) live = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                           (GDestroyNotify) g_bytes_unref);

        if (!nlc_journal_log_replay(journal->log, collect_entry, live, error))
                return NULL;
        return g_steal_pointer(&live);
}

static gint
by_number(gconstpointer a, gconstpointer b)
{
        const char *x = *(const char *const *) a, *y = *(const char *const *) b;
        guint64 nx = g_ascii_strtoull(x, NULL, 10), ny = g_ascii_strtoull(y, NULL, 10);

        return nx != ny ? (nx < ny ? -1 : 1) : strcmp(x, y);
}

/* The ids of @live in numeric order: loads and compactions are repeatable. */
static const char **
sorted_ids(GHashTable *live, guint *n)
{
        const char **ids = (const char **) g_hash_table_get_keys_as_array(live, n);

        qsort(ids, *n, sizeof *ids, by_number);
        return ids;
}

static char *
next_id_payload(guint64 next_id)
{
        return g_strdup_printf("next-id %" G_GUINT64_FORMAT "\n", next_id);
}

static void
frame_next_id(GString *out, guint64 next_id)
{
        g_autofree char *payload = next_id_payload(next_id);

        nlc_journal_log_frame(out, payload, strlen(payload));
}

/* The log rewritten with only what is live: the next id and each record's
 * last version. */
static gboolean
compact(NlcJournal *journal, GError **error)
{
        g_autoptr(GHashTable) live = collect_live(journal, error);
        g_autoptr(GString) framed = g_string_new(NULL);
        g_autofree const char **ids = NULL;
        guint n;

        if (!live)
                return FALSE;
        frame_next_id(framed, journal->next_id);
        ids = sorted_ids(live, &n);
        for (guint i = 0; i < n; i++) {
                gsize len;
                const char *payload = g_bytes_get_data(g_hash_table_lookup(live, ids[i]), &len);

                nlc_journal_log_frame(framed, payload, len);
        }
        if (!nlc_journal_log_rewrite(journal->log, framed, durable_writes, error))
                return FALSE;
        journal->live_bytes = framed->len;
        return TRUE;
}

static void
maybe_compact(NlcJournal *journal)
{
        guint64 size = nlc_journal_log_size(journal->log);
        g_autoptr(GError) error = NULL;

        if (size < COMPACT_MIN_BYTES || size < COMPACT_RATIO * journal->live_bytes)
                return;
        /* Not fatal: the log as it is holds every record. */
        if (!compact(journal, &error))
                g_warning("journal: cannot compact: %s", error->message);
}

/* One entry now: appended, fdatasynced when @durable and writes are. */
static gboolean
append_entry(NlcJournal *journal, const char *payload, gsize len, gboolean durable, GError **error)
{
        g_autoptr(GString) framed = g_string_sized_new(len + 64);

        nlc_journal_log_frame(framed, payload, len);
        return nlc_journal_log_append(journal->log, framed, durable_writes && durable, error);
}

/* ---- the layout before the log: one file per record --------------------- */

/*
 * <state-dir>/devices/<id>.device and <state-dir>/next-id, as a daemon of an
 * earlier version left them: appended to the log (durably), then removed.
 * A crash in between imports the same files again, which changes nothing.
 * Files of other names (set-aside .corrupt records) stay where they are.
 */
static gboolean
import_record_files(NlcJournal *journal, const char *state_dir, GError **error)
{
        g_autofree char *dir_path = g_build_filename(state_dir, "devices", NULL);
        g_autofree char *next_id_path = g_build_filename(state_dir, "next-id", NULL);
        g_autoptr(GPtrArray) imported = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) payloads = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GString) framed = g_string_new(NULL);
        g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
        g_autofree char *next_id = NULL;
        const char *name;

        while (dir && (name = g_dir_read_name(dir))) {
                g_autofree char *path = g_build_filename(dir_path, name, NULL);
                g_autofree char *contents = NULL;
                char *payload;

                if (strstr(name, ".device.") && !g_str_has_suffix(name, ".corrupt")) {
                        g_unlink(path); /* the temporary of a write a crash cut short */
                        continue;
                }
                if (!g_str_has_suffix(name, ".device") ||
                    !g_file_get_contents(path, &contents, NULL, NULL))
                        continue;
                payload = g_strdup_printf("put %.*s\n%s", (int) (strlen(name) - strlen(".device")),
                                          name, contents);
                nlc_journal_log_frame(framed, payload, strlen(payload));
                g_ptr_array_add(payloads, payload);
                g_ptr_array_add(imported, g_steal_pointer(&path));
        }
        if (g_file_get_contents(next_id_path, &next_id, NULL, NULL)) {
                journal->next_id = MAX(journal->next_id, g_ascii_strtoull(next_id, NULL, 10));
                frame_next_id(framed, journal->next_id);
                g_ptr_array_add(imported, g_strdup(next_id_path));
        }
        if (!imported->len)
                return TRUE;
        if (!nlc_journal_log_append(journal->log, framed, TRUE, error))
                return FALSE;
        for (guint i = 0; i < payloads->len; i++)
                account_entry(payloads->pdata[i], strlen(payloads->pdata[i]), journal);
        for (guint i = 0; i < imported->len; i++)
                g_unlink(imported->pdata[i]);
        g_rmdir(dir_path); /* unless set-aside records are left in it */
        g_message("journal: %u records of the per-file layout moved into %s", payloads->len,
                  LOG_NAME);
        return TRUE;
}

/* ---- the journal -------------------------------------------------------- */

NlcJournal *
nlc_journal_open(const char *state_dir, GError **error)
{
        g_autoptr(NlcJournal) journal = g_new0(NlcJournal, 1);
        g_autofree char *log_path = g_build_filename(state_dir, LOG_NAME, NULL);

        journal->attachments_path = g_build_filename(state_dir, "instances", NULL);
        journal->migrations_dir = g_build_filename(state_dir, "migrations", NULL);
        journal->on_disk = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        journal->next_id = 1;
        if (g_mkdir_with_parents(journal->migrations_dir, 0700) < 0) {
                nlc_error_set_errno(error, -errno, "cannot create %s", journal->migrations_dir);
                return NULL;
        }
        journal->log = nlc_journal_log_open(log_path, account_entry, journal, error);
        if (!journal->log || !import_record_files(journal, state_dir, error))
                return NULL;
        /* Damaged entries were reported and set aside: rewritten without
         * them, so the next start does not report them again. */
        if (nlc_journal_log_get_damaged(journal->log) > 0) {
                g_autoptr(GError) local = NULL;

                if (!compact(journal, &local))
                        g_warning("journal: cannot rewrite %s: %s", log_path, local->message);
        }
        return g_steal_pointer(&journal);
}

void
nlc_journal_set_fsync(NlcJournal *journal, gboolean fsync)
{
        (void) journal;
        durable_writes = fsync;
}

void
nlc_journal_free(NlcJournal *journal)
{
        if (!journal)
                return;
        nlc_journal_log_free(journal->log);
        g_free(journal->attachments_path);
        g_free(journal->migrations_dir);
        g_clear_pointer(&journal->on_disk, g_hash_table_unref);
        g_clear_pointer(&journal->batch_on_disk, g_hash_table_unref);
        if (journal->batch)
                g_string_free(journal->batch, TRUE);
        g_free(journal);
}

static gboolean
same_on_disk(GHashTable *table, const char *id, const guint8 *digest)
{
        const OnDisk *known = g_hash_table_lookup(table, id);

        return known && memcmp(known->digest, digest, DIGEST_LEN) == 0;
}

static gint
by_name(gconstpointer a, gconstpointer b)
{
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

gboolean
nlc_journal_write(NlcJournal *journal, const NlcJournalRecord *record, GError **error)
{
        return nlc_journal_write_full(journal, record, TRUE, error);
}

static char *
record_to_data(const NlcJournalRecord *record, gsize *len)
{
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_autofree char *options = NULL;

        g_key_file_set_string(kf, GROUP_DEVICE, "id", record->id);
        g_key_file_set_string(kf, GROUP_DEVICE, "instance", record->instance);
        g_key_file_set_string(kf, GROUP_DEVICE, "backend", record->backend);
        g_key_file_set_string(kf, GROUP_DEVICE, "mac", record->mac);
        g_key_file_set_string(kf, GROUP_DEVICE, "state", nlc_device_state_to_string(record->state));
        if (record->has_pending)
                g_key_file_set_string(kf, GROUP_DEVICE, "pending",
                                      nlc_op_to_string(record->pending));
        options = g_variant_print(record->options, TRUE);
        g_key_file_set_string(kf, GROUP_DEVICE, "options", options);
        g_key_file_set_int64(kf, GROUP_DEVICE, "allocated-usec", record->allocated_usec);
        if (record->activated_usec)
                g_key_file_set_int64(kf, GROUP_DEVICE, "activated-usec", record->activated_usec);
        if (record->activated_seq)
                g_key_file_set_uint64(kf, GROUP_DEVICE, "activated-seq", record->activated_seq);
        if (record->owner_uid)
                g_key_file_set_uint64(kf, GROUP_DEVICE, "owner-uid", record->owner_uid);
        if (record->props) {
                /* In name order: the same record, the same bytes. */
                g_autofree gpointer *keys = g_hash_table_get_keys_as_array(record->props, NULL);
                guint n = g_hash_table_size(record->props);

                qsort(keys, n, sizeof *keys, by_name);
                for (guint i = 0; i < n; i++)
                        g_key_file_set_string(kf, GROUP_BACKEND, keys[i],
                                              g_hash_table_lookup(record->props, keys[i]));
        }
        return g_key_file_to_data(kf, len, NULL);
}

gboolean
nlc_journal_write_full(NlcJournal *journal, const NlcJournalRecord *record, gboolean durable,
                       GError **error)
{
        gsize len;
        g_autofree char *data = record_to_data(record, &len);
        g_autofree char *payload = g_strdup_printf("put %s\n%s", record->id, data);
        gsize payload_len = strlen(payload);
        OnDisk now;

        digest_into(data, len, now.digest);
        now.bytes = (guint32) nlc_journal_log_entry_size(payload_len);
        if (journal->batch) {
                if (same_on_disk(journal->batch_on_disk, record->id, now.digest) ||
                    (!g_hash_table_contains(journal->batch_on_disk, record->id) &&
                     same_on_disk(journal->on_disk, record->id, now.digest)))
                        return TRUE;
                nlc_journal_log_frame(journal->batch, payload, payload_len);
                g_hash_table_insert(journal->batch_on_disk, g_strdup(record->id),
                                    g_memdup2(&now, sizeof now));
                journal->batch_durable |= durable;
                return TRUE;
        }
        if (same_on_disk(journal->on_disk, record->id, now.digest))
                return TRUE;
        /* A failed append is cut off again: the log still holds the record's
         * previous version, which on_disk describes. */
        if (!append_entry(journal, payload, payload_len, durable, error))
                return FALSE;
        on_disk_set(journal, record->id, &now);
        maybe_compact(journal);
        return TRUE;
}

void
nlc_journal_begin_batch(NlcJournal *journal)
{
        g_return_if_fail(!journal->batch);
        journal->batch_durable = FALSE;
        journal->batch = g_string_new(NULL);
        journal->batch_on_disk = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

/*
 * Every record of the batch with one write (and one fdatasync when one of
 * them must be durable): all of them reach the log or none does. Within the
 * batch a record written twice ends with its last version (replay order).
 */
gboolean
nlc_journal_commit_batch(NlcJournal *journal, GError **error)
{
        g_autoptr(GHashTable) committed = g_steal_pointer(&journal->batch_on_disk);
        GString *batch = g_steal_pointer(&journal->batch);
        gboolean ok;
        GHashTableIter iter;
        gpointer id, now;

        g_return_val_if_fail(batch, FALSE);
        ok = batch->len == 0 ||
             nlc_journal_log_append(journal->log, batch, durable_writes && journal->batch_durable,
                                    error);
        g_string_free(batch, TRUE);
        if (!ok)
                return FALSE;
        g_hash_table_iter_init(&iter, committed);
        while (g_hash_table_iter_next(&iter, &id, &now))
                on_disk_set(journal, id, now);
        maybe_compact(journal);
        return TRUE;
}

/* A "del" entry for @id appended (not fsynced), and @id forgotten. */
static gboolean
append_del(NlcJournal *journal, const char *id, GError **error)
{
        g_autofree char *payload = g_strdup_printf("del %s\n", id);

        if (!append_entry(journal, payload, strlen(payload), FALSE, error))
                return FALSE;
        on_disk_remove(journal, id);
        return TRUE;
}

gboolean
nlc_journal_remove(NlcJournal *journal, const char *id, GError **error)
{
        /* A removal does not wait for a batch: it would overtake its writes. */
        g_return_val_if_fail(!journal->batch, FALSE);

        if (!g_hash_table_contains(journal->on_disk, id))
                return TRUE;
        if (!append_del(journal, id, error))
                return FALSE;
        maybe_compact(journal);
        return TRUE;
}

void
nlc_journal_record_free(NlcJournalRecord *record)
{
        if (!record)
                return;
        g_free(record->id);
        g_free(record->instance);
        g_free(record->backend);
        g_free(record->mac);
        g_clear_pointer(&record->options, g_variant_unref);
        g_clear_pointer(&record->props, g_hash_table_unref);
        g_free(record);
}

static NlcJournalRecord *
parse_record(GKeyFile *kf, GError **error)
{
        g_autoptr(NlcJournalRecord) rec = g_new0(NlcJournalRecord, 1);
        g_autofree char *state = NULL;
        g_autofree char *pending = NULL;
        g_autofree char *options = NULL;
        g_auto(GStrv) keys = NULL;

        rec->id = g_key_file_get_string(kf, GROUP_DEVICE, "id", error);
        if (!rec->id)
                return NULL;
        rec->instance = g_key_file_get_string(kf, GROUP_DEVICE, "instance", error);
        rec->backend =
                rec->instance ? g_key_file_get_string(kf, GROUP_DEVICE, "backend", error) : NULL;
        rec->mac = rec->backend ? g_key_file_get_string(kf, GROUP_DEVICE, "mac", error) : NULL;
        state = rec->mac ? g_key_file_get_string(kf, GROUP_DEVICE, "state", error) : NULL;
        options = state ? g_key_file_get_string(kf, GROUP_DEVICE, "options", error) : NULL;
        if (!options)
                return NULL;
        if (!nlc_device_state_from_string(state, &rec->state)) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_FAILED, "unknown state '%s'", state);
                return NULL;
        }
        pending = g_key_file_get_string(kf, GROUP_DEVICE, "pending", NULL);
        if (pending) {
                if (!nlc_op_from_string(pending, &rec->pending)) {
                        g_set_error(error, NLC_ERROR, NLC_ERROR_FAILED,
                                    "unknown pending operation '%s'", pending);
                        return NULL;
                }
                rec->has_pending = TRUE;
        }
        rec->options = g_variant_parse(G_VARIANT_TYPE_VARDICT, options, NULL, NULL, error);
        if (!rec->options)
                return NULL;
        g_variant_ref_sink(rec->options);
        rec->allocated_usec = g_key_file_get_int64(kf, GROUP_DEVICE, "allocated-usec", NULL);
        rec->activated_usec = g_key_file_get_int64(kf, GROUP_DEVICE, "activated-usec", NULL);
        rec->activated_seq = g_key_file_get_uint64(kf, GROUP_DEVICE, "activated-seq", NULL);
        rec->owner_uid = (guint32) MIN(g_key_file_get_uint64(kf, GROUP_DEVICE, "owner-uid", NULL),
                                       G_MAXUINT32);
        rec->props = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        keys = g_key_file_get_keys(kf, GROUP_BACKEND, NULL, NULL);
        for (guint i = 0; keys && keys[i]; i++)
                g_hash_table_insert(rec->props, g_strdup(keys[i]),
                                    g_key_file_get_string(kf, GROUP_BACKEND, keys[i], NULL));
        return g_steal_pointer(&rec);
}

/* A record load cannot use: kept in the log's .corrupt file and deleted
 * from the log, so it is reported once and never silently dropped. */
static void
set_record_aside(NlcJournal *journal, const char *id, GBytes *payload, const char *why)
{
        g_autoptr(GError) error = NULL;
        gsize len;
        const char *data = g_bytes_get_data(payload, &len);

        nlc_journal_log_set_aside(journal->log, data, len, why);
        if (!append_del(journal, id, &error))
                g_warning("journal: record %s stays in the log: %s", id, error->message);
}

GPtrArray *
nlc_journal_load(NlcJournal *journal)
{
        GPtrArray *records =
                g_ptr_array_new_with_free_func((GDestroyNotify) nlc_journal_record_free);
        g_autoptr(GError) error = NULL;
        g_autoptr(GHashTable) live = collect_live(journal, &error);
        g_autofree const char **ids = NULL;
        guint n;

        if (!live) {
                g_warning("%s", error->message);
                return records;
        }
        ids = sorted_ids(live, &n);
        for (guint i = 0; i < n; i++) {
                GBytes *payload = g_hash_table_lookup(live, ids[i]);
                g_autoptr(GKeyFile) kf = g_key_file_new();
                g_autofree char *arg = NULL, *why = NULL;
                NlcJournalRecord *rec = NULL;
                const char *body;
                gsize len, body_len;
                const char *data = g_bytes_get_data(payload, &len);

                g_clear_error(&error);
                parse_entry(data, len, &arg, &body, &body_len);
                if (g_key_file_load_from_data(kf, body, body_len, G_KEY_FILE_NONE, &error))
                        rec = parse_record(kf, &error);
                if (!rec)
                        why = g_strdup_printf("record %s, unreadable (%s)", ids[i], error->message);
                else if (!g_str_equal(rec->id, ids[i]))
                        /* A copied entry would otherwise shadow another device. */
                        why = g_strdup_printf("record %s, which claims id %s", ids[i], rec->id);
                if (why) {
                        g_clear_pointer(&rec, nlc_journal_record_free);
                        set_record_aside(journal, ids[i], payload, why);
                        continue;
                }
                g_ptr_array_add(records, rec);
        }
        return records;
}

char *
nlc_journal_next_id(NlcJournal *journal, GError **error)
{
        guint64 id = journal->next_id;
        g_autofree char *payload = next_id_payload(id + 1);

        if (!append_entry(journal, payload, strlen(payload), TRUE, error))
                return NULL;
        journal->next_id = id + 1;
        maybe_compact(journal);
        return g_strdup_printf("%" G_GUINT64_FORMAT, id);
}

/* The per-instance file: one group per instance, a few keys each. */
static GKeyFile *
load_instances(NlcJournal *journal)
{
        GKeyFile *kf = g_key_file_new();

        g_key_file_load_from_file(kf, journal->attachments_path, G_KEY_FILE_NONE, NULL);
        return kf;
}

char *
nlc_journal_get_instance_key(NlcJournal *journal, const char *instance, const char *key)
{
        g_autoptr(GKeyFile) kf = load_instances(journal);

        return g_key_file_get_string(kf, instance, key, NULL);
}

gboolean
nlc_journal_set_instance_key(NlcJournal *journal, const char *instance, const char *key,
                             const char *value, GError **error)
{
        g_autoptr(GKeyFile) kf = load_instances(journal);
        g_autofree char *data = NULL;
        gsize len;

        if (value)
                g_key_file_set_string(kf, instance, key, value);
        else
                g_key_file_remove_key(kf, instance, key, NULL);
        if (g_key_file_has_group(kf, instance)) {
                g_auto(GStrv) keys = g_key_file_get_keys(kf, instance, NULL, NULL);

                if (!keys || !keys[0])
                        g_key_file_remove_group(kf, instance, NULL);
        }
        data = g_key_file_to_data(kf, &len, NULL);
        return write_file(journal->attachments_path, data, len, error);
}

GHashTable *
nlc_journal_load_attachments(NlcJournal *journal)
{
        GHashTable *all = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        g_autoptr(GKeyFile) kf = load_instances(journal);
        g_auto(GStrv) instances = g_key_file_get_groups(kf, NULL);

        for (guint i = 0; instances[i]; i++) {
                char *path = g_key_file_get_string(kf, instances[i], "qmp", NULL);

                if (path)
                        g_hash_table_insert(all, g_strdup(instances[i]), path);
        }
        return all;
}

gboolean
nlc_journal_set_attachment(NlcJournal *journal, const char *instance, const char *qmp_path,
                           GError **error)
{
        return nlc_journal_set_instance_key(journal, instance, "qmp", qmp_path, error);
}

static char *
migration_path(NlcJournal *journal, const char *id)
{
        g_autofree char *name = g_strconcat(id, ".migration", NULL);

        return g_build_filename(journal->migrations_dir, name, NULL);
}

gboolean
nlc_journal_write_migration(NlcJournal *journal, const char *id, GKeyFile *kf, GError **error)
{
        g_autofree char *path = migration_path(journal, id);
        gsize len;
        g_autofree char *data = g_key_file_to_data(kf, &len, NULL);

        return write_file(path, data, len, error);
}

gboolean
nlc_journal_remove_migration(NlcJournal *journal, const char *id, GError **error)
{
        g_autofree char *path = migration_path(journal, id);

        if (g_unlink(path) < 0 && errno != ENOENT)
                return nlc_error_set_errno(error, -errno, "journal: cannot remove %s", path);
        return TRUE;
}

GPtrArray *
nlc_journal_load_migrations(NlcJournal *journal)
{
        GPtrArray *all = g_ptr_array_new_with_free_func((GDestroyNotify) g_key_file_unref);
        g_autoptr(GDir) dir = g_dir_open(journal->migrations_dir, 0, NULL);
        const char *name;

        while (dir && (name = g_dir_read_name(dir))) {
                g_autofree char *path = g_build_filename(journal->migrations_dir, name, NULL);
                g_autoptr(GKeyFile) kf = g_key_file_new();
                g_autoptr(GError) error = NULL;

                if (!g_str_has_suffix(name, ".migration"))
                        continue;
                if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &error)) {
                        g_warning("journal: %s is unreadable (%s); ignored", path, error->message);
                        continue;
                }
                g_ptr_array_add(all, g_steal_pointer(&kf));
        }
        return all;
}
