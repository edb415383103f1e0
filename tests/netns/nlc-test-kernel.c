/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <json-glib/json-glib.h>
#include <string.h>

#include "nlc-test-env.h"
#include "nlc-test-ipv6.h"
#include "nlc-test-kernel.h"

/* iproute2 leaves out what a link does not have; printf gets "-" for it. */
#define OR_DASH(s) ((s) ? (s) : "-")

static JsonNode *
run_json(const char *cmd)
{
        g_autofree char *out = nlc_run_out("%s", cmd);
        g_autoptr(GError) error = NULL;
        JsonNode *root = json_from_string(out, &error);

        if (!root || !JSON_NODE_HOLDS_ARRAY(root))
                g_error("'%s' printed no JSON array (%s): %s", cmd,
                        error ? error->message : "wrong type", out);
        return root;
}

static JsonObject *
first_object(JsonNode *root)
{
        JsonArray *a = json_node_get_array(root);

        return json_array_get_length(a) ? json_array_get_object_element(a, 0) : NULL;
}

static const char *
str_member(JsonObject *o, const char *name)
{
        return o ? json_object_get_string_member_with_default(o, name, NULL) : NULL;
}

static JsonObject *
obj_member(JsonObject *o, const char *name)
{
        JsonNode *n = o ? json_object_get_member(o, name) : NULL;

        return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

/* A flag iproute2 always prints for this kind of object: missing is an error,
 * not a default. */
static gboolean
bool_member(JsonObject *o, const char *name, const char *what)
{
        if (!json_object_has_member(o, name))
                g_error("iproute2 shows no '%s' for %s", name, what);
        return json_object_get_boolean_member(o, name);
}

static JsonArray *
flags_of(JsonObject *o)
{
        JsonNode *n = json_object_get_member(o, "flags");

        return n && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;
}

static gboolean
has_flag(JsonObject *o, const char *flag)
{
        JsonArray *flags = flags_of(o);

        for (guint i = 0; flags && i < json_array_get_length(flags); i++)
                if (g_strcmp0(json_array_get_string_element(flags, i), flag) == 0)
                        return TRUE;
        return FALSE;
}

static char *
join_flags(JsonObject *o)
{
        JsonArray *flags = flags_of(o);
        g_autoptr(GPtrArray) words = g_ptr_array_new();

        for (guint i = 0; flags && i < json_array_get_length(flags); i++)
                g_ptr_array_add(words, (gpointer) json_array_get_string_element(flags, i));
        g_ptr_array_add(words, NULL);
        return g_strjoinv(",", (char **) words->pdata);
}

static int
compare_strings(gconstpointer a, gconstpointer b)
{
        return g_strcmp0(*(const char *const *) a, *(const char *const *) b);
}

/* Sorts @words (which it owns no part of) and joins them with @sep. */
static char *
sorted_join(GPtrArray *words, const char *sep)
{
        g_ptr_array_sort(words, compare_strings);
        g_ptr_array_add(words, NULL);
        return g_strjoinv(sep, (char **) words->pdata);
}

char *
nlc_kernel_link_names(void)
{
        g_autoptr(JsonNode) root = run_json("ip -j link show");
        JsonArray *a = json_node_get_array(root);
        g_autoptr(GPtrArray) names = g_ptr_array_new();

        for (guint i = 0; i < json_array_get_length(a); i++)
                g_ptr_array_add(names, (gpointer) str_member(json_array_get_object_element(a, i),
                                                             "ifname"));
        return sorted_join(names, " ");
}

gboolean
nlc_kernel_link_exists(const char *ifname)
{
        g_autofree char *names = nlc_kernel_link_names();
        g_auto(GStrv) words = g_strsplit(names, " ", -1);

        return g_strv_contains((const char *const *) words, ifname);
}

void
nlc_link_free(NlcLink *link)
{
        if (!link)
                return;
        g_free(link->name);
        g_free(link->master);
        g_free(link->kind);
        g_free(link->tun_type);
        g_free(link->port_state);
        g_free(link);
}

static void
read_tun(NlcLink *l, JsonObject *data)
{
        l->tun_type = g_strdup(str_member(data, "type"));
        l->pi = bool_member(data, "pi", l->name);
        l->vnet_hdr = bool_member(data, "vnet_hdr", l->name);
        l->multi_queue = bool_member(data, "multi_queue", l->name);
        l->persist = bool_member(data, "persist", l->name);
        /* iproute2 prints the attached queue count for multi-queue taps only. */
        if (json_object_has_member(data, "numqueues"))
                l->numqueues = json_object_get_int_member(data, "numqueues");
}

NlcLink *
nlc_link_read(const char *ifname)
{
        g_autoptr(NlcLink) l = g_new0(NlcLink, 1);
        g_autoptr(JsonNode) root = NULL;
        g_autofree char *cmd = NULL;
        JsonObject *o, *info, *data;

        l->name = g_strdup(ifname);
        l->numqueues = -1;
        /* Existence from the full list: "ip link show dev X" for a missing X
         * is an error we would have to tell from real failures. */
        if (!nlc_kernel_link_exists(ifname))
                return g_steal_pointer(&l);
        l->exists = TRUE;
        cmd = g_strdup_printf("ip -j -d link show dev %s", ifname);
        root = run_json(cmd);
        o = first_object(root);
        g_assert_nonnull(o);
        l->master = g_strdup(str_member(o, "master"));
        l->mtu = (guint) json_object_get_int_member_with_default(o, "mtu", 0);
        l->up = has_flag(o, "UP");
        l->lower_up = has_flag(o, "LOWER_UP");
        info = obj_member(o, "linkinfo");
        l->kind = g_strdup(str_member(info, "info_kind"));
        data = obj_member(info, "info_data");
        if (g_strcmp0(l->kind, "tun") == 0 && data)
                read_tun(l, data);
        l->ipv6_off = nlc_test_ipv6_off(ifname, &l->ipv6_addrs);
        if (l->master) {
                g_autofree char *port_cmd =
                        g_strdup_printf("bridge -j -d link show dev %s", ifname);
                g_autoptr(JsonNode) port_root = run_json(port_cmd);
                JsonObject *p = first_object(port_root);

                l->is_port = p != NULL;
                if (p) {
                        l->learning = bool_member(p, "learning", ifname);
                        l->flood = bool_member(p, "flood", ifname);
                        l->guard = bool_member(p, "guard", ifname);
                        l->root_block = bool_member(p, "root_block", ifname);
                        l->locked = bool_member(p, "locked", ifname);
                        if (json_object_has_member(p, "state"))
                                l->port_state = g_strdup(json_object_get_string_member(p, "state"));
                }
        }
        return g_steal_pointer(&l);
}

char *
nlc_kernel_fdb_static(const char *bridge, const char *mac)
{
        g_autofree char *cmd = g_strdup_printf("bridge -j fdb show br %s", bridge);
        g_autoptr(JsonNode) root = run_json(cmd);
        JsonArray *a = json_node_get_array(root);
        g_autofree char *want = g_ascii_strdown(mac, -1);
        g_autoptr(GPtrArray) ports = g_ptr_array_new();

        /* A static entry made with "master": state "static" and the bridge in
         * "master" (iproute2 prints no "master" word in flags for it). */
        for (guint i = 0; i < json_array_get_length(a); i++) {
                JsonObject *e = json_array_get_object_element(a, i);

                if (g_strcmp0(str_member(e, "mac"), want) == 0 &&
                    g_strcmp0(str_member(e, "state"), "static") == 0 &&
                    g_strcmp0(str_member(e, "master"), bridge) == 0)
                        g_ptr_array_add(ports, (gpointer) str_member(e, "ifname"));
        }
        return sorted_join(ports, " ");
}

static void
snapshot_links(GPtrArray *lines)
{
        g_autoptr(JsonNode) root = run_json("ip -j -d link show");
        JsonArray *a = json_node_get_array(root);

        for (guint i = 0; i < json_array_get_length(a); i++) {
                JsonObject *o = json_array_get_object_element(a, i);
                JsonObject *info = obj_member(o, "linkinfo");
                JsonObject *data = obj_member(info, "info_data");
                g_autofree char *flags = join_flags(o);
                g_autofree char *tun = NULL;

                if (g_strcmp0(str_member(info, "info_kind"), "tun") == 0 && data)
                        tun = g_strdup_printf(
                                " type=%s pi=%d vnet_hdr=%d mq=%d persist=%d "
                                "queues=%" G_GINT64_FORMAT,
                                OR_DASH(str_member(data, "type")), bool_member(data, "pi", "tun"),
                                bool_member(data, "vnet_hdr", "tun"),
                                bool_member(data, "multi_queue", "tun"),
                                bool_member(data, "persist", "tun"),
                                json_object_get_int_member_with_default(data, "numqueues", -1));
                g_ptr_array_add(
                        lines,
                        g_strdup_printf(
                                "link %s master=%s mtu=%" G_GINT64_FORMAT " flags=%s kind=%s%s",
                                OR_DASH(str_member(o, "ifname")), OR_DASH(str_member(o, "master")),
                                json_object_get_int_member_with_default(o, "mtu", 0), flags,
                                OR_DASH(str_member(info, "info_kind")), tun ? tun : ""));
        }
}

static void
snapshot_ports(GPtrArray *lines)
{
        g_autoptr(JsonNode) root = run_json("bridge -j -d link show");
        JsonArray *a = json_node_get_array(root);

        for (guint i = 0; i < json_array_get_length(a); i++) {
                JsonObject *p = json_array_get_object_element(a, i);
                const char *name = str_member(p, "ifname");

                g_ptr_array_add(lines,
                                g_strdup_printf("port %s master=%s state=%s learning=%d "
                                                "flood=%d guard=%d root_block=%d locked=%d",
                                                OR_DASH(name), OR_DASH(str_member(p, "master")),
                                                OR_DASH(str_member(p, "state")),
                                                bool_member(p, "learning", name),
                                                bool_member(p, "flood", name),
                                                bool_member(p, "guard", name),
                                                bool_member(p, "root_block", name),
                                                bool_member(p, "locked", name)));
        }
}

static void
snapshot_fdb(GPtrArray *lines)
{
        g_autoptr(JsonNode) root = run_json("bridge -j fdb show");
        JsonArray *a = json_node_get_array(root);

        for (guint i = 0; i < json_array_get_length(a); i++) {
                JsonObject *e = json_array_get_object_element(a, i);
                const char *state = str_member(e, "state");
                g_autofree char *flags = join_flags(e);

                /* Learnt entries come and go with traffic and ageing. */
                if (g_strcmp0(state, "static") != 0 && g_strcmp0(state, "permanent") != 0)
                        continue;
                g_ptr_array_add(lines,
                                g_strdup_printf("fdb %s dev=%s master=%s state=%s flags=%s",
                                                OR_DASH(str_member(e, "mac")),
                                                OR_DASH(str_member(e, "ifname")),
                                                OR_DASH(str_member(e, "master")), state, flags));
        }
}

char *
nlc_kernel_snapshot(void)
{
        g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);

        snapshot_links(lines);
        snapshot_ports(lines);
        snapshot_fdb(lines);
        g_ptr_array_sort(lines, compare_strings);
        g_ptr_array_add(lines, NULL);
        return g_strjoinv("\n", (char **) lines->pdata);
}

