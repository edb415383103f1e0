/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Localhost live upgrade with real QEMU 10: the guest moves from one QEMU to
 * a second one on the same host (A), one daemon, one STP bridge; Migrate
 * with readiness "local" (host B stays idle). Two ways, in one run, then
 * compared:
 *
 *   new-tap        each QEMU has its own tap (instances vm1 and vm1-new): the
 *                  MAC goes from the old tap to the new one and never has two
 *                  holders; post-copy waits for the new port to forward.
 *   shared-queues  the second QEMU gets new queues of the same tap
 *                  (Device.ShareQueues): one port, forwarding throughout, the
 *                  guest MAC's entry never moves or disappears, no wait for
 *                  STP; afterwards the old QEMU's queue is detached (read
 *                  from its own fd), so it cannot take frames. Once more
 *                  with the daemon killed (-9) in pre-copy: the new daemon
 *                  takes the queues back from the QEMUs.
 *
 * Both keep the network blackout within QEMU's downtime + 200 ms.
 */
#include <linux/if_bridge.h>
#include <string.h>

#include "mig-run.h"

#define MAX_BANDWIDTH     (16ULL << 20)
#define BLACKOUT_SLACK_MS 200

static char *
get_string(MigHost *h, const char *path, const char *iface, const char *prop)
{
        g_autoptr(GVariant) v = mig_get(h, path, iface, prop, NULL);

        return g_strdup(v ? g_variant_get_string(v, NULL) : "");
}

static char *
device_prop(MigHost *a, const char *instance, const char *prop)
{
        g_autoptr(GVariant) r =
                mig_call(a, MIG_MANAGER_PATH, MIG_MANAGER, "GetDevice",
                         g_variant_new("(ss)", instance, MIG_GUEST_MAC), "(o)", NULL);
        const char *path = NULL;

        if (!r)
                return g_strdup("(no device)");
        g_variant_get(r, "(&o)", &path);
        return get_string(a, path, MIG_DEVICE, prop);
}

/* What the comparison prints, per path. */
typedef struct {
        gboolean ran;
        gint64 blackout_us, switch_us, total_us;
        guint64 downtime_ms;
        guint fdb_owner_changes, samples;
        gboolean waited;
} PathResult;

static PathResult new_tap_result, shared_result;

static void
keep_result(PathResult *r, const MigRun *run, const MigBlackout *b)
{
        int last_owner = -2;

        r->ran = TRUE;
        r->blackout_us = b->blackout;
        r->switch_us = run->switch_at - run->migrate_at;
        r->total_us = run->completed_at - run->migrate_at;
        r->downtime_ms = run->downtime_ms;
        r->waited = strstr(run->phases, "waiting-for-destination") != NULL;
        r->samples = run->samples->len;
        for (guint i = 0; i < run->samples->len; i++) {
                int owner = g_array_index(run->samples, MigSample, i).owner[0];

                r->fdb_owner_changes += last_owner != -2 && owner != last_owner;
                last_owner = owner;
        }
}

static void
print_run(const MigRun *run, const MigBlackout *b)
{
        g_autofree char *t = mig_timeline_format(run->src_timeline, run->migrate_at);

        g_test_message("%s; phases %s", run->qemu_version, run->phases);
        g_test_message("migration (ms from Migrate): %s", t);
        g_test_message("switch %+.1f ms; blackout %.1f ms, QEMU downtime %" G_GUINT64_FORMAT
                       " ms, total %.1f s (from Migrate)",
                       (run->switch_at - run->migrate_at) / 1e3, b->blackout / 1e3,
                       run->downtime_ms, (run->completed_at - run->migrate_at) / 1e6);
}

/* Sets up the hosts and runs one upgrade; FALSE (test failed) when either
 * went wrong. */
static gboolean
run_upgrade(MigEnv *env, const MigRunConfig *config, MigRun *run)
{
        g_autoptr(GError) error = NULL;

        if (mig_env_set_up(env, &error) && mig_run(env, config, run, &error))
                return TRUE;
        mig_env_dump_logs(env);
        g_test_fail_printf("%s", error->message);
        mig_env_tear_down(env, NULL);
        return FALSE;
}

static void
tear_down(MigEnv *env, MigRun *run)
{
        g_autoptr(GError) error = NULL;

        if (g_test_failed())
                mig_env_dump_logs(env);
        if (!mig_env_tear_down(env, &error))
                g_test_fail_printf("%s", error->message);
        mig_run_clear(run);
}

