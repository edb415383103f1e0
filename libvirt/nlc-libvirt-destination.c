/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "nlc-libvirt-destination.h"

#define BUS_NAME        "org.netlifecd1"
#define MANAGER_PATH    "/org/netlifecd1"
#define MANAGER_IFACE   "org.netlifecd1.Manager"
#define INSTANCE_IFACE  "org.netlifecd1.Instance"
#define CALL_TIMEOUT_MS 2000

struct _NlcLibvirtDestination {
        char *address;
        GDBusConnection *bus;
};

typedef enum {
        STEP_CONNECT,
        STEP_GET_INSTANCE,
        STEP_READ_READY,
} Step;

typedef struct {
        NlcLibvirtDestination *self;
        char *instance;
        Step step;
        GDBusConnection *bus;
        char *path;
} Check;

static void step_run(GTask *task);

char *
nlc_libvirt_dbus_error_describe(const GError *error)
{
        g_autofree char *name = g_dbus_error_get_remote_error(error);
        g_autoptr(GError) copy = NULL;

        if (name == NULL)
                return g_strdup(error->message);
        copy = g_error_copy(error);
        g_dbus_error_strip_remote_error(copy);
        return g_strdup_printf("%s: %s", name, copy->message);
}

NlcLibvirtDestination *
nlc_libvirt_destination_new(const char *address)
{
        NlcLibvirtDestination *self = g_new0(NlcLibvirtDestination, 1);

        self->address = g_strdup(address);
        return self;
}

void
nlc_libvirt_destination_free(NlcLibvirtDestination *self)
{
        if (self == NULL)
                return;
        g_clear_object(&self->bus);
        g_free(self->address);
        g_free(self);
}

static void
check_free(gpointer data)
{
        Check *c = data;

        g_clear_object(&c->bus);
        g_free(c->instance);
        g_free(c->path);
        g_free(c);
}

static void
return_dbus_error(GTask *task, const char *what, GError *error)
{
        g_autofree char *why = nlc_libvirt_dbus_error_describe(error);

        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
                g_task_return_error(task, error);
                return;
        }
        g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", what, why);
        g_error_free(error);
}

static void
connected(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(GTask) task = data;
        Check *c = g_task_get_task_data(task);
        GError *error = NULL;
        GDBusConnection *bus = g_dbus_connection_new_for_address_finish(result, &error);

        if (bus == NULL) {
                return_dbus_error(task, "destination bus", error);
                return;
        }
        /* Two checks may have connected at once: keep one. */
        if (c->self->bus == NULL || g_dbus_connection_is_closed(c->self->bus))
                g_set_object(&c->self->bus, bus);
        c->bus = g_object_ref(c->self->bus);
        g_object_unref(bus);
        c->step++;
        step_run(g_steal_pointer(&task));
}

static void
got_instance(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(GTask) task = data;
        Check *c = g_task_get_task_data(task);
        GError *error = NULL;
        g_autoptr(GVariant) reply =
                g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);

        if (reply == NULL) {
                return_dbus_error(task, "GetInstance", error);
                return;
        }
        g_variant_get(reply, "(o)", &c->path);
        c->step++;
        step_run(g_steal_pointer(&task));
}

static void
got_ready(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(GTask) task = data;
        GError *error = NULL;
        g_autoptr(GVariant) reply =
                g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
        g_autoptr(GVariant) value = NULL;

        if (reply == NULL) {
                return_dbus_error(task, "reading Ready", error);
                return;
        }
        g_variant_get(reply, "(v)", &value);
        if (!g_variant_is_of_type(value, G_VARIANT_TYPE_BOOLEAN)) {
                g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                                        "Ready is of type %s", g_variant_get_type_string(value));
                return;
        }
        if (!g_variant_get_boolean(value)) {
                g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_FAILED, "instance not ready");
                return;
        }
        g_task_return_boolean(task, TRUE);
}

static void
step_run(GTask *task)
{
        Check *c = g_task_get_task_data(task);
        GCancellable *cancellable = g_task_get_cancellable(task);

        switch (c->step) {
        case STEP_CONNECT:
                if (c->self->bus != NULL && !g_dbus_connection_is_closed(c->self->bus)) {
                        c->bus = g_object_ref(c->self->bus);
                        c->step++;
                        step_run(task);
                        return;
                }
                g_clear_object(&c->self->bus);
                g_dbus_connection_new_for_address(
                        c->self->address,
                        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                        NULL, cancellable, connected, task);
                return;
        case STEP_GET_INSTANCE:
                g_dbus_connection_call(c->bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "GetInstance",
                                       g_variant_new("(s)", c->instance), G_VARIANT_TYPE("(o)"),
                                       G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, cancellable,
                                       got_instance, task);
                return;
        case STEP_READ_READY:
                g_dbus_connection_call(c->bus, BUS_NAME, c->path, "org.freedesktop.DBus.Properties",
                                       "Get", g_variant_new("(ss)", INSTANCE_IFACE, "Ready"),
                                       G_VARIANT_TYPE("(v)"), G_DBUS_CALL_FLAGS_NONE,
                                       CALL_TIMEOUT_MS, cancellable, got_ready, task);
                return;
        }
        g_assert_not_reached();
}

void
nlc_libvirt_destination_check(NlcLibvirtDestination *self, const char *instance,
                              GCancellable *cancellable, GAsyncReadyCallback callback,
                              gpointer user_data)
{
        GTask *task = g_task_new(NULL, cancellable, callback, user_data);
        Check *c = g_new0(Check, 1);

        c->self = self;
        c->instance = g_strdup(instance);
        c->step = STEP_CONNECT;
        g_task_set_task_data(task, c, check_free);
        step_run(task);
}

gboolean
nlc_libvirt_destination_check_finish(GAsyncResult *result, GError **error)
{
        return g_task_propagate_boolean(G_TASK(result), error);
}
