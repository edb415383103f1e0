/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One command per Manager, Device and Instance method: allocate, notify,
 * get-device, get-instance, create, share-queues, activate, deactivate,
 * destroy, free, announce, attach-qemu, wait-ready and allow-postcopy.
 */
#include <string.h>

#include "nlctl-common.h"

#define DEFAULT_WAIT_MS 30000

/* The object's path (text) or its properties (--json). */
static int
print_object(NlctlContext *ctx, const char *path, const char *iface)
{
        g_autoptr(GVariant) props = NULL;

        if (!ctx->json) {
                g_print("%s\n", path);
                return NLCTL_EXIT_OK;
        }
        props = nlctl_get_all(ctx, path, iface, NULL);
        nlctl_print_json_object(nlctl_props_to_json(path, props));
        return NLCTL_EXIT_OK;
}

/* After a method: "<label>: <state>" or the properties as JSON. */
static int
print_outcome(NlctlContext *ctx, const char *path, const char *iface, const char *gone_state)
{
        g_autoptr(GVariant) props = gone_state ? NULL : nlctl_get_all(ctx, path, iface, NULL);
        g_autofree char *label = nlctl_object_label(path, props);
        JsonObject *o;

        if (ctx->json) {
                o = nlctl_props_to_json(path, props);
                if (gone_state)
                        json_object_set_string_member(o, "State", gone_state);
                nlctl_print_json_object(o);
        } else if (gone_state) {
                g_print("%s: %s\n", label, gone_state);
        } else if (g_str_equal(iface, NLCTL_INSTANCE_IFACE)) {
                g_print("%s: %s, %s\n", label,
                        nlctl_dict_bool(props, "Active") ? "active" : "not active",
                        nlctl_dict_bool(props, "Ready") ? "ready" : "not ready");
        } else {
                g_print("%s: %s\n", label, nlctl_dict_str(props, "State"));
        }
        return NLCTL_EXIT_OK;
}

/* The accepted options of @backend and their types (a{ss}); NULL without
 * error when the daemon has no such backend (it names the refusal itself). */
static GVariant *
backend_option_types(NlctlContext *ctx, const char *backend, GError **error)
{
        g_autoptr(GVariant) all =
                nlctl_get(ctx, NLC_DBUS_PATH, NLC_DBUS_INTERFACE_MANAGER, "Backends", error);
        g_autoptr(GVariant) caps = NULL;

        if (!all)
                return NULL;
        caps = g_variant_lookup_value(all, backend, G_VARIANT_TYPE_VARDICT);
        return caps ? g_variant_lookup_value(caps, "options", G_VARIANT_TYPE("a{ss}")) : NULL;
}

static int
manager_device_call(NlctlContext *ctx, const char *method)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) types = backend_option_types(ctx, ctx->args[1], &error);
        g_autoptr(GVariant) options = NULL;
        g_autoptr(GVariant) r = NULL;
        const char *path;

        if (error)
                return nlctl_fail(error);
        options = nlctl_parse_options(ctx->args + 3, ctx->n_args - 3, types, &error);
        if (!options)
                return nlctl_fail(error);
        r = nlctl_call(
                ctx, NLC_DBUS_PATH, NLC_DBUS_INTERFACE_MANAGER, method,
                g_variant_new("(sss@a{sv})", ctx->args[0], ctx->args[1], ctx->args[2], options),
                "(o)", &error);
        if (!r)
                return nlctl_fail(error);
        g_variant_get(r, "(&o)", &path);
        return print_object(ctx, path, NLC_DBUS_INTERFACE_DEVICE);
}

int
nlctl_cmd_allocate(NlctlContext *ctx)
{
        return manager_device_call(ctx, "Allocate");
}

int
nlctl_cmd_notify(NlctlContext *ctx)
{
        return manager_device_call(ctx, "Notify");
}

