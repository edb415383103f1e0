/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvirt delivers events only from its event loop. Its default loop runs in
 * a thread of ours; the callbacks copy the domain's name and UUID into an
 * NlcLibvirtEvent and attach an idle source to the main context, so the
 * agent never sees a libvirt object outside a worker. Idle sources of one
 * priority run in the order they were attached: events reach the agent in
 * libvirt's order, and a domain list taken after an event comes after it.
 */
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdlib.h>

#include "nlc-libvirt-events.h"

#define RECONNECT_INTERVAL_S 1
/* libvirt's keepalive: a probe every 5 s, the connection closed after 3
 * unanswered ones (a dead libvirtd or host is noticed in ~20 s). */
#define KEEPALIVE_INTERVAL_S 5
#define KEEPALIVE_COUNT      3

struct _NlcLibvirtEvents {
        char *uri;
        NlcLibvirtCallbacks callbacks;
        gpointer user_data;
        GMainContext *context;
        GThread *thread;
        gint quit; /* atomic: the event thread leaves its loop */
        gint seq;  /* atomic: the last event's seq */

        /* The rest belongs to the main context. */
        virConnectPtr conn;
        int lifecycle_id;
        int iteration_id;
        guint generation; /* of the connection opened last */
        guint closed_generation;
        guint pending; /* workers that use this object */
        gboolean connecting;
        gboolean listing;
        gboolean list_again;
        gboolean failure_logged;
        gboolean stopping;
        guint retry_id;
};

GQuark
nlc_libvirt_error_quark(void)
{
        return g_quark_from_static_string("nlc-libvirt-error-quark");
}

static void
set_error_from_libvirt(GError **error, const char *what)
{
        virErrorPtr e = virGetLastError();

        g_set_error(error, NLC_LIBVIRT_ERROR, e != NULL ? e->code : VIR_ERR_INTERNAL_ERROR,
                    "%s: %s", what, e != NULL && e->message != NULL ? e->message : "failed");
}

/* libvirt prints every error on stderr unless told otherwise; the agent logs
 * the ones that matter itself. */
static void
quiet_error(void *opaque, virErrorPtr error)
{
}

void
nlc_libvirt_domain_state_free(NlcLibvirtDomainState *state)
{
        if (state == NULL)
                return;
        g_free(state->name);
        g_free(state->uuid);
        g_free(state);
}

/* --- the event thread ---------------------------------------------------- */

typedef struct {
        NlcLibvirtEvents *self;
        NlcLibvirtEvent event;
} PostedEvent;

typedef struct {
        NlcLibvirtEvents *self;
        guint generation;
} CloseData;

static void
posted_event_free(gpointer data)
{
        PostedEvent *p = data;

        g_free(p->event.name);
        g_free(p->event.uuid);
        g_free(p);
}

static gboolean
posted_event_dispatch(gpointer data)
{
        PostedEvent *p = data;

        if (!p->self->stopping)
                p->self->callbacks.event(&p->event, p->self->user_data);
        return G_SOURCE_REMOVE;
}

static void
post(GMainContext *context, GSourceFunc func, gpointer data, GDestroyNotify destroy)
{
        GSource *source = g_idle_source_new();

        g_source_set_priority(source, G_PRIORITY_DEFAULT);
        g_source_set_callback(source, func, data, destroy);
        g_source_attach(source, context);
        g_source_unref(source);
}

static void
post_event(NlcLibvirtEvents *self, virDomainPtr dom, NlcLibvirtEvent *template)
{
        PostedEvent *p = g_new0(PostedEvent, 1);
        char uuid[VIR_UUID_STRING_BUFLEN] = "";

        p->self = self;
        p->event = *template;
        p->event.name = g_strdup(virDomainGetName(dom));
        virDomainGetUUIDString(dom, uuid);
        p->event.uuid = g_strdup(uuid);
        p->event.seq = (guint) g_atomic_int_add(&self->seq, 1) + 1;
        post(self->context, posted_event_dispatch, p, posted_event_free);
}

