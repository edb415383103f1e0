/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A private dbus-daemon, the caller's connection to it and the real
 * netlifecd on it: the one way the netns fixtures (ns-env.h, nlc-test-env.h)
 * and the benchmarks (bench/bench-env.h) start, stop, kill and restart the
 * daemon. Everything is in one directory: the bus socket (unix:path: an
 * abstract socket belongs to one network namespace, a path is reachable from
 * all), bus.log, the daemon's state/, run/ and daemon.log, and services.log
 * for other services of the bus (polkitd for test-authz). Children die with
 * the process that started them. A failure here aborts (g_error) after
 * printing the logs.
 */
#pragma once

#include <gio/gio.h>

#define NLC_BUS_NAME "org.netlifecd1"

typedef struct _NlcTestSignals NlcTestSignals;

typedef struct {
        char *dir;
        char *address;
        char *state_dir;  /* <dir>/state, the daemon's --state-dir */
        char *daemon_log; /* the daemon's stdout and stderr, a header line per start */
        /* Read at every start; the caller may change them in between. */
        const char *daemon; /* the binary, the caller's; NULL: $NLC_DAEMON */
        char *config;       /* --config, owned; NULL: the defaults */
        char **daemon_args; /* owned; after --address, --state-dir and --runtime-dir */
        GSpawnChildSetupFunc daemon_setup; /* also run in the daemon's child */
        gpointer daemon_setup_data;
        /* The daemon serves the bus as the system bus, as in production: no
         * --address, DBUS_SYSTEM_BUS_ADDRESS names the bus (polkit is then
         * asked about the caller's bus name). */
        gboolean system_bus;
        guint start_timeout_ms;        /* 0: 10 s */
        gboolean logs_shown_by_parent; /* a failure here need not print them */
        GPid bus_pid;
        GDBusConnection *conn;
        GPid daemon_pid; /* 0 while it does not run */
        guint daemon_starts;
        GArray *services;        /* GPid: nlc_test_start_service()'s, running */
        NlcTestSignals *signals; /* nlc-test-dbus.c's record; NULL: none */
} NlcTestDaemon;

/* Zeroes @d for a world in @dir, which must exist. */
void nlc_test_daemon_init(NlcTestDaemon *d, const char *dir);
/* Starts dbus-daemon: a session bus, or with @config_file the bus that file
 * describes, which must listen on @d's address. Returns connected to it. */
void nlc_test_start_bus(NlcTestDaemon *d, const char *config_file);
/* Starts another service of the bus (polkitd, say), DBUS_SYSTEM_BUS_ADDRESS
 * naming it, its output in services.log, and waits until it owns @name;
 * fails when it exits first. It runs until nlc_test_daemon_finish(). */
void nlc_test_start_service(NlcTestDaemon *d, const char *const *argv, const char *name);
/* Starts netlifecd and waits until it owns its name; fails when it exits
 * first or takes longer than start_timeout_ms. The test's G_DEBUG is not
 * the daemon's; $NLC_DAEMON_G_DEBUG, when set, is. */
void nlc_test_start_daemon(NlcTestDaemon *d);
/* Sends @signo (SIGTERM, SIGINT) and asserts that the daemon exits with
 * status 0 within 5 s; kill9 asserts death by SIGKILL. Both return once the
 * bus has released the name, so that a next start cannot take the old owner
 * for the new one. */
void nlc_test_stop_daemon(NlcTestDaemon *d, int signo);
void nlc_test_kill9_daemon(NlcTestDaemon *d);
void nlc_test_restart_daemon(NlcTestDaemon *d);
/* Stops the daemon if it runs (asserting a clean exit), the services,
 * closes the connection, stops the bus and frees @d's contents; @remove_dir:
 * the directory too. */
void nlc_test_daemon_finish(NlcTestDaemon *d, gboolean remove_dir);

/* Prints daemon.log, bus.log and any services.log of the world in @dir to
 * stderr. */
void nlc_test_print_logs(const char *dir);
/* Removes @path and everything below it. */
void nlc_test_remove_tree(const char *path);
