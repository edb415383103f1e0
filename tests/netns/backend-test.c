/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <gio/gio.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend-test.h"
#include "nlc-test-kernel.h"
#include "ns-env.h"

/* The whole of ip -j -d link show, or "" when there is no such link. */
char *
bt_link_json(const char *ifname)
{
        return nlc_kernel_link_exists(ifname) ? ns_sh_out("ip -j -d link show dev %s", ifname)
                                              : g_strdup("");
}

gboolean
bt_has_flag(JsonObject *o, const char *flag)
{
        JsonArray *flags = json_object_has_member(o, "flags")
                                   ? json_object_get_array_member(o, "flags")
                                   : NULL;

        for (guint i = 0; flags && i < json_array_get_length(flags); i++)
                if (g_str_equal(json_array_get_string_element(flags, i), flag))
                        return TRUE;
        return FALSE;
}

GVariant *
bt_parse_options(const char *text)
{
        g_autoptr(GError) error = NULL;
        GVariant *v = g_variant_parse(G_VARIANT_TYPE_VARDICT, text, NULL, NULL, &error);

        g_assert_no_error(error);
        return v;
}

/* Lets signals already sent arrive. */
void
bt_drain_signals(void)
{
        g_usleep(50000);
        for (int i = 0; i < 1000 && g_main_context_iteration(NULL, FALSE); i++)
                ;
}

int
bt_listen_on(const char *ifname)
{
        struct sockaddr_ll sll = { .sll_family = AF_PACKET,
                                   .sll_protocol = htons(ETH_P_ALL),
                                   .sll_ifindex = (int) if_nametoindex(ifname) };
        int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));

        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(bind(fd, (struct sockaddr *) &sll, sizeof sll), ==, 0);
        return fd;
}

static void
on_state_changed(GDBusConnection *c, const char *sender, const char *path, const char *iface,
                 const char *signal, GVariant *params, gpointer data)
{
        GPtrArray *changes = data;
        const char *old, *new, *reason;

        g_variant_get(params, "(&s&s&s)", &old, &new, &reason);
        g_ptr_array_add(changes, g_strdup_printf("%s %s>%s:%s", path, old, new, reason));
}

guint
bt_record_state_changes(GDBusConnection *conn, GPtrArray *into)
{
        return g_dbus_connection_signal_subscribe(
                conn, "org.netlifecd1", "org.netlifecd1.Device", "StateChanged", NULL, NULL,
                G_DBUS_SIGNAL_FLAGS_NONE, on_state_changed, into, NULL);
}

void
bt_wait_len(GPtrArray *changes, guint n)
{
        for (int i = 0; i < 2000 && changes->len < n; i++)
                g_main_context_iteration(NULL, FALSE) || (g_usleep(1000), TRUE);
        g_assert_cmpuint(changes->len, >=, n);
}

gboolean
bt_device_exported(NsEnv *env, const char *path)
{
        g_autoptr(GVariant) objs =
                ns_call(env, "/org/netlifecd1", "org.freedesktop.DBus.ObjectManager",
                        "GetManagedObjects", NULL, "(a{oa{sa{sv}}})", NULL);
        g_autofree char *text = NULL;
        g_autofree char *quoted = path ? g_strdup_printf("'%s'", path) : NULL;

        g_assert_nonnull(objs);
        text = g_variant_print(objs, FALSE);
        return strstr(text, path ? quoted : "'/org/netlifecd1/device/") != NULL;
}