static int
on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
        NlcLibvirtEvent e = { .kind = NLC_LIBVIRT_EVENT_LIFECYCLE,
                              .event = event,
                              .detail = detail };

        post_event(opaque, dom, &e);
        return 0;
}

static void
on_iteration(virConnectPtr conn, virDomainPtr dom, int iteration, void *opaque)
{
        NlcLibvirtEvent e = { .kind = NLC_LIBVIRT_EVENT_ITERATION,
                              .iteration = (guint) MAX(iteration, 0) };

        post_event(opaque, dom, &e);
}

static void schedule_connect(NlcLibvirtEvents *self, guint seconds);
static void drop_connection(NlcLibvirtEvents *self);

static gboolean
closed_dispatch(gpointer data)
{
        CloseData *c = data;
        NlcLibvirtEvents *self = c->self;

        if (self->stopping || c->generation != self->generation)
                return G_SOURCE_REMOVE;
        if (self->conn == NULL) {
                /* Closed before the opening worker handed it over. */
                self->closed_generation = c->generation;
                return G_SOURCE_REMOVE;
        }
        g_message("libvirt connection to %s closed; reconnecting every %d s", self->uri,
                  RECONNECT_INTERVAL_S);
        self->failure_logged = TRUE;
        drop_connection(self);
        self->callbacks.disconnected(self->user_data);
        schedule_connect(self, RECONNECT_INTERVAL_S);
        return G_SOURCE_REMOVE;
}

static void
on_close(virConnectPtr conn, int reason, void *opaque)
{
        CloseData *c = g_memdup2(opaque, sizeof(CloseData));

        post(c->self->context, closed_dispatch, c, g_free);
}

static void
wake(int timer, void *opaque)
{
        virEventRemoveTimeout(timer);
}

static gpointer
event_thread(gpointer data)
{
        NlcLibvirtEvents *self = data;

        while (!g_atomic_int_get(&self->quit)) {
                if (virEventRunDefaultImpl() < 0) {
                        virErrorPtr e = virGetLastError();

                        g_warning("libvirt event loop: %s",
                                  e != NULL && e->message != NULL ? e->message : "failed");
                        g_usleep(G_USEC_PER_SEC / 10);
                }
        }
        return NULL;
}

/* --- workers ------------------------------------------------------------- */

typedef struct {
        NlcLibvirtEvents *self;
        virConnectPtr conn;
        char *uuid;
        guint generation;
} Work;

static void
work_free(gpointer data)
{
        Work *w = data;

        if (w->conn != NULL)
                virConnectClose(w->conn);
        g_free(w->uuid);
        g_free(w);
}

static Work *
work_new(NlcLibvirtEvents *self, const char *uuid)
{
        Work *w = g_new0(Work, 1);

        w->self = self;
        if (self->conn != NULL && virConnectRef(self->conn) == 0)
                w->conn = self->conn;
        w->uuid = g_strdup(uuid);
        w->generation = self->generation;
        return w;
}

static GPtrArray *
list_domains(NlcLibvirtEvents *self, virConnectPtr conn, GError **error)
{
        g_autoptr(GPtrArray) states =
                g_ptr_array_new_with_free_func((GDestroyNotify) nlc_libvirt_domain_state_free);
        virDomainPtr *doms = NULL;
        int n = virConnectListAllDomains(conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);

        if (n < 0) {
                set_error_from_libvirt(error, "listing the active domains");
                return NULL;
        }
        for (int i = 0; i < n; i++) {
                char uuid[VIR_UUID_STRING_BUFLEN] = "";
                guint seq = (guint) g_atomic_int_get(&self->seq);
                int state, reason;

                /* On a migration's destination this waits while libvirt
                 * holds the domain (its hooks, Prepare): seconds. */
                if (virDomainGetState(doms[i], &state, &reason, 0) == 0) {
                        NlcLibvirtDomainState *s = g_new0(NlcLibvirtDomainState, 1);

                        virDomainGetUUIDString(doms[i], uuid);
                        s->name = g_strdup(virDomainGetName(doms[i]));
                        s->uuid = g_strdup(uuid);
                        s->state = state;
                        s->reason = reason;
                        s->seq = seq;
                        g_ptr_array_add(states, s);
                } else {
                        virErrorPtr e = virGetLastError();

                        /* Gone since the list, most likely. */
                        g_debug("%s: no state: %s", virDomainGetName(doms[i]),
                                e != NULL && e->message != NULL ? e->message : "failed");
                }
                virDomainFree(doms[i]);
        }
        free(doms);
        return g_steal_pointer(&states);
}