int
nlctl_cmd_get_device(NlctlContext *ctx)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r =
                nlctl_call(ctx, NLC_DBUS_PATH, NLC_DBUS_INTERFACE_MANAGER, "GetDevice",
                           g_variant_new("(ss)", ctx->args[0], ctx->args[1]), "(o)", &error);
        const char *path;

        if (!r)
                return nlctl_fail(error);
        g_variant_get(r, "(&o)", &path);
        return print_object(ctx, path, NLC_DBUS_INTERFACE_DEVICE);
}

int
nlctl_cmd_get_instance(NlctlContext *ctx)
{
        g_autoptr(GError) error = NULL;
        g_autofree char *path = nlctl_instance_path(ctx, ctx->args[0], &error);

        if (!path)
                return nlctl_fail(error);
        return print_object(ctx, path, NLCTL_INSTANCE_IFACE);
}

static char *
device_arg(const char *arg)
{
        char *path = nlctl_device_path(arg);

        if (!path)
                nlctl_die(NLCTL_EXIT_USAGE, "'%s' is neither a device path nor a device id", arg);
        return path;
}

/* What create and share-queues do with the queue fds they got for the
 * device at @path: run the --exec program holding them, or print the device. */
static int
hand_out_fds(NlctlContext *ctx, const char *path, GUnixFDList *fds)
{
        g_autoptr(GVariant) props = NULL;
        g_autofree char *label = NULL;
        g_autoptr(GUnixFDList) none = NULL;
        int n;

        if (!fds)
                fds = none = g_unix_fd_list_new();
        if (ctx->exec)
                return nlctl_exec_with_fds(ctx, fds);
        n = g_unix_fd_list_get_length(fds);
        props = nlctl_get_all(ctx, path, NLC_DBUS_INTERFACE_DEVICE, NULL);
        if (ctx->json) {
                JsonObject *o = nlctl_props_to_json(path, props);

                json_object_set_int_member(o, "fds", n);
                nlctl_print_json_object(o);
                return NLCTL_EXIT_OK;
        }
        label = nlctl_object_label(path, props);
        g_print("%s: %s (%d queue fd%s received and closed again; --exec hands them to a "
                "program)\n",
                label, nlctl_dict_str(props, "State"), n, n == 1 ? "" : "s");
        return NLCTL_EXIT_OK;
}

/* Device.Create or Device.ShareQueues on the device named by the first
 * argument (@params floating): both answer with queue fds, handed out the
 * same way; the reply's first value, when it is an object path, is the
 * device that got them. */
static int
call_for_fds(NlctlContext *ctx, const char *method, GVariant *params, const char *reply_type)
{
        g_autofree char *path = device_arg(ctx->args[0]);
        g_autoptr(GError) error = NULL;
        g_autoptr(GUnixFDList) fds = NULL;
        g_autoptr(GVariant) r = NULL, first = NULL;

        if (!path) {
                if (params)
                        g_variant_unref(g_variant_ref_sink(params));
                return NLCTL_EXIT_USAGE;
        }
        r = g_dbus_connection_call_with_unix_fd_list_sync(
                ctx->conn, NLC_DBUS_SERVICE, path, NLC_DBUS_INTERFACE_DEVICE, method, params,
                G_VARIANT_TYPE(reply_type), G_DBUS_CALL_FLAGS_NONE, 25000, NULL, &fds, NULL,
                &error);
        if (!r)
                return nlctl_fail(error);
        first = g_variant_get_child_value(r, 0);
        if (g_variant_is_of_type(first, G_VARIANT_TYPE_OBJECT_PATH))
                return hand_out_fds(ctx, g_variant_get_string(first, NULL), fds);
        return hand_out_fds(ctx, path, fds);
}

int
nlctl_cmd_create(NlctlContext *ctx)
{
        return call_for_fds(ctx, "Create", NULL, "(ah)");
}

int
nlctl_cmd_share_queues(NlctlContext *ctx)
{
        return call_for_fds(ctx, "ShareQueues", g_variant_new("(s)", ctx->args[1]), "(oah)");
}

