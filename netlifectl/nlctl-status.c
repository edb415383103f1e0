/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * status: every device, instance, bridge and migration from one
 * GetManagedObjects call, as tables (or one JSON document); backends: what
 * Manager.Backends says.
 */
#include "nlctl-common.h"

static const char *
yes_no(gboolean b)
{
        return b ? "yes" : "no";
}

static char *
owner_words(const char *path, const char *owner)
{
        if (!owner)
                return g_strdup("none");
        if (g_str_equal(owner, path))
                return g_strdup("this");
        return g_strdup_printf("device %s", nlctl_path_id(owner));
}

static void
add_devices(GVariant *objects, NlctlTable *table, JsonArray *json)
{
        g_autoptr(GPtrArray) paths = nlctl_objects_with(objects, NLC_DBUS_INTERFACE_DEVICE);

        for (guint i = 0; i < paths->len; i++) {
                const char *path = paths->pdata[i];
                g_autoptr(GVariant) d =
                        nlctl_objects_lookup(objects, path, NLC_DBUS_INTERFACE_DEVICE);
                g_autofree char *owner = nlctl_mac_owner(objects, path, d);
                g_autofree char *ready = nlctl_ready_words(d);
                g_autofree char *who = owner_words(path, owner);
                const char *cells[] = {
                        nlctl_path_id(path),
                        nlctl_dict_str(d, "Instance"),
                        nlctl_dict_str(d, "Backend"),
                        nlctl_dict_str(d, "MAC"),
                        nlctl_dict_str(d, "IfName"),
                        nlctl_dict_str(d, "Bridge"),
                        nlctl_dict_str(d, "State"),
                        nlctl_dict_str(d, "PortState"),
                        ready,
                        who,
                };
                JsonObject *o;

                if (table) {
                        nlctl_table_add(table, cells);
                        continue;
                }
                o = nlctl_props_to_json(path, d);
                json_object_set_string_member(o, "id", nlctl_path_id(path));
                if (owner)
                        json_object_set_string_member(o, "mac-owner", owner);
                else
                        json_object_set_null_member(o, "mac-owner");
                json_array_add_object_element(json, o);
        }
}

static char *
instance_devices(GVariant *inst)
{
        g_autoptr(GVariant) devs = g_variant_lookup_value(inst, "Devices", G_VARIANT_TYPE("ao"));
        g_autoptr(GString) s = g_string_new(NULL);

        for (gsize i = 0; devs && i < g_variant_n_children(devs); i++) {
                const char *p;

                g_variant_get_child(devs, i, "&o", &p);
                g_string_append_printf(s, "%s%s", s->len ? "," : "", nlctl_path_id(p));
        }
        return g_string_free(g_steal_pointer(&s), FALSE);
}

static void
add_instances(GVariant *objects, NlctlTable *table, JsonArray *json)
{
        g_autoptr(GPtrArray) paths = nlctl_objects_with(objects, NLCTL_INSTANCE_IFACE);

        for (guint i = 0; i < paths->len; i++) {
                const char *path = paths->pdata[i];
                g_autoptr(GVariant) n = nlctl_objects_lookup(objects, path, NLCTL_INSTANCE_IFACE);
                guint64 announced = nlctl_last_announced(n);
                g_autofree char *devices = instance_devices(n);
                g_autofree char *when = announced ? nlctl_format_time(announced) : NULL;
                const char *cells[] = {
                        nlctl_dict_str(n, "Name"),
                        devices,
                        yes_no(nlctl_dict_bool(n, "Ready")),
                        yes_no(nlctl_dict_bool(n, "Active")),
                        yes_no(nlctl_dict_bool(n, "AllowPostcopy")),
                        /* The socket's path only for its owner and
                         * administrators: "followed" otherwise. */
                        *nlctl_dict_str(n, "QemuSocket")     ? nlctl_dict_str(n, "QemuSocket")
                        : nlctl_dict_bool(n, "FollowsGuest") ? "followed"
                                                             : "",
                        when,
                };

                if (table)
                        nlctl_table_add(table, cells);
                else
                        json_array_add_object_element(json, nlctl_props_to_json(path, n));
        }
}

