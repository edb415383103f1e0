/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The journal: device records in one append-only log,
 * <state-dir>/devices.log (see nlc-journal-log.h), written before every
 * reply that reports a change; migrations and per-instance settings in
 * files of their own, replaced atomically. Durability policy: see
 * nlc_journal_write_full() and README "Durability".
 */
#pragma once

#include <glib.h>

#include "nlc-enums.h"

typedef struct {
        char *id;
        char *instance;
        char *backend;
        char *mac;
        NlcDeviceState state;
        /* The operation in flight, written before the kernel is touched; a
         * record that still has one after a crash is rolled forward. */
        gboolean has_pending;
        NlcOp pending;
        GVariant *options; /* a{sv} as the caller gave them */
        GHashTable *props; /* the backend's fields */
        gint64 allocated_usec;
        /* When the device last became active, and that activation's number
         * in the MAC registry's sequence: after a crash in the middle of a
         * handover, the latest activation keeps the MAC (by the sequence; the
         * time only for records of before it). */
        gint64 activated_usec;
        guint64 activated_seq;
        /* The uid that owns the device's instance (who allocated its first
         * device); 0 (root) for records of before ownership. */
        guint32 owner_uid;
} NlcJournalRecord;

typedef struct _NlcJournal NlcJournal;

NlcJournal *nlc_journal_open(const char *state_dir, GError **error);
void nlc_journal_free(NlcJournal *journal);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlcJournal, nlc_journal_free)

/* TRUE (the default): durable writes are fsynced before they return, so a
 * reply means the change survives a host crash. FALSE: none is; every write
 * is still whole in the file before it returns, so a daemon crash or kill -9
 * loses nothing, but the host's page cache decides when it reaches the
 * disk. */
void nlc_journal_set_fsync(NlcJournal *journal, gboolean fsync);

/* The record's new version appended to the log (nothing when the log
 * already holds these bytes); fdatasynced when the journal is durable. */
gboolean nlc_journal_write(NlcJournal *journal, const NlcJournalRecord *record, GError **error);
/* The same; @durable FALSE: appended, never fsynced — for what a host crash
 * takes away with the kernel objects anyway (state changes). */
gboolean nlc_journal_write_full(NlcJournal *journal, const NlcJournalRecord *record,
                                gboolean durable, GError **error);
gboolean nlc_journal_remove(NlcJournal *journal, const char *id, GError **error);
/* Group commit of device records: nlc_journal_write between the two only
 * collects; commit appends them all with one write (and one fdatasync when
 * one must be durable), all or none. */
void nlc_journal_begin_batch(NlcJournal *journal);
gboolean nlc_journal_commit_batch(NlcJournal *journal, GError **error);
/* Every readable record, in id order. A record that cannot be parsed is
 * copied to devices.log.corrupt, deleted from the log and reported, never
 * silently dropped. */
GPtrArray *nlc_journal_load(NlcJournal *journal);
/* A device id never handed out before, persisted before it is returned. */
char *nlc_journal_next_id(NlcJournal *journal, GError **error);

/* Per-instance settings (<state-dir>/instances): @value NULL removes @key. */
gboolean nlc_journal_set_instance_key(NlcJournal *journal, const char *instance, const char *key,
                                      const char *value, GError **error);
char *nlc_journal_get_instance_key(NlcJournal *journal, const char *instance, const char *key);

/* Which QMP socket each instance's guest is followed through
 * (Manager.AttachQemu); @qmp_path NULL forgets the instance. */
gboolean nlc_journal_set_attachment(NlcJournal *journal, const char *instance, const char *qmp_path,
                                    GError **error);
/* instance → QMP socket path. */
GHashTable *nlc_journal_load_attachments(NlcJournal *journal);

/* Migrations, one key file each under <state-dir>/migrations/, written
 * atomically like device records. */
gboolean nlc_journal_write_migration(NlcJournal *journal, const char *id, GKeyFile *kf,
                                     GError **error);
gboolean nlc_journal_remove_migration(NlcJournal *journal, const char *id, GError **error);
/* Every readable migration record (GKeyFile), unordered. */
GPtrArray *nlc_journal_load_migrations(NlcJournal *journal);

void nlc_journal_record_free(NlcJournalRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlcJournalRecord, nlc_journal_record_free)
