/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nlc-error.h"
#include "nlc-journal-log.h"

#define MAGIC     "nlc1 "
#define MAGIC_LEN 5
/* "nlc1 " + 8 hex + " " + 16 hex + "\n" */
#define HEADER_LEN (MAGIC_LEN + 8 + 1 + 16 + 1)
/* No record comes near this; a larger length is a damaged header. */
#define MAX_PAYLOAD (16u << 20)

struct _NlcJournalLog {
        char *path;
        char *corrupt_path;
        int fd;
        guint64 size; /* where the last whole entry ends */
        /* A failed write could not be cut off again: do that before the
         * next append, or it would follow the remains. */
        gboolean needs_truncate;
        guint damaged; /* entries set aside at open */
};

static guint64
digest64(const char *data, gsize len)
{
        g_autoptr(GChecksum) md5 = g_checksum_new(G_CHECKSUM_MD5);
        guint8 d[16];
        gsize n = sizeof d;
        guint64 v = 0;

        g_checksum_update(md5, (const guchar *) data, (gssize) len);
        g_checksum_get_digest(md5, d, &n);
        for (int i = 0; i < 8; i++)
                v = v << 8 | d[i];
        return v;
}

void
nlc_journal_log_frame(GString *out, const char *payload, gsize len)
{
        g_string_append_printf(out, MAGIC "%08x %016" G_GINT64_MODIFIER "x\n", (guint) len,
                               digest64(payload, len));
        g_string_append_len(out, payload, (gssize) len);
}

int
nlc_journal_log_write_all(int fd, const char *data, gsize len)
{
        gsize done = 0;

        while (done < len) {
                ssize_t n = write(fd, data + done, len - done);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                done += (gsize) n;
        }
        return 0;
}

static gboolean
parse_hex(const char *p, int digits, guint64 *out)
{
        guint64 v = 0;

        for (int i = 0; i < digits; i++) {
                int x = g_ascii_xdigit_value(p[i]);

                if (x < 0)
                        return FALSE;
                v = v << 4 | (guint64) x;
        }
        *out = v;
        return TRUE;
}

/* The payload length and digest of the header at @p, if it is one. */
static gboolean
parse_header(const char *p, gsize avail, guint64 *len, guint64 *digest)
{
        return avail >= HEADER_LEN && memcmp(p, MAGIC, MAGIC_LEN) == 0 && p[MAGIC_LEN + 8] == ' ' &&
               p[HEADER_LEN - 1] == '\n' && parse_hex(p + MAGIC_LEN, 8, len) &&
               *len <= MAX_PAYLOAD && parse_hex(p + MAGIC_LEN + 9, 16, digest);
}

/* Keeps bytes the log could not use next to it, for a human to look at;
 * @what says what they are. */
