/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * watch: the daemon's signals as they come, one time-stamped line each —
 * StateChanged, PortStateChanged, PortProfileLost, PropertiesChanged (PortState, Ready, Phase and the other
 * state words), MacConflict, PhaseChanged, InterfacesAdded/Removed, and the
 * daemon joining or leaving the bus. Until SIGINT/SIGTERM (exit 0), or
 * --count lines.
 */
#include <signal.h>
#include <stdio.h>

#include <glib-unix.h>

#include "nlctl-common.h"

/* The properties whose changes make a line; the rest is in status. */
static const char *const shown[] = {
        "PortState", "Ready", "Phase", "OwnsMac", "Active", "DestinationReady", NULL,
};

typedef struct {
        NlctlContext *ctx;
        GMainLoop *loop;
        GHashTable *labels; /* path → "device 7 (vm1 nlc7)" */
        guint64 lines;
        int code;
} Watch;

static const char *
label_of(Watch *w, const char *path)
{
        const char *label = g_hash_table_lookup(w->labels, path);

        if (!label) {
                label = nlctl_object_label(path, NULL);
                g_hash_table_insert(w->labels, g_strdup(path), (char *) label);
        }
        return label;
}

/* The label from the object's own properties: any interface will do. */
static void
learn_label(Watch *w, const char *path, GVariant *ifaces)
{
        GVariantIter iter;
        GVariant *props;
        const char *iface;
        char *label = NULL;

        g_variant_iter_init(&iter, ifaces);
        while (!label && g_variant_iter_next(&iter, "{&s@a{sv}}", &iface, &props)) {
                if (g_str_has_prefix(iface, "org.netlifecd1."))
                        label = nlctl_object_label(path, props);
                g_variant_unref(props);
        }
        if (label)
                g_hash_table_insert(w->labels, g_strdup(path), label);
}

static void
emit(Watch *w, const char *path, const char *iface, const char *member, GVariant *args,
     const char *text)
{
        /* Signals dispatched in the same iteration as the last counted one. */
        if (w->ctx->count && w->lines >= w->ctx->count)
                return;
        if (w->ctx->json) {
                g_autoptr(JsonNode) node = NULL;
                JsonObject *o = json_object_new();
                g_autofree char *stamp = nlctl_now_stamp();

                json_object_set_string_member(o, "time", stamp);
                json_object_set_int_member(o, "usec", g_get_real_time());
                json_object_set_string_member(o, "path", path);
                json_object_set_string_member(o, "object", label_of(w, path));
                json_object_set_string_member(o, "interface", iface);
                json_object_set_string_member(o, "signal", member);
                json_object_set_member(o, "args", nlctl_variant_to_json(args));
                json_object_set_string_member(o, "text", text);
                node = json_node_init_object(json_node_alloc(), o);
                json_object_unref(o);
                nlctl_print_json(node, TRUE);
        } else {
                g_autofree char *stamp = nlctl_now_stamp();

                g_print("%s %s: %s\n", stamp, label_of(w, path), text);
                fflush(stdout);
        }
        if (w->ctx->count && ++w->lines >= w->ctx->count)
                g_main_loop_quit(w->loop);
}

/* "PortState=learning Ready=false (forwarding in 2.0 s)", or NULL when
 * nothing shown changed. */
static char *
properties_text(GVariant *changed)
{
        g_autoptr(GString) s = g_string_new(NULL);
        guint64 left;

        for (const char *const *p = shown; *p; p++) {
                g_autoptr(GVariant) v = g_variant_lookup_value(changed, *p, NULL);
                g_autofree char *text = NULL;

                if (!v)
                        continue;
                text = g_variant_is_of_type(v, G_VARIANT_TYPE_STRING)
                               ? g_variant_dup_string(v, NULL)
                               : g_variant_print(v, FALSE);
                g_string_append_printf(s, "%s%s=%s", s->len ? " " : "", *p, text);
        }
        if (!s->len)
                return NULL;
        if (g_variant_lookup(changed, "ReadyInUsec", "t", &left) && left &&
            left != NLCTL_NOT_COUNTING) {
                g_autofree char *in = nlctl_format_duration(left);

                g_string_append_printf(s, " (forwarding in %s)", in);
        }
        return g_string_free(g_steal_pointer(&s), FALSE);
}

static char *
added_text(GVariant *ifaces)
{
        g_autoptr(GVariant) d = g_variant_lookup_value(ifaces, NLC_DBUS_INTERFACE_DEVICE, NULL);
        g_autoptr(GVariant) m = g_variant_lookup_value(ifaces, NLCTL_MIGRATION_IFACE, NULL);

        if (d)
                return g_strdup_printf("added, %s %s", nlctl_dict_str(d, "MAC"),
                                       nlctl_dict_str(d, "State"));
        if (m)
                return g_strdup_printf("added, %s %s", nlctl_dict_str(m, "Role"),
                                       nlctl_dict_str(m, "Phase"));
        return g_strdup("added");
}

