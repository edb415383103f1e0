/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An append-only log file of framed entries. Each entry is a header line
 * "nlc1 <length, 8 hex> <digest, 16 hex>\n" and then <length> bytes of
 * payload; the digest (the first 8 bytes of the payload's MD5) tells an
 * entry a crash cut short or the disk damaged from a whole one.
 *
 * Why a log and not a file per record: replacing a record file atomically
 * costs a new inode, a rename and ext4's writeback on every rename over an
 * existing file (auto_da_alloc), per state change; an append is one write()
 * to a file that is already open. The log is rewritten with only what is
 * live (compaction) when it has grown to several times that.
 */
#pragma once

#include <glib.h>

typedef struct _NlcJournalLog NlcJournalLog;

/* Called for each intact entry, in the order they were written; FALSE: the
 * entry is of no use to the caller (at open it is then set aside and
 * counted with the damaged ones). */
typedef gboolean (*NlcJournalLogEntryFunc)(const char *payload, gsize len, gpointer user_data);

/*
 * Opens @path (created if missing), reads every entry through @func and
 * leaves the file open for appending. What cannot be read is never dropped
 * silently: a damaged entry followed by whole ones is copied to
 * @path.corrupt and skipped; a tail that is not a whole entry (a write a
 * crash cut short) is copied there too and cut off the log, so the next
 * append follows the last good entry. Each is reported in the log.
 */
NlcJournalLog *nlc_journal_log_open(const char *path, NlcJournalLogEntryFunc func,
                                    gpointer user_data, GError **error);
void nlc_journal_log_free(NlcJournalLog *log);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlcJournalLog, nlc_journal_log_free)

/* Reads the entries again through @func (for a compaction). */
gboolean nlc_journal_log_replay(NlcJournalLog *log, NlcJournalLogEntryFunc func, gpointer user_data,
                                GError **error);

/* Appends one framed entry with @payload to @out (it takes
 * nlc_journal_log_entry_size(@len) bytes). */
void nlc_journal_log_frame(GString *out, const char *payload, gsize len);

/* All of @data written to @fd (EINTR retried): 0 or -errno. Also the
 * journal's whole-file writes. */
int nlc_journal_log_write_all(int fd, const char *data, gsize len);

/* Appends @framed (whole entries from nlc_journal_log_frame) with one
 * write(), then fdatasync() when @sync. All or nothing: a write that fails
 * half way is cut off again before this returns. */
gboolean nlc_journal_log_append(NlcJournalLog *log, const GString *framed, gboolean sync,
                                GError **error);

/* Replaces the whole log with @framed: a temporary file, fsynced when
 * @sync, renamed over the log (and the directory fsynced). */
gboolean nlc_journal_log_rewrite(NlcJournalLog *log, const GString *framed, gboolean sync,
                                 GError **error);

/* The bytes an entry with a payload of @len takes in the log. */
gsize nlc_journal_log_entry_size(gsize len);

/* Copies @data, which the caller cannot use, to the .corrupt file next to
 * the log, and says so with @why in the log. */
void nlc_journal_log_set_aside(NlcJournalLog *log, const char *data, gsize len, const char *why);

/* How many entries open set aside amid whole ones (damaged, or refused by
 * its @func); they stay in the file until it is rewritten. */
guint nlc_journal_log_get_damaged(NlcJournalLog *log);

/* Bytes in the log file now. */
guint64 nlc_journal_log_size(NlcJournalLog *log);
