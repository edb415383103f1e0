/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE /* syncfs */
#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nlc-error.h"
#include "nlc-journal.h"

#define GROUP_DEVICE  "device"
#define GROUP_BACKEND "backend"

struct _NlcJournal {
        gboolean fsync;
        char *devices_dir;
        char *next_id_path;
        char *attachments_path;
        char *migrations_dir;
        guint64 next_id;
        /* Record id → MD5 of the bytes on disk: a write that would put the
         * same bytes there again is skipped. A restart verifies every
         * device and rewrites its record; unchanged, that was one fsync per
         * device for nothing. (MD5 only tells equal from changed here.) */
        GHashTable *on_disk;
        /* Between begin_batch and commit_batch: device records written to
         * temporary files, not yet renamed into place (JournalPending), and
         * whether one of them must be durable. */
        GArray *batch;
        gboolean batch_durable;
};

typedef struct {
        char *id;
        char *tmp;
        char *path;
} JournalPending;

/* Whether writes are fsynced: one process-wide policy, set at start. */
static gboolean durable_writes = TRUE;

/* @data in a new temporary file next to @path (returned), not synced. */
static char *
write_temp(const char *path, const char *data, gsize len, GError **error)
{
        g_autofree char *tmp = g_strconcat(path, ".XXXXXX", NULL);
        int fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0600);
        gsize done = 0;

        if (fd < 0) {
                nlc_error_set_errno(error, -errno, "journal: cannot create %s", tmp);
                return NULL;
        }
        while (done < len) {
                ssize_t n = write(fd, data + done, len - done);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int e = errno;

                        close(fd);
                        g_unlink(tmp);
                        nlc_error_set_errno(error, -e, "journal: cannot write %s", tmp);
                        return NULL;
                }
                done += (gsize) n;
        }
        close(fd);
        return g_steal_pointer(&tmp);
}

/* Atomic replace without fsync: a temporary file renamed over the record.
 * (GLib's "consistent" mode still fsyncs when it replaces a file.) */
static gboolean
write_file_no_fsync(const char *path, const char *data, gsize len, GError **error)
{
        g_autofree char *tmp = write_temp(path, data, len, error);

        if (!tmp)
                return FALSE;
        if (g_rename(tmp, path) < 0) {
                int e = errno;

                g_unlink(tmp);
                return nlc_error_set_errno(error, -e, "journal: cannot replace %s", path);
        }
        return TRUE;
}

static gboolean
write_file_full(const char *path, const char *data, gsize len, gboolean durable, GError **error)
{
        g_autoptr(GError) local = NULL;

        if (!durable_writes || !durable)
                return write_file_no_fsync(path, data, len, error);
        if (g_file_set_contents_full(path, data, (gssize) len,
                                     G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                     0600, &local))
                return TRUE;
        g_set_error(error, NLC_ERROR, NLC_ERROR_FAILED, "journal: %s", local->message);
        return FALSE;
}

static gboolean
write_file(const char *path, const char *data, gsize len, GError **error)
{
        return write_file_full(path, data, len, TRUE, error);
}

NlcJournal *
nlc_journal_open(const char *state_dir, GError **error)
{
        g_autoptr(NlcJournal) journal = g_new0(NlcJournal, 1);
        g_autofree char *contents = NULL;

        journal->devices_dir = g_build_filename(state_dir, "devices", NULL);
        journal->next_id_path = g_build_filename(state_dir, "next-id", NULL);
        journal->attachments_path = g_build_filename(state_dir, "instances", NULL);
        journal->migrations_dir = g_build_filename(state_dir, "migrations", NULL);
        if (g_mkdir_with_parents(journal->migrations_dir, 0700) < 0) {
                nlc_error_set_errno(error, -errno, "cannot create %s", journal->migrations_dir);
                return NULL;
        }
        if (g_mkdir_with_parents(journal->devices_dir, 0700) < 0) {
                nlc_error_set_errno(error, -errno, "cannot create %s", journal->devices_dir);
                return NULL;
        }
        journal->on_disk = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        journal->next_id = 1;
        if (g_file_get_contents(journal->next_id_path, &contents, NULL, NULL))
                journal->next_id = MAX(1, g_ascii_strtoull(contents, NULL, 10));
        return g_steal_pointer(&journal);
}

void
nlc_journal_set_fsync(NlcJournal *journal, gboolean fsync)
{
        journal->fsync = fsync;
        durable_writes = fsync;
}

