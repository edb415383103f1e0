/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One test case's private world: its own process (a GTest subprocess), a
 * fresh network namespace, a private dbus-daemon on a unix:path socket and
 * the real netlifecd binary ($NLC_DAEMON). The namespace, the bus and the
 * daemon go away with the subprocess; the parent removes the temporary
 * directory and prints the daemon's log when the case failed.
 */
#pragma once

#include <gio/gio.h>
#include <gio/gunixfdlist.h>

#include "nlc-test-daemon.h"

#define NLC_MANAGER_PATH "/org/netlifecd1"
#define NLC_MANAGER      "org.netlifecd1.Manager"
#define NLC_DEVICE       "org.netlifecd1.Device"
#define NLC_OBJMGR       "org.freedesktop.DBus.ObjectManager"

#define NLC_ERR_INVALID_ARGS  "org.netlifecd1.Error.InvalidArgs"
#define NLC_ERR_INVALID_STATE "org.netlifecd1.Error.InvalidState"
#define NLC_ERR_NOT_FOUND     "org.netlifecd1.Error.NotFound"
#define NLC_ERR_CONFLICT      "org.netlifecd1.Error.Conflict"

/* The topology the set-up makes for every case. */
#define NLC_BRIDGE     "br0"
#define NLC_BRIDGE_MTU 1400
#define NLC_PORT_VETH  "vbr0"   /* veth end enslaved to br0 */
#define NLC_PEER_VETH  "vpeer0" /* its peer, outside the bridge: where we listen */

/* The world a case gets: nlc-test-daemon.h's bus and daemon, with the
 * daemon's signals recorded from before it starts (nlc-test-dbus.h). */
typedef NlcTestDaemon NlcTestEnv;

typedef void (*NlcTestFunc)(NlcTestEnv *env, gconstpointer data);

/* Registers a case run in its own subprocess with a fresh NlcTestEnv. */
void nlc_test_add(const char *test_path, NlcTestFunc func, gconstpointer data);

/* Tells stderr what the case is doing, so a failure shows where it was. */
void nlc_test_step(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* Runs a command, split like a shell would or with @shell through /bin/sh -c
 * (pipes, redirections, ||); fails the test unless it exits 0. Returns its
 * stdout. */
char *nlc_command(gboolean shell, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
#define nlc_run(...)     g_free(nlc_command(FALSE, __VA_ARGS__))
#define nlc_run_out(...) nlc_command(FALSE, __VA_ARGS__)
#define nlc_sh(...)      g_free(nlc_command(TRUE, __VA_ARGS__))
#define nlc_sh_out(...)  nlc_command(TRUE, __VA_ARGS__)

/* Iterates the default main context until @cond(@data) or @timeout_ms. */
gboolean nlc_wait_until(gboolean (*cond)(gpointer), gpointer data, guint timeout_ms);
