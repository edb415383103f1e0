/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The tap-bridge lifecycle over D-Bus: the whole life with the kernel and the
 * signals checked after every step, every operation repeated, every refused
 * order, Destroy of a tap that is already gone, and a port without host IPv6.
 */
#include "nlc-test-dbus.h"
#include "nlc-test-kernel.h"
#include "nlc-test-packet.h"

#define INSTANCE "vm-1"
#define MAC      "52:54:00:ab:cd:01"
#define TAP      "lt0"
#define OPTS     "{'bridge': <'br0'>, 'ifname': <'lt0'>}"

/* The device's own properties in an InterfacesAdded signal. */
static GVariant *
device_props(GVariant *interfaces)
{
        GVariant *props = g_variant_lookup_value(interfaces, NLC_DEVICE, G_VARIANT_TYPE_VARDICT);

        if (!props) {
                g_autofree char *text = g_variant_print(interfaces, FALSE);

                g_error("no %s interface in %s", NLC_DEVICE, text);
        }
        return props;
}

static void
expect_added(NlcTestEnv *env, const char *path, const char *state)
{
        g_autoptr(GVariant) params = nlc_wait_signal(env, path, "InterfacesAdded", 5000);
        g_autoptr(GVariant) interfaces = g_variant_get_child_value(params, 1);
        g_autoptr(GVariant) props = device_props(interfaces);
        const char *s = NULL, *mac = NULL;

        /* The first state comes with the object itself. */
        g_assert_true(g_variant_lookup(props, "State", "&s", &s));
        g_assert_cmpstr(s, ==, state);
        g_assert_true(g_variant_lookup(props, "MAC", "&s", &mac));
        g_assert_cmpstr(mac, ==, MAC);
}

static void
expect_removed(NlcTestEnv *env, const char *path)
{
        g_autoptr(GVariant) params = nlc_wait_signal(env, path, "InterfacesRemoved", 5000);
        g_autofree const char **ifaces = NULL;

        g_variant_get(params, "(&o^a&s)", NULL, &ifaces);
        g_assert_true(g_strv_contains(ifaces, NLC_DEVICE));
}

static void
assert_managed(NlcTestEnv *env, const char *expected)
{
        g_autofree char *managed = nlc_managed_devices(env);

        g_assert_cmpstr(managed, ==, expected);
}

static char *
get_device(NlcTestEnv *env, const char *instance, const char *mac)
{
        g_autoptr(GVariant) reply = nlc_call(env, NLC_MANAGER_PATH, NLC_MANAGER, "GetDevice",
                                             g_variant_new("(ss)", instance, mac), "(o)");
        char *path = NULL;

        g_variant_get(reply, "(o)", &path);
        return path;
}

