/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The agent's libvirt side: libvirt's default event loop in a thread of its
 * own, the connection (opened, kept alive, reopened every second after it
 * closes) and the domain events, handed to the main context as plain data.
 * Every callback below runs in the thread that called
 * nlc_libvirt_events_start(), from its thread-default main context. Blocking
 * libvirt calls (open, list, state, post-copy) run in worker threads.
 */
#pragma once

#include <gio/gio.h>

#define NLC_LIBVIRT_ERROR (nlc_libvirt_error_quark())
/* GError domain for libvirt's errors; the code is libvirt's virErrorNumber. */
GQuark nlc_libvirt_error_quark(void);

typedef enum {
        NLC_LIBVIRT_EVENT_LIFECYCLE,
        NLC_LIBVIRT_EVENT_ITERATION,
} NlcLibvirtEventKind;

typedef struct {
        NlcLibvirtEventKind kind;
        char *name;
        char *uuid;
        int event;       /* LIFECYCLE: virDomainEventType */
        int detail;      /* LIFECYCLE: its detail */
        guint iteration; /* ITERATION */
        guint seq;       /* order in which libvirt delivered the events, from 1 */
} NlcLibvirtEvent;

typedef struct {
        char *name;
        char *uuid;
        int state;  /* virDomainState */
        int reason; /* its reason */
        /* Events up to this seq were delivered before the state was read:
         * an event with a higher seq may be newer than the state. */
        guint seq;
} NlcLibvirtDomainState;

typedef struct {
        /* A domain event. */
        void (*event)(const NlcLibvirtEvent *event, gpointer user_data);
        /* The active domains, after each (re)connection and after
         * nlc_libvirt_events_reconcile(); (NlcLibvirtDomainState *) each. */
        void (*domains)(GPtrArray *domains, gpointer user_data);
        /* The connection closed; reconnecting runs. */
        void (*disconnected)(gpointer user_data);
} NlcLibvirtCallbacks;

typedef struct _NlcLibvirtEvents NlcLibvirtEvents;

/* Registers libvirt's default event implementation (once per process: call
 * before any other libvirt function), starts its thread and connects to @uri,
 * retrying every second until that works. */
NlcLibvirtEvents *nlc_libvirt_events_start(const char *uri, const NlcLibvirtCallbacks *callbacks,
                                           gpointer user_data);

/* Lists the active domains again (callbacks->domains) if connected. */
void nlc_libvirt_events_reconcile(NlcLibvirtEvents *self);

/* virDomainMigrateStartPostCopy(@uuid) in a worker thread. */
void nlc_libvirt_events_start_postcopy(NlcLibvirtEvents *self, const char *uuid,
                                       GAsyncReadyCallback callback, gpointer user_data);
gboolean nlc_libvirt_events_start_postcopy_finish(GAsyncResult *result, GError **error);

/* Whether @uuid still has a job (a migration) running, in a worker thread;
 * FALSE with an error when the domain is gone or libvirt does not answer. */
void nlc_libvirt_events_job_active(NlcLibvirtEvents *self, const char *uuid,
                                   GAsyncReadyCallback callback, gpointer user_data);
gboolean nlc_libvirt_events_job_active_finish(GAsyncResult *result, GError **error);

/* Deregisters, closes the connection and stops the event thread. */
void nlc_libvirt_events_stop(NlcLibvirtEvents *self);

void nlc_libvirt_domain_state_free(NlcLibvirtDomainState *state);
