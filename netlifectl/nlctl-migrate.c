/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * migrate / prepare-incoming: start the migration, then follow its object
 * to the end — on a terminal one progress line redrawn in place (phase,
 * pass, remaining bytes, the wait for the destination counting), otherwise
 * one line per change; the Timeline when it ends. Exit 0 when completed, 4
 * when failed or cancelled. Also the Migration methods: cancel,
 * start-postcopy, destination-ready, recover.
 */
#include <signal.h>
#include <stdio.h>

#include <glib-unix.h>

#include "nlctl-common.h"

#define REDRAW_MS 250

/* The option types, from the XML's documentation of Migrate and
 * PrepareIncoming (the daemon has no property listing them). */
static const char source_types[] = "{'context': 's', 'postcopy': 's', 'precopy-passes': 'u', "
                                   "'stall-passes': 'u', 'readiness': 's', "
                                   "'destination-instance': 's', 'destination-bus': 's', "
                                   "'readiness-timeout': 'u', 'fallback': 's', "
                                   "'max-bandwidth': 't', 'preempt': 'b', "
                                   "'release-source': 'b', 'pause-before-switchover': 'b'}";
static const char destination_types[] = "{'postcopy': 'b', 'preempt': 'b'}";

typedef struct {
        NlctlContext *ctx;
        GMainLoop *loop;
        char *path;          /* the migration, once Migrate answered */
        GVariantDict *state; /* its properties as last heard */
        char *local_dest;    /* readiness "local": the destination instance */
        guint32 timeout_ms;  /* readiness-timeout when given, else 0 */
        gint64 dest_checked; /* monotonic µs of the last look at local_dest */
        guint64 dest_left;   /* its slowest port's ReadyInUsec then */
        char *last_key;      /* plain output: what the last line said */
        gboolean line_open;  /* a progress line is drawn without its newline */
        gboolean have_all;   /* GetAll answered: the state is whole */
        gboolean done;       /* the phase was final: no more output */
        int code;
} Follow;

static const char *
phase_of(Follow *f)
{
        const char *phase = NULL;

        if (!g_variant_dict_lookup(f->state, "Phase", "&s", &phase))
                return "";
        return phase;
}

static guint64
timeline_at(Follow *f, const char *event)
{
        g_autoptr(GVariant) t =
                g_variant_dict_lookup_value(f->state, "Timeline", G_VARIANT_TYPE("a(st)"));
        guint64 found = 0, at;
        GVariantIter iter;
        const char *what;

        if (!t)
                return 0;
        g_variant_iter_init(&iter, t);
        while (g_variant_iter_next(&iter, "(&st)", &what, &at))
                if (g_str_equal(what, event))
                        found = at;
        return found;
}

/* The slowest not-ready port of the local destination instance, looked up
 * at most twice a second; NLCTL_NOT_COUNTING when unknown. */
static guint64
local_destination_left(Follow *f)
{
        g_autoptr(GVariant) objects = NULL;
        g_autoptr(GPtrArray) devices = NULL;
        guint64 slowest = 0;

        if (!f->local_dest)
                return NLCTL_NOT_COUNTING;
        if (g_get_monotonic_time() - f->dest_checked < 500000)
                return f->dest_left;
        f->dest_checked = g_get_monotonic_time();
        objects = nlctl_managed_objects(f->ctx, NULL);
        devices = objects ? nlctl_objects_with(objects, NLC_DBUS_INTERFACE_DEVICE) : NULL;
        for (guint i = 0; devices && i < devices->len; i++) {
                g_autoptr(GVariant) d =
                        nlctl_objects_lookup(objects, devices->pdata[i], NLC_DBUS_INTERFACE_DEVICE);

                if (g_str_equal(nlctl_dict_str(d, "Instance"), f->local_dest) &&
                    !nlctl_dict_bool(d, "Ready"))
                        slowest =
                                MAX(slowest, nlctl_dict_u64(d, "ReadyInUsec", NLCTL_NOT_COUNTING));
        }
        f->dest_left = devices && slowest ? slowest : NLCTL_NOT_COUNTING;
        return f->dest_left;
}