static void
test_full_lifecycle(NlcTestEnv *env, gconstpointer data)
{
        g_autofree char *start = nlc_kernel_snapshot();
        g_autofree char *path = NULL, *found = NULL, *now = NULL, *managed = NULL;
        g_autoptr(GUnixFDList) fds = NULL;

        nlc_test_step("Allocate (MAC given in upper case)");
        path = nlc_allocate(env, INSTANCE, "52:54:00:AB:CD:01", OPTS);
        g_assert_true(g_variant_is_object_path(path));
        g_assert_true(g_str_has_prefix(path, "/org/netlifecd1/device/"));
        expect_added(env, path, "allocated");
        nlc_assert_device(env, path, INSTANCE, MAC, TAP, "allocated");
        found = get_device(env, INSTANCE, MAC);
        g_assert_cmpstr(found, ==, path);
        managed = g_strdup_printf("%s=allocated", path);
        assert_managed(env, managed);
        /* Nothing exists in the kernel before Create. */
        now = nlc_kernel_snapshot();
        nlc_assert_kernel_unchanged(start, now);
        nlc_assert_device_kernel(TAP, MAC, "allocated", 1);

        nlc_test_step("Create");
        fds = nlc_device_create(env, path);
        g_assert_cmpint(g_unix_fd_list_get_length(fds), ==, 1);
        nlc_assert_queue(g_unix_fd_list_peek_fds(fds, NULL)[0], TAP, FALSE);
        nlc_expect_state_changed(env, path, "allocated", "created", "create");
        nlc_assert_device(env, path, INSTANCE, MAC, TAP, "created");
        nlc_assert_device_kernel(TAP, MAC, "created", 1);
        /* Carrier stays without our copies: the daemon holds the queue. */
        g_clear_object(&fds);
        nlc_assert_device_kernel(TAP, MAC, "created", 1);
        g_free(managed);
        managed = g_strdup_printf("%s=created", path);
        assert_managed(env, managed);

        nlc_test_step("Activate");
        nlc_device_call(env, path, "Activate");
        nlc_expect_state_changed(env, path, "created", "active", "activate");
        nlc_assert_device(env, path, INSTANCE, MAC, TAP, "active");
        nlc_assert_device_kernel(TAP, MAC, "active", 1);

        nlc_test_step("Deactivate");
        nlc_device_call(env, path, "Deactivate");
        nlc_expect_state_changed(env, path, "active", "created", "deactivate");
        nlc_assert_device(env, path, INSTANCE, MAC, TAP, "created");
        nlc_assert_device_kernel(TAP, MAC, "created", 1);

        nlc_test_step("Destroy");
        nlc_device_call(env, path, "Destroy");
        nlc_expect_state_changed(env, path, "created", "destroyed", "destroy");
        nlc_assert_device(env, path, INSTANCE, MAC, TAP, "destroyed");
        nlc_assert_device_kernel(TAP, MAC, "destroyed", 1);
        /* Nothing is left behind: the kernel is as before Allocate. */
        g_free(now);
        now = nlc_kernel_snapshot();
        nlc_assert_kernel_unchanged(start, now);

        nlc_test_step("Free");
        nlc_device_call(env, path, "Free");
        nlc_expect_state_changed(env, path, "destroyed", "freed", "free");
        expect_removed(env, path);
        assert_managed(env, "");
        g_free(nlc_call_error(env, NLC_MANAGER_PATH, NLC_MANAGER, "GetDevice",
                              g_variant_new("(ss)", INSTANCE, MAC), NLC_ERR_NOT_FOUND));
        g_free(nlc_call_error(env, path, NLC_DEVICE, "Activate", NULL, NLC_ERR_NOT_FOUND));
        g_free(now);
        now = nlc_kernel_snapshot();
        nlc_assert_kernel_unchanged(start, now);
}

/* Without "ifname" the daemon picks nlc<N>, a name not in use. */
static void
test_default_ifname(NlcTestEnv *env, gconstpointer data)
{
        g_autofree char *a = nlc_allocate(env, "vm-1", "52:54:00:ab:cd:01", "{'bridge': <'br0'>}");
        g_autofree char *b = nlc_allocate(env, "vm-2", "52:54:00:ab:cd:02", "{'bridge': <'br0'>}");
        g_autofree char *name_a = nlc_get_string(env, a, NLC_DEVICE, "IfName");
        g_autofree char *name_b = nlc_get_string(env, b, NLC_DEVICE, "IfName");
        g_autoptr(GUnixFDList) fds = NULL;

        g_assert_cmpstr(a, !=, b);
        g_assert_true(g_regex_match_simple("^nlc[0-9]+$", name_a, 0, 0));
        g_assert_true(g_regex_match_simple("^nlc[0-9]+$", name_b, 0, 0));
        g_assert_cmpstr(name_a, !=, name_b);
        nlc_assert_link_absent(name_a);
        nlc_assert_link_absent(name_b);
        fds = nlc_device_create(env, a);
        /* queues defaults to 1: one fd, a single-queue tap. */
        g_assert_cmpint(g_unix_fd_list_get_length(fds), ==, 1);
        nlc_assert_queue(g_unix_fd_list_peek_fds(fds, NULL)[0], name_a, FALSE);
        nlc_assert_tap_port(name_a, NLC_BRIDGE, NLC_BRIDGE_MTU, 1);
        nlc_assert_link_absent(name_b);
}

/* Repeats @method in the state it led to: success, same state, the kernel
 * as it was, no signal. */
static void
repeat(NlcTestEnv *env, const char *path, const char *method, const char *state)
{
        g_autofree char *before = nlc_kernel_snapshot(), *after = NULL;

        nlc_test_step("%s again in %s", method, state);
        nlc_mark_signals(env);
        if (g_str_equal(method, "Create")) {
                g_autoptr(GUnixFDList) fds = nlc_device_create(env, path);

                /* The same two queues again, not new ones: the attached
                 * count in the snapshot would show those. */
                g_assert_cmpint(g_unix_fd_list_get_length(fds), ==, 2);
                for (int i = 0; i < 2; i++)
                        nlc_assert_queue(g_unix_fd_list_peek_fds(fds, NULL)[i], TAP, TRUE);
        } else {
                nlc_device_call(env, path, method);
        }
        after = nlc_kernel_snapshot();
        nlc_assert_kernel_unchanged(before, after);
        if (!g_str_equal(state, "freed"))
                nlc_assert_state(env, path, state);
        nlc_expect_no_signal(env, path);
}