static void
on_signal(GDBusConnection *c, const char *sender, const char *path, const char *iface,
          const char *member, GVariant *args, gpointer data)
{
        Watch *w = data;
        g_autofree char *text = NULL;
        g_autoptr(GVariant) changed = NULL, ifaces = NULL;
        const char *a, *b, *r, *object;

        if (g_str_equal(member, "PropertiesChanged") &&
            g_variant_is_of_type(args, G_VARIANT_TYPE("(sa{sv}as)"))) {
                changed = g_variant_get_child_value(args, 1);
                text = properties_text(changed);
        } else if ((g_str_equal(member, "StateChanged") ||
                    g_str_equal(member, "PortStateChanged")) &&
                   g_variant_is_of_type(args, G_VARIANT_TYPE("(sss)"))) {
                g_variant_get(args, "(&s&s&s)", &a, &b, &r);
                text = g_strdup_printf("%s %s -> %s (%s)", member, a, b, *r ? r : "forwarding");
        } else if (g_str_equal(member, "MacConflict") &&
                   g_variant_is_of_type(args, G_VARIANT_TYPE("(sss)"))) {
                g_variant_get(args, "(&s&s&s)", &a, &b, &r);
                text = g_strdup_printf("MacConflict %s: owner port %s, seen at port %s", a, b, r);
        } else if (g_str_equal(member, "PortProfileLost") &&
                   g_variant_is_of_type(args, G_VARIANT_TYPE("(s)"))) {
                g_variant_get(args, "(&s)", &a);
                text = g_strdup_printf("PortProfileLost: %s", a);
        } else if (g_str_equal(member, "PhaseChanged") &&
                   g_variant_is_of_type(args, G_VARIANT_TYPE("(ss)"))) {
                g_variant_get(args, "(&s&s)", &a, &b);
                text = g_strdup_printf("PhaseChanged %s -> %s", a, b);
        } else if (g_str_equal(member, "InterfacesAdded") &&
                   g_variant_is_of_type(args, G_VARIANT_TYPE("(oa{sa{sv}})"))) {
                g_variant_get(args, "(&o@a{sa{sv}})", &object, &ifaces);
                learn_label(w, object, ifaces);
                emit(w, object, iface, member, args, text = added_text(ifaces));
                return;
        } else if (g_str_equal(member, "InterfacesRemoved") &&
                   g_variant_is_of_type(args, G_VARIANT_TYPE("(oas)"))) {
                g_variant_get(args, "(&o@as)", &object, &ifaces);
                emit(w, object, iface, member, args, "removed");
                g_hash_table_remove(w->labels, object);
                return;
        } else if (g_str_has_prefix(iface, "org.netlifecd1.")) {
                /* A signal newer than this netlifectl: still worth a line. */
                g_autofree char *printed = g_variant_print(args, FALSE);

                text = g_strdup_printf("%s %s", member, printed);
        }
        if (text)
                emit(w, path, iface, member, args, text);
}

static void
on_owner_changed(GDBusConnection *c, const char *sender, const char *path, const char *iface,
                 const char *member, GVariant *args, gpointer data)
{
        Watch *w = data;
        const char *name, *old_owner, *new_owner;
        g_autofree char *text = NULL;

        g_variant_get(args, "(&s&s&s)", &name, &old_owner, &new_owner);
        text = *new_owner ? g_strdup_printf("%s is on the bus (%s)", name, new_owner)
                          : g_strdup_printf("%s left the bus", name);
        emit(w, NLC_DBUS_PATH, iface, member, args, text);
}

static gboolean
on_stop(gpointer data)
{
        Watch *w = data;

        g_main_loop_quit(w->loop);
        return G_SOURCE_CONTINUE;
}

static void
on_closed(GDBusConnection *c, gboolean remote_peer_vanished, GError *error, gpointer data)
{
        Watch *w = data;

        w->code = nlctl_die(NLCTL_EXIT_CONNECT, "the bus connection closed%s%s", error ? ": " : "",
                            error ? error->message : "");
        g_main_loop_quit(w->loop);
}

int
nlctl_cmd_watch(NlctlContext *ctx)
{
        g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
        g_autoptr(GHashTable) labels =
                g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) objects = NULL;
        Watch w = { .ctx = ctx, .loop = loop, .labels = labels };
        guint subs[2], sources[2];
        gulong closed;
        GVariantIter iter;
        const char *path;
        GVariant *ifaces;

        /* Subscribed before the snapshot: the bus installs the match
         * before it routes our GetManagedObjects, so no change falls
         * between the two. */
        subs[0] = g_dbus_connection_signal_subscribe(ctx->conn, NLC_DBUS_SERVICE, NULL, NULL, NULL,
                                                     NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_signal, &w,
                                                     NULL);
        subs[1] = g_dbus_connection_signal_subscribe(
                ctx->conn, "org.freedesktop.DBus", "org.freedesktop.DBus", "NameOwnerChanged",
                "/org/freedesktop/DBus", NLC_DBUS_SERVICE, G_DBUS_SIGNAL_FLAGS_NONE,
                on_owner_changed, &w, NULL);
        objects = nlctl_managed_objects(ctx, &error);
        if (!objects) {
                g_dbus_connection_signal_unsubscribe(ctx->conn, subs[0]);
                g_dbus_connection_signal_unsubscribe(ctx->conn, subs[1]);
                return nlctl_fail(error);
        }
        g_variant_iter_init(&iter, objects);
        while (g_variant_iter_next(&iter, "{&o@a{sa{sv}}}", &path, &ifaces)) {
                learn_label(&w, path, ifaces);
                g_variant_unref(ifaces);
        }
        closed = g_signal_connect(ctx->conn, "closed", G_CALLBACK(on_closed), &w);
        sources[0] = g_unix_signal_add(SIGINT, on_stop, &w);
        sources[1] = g_unix_signal_add(SIGTERM, on_stop, &w);
        g_printerr("netlifectl: watching %s (Ctrl-C to stop)\n", NLC_DBUS_SERVICE);
        g_main_loop_run(loop);
        g_source_remove(sources[0]);
        g_source_remove(sources[1]);
        g_signal_handler_disconnect(ctx->conn, closed);
        g_dbus_connection_signal_unsubscribe(ctx->conn, subs[0]);
        g_dbus_connection_signal_unsubscribe(ctx->conn, subs[1]);
        return w.code;
}
