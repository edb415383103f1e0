/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Notify(): adopting a tap made outside the daemon (as after a hypervisor
 * restart), in the state the kernel shows, and re-verifying a known device.
 */
#include "nlc-test-dbus.h"
#include "nlc-test-kernel.h"

#define MAC "52:54:00:12:34:01"

static char *
notify(NlcTestEnv *env, const char *instance, const char *mac, const char *ifname)
{
        g_autofree char *opts = g_strdup_printf("{'bridge': <'br0'>, 'ifname': <'%s'>}", ifname);
        g_autoptr(GVariant) reply =
                nlc_call(env, NLC_MANAGER_PATH, NLC_MANAGER, "Notify",
                         nlc_manager_params(instance, "tap-bridge", mac, opts), "(o)");
        char *path = NULL;

        g_variant_get(reply, "(o)", &path);
        return path;
}

/* The adopted state comes with the object (InterfacesAdded), not as a
 * StateChanged. */
static void
expect_added(NlcTestEnv *env, const char *path, const char *state)
{
        g_autoptr(GVariant) params = nlc_wait_signal(env, path, "InterfacesAdded", 5000);
        g_autoptr(GVariant) interfaces = g_variant_get_child_value(params, 1);
        g_autoptr(GVariant) props =
                g_variant_lookup_value(interfaces, NLC_DEVICE, G_VARIANT_TYPE_VARDICT);
        const char *s = NULL;

        g_assert_nonnull(props);
        g_assert_true(g_variant_lookup(props, "State", "&s", &s));
        g_assert_cmpstr(s, ==, state);
}

/* What Notify must do to a port, whatever the tap looked like: enslaved to
 * the bridge, learning and unicast flooding off. */
static void
assert_adopted_port(const char *ifname)
{
        g_autoptr(NlcLink) l = nlc_link_read(ifname);

        g_assert_true(l->exists);
        g_assert_cmpstr(l->kind, ==, "tun");
        g_assert_cmpstr(l->tun_type, ==, "tap");
        g_assert_true(l->vnet_hdr);
        g_assert_cmpstr(l->master, ==, NLC_BRIDGE);
        g_assert_true(l->is_port);
        g_assert_false(l->learning);
        g_assert_false(l->flood);
}

/* Notify again with the same arguments: the same object, nothing changes. */
static void
notify_again(NlcTestEnv *env, const char *path, const char *instance, const char *mac,
             const char *ifname, const char *state)
{
        g_autofree char *before = nlc_kernel_snapshot(), *after = NULL, *again = NULL;

        nlc_test_step("Notify again");
        nlc_mark_signals(env);
        again = notify(env, instance, mac, ifname);
        g_assert_cmpstr(again, ==, path);
        after = nlc_kernel_snapshot();
        nlc_assert_kernel_unchanged(before, after);
        nlc_assert_state(env, path, state);
        nlc_expect_no_signal(env, path);
}

static void
test_adopt_unenslaved(NlcTestEnv *env, gconstpointer data)
{
        g_autofree char *path = NULL, *found = NULL;
        g_autoptr(NlcLink) before = NULL;
        g_autoptr(GVariant) reply = NULL;

        nlc_run("ip tuntap add at0 mode tap vnet_hdr");
        before = nlc_link_read("at0");
        g_assert_null(before->master);

        nlc_test_step("Notify");
        path = notify(env, "vm-1", MAC, "at0");
        expect_added(env, path, "created");
        nlc_assert_device(env, path, "vm-1", MAC, "at0", "created");
        assert_adopted_port("at0");
        nlc_assert_fdb(NLC_BRIDGE, MAC, "");
        reply = nlc_call(env, NLC_MANAGER_PATH, NLC_MANAGER, "GetDevice",
                         g_variant_new("(ss)", "vm-1", MAC), "(o)");
        g_variant_get(reply, "(o)", &found);
        g_assert_cmpstr(found, ==, path);

        notify_again(env, path, "vm-1", MAC, "at0", "created");

        /* An adopted device goes through the rest of the lifecycle. */
        nlc_device_step(env, path, "Activate", "created", "active");
        nlc_assert_fdb(NLC_BRIDGE, MAC, "at0");
        assert_adopted_port("at0");
        nlc_device_step(env, path, "Deactivate", "active", "created");
        nlc_assert_fdb(NLC_BRIDGE, MAC, "");
        nlc_device_step(env, path, "Destroy", "created", "destroyed");
        nlc_assert_link_absent("at0");
        nlc_device_step(env, path, "Free", "destroyed", "freed");
}

