/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Devices without a bridge report the truth: a macvtap is Ready while its
 * lower device is up with carrier, a direct device while it is (held down
 * until Activate, it is not Ready before). Carrier is taken away and given
 * back on a veth lower device by taking its peer down and up.
 */
#include "nlc-test-dbus.h"

#define MAC "52:54:00:0c:00:01"

static char *
allocate(NlcTestEnv *env, const char *backend, const char *options)
{
        g_autoptr(GVariant) reply =
                nlc_call(env, NLC_MANAGER_PATH, NLC_MANAGER, "Allocate",
                         nlc_manager_params("vm-1", backend, MAC, options), "(o)");
        char *path = NULL;

        g_variant_get(reply, "(o)", &path);
        return path;
}

static void
assert_port(NlcTestEnv *env, const char *path, gboolean ready, const char *reason)
{
        g_autofree char *shown = nlc_get_string(env, path, NLC_DEVICE, "PortReason");

        g_assert_cmpint(nlc_get_bool(env, path, NLC_DEVICE, "Ready"), ==, ready);
        g_assert_cmpstr(shown, ==, reason);
}

static void
make_veth(const char *name, const char *peer)
{
        nlc_run("ip link add %s type veth peer name %s", name, peer);
        nlc_run("ip link set %s up", peer);
}

/* Created down on a lower device with carrier: Ready (nothing to count);
 * the lower device's carrier lost, and the lower device down: not Ready,
 * saying why; each back: Ready again. Active the same. */
static void
test_macvtap(NlcTestEnv *env, gconstpointer data)
{
        g_autofree char *path = NULL;
        g_autoptr(GUnixFDList) fds = NULL;

        make_veth("low0", "low0-peer");
        nlc_run("ip link set low0 up");
        path = allocate(env, "macvtap", "{'link': <'low0'>, 'ifname': <'mv0'>}");
        fds = nlc_device_create(env, path);
        assert_port(env, path, TRUE, "");

        nlc_test_step("the lower device loses its carrier");
        nlc_run("ip link set low0-peer down");
        nlc_expect_port_state(env, path, "disabled", "no-carrier", 3000);
        assert_port(env, path, FALSE, "no-carrier");
        nlc_run("ip link set low0-peer up");
        nlc_expect_port_state(env, path, "forwarding", "", 3000);
        assert_port(env, path, TRUE, "");

        nlc_test_step("active, the lower device down and up");
        nlc_device_call(env, path, "Activate");
        assert_port(env, path, TRUE, "");
        nlc_run("ip link set low0 down");
        nlc_expect_port_state(env, path, "disabled", "link-down", 3000);
        assert_port(env, path, FALSE, "link-down");
        nlc_run("ip link set low0 up");
        nlc_expect_port_state(env, path, "forwarding", "", 3000);
        assert_port(env, path, TRUE, "");
}

/* A macvtap made on a lower device without carrier is not Ready until the
 * carrier comes. */
static void
test_macvtap_created_without_carrier(NlcTestEnv *env, gconstpointer data)
{
        g_autofree char *path = NULL;
        g_autoptr(GUnixFDList) fds = NULL;

        make_veth("low1", "low1-peer");
        nlc_run("ip link set low1-peer down");
        nlc_run("ip link set low1 up");
        path = allocate(env, "macvtap", "{'link': <'low1'>, 'ifname': <'mv1'>}");
        fds = nlc_device_create(env, path);
        assert_port(env, path, FALSE, "no-carrier");
        nlc_run("ip link set low1-peer up");
        nlc_expect_port_state(env, path, "forwarding", "", 3000);
        assert_port(env, path, TRUE, "");
}

/* A direct device is held down until Activate: its carrier is not known,
 * so it is not Ready; up, it follows its carrier. */
static void
test_direct(NlcTestEnv *env, gconstpointer data)
{
        g_autofree char *path = NULL;
        g_autoptr(GVariant) created = NULL;

        make_veth("dv0", "dv0-peer");
        /* No direct device unless the host lists it. */
        env->config = g_build_filename(env->dir, "netlifecd.conf", NULL);
        g_assert_true(
                g_file_set_contents(env->config, "[allow]\ndirect-devices = dv0\n", -1, NULL));
        nlc_test_restart_daemon(env);
        path = allocate(env, "direct", "{'device': <'dv0'>}");
        created = nlc_call(env, path, NLC_DEVICE, "Create", NULL, "(ah)");
        assert_port(env, path, FALSE, "link-down");

        nlc_test_step("Activate: up, with carrier");
        nlc_device_call(env, path, "Activate");
        nlc_expect_port_state(env, path, "forwarding", "", 3000);
        assert_port(env, path, TRUE, "");

        nlc_test_step("the carrier lost and back");
        nlc_run("ip link set dv0-peer down");
        nlc_expect_port_state(env, path, "disabled", "no-carrier", 3000);
        assert_port(env, path, FALSE, "no-carrier");
        nlc_run("ip link set dv0-peer up");
        nlc_expect_port_state(env, path, "forwarding", "", 3000);

        nlc_test_step("Deactivate: held down again");
        nlc_device_call(env, path, "Deactivate");
        nlc_expect_port_state(env, path, "disabled", "link-down", 3000);
        assert_port(env, path, FALSE, "link-down");
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        nlc_test_add("/carrier/macvtap", test_macvtap, NULL);
        nlc_test_add("/carrier/macvtap-created-without-carrier",
                     test_macvtap_created_without_carrier, NULL);
        nlc_test_add("/carrier/direct", test_direct, NULL);
        return g_test_run();
}