static char *
bridge_ports(GVariant *bridge)
{
        g_autoptr(GVariant) ports =
                g_variant_lookup_value(bridge, "Ports", G_VARIANT_TYPE("a(ss)"));
        g_autoptr(GString) s = g_string_new(NULL);

        for (gsize i = 0; ports && i < g_variant_n_children(ports); i++) {
                const char *name, *state;

                g_variant_get_child(ports, i, "(&s&s)", &name, &state);
                g_string_append_printf(s, "%s%s:%s", s->len ? " " : "", name, state);
        }
        return g_string_free(g_steal_pointer(&s), FALSE);
}

static void
add_bridges(GVariant *objects, NlctlTable *table, JsonArray *json)
{
        g_autoptr(GPtrArray) paths = nlctl_objects_with(objects, NLCTL_BRIDGE_IFACE);

        for (guint i = 0; i < paths->len; i++) {
                const char *path = paths->pdata[i];
                g_autoptr(GVariant) b = nlctl_objects_lookup(objects, path, NLCTL_BRIDGE_IFACE);
                g_autoptr(GVariant) macs =
                        g_variant_lookup_value(b, "OwnedMacs", G_VARIANT_TYPE_STRING_ARRAY);
                g_autofree const char **mac_list = macs ? g_variant_get_strv(macs, NULL) : NULL;
                g_autofree char *owned = mac_list ? g_strjoinv(",", (char **) mac_list) : NULL;
                g_autofree char *ports = bridge_ports(b);
                g_autofree char *delay =
                        nlctl_format_duration(nlctl_dict_u64(b, "ForwardDelayUsec", 0));
                g_autofree char *conflicts =
                        g_strdup_printf("%" G_GUINT64_FORMAT, nlctl_dict_u64(b, "Conflicts", 0));
                const char *cells[] = {
                        nlctl_dict_str(b, "Name"),
                        nlctl_dict_bool(b, "StpEnabled") ? "on" : "off",
                        delay,
                        ports,
                        owned,
                        conflicts,
                };

                if (table)
                        nlctl_table_add(table, cells);
                else
                        json_array_add_object_element(json, nlctl_props_to_json(path, b));
        }
}

static void
add_migrations(GVariant *objects, NlctlTable *table, JsonArray *json)
{
        g_autoptr(GPtrArray) paths = nlctl_objects_with(objects, NLCTL_MIGRATION_IFACE);

        for (guint i = 0; i < paths->len; i++) {
                const char *path = paths->pdata[i];
                g_autoptr(GVariant) m = nlctl_objects_lookup(objects, path, NLCTL_MIGRATION_IFACE);
                g_autofree char *pass = g_strdup_printf("%u", nlctl_dict_u32(m, "Pass"));
                g_autofree char *left = nlctl_format_bytes(nlctl_dict_u64(m, "RemainingBytes", 0));
                const char *cells[] = {
                        nlctl_path_id(path),
                        nlctl_dict_str(m, "Instance"),
                        nlctl_dict_str(m, "Role"),
                        nlctl_dict_str(m, "Phase"),
                        nlctl_dict_str(m, "Policy"),
                        pass,
                        left,
                        nlctl_dict_str(m, "Error"),
                };

                if (table)
                        nlctl_table_add(table, cells);
                else
                        json_array_add_object_element(json, nlctl_props_to_json(path, m));
        }
}

typedef void (*AddRows)(GVariant *objects, NlctlTable *table, JsonArray *json);

static const struct {
        const char *title;
        const char *json_key;
        const char *iface;
        AddRows add;
        const char *headers[11];
} sections[] = {
        { "Devices",
          "devices",
          NLC_DBUS_INTERFACE_DEVICE,
          add_devices,
          { "ID", "INSTANCE", "BACKEND", "MAC", "IFNAME", "BRIDGE", "STATE", "PORT", "READY",
            "MAC-OWNER", NULL } },
        { "Instances",
          "instances",
          NLCTL_INSTANCE_IFACE,
          add_instances,
          { "NAME", "DEVICES", "READY", "ACTIVE", "POSTCOPY", "QEMU", "ANNOUNCED", NULL } },
        { "Bridges",
          "bridges",
          NLCTL_BRIDGE_IFACE,
          add_bridges,
          { "NAME", "STP", "FWD-DELAY", "PORTS", "OWNED-MACS", "CONFLICTS", NULL } },
        { "Migrations",
          "migrations",
          NLCTL_MIGRATION_IFACE,
          add_migrations,
          { "ID", "INSTANCE", "ROLE", "PHASE", "POLICY", "PASS", "REMAINING", "ERROR", NULL } },
};