static void
append_waiting(Follow *f, GString *s, gboolean live)
{
        guint64 fired = timeline_at(f, "policy-fired");
        gint64 now = g_get_real_time();
        guint64 left = local_destination_left(f);

        if (live && fired) {
                guint64 waited = (guint64) MAX(now - (gint64) fired, 0);
                g_autofree char *w = nlctl_format_duration(waited);

                g_string_append_printf(s, ", waiting %s", w);
                if (f->timeout_ms && waited < (guint64) f->timeout_ms * 1000) {
                        g_autofree char *t =
                                nlctl_format_duration((guint64) f->timeout_ms * 1000 - waited);

                        g_string_append_printf(s, ", timeout in %s", t);
                }
        }
        if (left != NLCTL_NOT_COUNTING) {
                g_autofree char *in = nlctl_format_duration(left);

                g_string_append_printf(s, ", destination forwards in %s", in);
        }
}

static char *
progress_text(Follow *f, gboolean live)
{
        g_autoptr(GString) s = g_string_new(NULL);
        guint32 pass = 0;
        guint64 remaining = 0;
        gboolean dest_ready = FALSE;
        const char *role = "";
        g_autofree char *left = NULL;

        g_variant_dict_lookup(f->state, "Pass", "u", &pass);
        g_variant_dict_lookup(f->state, "RemainingBytes", "t", &remaining);
        g_variant_dict_lookup(f->state, "DestinationReady", "b", &dest_ready);
        g_variant_dict_lookup(f->state, "Role", "&s", &role);
        left = nlctl_format_bytes(remaining);
        g_string_append_printf(s, "migration %s: %s, pass %u, %s remaining", nlctl_path_id(f->path),
                               phase_of(f), pass, left);
        if (g_str_equal(role, "source"))
                g_string_append(s, dest_ready ? ", destination ready" : ", destination not ready");
        if (g_str_equal(phase_of(f), "waiting-for-destination"))
                append_waiting(f, s, live);
        return g_string_free(g_steal_pointer(&s), FALSE);
}

static void
draw(Follow *f)
{
        g_autofree char *text = NULL;
        g_autofree char *stamp = NULL;

        if (!f->have_all || f->done || f->ctx->json)
                return;
        text = progress_text(f, f->ctx->tty);
        if (f->ctx->tty) {
                g_print("\r\033[K%s", text);
                f->line_open = TRUE;
        } else if (g_strcmp0(text, f->last_key) != 0) {
                stamp = nlctl_now_stamp();
                g_print("%s %s\n", stamp, text);
                g_free(f->last_key);
                f->last_key = g_steal_pointer(&text);
        }
        fflush(stdout);
}

static void
print_timeline(Follow *f, GVariant *props)
{
        g_autoptr(GVariant) t = g_variant_lookup_value(props, "Timeline", G_VARIANT_TYPE("a(st)"));
        guint64 first = 0, at, downtime = nlctl_dict_u64(props, "Downtime", 0);
        GVariantIter iter;
        const char *what;

        g_print("Timeline:\n");
        if (!t)
                return;
        g_variant_iter_init(&iter, t);
        while (g_variant_iter_next(&iter, "(&st)", &what, &at)) {
                g_autofree char *when = nlctl_format_time(at);

                first = first ? first : at;
                g_print("  %s  +%8.3f s  %s\n", when, (double) (at - first) / G_USEC_PER_SEC, what);
        }
        if (downtime)
                g_print("Downtime: %" G_GUINT64_FORMAT " ms\n", downtime);
}

/* The phase is final: the timeline, the outcome, the exit code. */
static void
finish(Follow *f)
{
        g_autoptr(GVariant) props = nlctl_get_all(f->ctx, f->path, NLCTL_MIGRATION_IFACE, NULL);
        g_autoptr(GVariant) heard = props ? NULL : g_variant_ref_sink(g_variant_dict_end(f->state));
        GVariant *final = props ? props : heard;
        const char *phase = nlctl_dict_str(final, "Phase");
        const char *why = nlctl_dict_str(final, "Error");

        f->done = TRUE;
        f->code = g_str_equal(phase, "completed") ? NLCTL_EXIT_OK : NLCTL_EXIT_MIGRATION;
        if (f->line_open)
                g_print("\n");
        if (f->ctx->json)
                nlctl_print_json_object(nlctl_props_to_json(f->path, final));
        else
                print_timeline(f, final);
        fflush(stdout);
        if (f->code != NLCTL_EXIT_OK)
                g_printerr("netlifectl: migration %s %s%s%s\n", nlctl_path_id(f->path), phase,
                           *why ? ": " : "", why);
        g_main_loop_quit(f->loop);
}