typedef struct {
        virConnectPtr conn;
        int lifecycle_id;
        int iteration_id;
        GPtrArray *states;
} Connected;

static void
connection_close(virConnectPtr conn, int lifecycle_id, int iteration_id)
{
        /* On a closed connection these fail at once; nothing to report. */
        if (lifecycle_id >= 0)
                virConnectDomainEventDeregisterAny(conn, lifecycle_id);
        if (iteration_id >= 0)
                virConnectDomainEventDeregisterAny(conn, iteration_id);
        virConnectUnregisterCloseCallback(conn, on_close);
        virConnectClose(conn);
}

static void
connected_free(gpointer data)
{
        Connected *c = data;

        if (c->conn != NULL)
                connection_close(c->conn, c->lifecycle_id, c->iteration_id);
        if (c->states != NULL)
                g_ptr_array_unref(c->states);
        g_free(c);
}

/* Opens the connection, registers for the events, then lists the domains
 * (events first: nothing falls between the two). FALSE with @error at the
 * first step that fails; @c holds what was made, for connected_free(). */
static gboolean
open_and_register(Work *w, Connected *c, GError **error)
{
        CloseData close_data = { w->self, w->generation };

        c->conn = virConnectOpen(w->self->uri);
        if (c->conn == NULL) {
                set_error_from_libvirt(error, "connecting");
                return FALSE;
        }
        if (virConnectSetKeepAlive(c->conn, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT) < 0)
                g_debug("libvirt keepalive not set: %s", virGetLastErrorMessage());
        if (virConnectRegisterCloseCallback(
                    c->conn, on_close, g_memdup2(&close_data, sizeof(close_data)), g_free) < 0) {
                set_error_from_libvirt(error, "registering a close callback");
                return FALSE;
        }
        c->lifecycle_id = virConnectDomainEventRegisterAny(
                c->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), w->self, NULL);
        if (c->lifecycle_id < 0) {
                set_error_from_libvirt(error, "registering for lifecycle events");
                return FALSE;
        }
        c->iteration_id = virConnectDomainEventRegisterAny(
                c->conn, NULL, VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION,
                VIR_DOMAIN_EVENT_CALLBACK(on_iteration), w->self, NULL);
        if (c->iteration_id < 0) {
                set_error_from_libvirt(error, "registering for migration iteration events");
                return FALSE;
        }
        c->states = list_domains(w->self, c->conn, error);
        return c->states != NULL;
}

static void
connect_in_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
        Connected *c = g_new0(Connected, 1);
        GError *error = NULL;

        c->lifecycle_id = -1;
        c->iteration_id = -1;
        if (!open_and_register(data, c, &error)) {
                connected_free(c);
                g_task_return_error(task, error);
                return;
        }
        g_task_return_pointer(task, c, connected_free);
}

static void list_start(NlcLibvirtEvents *self);

