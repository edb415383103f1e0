/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a migration coordinator does with two hosts' netlifecd, in one small
 * program to copy: the destination prepares (its devices created, QEMU
 * listening), the source migrates with readiness "coordinated", and the
 * coordinator tells the source the moment the destination's ports forward,
 * so post-copy starts no earlier. Then it follows the source's migration to
 * its end and prints the timeline.
 *
 *   migration-coordinator --source ADDR --destination ADDR \
 *       INSTANCE LISTEN_URI CONNECT_URI
 *
 * e.g. ... vm1 tcp:0.0.0.0:4444 tcp:198.51.100.2:4444. Both hosts' daemons
 * already follow their QEMU (Manager.AttachQemu) and the destination's
 * devices exist (Allocate, Create). Exit 0 when the migration completed.
 */
#include <gio/gio.h>
#include <stdio.h>

#define BUS       "org.netlifecd1"
#define MANAGER   "org.netlifecd1.Manager"
#define INSTANCE  "org.netlifecd1.Instance"
#define MIGRATION "org.netlifecd1.Migration"

typedef struct {
        GDBusConnection *source;
        char *migration; /* the source's Migration object */
        gboolean told;   /* DestinationReady() sent */
        char *phase;     /* the source migration's latest phase */
        GMainLoop *loop;
} Coordinator;

static int
fail(const char *what, GError *error)
{
        g_autofree char *name = g_dbus_error_get_remote_error(error);

        g_dbus_error_strip_remote_error(error);
        fprintf(stderr, "migration-coordinator: %s: %s%s%s\n", what, name ? name : "",
                name ? ": " : "", error->message);
        return 1;
}

static GDBusConnection *
connect_bus(const char *address, GError **error)
{
        return g_dbus_connection_new_for_address_sync(
                address,
                G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                NULL, NULL, error);
}

static GVariant *
call(GDBusConnection *bus, const char *path, const char *iface, const char *method, GVariant *args,
     const char *reply_type, GError **error)
{
        return g_dbus_connection_call_sync(bus, BUS, path, iface, method, args,
                                           reply_type ? G_VARIANT_TYPE(reply_type) : NULL,
                                           G_DBUS_CALL_FLAGS_NONE, -1, NULL, error);
}

static gboolean
is_final(const char *phase)
{
        return g_strcmp0(phase, "completed") == 0 || g_strcmp0(phase, "failed") == 0 ||
               g_strcmp0(phase, "cancelled") == 0;
}

/* The destination's instance turned Ready: tell the source, once. */
static void
destination_ready(Coordinator *c)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL;

        if (c->told || !c->migration)
                return;
        c->told = TRUE;
        r = call(c->source, c->migration, MIGRATION, "DestinationReady", NULL, NULL, &error);
        if (!r)
                fail("DestinationReady", error);
        else
                printf("destination ready: told the source\n");
}

static void
on_destination_changed(GDBusConnection *bus, const char *sender, const char *path,
                       const char *iface, const char *signal, GVariant *params, gpointer data)
{
        g_autoptr(GVariant) changed = g_variant_get_child_value(params, 1);
        gboolean ready;

        if (g_variant_lookup(changed, "Ready", "b", &ready) && ready)
                destination_ready(data);
}

static void
on_phase_changed(GDBusConnection *bus, const char *sender, const char *path, const char *iface,
                 const char *signal, GVariant *params, gpointer data)
{
        Coordinator *c = data;
        const char *old, *new;

        g_variant_get(params, "(&s&s)", &old, &new);
        printf("phase %s -> %s\n", old, new);
        fflush(stdout);
        g_free(c->phase);
        c->phase = g_strdup(new);
        if (is_final(new))
                g_main_loop_quit(c->loop);
}

static gboolean
get_bool(GDBusConnection *bus, const char *path, const char *iface, const char *name)
{
        g_autoptr(GVariant) r = call(bus, path, "org.freedesktop.DBus.Properties", "Get",
                                     g_variant_new("(ss)", iface, name), "(v)", NULL);
        g_autoptr(GVariant) v = NULL;

        if (!r)
                return FALSE;
        g_variant_get(r, "(v)", &v);
        return g_variant_get_boolean(v);
}