static void
set_aside(NlcJournalLog *log, const char *data, gsize len, const char *what)
{
        int fd = open(log->corrupt_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        gboolean saved = fd >= 0 && nlc_journal_log_write_all(fd, data, len) == 0;

        if (fd >= 0)
                close(fd);
        g_warning("journal: %s: %s; %s %s", log->path, what,
                  saved ? "copied to" : "COULD NOT be copied to", log->corrupt_path);
}

static void
set_aside_at(NlcJournalLog *log, const char *data, gsize len, gsize offset, const char *why)
{
        g_autofree char *what = g_strdup_printf(
                "%" G_GSIZE_FORMAT " bytes at offset %" G_GSIZE_FORMAT " are %s", len, offset, why);

        set_aside(log, data, len, what);
}

/*
 * Calls @func for each intact entry of @data; returns where the whole
 * entries end. With @report, a damaged entry in the middle is set aside.
 */
static gsize
read_entries(NlcJournalLog *log, const char *data, gsize size, gboolean report,
             NlcJournalLogEntryFunc func, gpointer user_data)
{
        gsize off = 0;

        while (off < size) {
                guint64 len, digest;
                gsize next;

                if (!parse_header(data + off, size - off, &len, &digest) ||
                    len > size - off - HEADER_LEN)
                        break;
                next = off + HEADER_LEN + len;
                if (digest64(data + off + HEADER_LEN, len) != digest) {
                        if (next == size)
                                break; /* the last write, cut short */
                        if (report) {
                                set_aside_at(log, data + off, next - off, off, "a damaged entry");
                                log->damaged++;
                        }
                } else if (!func(data + off + HEADER_LEN, len, user_data) && report) {
                        set_aside_at(log, data + off, next - off, off, "an entry of no known use");
                        log->damaged++;
                }
                off = next;
        }
        return off;
}

static gboolean
read_all(NlcJournalLog *log, char **data, gsize *size, GError **error)
{
        g_autoptr(GError) local = NULL;

        if (g_file_get_contents(log->path, data, size, &local))
                return TRUE;
        g_set_error(error, NLC_ERROR, NLC_ERROR_FAILED, "journal: %s", local->message);
        return FALSE;
}

/* Temporaries of a rewrite a crash interrupted. */
static void
remove_temporaries(const char *path)
{
        g_autofree char *dir = g_path_get_dirname(path);
        g_autofree char *prefix =
                g_strconcat(strrchr(path, '/') ? strrchr(path, '/') + 1 : path, ".tmp-", NULL);
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        const char *name;

        while (d && (name = g_dir_read_name(d))) {
                if (g_str_has_prefix(name, prefix)) {
                        g_autofree char *tmp = g_build_filename(dir, name, NULL);

                        g_unlink(tmp);
                }
        }
}

NlcJournalLog *
nlc_journal_log_open(const char *path, NlcJournalLogEntryFunc func, gpointer user_data,
                     GError **error)
{
        g_autoptr(NlcJournalLog) log = g_new0(NlcJournalLog, 1);
        g_autofree char *data = NULL;
        gsize size = 0, end;

        log->path = g_strdup(path);
        log->corrupt_path = g_strconcat(path, ".corrupt", NULL);
        log->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (log->fd < 0) {
                nlc_error_set_errno(error, -errno, "journal: cannot open %s", path);
                return NULL;
        }
        remove_temporaries(path);
        if (!read_all(log, &data, &size, error))
                return NULL;
        end = read_entries(log, data, size, TRUE, func, user_data);
        if (end < size) {
                set_aside_at(log, data + end, size - end, end,
                             "not a whole entry (a write cut short)");
                if (ftruncate(log->fd, (off_t) end) < 0) {
                        nlc_error_set_errno(error, -errno, "journal: cannot cut %s short", path);
                        return NULL;
                }
        }
        log->size = end;
        return g_steal_pointer(&log);
}

void
nlc_journal_log_free(NlcJournalLog *log)
{
        if (!log)
                return;
        if (log->fd >= 0)
                close(log->fd);
        g_free(log->path);
        g_free(log->corrupt_path);
        g_free(log);
}

gboolean
nlc_journal_log_replay(NlcJournalLog *log, NlcJournalLogEntryFunc func, gpointer user_data,
                       GError **error)
{
        g_autofree char *data = NULL;
        gsize size = 0;

        if (!read_all(log, &data, &size, error))
                return FALSE;
        /* The whole file: a second reader of the same directory (a test's
         * view of what the next start reads) sees what others appended. */
        read_entries(log, data, size, FALSE, func, user_data);
        return TRUE;
}

/* Cuts the file back to its last whole entry. */
static void
cut_back(NlcJournalLog *log)
{
        log->needs_truncate = ftruncate(log->fd, (off_t) log->size) < 0;
}

gboolean
nlc_journal_log_append(NlcJournalLog *log, const GString *framed, gboolean sync, GError **error)
{
        int r;

        if (log->needs_truncate) {
                cut_back(log);
                if (log->needs_truncate)
                        return nlc_error_set_errno(error, -errno,
                                                   "journal: cannot cut %s back after a failed "
                                                   "write",
                                                   log->path);
        }
        r = nlc_journal_log_write_all(log->fd, framed->str, framed->len);
        if (r == 0 && sync && fdatasync(log->fd) < 0)
                r = -errno;
        if (r < 0) {
                cut_back(log);
                return nlc_error_set_errno(error, r, "journal: cannot append to %s", log->path);
        }
        log->size += framed->len;
        return TRUE;
}

static int
sync_dir_of(const char *path)
{
        g_autofree char *dir = g_path_get_dirname(path);
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int r;

        if (fd < 0)
                return -errno;
        r = fsync(fd) < 0 ? -errno : 0;
        close(fd);
        return r;
}

gboolean
nlc_journal_log_rewrite(NlcJournalLog *log, const GString *framed, gboolean sync, GError **error)
{
        g_autofree char *tmp = g_strconcat(log->path, ".tmp-XXXXXX", NULL);
        /* Opened for appending: after the rename it is the log's fd. */
        int fd = g_mkstemp_full(tmp, O_WRONLY | O_APPEND | O_CLOEXEC, 0600);
        int r;

        if (fd < 0)
                return nlc_error_set_errno(error, -errno, "journal: cannot create %s", tmp);
        r = nlc_journal_log_write_all(fd, framed->str, framed->len);
        if (r == 0 && sync && fsync(fd) < 0)
                r = -errno;
        if (r == 0 && g_rename(tmp, log->path) < 0)
                r = -errno;
        if (r < 0) {
                close(fd);
                g_unlink(tmp);
                return nlc_error_set_errno(error, r, "journal: cannot rewrite %s", log->path);
        }
        close(log->fd);
        log->fd = fd;
        log->size = framed->len;
        log->needs_truncate = FALSE;
        /* The new log is in place either way; until the directory is
         * synced, a host crash could bring the old file back. */
        if (sync && (r = sync_dir_of(log->path)) < 0)
                g_warning("journal: cannot sync the directory of %s: %s", log->path,
                          g_strerror(-r));
        return TRUE;
}

gsize
nlc_journal_log_entry_size(gsize len)
{
        return HEADER_LEN + len;
}

void
nlc_journal_log_set_aside(NlcJournalLog *log, const char *data, gsize len, const char *why)
{
        set_aside(log, data, len, why);
}

guint
nlc_journal_log_get_damaged(NlcJournalLog *log)
{
        return log->damaged;
}

guint64
nlc_journal_log_size(NlcJournalLog *log)
{
        return log->size;
}
