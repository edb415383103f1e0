/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "nlc-dbus-generated.h"
#include "nlc-dbus-names.h"
#include "nlc-device-fallback.h"
#include "nlc-error.h"

typedef struct {
        char **(*list_ids)(gpointer);
        gpointer user_data;
} Fallback;

static char **
enumerate(GDBusConnection *connection, const char *sender, const char *object_path,
          gpointer user_data)
{
        Fallback *fb = user_data;

        return fb->list_ids(fb->user_data);
}

static void
method_call(GDBusConnection *connection, const char *sender, const char *object_path,
            const char *interface_name, const char *method_name, GVariant *parameters,
            GDBusMethodInvocation *invocation, gpointer user_data)
{
        if (g_str_equal(method_name, "Free")) {
                g_dbus_method_invocation_return_value(invocation, NULL);
                return;
        }
        g_dbus_method_invocation_return_error(invocation, NLC_ERROR, NLC_ERROR_NOT_FOUND,
                                              "no device at %s", object_path);
}

static const GDBusInterfaceVTable vtable = { .method_call = method_call };

static GDBusInterfaceInfo **
introspect(GDBusConnection *connection, const char *sender, const char *object_path,
           const char *node, gpointer user_data)
{
        GDBusInterfaceInfo **infos = g_new0(GDBusInterfaceInfo *, 2);

        /* The parent node has no interface of its own. GDBus dispatches a call
         * to an unknown child only to an interface listed here, so a child
         * reached by its path (it is never enumerated) lists Device. */
        if (node)
                infos[0] = g_dbus_interface_info_ref(nlc_dbus_device_interface_info());
        return infos;
}

static const GDBusInterfaceVTable *
dispatch(GDBusConnection *connection, const char *sender, const char *object_path,
         const char *interface_name, const char *node, gpointer *out_user_data, gpointer user_data)
{
        if (!node || g_strcmp0(interface_name, NLC_DBUS_INTERFACE_DEVICE) != 0)
                return NULL;
        *out_user_data = user_data;
        return &vtable;
}

static const GDBusSubtreeVTable subtree_vtable = {
        .enumerate = enumerate,
        .introspect = introspect,
        .dispatch = dispatch,
};

guint
nlc_device_fallback_register(GDBusConnection *connection, char **(*list_ids)(gpointer),
                             gpointer user_data, GError **error)
{
        Fallback *fb = g_new0(Fallback, 1);
        g_autofree char *root =
                g_strndup(NLC_DBUS_DEVICE_PATH_PREFIX, strlen(NLC_DBUS_DEVICE_PATH_PREFIX) - 1);

        fb->list_ids = list_ids;
        fb->user_data = user_data;
        return g_dbus_connection_register_subtree(
                connection, root, &subtree_vtable,
                G_DBUS_SUBTREE_FLAGS_DISPATCH_TO_UNENUMERATED_NODES, fb, g_free, error);
}
