/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One function per QMP command the migration driver uses, on NlcQmp. Each
 * builds its arguments; every one finishes with nlc_qmp_command_finish()
 * (QEMU's "return" value) unless it has a typed finish of its own.
 * Nothing newer than QEMU 7.2 is sent unless nlc_qmp_probe found it.
 */
#pragma once

#include "nlc-qmp.h"

G_BEGIN_DECLS

/* What QEMU offers, probed once per connection. */
typedef struct {
        guint version;            /* major*10000 + minor*100 + micro */
        GHashTable *capabilities; /* migration capability names QEMU knows */
} NlcQmpProbe;

void nlc_qmp_probe_free(NlcQmpProbe *probe);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlcQmpProbe, nlc_qmp_probe_free)
gboolean nlc_qmp_probe_has(const NlcQmpProbe *probe, const char *capability);

/* query-version, then query-migrate-capabilities. */
void nlc_qmp_probe_async(NlcQmp *qmp, GCancellable *c, GAsyncReadyCallback cb, gpointer data);
NlcQmpProbe *nlc_qmp_probe_finish(NlcQmp *qmp, GAsyncResult *result, GError **error);

typedef struct {
        const char *name;
        gboolean state;
} NlcQmpCapability;

JsonNode *nlc_qmp_command_finish(NlcQmp *qmp, GAsyncResult *result, GError **error);

void nlc_qmp_migrate_set_capabilities(NlcQmp *qmp, const NlcQmpCapability *caps, guint n,
                                      GCancellable *c, GAsyncReadyCallback cb, gpointer data);
/* @parameters: {"max-bandwidth": ..., ...}; its reference is taken. */
void nlc_qmp_migrate_set_parameters(NlcQmp *qmp, JsonObject *parameters, GCancellable *c,
                                    GAsyncReadyCallback cb, gpointer data);
void nlc_qmp_migrate(NlcQmp *qmp, const char *uri, GCancellable *c, GAsyncReadyCallback cb,
                     gpointer data);
void nlc_qmp_migrate_incoming(NlcQmp *qmp, const char *uri, GCancellable *c, GAsyncReadyCallback cb,
                              gpointer data);
void nlc_qmp_migrate_start_postcopy(NlcQmp *qmp, GCancellable *c, GAsyncReadyCallback cb,
                                    gpointer data);
void nlc_qmp_migrate_cancel(NlcQmp *qmp, GCancellable *c, GAsyncReadyCallback cb, gpointer data);
/* Destination side of post-copy recovery. */
void nlc_qmp_migrate_recover(NlcQmp *qmp, const char *uri, GCancellable *c, GAsyncReadyCallback cb,
                             gpointer data);
/* Source side: migrate with resume=true after migrate-recover. */
void nlc_qmp_migrate_resume(NlcQmp *qmp, const char *uri, GCancellable *c, GAsyncReadyCallback cb,
                            gpointer data);
/* Leaves the pre-switchover pause (capability pause-before-switchover). */
void nlc_qmp_migrate_continue(NlcQmp *qmp, const char *state, GCancellable *c,
                              GAsyncReadyCallback cb, gpointer data);
void nlc_qmp_query_migrate(NlcQmp *qmp, GCancellable *c, GAsyncReadyCallback cb, gpointer data);
void nlc_qmp_query_status(NlcQmp *qmp, GCancellable *c, GAsyncReadyCallback cb, gpointer data);
/* Announce rounds: QEMU 4.0+ announce-self with its parameters. */
void nlc_qmp_announce_self(NlcQmp *qmp, guint rounds, guint initial_ms, guint max_ms, guint step_ms,
                           GCancellable *c, GAsyncReadyCallback cb, gpointer data);
void nlc_qmp_cont(NlcQmp *qmp, GCancellable *c, GAsyncReadyCallback cb, gpointer data);
void nlc_qmp_stop(NlcQmp *qmp, GCancellable *c, GAsyncReadyCallback cb, gpointer data);

G_END_DECLS