void
nlc_journal_free(NlcJournal *journal)
{
        if (!journal)
                return;
        g_free(journal->devices_dir);
        g_free(journal->next_id_path);
        g_free(journal->attachments_path);
        g_free(journal->migrations_dir);
        g_clear_pointer(&journal->on_disk, g_hash_table_unref);
        g_clear_pointer(&journal->batch, g_array_unref);
        g_free(journal);
}

#define DIGEST_LEN 16

static guint8 *
digest_of(const char *data, gsize len)
{
        g_autoptr(GChecksum) md5 = g_checksum_new(G_CHECKSUM_MD5);
        guint8 *digest = g_malloc(DIGEST_LEN);
        gsize digest_len = DIGEST_LEN;

        g_checksum_update(md5, (const guchar *) data, (gssize) len);
        g_checksum_get_digest(md5, digest, &digest_len);
        return digest;
}

static gboolean
same_on_disk(NlcJournal *journal, const char *id, const guint8 *digest)
{
        const guint8 *known = g_hash_table_lookup(journal->on_disk, id);

        return known && memcmp(known, digest, DIGEST_LEN) == 0;
}

static gint
by_name(gconstpointer a, gconstpointer b)
{
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static char *
record_path(NlcJournal *journal, const char *id)
{
        g_autofree char *name = g_strconcat(id, ".device", NULL);

        return g_build_filename(journal->devices_dir, name, NULL);
}

static void
pending_clear(gpointer data)
{
        JournalPending *p = data;

        g_free(p->id);
        g_free(p->tmp);
        g_free(p->path);
}

gboolean
nlc_journal_write(NlcJournal *journal, const NlcJournalRecord *record, GError **error)
{
        return nlc_journal_write_full(journal, record, TRUE, error);
}

gboolean
nlc_journal_write_full(NlcJournal *journal, const NlcJournalRecord *record, gboolean durable,
                       GError **error)
{
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_autofree char *path = record_path(journal, record->id);
        g_autofree char *options = NULL;
        g_autofree char *data = NULL;
        g_autofree guint8 *digest = NULL;
        gsize len;

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
        if (record->props) {
                /* In name order: the same record, the same bytes. */
                g_autofree gpointer *keys = g_hash_table_get_keys_as_array(record->props, NULL);
                guint n = g_hash_table_size(record->props);

                qsort(keys, n, sizeof *keys, by_name);
                for (guint i = 0; i < n; i++)
                        g_key_file_set_string(kf, GROUP_BACKEND, keys[i],
                                              g_hash_table_lookup(record->props, keys[i]));
        }
        data = g_key_file_to_data(kf, &len, NULL);
        digest = digest_of(data, len);
        if (same_on_disk(journal, record->id, digest))
                return TRUE;
        if (journal->batch) {
                /* (Two statements: an initializer's order is unspecified.) */
                char *tmp = write_temp(path, data, len, error);
                JournalPending p = { g_strdup(record->id), tmp, g_steal_pointer(&path) };

                if (!tmp) {
                        g_hash_table_remove(journal->on_disk, record->id);
                        pending_clear(&p);
                        return FALSE;
                }
                g_array_append_val(journal->batch, p);
                journal->batch_durable |= durable;
        } else if (!write_file_full(path, data, len, durable, error)) {
                /* What is on disk now is unknown. */
                g_hash_table_remove(journal->on_disk, record->id);
                return FALSE;
        }
        g_hash_table_insert(journal->on_disk, g_strdup(record->id), g_steal_pointer(&digest));
        return TRUE;
}

void
nlc_journal_begin_batch(NlcJournal *journal)
{
        g_return_if_fail(!journal->batch);
        journal->batch_durable = FALSE;
        journal->batch = g_array_new(FALSE, FALSE, sizeof(JournalPending));
        g_array_set_clear_func(journal->batch, pending_clear);
}

/* fsync of a directory: makes the renames in it durable. */
static int
sync_path(const char *dir, gboolean whole_filesystem)
{
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int r;

        if (fd < 0)
                return -errno;
        r = whole_filesystem ? syncfs(fd) : fsync(fd);
        r = r < 0 ? -errno : 0;
        close(fd);
        return r;
}

/*
 * One syncfs makes every temporary file of the batch durable (instead of one
 * fsync each), then the renames put them in place in write order (a record
 * written twice ends with its last version) and one fsync of the directory
 * makes the renames durable. A failure leaves the records already renamed in
 * place and the rest unwritten; the caller sees the error.
 */
gboolean
nlc_journal_commit_batch(NlcJournal *journal, GError **error)
{
        g_autoptr(GArray) batch = g_steal_pointer(&journal->batch);
        gboolean durable = durable_writes && journal->batch_durable;
        int r = 0;
        guint i = 0;

        g_return_val_if_fail(batch, FALSE);
        if (batch->len && durable && (r = sync_path(journal->devices_dir, TRUE)) < 0)
                nlc_error_set_errno(error, r, "journal: cannot sync %s", journal->devices_dir);
        for (; r == 0 && i < batch->len; i++) {
                JournalPending *p = &g_array_index(batch, JournalPending, i);

                if (g_rename(p->tmp, p->path) < 0) {
                        r = -errno;
                        nlc_error_set_errno(error, r, "journal: cannot replace %s", p->path);
                        break;
                }
        }
        /* What was not renamed is not on disk: forget its digest. */
        for (guint j = i; j < batch->len; j++) {
                JournalPending *p = &g_array_index(batch, JournalPending, j);

                g_unlink(p->tmp);
                g_hash_table_remove(journal->on_disk, p->id);
        }
        if (r == 0 && batch->len && durable && (r = sync_path(journal->devices_dir, FALSE)) < 0)
                nlc_error_set_errno(error, r, "journal: cannot sync %s", journal->devices_dir);
        return r == 0;
}

gboolean
nlc_journal_remove(NlcJournal *journal, const char *id, GError **error)
{
        g_autofree char *path = record_path(journal, id);

        /* A removal does not wait for a batch: it would overtake its writes. */
        g_return_val_if_fail(!journal->batch, FALSE);

        g_hash_table_remove(journal->on_disk, id);
        if (g_unlink(path) < 0 && errno != ENOENT)
                return nlc_error_set_errno(error, -errno, "journal: cannot remove %s", path);
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
        rec->props = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        keys = g_key_file_get_keys(kf, GROUP_BACKEND, NULL, NULL);
        for (guint i = 0; keys && keys[i]; i++)
                g_hash_table_insert(rec->props, g_strdup(keys[i]),
                                    g_key_file_get_string(kf, GROUP_BACKEND, keys[i], NULL));
        return g_steal_pointer(&rec);
}

GPtrArray *
nlc_journal_load(NlcJournal *journal)
{
        GPtrArray *records =
                g_ptr_array_new_with_free_func((GDestroyNotify) nlc_journal_record_free);
        g_autoptr(GDir) dir = g_dir_open(journal->devices_dir, 0, NULL);
        const char *name;

        while (dir && (name = g_dir_read_name(dir))) {
                g_autofree char *path = g_build_filename(journal->devices_dir, name, NULL);
                g_autoptr(GKeyFile) kf = g_key_file_new();
                g_autoptr(GError) error = NULL;
                g_autofree char *contents = NULL;
                NlcJournalRecord *rec = NULL;
                gsize len = 0;

                if (strstr(name, ".device.") && !g_str_has_suffix(name, ".corrupt")) {
                        g_unlink(path); /* the temporary of a write a crash cut short */
                        continue;
                }
                if (!g_str_has_suffix(name, ".device"))
                        continue; /* set-aside records */
                if (g_file_get_contents(path, &contents, &len, &error) &&
                    g_key_file_load_from_data(kf, contents, len, G_KEY_FILE_NONE, &error))
                        rec = parse_record(kf, &error);
                if (!rec) {
                        g_autofree char *aside = g_strconcat(path, ".corrupt", NULL);

                        g_warning("journal: %s is unreadable (%s); moved to %s", path,
                                  error->message, aside);
                        g_rename(path, aside);
                        continue;
                }
                /* The id in the file must match its name: a copied file would
                 * otherwise shadow another device. */
                if (!g_str_equal(name, rec->id) &&
                    !(g_str_has_prefix(name, rec->id) &&
                      g_str_equal(name + strlen(rec->id), ".device"))) {
                        g_warning("journal: %s claims id %s; ignored", path, rec->id);
                        nlc_journal_record_free(rec);
                        continue;
                }
                g_hash_table_insert(journal->on_disk, g_strdup(rec->id), digest_of(contents, len));
                g_ptr_array_add(records, rec);
        }
        return records;
}

char *
nlc_journal_next_id(NlcJournal *journal, GError **error)
{
        guint64 id = journal->next_id;
        g_autofree char *data = g_strdup_printf("%" G_GUINT64_FORMAT "\n", id + 1);

        if (!write_file(journal->next_id_path, data, strlen(data), error))
                return NULL;
        journal->next_id = id + 1;
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