static char *
lines_missing(const char *from, const char *in)
{
        g_auto(GStrv) a = g_strsplit(from, "\n", -1);
        g_auto(GStrv) b = g_strsplit(in, "\n", -1);
        g_autoptr(GString) out = g_string_new(NULL);

        for (guint i = 0; a[i]; i++)
                if (!g_strv_contains((const char *const *) b, a[i]))
                        g_string_append_printf(out, "\n    %s", a[i]);
        return g_string_free(g_steal_pointer(&out), FALSE);
}

void
nlc_assert_kernel_unchanged(const char *before, const char *after)
{
        g_autofree char *gone = NULL, *added = NULL;

        if (g_strcmp0(before, after) == 0)
                return;
        gone = lines_missing(before, after);
        added = lines_missing(after, before);
        g_error("the kernel changed.\n  before only:%s\n  after only:%s", gone, added);
}

void
nlc_kernel_assert_topology(void)
{
        g_autoptr(NlcLink) br = nlc_link_read(NLC_BRIDGE);
        g_autoptr(NlcLink) port = nlc_link_read(NLC_PORT_VETH);
        g_autoptr(NlcLink) peer = nlc_link_read(NLC_PEER_VETH);

        g_assert_true(br->exists);
        g_assert_cmpstr(br->kind, ==, "bridge");
        g_assert_cmpuint(br->mtu, ==, NLC_BRIDGE_MTU);
        g_assert_true(br->up);
        g_assert_cmpstr(port->master, ==, NLC_BRIDGE);
        g_assert_true(port->is_port);
        g_assert_true(port->lower_up);
        g_assert_cmpstr(peer->kind, ==, "veth");
        g_assert_null(peer->master);
        g_assert_true(peer->lower_up);
}

