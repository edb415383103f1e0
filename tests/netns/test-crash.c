/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Restarts: kill -9 after every step of the lifecycle, kernel drift while the
 * daemon is down, and clean shutdowns (SIGTERM, SIGINT) that leave the
 * devices as they are. After each restart the device is back at the same
 * path in the same state, the kernel is as the state says, and the lifecycle
 * goes on.
 */
#include <signal.h>

#include "nlc-test-dbus.h"
#include "nlc-test-kernel.h"
#include "nlc-test-log.h"

#define INSTANCE "vm-1"
#define MAC      "52:54:00:12:34:01"
#define TAP      "lt0"

typedef struct {
        const char *method; /* NULL: Allocate */
        const char *from;
        const char *to;
} Step;

static const Step steps[] = {
        { NULL, NULL, "allocated" },           { "Create", "allocated", "created" },
        { "Activate", "created", "active" },   { "Deactivate", "active", "created" },
        { "Destroy", "created", "destroyed" }, { "Free", "destroyed", "freed" },
};

static char *
allocate(NlcTestEnv *env, guint queues)
{
        g_autofree char *opts = g_strdup_printf(
                "{'bridge': <'br0'>, 'ifname': <'" TAP "'>, 'queues': <uint32 %u>}", queues);

        return nlc_allocate(env, INSTANCE, MAC, opts);
}

static void
assert_managed(NlcTestEnv *env, const char *path, const char *state)
{
        g_autofree char *managed = nlc_managed_devices(env);
        g_autofree char *expected = g_strdup_printf("%s=%s", path, state);

        g_assert_cmpstr(managed, ==, expected);
}

/* While the daemon is dead: the kernel objects stay, but nobody holds a
 * queue, so the tap has no carrier. Carrier after the restart then proves
 * that the daemon opened the queues again. */
static void
assert_kernel_while_down(const char *state, guint queues)
{
        g_autoptr(NlcLink) l = nlc_link_read(TAP);

        if (g_str_equal(state, "allocated") || g_str_equal(state, "destroyed")) {
                nlc_assert_device_kernel(TAP, MAC, state, queues);
                return;
        }
        g_assert_true(l->exists);
        g_assert_cmpstr(l->master, ==, NLC_BRIDGE);
        g_assert_false(l->lower_up);
        if (queues > 1)
                g_assert_cmpint(l->numqueues, ==, 0);
        nlc_assert_fdb(NLC_BRIDGE, MAC, g_str_equal(state, "active") ? TAP : "");
}

static void
restart_after_kill9(NlcTestEnv *env, const char *path, const char *state, guint queues)
{
        nlc_test_step("kill -9 in %s", state);
        nlc_test_kill9_daemon(env);
        assert_kernel_while_down(state, queues);
        nlc_test_step("restart");
        nlc_test_start_daemon(env);
        nlc_forget_signals(env);
        assert_managed(env, path, state);
        nlc_assert_device(env, path, INSTANCE, MAC, TAP, state);
        nlc_assert_device_kernel(TAP, MAC, state, queues);
}

/* Runs the lifecycle up to step @k, kills the daemon, restarts it, then
 * runs the remaining steps to the end. */
static void
run_with_kill9_after(NlcTestEnv *env, guint k, guint queues)
{
        g_autofree char *path = allocate(env, queues);
        g_autofree char *managed = NULL;

        for (guint i = 1; i <= k; i++) {
                nlc_device_step(env, path, steps[i].method, steps[i].from, steps[i].to);
                nlc_assert_device_kernel(TAP, MAC, steps[i].to, queues);
        }
        restart_after_kill9(env, path, steps[k].to, queues);
        for (guint i = k + 1; i < G_N_ELEMENTS(steps); i++) {
                nlc_device_step(env, path, steps[i].method, steps[i].from, steps[i].to);
                if (!g_str_equal(steps[i].to, "freed"))
                        nlc_assert_device_kernel(TAP, MAC, steps[i].to, queues);
        }
        managed = nlc_managed_devices(env);
        g_assert_cmpstr(managed, ==, "");
        nlc_assert_device_kernel(TAP, MAC, "destroyed", queues);
}

static void
test_kill9_after_step(NlcTestEnv *env, gconstpointer data)
{
        run_with_kill9_after(env, GPOINTER_TO_UINT(data), 1);
}

/* Every queue is reopened, not just one. */
static void
test_kill9_multiqueue(NlcTestEnv *env, gconstpointer data)
{
        run_with_kill9_after(env, 2, 4);
}

/* A restarted daemon that was killed twice in a row still comes back. */
static void
test_kill9_twice(NlcTestEnv *env, gconstpointer data)
{
        g_autofree char *path = allocate(env, 1);

        nlc_device_step(env, path, "Create", "allocated", "created");
        nlc_device_step(env, path, "Activate", "created", "active");
        restart_after_kill9(env, path, "active", 1);
        restart_after_kill9(env, path, "active", 1);
        nlc_device_step(env, path, "Deactivate", "active", "created");
        nlc_assert_device_kernel(TAP, MAC, "created", 1);
}