int
main(int argc, char **argv)
{
        g_autofree char *source_address = NULL, *destination_address = NULL;
        const GOptionEntry entries[] = {
                { "source", 0, 0, G_OPTION_ARG_STRING, &source_address, "the source's bus",
                  "ADDR" },
                { "destination", 0, 0, G_OPTION_ARG_STRING, &destination_address,
                  "the destination's bus", "ADDR" },
                { NULL },
        };
        g_autoptr(GOptionContext) oc = g_option_context_new("INSTANCE LISTEN_URI CONNECT_URI");
        g_autoptr(GError) error = NULL;
        g_autoptr(GDBusConnection) destination = NULL;
        g_autoptr(GVariant) r = NULL, timeline = NULL;
        g_autofree char *instance_path = NULL;
        Coordinator c = { 0 };
        GVariantIter iter;
        const char *what;
        guint64 usec, first = 0;
        int status;

        g_option_context_add_main_entries(oc, entries, NULL);
        if (!g_option_context_parse(oc, &argc, &argv, &error) || argc != 4 || !source_address ||
            !destination_address) {
                fprintf(stderr, "usage: migration-coordinator --source ADDR --destination ADDR "
                                "INSTANCE LISTEN_URI CONNECT_URI\n");
                return 2;
        }
        c.loop = g_main_loop_new(NULL, FALSE);
        c.source = connect_bus(source_address, &error);
        destination = c.source ? connect_bus(destination_address, &error) : NULL;
        if (!destination)
                return fail("no bus", error);

        /* 1. The destination: QEMU listening when the call returns. */
        r = call(destination, "/org/netlifecd1", MANAGER, "PrepareIncoming",
                 g_variant_new_parsed("(%s, %s, @a{sv} {})", argv[1], argv[2]), "(o)", &error);
        if (!r)
                return fail("PrepareIncoming", error);
        g_clear_pointer(&r, g_variant_unref);

        /* 2. Watch the destination's readiness before the source starts, so
         *    the moment cannot be missed. */
        r = call(destination, "/org/netlifecd1", MANAGER, "GetInstance",
                 g_variant_new("(s)", argv[1]), "(o)", &error);
        if (!r)
                return fail("GetInstance", error);
        g_variant_get(r, "(o)", &instance_path);
        g_clear_pointer(&r, g_variant_unref);
        g_dbus_connection_signal_subscribe(destination, BUS, "org.freedesktop.DBus.Properties",
                                           "PropertiesChanged", instance_path, INSTANCE,
                                           G_DBUS_SIGNAL_FLAGS_NONE, on_destination_changed, &c,
                                           NULL);

        /* 3. The source, gated on us: post-copy waits for DestinationReady. */
        r = call(c.source, "/org/netlifecd1", MANAGER, "Migrate",
                 g_variant_new_parsed("(%s, %s, {'readiness': <'coordinated'>})", argv[1], argv[3]),
                 "(o)", &error);
        if (!r)
                return fail("Migrate", error);
        g_variant_get(r, "(o)", &c.migration);
        g_clear_pointer(&r, g_variant_unref);
        printf("migration %s\n", c.migration);
        g_dbus_connection_signal_subscribe(c.source, BUS, MIGRATION, "PhaseChanged", c.migration,
                                           NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_phase_changed, &c,
                                           NULL);
        /* Ready already (a port that forwarded before we subscribed)? */
        if (get_bool(destination, instance_path, INSTANCE, "Ready"))
                destination_ready(&c);
        g_main_loop_run(c.loop);

        /* 4. What happened when, from the source's journalled timeline. */
        r = call(c.source, c.migration, "org.freedesktop.DBus.Properties", "Get",
                 g_variant_new("(ss)", MIGRATION, "Timeline"), "(v)", &error);
        if (r) {
                g_variant_get(r, "(v)", &timeline);
                g_variant_iter_init(&iter, timeline);
                while (g_variant_iter_next(&iter, "(&st)", &what, &usec)) {
                        first = first ? first : usec;
                        printf("  %+10.1f ms  %s\n", (double) (usec - first) / 1000.0, what);
                }
        }
        printf("%s\n", c.phase);
        status = g_strcmp0(c.phase, "completed") == 0 ? 0 : 1;
        g_main_loop_unref(c.loop);
        g_free(c.migration);
        g_free(c.phase);
        g_clear_object(&c.source);
        return status;
}
