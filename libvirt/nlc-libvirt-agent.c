/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * netlifecd-libvirt-agent: follows libvirt's domain events on this host and
 * tells the local netlifecd when a guest's devices must hold or drop its MAC.
 *
 * The instance of a domain is the netlifecd instance named like the domain
 * (libvirt's qemu hook adopts the taps at "start" with Manager.Notify).
 *   - RESUMED (any detail) → Instance.Activate: the guest runs here (a
 *     destination at the switchover, a source taking the guest back after a
 *     failed migration, a plain unpause).
 *   - SUSPENDED for a migration (MIGRATED, POSTCOPY) → Instance.Deactivate:
 *     the source stopped at the switchover; its bridge must let the MAC go.
 *   - Anything else: nothing. A domain without an instance (NotFound) is not
 *     managed by netlifecd and is skipped.
 * Events of one domain are applied in order, one D-Bus call at a time. At
 * start and after each reconnection to libvirt (or to netlifecd) the active
 * domains' states are applied the same way, so a restart loses nothing.
 *
 * Post-copy: on the source, at MIGRATION_ITERATION events, the agent asks
 * libvirt to switch to post-copy after --postcopy-after-passes passes, once
 * per migration; with --destination-bus only once the destination's
 * netlifecd says the instance is Ready, re-checked every 100 ms.
 *
 * libvirt access: read access to domains (events, list, state, job info) and
 * domain:migrate for virDomainMigrateStartPostCopy; on a host with polkit
 * ACLs (access_drivers = ["polkit"]) org.libvirt.api.domain.read and
 * org.libvirt.api.domain.migrate. The agent needs a read-write connection.
 * netlifecd access: Manager.GetInstance, Instance.Activate and Deactivate
 * (root or the netlifecd group, see org.netlifecd1.conf); on the
 * destination's bus only property reads, which anyone may do.
 */
#include <glib-unix.h>
#include <locale.h>
#include <stdio.h>

#include "config.h"
#include "nlc-libvirt-destination.h"
#include "nlc-libvirt-events.h"
#include "nlc-libvirt-policy.h"

#define BUS_NAME        "org.netlifecd1"
#define MANAGER_PATH    "/org/netlifecd1"
#define MANAGER_IFACE   "org.netlifecd1.Manager"
#define INSTANCE_IFACE  "org.netlifecd1.Instance"
#define ERROR_NOT_FOUND "org.netlifecd1.Error.NotFound"
#define HOLD_RECHECK_MS 100
/* While holding, every this many re-checks ask libvirt whether the
 * migration still runs: a cancelled migration sends no lifecycle event. */
#define HOLD_JOB_CHECK_EVERY 10
/* A destination check that does not answer in this time counts as not
 * ready. */
#define DESTINATION_TIMEOUT_MS 2000

typedef enum {
        POSTCOPY_IDLE,       /* no request in this migration yet */
        POSTCOPY_CHECKING,   /* asking the destination */
        POSTCOPY_HOLDING,    /* the destination is not ready; re-checking */
        POSTCOPY_REQUESTING, /* virDomainMigrateStartPostCopy runs */
        POSTCOPY_DONE,       /* requested, refused for good, or switched over */
} PostcopyState;

typedef struct _Agent Agent;

typedef struct {
        NlcLibvirtAction action;
        char *what; /* the event, for the log: "resumed (post-copy)" */
} Pending;

typedef struct {
        Agent *agent;
        char *name;
        char *uuid;
        GQueue pending; /* of Pending: the head's call is in flight when busy */
        gboolean busy;
        guint last_action_seq; /* seq of the latest event that queued an action */
        gboolean gone;         /* stopped or undefined */

        PostcopyState postcopy;
        guint migration; /* bumped whenever post-copy state is reset */
        guint hold_id;
        guint hold_ticks;
        gboolean hold_logged;
        GCancellable *check;
        guint check_timeout_id;
        gboolean check_timed_out;
} Domain;

struct _Agent {
        GMainLoop *loop;
        GDBusConnection *bus;
        NlcLibvirtDestination *destination;
        NlcLibvirtEvents *events;
        char *uri;
        guint passes;
        gboolean postcopy;
        GHashTable *domains; /* name → Domain */
        gboolean ready_logged;
        gboolean netlifecd_absent;
        gboolean listing;
};

/* A reply's way back to its domain: looked up by name, since the domain may
 * have been forgotten meanwhile. */
typedef struct {
        Agent *agent;
        char *name;
        guint migration;
} Call;

static Call *
call_new(Domain *d)
{
        Call *c = g_new0(Call, 1);

        c->agent = d->agent;
        c->name = g_strdup(d->name);
        c->migration = d->migration;
        return c;
}

static void
call_free(Call *c)
{
        g_free(c->name);
        g_free(c);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Call, call_free)

static Domain *
call_domain(Call *c)
{
        return g_hash_table_lookup(c->agent->domains, c->name);
}

/* The domain of @c while @c's migration is still the domain's and its
 * post-copy is still @state; NULL when the answer came too late. */
static Domain *
call_current(Call *c, PostcopyState state)
{
        Domain *d = call_domain(c);

        return d != NULL && d->migration == c->migration && d->postcopy == state ? d : NULL;
}

static void
pending_free(Pending *p)
{
        g_free(p->what);
        g_free(p);
}

static void
postcopy_cancel(Domain *d)
{
        g_clear_handle_id(&d->hold_id, g_source_remove);
        g_clear_handle_id(&d->check_timeout_id, g_source_remove);
        if (d->check != NULL) {
                g_cancellable_cancel(d->check);
                g_clear_object(&d->check);
        }
        d->hold_ticks = 0;
        d->hold_logged = FALSE;
        d->migration++;
}

static void
domain_free(Domain *d)
{
        postcopy_cancel(d);
        g_queue_clear_full(&d->pending, (GDestroyNotify) pending_free);
        g_free(d->name);
        g_free(d->uuid);
        g_free(d);
}

static Domain *
domain_get(Agent *a, const char *name, const char *uuid)
{
        Domain *d = g_hash_table_lookup(a->domains, name);

        if (d == NULL) {
                d = g_new0(Domain, 1);
                d->agent = a;
                d->name = g_strdup(name);
                g_queue_init(&d->pending);
                g_hash_table_insert(a->domains, d->name, d);
        }
        if (uuid != NULL && g_strcmp0(d->uuid, uuid) != 0) {
                g_free(d->uuid);
                d->uuid = g_strdup(uuid);
        }
        return d;
}

/* A stopped domain is forgotten once nothing of it is under way; not while
 * a domain list is being taken, whose entries are checked against the
 * domain's last event. */
static void
domain_maybe_forget(Domain *d)
{
        if (!d->gone || d->busy || !g_queue_is_empty(&d->pending) || d->agent->listing)
                return;
        if (d->postcopy == POSTCOPY_CHECKING || d->postcopy == POSTCOPY_HOLDING ||
            d->postcopy == POSTCOPY_REQUESTING)
                return;
        g_hash_table_remove(d->agent->domains, d->name);
}

/* --- the domain's queue of Activate/Deactivate --------------------------- */

static void domain_next(Domain *d);

static void
action_done(Domain *d, const char *outcome, gboolean debug)
{
        Pending *p = g_queue_pop_head(&d->pending);
        const char *method = nlc_libvirt_action_to_string(p->action);

        if (debug)
                g_debug("%s: %s -> %s: %s", d->name, p->what, method, outcome);
        else
                g_message("%s: %s -> %s: %s", d->name, p->what, method, outcome);
        pending_free(p);
        d->busy = FALSE;
        domain_next(d);
}

static void
action_replied(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(Call) c = data;
        Domain *d = call_domain(c);
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply =
                g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
        g_autofree char *why = NULL;

        if (d == NULL)
                return;
        if (reply == NULL)
                why = nlc_libvirt_dbus_error_describe(error);
        action_done(d, why != NULL ? why : "ok", FALSE);
}

static void
instance_found(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(Call) c = data;
        Domain *d = call_domain(c);
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply =
                g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
        g_autofree char *remote = NULL;
        g_autofree char *why = NULL;
        g_autofree char *outcome = NULL;
        const char *path;
        Pending *p;

        if (d == NULL)
                return;
        if (reply == NULL) {
                remote = g_dbus_error_get_remote_error(error);
                if (g_strcmp0(remote, ERROR_NOT_FOUND) == 0) {
                        action_done(d, "no netlifecd instance (not managed)", TRUE);
                        return;
                }
                why = nlc_libvirt_dbus_error_describe(error);
                outcome = g_strdup_printf("GetInstance: %s", why);
                action_done(d, outcome, FALSE);
                return;
        }
        g_variant_get(reply, "(&o)", &path);
        p = g_queue_peek_head(&d->pending);
        g_dbus_connection_call(d->agent->bus, BUS_NAME, path, INSTANCE_IFACE,
                               nlc_libvirt_action_to_string(p->action), NULL, G_VARIANT_TYPE("()"),
                               G_DBUS_CALL_FLAGS_NONE, -1, NULL, action_replied,
                               g_steal_pointer(&c));
}

static void
domain_next(Domain *d)
{
        if (d->busy)
                return;
        if (g_queue_is_empty(&d->pending)) {
                domain_maybe_forget(d);
                return;
        }
        d->busy = TRUE;
        g_dbus_connection_call(d->agent->bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "GetInstance",
                               g_variant_new("(s)", d->name), G_VARIANT_TYPE("(o)"),
                               G_DBUS_CALL_FLAGS_NONE, -1, NULL, instance_found, call_new(d));
}

static void
domain_push(Domain *d, NlcLibvirtAction action, const char *what)
{
        Pending *p = g_new0(Pending, 1);

        p->action = action;
        p->what = g_strdup(what);
        g_queue_push_tail(&d->pending, p);
        domain_next(d);
}

/* --- post-copy ----------------------------------------------------------- */

static void postcopy_check(Domain *d);

static void
postcopy_reset(Domain *d, PostcopyState state, const char *why)
{
        if (d->hold_logged)
                g_message("%s: holding post-copy: stopped (%s)", d->name, why);
        postcopy_cancel(d);
        d->postcopy = state;
}

static void
postcopy_requested(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(Call) c = data;
        Domain *d = call_domain(c);
        gboolean current = d != NULL && d->migration == c->migration;
        g_autoptr(GError) error = NULL;

        if (nlc_libvirt_events_start_postcopy_finish(result, &error)) {
                g_message("%s: post-copy requested: ok", c->name);
        } else if (nlc_libvirt_postcopy_refusal_is_final(error->code, error->message)) {
                /* Not started with post-copy, or already switched: asking
                 * again in this migration cannot succeed. */
                g_message("%s: post-copy requested: refused, not asking again in this "
                          "migration (%s)",
                          c->name, error->message);
        } else {
                g_message("%s: post-copy requested: %s (asking again at the next iteration)",
                          c->name, error->message);
                if (current)
                        d->postcopy = POSTCOPY_IDLE;
                return;
        }
        if (current)
                d->postcopy = POSTCOPY_DONE;
}

static void
postcopy_request(Domain *d)
{
        d->postcopy = POSTCOPY_REQUESTING;
        nlc_libvirt_events_start_postcopy(d->agent->events, d->uuid, postcopy_requested,
                                          call_new(d));
}

static gboolean hold_tick(gpointer data);

static void
job_checked(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(Call) c = data;
        Domain *d = call_current(c, POSTCOPY_HOLDING);
        g_autoptr(GError) error = NULL;
        gboolean active = nlc_libvirt_events_job_active_finish(result, &error);

        if (d == NULL)
                return;
        if (!active) {
                postcopy_reset(d, POSTCOPY_IDLE,
                               error != NULL ? error->message : "the migration is over");
                domain_maybe_forget(d);
                return;
        }
        postcopy_check(d);
}

static gboolean
hold_tick(gpointer data)
{
        Domain *d = data;

        d->hold_id = 0;
        if (++d->hold_ticks % HOLD_JOB_CHECK_EVERY == 0)
                nlc_libvirt_events_job_active(d->agent->events, d->uuid, job_checked, call_new(d));
        else
                postcopy_check(d);
        return G_SOURCE_REMOVE;
}

static void
destination_checked(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(Call) c = data;
        Domain *d = call_current(c, POSTCOPY_CHECKING);
        g_autoptr(GError) error = NULL;
        gboolean ready = nlc_libvirt_destination_check_finish(result, &error);

        if (d == NULL)
                return;
        g_clear_object(&d->check);
        g_clear_handle_id(&d->check_timeout_id, g_source_remove);
        if (ready) {
                if (d->hold_logged)
                        g_message("%s: holding post-copy: destination ready after %.1f s", d->name,
                                  d->hold_ticks * HOLD_RECHECK_MS / 1000.0);
                d->hold_logged = FALSE;
                postcopy_request(d);
                return;
        }
        if (!d->hold_logged) {
                g_message("%s: holding post-copy: destination not ready (%s)", d->name,
                          d->check_timed_out ? "no answer in 2 s" : error->message);
                d->hold_logged = TRUE;
        } else {
                g_debug("%s: destination still not ready (%s)", d->name,
                        d->check_timed_out ? "no answer in 2 s" : error->message);
        }
        d->postcopy = POSTCOPY_HOLDING;
        d->hold_id = g_timeout_add(HOLD_RECHECK_MS, hold_tick, d);
}

static gboolean
check_timed_out(gpointer data)
{
        Domain *d = data;

        d->check_timeout_id = 0;
        d->check_timed_out = TRUE;
        g_cancellable_cancel(d->check);
        return G_SOURCE_REMOVE;
}

static void
postcopy_check(Domain *d)
{
        d->postcopy = POSTCOPY_CHECKING;
        d->check = g_cancellable_new();
        d->check_timed_out = FALSE;
        d->check_timeout_id = g_timeout_add(DESTINATION_TIMEOUT_MS, check_timed_out, d);
        nlc_libvirt_destination_check(d->agent->destination, d->name, d->check, destination_checked,
                                      call_new(d));
}

static void
on_iteration(Domain *d, guint iteration)
{
        Agent *a = d->agent;
        gboolean already;

        if (iteration == 1)
                postcopy_reset(d, POSTCOPY_IDLE, "a new migration");
        if (!a->postcopy) {
                g_message("%s: iteration %u -> nothing (post-copy driving off)", d->name,
                          iteration);
                return;
        }
        already = d->postcopy != POSTCOPY_IDLE;
        if (!nlc_libvirt_postcopy_due(iteration, a->passes, already)) {
                if (already)
                        g_message("%s: iteration %u -> nothing (post-copy %s)", d->name, iteration,
                                  d->postcopy == POSTCOPY_DONE ? "done in this migration"
                                                               : "under way");
                else
                        g_message("%s: iteration %u -> nothing (post-copy after %u passes)",
                                  d->name, iteration, a->passes);
                return;
        }
        if (a->destination == NULL) {
                g_message("%s: iteration %u -> post-copy requested", d->name, iteration);
                postcopy_request(d);
                return;
        }
        g_message("%s: iteration %u -> post-copy due, checking the destination", d->name,
                  iteration);
        postcopy_check(d);
}

/* --- libvirt's side ------------------------------------------------------ */

static void
on_event(const NlcLibvirtEvent *e, gpointer data)
{
        Agent *a = data;
        Domain *d = domain_get(a, e->name, e->uuid);
        const char *what;
        NlcLibvirtAction action;

        if (e->kind == NLC_LIBVIRT_EVENT_ITERATION) {
                on_iteration(d, e->iteration);
                return;
        }
        what = nlc_libvirt_event_describe(e->event, e->detail);
        action = nlc_libvirt_lifecycle_action(e->event, e->detail);
        if (nlc_libvirt_lifecycle_ends_migration(e->event))
                postcopy_reset(
                        d, e->event == VIR_DOMAIN_EVENT_SUSPENDED ? POSTCOPY_DONE : POSTCOPY_IDLE,
                        what);
        d->gone = e->event == VIR_DOMAIN_EVENT_STOPPED || e->event == VIR_DOMAIN_EVENT_UNDEFINED;
        if (action != NLC_LIBVIRT_ACTION_NONE) {
                d->last_action_seq = e->seq;
                domain_push(d, action, what);
                return;
        }
        if (e->event == VIR_DOMAIN_EVENT_SUSPENDED || e->event == VIR_DOMAIN_EVENT_RESUMED)
                g_message("%s: %s -> nothing", d->name, what);
        else
                g_debug("%s: %s -> nothing", d->name, what);
        domain_maybe_forget(d);
}

static void
on_domains(GPtrArray *states, gpointer data)
{
        Agent *a = data;
        GHashTableIter iter;
        Domain *d;

        for (guint i = 0; i < states->len; i++) {
                NlcLibvirtDomainState *s = g_ptr_array_index(states, i);
                NlcLibvirtAction action = nlc_libvirt_reconcile_action(s->state, s->reason);
                const char *state = nlc_libvirt_state_describe(s->state, s->reason);
                g_autofree char *what = g_strdup_printf("reconcile: %s", state);

                d = domain_get(a, s->name, s->uuid);
                /* An event delivered after the state was read may be newer:
                 * the event decides. */
                if (d->last_action_seq > s->seq) {
                        g_debug("%s: %s -> nothing (a later event decided)", d->name, what);
                        continue;
                }
                if (action == NLC_LIBVIRT_ACTION_NONE) {
                        g_debug("%s: %s -> nothing", d->name, what);
                        continue;
                }
                d->gone = FALSE;
                domain_push(d, action, what);
        }
        a->listing = FALSE;
        g_hash_table_iter_init(&iter, a->domains);
        while (g_hash_table_iter_next(&iter, NULL, (gpointer *) &d)) {
                if (d->gone && !d->busy && g_queue_is_empty(&d->pending) &&
                    d->postcopy != POSTCOPY_CHECKING && d->postcopy != POSTCOPY_HOLDING &&
                    d->postcopy != POSTCOPY_REQUESTING)
                        g_hash_table_iter_remove(&iter);
        }
        if (!a->ready_logged) {
                g_message("ready: following libvirt at %s", a->uri);
                a->ready_logged = TRUE;
        }
}

static void
on_disconnected(gpointer data)
{
        Agent *a = data;
        GHashTableIter iter;
        Domain *d;

        /* Iteration events and the job checks need the connection; a
         * migration still running after the reconnection is driven again
         * from its next iteration. */
        g_hash_table_iter_init(&iter, a->domains);
        while (g_hash_table_iter_next(&iter, NULL, (gpointer *) &d))
                postcopy_reset(d, POSTCOPY_IDLE, "libvirt connection closed");
}

/* --- netlifecd's side ---------------------------------------------------- */

static void
netlifecd_appeared(GDBusConnection *bus, const char *name, const char *owner, gpointer data)
{
        Agent *a = data;

        if (!a->netlifecd_absent)
                return;
        a->netlifecd_absent = FALSE;
        g_message("netlifecd is on the bus (%s): reconciling", owner);
        a->listing = TRUE;
        nlc_libvirt_events_reconcile(a->events);
}

static void
netlifecd_vanished(GDBusConnection *bus, const char *name, gpointer data)
{
        Agent *a = data;

        if (!a->netlifecd_absent)
                g_message("netlifecd is not on the bus");
        a->netlifecd_absent = TRUE;
}

static gboolean
on_signal(gpointer data)
{
        Agent *a = data;

        g_main_loop_quit(a->loop);
        return G_SOURCE_CONTINUE;
}

static GDBusConnection *
bus_open(gboolean session, const char *address, GError **error)
{
        GDBusConnection *bus;

        if (address == NULL)
                return g_bus_get_sync(session ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM, NULL,
                                      error);
        bus = g_dbus_connection_new_for_address_sync(
                address,
                G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                NULL, NULL, error);
        /* As for the well-known buses: losing the bus ends the agent (its
         * service manager restarts it). */
        if (bus != NULL)
                g_dbus_connection_set_exit_on_close(bus, TRUE);
        return bus;
}

int
main(int argc, char **argv)
{
        g_autofree char *uri = NULL;
        g_autofree char *address = NULL;
        g_autofree char *destination = NULL;
        gboolean system_bus = FALSE, session = FALSE, no_postcopy = FALSE;
        gboolean verbose = FALSE, version = FALSE;
        gint passes = 0;
        GOptionEntry entries[] = {
                { "connect", 'c', 0, G_OPTION_ARG_STRING, &uri,
                  "libvirt URI (default qemu:///system)", "URI" },
                { "system", 0, 0, G_OPTION_ARG_NONE, &system_bus,
                  "netlifecd on the system bus (default)", NULL },
                { "session", 0, 0, G_OPTION_ARG_NONE, &session, "netlifecd on the session bus",
                  NULL },
                { "address", 0, 0, G_OPTION_ARG_STRING, &address,
                  "netlifecd on the bus at this D-Bus address", "ADDRESS" },
                { "destination-bus", 0, 0, G_OPTION_ARG_STRING, &destination,
                  "request post-copy only once the instance is Ready on the netlifecd of "
                  "this bus (the migration's destination)",
                  "ADDRESS" },
                { "postcopy-after-passes", 0, 0, G_OPTION_ARG_INT, &passes,
                  "request post-copy after N pre-copy passes (default 0: at the first "
                  "iteration)",
                  "N" },
                { "no-postcopy", 0, 0, G_OPTION_ARG_NONE, &no_postcopy, "never request post-copy",
                  NULL },
                { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "log debug messages", NULL },
                { "version", 0, 0, G_OPTION_ARG_NONE, &version, "print the version and exit",
                  NULL },
                { NULL },
        };
        g_autoptr(GOptionContext) context =
                g_option_context_new("- apply libvirt's domain events to netlifecd");
        g_autoptr(GError) error = NULL;
        const NlcLibvirtCallbacks callbacks = {
                .event = on_event,
                .domains = on_domains,
                .disconnected = on_disconnected,
        };
        Agent a = { 0 };
        guint watch_id, sigterm_id, sigint_id;

        setlocale(LC_ALL, "");
        g_option_context_add_main_entries(context, entries, NULL);
        if (!g_option_context_parse(context, &argc, &argv, &error)) {
                g_printerr("netlifecd-libvirt-agent: %s\n", error->message);
                return 2;
        }
        if (version) {
                g_print("netlifecd-libvirt-agent %s\n", NLC_VERSION);
                return 0;
        }
        if (system_bus + session + (address != NULL) > 1) {
                g_printerr("netlifecd-libvirt-agent: --system, --session and --address "
                           "exclude each other\n");
                return 2;
        }
        if (passes < 0) {
                g_printerr("netlifecd-libvirt-agent: --postcopy-after-passes must be >= 0\n");
                return 2;
        }

        /* Tests and service managers read the log from a pipe. */
        setvbuf(stderr, NULL, _IOLBF, 0);
        g_log_writer_default_set_use_stderr(TRUE);
        if (verbose)
                g_log_set_debug_enabled(TRUE);

        a.bus = bus_open(session, address, &error);
        if (a.bus == NULL) {
                g_printerr("netlifecd-libvirt-agent: netlifecd's bus: %s\n", error->message);
                return 1;
        }
        a.uri = g_strdup(uri != NULL ? uri : "qemu:///system");
        a.passes = (guint) passes;
        a.postcopy = !no_postcopy;
        if (destination != NULL)
                a.destination = nlc_libvirt_destination_new(destination);
        a.domains =
                g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify) domain_free);
        a.loop = g_main_loop_new(NULL, FALSE);
        sigterm_id = g_unix_signal_add(SIGTERM, on_signal, &a);
        sigint_id = g_unix_signal_add(SIGINT, on_signal, &a);

        /* Connecting lists the domains: the first reconciliation. */
        a.listing = TRUE;
        a.events = nlc_libvirt_events_start(a.uri, &callbacks, &a);
        watch_id = g_bus_watch_name_on_connection(a.bus, BUS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                  netlifecd_appeared, netlifecd_vanished, &a, NULL);

        g_main_loop_run(a.loop);

        g_message("stopping");
        g_bus_unwatch_name(watch_id);
        g_source_remove(sigterm_id);
        g_source_remove(sigint_id);
        nlc_libvirt_events_stop(a.events);
        g_hash_table_unref(a.domains);
        nlc_libvirt_destination_free(a.destination);
        g_main_loop_unref(a.loop);
        g_object_unref(a.bus);
        g_free(a.uri);
        return 0;
}
