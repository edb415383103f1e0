/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Bad input: every refused Allocate names its error, and leaves the kernel
 * and the daemon's objects as they were. The limits themselves are accepted,
 * so each refusal is about the one thing that is wrong.
 */
#include <string.h>

#include "nlc-test-dbus.h"
#include "nlc-test-kernel.h"

#define MAC  "52:54:00:12:34:01"
#define OPTS "{'bridge': <'br0'>, 'ifname': <'lt0'>}"

typedef struct {
        const char *name;
        const char *instance;
        const char *backend;
        const char *mac;
        const char *options;
        const char *error;
        const char *mentions; /* the error message names this; NULL: not checked */
} BadAllocate;

#define INVALID NLC_ERR_INVALID_ARGS

static const BadAllocate bad_allocates[] = {
        { "mac-bad-hex", "vm-1", "tap-bridge", "52:54:00:zz:34:01", OPTS, INVALID, NULL },
        { "mac-short", "vm-1", "tap-bridge", "52:54:00:12:34", OPTS, INVALID, NULL },
        { "mac-long", "vm-1", "tap-bridge", "52:54:00:12:34:01:02", OPTS, INVALID, NULL },
        { "mac-no-colons", "vm-1", "tap-bridge", "525400123401", OPTS, INVALID, NULL },
        { "mac-empty", "vm-1", "tap-bridge", "", OPTS, INVALID, NULL },
        /* Bit 0 of the first octet set: a group address. */
        { "mac-multicast", "vm-1", "tap-bridge", "53:54:00:12:34:01", OPTS, INVALID, NULL },
        { "mac-ipv4-multicast", "vm-1", "tap-bridge", "01:00:5e:00:00:01", OPTS, INVALID, NULL },
        { "mac-broadcast", "vm-1", "tap-bridge", "ff:ff:ff:ff:ff:ff", OPTS, INVALID, NULL },
        { "mac-zero", "vm-1", "tap-bridge", "00:00:00:00:00:00", OPTS, INVALID, NULL },
        { "instance-empty", "", "tap-bridge", MAC, OPTS, INVALID, NULL },
        /* 65 characters: one more than allowed. */
        { "instance-too-long", "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv",
          "tap-bridge", MAC, OPTS, INVALID, NULL },
        { "instance-space", "vm 1", "tap-bridge", MAC, OPTS, INVALID, NULL },
        { "instance-slash", "vm/1", "tap-bridge", MAC, OPTS, INVALID, NULL },
        { "bridge-unknown", "vm-1", "tap-bridge", MAC, "{'bridge': <'nobr0'>}", INVALID, "nobr0" },
        { "bridge-is-veth", "vm-1", "tap-bridge", MAC, "{'bridge': <'vpeer0'>}", INVALID,
          "vpeer0" },
        { "bridge-missing", "vm-1", "tap-bridge", MAC, "{'ifname': <'lt0'>}", INVALID, "bridge" },
        { "bridge-wrong-type", "vm-1", "tap-bridge", MAC, "{'bridge': <uint32 1>}", INVALID,
          "bridge" },
        /* 16 characters: one more than IFNAMSIZ leaves. */
        { "ifname-too-long", "vm-1", "tap-bridge", MAC,
          "{'bridge': <'br0'>, 'ifname': <'abcdefghijklmnop'>}", INVALID, NULL },
        { "ifname-slash", "vm-1", "tap-bridge", MAC, "{'bridge': <'br0'>, 'ifname': <'lt/0'>}",
          INVALID, NULL },
        { "ifname-colon", "vm-1", "tap-bridge", MAC, "{'bridge': <'br0'>, 'ifname': <'lt:0'>}",
          INVALID, NULL },
        { "ifname-space", "vm-1", "tap-bridge", MAC, "{'bridge': <'br0'>, 'ifname': <'lt 0'>}",
          INVALID, NULL },
        { "ifname-wrong-type", "vm-1", "tap-bridge", MAC,
          "{'bridge': <'br0'>, 'ifname': <uint32 5>}", INVALID, "ifname" },
        { "ifname-exists", "vm-1", "tap-bridge", MAC, "{'bridge': <'br0'>, 'ifname': <'vpeer0'>}",
          NLC_ERR_CONFLICT, NULL },
        { "backend-unknown", "vm-1", "ovs-bridge", MAC, OPTS, INVALID, "ovs-bridge" },
        { "option-unknown", "vm-1", "tap-bridge", MAC, "{'bridge': <'br0'>, 'colour': <'red'>}",
          INVALID, "colour" },
        { "queues-string", "vm-1", "tap-bridge", MAC, "{'bridge': <'br0'>, 'queues': <'2'>}",
          INVALID, "queues" },
        { "queues-int32", "vm-1", "tap-bridge", MAC, "{'bridge': <'br0'>, 'queues': <int32 2>}",
          INVALID, "queues" },
        { "queues-zero", "vm-1", "tap-bridge", MAC, "{'bridge': <'br0'>, 'queues': <uint32 0>}",
          INVALID, "queues" },
        { "queues-17", "vm-1", "tap-bridge", MAC, "{'bridge': <'br0'>, 'queues': <uint32 17>}",
          INVALID, "queues" },
};