int
nlctl_cmd_status(NlctlContext *ctx)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) objects = nlctl_managed_objects(ctx, &error);
        JsonObject *root;

        if (!objects)
                return nlctl_fail(error);
        if (ctx->json) {
                root = json_object_new();
                for (gsize i = 0; i < G_N_ELEMENTS(sections); i++) {
                        JsonArray *a = json_array_new();

                        sections[i].add(objects, NULL, a);
                        json_object_set_array_member(root, sections[i].json_key, a);
                }
                nlctl_print_json_object(root);
                return NLCTL_EXIT_OK;
        }
        for (gsize i = 0; i < G_N_ELEMENTS(sections); i++) {
                g_autoptr(GPtrArray) paths = nlctl_objects_with(objects, sections[i].iface);
                g_autoptr(NlctlTable) table = NULL;

                /* No migration is the usual case: no empty section for it. */
                if (paths->len == 0 && sections[i].add == add_migrations)
                        continue;
                g_print("%s%s:", i ? "\n" : "", sections[i].title);
                if (paths->len == 0) {
                        g_print(" none\n");
                        continue;
                }
                g_print("\n");
                table = nlctl_table_new(sections[i].headers);
                sections[i].add(objects, table, NULL);
                nlctl_table_print(table);
        }
        return NLCTL_EXIT_OK;
}

static void
print_backend(const char *name, GVariant *caps)
{
        static const char *const flags[] = { "fd-handover", "quiet-until-activate",
                                             "postcopy-safe" };
        g_autoptr(GVariant) options =
                g_variant_lookup_value(caps, "options", G_VARIANT_TYPE("a{ss}"));
        g_autoptr(GVariant) docs =
                g_variant_lookup_value(caps, "option-descriptions", G_VARIANT_TYPE("a{ss}"));
        g_autoptr(GString) have = g_string_new(NULL);
        GVariantIter iter;
        const char *opt, *type;

        for (gsize i = 0; i < G_N_ELEMENTS(flags); i++)
                if (nlctl_dict_bool(caps, flags[i]))
                        g_string_append_printf(have, " %s", flags[i]);
        g_print("%s: %s\n  capabilities:%s\n", name, nlctl_dict_str(caps, "description"),
                have->len ? have->str : " none");
        if (!options)
                return;
        g_variant_iter_init(&iter, options);
        while (g_variant_iter_next(&iter, "{&s&s}", &opt, &type))
                g_print("  %s=%s  %s\n", opt, type, nlctl_dict_str(docs, opt));
}

int
nlctl_cmd_backends(NlctlContext *ctx)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) all =
                nlctl_get(ctx, NLC_DBUS_PATH, NLC_DBUS_INTERFACE_MANAGER, "Backends", &error);
        g_autoptr(GVariant) version =
                all ? nlctl_get(ctx, NLC_DBUS_PATH, NLC_DBUS_INTERFACE_MANAGER, "Version", &error)
                    : NULL;
        GVariantIter iter;
        const char *name;
        GVariant *caps;

        if (!all || !version)
                return nlctl_fail(error);
        if (ctx->json) {
                JsonObject *root = json_object_new();

                json_object_set_string_member(root, "Version", g_variant_get_string(version, NULL));
                json_object_set_member(root, "Backends", nlctl_variant_to_json(all));
                nlctl_print_json_object(root);
                return NLCTL_EXIT_OK;
        }
        g_print("netlifecd %s\n", g_variant_get_string(version, NULL));
        g_variant_iter_init(&iter, all);
        while (g_variant_iter_next(&iter, "{&s@a{sv}}", &name, &caps)) {
                print_backend(name, caps);
                g_variant_unref(caps);
        }
        return NLCTL_EXIT_OK;
}
