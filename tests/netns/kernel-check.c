/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <json-glib/json-glib.h>
#include <string.h>

#include "backend-test.h"
#include "kernel-check.h"
#include "ns-env.h"

static JsonObject *
first_object(JsonNode *root)
{
        JsonArray *a = root && JSON_NODE_HOLDS_ARRAY(root) ? json_node_get_array(root) : NULL;

        return a && json_array_get_length(a) ? json_array_get_object_element(a, 0) : NULL;
}

void
kernel_port_read(const char *ifname, KernelPort *out)
{
        g_autofree char *names = kernel_link_names();
        g_autofree char *link = NULL, *port = NULL;
        g_autoptr(JsonNode) link_root = NULL, port_root = NULL;
        g_autofree char *needle = g_strdup_printf(" %s ", ifname);
        g_autofree char *padded = g_strdup_printf(" %s ", names);
        JsonObject *l, *p, *info, *data;

        memset(out, 0, sizeof *out);
        if (!strstr(padded, needle))
                return;
        out->exists = TRUE;
        link = ns_sh_out("ip -j -d link show dev %s", ifname);
        link_root = json_from_string(link, NULL);
        l = first_object(link_root);
        g_assert_nonnull(l);
        if (json_object_has_member(l, "master"))
                g_strlcpy(out->master, json_object_get_string_member(l, "master"),
                          sizeof out->master);
        out->mtu = (guint) json_object_get_int_member_with_default(l, "mtu", 0);
        out->up = bt_has_flag(l, "UP");
        out->lower_up = bt_has_flag(l, "LOWER_UP");
        info = json_object_has_member(l, "linkinfo") ? json_object_get_object_member(l, "linkinfo")
                                                     : NULL;
        data = info && json_object_has_member(info, "info_data")
                       ? json_object_get_object_member(info, "info_data")
                       : NULL;
        if (info &&
            g_strcmp0(json_object_get_string_member_with_default(info, "info_kind", ""), "tun") ==
                    0 &&
            data) {
                out->is_tap =
                        g_strcmp0(json_object_get_string_member_with_default(data, "type", ""),
                                  "tap") == 0;
                out->pi = json_object_get_boolean_member_with_default(data, "pi", TRUE);
                out->vnet_hdr =
                        json_object_get_boolean_member_with_default(data, "vnet_hdr", FALSE);
                out->multi_queue =
                        json_object_get_boolean_member_with_default(data, "multi_queue", FALSE);
        }
        if (!*out->master)
                return;
        port = ns_sh_out("bridge -j -d link show dev %s", ifname);
        port_root = json_from_string(port, NULL);
        p = first_object(port_root);
        if (p) {
                out->learning = json_object_get_boolean_member_with_default(p, "learning", TRUE);
                out->flood = json_object_get_boolean_member_with_default(p, "flood", TRUE);
        }
}

static int
compare_names(gconstpointer a, gconstpointer b)
{
        return g_strcmp0(*(const char *const *) a, *(const char *const *) b);
}

char *
kernel_link_names(void)
{
        g_autofree char *out = ns_sh_out("ip -j link show");
        g_autoptr(JsonNode) root = json_from_string(out, NULL);
        JsonArray *a = json_node_get_array(root);
        g_autoptr(GPtrArray) names = g_ptr_array_new();

        for (guint i = 0; i < json_array_get_length(a); i++)
                g_ptr_array_add(names, (gpointer) json_object_get_string_member(
                                               json_array_get_object_element(a, i), "ifname"));
        g_ptr_array_sort(names, compare_names);
        g_ptr_array_add(names, NULL);
        return g_strjoinv(" ", (char **) names->pdata);
}
