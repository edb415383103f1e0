/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers the macvtap and direct suites share: links read with iproute2's
 * JSON, option parsing, signal draining and a packet listener. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

gboolean bt_link_exists(const char *ifname);
char *bt_link_json(const char *ifname);
gboolean bt_has_flag(JsonObject *o, const char *flag);
GVariant *bt_parse_options(const char *text);
void bt_drain_signals(void);
int bt_listen_on(const char *ifname);