static void
connect_done(GObject *source, GAsyncResult *result, gpointer data)
{
        NlcLibvirtEvents *self = data;
        Work *w = g_task_get_task_data(G_TASK(result));
        g_autoptr(GError) error = NULL;
        Connected *c = g_task_propagate_pointer(G_TASK(result), &error);
        g_autoptr(GPtrArray) states = NULL;

        self->pending--;
        self->connecting = FALSE;
        if (self->stopping) {
                if (c != NULL)
                        connected_free(c);
                return;
        }
        if (c != NULL && self->closed_generation == w->generation) {
                connected_free(c);
                c = NULL;
                g_set_error(&error, NLC_LIBVIRT_ERROR, VIR_ERR_INTERNAL_ERROR,
                            "connection closed at once");
        }
        if (c == NULL) {
                if (!self->failure_logged)
                        g_message("libvirt at %s: %s; retrying every %d s", self->uri,
                                  error->message, RECONNECT_INTERVAL_S);
                else
                        g_debug("libvirt at %s: %s", self->uri, error->message);
                self->failure_logged = TRUE;
                schedule_connect(self, RECONNECT_INTERVAL_S);
                return;
        }
        if (self->failure_logged)
                g_message("libvirt at %s: connected", self->uri);
        self->failure_logged = FALSE;
        self->conn = g_steal_pointer(&c->conn);
        self->lifecycle_id = c->lifecycle_id;
        self->iteration_id = c->iteration_id;
        states = g_steal_pointer(&c->states);
        connected_free(c);
        self->callbacks.domains(states, self->user_data);
        if (self->list_again)
                list_start(self);
}

static gboolean
connect_now(gpointer data)
{
        NlcLibvirtEvents *self = data;
        g_autoptr(GTask) task = g_task_new(NULL, NULL, connect_done, self);

        self->retry_id = 0;
        self->connecting = TRUE;
        self->generation++;
        self->pending++;
        g_task_set_task_data(task, work_new(self, NULL), work_free);
        g_task_run_in_thread(task, connect_in_thread);
        return G_SOURCE_REMOVE;
}

static void
schedule_connect(NlcLibvirtEvents *self, guint seconds)
{
        if (self->retry_id == 0 && !self->connecting)
                self->retry_id = g_timeout_add_seconds(seconds, connect_now, self);
}

static void
drop_connection(NlcLibvirtEvents *self)
{
        if (self->conn == NULL)
                return;
        connection_close(self->conn, self->lifecycle_id, self->iteration_id);
        self->conn = NULL;
        self->lifecycle_id = -1;
        self->iteration_id = -1;
}

static void
list_in_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
        Work *w = data;
        GError *error = NULL;
        GPtrArray *states = list_domains(w->self, w->conn, &error);

        if (states == NULL)
                g_task_return_error(task, error);
        else
                g_task_return_pointer(task, states, (GDestroyNotify) g_ptr_array_unref);
}

static void
list_done(GObject *source, GAsyncResult *result, gpointer data)
{
        NlcLibvirtEvents *self = data;
        Work *w = g_task_get_task_data(G_TASK(result));
        g_autoptr(GError) error = NULL;
        g_autoptr(GPtrArray) states = g_task_propagate_pointer(G_TASK(result), &error);

        self->pending--;
        self->listing = FALSE;
        if (self->stopping || w->generation != self->generation || self->conn == NULL)
                return; /* a new connection lists its domains itself */
        if (states == NULL)
                g_message("libvirt at %s: %s", self->uri, error->message);
        else
                self->callbacks.domains(states, self->user_data);
        if (self->list_again)
                list_start(self);
}

static void
list_start(NlcLibvirtEvents *self)
{
        g_autoptr(GTask) task = NULL;

        self->list_again = FALSE;
        task = g_task_new(NULL, NULL, list_done, self);
        self->listing = TRUE;
        self->pending++;
        g_task_set_task_data(task, work_new(self, NULL), work_free);
        g_task_run_in_thread(task, list_in_thread);
}

void
nlc_libvirt_events_reconcile(NlcLibvirtEvents *self)
{
        if (self->conn == NULL)
                return; /* (re)connecting lists them */
        if (self->listing) {
                self->list_again = TRUE;
                return;
        }
        list_start(self);
}

/* The domain @w names on @w's connection, or NULL with @error. */
static virDomainPtr
lookup_domain(Work *w, GError **error)
{
        virDomainPtr dom;

        if (w->conn == NULL) {
                g_set_error(error, NLC_LIBVIRT_ERROR, VIR_ERR_NO_CONNECT,
                            "not connected to libvirt");
                return NULL;
        }
        dom = virDomainLookupByUUIDString(w->conn, w->uuid);
        if (dom == NULL)
                set_error_from_libvirt(error, "looking the domain up");
        return dom;
}

