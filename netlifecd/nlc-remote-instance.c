/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "nlc-dbus-names.h"
#include "nlc-readiness.h"
#include "nlc-remote-instance.h"

#define NLC_DBUS_INTERFACE_INSTANCE "org.netlifecd1.Instance"
#define DBUS_PROPERTIES             "org.freedesktop.DBus.Properties"
#define DBUS_OBJECT_MANAGER         "org.freedesktop.DBus.ObjectManager"

struct _NlcRemoteInstance {
        char *address;
        char *instance;
        NlcRemoteReadyFunc func;
        gpointer user_data;
        GCancellable *cancel; /* of the current attempt: replaced by each new one */
        GDBusConnection *conn;
        gulong closed_id;
        guint owner_subscription;   /* NameOwnerChanged of org.netlifecd1 */
        guint removed_subscription; /* InterfacesRemoved of the daemon's objects */
        guint changed_subscription; /* PropertiesChanged of the instance */
        char *path;
        guint retry_id;
        gboolean reported, ready; /* what func last heard */
        GStrv ready_macs;
        GVariant *not_ready; /* its NotReady as last read, or NULL */
        char *last_why;      /* logged once, not at every retry */
};

static void try_connect(NlcRemoteInstance *r);
static void find_instance(NlcRemoteInstance *r);

static void
report(NlcRemoteInstance *r, gboolean ready, GStrv ready_macs)
{
        gboolean same = r->reported && r->ready == ready &&
                        ((!r->ready_macs && !ready_macs) ||
                         (r->ready_macs && ready_macs &&
                          g_strv_equal((const char *const *) r->ready_macs,
                                       (const char *const *) ready_macs)));

        g_strfreev(r->ready_macs);
        r->ready_macs = ready_macs;
        r->ready = ready;
        r->reported = TRUE;
        if (!same)
                r->func(ready, (const char *const *) r->ready_macs, r->user_data);
}

static void
drop_instance(NlcRemoteInstance *r)
{
        if (r->changed_subscription)
                g_dbus_connection_signal_unsubscribe(r->conn, r->changed_subscription);
        r->changed_subscription = 0;
        g_clear_pointer(&r->path, g_free);
}

/* Ends the current attempt: replies still on their way are ignored. */
static void
new_attempt(NlcRemoteInstance *r)
{
        g_cancellable_cancel(r->cancel);
        g_object_unref(r->cancel);
        r->cancel = g_cancellable_new();
        drop_instance(r);
}

static void
drop_connection(NlcRemoteInstance *r)
{
        new_attempt(r);
        if (!r->conn)
                return;
        if (r->owner_subscription)
                g_dbus_connection_signal_unsubscribe(r->conn, r->owner_subscription);
        if (r->removed_subscription)
                g_dbus_connection_signal_unsubscribe(r->conn, r->removed_subscription);
        r->owner_subscription = r->removed_subscription = 0;
        g_signal_handler_disconnect(r->conn, r->closed_id);
        r->closed_id = 0;
        g_clear_object(&r->conn);
}

static gboolean
on_retry(gpointer data)
{
        NlcRemoteInstance *r = data;

        r->retry_id = 0;
        if (r->conn)
                find_instance(r);
        else
                try_connect(r);
        return G_SOURCE_REMOVE;
}

/* Not ready until the destination answers again: stale readiness must not
 * open the gate. @keep_connection: the bus is fine, the daemon or the
 * instance is not (yet) there. */
static void
lost(NlcRemoteInstance *r, gboolean keep_connection, const char *why)
{
        if (g_strcmp0(why, r->last_why) != 0)
                g_message("destination %s on %s: %s; not ready until it answers again", r->instance,
                          r->address, why);
        g_free(r->last_why);
        r->last_why = g_strdup(why);
        if (keep_connection)
                new_attempt(r);
        else
                drop_connection(r);
        report(r, FALSE, NULL);
        if (!r->retry_id)
                r->retry_id = g_timeout_add_seconds(1, on_retry, r);
}