void
nlc_assert_link_absent(const char *ifname)
{
        g_autofree char *names = nlc_kernel_link_names();

        if (nlc_kernel_link_exists(ifname))
                g_error("%s exists in the kernel; links: %s", ifname, names);
}

static char *
describe_port(const NlcLink *l)
{
        return g_strdup_printf("%s: exists=%d kind=%s type=%s pi=%d vnet_hdr=%d persist=%d mq=%d "
                               "queues=%" G_GINT64_FORMAT " master=%s mtu=%u up=%d carrier=%d "
                               "port=%d learning=%d flood=%d guard=%d root_block=%d locked=%d "
                               "ipv6_off=%d ipv6_addrs=%u",
                               l->name, l->exists, OR_DASH(l->kind), OR_DASH(l->tun_type), l->pi,
                               l->vnet_hdr, l->persist, l->multi_queue, l->numqueues,
                               OR_DASH(l->master), l->mtu, l->up, l->lower_up, l->is_port,
                               l->learning, l->flood, l->guard, l->root_block, l->locked,
                               l->ipv6_off, l->ipv6_addrs);
}

void
nlc_assert_port_guards(const char *ifname, gboolean bpdu_guard, gboolean locked)
{
        g_autoptr(NlcLink) l = nlc_link_read(ifname);

        g_assert_true(l->is_port);
        g_assert_true(l->root_block);
        g_assert_cmpint(l->guard, ==, bpdu_guard);
        g_assert_cmpint(l->locked, ==, locked);
}