static void
test_local_upgrade(void)
{
        MigEnv env = { 0 };
        MigRunConfig config = { .driver = MIG_DRIVER_NETLIFECD,
                                .readiness = "local",
                                .max_bandwidth = MAX_BANDWIDTH,
                                .local = TRUE };
        MigRun run = { 0 };
        MigBlackout b;
        guint two = 0, elsewhere = 0, failed = 0, on_old = 0, on_new = 0;
        gint64 new_forwarding = 0, not_yet = 0;
        MigSample *last;

        if (!run_upgrade(&env, &config, &run)) {
                mig_run_clear(&run);
                return;
        }
        /* One bridge: host "0" and "1" of the sampler both look at A's. */
        for (guint i = 0; i < run.samples->len; i++) {
                MigSample *s = &g_array_index(run.samples, MigSample, i);

                if (s->owner[0] < 0) {
                        failed++;
                        continue;
                }
                two += s->owners[0] > 1;
                on_old += s->owner[0] == run.tap_ifindex[0];
                on_new += s->owner[0] == run.tap_ifindex[1];
                elsewhere += s->owner[0] > 0 && s->owner[0] != run.tap_ifindex[0] &&
                             s->owner[0] != run.tap_ifindex[1];
                if (s->tap_state[1] >= 0 && s->tap_state[1] != BR_STATE_FORWARDING)
                        not_yet = s->start;
                else if (s->tap_state[1] == BR_STATE_FORWARDING && !new_forwarding)
                        new_forwarding = s->end;
        }
        last = &g_array_index(run.samples, MigSample, run.samples->len - 1);
        mig_run_blackout(&run, &b);
        print_run(&run, &b);
        keep_result(&new_tap_result, &run, &b);
        g_test_message("%u FDB samples of A's bridge: the MAC on the old tap in %u, on the new "
                       "one in %u, on two ports in %u, elsewhere in %u; %u failed dumps",
                       run.samples->len, on_old, on_new, two, elsewhere, failed);
        g_test_message("new tap forwarding by %+.1f ms", (new_forwarding - run.migrate_at) / 1e3);
        g_assert_cmpuint(two, ==, 0);
        g_assert_cmpuint(elsewhere, ==, 0);
        g_assert_cmpuint(failed, ==, 0);
        g_assert_cmpuint(on_old, >, 0);
        g_assert_cmpuint(on_new, >, 0);
        g_assert_cmpint(last->owner[0], ==, run.tap_ifindex[1]);
        g_assert_cmpint(run.switch_at, >, not_yet);
        g_assert_cmpint(new_forwarding, >, 0);
        g_assert_cmpuint(b.after_resume, >, 0);
        g_assert_cmpint(b.blackout, <=, ((gint64) run.downtime_ms + BLACKOUT_SLACK_MS) * 1000);
        {
                g_autofree char *old_state = device_prop(&env.host[0], MIG_INSTANCE_NAME, "State");
                g_autofree char *new_state = device_prop(&env.host[0], MIG_LOCAL_INSTANCE, "State");

                g_assert_cmpstr(old_state, ==, "created");
                /* Active while the new QEMU ran; once the run stopped it,
                 * its device let go of the MAC. */
                g_assert_cmpstr(run.dst_final_state, ==, "active");
                g_assert_cmpstr(new_state, ==, "created");
        }
        tear_down(&env, &run);
}

/* kill -9 of the daemon in pre-copy, after ShareQueues: the new one holds
 * no queue until each QEMU's QMP connection names the process to take them
 * from; the handover must still happen. */
static MigHookResult
restart_in_precopy(MigEnv *env, MigRun *run, const char *phase, gpointer data, GError **error)
{
        gboolean *done = data;

        if (*done || !g_str_equal(phase, "precopy"))
                return MIG_HOOK_GO_ON;
        *done = TRUE;
        g_test_message("kill -9 of the daemon in pre-copy, %.1f s after Migrate",
                       (g_get_real_time() - run->migrate_at) / 1e6);
        return mig_host_restart_daemon(&env->host[0], error) ? MIG_HOOK_GO_ON : MIG_HOOK_FAILED;
}

