/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Post-copy migration of a real Linux guest under real QEMU (TCG) from host A
 * to host B (see mig-env.h for the topology), each host with its own STP
 * bridge (forward delay 8 s, see MIG_FORWARD_DELAY_CS), private bus and
 * netlifecd. The coordinator's part is played here: devices allocated and
 * created on both hosts, QEMU started with the queue fds, AttachQemu,
 * PrepareIncoming on B, Migrate on A with readiness "destination-bus" and
 * post-copy after the first pass. A peer pings the guest every 10 ms
 * throughout (see mig-probe.h for what is measured and how).
 *
 * The first case runs the migration; the others judge what it recorded:
 *   switch-after-forwarding   migrate-start-postcopy only once B's port forwards
 *   source-deactivated        A's device deactivated within 50 ms of the STOP
 *   single-owner              never a static FDB entry for the MAC on both hosts
 *   blackout                  echo requests reaching the running instance's tap:
 *                             largest gap <= QEMU's downtime + 200 ms
 *   guest-intact              the emulator did not corrupt the guest (Oops, panic,
 *                             RAM check): an EMULATOR failure, reported as such
 *   guest-replies             the guest answers from B; not judged (TODO) when
 *                             the emulator corrupted it
 *   clean-shutdown            everything torn down, both daemons exit 0
 *
 * With NLC_MIG_SECOND_NIC=late the guest has a second NIC (issue #17: every
 * NIC counts). On B, its device is created SECOND_NIC_DELAY_MS after the
 * first NIC's, both before B's QEMU and PrepareIncoming, so its port
 * forwards that much later; the checks above judge the first NIC (the
 * guest's eth0, the one the probes use) and two more run:
 *   second-nic-switch         B's first port forwarded and the policy fired
 *                             while B's second port still blocked, and the
 *                             switch waited for the second port
 *   second-nic-single-owner   single-owner for the second NIC's MAC
 *
 * QEMU 10 and the guest (NLC_GUEST_DIR, from build-guest.sh) are required:
 * without them the test fails, it never skips. QEMU 7.2's TCG corrupts a
 * migrated Linux guest about half of the time (see scripts/install-qemu.sh).
 */
#include <linux/if_bridge.h>
#include <string.h>

#include "mig-run.h"

/* A's port forwards long before this; 16 MiB/s keeps the first pass (about
 * 10 s) shorter than B's two forward delays, so the gate is exercised. */
#define MAX_BANDWIDTH     (16ULL << 20)
#define DEACTIVATE_MS     50
#define BLACKOUT_SLACK_MS 200
/* B's second NIC after its first, with NLC_MIG_SECOND_NIC=late: one and a
 * half forward delays. B's first port then forwards about 3 s after Migrate,
 * before the policy fires (the first pass, about 10 s); the second about
 * 15 s after Migrate, as a single NIC's would. */
#define SECOND_NIC_DELAY_MS (MIG_FORWARD_DELAY_CS * 15)

static MigEnv env;
static gboolean env_up;
static gboolean any_failed, logs_dumped;
static MigRun run;
static const char *readiness = "destination-bus";
static const char *migrate_options; /* more Migrate() options, GVariant text */
static gboolean second_nic;         /* NLC_MIG_SECOND_NIC=late */

/* ---- the cases ---- */

static void
ensure_run(void)
{
        g_autoptr(GError) error = NULL;

        static gboolean ran;
        MigRunConfig config = { .driver = MIG_DRIVER_NETLIFECD,
                                .readiness = readiness,
                                .max_bandwidth = MAX_BANDWIDTH,
                                .migrate_options = migrate_options,
                                .blocktime = TRUE,
                                .second_nic = second_nic,
                                .second_nic_delay_ms = SECOND_NIC_DELAY_MS };

        if (ran)
                return;
        ran = TRUE;
        env_up = TRUE;
        if (!mig_env_set_up(&env, &error)) {
                run.failure = g_strdup(error->message);
                return;
        }
        mig_run(&env, &config, &run, NULL);
}

static gboolean
judgeable(void)
{
        ensure_run();
        if (!run.completed) {
                g_test_skip("no completed migration to judge: see /migration/postcopy/run");
                return FALSE;
        }
        return TRUE;
}

static void
print_timeline(const char *what, GVariant *timeline)
{
        g_autofree char *text = NULL;
        gint64 origin = run.migrate_at;
        guint64 first;

        if (!timeline || !g_variant_n_children(timeline))
                return;
        if (!origin) {
                g_variant_get_child(timeline, 0, "(&st)", NULL, &first);
                origin = (gint64) first;
        }
        text = mig_timeline_format(timeline, origin);
        g_test_message("%s (ms from %s): %s", what, run.migrate_at ? "Migrate" : "its start", text);
}

static void
test_run(void)
{
        ensure_run();
        g_test_message("%s; readiness '%s', options %s%s",
                       run.qemu_version ? run.qemu_version : "no QEMU", readiness,
                       migrate_options ? migrate_options : "none",
                       second_nic ? "; a second NIC, late on B" : "");
        if (run.warmup_captures)
                g_test_message("before the migration: %u echo requests reached A's tap, %u "
                               "replies",
                               run.warmup_captures, run.warmup_replies);
        if (run.phases)
                g_test_message("A's migration phases: %s", run.phases);
        print_timeline("A's migration", run.src_timeline);
        print_timeline("B's migration", run.dst_timeline);
        print_timeline("A's guest", run.src_guest);
        print_timeline("B's guest", run.dst_guest);
        if (!run.completed) {
                logs_dumped = TRUE;
                mig_env_dump_logs(&env);
                g_test_fail_printf("%s", run.failure);
                return;
        }
        if (mig_timeline_find(run.src_timeline, "pre-switchover", 0))
                g_test_message("paused before the switchover %.1f ms (pre-switchover to "
                               "switchover-continue)",
                               (mig_timeline_find(run.src_timeline, "switchover-continue", 0) -
                                mig_timeline_find(run.src_timeline, "pre-switchover", 0)) /
                                       1e3);
        g_test_message("post-copy blocktime on B %" G_GINT64_FORMAT " ms (per vCPU: %s)",
                       run.blocktime_ms, run.vcpu_blocktime_ms);
        g_test_message("downtime (QEMU) %" G_GUINT64_FORMAT " ms, total %.1f s", run.downtime_ms,
                       (mig_timeline_find(run.src_timeline, "completed", 0) - run.migrate_at) /
                               1e6);
}

static void
test_switch_after_forwarding(void)
{
        gint64 switch_at, ready_at, dev_fwd_at, inst_ready_at, not_yet = 0, fwd_seen = 0;
        gint64 policy_at, dst_ready_at;

        if (!judgeable())
                return;
        switch_at = mig_timeline_find(run.src_timeline, "postcopy-switch", 0);
        if (!switch_at) {
                g_test_fail_printf("no postcopy-switch in A's timeline");
                return;
        }
        /* The kernel's view: the last sample in which B's tap did not
         * forward, taken before the switch. */
        for (guint i = 0; i < run.samples->len; i++) {
                MigSample *s = &g_array_index(run.samples, MigSample, i);

                if (s->tap_state[1] < 0)
                        continue; /* the dump failed: no view */
                if (s->tap_state[1] != BR_STATE_FORWARDING)
                        not_yet = s->start;
                else if (!fwd_seen)
                        fwd_seen = s->end;
        }
        /* The daemon's view: B's PropertiesChanged, timed on arrival here. */
        dev_fwd_at = mig_run_change_at(&run, "device PortState=forwarding");
        ready_at = mig_run_change_at(&run, "device Ready=true");
        inst_ready_at = mig_run_change_at(&run, "instance Ready=true");
        policy_at = mig_timeline_find(run.src_timeline, "policy-fired", 0);
        dst_ready_at = mig_timeline_find(run.src_timeline, "destination-ready", 0);
        g_test_message("B's tap: kernel last 'not forwarding' sample %+.1f ms, first "
                       "'forwarding' %+.1f ms; PortState=forwarding signal %+.1f ms, "
                       "Ready signal %+.1f ms, instance Ready %+.1f ms; policy fired %+.1f ms; "
                       "switch %+.1f ms (all from Migrate)",
                       (not_yet - run.migrate_at) / 1e3, (fwd_seen - run.migrate_at) / 1e3,
                       (dev_fwd_at - run.migrate_at) / 1e3, (ready_at - run.migrate_at) / 1e3,
                       (inst_ready_at - run.migrate_at) / 1e3, (policy_at - run.migrate_at) / 1e3,
                       (switch_at - run.migrate_at) / 1e3);
        if (policy_at && dst_ready_at && policy_at < dst_ready_at)
                g_test_message("the gate held: the policy fired %.1f ms before B was ready",
                               (dst_ready_at - policy_at) / 1e3);
        /* The forward delay outlasts the first pass (MIG_FORWARD_DELAY_CS):
         * the source must have waited for B, else the gate went untested. */
        g_assert_nonnull(strstr(run.phases, "waiting-for-destination"));
        g_assert_cmpint(policy_at, >, 0);
        g_assert_cmpint(policy_at, <, dst_ready_at);
        g_assert_cmpint(fwd_seen, >, 0);
        g_assert_cmpint(ready_at, >, 0);
        /* The kernel said "not forwarding" after not_yet: the switch must not
         * have gone out before that. */
        g_assert_cmpint(switch_at, >, not_yet);
        /* B's daemon sends Ready to the source daemon and to us at the same
         * moment; 10 ms covers this process being scheduled later than the
         * source daemon on a loaded 2-core machine. */
        g_assert_cmpint(switch_at, >=, ready_at - 10000);
        g_assert_cmpint(dst_ready_at, >, 0);
        g_assert_cmpint(switch_at, >=, dst_ready_at);
}

static void
test_source_deactivated(void)
{
        gint64 stop_at, deactivated_at, last_owned = 0;
        int owner_before = 0;

        if (!judgeable())
                return;
        stop_at = run.stop_at;
        deactivated_at = stop_at ? mig_timeline_find(run.src_guest, "deactivated", stop_at) : 0;
        if (!stop_at || !deactivated_at) {
                g_test_fail_printf("A's guest timeline has no stop -> deactivated: %s",
                                   mig_timeline_format(run.src_guest, run.migrate_at));
                return;
        }
        for (guint i = 0; i < run.samples->len; i++) {
                MigSample *s = &g_array_index(run.samples, MigSample, i);

                if (s->owner[0] > 0) {
                        last_owned = s->start;
                        owner_before = s->owner[0];
                }
        }
        g_test_message("A: STOP -> deactivated %.1f ms; the kernel last showed A's entry in a "
                       "sample started %+.1f ms from the STOP",
                       (deactivated_at - stop_at) / 1e3, (last_owned - stop_at) / 1e3);
        g_assert_cmpint(owner_before, >, 0);
        g_assert_cmpint(deactivated_at - stop_at, <=, DEACTIVATE_MS * 1000);
        /* No sample begun more than 50 ms after the STOP still saw the entry. */
        g_assert_cmpint(last_owned, <, stop_at + DEACTIVATE_MS * 1000);
}

/* NIC @nic's (0: the first, 1: the second) static FDB entries in a sample:
 * @owner[h] the port on host h, @owners[h] how many. */
static void
sample_owners(const MigSample *s, guint nic, const int **owner, const guint **owners)
{
        *owner = nic ? s->owner2 : s->owner;
        *owners = nic ? s->owners2 : s->owners;
}

/* The MAC of NIC @nic had one static entry at most, on the guest's tap,
 * never on both hosts; A's before, B's at the end. */
static void
single_owner(guint nic)
{
        const char *mac = nic ? MIG_GUEST_MAC2 : MIG_GUEST_MAC;
        const int *tap_ifindex = nic ? run.tap2_ifindex : run.tap_ifindex;
        const int *owner;
        const guint *owners;
        guint both = 0, owned[2] = { 0, 0 }, misplaced[2] = { 0, 0 }, failed = 0;

        if (!judgeable())
                return;
        if (!run.samples->len) {
                g_test_fail_printf("no FDB samples");
                return;
        }
        for (guint i = 0; i < run.samples->len; i++) {
                MigSample *s = &g_array_index(run.samples, MigSample, i);

                sample_owners(s, nic, &owner, &owners);
                if (owner[0] < 0 || owner[1] < 0) {
                        failed++;
                        continue;
                }
                for (guint h = 0; h < 2; h++) {
                        owned[h] += owner[h] > 0;
                        /* The Linux bridge moves a static, non-sticky entry
                         * to whichever port learns the MAC: an entry on a
                         * port other than the tap is one nobody owns. */
                        if (owner[h] > 0 && owner[h] != tap_ifindex[h] && !misplaced[h]++)
                                g_test_message("host %c: %s's static entry is on port ifindex %d, "
                                               "not on the tap (%d), in the sample at %+.1f ms "
                                               "from Migrate",
                                               'A' + h, mac, owner[h], tap_ifindex[h],
                                               (s->start - run.migrate_at) / 1e3);
                }
                if (owner[0] > 0 && owner[1] > 0 && !both++)
                        g_test_message("both hosts hold %s in the sample at %+.1f ms from Migrate",
                                       mac, (s->start - run.migrate_at) / 1e3);
                g_assert_cmpuint(owners[0], <=, 1);
                g_assert_cmpuint(owners[1], <=, 1);
        }
        sample_owners(&g_array_index(run.samples, MigSample, run.samples->len - 1), nic, &owner,
                      &owners);
        g_test_message("%s: %u FDB samples: A owned in %u, B in %u, both in %u; entries off the "
                       "tap: A %u, B %u; %u failed dumps",
                       mac, run.samples->len, owned[0], owned[1], both, misplaced[0], misplaced[1],
                       failed);
        g_assert_cmpuint(both, ==, 0);
        g_assert_cmpuint(misplaced[0], ==, 0);
        g_assert_cmpuint(misplaced[1], ==, 0);
        g_assert_cmpuint(failed, ==, 0);
        g_assert_cmpuint(owned[0], >, 0);
        g_assert_cmpint(tap_ifindex[1], >, 0);
        g_assert_cmpint(owner[0], ==, 0);
        g_assert_cmpint(owner[1], ==, tap_ifindex[1]);
}

static void
test_single_owner(void)
{
        single_owner(0);
}

/* B's port of each NIC in the kernel's samples: @not_yet[n] the start of
 * the last sample in which it did not forward, @forwarding[n] the end of
 * the first in which it did (0: none). */
static void
b_port_states(gint64 not_yet[2], gint64 forwarding[2])
{
        for (guint n = 0; n < 2; n++)
                not_yet[n] = forwarding[n] = 0;
        for (guint i = 0; i < run.samples->len; i++) {
                MigSample *s = &g_array_index(run.samples, MigSample, i);
                const int state[2] = { s->tap_state[1], s->tap2_state[1] };

                for (guint n = 0; n < 2; n++) {
                        if (state[n] < 0)
                                continue; /* the dump failed: no view */
                        if (state[n] != BR_STATE_FORWARDING)
                                not_yet[n] = s->start;
                        else if (!forwarding[n])
                                forwarding[n] = s->end;
                }
        }
}

/* Issue #17: B is ready only when it holds a ready device for every MAC A
 * has active. B's first port forwarded and A's policy fired while B's
 * second port still blocked: a gate counting the first NIC alone would
 * have switched then. It must have waited for the second. */
static void
test_second_nic_switch(void)
{
        gint64 not_yet[2], forwarding[2], switch_at, policy_at, dst_ready_at, first_ready_at;
        gint64 ready_at[2], inst_ready_at, m = run.migrate_at;
        g_autofree char *eth0 = g_strconcat("GUEST-READY ", MIG_GUEST_MAC, NULL);

        if (!judgeable())
                return;
        b_port_states(not_yet, forwarding);
        switch_at = mig_timeline_find(run.src_timeline, "postcopy-switch", 0);
        policy_at = mig_timeline_find(run.src_timeline, "policy-fired", 0);
        dst_ready_at = mig_timeline_find(run.src_timeline, "destination-ready", 0);
        ready_at[0] = mig_run_change_at(&run, "device Ready=true");
        ready_at[1] = mig_run_change_at(&run, "device2 Ready=true");
        inst_ready_at = mig_run_change_at(&run, "instance Ready=true");
        g_test_message("B's devices created %+.1f ms and %+.1f ms; B's first port: kernel "
                       "'forwarding' by %+.1f ms, Ready signal %+.1f ms; second port: last "
                       "'not forwarding' sample %+.1f ms, 'forwarding' by %+.1f ms, Ready signal "
                       "%+.1f ms; B's instance Ready %+.1f ms; A: policy fired %+.1f ms, "
                       "destination ready %+.1f ms, switch %+.1f ms (all from Migrate)",
                       (run.dst_created_at[0] - m) / 1e3, (run.dst_created_at[1] - m) / 1e3,
                       (forwarding[0] - m) / 1e3, (ready_at[0] - m) / 1e3, (not_yet[1] - m) / 1e3,
                       (forwarding[1] - m) / 1e3, (ready_at[1] - m) / 1e3,
                       (inst_ready_at - m) / 1e3, (policy_at - m) / 1e3, (dst_ready_at - m) / 1e3,
                       (switch_at - m) / 1e3);
        /* The probes measure the guest's eth0: it must be the first NIC. */
        g_assert_nonnull(strstr(run.serial[0], eth0));
        g_assert_cmpint(run.dst_created_at[1] - run.dst_created_at[0], >=,
                        SECOND_NIC_DELAY_MS * 1000);
        g_assert_cmpint(forwarding[0], >, 0);
        g_assert_cmpint(forwarding[1], >, 0);
        g_assert_cmpint(switch_at, >, 0);
        g_assert_cmpint(policy_at, >, 0);
        /* The second port forwarded clearly later than the first: it still
         * blocked half the delay after the first forwarded. */
        g_assert_cmpint(not_yet[1] - forwarding[0], >=, SECOND_NIC_DELAY_MS / 2 * 1000);
        /* A gate counting the first NIC alone had everything it needed
         * (the policy fired, the first port forwarded) while the kernel
         * still showed the second port blocking. */
        first_ready_at = MAX(policy_at, forwarding[0]);
        g_assert_cmpint(first_ready_at, <, not_yet[1]);
        /* No switch, and A not told B was ready, before the kernel's last
         * sample of the second port not forwarding. */
        g_assert_cmpint(switch_at, >, not_yet[1]);
        g_assert_cmpint(dst_ready_at, >, not_yet[1]);
        g_assert_cmpint(switch_at, >=, dst_ready_at);
        /* The daemon's view: the second device's Ready, seen here and by A's
         * daemon at the same moment (10 ms for scheduling, as above). */
        g_assert_cmpint(ready_at[1], >, 0);
        g_assert_cmpint(switch_at, >=, ready_at[1] - 10000);
}

static void
test_second_nic_single_owner(void)
{
        single_owner(1);
}

static void
test_blackout(void)
{
        MigBlackout b;
        gint64 activated_at, b_owns_at = 0;

        if (!judgeable())
                return;
        if (!run.stop_at || !run.resume_at) {
                g_test_fail_printf("no STOP on A or RESUME on B in the guest timelines");
                return;
        }
        activated_at = mig_timeline_find(run.dst_guest, "activated", run.resume_at);
        /* The asserted figure: the largest gap anywhere from Migrate on. The
         * gap across the switch and the sender's own largest gap tell whether
         * it was the migration or this process being scheduled late. */
        mig_run_blackout(&run, &b);
        for (guint i = 0; i < run.samples->len && !b_owns_at; i++) {
                MigSample *s = &g_array_index(run.samples, MigSample, i);

                if (s->owner[1] > 0)
                        b_owns_at = s->end;
        }
        g_test_message("network-plane blackout %.1f ms (largest gap, at %+.1f ms from Migrate; "
                       "across the switch %.1f ms; the sender's own largest gap %.1f ms), QEMU "
                       "downtime %" G_GUINT64_FORMAT " ms, total migration time %.1f s",
                       b.blackout / 1e3, (b.gap_start - run.migrate_at) / 1e3, b.switch_gap / 1e3,
                       b.send_gap / 1e3, run.downtime_ms,
                       (run.completed_at - run.migrate_at) / 1e6);
        g_test_message("A's STOP %+.1f ms, B's RESUME %+.1f ms, B activated %+.1f ms, B's FDB "
                       "entry first seen by %+.1f ms (from Migrate); %u of %u echo requests "
                       "reached no running instance; %u reached B's tap after its RESUME",
                       (run.stop_at - run.migrate_at) / 1e3, (run.resume_at - run.migrate_at) / 1e3,
                       (activated_at - run.migrate_at) / 1e3, (b_owns_at - run.migrate_at) / 1e3,
                       b.lost, b.sent, b.after_resume);
        g_assert_cmpuint(b.after_resume, >, 0);
        g_assert_cmpint(b.switch_gap, >, 0);
        g_assert_cmpint(b.blackout, <=, ((gint64) run.downtime_ms + BLACKOUT_SLACK_MS) * 1000);
}

static const char *
emulator_failure(const char **where)
{
        for (guint i = 0; i < 2; i++) {
                const char *mark = run.serial[i] ? mig_run_corruption(run.serial[i]) : NULL;

                if (mark) {
                        *where = i ? "B (destination)" : "A (source)";
                        return mark;
                }
        }
        return NULL;
}

static void
test_guest_intact(void)
{
        const char *where = NULL, *mark;

        ensure_run();
        mark = emulator_failure(&where);
        if (mark) {
                g_test_message("host %s serial console:\n%s", where, run.serial[where[0] == 'B']);
                g_test_fail_printf("EMULATOR FAILURE, not a netlifecd failure: '%s' on the "
                                   "console of host %s (%s)",
                                   mark, where, run.qemu_version);
                return;
        }
        if (!run.completed) {
                g_test_skip("no completed migration: see /migration/postcopy/run");
                return;
        }
        /* The guest's workload runs on B: its heartbeat reached B's console. */
        if (!run.serial[1] || !strstr(run.serial[1], "DIRTIER-ALIVE"))
                g_test_fail_printf("EMULATOR FAILURE, not a netlifecd failure: the guest shows "
                                   "no life on B's console after the migration (%s)",
                                   run.qemu_version);
}

static void
test_guest_replies(void)
{
        g_autoptr(GHashTable) after_resume = g_hash_table_new(NULL, NULL);
        const char *where = NULL;
        gint64 resume_at, gap_start = 0, gap;
        guint answered = 0;

        if (emulator_failure(&where)) {
                g_test_incomplete_printf("not judged: the emulator corrupted the guest on host %s "
                                         "(see guest-intact)",
                                         where);
                return;
        }
        if (!judgeable())
                return;
        resume_at = run.resume_at;
        for (guint i = 0; i < run.sent->len; i++) {
                MigArrival *x = &g_array_index(run.sent, MigArrival, i);

                /* The last 50 ms of requests may still be on their way. */
                if (x->at > resume_at && x->at <= run.probe_end - 50000)
                        g_hash_table_add(after_resume, GUINT_TO_POINTER(x->seq + 1));
        }
        for (guint i = 0; i < run.replies->len; i++)
                answered += g_hash_table_contains(
                        after_resume,
                        GUINT_TO_POINTER(g_array_index(run.replies, MigArrival, i).seq + 1));
        gap = mig_largest_gap(run.replies, run.migrate_at, run.probe_end, &gap_start);
        g_test_message("guest replies: %u to %u requests in all; %u of the %u sent after B's "
                       "RESUME answered; largest gap between replies %.1f ms at %+.1f ms from "
                       "Migrate",
                       run.replies->len, run.sent->len, answered, g_hash_table_size(after_resume),
                       gap / 1e3, (gap_start - run.migrate_at) / 1e3);
        g_assert_cmpuint(answered, >, 0);
        /* Replies are the guest's (a TCG guest under a memory-dirtying load):
         * a weaker signal than the tap captures, so only most are needed. */
        g_assert_cmpuint(answered * 2, >, g_hash_table_size(after_resume));
}

/* Before the migration, Migrate as netlifectl migrate INSTANCE URI sends it
 * (no readiness) was refused: nothing could switch onto B's blocking port. */
static void
test_refused_without_readiness(void)
{
        ensure_run();
        g_assert_true(run.refused_without_readiness);
}

static void
test_clean_shutdown(void)
{
        g_autoptr(GError) error = NULL;

        if (!env_up) {
                g_test_skip("nothing was set up");
                return;
        }
        /* The daemons' logs and consoles once, when any case failed. */
        if (any_failed && !logs_dumped)
                mig_env_dump_logs(&env);
        env_up = FALSE;
        if (!mig_env_tear_down(&env, &error))
                g_test_fail_printf("%s", error->message);
}

typedef struct {
        const char *name;
        void (*func)(void);
        gboolean second_nic; /* only with NLC_MIG_SECOND_NIC */
} Case;

/* In this order: the first runs the migration, the last tears down. */
static const Case cases[] = {
        { "run", test_run },
        { "refused-without-readiness", test_refused_without_readiness },
        { "switch-after-forwarding", test_switch_after_forwarding },
        { "second-nic-switch", test_second_nic_switch, TRUE },
        { "source-deactivated", test_source_deactivated },
        { "single-owner", test_single_owner },
        { "second-nic-single-owner", test_second_nic_single_owner, TRUE },
        { "blackout", test_blackout },
        { "guest-intact", test_guest_intact },
        { "guest-replies", test_guest_replies },
        { "clean-shutdown", test_clean_shutdown },
};

/* Runs a case and notes whether it failed (assertions are not fatal). */
static void
run_case(gconstpointer data)
{
        const Case *c = data;

        c->func();
        any_failed |= g_test_failed();
}

int
main(int argc, char **argv)
{
        int status;

        g_test_init(&argc, &argv, NULL);
        if (g_getenv("NLC_MIG_READINESS"))
                readiness = g_getenv("NLC_MIG_READINESS");
        if (g_getenv("NLC_MIG_OPTIONS") && *g_getenv("NLC_MIG_OPTIONS"))
                migrate_options = g_getenv("NLC_MIG_OPTIONS");
        if (g_strcmp0(g_getenv("NLC_MIG_SECOND_NIC"), "late") == 0)
                second_nic = TRUE;
        else if (g_getenv("NLC_MIG_SECOND_NIC"))
                g_error("NLC_MIG_SECOND_NIC: 'late' or unset, not '%s'",
                        g_getenv("NLC_MIG_SECOND_NIC"));
        /* A failed check ends its case, not the process: the other checks
         * still judge the run and the teardown still runs. */
        g_test_set_nonfatal_assertions();
        for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *path = g_strconcat("/migration/postcopy/", cases[i].name, NULL);

                if (cases[i].second_nic && !second_nic)
                        continue;
                g_test_add_data_func(path, &cases[i], run_case);
        }
        status = g_test_run();
        if (env_up)
                mig_env_tear_down(&env, NULL);
        return status;
}