typedef struct {
        const char *state; /* created or active when the daemon dies */
        gboolean nomaster; /* else: port flags (and the FDB entry) */
} Drift;

static const Drift drift_nomaster_active = { "active", TRUE };
static const Drift drift_flags_active = { "active", FALSE };
static const Drift drift_nomaster_created = { "created", TRUE };
static const Drift drift_flags_created = { "created", FALSE };

static void
test_drift_repaired(NlcTestEnv *env, gconstpointer data)
{
        const Drift *d = data;
        gboolean active = g_str_equal(d->state, "active");
        g_autofree char *path = allocate(env, 1);
        g_autoptr(NlcLink) drifted = NULL;

        nlc_device_step(env, path, "Create", "allocated", "created");
        if (active)
                nlc_device_step(env, path, "Activate", "created", "active");
        nlc_assert_device_kernel(TAP, MAC, d->state, 1);
        nlc_test_step("kill -9, then the kernel drifts");
        nlc_test_kill9_daemon(env);
        if (d->nomaster) {
                /* The port's FDB entries leave with it. */
                nlc_run("ip link set " TAP " nomaster");
        } else {
                nlc_run("bridge link set dev " TAP " learning on flood on");
                if (active)
                        nlc_run("bridge fdb del " MAC " dev " TAP " master");
        }
        /* The drift is real before the restart. */
        drifted = nlc_link_read(TAP);
        if (d->nomaster) {
                g_assert_null(drifted->master);
        } else {
                g_assert_true(drifted->learning);
                g_assert_true(drifted->flood);
        }
        nlc_assert_fdb(NLC_BRIDGE, MAC, "");

        nlc_test_step("restart repairs");
        nlc_test_start_daemon(env);
        nlc_forget_signals(env);
        assert_managed(env, path, d->state);
        nlc_assert_device(env, path, INSTANCE, MAC, TAP, d->state);
        nlc_assert_device_kernel(TAP, MAC, d->state, 1);

        /* And the lifecycle goes on from there. */
        if (active) {
                nlc_device_step(env, path, "Deactivate", "active", "created");
                nlc_assert_device_kernel(TAP, MAC, "created", 1);
        } else {
                nlc_device_step(env, path, "Activate", "created", "active");
                nlc_assert_device_kernel(TAP, MAC, "active", 1);
        }
}

/* Many devices at restart: their FDB entries are read in one dump (a
 * snapshot), which must answer each device right — the intact ones left
 * alone, an active one's lost entry put back, a created one's stray entry
 * removed — whichever order they are checked in. */
#define N_FDB_DEVICES 6

static void
test_drift_fdb_many(NlcTestEnv *env, gconstpointer data)
{
        char *paths[N_FDB_DEVICES], *macs[N_FDB_DEVICES], *taps[N_FDB_DEVICES];

        for (guint i = 0; i < N_FDB_DEVICES; i++) {
                g_autofree char *instance = g_strdup_printf("vm-f%u", i);
                g_autofree char *opts = NULL;

                macs[i] = g_strdup_printf("52:54:00:12:35:%02x", i);
                taps[i] = g_strdup_printf("ft%u", i);
                opts = g_strdup_printf("{'bridge': <'br0'>, 'ifname': <'%s'>}", taps[i]);
                paths[i] = nlc_allocate(env, instance, macs[i], opts);
                nlc_device_step(env, paths[i], "Create", "allocated", "created");
                /* Even ones active. */
                if (i % 2 == 0)
                        nlc_device_step(env, paths[i], "Activate", "created", "active");
        }
        nlc_test_step("kill -9; an active device loses its entry, a created one gains one");
        nlc_test_kill9_daemon(env);
        nlc_run("bridge fdb del %s dev %s master", macs[2], taps[2]);
        nlc_run("bridge fdb add %s dev %s master static", macs[3], taps[3]);
        nlc_assert_fdb(NLC_BRIDGE, macs[2], "");
        nlc_assert_fdb(NLC_BRIDGE, macs[3], taps[3]);

        nlc_test_step("restart repairs exactly those two");
        nlc_test_start_daemon(env);
        for (guint i = 0; i < N_FDB_DEVICES; i++)
                nlc_assert_fdb(NLC_BRIDGE, macs[i], i % 2 == 0 ? taps[i] : "");
        g_assert_cmpuint(nlc_test_log_count(env->daemon_log, "was missing; added again"), ==, 1);
        g_assert_cmpuint(nlc_test_log_count(env->daemon_log, "is inactive but held"), ==, 1);
        for (guint i = 0; i < N_FDB_DEVICES; i++) {
                g_free(paths[i]);
                g_free(macs[i]);
                g_free(taps[i]);
        }
}