static int
device_method(NlctlContext *ctx, const char *method, const char *gone_state)
{
        g_autofree char *path = device_arg(ctx->args[0]);
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL;

        if (!path)
                return NLCTL_EXIT_USAGE;
        r = nlctl_call(ctx, path, NLC_DBUS_INTERFACE_DEVICE, method, NULL, "()", &error);
        if (!r)
                return nlctl_fail(error);
        return print_outcome(ctx, path, NLC_DBUS_INTERFACE_DEVICE, gone_state);
}

/* A device (path or id), or else every device of an instance (its name or
 * its path): Instance.Activate/Deactivate. */
static int
device_or_instance_method(NlctlContext *ctx, const char *method)
{
        const char *arg = ctx->args[0];
        g_autofree char *path = nlctl_device_path(arg);
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL;

        if (path && !g_str_has_prefix(path, NLCTL_INSTANCE_PATH_PREFIX))
                return device_method(ctx, method, NULL);
        if (!path)
                path = nlctl_instance_path(ctx, arg, &error);
        if (!path)
                return nlctl_fail(error);
        r = nlctl_call(ctx, path, NLCTL_INSTANCE_IFACE, method, NULL, "()", &error);
        if (!r)
                return nlctl_fail(error);
        return print_outcome(ctx, path, NLCTL_INSTANCE_IFACE, NULL);
}

int
nlctl_cmd_activate(NlctlContext *ctx)
{
        return device_or_instance_method(ctx, "Activate");
}

int
nlctl_cmd_deactivate(NlctlContext *ctx)
{
        return device_or_instance_method(ctx, "Deactivate");
}

int
nlctl_cmd_destroy(NlctlContext *ctx)
{
        return device_method(ctx, "Destroy", NULL);
}

int
nlctl_cmd_free(NlctlContext *ctx)
{
        return device_method(ctx, "Free", "freed");
}

int
nlctl_cmd_announce(NlctlContext *ctx)
{
        g_autofree char *path = device_arg(ctx->args[0]);
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL;
        g_autoptr(GVariant) props = NULL;
        g_autofree char *label = NULL;

        if (!path)
                return NLCTL_EXIT_USAGE;
        r = nlctl_call(ctx, path, NLC_DBUS_INTERFACE_DEVICE, "Announce", NULL, "()", &error);
        if (!r)
                return nlctl_fail(error);
        if (ctx->json)
                return print_outcome(ctx, path, NLC_DBUS_INTERFACE_DEVICE, NULL);
        props = nlctl_get_all(ctx, path, NLC_DBUS_INTERFACE_DEVICE, NULL);
        label = nlctl_object_label(path, props);
        g_print("%s: announced %s\n", label, nlctl_dict_str(props, "MAC"));
        return NLCTL_EXIT_OK;
}

int
nlctl_cmd_attach_qemu(NlctlContext *ctx)
{
        /* The daemon wants an absolute path; a relative one is the caller's. */
        g_autofree char *socket = g_canonicalize_filename(ctx->args[1], NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r =
                nlctl_call(ctx, NLC_DBUS_PATH, NLC_DBUS_INTERFACE_MANAGER, "AttachQemu",
                           g_variant_new("(ss)", ctx->args[0], socket), "()", &error);

        if (!r)
                return nlctl_fail(error);
        if (ctx->json) {
                JsonObject *o = json_object_new();

                json_object_set_string_member(o, "instance", ctx->args[0]);
                json_object_set_string_member(o, "QemuSocket", socket);
                nlctl_print_json_object(o);
        } else {
                g_print("instance %s: following the guest through %s\n", ctx->args[0], socket);
        }
        return NLCTL_EXIT_OK;
}

/* Manager.DestroyInstances: every device of the instances, in one batch. */
int
nlctl_cmd_destroy_instances(NlctlContext *ctx)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = nlctl_call(
                ctx, NLC_DBUS_PATH, NLC_DBUS_INTERFACE_MANAGER, "DestroyInstances",
                g_variant_new("(@as)", g_variant_new_strv((const char *const *) ctx->args,
                                                          (gssize) ctx->n_args)),
                "()", &error);

        if (!r)
                return nlctl_fail(error);
        if (ctx->json) {
                JsonObject *o = json_object_new();
                JsonArray *a = json_array_new();

                for (guint i = 0; i < ctx->n_args; i++)
                        json_array_add_string_element(a, ctx->args[i]);
                json_object_set_array_member(o, "destroyed", a);
                nlctl_print_json_object(o);
                return NLCTL_EXIT_OK;
        }
        g_print("destroyed every created device of");
        for (guint i = 0; i < ctx->n_args; i++)
                g_print("%s %s", i ? "," : "", ctx->args[i]);
        g_print("\n");
        return NLCTL_EXIT_OK;
}

