/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Talking to the daemon with raw GDBusConnection calls (the tests check the
 * wire contract, not generated code), and the signals it sends. Both
 * fixtures' tests call these (ns-env.h under its own names).
 */
#pragma once

#include "nlc-test-env.h"

/* Method calls on org.netlifecd1. nlc_try_call returns the reply (of
 * @reply_type when given), or NULL with @error. nlc_call asserts success and
 * returns the reply. nlc_call_error asserts that the call fails with the
 * D-Bus error @error_name and returns the error's message. */
GVariant *nlc_try_call(NlcTestEnv *env, const char *path, const char *iface, const char *method,
                       GVariant *params, const char *reply_type, GError **error);
GVariant *nlc_call(NlcTestEnv *env, const char *path, const char *iface, const char *method,
                   GVariant *params, const char *reply_type);
char *nlc_call_error(NlcTestEnv *env, const char *path, const char *iface, const char *method,
                     GVariant *params, const char *error_name);
/* A Device method without arguments or results, asserted to succeed. */
void nlc_device_call(NlcTestEnv *env, const char *path, const char *method);
/* Device.Create(): asserts success; returns the fds in the order of the
 * reply's handles (one per queue). */
GUnixFDList *nlc_device_create(NlcTestEnv *env, const char *path);

/* Manager.Allocate/Notify parameters; @options is GVariant text of an a{sv}. */
GVariant *nlc_manager_params(const char *instance, const char *backend, const char *mac,
                             const char *options);
/* Allocate(instance, "tap-bridge", mac, options) → the device path, asserted. */
char *nlc_allocate(NlcTestEnv *env, const char *instance, const char *mac, const char *options);

/* Properties.Get, asserted to succeed. */
GVariant *nlc_get(NlcTestEnv *env, const char *path, const char *iface, const char *prop);
char *nlc_get_string(NlcTestEnv *env, const char *path, const char *iface, const char *prop);
gboolean nlc_get_bool(NlcTestEnv *env, const char *path, const char *iface, const char *prop);
guint64 nlc_get_u64(NlcTestEnv *env, const char *path, const char *iface, const char *prop);
/* Asserts State. */
void nlc_assert_state(NlcTestEnv *env, const char *path, const char *state);
/* Asserts every property of a tap-bridge device on the set-up's bridge:
 * Instance, Backend, MAC (@mac in lower case), IfName, Bridge, State, and
 * OwnsMac (TRUE in active only). */
void nlc_assert_device(NlcTestEnv *env, const char *path, const char *instance, const char *mac,
                       const char *ifname, const char *state);
/* GetManagedObjects(): the devices it lists as "path=State" words, sorted,
 * space-separated. */
char *nlc_managed_devices(NlcTestEnv *env);

/* Signals from the daemon are recorded from set-up on. Each wait consumes the
 * oldest matching signal not consumed yet, waiting up to @timeout_ms for it;
 * it returns the signal's parameters, asserted to exist. For the
 * ObjectManager's InterfacesAdded/InterfacesRemoved, @subject is the object
 * path they carry as first argument; otherwise the path that emitted it. */
GVariant *nlc_wait_signal(NlcTestEnv *env, const char *subject, const char *member,
                          guint timeout_ms);
void nlc_expect_state_changed(NlcTestEnv *env, const char *path, const char *old_state,
                              const char *new_state, const char *reason);
/* Consumes @path's PortStateChanged signals up to the first that says
 * @new_state for @reason ("" when forwarding), within @timeout_ms
 * (asserted). */
void nlc_expect_port_state(NlcTestEnv *env, const char *path, const char *new_state,
                           const char *reason, guint timeout_ms);
/* Runs Device.@method (for Create, its fds are closed at once, leaving the
 * daemon the only holder of the queues), then expects StateChanged(@old_state,
 * @new_state, the method's name in lower case) and State @new_state. */
void nlc_device_step(NlcTestEnv *env, const char *path, const char *method, const char *old_state,
                     const char *new_state);
/* nlc_mark_signals() takes in everything the daemon sent so far (a round
 * trip first: the bus keeps one sender's messages in order); then
 * nlc_expect_no_signal() asserts that, since the mark, no StateChanged,
 * InterfacesAdded or InterfacesRemoved about @subject (NULL: any) came. */
void nlc_mark_signals(NlcTestEnv *env);
/* Marks, and takes every signal recorded so far as consumed: after a
 * restart, the next wait sees only what comes from then on. */
void nlc_forget_signals(NlcTestEnv *env);
void nlc_expect_no_signal(NlcTestEnv *env, const char *subject);

/* Used by the environment: recording starts with the connection. */
void nlc_test_signals_start(NlcTestEnv *env);
void nlc_test_signals_stop(NlcTestEnv *env);