/* After a clean stop the kernel keeps what the daemon made. */
static void
assert_left_as_is(const char *ifname, const char *mac, gboolean active)
{
        g_autoptr(NlcLink) l = nlc_link_read(ifname);

        g_assert_true(l->exists);
        g_assert_cmpstr(l->kind, ==, "tun");
        g_assert_cmpstr(l->tun_type, ==, "tap");
        g_assert_true(l->persist);
        g_assert_true(l->vnet_hdr);
        g_assert_cmpstr(l->master, ==, NLC_BRIDGE);
        g_assert_cmpuint(l->mtu, ==, NLC_BRIDGE_MTU);
        g_assert_true(l->up);
        g_assert_false(l->learning);
        g_assert_false(l->flood);
        nlc_assert_fdb(NLC_BRIDGE, mac, active ? ifname : "");
}

static void
test_sigterm_leaves_devices(NlcTestEnv *env, gconstpointer data)
{
        const char *mac2 = "52:54:00:12:34:02";
        g_autofree char *a = allocate(env, 1);
        g_autofree char *b =
                nlc_allocate(env, "vm-2", mac2, "{'bridge': <'br0'>, 'ifname': <'lt1'>}");
        g_autofree char *managed = NULL, *expected = NULL;

        nlc_device_step(env, a, "Create", "allocated", "created");
        nlc_device_step(env, a, "Activate", "created", "active");
        nlc_device_step(env, b, "Create", "allocated", "created");
        nlc_test_step("SIGTERM");
        nlc_test_stop_daemon(env, SIGTERM);
        assert_left_as_is(TAP, MAC, TRUE);
        assert_left_as_is("lt1", mac2, FALSE);

        nlc_test_step("start again");
        nlc_test_start_daemon(env);
        nlc_forget_signals(env);
        managed = nlc_managed_devices(env);
        {
                g_autofree char *wa = g_strdup_printf("%s=active", a);
                g_autofree char *wb = g_strdup_printf("%s=created", b);

                /* Sorted as nlc_managed_devices() sorts its words. */
                expected = g_strcmp0(wa, wb) < 0 ? g_strjoin(" ", wa, wb, NULL)
                                                 : g_strjoin(" ", wb, wa, NULL);
        }
        g_assert_cmpstr(managed, ==, expected);
        nlc_assert_device_kernel(TAP, MAC, "active", 1);
        nlc_assert_device_kernel("lt1", mac2, "created", 1);
        nlc_device_step(env, a, "Deactivate", "active", "created");
        nlc_device_step(env, b, "Destroy", "created", "destroyed");
        nlc_assert_device_kernel(TAP, MAC, "created", 1);
        nlc_assert_device_kernel("lt1", mac2, "destroyed", 1);
}

static void
test_sigint_leaves_devices(NlcTestEnv *env, gconstpointer data)
{
        g_autofree char *path = allocate(env, 1);

        nlc_device_step(env, path, "Create", "allocated", "created");
        nlc_test_step("SIGINT");
        nlc_test_stop_daemon(env, SIGINT);
        assert_left_as_is(TAP, MAC, FALSE);
        nlc_test_start_daemon(env);
        nlc_forget_signals(env);
        assert_managed(env, path, "created");
        nlc_assert_device_kernel(TAP, MAC, "created", 1);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        nlc_test_add("/crash/kill9-after-allocate", test_kill9_after_step, GUINT_TO_POINTER(0));
        nlc_test_add("/crash/kill9-after-create", test_kill9_after_step, GUINT_TO_POINTER(1));
        nlc_test_add("/crash/kill9-after-activate", test_kill9_after_step, GUINT_TO_POINTER(2));
        nlc_test_add("/crash/kill9-after-deactivate", test_kill9_after_step, GUINT_TO_POINTER(3));
        nlc_test_add("/crash/kill9-after-destroy", test_kill9_after_step, GUINT_TO_POINTER(4));
        nlc_test_add("/crash/kill9-multiqueue", test_kill9_multiqueue, NULL);
        nlc_test_add("/crash/kill9-twice", test_kill9_twice, NULL);
        nlc_test_add("/crash/drift/nomaster-active", test_drift_repaired, &drift_nomaster_active);
        nlc_test_add("/crash/drift/flags-active", test_drift_repaired, &drift_flags_active);
        nlc_test_add("/crash/drift/nomaster-created", test_drift_repaired, &drift_nomaster_created);
        nlc_test_add("/crash/drift/flags-created", test_drift_repaired, &drift_flags_created);
        nlc_test_add("/crash/drift/fdb-many", test_drift_fdb_many, NULL);
        nlc_test_add("/crash/sigterm-leaves-devices", test_sigterm_leaves_devices, NULL);
        nlc_test_add("/crash/sigint-leaves-devices", test_sigint_leaves_devices, NULL);
        return g_test_run();
}