static void
test_adopt_active(NlcTestEnv *env, gconstpointer data)
{
        g_autofree char *path = NULL;
        g_autoptr(NlcLink) before = NULL;

        nlc_run("ip tuntap add at1 mode tap vnet_hdr");
        nlc_run("ip link set at1 master br0");
        nlc_run("ip link set at1 up");
        nlc_run("bridge fdb add " MAC " dev at1 master static");
        /* The bridge's defaults, which Notify must turn off. */
        before = nlc_link_read("at1");
        g_assert_true(before->learning);
        g_assert_true(before->flood);
        nlc_assert_fdb(NLC_BRIDGE, MAC, "at1");

        nlc_test_step("Notify");
        path = notify(env, "vm-1", MAC, "at1");
        expect_added(env, path, "active");
        nlc_assert_device(env, path, "vm-1", MAC, "at1", "active");
        assert_adopted_port("at1");
        nlc_assert_fdb(NLC_BRIDGE, MAC, "at1");

        notify_again(env, path, "vm-1", MAC, "at1", "active");

        nlc_device_step(env, path, "Deactivate", "active", "created");
        nlc_assert_fdb(NLC_BRIDGE, MAC, "");
        assert_adopted_port("at1");
}

/* Adopted devices are journalled like the others. */
static void
test_adopted_survives_kill9(NlcTestEnv *env, gconstpointer data)
{
        g_autofree char *path = NULL, *managed = NULL, *expected = NULL;

        nlc_run("ip tuntap add at0 mode tap vnet_hdr");
        path = notify(env, "vm-1", MAC, "at0");
        nlc_assert_state(env, path, "created");
        nlc_test_step("kill -9 and restart");
        nlc_test_kill9_daemon(env);
        nlc_test_start_daemon(env);
        nlc_forget_signals(env);
        managed = nlc_managed_devices(env);
        expected = g_strdup_printf("%s=created", path);
        g_assert_cmpstr(managed, ==, expected);
        nlc_assert_device(env, path, "vm-1", MAC, "at0", "created");
        assert_adopted_port("at0");
        nlc_device_step(env, path, "Activate", "created", "active");
        nlc_assert_fdb(NLC_BRIDGE, MAC, "at0");
}

/* Notify for a device the daemon made: the same object; port flags that
 * drifted are applied again, the rest stays. */
static void
test_notify_known_device(NlcTestEnv *env, gconstpointer data)
{
        g_autofree char *path =
                nlc_allocate(env, "vm-1", MAC, "{'bridge': <'br0'>, 'ifname': <'lt0'>}");
        g_autofree char *again = NULL;
        g_autoptr(NlcLink) drifted = NULL;

        nlc_device_step(env, path, "Create", "allocated", "created");
        nlc_device_step(env, path, "Activate", "created", "active");
        nlc_run("bridge link set dev lt0 learning on flood on");
        drifted = nlc_link_read("lt0");
        g_assert_true(drifted->learning);
        g_assert_true(drifted->flood);

        nlc_test_step("Notify for the known device");
        nlc_mark_signals(env);
        again = notify(env, "vm-1", MAC, "lt0");
        g_assert_cmpstr(again, ==, path);
        nlc_assert_device(env, path, "vm-1", MAC, "lt0", "active");
        nlc_assert_device_kernel("lt0", MAC, "active", 1);
        nlc_expect_no_signal(env, path);
}

static void
test_notify_missing_tap(NlcTestEnv *env, gconstpointer data)
{
        g_autofree char *before = nlc_kernel_snapshot(), *after = NULL, *managed = NULL;

        nlc_test_step("Notify for a tap that does not exist");
        g_free(nlc_call_error(env, NLC_MANAGER_PATH, NLC_MANAGER, "Notify",
                              nlc_manager_params("vm-1", "tap-bridge", MAC,
                                                 "{'bridge': <'br0'>, 'ifname': <'nosuch0'>}"),
                              NLC_ERR_NOT_FOUND));
        after = nlc_kernel_snapshot();
        nlc_assert_kernel_unchanged(before, after);
        managed = nlc_managed_devices(env);
        g_assert_cmpstr(managed, ==, "");
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        nlc_test_add("/adopt/unenslaved", test_adopt_unenslaved, NULL);
        nlc_test_add("/adopt/active", test_adopt_active, NULL);
        nlc_test_add("/adopt/survives-kill9", test_adopted_survives_kill9, NULL);
        nlc_test_add("/adopt/known-device", test_notify_known_device, NULL);
        nlc_test_add("/adopt/missing-tap", test_notify_missing_tap, NULL);
        return g_test_run();
}
