/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "nlc-dbus-names.h"
#include "nlc-remote-instance.h"

#define NLC_DBUS_INTERFACE_INSTANCE "org.netlifecd1.Instance"

struct _NlcRemoteInstance {
        char *address;
        char *instance;
        NlcRemoteReadyFunc func;
        gpointer user_data;
        GCancellable *cancel;
        GDBusConnection *conn;
        char *path;
        guint subscription;
        guint retry_id;
};

static void try_connect(NlcRemoteInstance *r);

static gboolean
on_retry(gpointer data)
{
        NlcRemoteInstance *r = data;

        r->retry_id = 0;
        try_connect(r);
        return G_SOURCE_REMOVE;
}

static void
retry_later(NlcRemoteInstance *r, const GError *why)
{
        g_message("destination %s on %s: %s; trying again", r->instance, r->address, why->message);
        if (r->subscription)
                g_dbus_connection_signal_unsubscribe(r->conn, r->subscription);
        r->subscription = 0;
        g_clear_object(&r->conn);
        g_clear_pointer(&r->path, g_free);
        if (!r->retry_id)
                r->retry_id = g_timeout_add_seconds(1, on_retry, r);
}

static void
on_properties_changed(GDBusConnection *c, const char *sender, const char *path, const char *iface,
                      const char *signal, GVariant *params, gpointer data)
{
        NlcRemoteInstance *r = data;
        g_autoptr(GVariant) changed = g_variant_get_child_value(params, 1);
        gboolean ready;

        if (g_variant_lookup(changed, "Ready", "b", &ready))
                r->func(ready, r->user_data);
}

static void
on_ready_read(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply =
                g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
        g_autoptr(GVariant) value = NULL;
        NlcRemoteInstance *r;

        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                return;
        r = data;
        if (!reply) {
                retry_later(r, error);
                return;
        }
        g_variant_get(reply, "(v)", &value);
        r->func(g_variant_get_boolean(value), r->user_data);
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
                retry_later(r, error);
                return;
        }
        g_variant_get(reply, "(o)", &r->path);
        /* Subscribe first, then read: no change falls in between. */
        r->subscription = g_dbus_connection_signal_subscribe(
                r->conn, NLC_DBUS_SERVICE, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                r->path, NLC_DBUS_INTERFACE_INSTANCE, G_DBUS_SIGNAL_FLAGS_NONE,
                on_properties_changed, r, NULL);
        g_dbus_connection_call(
                r->conn, NLC_DBUS_SERVICE, r->path, "org.freedesktop.DBus.Properties", "Get",
                g_variant_new("(ss)", NLC_DBUS_INTERFACE_INSTANCE, "Ready"), G_VARIANT_TYPE("(v)"),
                G_DBUS_CALL_FLAGS_NONE, 10000, r->cancel, on_ready_read, r);
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
                retry_later(r, error);
                return;
        }
        r->conn = conn;
        g_dbus_connection_call(conn, NLC_DBUS_SERVICE, NLC_DBUS_PATH, NLC_DBUS_INTERFACE_MANAGER,
                               "GetInstance", g_variant_new("(s)", r->instance),
                               G_VARIANT_TYPE("(o)"), G_DBUS_CALL_FLAGS_NONE, 10000, r->cancel,
                               on_instance_path, r);
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
        g_cancellable_cancel(r->cancel);
        g_clear_object(&r->cancel);
        if (r->retry_id)
                g_source_remove(r->retry_id);
        if (r->subscription)
                g_dbus_connection_signal_unsubscribe(r->conn, r->subscription);
        g_clear_object(&r->conn);
        g_free(r->path);
        g_free(r->address);
        g_free(r->instance);
        g_free(r);
}
