/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the daemon benchmarks share: a private network namespace (this
 * process's own), the tests' private dbus-daemon and real netlifecd
 * (tests/netns/nlc-test-daemon.h, its config NULL for the defaults: fsync
 * on), and synchronous calls.
 */
#pragma once

#include <gio/gio.h>
#include <gio/gunixfdlist.h>

#include "nlc-test-daemon.h"

typedef NlcTestDaemon BenchEnv;

/* Runs a shell command; aborts when it fails. */
void bench_run(const char *cmd);
/* Enters a new network namespace (lo up), starts the bus, connects. With
 * @daemon_cpu >= 0, the daemon runs on that CPU only; this process and the
 * bus leave it to the daemon. */
void bench_env_init(BenchEnv *e, const char *daemon, int daemon_cpu);
void bench_env_finish(BenchEnv *e);
/* Starts the daemon; returns how long it took to own its name (the journal
 * restored and every device verified against the kernel first). */
double bench_start_daemon(BenchEnv *e);
/* SIGTERM; asserts a clean exit. */
void bench_stop_daemon(BenchEnv *e);
guint64 bench_rss_kib(GPid pid);
/* User + system CPU time @pid has used so far. */
double bench_cpu_seconds(GPid pid);
/* A method call that must succeed; @out_path receives an "(o)" reply.
 * @held: where Create's queue fds go, kept open as a hypervisor would keep
 * them; NULL: dropped at once. */
void bench_call_holding(BenchEnv *e, const char *path, const char *iface, const char *method,
                        GVariant *args, char **out_path, GPtrArray *held);
void bench_call(BenchEnv *e, const char *path, const char *iface, const char *method,
                GVariant *args, char **out_path);
/* Sorts @v. */
double bench_median(double *v, guint n);
