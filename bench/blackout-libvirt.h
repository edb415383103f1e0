/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench/blackout's libvirt rows: one migration of the guest of tests/libvirt
 * between two namespace hosts with unmodified libvirtd 11, by
 * tests/libvirt/lv-migrate.sh, with libvirt alone or with netlifecd's hook
 * and agent, read back from the run's timeline and logs.
 */
#pragma once

#include <gio/gio.h>

typedef struct {
        double network_ms;            /* STOP to the switch's first frame for the guest to B */
        gboolean network_lower_bound; /* none within the run: from STOP to the run's end */
        double guest_gap_ms;          /* the largest gap in the guest's echo replies */
        gboolean guest_lower_bound;   /* not answered again by the run's end */
        double downtime_ms;           /* libvirt's job statistics (QEMU's downtime) */
        double total_s;               /* the virsh migrate call */
        double switch_after_ready_ms; /* A's STOP minus B's port forwarding (kernel) */
        const char *guest_broken;     /* the guest's console showed an emulator failure */
} NlcLibvirtBlackout;

/* Runs one migration in @run_dir (kept: its timeline.txt tells the story).
 * @with_netlifecd: the hook and the agent on both hosts (post-copy
 * requested by the agent), else libvirt alone (post-copy requested at the
 * first iteration, by the script). FALSE with @error when the run failed. */
gboolean nlc_libvirt_blackout_run(const char *run_dir, gboolean with_netlifecd,
                                  guint forward_delay_s, guint bandwidth_mib,
                                  NlcLibvirtBlackout *out, GError **error);
