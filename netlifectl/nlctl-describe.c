/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Words about the daemon's objects, shared by status, explain and watch. */
#include <string.h>

#include "nlctl-common.h"

static gboolean
has_port(GVariant *device)
{
        const char *state = nlctl_dict_str(device, "State");

        return g_str_equal(state, "created") || g_str_equal(state, "active");
}

char *
nlctl_ready_words(GVariant *device)
{
        guint64 left = nlctl_dict_u64(device, "ReadyInUsec", NLCTL_NOT_COUNTING);
        g_autofree char *in = NULL;

        if (nlctl_dict_bool(device, "Ready"))
                return g_strdup("yes");
        if (!has_port(device))
                return g_strdup("no port");
        if (left == NLCTL_NOT_COUNTING)
                return g_strdup("not counting");
        in = nlctl_format_duration(left);
        return g_strdup_printf("in %s", in);
}

char *
nlctl_mac_owner(GVariant *objects, const char *path, GVariant *device)
{
        g_autoptr(GPtrArray) devices = NULL;
        const char *mac = nlctl_dict_str(device, "MAC");

        if (nlctl_dict_bool(device, "OwnsMac"))
                return g_strdup(path);
        devices = nlctl_objects_with(objects, NLC_DBUS_INTERFACE_DEVICE);
        for (guint i = 0; i < devices->len; i++) {
                g_autoptr(GVariant) props =
                        nlctl_objects_lookup(objects, devices->pdata[i], NLC_DBUS_INTERFACE_DEVICE);

                if (g_str_equal(nlctl_dict_str(props, "MAC"), mac) &&
                    nlctl_dict_bool(props, "OwnsMac"))
                        return g_strdup(devices->pdata[i]);
        }
        return NULL;
}

const char *
nlctl_instance_named(GVariant *objects, GPtrArray *instances, const char *name)
{
        for (guint i = 0; i < instances->len; i++) {
                g_autoptr(GVariant) props =
                        nlctl_objects_lookup(objects, instances->pdata[i], NLCTL_INSTANCE_IFACE);

                if (g_str_equal(nlctl_dict_str(props, "Name"), name))
                        return instances->pdata[i];
        }
        return NULL;
}

guint64
nlctl_last_announced(GVariant *instance)
{
        g_autoptr(GVariant) timeline = instance ? g_variant_lookup_value(instance, "GuestTimeline",
                                                                         G_VARIANT_TYPE("a(st)"))
                                                : NULL;
        guint64 last = 0;
        GVariantIter iter;
        const char *what;
        guint64 at;

        if (!timeline)
                return 0;
        g_variant_iter_init(&iter, timeline);
        while (g_variant_iter_next(&iter, "(&st)", &what, &at))
                if (g_str_equal(what, "announced"))
                        last = at;
        return last;
}

char *
nlctl_object_label(const char *path, GVariant *props)
{
        const char *id = nlctl_path_id(path);

        if (g_str_has_prefix(path, NLC_DBUS_DEVICE_PATH_PREFIX)) {
                if (!props || !*nlctl_dict_str(props, "Instance"))
                        return g_strdup_printf("device %s", id);
                return g_strdup_printf("device %s (%s %s)", id, nlctl_dict_str(props, "Instance"),
                                       nlctl_dict_str(props, "IfName"));
        }
        if (g_str_has_prefix(path, NLCTL_INSTANCE_PATH_PREFIX))
                return g_strdup_printf("instance %s", props && *nlctl_dict_str(props, "Name")
                                                              ? nlctl_dict_str(props, "Name")
                                                              : id);
        if (g_str_has_prefix(path, NLCTL_BRIDGE_PATH_PREFIX))
                return g_strdup_printf("bridge %s", props && *nlctl_dict_str(props, "Name")
                                                            ? nlctl_dict_str(props, "Name")
                                                            : id);
        if (g_str_has_prefix(path, NLCTL_MIGRATION_PATH_PREFIX)) {
                if (!props || !*nlctl_dict_str(props, "Instance"))
                        return g_strdup_printf("migration %s", id);
                return g_strdup_printf("migration %s (%s)", id, nlctl_dict_str(props, "Instance"));
        }
        if (g_str_equal(path, NLC_DBUS_PATH))
                return g_strdup("manager");
        return g_strdup(path);
}