static void
test_idempotent(NlcTestEnv *env, gconstpointer data)
{
        /* Two queues: a repeated Create that opened more would show. */
        const char *opts = "{'bridge': <'br0'>, 'ifname': <'lt0'>, 'queues': <uint32 2>}";
        g_autofree char *path = nlc_allocate(env, INSTANCE, MAC, opts);
        g_autofree char *before = nlc_kernel_snapshot(), *after = NULL, *again = NULL;
        g_autofree char *managed = g_strdup_printf("%s=allocated", path);

        expect_added(env, path, "allocated");
        nlc_test_step("Allocate again, same arguments");
        nlc_mark_signals(env);
        again = nlc_allocate(env, INSTANCE, MAC, opts);
        g_assert_cmpstr(again, ==, path);
        after = nlc_kernel_snapshot();
        nlc_assert_kernel_unchanged(before, after);
        nlc_expect_no_signal(env, path);
        assert_managed(env, managed);

        nlc_device_step(env, path, "Create", "allocated", "created");
        nlc_assert_device_kernel(TAP, MAC, "created", 2);
        repeat(env, path, "Create", "created");
        nlc_device_step(env, path, "Activate", "created", "active");
        nlc_assert_device_kernel(TAP, MAC, "active", 2);
        repeat(env, path, "Activate", "active");
        nlc_assert_device_kernel(TAP, MAC, "active", 2);
        nlc_device_step(env, path, "Deactivate", "active", "created");
        repeat(env, path, "Deactivate", "created");
        nlc_assert_device_kernel(TAP, MAC, "created", 2);
        nlc_device_step(env, path, "Destroy", "created", "destroyed");
        repeat(env, path, "Destroy", "destroyed");
        nlc_assert_device_kernel(TAP, MAC, "destroyed", 2);
        nlc_device_step(env, path, "Free", "destroyed", "freed");
        expect_removed(env, path);
        /* Already freed: still success, nothing else happens. */
        repeat(env, path, "Free", "freed");
        assert_managed(env, "");
}

/* @method in @state is refused with InvalidState and changes nothing. */
static void
refuse(NlcTestEnv *env, const char *path, const char *method, const char *state)
{
        g_autofree char *before = nlc_kernel_snapshot(), *after = NULL;

        nlc_test_step("%s in %s", method, state);
        nlc_mark_signals(env);
        g_free(nlc_call_error(env, path, NLC_DEVICE, method, NULL, NLC_ERR_INVALID_STATE));
        after = nlc_kernel_snapshot();
        nlc_assert_kernel_unchanged(before, after);
        nlc_assert_state(env, path, state);
        nlc_expect_no_signal(env, path);
}

static void
test_out_of_order(NlcTestEnv *env, gconstpointer data)
{
        g_autofree char *path = nlc_allocate(env, INSTANCE, MAC, OPTS);

        expect_added(env, path, "allocated");
        refuse(env, path, "Activate", "allocated");
        refuse(env, path, "Deactivate", "allocated");
        refuse(env, path, "Destroy", "allocated");
        refuse(env, path, "Announce", "allocated");
        nlc_assert_device_kernel(TAP, MAC, "allocated", 1);

        nlc_device_step(env, path, "Create", "allocated", "created");
        refuse(env, path, "Free", "created");
        refuse(env, path, "Announce", "created");
        nlc_assert_device_kernel(TAP, MAC, "created", 1);

        nlc_device_step(env, path, "Activate", "created", "active");
        refuse(env, path, "Create", "active");
        refuse(env, path, "Destroy", "active");
        refuse(env, path, "Free", "active");
        nlc_assert_device_kernel(TAP, MAC, "active", 1);

        nlc_device_step(env, path, "Deactivate", "active", "created");
        nlc_device_step(env, path, "Destroy", "created", "destroyed");
        refuse(env, path, "Activate", "destroyed");
        refuse(env, path, "Deactivate", "destroyed");
        refuse(env, path, "Announce", "destroyed");
        nlc_assert_device_kernel(TAP, MAC, "destroyed", 1);

        /* After all those refusals the lifecycle still goes on. */
        nlc_device_step(env, path, "Free", "destroyed", "freed");
        expect_removed(env, path);
}

