/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The naive driver of mig-run.h: what a hypervisor driver does without
 * netlifecd. The tap is created and bridged by hand when QEMU starts (its
 * STP countdown starts then), QMP is spoken directly, post-copy starts after
 * the first pass whatever the destination's port is doing, and the guest MAC
 * is left to the bridges' learning and QEMU's own announcements.
 */
#pragma once

#include "mig-run.h"

/* A tap named @ifname in @h's namespace, a port of its bridge, up; @fd its
 * queue (the caller owns it; the tap goes away with the last queue). */
gboolean mig_naive_create_tap(MigHost *h, const char *ifname, int *fd, GError **error);
/* The same tap on no bridge, down: a NIC no daemon and no bridge knows. */
gboolean mig_naive_open_tap(MigHost *h, const char *ifname, int *fd, GError **error);
/* Both QEMUs must be running (B with -incoming defer). Starts the migration
 * and follows it to the end over QMP; fills @run's moments and downtime. */
gboolean mig_naive_migrate(MigEnv *env, guint64 max_bandwidth, MigRun *run, GError **error);