static void
test_bad_allocate(NlcTestEnv *env, gconstpointer data)
{
        const BadAllocate *row = data;
        g_autofree char *before = nlc_kernel_snapshot(), *after = NULL, *message = NULL;
        g_autofree char *devices = NULL;

        nlc_test_step("Allocate('%s', '%s', '%s', %s) → %s", row->instance, row->backend, row->mac,
                      row->options, row->error);
        nlc_mark_signals(env);
        message = nlc_call_error(
                env, NLC_MANAGER_PATH, NLC_MANAGER, "Allocate",
                nlc_manager_params(row->instance, row->backend, row->mac, row->options),
                row->error);
        if (row->mentions && !strstr(message, row->mentions))
                g_error("the error message does not name '%s': %s", row->mentions, message);
        after = nlc_kernel_snapshot();
        nlc_assert_kernel_unchanged(before, after);
        /* No record either: no object, no signal. */
        devices = nlc_managed_devices(env);
        g_assert_cmpstr(devices, ==, "");
        nlc_expect_no_signal(env, NULL);
}

/* The limits are accepted: the refusals above are about the one excess. */
static void
test_limits_accepted(NlcTestEnv *env, gconstpointer data)
{
        g_autofree char *long_instance = g_strnfill(64, 'v');
        g_autofree char *a = nlc_allocate(env, long_instance, "52:54:00:12:34:0a",
                                          "{'bridge': <'br0'>, 'ifname': <'abcdefghijklmno'>}");
        g_autofree char *b = nlc_allocate(env, "Vm_1.a-Z9", "02:00:00:00:00:01",
                                          "{'bridge': <'br0'>, 'ifname': <'A.b_c-9'>, "
                                          "'queues': <uint32 16>}");
        g_autofree char *c = nlc_allocate(env, "vm-3", "52:54:00:12:34:0c",
                                          "{'bridge': <'br0'>, 'queues': <uint32 1>}");
        g_autofree char *ifname = nlc_get_string(env, a, NLC_DEVICE, "IfName");
        g_autofree char *instance = nlc_get_string(env, a, NLC_DEVICE, "Instance");

        g_assert_cmpstr(ifname, ==, "abcdefghijklmno");
        g_assert_cmpstr(instance, ==, long_instance);
        nlc_assert_state(env, b, "allocated");
        nlc_assert_state(env, c, "allocated");
}

/* A name another record reserved is a conflict, though not in the kernel
 * yet; so is the same name with different arguments. */