/* Destroy succeeds when the tap was deleted behind the daemon's back, and
 * Create from destroyed makes it again. */
static void
test_destroy_when_gone(NlcTestEnv *env, gconstpointer data)
{
        g_autofree char *path = nlc_allocate(env, INSTANCE, MAC, OPTS);
        g_autoptr(GUnixFDList) fds = NULL;

        nlc_device_step(env, path, "Create", "allocated", "created");
        nlc_assert_device_kernel(TAP, MAC, "created", 1);
        nlc_test_step("ip link del " TAP);
        nlc_mark_signals(env);
        nlc_run("ip link del " TAP);
        nlc_assert_link_absent(TAP);
        /* Only operations change State, not what happens in the kernel. */
        nlc_assert_state(env, path, "created");
        nlc_expect_no_signal(env, path);

        nlc_device_step(env, path, "Destroy", "created", "destroyed");
        nlc_assert_device_kernel(TAP, MAC, "destroyed", 1);

        nlc_test_step("Create from destroyed");
        fds = nlc_device_create(env, path);
        nlc_expect_state_changed(env, path, "destroyed", "created", "create");
        g_assert_cmpint(g_unix_fd_list_get_length(fds), ==, 1);
        nlc_assert_queue(g_unix_fd_list_peek_fds(fds, NULL)[0], TAP, FALSE);
        nlc_assert_device(env, path, INSTANCE, MAC, TAP, "created");
        nlc_assert_device_kernel(TAP, MAC, "created", 1);
        g_clear_object(&fds);
        nlc_device_step(env, path, "Destroy", "created", "destroyed");
        nlc_device_step(env, path, "Free", "destroyed", "freed");
}

/* The namespace of these tests has IPv6 off (see the fixture); here it is
 * on, as on a host, and the daemon's port must still carry none of it: no
 * link-local address, DAD or solicitations on a guest's tap. */
static void
test_port_without_ipv6(NlcTestEnv *env, gconstpointer data)
{
        g_autofree char *path = NULL;
        g_autoptr(GUnixFDList) fds = NULL;
        g_autoptr(NlcLink) veth = NULL;

        nlc_run("sh -c 'echo 0 > /proc/sys/net/ipv6/conf/all/disable_ipv6'");
        nlc_run("sh -c 'echo 0 > /proc/sys/net/ipv6/conf/default/disable_ipv6'");
        /* The host's IPv6 works: a link brought up now gets its address. */
        nlc_run("ip link add v6a type veth peer name v6b");
        nlc_run("ip link set v6a up");
        nlc_run("ip link set v6b up");
        veth = nlc_link_read("v6a");
        g_assert_false(veth->ipv6_off);
        g_assert_cmpuint(veth->ipv6_addrs, ==, 1);

        path = nlc_allocate(env, INSTANCE, MAC, OPTS);
        fds = nlc_device_create(env, path);
        nlc_assert_tap_port(TAP, NLC_BRIDGE, NLC_BRIDGE_MTU, 1);
        nlc_device_call(env, path, "Activate");
        nlc_assert_device_kernel(TAP, MAC, "active", 1);
        nlc_device_call(env, path, "Deactivate");
        nlc_device_call(env, path, "Destroy");
        nlc_assert_link_absent(TAP);
        /* Created again, the new tap is set up the same way. */
        g_clear_object(&fds);
        fds = nlc_device_create(env, path);
        nlc_assert_tap_port(TAP, NLC_BRIDGE, NLC_BRIDGE_MTU, 1);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        nlc_test_add("/lifecycle/full", test_full_lifecycle, NULL);
        nlc_test_add("/lifecycle/default-ifname", test_default_ifname, NULL);
        nlc_test_add("/lifecycle/idempotent", test_idempotent, NULL);
        nlc_test_add("/lifecycle/out-of-order", test_out_of_order, NULL);
        nlc_test_add("/lifecycle/destroy-when-gone", test_destroy_when_gone, NULL);
        nlc_test_add("/lifecycle/port-without-ipv6", test_port_without_ipv6, NULL);
        return g_test_run();
}