static void
on_all_read(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply =
                g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
        g_autoptr(GVariant) props = NULL;
        g_autofree const char **macs = NULL;
        NlcRemoteInstance *r;
        gboolean ready = FALSE;

        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                return;
        r = data;
        if (!reply) {
                lost(r, TRUE, error->message);
                return;
        }
        props = g_variant_get_child_value(reply, 0);
        g_variant_lookup(props, "Ready", "b", &ready);
        g_clear_pointer(&r->not_ready, g_variant_unref);
        r->not_ready = g_variant_lookup_value(props, "NotReady", G_VARIANT_TYPE("a(sss)"));
        /* A destination daemon of an older version has no ReadyMacs: it
         * cannot say which NICs are ready, so it is not ready. */
        if (!g_variant_lookup(props, "ReadyMacs", "^a&s", &macs)) {
                report(r, FALSE, NULL);
                return;
        }
        report(r, ready, g_strdupv((char **) macs));
}

/* Replies on one connection come in order: the last read is the latest. */
static void
read_instance(NlcRemoteInstance *r)
{
        g_dbus_connection_call(r->conn, NLC_DBUS_SERVICE, r->path, DBUS_PROPERTIES, "GetAll",
                               g_variant_new("(s)", NLC_DBUS_INTERFACE_INSTANCE),
                               G_VARIANT_TYPE("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, 10000, r->cancel,
                               on_all_read, r);
}

static void
on_properties_changed(GDBusConnection *c, const char *sender, const char *path, const char *iface,
                      const char *signal, GVariant *params, gpointer data)
{
        read_instance(data);
}

static void
on_instance_path(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply =
                g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
        NlcRemoteInstance *r;

        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                return;
        r = data;
        if (!reply) {
                lost(r, TRUE, error->message);
                return;
        }
        g_clear_pointer(&r->last_why, g_free);
        g_variant_get(reply, "(o)", &r->path);
        /* Subscribe first, then read: no change falls in between. */
        r->changed_subscription = g_dbus_connection_signal_subscribe(
                r->conn, NLC_DBUS_SERVICE, DBUS_PROPERTIES, "PropertiesChanged", r->path,
                NLC_DBUS_INTERFACE_INSTANCE, G_DBUS_SIGNAL_FLAGS_NONE, on_properties_changed, r,
                NULL);
        read_instance(r);
}

static void
find_instance(NlcRemoteInstance *r)
{
        g_dbus_connection_call(r->conn, NLC_DBUS_SERVICE, NLC_DBUS_PATH, NLC_DBUS_INTERFACE_MANAGER,
                               "GetInstance", g_variant_new("(s)", r->instance),
                               G_VARIANT_TYPE("(o)"), G_DBUS_CALL_FLAGS_NONE, 10000, r->cancel,
                               on_instance_path, r);
}

static void
on_closed(GDBusConnection *conn, gboolean remote_peer_vanished, GError *error, gpointer data)
{
        lost(data, FALSE, "its bus connection closed");
}

/* The destination daemon left the bus (killed, restarted) or came back. */
static void
on_owner_changed(GDBusConnection *c, const char *sender, const char *path, const char *iface,
                 const char *signal, GVariant *params, gpointer data)
{
        NlcRemoteInstance *r = data;
        const char *name, *old_owner, *new_owner;

        g_variant_get(params, "(&s&s&s)", &name, &old_owner, &new_owner);
        if (!*new_owner) {
                lost(r, TRUE, "netlifecd left the bus");
                return;
        }
        /* A new daemon: read it from the start, now. */
        g_message("destination %s on %s: netlifecd is back on the bus; reading it again",
                  r->instance, r->address);
        new_attempt(r);
        if (r->retry_id)
                g_source_remove(r->retry_id);
        r->retry_id = 0;
        find_instance(r);
}

/* The instance went away with its last device. */
static void
on_interfaces_removed(GDBusConnection *c, const char *sender, const char *path, const char *iface,
                      const char *signal, GVariant *params, gpointer data)
{
        NlcRemoteInstance *r = data;
        const char *object = NULL;

        g_variant_get_child(params, 0, "&o", &object);
        if (r->path && g_str_equal(object, r->path))
                lost(r, TRUE, "the instance has no device any more");
}

static void
on_connected(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(GError) error = NULL;
        GDBusConnection *conn = g_dbus_connection_new_for_address_finish(result, &error);
        NlcRemoteInstance *r;

        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                return;
        r = data;
        if (!conn) {
                lost(r, FALSE, error->message);
                return;
        }
        r->conn = conn;
        g_dbus_connection_set_exit_on_close(conn, FALSE);
        r->closed_id = g_signal_connect(conn, "closed", G_CALLBACK(on_closed), r);
        r->owner_subscription = g_dbus_connection_signal_subscribe(
                conn, "org.freedesktop.DBus", "org.freedesktop.DBus", "NameOwnerChanged",
                "/org/freedesktop/DBus", NLC_DBUS_SERVICE, G_DBUS_SIGNAL_FLAGS_NONE,
                on_owner_changed, r, NULL);
        r->removed_subscription = g_dbus_connection_signal_subscribe(
                conn, NLC_DBUS_SERVICE, DBUS_OBJECT_MANAGER, "InterfacesRemoved", NLC_DBUS_PATH,
                NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_interfaces_removed, r, NULL);
        find_instance(r);
}

static void
try_connect(NlcRemoteInstance *r)
{
        g_dbus_connection_new_for_address(r->address,
                                          G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                  G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                          NULL, r->cancel, on_connected, r);
}

NlcRemoteInstance *
nlc_remote_instance_new(const char *address, const char *instance, NlcRemoteReadyFunc func,
                        gpointer user_data)
{
        NlcRemoteInstance *r = g_new0(NlcRemoteInstance, 1);

        r->address = g_strdup(address);
        r->instance = g_strdup(instance);
        r->func = func;
        r->user_data = user_data;
        r->cancel = g_cancellable_new();
        try_connect(r);
        return r;
}

void
nlc_remote_instance_free(NlcRemoteInstance *r)
{
        if (!r)
                return;
        drop_connection(r);
        g_cancellable_cancel(r->cancel);
        g_clear_object(&r->cancel);
        if (r->retry_id)
                g_source_remove(r->retry_id);
        g_strfreev(r->ready_macs);
        g_clear_pointer(&r->not_ready, g_variant_unref);
        g_free(r->last_why);
        g_free(r->address);
        g_free(r->instance);
        g_free(r);
}

char *
nlc_remote_instance_why_not_ready(NlcRemoteInstance *r, const char *const *guest_macs)
{
        g_autofree char *devices = NULL;

        if (!r->path)
                return g_strdup_printf("%s", r->last_why ? r->last_why : "not read yet");
        if (!r->ready_macs)
                return g_strdup("its daemon does not say which NICs are ready (an older version)");
        devices = nlc_describe_not_ready(guest_macs, (const char *const *) r->ready_macs,
                                         r->not_ready);
        return g_strdup(*devices ? devices : "not read since the last change");
}

/* The destination associates within its own [port-profile] timeout-ms;
 * this bounds the wait for its answer beyond that. */
#define ASSOCIATE_CALL_TIMEOUT_MS 60000

static void
on_associated(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(GTask) task = data;
        GError *error = NULL;
        g_autoptr(GVariant) r =
                g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);

        if (!r) {
                g_dbus_error_strip_remote_error(error);
                g_task_return_error(task, error);
                return;
        }
        g_task_return_boolean(task, TRUE);
}

void
nlc_remote_instance_associate_async(NlcRemoteInstance *r, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer data)
{
        GTask *task = g_task_new(NULL, cancellable, callback, data);

        if (!r->conn || !r->path) {
                g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                                        "instance %s at %s cannot be reached: %s", r->instance,
                                        r->address, r->last_why ? r->last_why : "not read yet");
                g_object_unref(task);
                return;
        }
        g_dbus_connection_call(r->conn, NLC_DBUS_SERVICE, r->path, NLC_DBUS_INTERFACE_INSTANCE,
                               "AssociatePortProfiles", NULL, NULL, G_DBUS_CALL_FLAGS_NONE,
                               ASSOCIATE_CALL_TIMEOUT_MS, cancellable, on_associated, task);
}

gboolean
nlc_remote_instance_associate_finish(GAsyncResult *result, GError **error)
{
        return g_task_propagate_boolean(G_TASK(result), error);
}
