/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A private world for one test case: a fresh network namespace (unshare of
 * the test process itself, so everything made in it goes away with it), a
 * private dbus-daemon and the real netlifecd binary ($NLC_DAEMON), started
 * by nlc-test-daemon.h. Without the privilege to unshare, the test fails: it
 * never passes silently. No topology and no signal record: each suite makes
 * its own.
 */
#pragma once

#include <gio/gio.h>
#include <gio/gunixfdlist.h>

#include "nlc-test-dbus.h"

typedef NlcTestDaemon NsEnv;

/* With @daemon_args added to every start of the daemon. */
void ns_env_set_up(NsEnv *env, const char *const *daemon_args);
/* The same; with @own_sysfs also a private mount namespace with a sysfs of
 * the new network namespace on /sys (a plain network namespace still shows
 * the host's /sys/class/net). */
void ns_env_set_up_full(NsEnv *env, const char *const *daemon_args, gboolean own_sysfs);
/* A private bus and daemon in the current namespace, its files in a new
 * temporary directory named after @dir_template (a second daemon next to the
 * fixture's, say). */
void ns_env_start_bus_and_daemon(NsEnv *env, const char *dir_template,
                                 const char *const *daemon_args);
/* A host configuration file with @text, made for this test process: the
 * daemon argument "--config=PATH" that names it. */
char *ns_config_arg(const char *text);
/* Stops the daemon (asserting a clean exit) and the bus; removes the files. */
void ns_env_tear_down(NsEnv *env);

/* The suites' names for what nlc-test-daemon.h, nlc-test-env.h and
 * nlc-test-dbus.h do for both fixtures. */
#define ns_env_start_daemon(env) nlc_test_start_daemon(env)
#define ns_env_kill9_daemon(env) nlc_test_kill9_daemon(env)
#define ns_sh(...)               nlc_sh(__VA_ARGS__)
#define ns_sh_out(...)           nlc_sh_out(__VA_ARGS__)
#define ns_call(...)             nlc_try_call(__VA_ARGS__)
#define ns_allocate(...)         nlc_allocate(__VA_ARGS__)
#define ns_create(...)           nlc_device_create(__VA_ARGS__)
#define ns_device_call(...)      nlc_device_call(__VA_ARGS__)
#define ns_get(...)              nlc_get(__VA_ARGS__)
#define ns_get_bool(...)         nlc_get_bool(__VA_ARGS__)
#define ns_get_u64(...)          nlc_get_u64(__VA_ARGS__)

/* Unlike nlc_get_string(), any string type: s, o (SharedWith) or g. */
char *ns_get_string(NsEnv *env, const char *path, const char *iface, const char *prop);

/* nlc_call_error(), the message dropped. */
void ns_call_expect_error(NsEnv *env, const char *path, const char *iface, const char *method,
                          GVariant *params, const char *error_name);

/* Iterates the main context until @cond(@data) or @timeout_ms; returns cond.
 * Unlike nlc_wait_until(), @cond is also checked every millisecond: it may
 * read the kernel, which wakes no main loop. */
gboolean ns_wait(gboolean (*cond)(gpointer), gpointer data, guint timeout_ms);

/* The kernel's view, through iproute2 (independent of the daemon's code). */
char *ns_kernel_port_state(const char *ifname);
/* Static FDB entries for @mac on any bridge, as "port@bridge" words. */
char *ns_kernel_fdb_static(const char *mac);
