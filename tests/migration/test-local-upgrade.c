/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Localhost live upgrade with real QEMU 10: the guest moves from one QEMU to
 * a second one on the same host (A), one daemon, one STP bridge, each QEMU
 * with its own tap (instances vm1 and vm1-new); Migrate with readiness
 * "local". The MAC goes from the old tap to the new one and never has two
 * holders; post-copy waits for the new port to forward; the network blackout
 * stays within QEMU's downtime + 200 ms. (The same topology as the other
 * migration tests, mig-env.h; host B stays idle.)
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
device_state(MigHost *a, const char *instance)
{
        g_autoptr(GVariant) r =
                mig_call(a, MIG_MANAGER_PATH, MIG_MANAGER, "GetDevice",
                         g_variant_new("(ss)", instance, MIG_GUEST_MAC), "(o)", NULL);
        const char *path = NULL;

        if (!r)
                return g_strdup("(no device)");
        g_variant_get(r, "(&o)", &path);
        return get_string(a, path, MIG_DEVICE, "State");
}

static void
test_local_upgrade(void)
{
        g_autoptr(GError) error = NULL;
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

        if (!mig_env_set_up(&env, &error) || !mig_run(&env, &config, &run, &error)) {
                mig_env_dump_logs(&env);
                g_test_fail_printf("%s", error->message);
                mig_env_tear_down(&env, NULL);
                mig_run_clear(&run);
                return;
        }
        g_test_message("%s; phases %s", run.qemu_version, run.phases);
        {
                g_autofree char *t = mig_timeline_format(run.src_timeline, run.migrate_at);

                g_test_message("migration (ms from Migrate): %s", t);
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
        g_test_message("%u FDB samples of A's bridge: the MAC on the old tap in %u, on the new "
                       "one in %u, on two ports in %u, elsewhere in %u; %u failed dumps",
                       run.samples->len, on_old, on_new, two, elsewhere, failed);
        g_test_message("new tap forwarding by %+.1f ms, switch %+.1f ms; blackout %.1f ms, QEMU "
                       "downtime %" G_GUINT64_FORMAT " ms, total %.1f s (from Migrate)",
                       (new_forwarding - run.migrate_at) / 1e3,
                       (run.switch_at - run.migrate_at) / 1e3, b.blackout / 1e3, run.downtime_ms,
                       (run.completed_at - run.migrate_at) / 1e6);
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
                g_autofree char *old_state = device_state(&env.host[0], MIG_INSTANCE_NAME);
                g_autofree char *new_state = device_state(&env.host[0], MIG_LOCAL_INSTANCE);

                g_assert_cmpstr(old_state, ==, "created");
                g_assert_cmpstr(new_state, ==, "active");
        }
        if (!mig_env_tear_down(&env, &error))
                g_test_fail_printf("%s", error->message);
        mig_run_clear(&run);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_set_nonfatal_assertions();
        g_test_add_func("/migration/local-upgrade", test_local_upgrade);
        return g_test_run();
}
