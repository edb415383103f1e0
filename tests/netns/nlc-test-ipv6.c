/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "nlc-test-ipv6.h"

gboolean
nlc_test_ipv6_off(const char *ifname, guint *n_addrs)
{
        g_autofree char *path = g_strdup_printf("/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
        g_autofree char *off = NULL, *table = NULL;
        g_auto(GStrv) lines = NULL;
        guint n = 0;

        g_assert_true(g_file_get_contents(path, &off, NULL, NULL));
        /* One line per address: "<address> <ifindex> <plen> <scope> <flags> <ifname>". */
        g_assert_true(g_file_get_contents("/proc/net/if_inet6", &table, NULL, NULL));
        lines = g_strsplit(table, "\n", -1);
        for (guint i = 0; lines[i]; i++) {
                g_auto(GStrv) fields = g_strsplit_set(g_strstrip(lines[i]), " \t", -1);
                guint last = g_strv_length(fields);

                if (last > 1 && g_str_equal(fields[last - 1], ifname))
                        n++;
        }
        if (n_addrs)
                *n_addrs = n;
        return off[0] == '1';
}
