/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host's IPv6 on a link, as the kernel has it (its sysctl and
 * /proc/net/if_inet6), for both fixtures.
 */
#pragma once

#include <glib.h>

/* TRUE when net.ipv6.conf.<ifname>.disable_ipv6 is 1; @n_addrs (may be NULL)
 * receives how many host IPv6 addresses the link has. */
gboolean nlc_test_ipv6_off(const char *ifname, guint *n_addrs);