static void
test_shared_queues(gconstpointer with_restart)
{
        MigEnv env = { 0 };
        gboolean restarted = FALSE;
        MigRunConfig config = { .driver = MIG_DRIVER_NETLIFECD,
                                .readiness = "local",
                                .max_bandwidth = MAX_BANDWIDTH,
                                .local = TRUE,
                                .share_queues = TRUE,
                                .hook = with_restart ? restart_in_precopy : NULL,
                                .hook_data = &restarted };
        MigRun run = { 0 };
        MigBlackout b;
        guint missing = 0, two = 0, moved = 0, not_forwarding = 0, failed = 0, replies = 0;

        if (!run_upgrade(&env, &config, &run)) {
                mig_run_clear(&run);
                return;
        }
        mig_run_blackout(&run, &b);
        print_run(&run, &b);
        if (with_restart)
                g_assert_true(restarted);
        else
                keep_result(&shared_result, &run, &b);
        for (guint i = 0; i < run.samples->len; i++) {
                MigSample *s = &g_array_index(run.samples, MigSample, i);

                if (s->owner[0] < 0) {
                        failed++;
                        continue;
                }
                missing += s->owner[0] == 0;
                two += s->owners[0] > 1;
                moved += s->owner[0] > 0 && s->owner[0] != run.tap_ifindex[0];
                not_forwarding += s->tap_state[0] != BR_STATE_FORWARDING;
        }
        for (guint i = 0; i < run.replies->len; i++)
                replies += g_array_index(run.replies, MigArrival, i).at > run.resume_at;
        g_test_message("%u FDB samples of A's bridge: entry missing in %u, on two ports in %u, "
                       "elsewhere in %u, port not forwarding in %u; %u failed dumps; %u guest "
                       "replies after the new QEMU's RESUME; queues read from the QEMUs' fds: "
                       "old %d, new %d (1 attached)",
                       run.samples->len, missing, two, moved, not_forwarding, failed, replies,
                       run.old_queue_attached, run.new_queue_attached);
        /* One port throughout: same tap, the entry never gone or moved. */
        g_assert_cmpint(run.tap_ifindex[0], ==, run.tap_ifindex[1]);
        g_assert_cmpuint(run.samples->len, >, 100);
        g_assert_cmpuint(failed, ==, 0);
        g_assert_cmpuint(missing, ==, 0);
        g_assert_cmpuint(two, ==, 0);
        g_assert_cmpuint(moved, ==, 0);
        g_assert_cmpuint(not_forwarding, ==, 0);
        /* No STP wait: the destination was ready when the policy fired. */
        g_assert_null(strstr(run.phases, "waiting-for-destination"));
        /* The kernel steers to the new QEMU only, and the guest answers there. */
        g_assert_cmpint(run.old_queue_attached, ==, 0);
        g_assert_cmpint(run.new_queue_attached, ==, 1);
        g_assert_cmpuint(replies, >, 0);
        g_assert_cmpuint(b.after_resume, >, 0);
        g_assert_cmpint(b.blackout, <=, ((gint64) run.downtime_ms + BLACKOUT_SLACK_MS) * 1000);
        {
                g_autofree char *old_state = device_prop(&env.host[0], MIG_INSTANCE_NAME, "State");
                g_autofree char *new_state = device_prop(&env.host[0], MIG_LOCAL_INSTANCE, "State");
                g_autofree char *new_ifname =
                        device_prop(&env.host[0], MIG_LOCAL_INSTANCE, "IfName");

                g_assert_cmpstr(old_state, ==, "created");
                /* Active while the new QEMU ran; once the run stopped it,
                 * its device let go of the MAC. */
                g_assert_cmpstr(run.dst_final_state, ==, "active");
                g_assert_cmpstr(new_state, ==, "created");
                g_assert_cmpstr(new_ifname, ==, MIG_TAP_A);
        }
        tear_down(&env, &run);
}

/* The two paths of this run side by side. */
static void
test_compare(void)
{
        const PathResult *r[2] = { &new_tap_result, &shared_result };
        const char *name[2] = { "new tap", "shared queues" };

        if (!new_tap_result.ran || !shared_result.ran) {
                g_test_fail_printf("a path did not run, nothing to compare");
                return;
        }
        g_test_message("path           blackout  QEMU downtime  switch after Migrate  total  "
                       "waited for STP  FDB owner changes");
        for (int i = 0; i < 2; i++)
                g_test_message("%-13s  %6.1f ms  %10" G_GUINT64_FORMAT " ms  %15.2f s  %5.2f s  "
                               "%14s  %17u",
                               name[i], r[i]->blackout_us / 1e3, r[i]->downtime_ms,
                               r[i]->switch_us / 1e6, r[i]->total_us / 1e6,
                               r[i]->waited ? "yes" : "no", r[i]->fdb_owner_changes);
        /* The point of sharing: no second port, so nothing to wait for and
         * nothing to move in the FDB. */
        g_assert_cmpint(shared_result.switch_us, <, new_tap_result.switch_us);
        g_assert_cmpuint(shared_result.fdb_owner_changes, ==, 0);
        g_assert_cmpuint(new_tap_result.fdb_owner_changes, >, 0);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_set_nonfatal_assertions();
        g_test_add_func("/migration/local-upgrade/new-tap", test_local_upgrade);
        g_test_add_data_func("/migration/local-upgrade/shared-queues", NULL, test_shared_queues);
        g_test_add_data_func("/migration/local-upgrade/shared-queues-daemon-killed",
                             GINT_TO_POINTER(TRUE), test_shared_queues);
        g_test_add_func("/migration/local-upgrade/compare", test_compare);
        return g_test_run();
}