/* Runs @func (a blocking libvirt call on one domain) in a worker thread. */
static void
run_for_domain(NlcLibvirtEvents *self, const char *uuid, GTaskThreadFunc func,
               GAsyncReadyCallback callback, gpointer user_data)
{
        g_autoptr(GTask) task = g_task_new(NULL, NULL, callback, user_data);

        g_task_set_task_data(task, work_new(self, uuid), work_free);
        g_task_run_in_thread(task, func);
}

static void
postcopy_in_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
        GError *error = NULL;
        virDomainPtr dom = lookup_domain(data, &error);

        if (dom != NULL) {
                if (virDomainMigrateStartPostCopy(dom, 0) < 0)
                        set_error_from_libvirt(&error, "virDomainMigrateStartPostCopy");
                virDomainFree(dom);
        }
        if (error != NULL)
                g_task_return_error(task, error);
        else
                g_task_return_boolean(task, TRUE);
}

void
nlc_libvirt_events_start_postcopy(NlcLibvirtEvents *self, const char *uuid,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
        run_for_domain(self, uuid, postcopy_in_thread, callback, user_data);
}

gboolean
nlc_libvirt_events_start_postcopy_finish(GAsyncResult *result, GError **error)
{
        return g_task_propagate_boolean(G_TASK(result), error);
}

static void
job_in_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
        GError *error = NULL;
        virDomainJobInfo info = { 0 };
        virDomainPtr dom = lookup_domain(data, &error);

        if (dom != NULL) {
                if (virDomainGetJobInfo(dom, &info) < 0)
                        set_error_from_libvirt(&error, "virDomainGetJobInfo");
                virDomainFree(dom);
        }
        if (error != NULL)
                g_task_return_error(task, error);
        else
                g_task_return_boolean(task, info.type != VIR_DOMAIN_JOB_NONE);
}

void
nlc_libvirt_events_job_active(NlcLibvirtEvents *self, const char *uuid,
                              GAsyncReadyCallback callback, gpointer user_data)
{
        run_for_domain(self, uuid, job_in_thread, callback, user_data);
}

gboolean
nlc_libvirt_events_job_active_finish(GAsyncResult *result, GError **error)
{
        return g_task_propagate_boolean(G_TASK(result), error);
}

/* --- start and stop ------------------------------------------------------ */

NlcLibvirtEvents *
nlc_libvirt_events_start(const char *uri, const NlcLibvirtCallbacks *callbacks, gpointer user_data)
{
        NlcLibvirtEvents *self = g_new0(NlcLibvirtEvents, 1);

        self->uri = g_strdup(uri);
        self->callbacks = *callbacks;
        self->user_data = user_data;
        self->context = g_main_context_ref_thread_default();
        self->lifecycle_id = -1;
        self->iteration_id = -1;

        if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0)
                g_error("libvirt: cannot initialize its event loop");
        virSetErrorFunc(NULL, quiet_error);
        self->thread = g_thread_new("libvirt-events", event_thread, self);
        connect_now(self);
        return self;
}

void
nlc_libvirt_events_stop(NlcLibvirtEvents *self)
{
        int timer;

        if (self == NULL)
                return;
        self->stopping = TRUE;
        g_clear_handle_id(&self->retry_id, g_source_remove);
        drop_connection(self);

        g_atomic_int_set(&self->quit, 1);
        timer = virEventAddTimeout(0, wake, NULL, NULL);
        if (timer >= 0)
                g_thread_join(self->thread);
        /* Else the thread stays in its poll() until the process exits. */

        /* A worker still opening or listing uses this object; its result
         * will not be dispatched any more (the loop has ended), so the
         * object is left to the process's exit. */
        if (self->pending > 0 || timer < 0)
                return;
        g_main_context_unref(self->context);
        g_free(self->uri);
        g_free(self);
}