int
nlctl_cmd_wait_ready(NlctlContext *ctx)
{
        g_autoptr(GError) error = NULL;
        g_autofree char *path = NULL;
        g_autoptr(GVariant) r = NULL;
        guint64 timeout_ms = DEFAULT_WAIT_MS;
        gboolean ready = FALSE;

        if (ctx->n_args > 1 &&
            !g_ascii_string_to_unsigned(ctx->args[1], 10, 0, G_MAXINT32 - 60000, &timeout_ms, NULL))
                return nlctl_die(NLCTL_EXIT_USAGE, "TIMEOUT_MS is milliseconds, not '%s'",
                                 ctx->args[1]);
        path = nlctl_instance_path(ctx, ctx->args[0], &error);
        if (!path)
                return nlctl_fail(error);
        /* The daemon answers when the timeout ends: give the call longer. */
        r = nlctl_call_timeout(ctx, path, NLCTL_INSTANCE_IFACE, "WaitReady",
                               g_variant_new("(u)", (guint32) timeout_ms), "(b)",
                               (int) timeout_ms + 30000, &error);
        if (!r)
                return nlctl_fail(error);
        g_variant_get(r, "(b)", &ready);
        if (ctx->json) {
                JsonObject *o = json_object_new();

                json_object_set_string_member(o, "path", path);
                json_object_set_string_member(o, "Name", ctx->args[0]);
                json_object_set_boolean_member(o, "ready", ready);
                json_object_set_int_member(o, "timeout-ms", (gint64) timeout_ms);
                nlctl_print_json_object(o);
        } else if (ready) {
                g_print("instance %s: ready\n", ctx->args[0]);
        } else {
                g_autofree char *why = nlctl_explain_not_ready(ctx, path);

                g_print("instance %s: not ready after %" G_GUINT64_FORMAT " ms\n%s", ctx->args[0],
                        timeout_ms, why);
        }
        return ready ? NLCTL_EXIT_OK : NLCTL_EXIT_NOT_READY;
}

int
nlctl_cmd_allow_postcopy(NlctlContext *ctx)
{
        g_autoptr(GError) error = NULL;
        g_autofree char *path = NULL;
        g_autoptr(GVariant) r = NULL;
        gboolean allow;

        if (g_ascii_strcasecmp(ctx->args[1], "true") != 0 &&
            g_ascii_strcasecmp(ctx->args[1], "false") != 0)
                return nlctl_die(NLCTL_EXIT_USAGE, "allow-postcopy takes true or false, not '%s'",
                                 ctx->args[1]);
        allow = g_ascii_strcasecmp(ctx->args[1], "true") == 0;
        path = nlctl_instance_path(ctx, ctx->args[0], &error);
        if (!path)
                return nlctl_fail(error);
        r = nlctl_call(ctx, path, NLCTL_PROPS_IFACE, "Set",
                       g_variant_new("(ssv)", NLCTL_INSTANCE_IFACE, "AllowPostcopy",
                                     g_variant_new_boolean(allow)),
                       "()", &error);
        if (!r)
                return nlctl_fail(error);
        if (ctx->json)
                return print_object(ctx, path, NLCTL_INSTANCE_IFACE);
        g_print("instance %s: post-copy %s\n", ctx->args[0], allow ? "allowed" : "not allowed");
        return NLCTL_EXIT_OK;
}
