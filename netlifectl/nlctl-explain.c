/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * explain DEVICE|INSTANCE: in words, from one GetManagedObjects snapshot,
 * why it is not ready (the port's STP state and the time left), who holds
 * the guest MAC, and when the guest last announced itself.
 */
#include "nlctl-common.h"

typedef struct {
        GVariant *objects;
        GPtrArray *instances;
        GPtrArray *devices;
        GPtrArray *migrations;
} World;

static void
world_clear(World *w)
{
        g_clear_pointer(&w->objects, g_variant_unref);
        g_clear_pointer(&w->instances, g_ptr_array_unref);
        g_clear_pointer(&w->devices, g_ptr_array_unref);
        g_clear_pointer(&w->migrations, g_ptr_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(World, world_clear)

static gboolean
world_load(NlctlContext *ctx, World *w, GError **error)
{
        w->objects = nlctl_managed_objects(ctx, error);
        if (!w->objects)
                return FALSE;
        w->instances = nlctl_objects_with(w->objects, NLCTL_INSTANCE_IFACE);
        w->devices = nlctl_objects_with(w->objects, NLC_DBUS_INTERFACE_DEVICE);
        w->migrations = nlctl_objects_with(w->objects, NLCTL_MIGRATION_IFACE);
        return TRUE;
}

/* " (STP on br0, forward delay 2 s)" */
static char *
stp_words(World *w, const char *bridge)
{
        g_autoptr(GPtrArray) bridges = nlctl_objects_with(w->objects, NLCTL_BRIDGE_IFACE);
        g_autofree char *delay = NULL;

        for (guint i = 0; i < bridges->len; i++) {
                g_autoptr(GVariant) b =
                        nlctl_objects_lookup(w->objects, bridges->pdata[i], NLCTL_BRIDGE_IFACE);

                if (!g_str_equal(nlctl_dict_str(b, "Name"), bridge))
                        continue;
                if (!nlctl_dict_bool(b, "StpEnabled"))
                        return g_strdup_printf(" (STP off on %s)", bridge);
                delay = nlctl_format_duration(nlctl_dict_u64(b, "ForwardDelayUsec", 0));
                return g_strdup_printf(" (STP on %s, forward delay %s)", bridge, delay);
        }
        return g_strdup("");
}

/* Why a port that is not counting does not forward, in words, from its
 * PortReason; NULL for a reason the daemon did not know when this was
 * built (the raw reason is shown then). */
static const char *
reason_words(const char *reason)
{
        static const struct {
                const char *reason, *words;
        } table[] = {
                { "bpdu-guard", "the kernel disabled it because a BPDU came in from the guest "
                                "(bpdu_guard): the guest speaks STP; it stays disabled until "
                                "its link goes down and up again" },
                { "stp-blocking", "STP blocks it: there is another path (a loop); it forwards "
                                  "only when the topology changes" },
                { "no-carrier", "it has no carrier (a tap nobody holds open, a lower device "
                                "without link)" },
                { "link-down", "its link is down (a direct device is held down until Activate, "
                               "so its carrier is not known before)" },
                { "link-gone", "its link does not exist" },
                { "bridge-down", "the bridge is down" },
                { "bridge-gone", "the bridge was deleted: the device goes back on it when a "
                                 "bridge of that name is made again" },
                { "not-on-bridge", "the link is not a port of its bridge" },
                { "disabled", "it is disabled, for none of the known reasons" },
                { "port-profile", "the switch has not associated the device's port profile "
                                  "(see 'port profile')" },
        };

        for (guint i = 0; i < G_N_ELEMENTS(table); i++)
                if (g_str_equal(table[i].reason, reason))
                        return table[i].words;
        return NULL;
}

/* Why a device is (not) ready, in words; sets @ready. */
static char *
device_why(World *w, const char *path, GVariant *d, gboolean *ready)
{
        const char *state = nlctl_dict_str(d, "State");
        const char *port = nlctl_dict_str(d, "PortState");
        const char *reason = nlctl_dict_str(d, "PortReason");
        const char *ifname = nlctl_dict_str(d, "IfName");
        const char *bridge = nlctl_dict_str(d, "Bridge");
        guint64 left = nlctl_dict_u64(d, "ReadyInUsec", NLCTL_NOT_COUNTING);
        g_autofree char *stp = *bridge ? stp_words(w, bridge) : g_strdup("");
        g_autofree char *where =
                *bridge ? g_strdup_printf("port %s on %s", ifname, bridge) : g_strdup(ifname);
        const char *words = reason_words(reason);
        g_autofree char *in = NULL;

        *ready = nlctl_dict_bool(d, "Ready");
        if (g_str_equal(state, "allocated"))
                return g_strdup("only allocated: nothing exists in the kernel yet (create it)");
        if (g_str_equal(state, "destroyed"))
                return g_strdup(
                        "destroyed: its kernel device is gone (create it again, or free it)");
        if (*ready)
                return *bridge ? g_strdup_printf("%s is forwarding%s", where, stp)
                               : g_strdup_printf("%s can carry traffic (its link has carrier)",
                                                 ifname);
        if (words)
                return g_strdup_printf("%s is %s: %s%s", where, port, words, stp);
        if (left == NLCTL_NOT_COUNTING)
                return g_strdup_printf("%s is %s%s%s%s", where, port, *reason ? " (" : "", reason,
                                       *reason ? ")" : "");
        in = nlctl_format_duration(left);
        return g_strdup_printf("%s is %s, forwarding in %s%s", where, port, in, stp);
}

/* Who holds the MAC of device @path; "this device" unless @from_instance. */
static char *
mac_words(World *w, const char *path, GVariant *d, gboolean from_instance, char **owner_out)
{
        g_autofree char *owner = nlctl_mac_owner(w->objects, path, d);
        g_autoptr(GVariant) o = NULL;
        g_autofree char *label = NULL;
        const char *mac = nlctl_dict_str(d, "MAC");
        char *words;

        if (!owner)
                words = g_strdup_printf("%s is held by no device: no static FDB entry (activate "
                                        "a device to place it)",
                                        mac);
        else if (!from_instance && g_str_equal(owner, path))
                words = g_strdup_printf("%s is held by this device (static FDB entry on %s)", mac,
                                        nlctl_dict_str(d, "Bridge"));
        else {
                o = nlctl_objects_lookup(w->objects, owner, NLC_DBUS_INTERFACE_DEVICE);
                label = nlctl_object_label(owner, o);
                words = g_strdup_printf("%s is held by %s on %s", mac, label,
                                        nlctl_dict_str(o, "Bridge"));
        }
        *owner_out = g_steal_pointer(&owner);
        return words;
}

static char *
announce_words(GVariant *inst, const char *name)
{
        guint64 at = nlctl_last_announced(inst);
        const char *socket = nlctl_dict_str(inst, "QemuSocket");
        gint64 now = g_get_real_time();
        g_autofree char *when = NULL, *ago = NULL;

        if (at) {
                when = nlctl_format_time(at);
                ago = nlctl_format_duration((guint64) MAX(now - (gint64) at, 0));
                return g_strdup_printf("last announced %s (%s ago, QEMU announce-self)", when, ago);
        }
        if (!inst || (!*socket && !nlctl_dict_bool(inst, "FollowsGuest")))
                return g_strdup_printf("not known: the daemon does not follow %s's guest "
                                       "(attach-qemu); each device sends a RARP when activated",
                                       name);
        /* The socket's path is shown to its owner and administrators only. */
        return *socket ? g_strdup_printf("not since the daemon follows the guest through %s",
                                         socket)
                       : g_strdup("not since the daemon follows the guest");
}

/* The device's PortProfile in words, or NULL without one. */
static char *
profile_words(GVariant *d)
{
        g_autoptr(GVariant) p =
                d ? g_variant_lookup_value(d, "PortProfile", G_VARIANT_TYPE_VARDICT) : NULL;
        const char *kind = NULL, *state = "", *request = "", *error = "", *text = "";
        guint16 response = 0;
        gboolean answered;
        guint64 changed = 0;
        g_autofree char *when = NULL;

        if (!p || !g_variant_lookup(p, "Kind", "&s", &kind))
                return NULL;
        g_variant_lookup(p, "State", "&s", &state);
        g_variant_lookup(p, "Request", "&s", &request);
        g_variant_lookup(p, "Error", "&s", &error);
        g_variant_lookup(p, "ChangedUsec", "t", &changed);
        answered = g_variant_lookup(p, "Response", "q", &response);
        g_variant_lookup(p, "ResponseText", "&s", &text);
        when = changed ? nlctl_format_time(changed) : g_strdup("-");
        if (*error)
                return g_strdup_printf("%s %s since %s: %s", kind, state, when, error);
        if (answered)
                return g_strdup_printf("%s %s since %s (the switch answered %s: %u, %s)", kind,
                                       state, when, request, response, text);
        return g_strdup_printf("%s %s%s%s", kind, state, *request ? ", last asked: " : "", request);
}

/* Explains one device: text lines (indented by @indent) or a JSON object. */
static JsonObject *
explain_device(World *w, const char *path, GVariant *d, GString *out, gboolean brief)
{
        JsonObject *o = json_object_new();
        const char *name = nlctl_dict_str(d, "Instance");
        const char *inst_path = nlctl_instance_named(w->objects, w->instances, name);
        g_autoptr(GVariant) inst =
                nlctl_objects_lookup(w->objects, inst_path, NLCTL_INSTANCE_IFACE);
        g_autofree char *label = nlctl_object_label(path, d);
        g_autofree char *owner = NULL;
        gboolean ready;
        g_autofree char *why = device_why(w, path, d, &ready);
        g_autofree char *mac = mac_words(w, path, d, FALSE, &owner);
        guint64 left = nlctl_dict_u64(d, "ReadyInUsec", NLCTL_NOT_COUNTING);
        guint64 announced = nlctl_last_announced(inst);
        g_autofree char *profile = profile_words(d);

        json_object_set_string_member(o, "path", path);
        json_object_set_string_member(o, "kind", "device");
        json_object_set_string_member(o, "State", nlctl_dict_str(d, "State"));
        json_object_set_string_member(o, "PortState", nlctl_dict_str(d, "PortState"));
        json_object_set_string_member(o, "PortReason", nlctl_dict_str(d, "PortReason"));
        json_object_set_boolean_member(o, "ready", ready);
        json_object_set_string_member(o, "why", why);
        if (left == NLCTL_NOT_COUNTING)
                json_object_set_null_member(o, "ready-in-usec");
        else
                json_object_set_int_member(o, "ready-in-usec", (gint64) left);
        json_object_set_string_member(o, "MAC", nlctl_dict_str(d, "MAC"));
        if (owner)
                json_object_set_string_member(o, "mac-owner", owner);
        else
                json_object_set_null_member(o, "mac-owner");
        if (announced)
                json_object_set_int_member(o, "last-announced-usec", (gint64) announced);
        else
                json_object_set_null_member(o, "last-announced-usec");
        if (profile)
                json_object_set_string_member(o, "port-profile", profile);
        if (brief) {
                g_string_append_printf(out, "  %s: %s, %s: %s\n", label, nlctl_dict_str(d, "State"),
                                       ready ? "ready" : "not ready", why);
        } else {
                g_autofree char *ann = announce_words(inst, name);

                g_string_append_printf(out, "%s: %s, %s\n  why: %s\n  mac: %s\n  announced: %s\n",
                                       label, nlctl_dict_str(d, "State"),
                                       ready ? "ready" : "not ready", why, mac, ann);
                if (profile)
                        g_string_append_printf(out, "  port profile: %s\n", profile);
        }
        return o;
}

static JsonObject *
explain_instance(World *w, const char *path, GVariant *n, GString *out)
{
        JsonObject *o = json_object_new();
        JsonArray *devs = json_array_new();
        JsonArray *migs = json_array_new();
        const char *name = nlctl_dict_str(n, "Name");
        g_autoptr(GHashTable) macs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        g_autofree char *ann = announce_words(n, name);
        guint64 slowest = 0, announced = nlctl_last_announced(n);
        gboolean ready = nlctl_dict_bool(n, "Ready"), counting = TRUE;

        g_string_append_printf(out, "instance %s: %s, %s\n", name, ready ? "ready" : "not ready",
                               nlctl_dict_bool(n, "Active") ? "active" : "not active");
        for (guint i = 0; i < w->devices->len; i++) {
                const char *dp = w->devices->pdata[i];
                g_autoptr(GVariant) d =
                        nlctl_objects_lookup(w->objects, dp, NLC_DBUS_INTERFACE_DEVICE);
                g_autofree char *owner = NULL;
                guint64 left = nlctl_dict_u64(d, "ReadyInUsec", NLCTL_NOT_COUNTING);

                if (!g_str_equal(nlctl_dict_str(d, "Instance"), name))
                        continue;
                json_array_add_object_element(devs, explain_device(w, dp, d, out, TRUE));
                if (!nlctl_dict_bool(d, "Ready")) {
                        counting &= left != NLCTL_NOT_COUNTING;
                        slowest = MAX(slowest, left);
                }
                if (!g_hash_table_contains(macs, nlctl_dict_str(d, "MAC")))
                        g_hash_table_insert(macs, g_strdup(nlctl_dict_str(d, "MAC")),
                                            mac_words(w, dp, d, TRUE, &owner));
        }
        if (!ready && counting && slowest) {
                g_autofree char *in = nlctl_format_duration(slowest);

                g_string_append_printf(out, "  ready in about %s (the slowest port)\n", in);
        }
        {
                g_autoptr(GList) words = g_hash_table_get_values(macs);

                for (GList *l = words; l; l = l->next)
                        g_string_append_printf(out, "  mac: %s\n", (const char *) l->data);
        }
        g_string_append_printf(out, "  announced: %s\n", ann);
        for (guint i = 0; i < w->migrations->len; i++) {
                g_autoptr(GVariant) m = nlctl_objects_lookup(w->objects, w->migrations->pdata[i],
                                                             NLCTL_MIGRATION_IFACE);

                if (!g_str_equal(nlctl_dict_str(m, "Instance"), name))
                        continue;
                json_array_add_string_element(migs, w->migrations->pdata[i]);
                g_string_append_printf(out, "  migration %s: %s, %s\n",
                                       nlctl_path_id(w->migrations->pdata[i]),
                                       nlctl_dict_str(m, "Role"), nlctl_dict_str(m, "Phase"));
        }
        json_object_set_string_member(o, "path", path);
        json_object_set_string_member(o, "kind", "instance");
        json_object_set_string_member(o, "Name", name);
        json_object_set_boolean_member(o, "ready", ready);
        json_object_set_boolean_member(o, "Active", nlctl_dict_bool(n, "Active"));
        if (!ready && counting && slowest)
                json_object_set_int_member(o, "ready-in-usec", (gint64) slowest);
        else if (ready)
                json_object_set_int_member(o, "ready-in-usec", 0);
        else
                json_object_set_null_member(o, "ready-in-usec");
        json_object_set_string_member(o, "QemuSocket", nlctl_dict_str(n, "QemuSocket"));
        if (announced)
                json_object_set_int_member(o, "last-announced-usec", (gint64) announced);
        else
                json_object_set_null_member(o, "last-announced-usec");
        json_object_set_array_member(o, "devices", devs);
        json_object_set_array_member(o, "migrations", migs);
        return o;
}

int
nlctl_cmd_explain(NlctlContext *ctx)
{
        const char *arg = ctx->args[0];
        g_auto(World) w = { 0 };
        g_autoptr(GError) error = NULL;
        g_autoptr(GString) out = g_string_new(NULL);
        g_autofree char *path = nlctl_device_path(arg);
        g_autoptr(GVariant) props = NULL;
        JsonObject *o;

        if (!world_load(ctx, &w, &error))
                return nlctl_fail(error);
        if (path && g_str_has_prefix(path, NLCTL_INSTANCE_PATH_PREFIX)) {
                props = nlctl_objects_lookup(w.objects, path, NLCTL_INSTANCE_IFACE);
                if (!props)
                        return nlctl_die(NLCTL_EXIT_DBUS, "no instance at %s", path);
        } else if (path) {
                props = nlctl_objects_lookup(w.objects, path, NLC_DBUS_INTERFACE_DEVICE);
                if (!props)
                        return nlctl_die(NLCTL_EXIT_DBUS, "no device at %s", path);
        } else {
                path = g_strdup(nlctl_instance_named(w.objects, w.instances, arg));
                /* The daemon's own refusal names what is missing. */
                if (!path)
                        path = nlctl_instance_path(ctx, arg, &error);
                if (!path)
                        return nlctl_fail(error);
                props = nlctl_objects_lookup(w.objects, path, NLCTL_INSTANCE_IFACE);
        }
        if (g_str_has_prefix(path, NLCTL_INSTANCE_PATH_PREFIX))
                o = explain_instance(&w, path, props, out);
        else
                o = explain_device(&w, path, props, out, FALSE);
        if (ctx->json)
                nlctl_print_json_object(o);
        else {
                json_object_unref(o);
                g_print("%s", out->str);
        }
        return NLCTL_EXIT_OK;
}

char *
nlctl_explain_not_ready(NlctlContext *ctx, const char *instance_path)
{
        g_auto(World) w = { 0 };
        g_autoptr(GString) out = g_string_new(NULL);
        g_autoptr(GVariant) n = NULL;
        const char *name;

        if (!world_load(ctx, &w, NULL))
                return g_strdup("");
        n = nlctl_objects_lookup(w.objects, instance_path, NLCTL_INSTANCE_IFACE);
        name = nlctl_dict_str(n, "Name");
        for (guint i = 0; i < w.devices->len; i++) {
                g_autoptr(GVariant) d = nlctl_objects_lookup(w.objects, w.devices->pdata[i],
                                                             NLC_DBUS_INTERFACE_DEVICE);
                gboolean ready;
                g_autofree char *why = NULL;
                g_autofree char *label = NULL;

                if (!g_str_equal(nlctl_dict_str(d, "Instance"), name))
                        continue;
                why = device_why(&w, w.devices->pdata[i], d, &ready);
                label = nlctl_object_label(w.devices->pdata[i], d);
                if (!ready)
                        g_string_append_printf(out, "  %s: %s\n", label, why);
        }
        return g_string_free(g_steal_pointer(&out), FALSE);
}