static void
merge(Follow *f, GVariant *props)
{
        GVariantIter iter;
        const char *key;
        GVariant *value;
        const char *phase;

        if (f->done)
                return;
        g_variant_iter_init(&iter, props);
        while (g_variant_iter_next(&iter, "{&sv}", &key, &value)) {
                g_variant_dict_insert_value(f->state, key, value);
                g_variant_unref(value);
        }
        phase = phase_of(f);
        if (g_str_equal(phase, "completed") || g_str_equal(phase, "failed") ||
            g_str_equal(phase, "cancelled"))
                finish(f);
        else if (f->have_all)
                draw(f);
}

static void
on_signal(GDBusConnection *c, const char *sender, const char *path, const char *iface,
          const char *member, GVariant *args, gpointer data)
{
        Follow *f = data;
        g_autoptr(GVariant) changed = NULL;

        if (!f->path || !g_str_equal(path, f->path) || !g_str_equal(member, "PropertiesChanged") ||
            !g_variant_is_of_type(args, G_VARIANT_TYPE("(sa{sv}as)")))
                return;
        changed = g_variant_get_child_value(args, 1);
        merge(f, changed);
}

static void
on_get_all(GObject *source, GAsyncResult *result, gpointer data)
{
        Follow *f = data;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r =
                g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
        g_autoptr(GVariant) props = NULL;

        if (!r) {
                f->code = nlctl_fail(error);
                g_main_loop_quit(f->loop);
                return;
        }
        props = g_variant_get_child_value(r, 0);
        f->have_all = TRUE;
        merge(f, props);
}

/* Migrate answered: read the object. Signals since the reply arrive in order
 * with this GetAll's answer, so the state never goes back. */
