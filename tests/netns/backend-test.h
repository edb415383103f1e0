/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers the macvtap and direct suites share: links read with iproute2's
 * JSON, option parsing, signal draining, a packet listener, and the
 * daemon's view of its devices. */
#pragma once

#include <gio/gio.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "ns-env.h"

char *bt_link_json(const char *ifname);
gboolean bt_has_flag(JsonObject *o, const char *flag);
GVariant *bt_parse_options(const char *text);
void bt_drain_signals(void);
int bt_listen_on(const char *ifname);

/* Records every device's StateChanged into @into as "<path> old>new:reason";
 * returns the subscription on @conn. */
guint bt_record_state_changes(GDBusConnection *conn, GPtrArray *into);
/* Runs the main context until @changes holds at least @n (2 s at most). */
void bt_wait_len(GPtrArray *changes, guint n);
/* Whether @path (any device when NULL) is among the daemon's objects. */
gboolean bt_device_exported(NsEnv *env, const char *path);

/* Device property checks for a fixture with an NsEnv env and a char *path. */
#define assert_prop(f, path, prop, want)                                               \
        G_STMT_START                                                                   \
        {                                                                              \
                g_autofree char *_v =                                                  \
                        ns_get_string(&(f)->env, path, "org.netlifecd1.Device", prop); \
                g_assert_cmpstr(_v, ==, want);                                         \
        }                                                                              \
        G_STMT_END
#define assert_state_of(f, path, want) assert_prop(f, path, "State", want)
#define assert_state(f, want)          assert_state_of(f, (f)->path, want)