void
nlc_assert_tap_port(const char *ifname, const char *bridge, guint mtu, guint queues)
{
        g_autoptr(NlcLink) l = nlc_link_read(ifname);
        g_autofree char *actual = describe_port(l);
        NlcLink want = {
                .name = (char *) ifname,
                .exists = TRUE,
                .kind = "tun",
                .tun_type = "tap",
                .pi = FALSE,
                .vnet_hdr = TRUE,
                .persist = TRUE,
                .multi_queue = queues > 1,
                /* The daemon holds every queue, so all are attached. */
                .numqueues = queues > 1 ? (gint64) queues : -1,
                .master = (char *) bridge,
                .mtu = mtu,
                .up = TRUE,
                .lower_up = TRUE,
                .is_port = TRUE,
                .learning = FALSE,
                .flood = FALSE,
                .guard = TRUE,
                .root_block = TRUE,
                .locked = TRUE,
                .ipv6_off = TRUE,
                .ipv6_addrs = 0,
        };
        g_autofree char *expected = describe_port(&want);

        /* One string each: a failure shows every field side by side. */
        g_assert_cmpstr(actual, ==, expected);
}

void
nlc_assert_fdb(const char *bridge, const char *mac, const char *ports)
{
        g_autofree char *actual = nlc_kernel_fdb_static(bridge, mac);

        g_assert_cmpstr(actual, ==, ports);
}

void
nlc_assert_device_kernel(const char *ifname, const char *mac, const char *state, guint queues)
{
        if (g_str_equal(state, "allocated") || g_str_equal(state, "destroyed")) {
                nlc_assert_link_absent(ifname);
                nlc_assert_fdb(NLC_BRIDGE, mac, "");
        } else if (g_str_equal(state, "created")) {
                nlc_assert_tap_port(ifname, NLC_BRIDGE, NLC_BRIDGE_MTU, queues);
                nlc_assert_fdb(NLC_BRIDGE, mac, "");
        } else if (g_str_equal(state, "active")) {
                nlc_assert_tap_port(ifname, NLC_BRIDGE, NLC_BRIDGE_MTU, queues);
                nlc_assert_fdb(NLC_BRIDGE, mac, ifname);
        } else {
                g_error("no kernel picture for state '%s'", state);
        }
}