static void
on_started(GObject *source, GAsyncResult *result, gpointer data)
{
        Follow *f = data;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r =
                g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);

        if (!r) {
                f->code = nlctl_fail(error);
                g_main_loop_quit(f->loop);
                return;
        }
        g_variant_get(r, "(o)", &f->path);
        if (!f->ctx->tty && !f->ctx->json)
                g_print("%s\n", f->path);
        g_dbus_connection_call(f->ctx->conn, NLC_DBUS_SERVICE, f->path, NLCTL_PROPS_IFACE, "GetAll",
                               g_variant_new("(s)", NLCTL_MIGRATION_IFACE),
                               G_VARIANT_TYPE("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                               on_get_all, f);
}

static gboolean
on_redraw(gpointer data)
{
        draw(data);
        return G_SOURCE_CONTINUE;
}

static void
stop(Follow *f, int signo)
{
        if (f->line_open)
                g_print("\n");
        g_printerr("netlifectl: no longer following %s; the migration goes on (netlifectl cancel "
                   "%s cancels it)\n",
                   f->path ? f->path : "the migration", f->path ? nlctl_path_id(f->path) : "ID");
        f->code = NLCTL_EXIT_SIGNAL + signo;
        g_main_loop_quit(f->loop);
}

static gboolean
on_sigint(gpointer data)
{
        stop(data, SIGINT);
        return G_SOURCE_CONTINUE;
}

static gboolean
on_sigterm(gpointer data)
{
        stop(data, SIGTERM);
        return G_SOURCE_CONTINUE;
}

static void
on_owner_changed(GDBusConnection *c, const char *sender, const char *path, const char *iface,
                 const char *member, GVariant *args, gpointer data)
{
        Follow *f = data;
        const char *name, *old_owner, *new_owner;

        g_variant_get(args, "(&s&s&s)", &name, &old_owner, &new_owner);
        if (*new_owner)
                return;
        if (f->line_open)
                g_print("\n");
        f->code = nlctl_die(NLCTL_EXIT_CONNECT, "%s left the bus; its journal keeps the migration",
                            name);
        g_main_loop_quit(f->loop);
}

static int
follow(NlctlContext *ctx, const char *method, const char *types_text)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) types =
                g_variant_parse(G_VARIANT_TYPE("a{ss}"), types_text, NULL, NULL, NULL);
        g_autoptr(GVariant) options =
                nlctl_parse_options(ctx->args + 2, ctx->n_args - 2, types, &error);
        g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
        Follow f = { .ctx = ctx, .loop = loop, .state = g_variant_dict_new(NULL) };
        const char *readiness = NULL, *dest = NULL;
        guint subs[2], sources[3];

        if (!options) {
                g_variant_dict_unref(f.state);
                return nlctl_fail(error);
        }
        g_variant_lookup(options, "readiness-timeout", "u", &f.timeout_ms);
        g_variant_lookup(options, "readiness", "&s", &readiness);
        g_variant_lookup(options, "destination-instance", "&s", &dest);
        if (g_str_equal(method, "Migrate") && g_strcmp0(readiness, "local") == 0 && dest)
                f.local_dest = g_strdup(dest);
        subs[0] = g_dbus_connection_signal_subscribe(
                ctx->conn, NLC_DBUS_SERVICE, NLCTL_PROPS_IFACE, "PropertiesChanged", NULL,
                NLCTL_MIGRATION_IFACE, G_DBUS_SIGNAL_FLAGS_NONE, on_signal, &f, NULL);
        subs[1] = g_dbus_connection_signal_subscribe(
                ctx->conn, "org.freedesktop.DBus", "org.freedesktop.DBus", "NameOwnerChanged",
                "/org/freedesktop/DBus", NLC_DBUS_SERVICE, G_DBUS_SIGNAL_FLAGS_NONE,
                on_owner_changed, &f, NULL);
        g_dbus_connection_call(
                ctx->conn, NLC_DBUS_SERVICE, NLC_DBUS_PATH, NLC_DBUS_INTERFACE_MANAGER, method,
                g_variant_new("(ss@a{sv})", ctx->args[0], ctx->args[1], options),
                G_VARIANT_TYPE("(o)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_started, &f);
        sources[0] = g_unix_signal_add(SIGINT, on_sigint, &f);
        sources[1] = g_unix_signal_add(SIGTERM, on_sigterm, &f);
        sources[2] = ctx->tty && !ctx->json ? g_timeout_add(REDRAW_MS, on_redraw, &f) : 0;
        g_main_loop_run(loop);
        for (gsize i = 0; i < G_N_ELEMENTS(sources); i++)
                if (sources[i])
                        g_source_remove(sources[i]);
        g_dbus_connection_signal_unsubscribe(ctx->conn, subs[0]);
        g_dbus_connection_signal_unsubscribe(ctx->conn, subs[1]);
        g_variant_dict_unref(f.state);
        g_free(f.path);
        g_free(f.local_dest);
        g_free(f.last_key);
        return f.code;
}

int
nlctl_cmd_migrate(NlctlContext *ctx)
{
        return follow(ctx, "Migrate", source_types);
}

int
nlctl_cmd_prepare_incoming(NlctlContext *ctx)
{
        return follow(ctx, "PrepareIncoming", destination_types);
}

int
nlctl_cmd_migration_call(NlctlContext *ctx, const char *method)
{
        g_autofree char *path = nlctl_migration_path(ctx->args[0]);
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL;
        g_autoptr(GVariant) props = NULL;
        g_autofree char *label = NULL;

        if (!path)
                return nlctl_die(NLCTL_EXIT_USAGE, "'%s' is neither a migration path nor an id",
                                 ctx->args[0]);
        r = nlctl_call(ctx, path, NLCTL_MIGRATION_IFACE, method,
                       ctx->n_args > 1 ? g_variant_new("(s)", ctx->args[1]) : NULL, "()", &error);
        if (!r)
                return nlctl_fail(error);
        props = nlctl_get_all(ctx, path, NLCTL_MIGRATION_IFACE, NULL);
        if (ctx->json) {
                nlctl_print_json_object(nlctl_props_to_json(path, props));
                return NLCTL_EXIT_OK;
        }
        label = nlctl_object_label(path, props);
        g_print("%s: %s\n", label, nlctl_dict_str(props, "Phase"));
        return NLCTL_EXIT_OK;
}