static void
test_ifname_reserved(NlcTestEnv *env, gconstpointer data)
{
        g_autofree char *first = nlc_allocate(env, "vm-1", MAC, OPTS);
        g_autofree char *before = nlc_kernel_snapshot(), *after = NULL, *devices = NULL;
        g_autofree char *expected = g_strdup_printf("%s=allocated", first);

        nlc_test_step("Allocate another device with the reserved name lt0");
        g_free(nlc_call_error(env, NLC_MANAGER_PATH, NLC_MANAGER, "Allocate",
                              nlc_manager_params("vm-2", "tap-bridge", "52:54:00:12:34:02", OPTS),
                              NLC_ERR_CONFLICT));
        /* The same device with other options is a conflict too. */
        nlc_test_step("Allocate the same device with other queues");
        g_free(nlc_call_error(env, NLC_MANAGER_PATH, NLC_MANAGER, "Allocate",
                              nlc_manager_params("vm-1", "tap-bridge", MAC,
                                                 "{'bridge': <'br0'>, 'ifname': <'lt0'>, "
                                                 "'queues': <uint32 2>}"),
                              NLC_ERR_CONFLICT));
        after = nlc_kernel_snapshot();
        nlc_assert_kernel_unchanged(before, after);
        devices = nlc_managed_devices(env);
        g_assert_cmpstr(devices, ==, expected);
}

/* Calls on a device path nobody has: NotFound, except Free (already freed). */
static void
test_unknown_device(NlcTestEnv *env, gconstpointer data)
{
        static const char *const methods[] = { "Activate", "Deactivate", "Destroy", "Announce" };
        static const char *const paths[] = { "/org/netlifecd1/device/999",
                                             "/org/netlifecd1/device/nosuch" };
        g_autofree char *before = nlc_kernel_snapshot(), *after = NULL;

        for (guint p = 0; p < G_N_ELEMENTS(paths); p++) {
                g_autoptr(GVariant) freed = NULL;

                for (guint m = 0; m < G_N_ELEMENTS(methods); m++) {
                        nlc_test_step("%s on %s", methods[m], paths[p]);
                        g_free(nlc_call_error(env, paths[p], NLC_DEVICE, methods[m], NULL,
                                              NLC_ERR_NOT_FOUND));
                }
                nlc_test_step("Create on %s", paths[p]);
                g_free(nlc_call_error(env, paths[p], NLC_DEVICE, "Create", NULL,
                                      NLC_ERR_NOT_FOUND));
                nlc_test_step("Free on %s", paths[p]);
                freed = nlc_call(env, paths[p], NLC_DEVICE, "Free", NULL, "()");
        }
        after = nlc_kernel_snapshot();
        nlc_assert_kernel_unchanged(before, after);
}

static void
test_get_device_unknown(NlcTestEnv *env, gconstpointer data)
{
        g_autofree char *path = nlc_allocate(env, "vm-1", MAC, OPTS);
        g_autoptr(GVariant) found = NULL;
        const char *found_path = NULL;

        nlc_test_step("GetDevice for an unknown instance, an unknown MAC, both");
        g_free(nlc_call_error(env, NLC_MANAGER_PATH, NLC_MANAGER, "GetDevice",
                              g_variant_new("(ss)", "vm-2", MAC), NLC_ERR_NOT_FOUND));
        g_free(nlc_call_error(env, NLC_MANAGER_PATH, NLC_MANAGER, "GetDevice",
                              g_variant_new("(ss)", "vm-1", "52:54:00:12:34:02"),
                              NLC_ERR_NOT_FOUND));
        g_free(nlc_call_error(env, NLC_MANAGER_PATH, NLC_MANAGER, "GetDevice",
                              g_variant_new("(ss)", "vm-9", "52:54:00:12:34:09"),
                              NLC_ERR_NOT_FOUND));
        /* ... while the one that exists is found. */
        found = nlc_call(env, NLC_MANAGER_PATH, NLC_MANAGER, "GetDevice",
                         g_variant_new("(ss)", "vm-1", MAC), "(o)");
        g_variant_get(found, "(&o)", &found_path);
        g_assert_cmpstr(found_path, ==, path);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        for (guint i = 0; i < G_N_ELEMENTS(bad_allocates); i++) {
                g_autofree char *path =
                        g_strdup_printf("/errors/allocate/%s", bad_allocates[i].name);

                nlc_test_add(path, test_bad_allocate, &bad_allocates[i]);
        }
        nlc_test_add("/errors/limits-accepted", test_limits_accepted, NULL);
        nlc_test_add("/errors/ifname-reserved", test_ifname_reserved, NULL);
        nlc_test_add("/errors/unknown-device", test_unknown_device, NULL);
        nlc_test_add("/errors/get-device-unknown", test_get_device_unknown, NULL);
        return g_test_run();
}
