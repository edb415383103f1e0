/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * netlifectl ($NLCTL) against the real daemon on a private bus in a fresh
 * network namespace: every command's output, its JSON, the named D-Bus
 * errors and exit codes, create --exec handing a live tap queue to a child
 * (the child is this test binary, writing a frame the bridge must carry) and
 * share-queues a second queue of the same tap,
 * watch, wait-ready, and the migration commands — their refusals against
 * the real daemon, and a whole run against a scripted QEMU.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "../unit/nlc-fake-qmp.h"
#include "nlc-test-packet.h"
#include "ns-env.h"

#define MAC    "52:54:00:00:1c:01"
#define TAP    "lt0"
#define DEV1   "/org/netlifecd1/device/1"
#define MIG1   "/org/netlifecd1/migration/1"
#define URI    "tcp:198.51.100.2:4444"
#define RUN_MS 30000 /* the longest any netlifectl run may take */

static const guint8 child_src[6] = { 0x02, 0x00, 0x00, 0x00, 0x1c, 0x07 };

typedef struct {
        NsEnv env;
        NlcFakeQmp *qemu;
        guint runs;
} Fixture;

typedef struct {
        GSubprocess *proc;
        char *out_path, *err_path;
        char *out, *err;
        gboolean exited;
        int status;
} Ctl;

static void
ctl_free(Ctl *c)
{
        if (c->proc && !c->exited)
                g_subprocess_force_exit(c->proc);
        g_clear_object(&c->proc);
        g_free(c->out_path);
        g_free(c->err_path);
        g_free(c->out);
        g_free(c->err);
        g_free(c);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Ctl, ctl_free)

static void
on_exited(GObject *source, GAsyncResult *result, gpointer data)
{
        Ctl *c = data;

        g_subprocess_wait_finish(G_SUBPROCESS(source), result, NULL);
        c->exited = TRUE;
}

/* Starts netlifectl --address <the test bus> @args, output into files. */
static Ctl *
ctl_start(Fixture *f, const char *const *args)
{
        g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        g_autoptr(GError) error = NULL;
        const char *exe = g_getenv("NLCTL");
        Ctl *c = g_new0(Ctl, 1);

        if (!exe)
                g_error("NLCTL is not set: run through meson test");
        f->runs++;
        c->out_path = g_strdup_printf("%s/ctl-%u.out", f->env.dir, f->runs);
        c->err_path = g_strdup_printf("%s/ctl-%u.err", f->env.dir, f->runs);
        g_subprocess_launcher_set_stdout_file_path(l, c->out_path);
        g_subprocess_launcher_set_stderr_file_path(l, c->err_path);
        g_ptr_array_add(argv, (char *) exe);
        g_ptr_array_add(argv, "--address");
        g_ptr_array_add(argv, f->env.address);
        for (guint i = 0; args[i]; i++)
                g_ptr_array_add(argv, (char *) args[i]);
        g_ptr_array_add(argv, NULL);
        c->proc = g_subprocess_launcher_spawnv(l, (const char *const *) argv->pdata, &error);
        g_assert_no_error(error);
        g_subprocess_wait_async(c->proc, NULL, on_exited, c);
        return c;
}

static char *
slurp(const char *path)
{
        char *text = NULL;

        if (!g_file_get_contents(path, &text, NULL, NULL))
                return g_strdup("");
        return text;
}

/* Waits (serving the fake QEMU meanwhile) until netlifectl exits; returns
 * its exit code, 128 + N for signal N. */
static int
ctl_wait(Ctl *c, guint timeout_ms)
{
        gint64 deadline = g_get_monotonic_time() + (gint64) timeout_ms * 1000;

        while (!c->exited && g_get_monotonic_time() < deadline)
                g_main_context_iteration(NULL, FALSE) || (g_usleep(1000), TRUE);
        if (!c->exited)
                g_error("netlifectl did not exit within %u ms", timeout_ms);
        c->out = slurp(c->out_path);
        c->err = slurp(c->err_path);
        g_test_message("netlifectl exit %d\nstdout:\n%s\nstderr:\n%s",
                       g_subprocess_get_if_exited(c->proc)
                               ? g_subprocess_get_exit_status(c->proc)
                               : 128 + g_subprocess_get_term_sig(c->proc),
                       c->out, c->err);
        if (g_subprocess_get_if_exited(c->proc))
                return g_subprocess_get_exit_status(c->proc);
        return 128 + g_subprocess_get_term_sig(c->proc);
}

/* Waits until the output file (stderr with @err) contains @needle. */
static void
ctl_wait_for(Ctl *c, gboolean err, const char *needle)
{
        for (int i = 0; i < 1000; i++) {
                g_autofree char *text = slurp(err ? c->err_path : c->out_path);

                if (strstr(text, needle))
                        return;
                g_main_context_iteration(NULL, FALSE) || (g_usleep(10000), TRUE);
        }
        g_error("netlifectl did not print '%s' within 10 s", needle);
}

/* Runs netlifectl to its end: the exit code; stdout and stderr replace
 * what @out and @err held. */
static int G_GNUC_NULL_TERMINATED
ctl_run(Fixture *f, char **out, char **err, ...)
{
        g_autoptr(GPtrArray) args = g_ptr_array_new();
        g_autoptr(Ctl) c = NULL;
        const char *a;
        va_list ap;
        int code;

        va_start(ap, err);
        while ((a = va_arg(ap, const char *)))
                g_ptr_array_add(args, (char *) a);
        va_end(ap);
        g_ptr_array_add(args, NULL);
        c = ctl_start(f, (const char *const *) args->pdata);
        code = ctl_wait(c, RUN_MS);
        if (out) {
                g_free(*out);
                *out = g_steal_pointer(&c->out);
        }
        if (err) {
                g_free(*err);
                *err = g_steal_pointer(&c->err);
        }
        return code;
}

#define assert_contains(haystack, needle)                                       \
        do {                                                                    \
                if (!strstr((haystack), (needle)))                              \
                        g_error("expected '%s' in:\n%s", (needle), (haystack)); \
        } while (0)

/* Runs netlifectl expecting exit 2 and a "netlifectl: " line. */
#define USAGE(...)                                                                 \
        do {                                                                       \
                g_assert_cmpint(ctl_run(f, NULL, &err, __VA_ARGS__, NULL), ==, 2); \
                assert_contains(err, "netlifectl: ");                              \
        } while (0)

/* Runs netlifectl expecting exit 1 and one line naming the D-Bus error. */
#define FAILS(want, ...)                                                             \
        do {                                                                         \
                g_assert_cmpint(ctl_run(f, NULL, &err, __VA_ARGS__, NULL), ==, 1);   \
                if (!g_str_has_prefix(err, "netlifectl: " want ": "))                \
                        g_error("expected netlifectl: %s: ..., got: %s", want, err); \
                g_assert_true(strchr(err, '\n') == err + strlen(err) - 1);           \
        } while (0)

/* Runs "netlifectl CMD ARG" expecting exit 0 and @want in its output. */
#define STEP(cmd, arg, want)                                                    \
        do {                                                                    \
                g_assert_cmpint(ctl_run(f, &out, NULL, cmd, arg, NULL), ==, 0); \
                assert_contains(out, want);                                     \
        } while (0)

static JsonObject *
parse_object(const char *text, JsonNode **keep)
{
        g_autoptr(GError) error = NULL;

        *keep = json_from_string(text, &error);
        g_assert_no_error(error);
        g_assert_true(JSON_NODE_HOLDS_OBJECT(*keep));
        return json_node_get_object(*keep);
}

/* br0 (STP on: forward delay 2 s, the kernel minimum; or off) with an
 * uplink veth whose peer vpeer0 is where frames are watched. */
static void
make_bridge(gboolean stp)
{
        ns_sh("ip link add br0 type bridge stp_state %d forward_delay 200", stp ? 1 : 0);
        ns_sh("ip link add vbr0 type veth peer name vpeer0 && ip link set vbr0 master br0 && "
              "ip link set vbr0 up && ip link set vpeer0 up && ip link set br0 up");
}

static void
set_up(Fixture *f, gconstpointer data)
{
        ns_env_set_up(&f->env, NULL);
        make_bridge(GPOINTER_TO_INT(data));
}

static void
tear_down(Fixture *f, gconstpointer data)
{
        g_clear_pointer(&f->qemu, nlc_fake_qmp_free);
        ns_env_tear_down(&f->env);
}

/* The row of device @id in status's Devices table, split into words. */
static char **
device_row(const char *status, const char *id)
{
        g_auto(GStrv) lines = g_strsplit(status, "\n", -1);

        for (guint i = 0; lines[i]; i++) {
                g_auto(GStrv) words = g_strsplit_set(lines[i], " ", -1);
                g_autoptr(GPtrArray) kept = g_ptr_array_new_with_free_func(g_free);

                for (guint j = 0; words[j]; j++)
                        if (*words[j])
                                g_ptr_array_add(kept, g_strdup(words[j]));
                if (kept->len > 9 && g_str_equal(kept->pdata[0], id) &&
                    g_str_equal(kept->pdata[3], MAC)) {
                        g_ptr_array_add(kept, NULL);
                        return (char **) g_ptr_array_free(g_steal_pointer(&kept), FALSE);
                }
        }
        g_error("no row for device %s in:\n%s", id, status);
}

static void
test_usage(Fixture *f, gconstpointer data)
{
        static const char *const names[] = {
                "status",   "explain",          "watch",       "backends",
                "allocate", "notify",           "get-device",  "get-instance",
                "create",   "activate",         "deactivate",  "destroy",
                "free",     "announce",         "attach-qemu", "wait-ready",
                "migrate",  "prepare-incoming", "cancel",      "recover",
        };
        g_autofree char *help = NULL, *out = NULL, *err = NULL;

        g_assert_cmpint(ctl_run(f, &help, NULL, "--help", NULL), ==, 0);
        for (gsize i = 0; i < G_N_ELEMENTS(names); i++)
                assert_contains(help, names[i]);
        assert_contains(help, "Exit codes");
        USAGE("frobnicate");
        USAGE("destroy");
        USAGE("destroy", "1", "2");
        USAGE("destroy", "not-a-device");
        USAGE("watch", "--count", "0");
        USAGE("status", "--count", "3");
        USAGE("status", "--exec");
        USAGE("create", "1", "--exec");
        USAGE("wait-ready", "vm1", "soon");
        USAGE("allow-postcopy", "vm1", "maybe");
        USAGE("--bogus", "status");
        USAGE("--session", "--address", "unix:path=/x", "status");
        /* Typed from the backend's table and the migration options. */
        USAGE("allocate", "vm1", "tap-bridge", MAC, "bridge=br0", "queues=two");
        USAGE("allocate", "vm1", "tap-bridge", MAC, "bridge");
        USAGE("allocate", "vm1", "tap-bridge", MAC, "bridge=br0", "bridge=br1");
        USAGE("migrate", "vm1", URI, "precopy-passes=-1");
        USAGE("migrate", "vm1", URI, "max-bandwidth=fast");
        USAGE("prepare-incoming", "vm1", URI, "postcopy=sometimes");
        USAGE("cancel", "x");
        assert_contains(err, "migration");
        /* Nothing reached the daemon. */
        g_assert_cmpint(ctl_run(f, &out, NULL, "status", NULL), ==, 0);
        assert_contains(out, "Devices: none");
        /* No bus at the address: 3. */
        g_assert_cmpint(
                ctl_run(f, NULL, &err, "--address", "unix:path=/nonexistent/bus", "status", NULL),
                ==, 3);
        assert_contains(err, "cannot connect");
}

static gboolean
fdb_is(const char *want)
{
        g_autofree char *have = ns_kernel_fdb_static(MAC);

        return g_str_equal(have, want);
}

static void
test_lifecycle(Fixture *f, gconstpointer data)
{
        g_autofree char *out = NULL, *status = NULL, *err = NULL;
        g_auto(GStrv) row = NULL;

        g_assert_cmpint(ctl_run(f, &out, NULL, "allocate", "vm1", "tap-bridge", MAC, "bridge=br0",
                                "ifname=" TAP, "queues=1", NULL),
                        ==, 0);
        g_assert_cmpstr(out, ==, DEV1 "\n");
        /* Same arguments, same device (idempotent), the MAC in upper case. */
        g_assert_cmpint(ctl_run(f, &out, NULL, "allocate", "vm1", "tap-bridge", "52:54:00:00:1C:01",
                                "bridge=br0", "ifname=" TAP, "queues=1", NULL),
                        ==, 0);
        g_assert_cmpstr(out, ==, DEV1 "\n");
        g_assert_cmpint(ctl_run(f, &out, NULL, "get-device", "vm1", MAC, NULL), ==, 0);
        g_assert_cmpstr(out, ==, DEV1 "\n");
        g_assert_cmpint(ctl_run(f, &out, NULL, "get-instance", "vm1", NULL), ==, 0);
        g_assert_cmpstr(out, ==, "/org/netlifecd1/instance/vm1\n");

        g_assert_cmpint(ctl_run(f, &status, NULL, "status", NULL), ==, 0);
        row = device_row(status, "1");
        g_assert_cmpstr(row[1], ==, "vm1");
        g_assert_cmpstr(row[4], ==, TAP);
        g_assert_cmpstr(row[5], ==, "br0");
        g_assert_cmpstr(row[6], ==, "allocated");
        g_assert_cmpstr(row[7], ==, "disabled");
        g_clear_pointer(&row, g_strfreev);
        g_clear_pointer(&status, g_free);

        STEP("create", "1", "device 1 (vm1 " TAP "): created");
        ns_sh("ip link show " TAP " >/dev/null");
        STEP("activate", DEV1, "device 1 (vm1 " TAP "): active");
        g_assert_true(fdb_is(TAP "@br0"));
        g_assert_cmpint(ctl_run(f, &status, NULL, "status", NULL), ==, 0);
        row = device_row(status, "1");
        g_assert_cmpstr(row[6], ==, "active");
        g_assert_cmpstr(row[7], ==, "forwarding");
        g_assert_cmpstr(row[8], ==, "yes");
        g_assert_cmpstr(row[9], ==, "this");
        assert_contains(status, "br0   off");
        STEP("announce", "1", "announced " MAC);
        STEP("deactivate", "vm1", "instance vm1: not active, ready");
        g_assert_true(fdb_is(""));
        STEP("activate", "vm1", "instance vm1: active, ready");
        STEP("deactivate", "1", "device 1 (vm1 " TAP "): created");
        g_assert_cmpint(ctl_run(f, &out, NULL, "allow-postcopy", "vm1", "false", NULL), ==, 0);
        g_assert_cmpstr(out, ==, "instance vm1: post-copy not allowed\n");
        g_assert_false(ns_get_bool(&f->env, "/org/netlifecd1/instance/vm1",
                                   "org.netlifecd1.Instance", "AllowPostcopy"));
        STEP("destroy", "1", "device 1 (vm1 " TAP "): destroyed");
        g_assert_cmpint(system("ip link show " TAP " >/dev/null 2>&1"), !=, 0);
        STEP("free", "1", "device 1: freed");
        g_assert_cmpint(ctl_run(f, &out, NULL, "status", NULL), ==, 0);
        assert_contains(out, "Devices: none");
        /* notify adopts a device that exists: the same one again. */
        g_assert_cmpint(ctl_run(f, NULL, NULL, "allocate", "vm2", "tap-bridge", MAC, "bridge=br0",
                                "ifname=lt2", NULL),
                        ==, 0);
        g_assert_cmpint(ctl_run(f, NULL, NULL, "create", "2", NULL), ==, 0);
        g_assert_cmpint(ctl_run(f, &out, NULL, "notify", "vm2", "tap-bridge", MAC, "bridge=br0",
                                "ifname=lt2", NULL),
                        ==, 0);
        g_assert_cmpstr(out, ==, "/org/netlifecd1/device/2\n");
        g_assert_cmpint(ctl_run(f, NULL, &err, "notify", "vm3", "tap-bridge", MAC, "bridge=br0",
                                "ifname=nosuch0", NULL),
                        ==, 1);
        assert_contains(err, "netlifectl: org.netlifecd1.Error.");
        /* destroy-instances: every device of the instance, active ones too. */
        g_assert_cmpint(ctl_run(f, NULL, NULL, "activate", "2", NULL), ==, 0);
        g_assert_cmpint(ctl_run(f, NULL, &err, "destroy-instances", "vm2", "vm-none", NULL), ==, 1);
        assert_contains(err, "netlifectl: org.netlifecd1.Error.NotFound:");
        ns_sh("ip link show lt2 >/dev/null");
        g_assert_cmpint(ctl_run(f, &out, NULL, "destroy-instances", "vm2", NULL), ==, 0);
        g_assert_cmpstr(out, ==, "destroyed every created device of vm2\n");
        g_assert_cmpint(system("ip link show lt2 >/dev/null 2>&1"), !=, 0);
        g_assert_true(fdb_is(""));
}

static void
test_json(Fixture *f, gconstpointer data)
{
        g_autofree char *out = NULL;
        g_autoptr(JsonNode) root = NULL;
        JsonObject *o, *dev, *caps;
        JsonArray *devices;

        g_assert_cmpint(ctl_run(f, &out, NULL, "--json", "allocate", "vm1", "tap-bridge", MAC,
                                "bridge=br0", "ifname=" TAP, NULL),
                        ==, 0);
        o = parse_object(out, &root);
        g_assert_cmpstr(json_object_get_string_member(o, "path"), ==, DEV1);
        g_assert_cmpstr(json_object_get_string_member(o, "State"), ==, "allocated");
        g_assert_cmpstr(json_object_get_string_member(o, "MAC"), ==, MAC);
        g_assert_true(json_object_get_null_member(o, "ReadyInUsec"));
        g_clear_pointer(&root, json_node_unref);

        g_assert_cmpint(ctl_run(f, &out, NULL, "create", "1", "--json", NULL), ==, 0);
        o = parse_object(out, &root);
        g_assert_cmpstr(json_object_get_string_member(o, "State"), ==, "created");
        g_assert_cmpint(json_object_get_int_member(o, "fds"), ==, 1);
        g_clear_pointer(&root, json_node_unref);

        g_assert_cmpint(ctl_run(f, &out, NULL, "--json", "status", NULL), ==, 0);
        o = parse_object(out, &root);
        devices = json_object_get_array_member(o, "devices");
        g_assert_cmpuint(json_array_get_length(devices), ==, 1);
        dev = json_array_get_object_element(devices, 0);
        g_assert_cmpstr(json_object_get_string_member(dev, "id"), ==, "1");
        g_assert_cmpstr(json_object_get_string_member(dev, "State"), ==, "created");
        g_assert_cmpstr(json_object_get_string_member(dev, "IfName"), ==, TAP);
        g_assert_true(json_object_get_null_member(dev, "mac-owner"));
        g_assert_false(json_object_get_boolean_member(dev, "OwnsMac"));
        g_assert_cmpuint(json_array_get_length(json_object_get_array_member(o, "instances")), ==,
                         1);
        g_assert_cmpuint(json_array_get_length(json_object_get_array_member(o, "bridges")), ==, 1);
        g_clear_pointer(&root, json_node_unref);

        g_assert_cmpint(ctl_run(f, &out, NULL, "--json", "activate", "1", NULL), ==, 0);
        o = parse_object(out, &root);
        g_assert_cmpstr(json_object_get_string_member(o, "State"), ==, "active");
        g_assert_true(json_object_get_boolean_member(o, "OwnsMac"));
        g_clear_pointer(&root, json_node_unref);

        g_assert_cmpint(ctl_run(f, &out, NULL, "--json", "get-instance", "vm1", NULL), ==, 0);
        o = parse_object(out, &root);
        g_assert_cmpstr(json_object_get_string_member(o, "Name"), ==, "vm1");
        g_assert_true(json_object_get_boolean_member(o, "Active"));
        g_clear_pointer(&root, json_node_unref);

        g_assert_cmpint(ctl_run(f, &out, NULL, "--json", "backends", NULL), ==, 0);
        o = parse_object(out, &root);
        caps = json_object_get_object_member(json_object_get_object_member(o, "Backends"),
                                             "tap-bridge");
        g_assert_cmpstr(json_object_get_string_member(
                                json_object_get_object_member(caps, "options"), "queues"),
                        ==, "u");
        g_assert_true(json_object_get_boolean_member(caps, "fd-handover"));
        g_clear_pointer(&root, json_node_unref);

        g_assert_cmpint(ctl_run(f, &out, NULL, "--json", "destroy-instances", "vm1", NULL), ==, 0);
        o = parse_object(out, &root);
        g_assert_cmpstr(
                json_array_get_string_element(json_object_get_array_member(o, "destroyed"), 0), ==,
                "vm1");
        g_assert_cmpint(system("ip link show " TAP " >/dev/null 2>&1"), !=, 0);
}

static void
test_errors(Fixture *f, gconstpointer data)
{
        g_autofree char *err = NULL;

        g_free(ns_allocate(&f->env, "vm1", MAC, "{'bridge': <'br0'>, 'ifname': <'lt0'>}"));
        FAILS("org.netlifecd1.Error.InvalidState", "destroy", "1");
        assert_contains(err, "device 1");
        FAILS("org.netlifecd1.Error.InvalidState", "activate", "1");
        FAILS("org.netlifecd1.Error.InvalidState", "announce", "1");
        FAILS("org.netlifecd1.Error.NotFound", "get-device", "vm1", "52:54:00:00:1c:99");
        FAILS("org.netlifecd1.Error.NotFound", "get-instance", "vm9");
        FAILS("org.netlifecd1.Error.NotFound", "explain", "vm9");
        FAILS("org.netlifecd1.Error.NotFound", "wait-ready", "vm9", "10");
        FAILS("org.netlifecd1.Error.NotFound", "destroy", "99");
        FAILS("org.netlifecd1.Error.InvalidArgs", "allocate", "vm1", "tap-bridge",
              "52:54:00:00:1c:02", "bridge=br0", "colour=blue");
        assert_contains(err, "colour");
        FAILS("org.netlifecd1.Error.InvalidArgs", "allocate", "vm1", "tap-bridge", "not-a-mac",
              "bridge=br0");
        FAILS("org.netlifecd1.Error.InvalidArgs", "attach-qemu", "bad name!",
              "/nonexistent/q.sock");
        FAILS("org.netlifecd1.Error.Conflict", "allocate", "vm2", "tap-bridge", "52:54:00:00:1c:03",
              "bridge=br0", "ifname=lt0");
        /* free of a path that is gone succeeds (the record is released). */
        g_assert_cmpint(ctl_run(f, NULL, NULL, "free", "1", NULL), ==, 0);
        g_assert_cmpint(ctl_run(f, NULL, NULL, "free", "1", NULL), ==, 0);
        /* The daemon gone from the bus: 3, naming the bus's error. */
        ns_env_kill9_daemon(&f->env);
        g_assert_cmpint(ctl_run(f, NULL, &err, "status", NULL), ==, 3);
        g_assert_true(g_str_has_prefix(err, "netlifectl: org.freedesktop.DBus.Error."));
}

static void
test_explain(Fixture *f, gconstpointer data)
{
        g_autofree char *out = NULL, *dev2 = NULL;
        g_autoptr(JsonNode) root = NULL;
        JsonObject *o;

        g_free(ns_allocate(&f->env, "vm1", MAC, "{'bridge': <'br0'>, 'ifname': <'lt0'>}"));
        g_assert_cmpint(ctl_run(f, &out, NULL, "explain", "1", NULL), ==, 0);
        assert_contains(out, "only allocated");
        g_assert_cmpint(ctl_run(f, NULL, NULL, "create", "1", NULL), ==, 0);
        g_assert_cmpint(ctl_run(f, &out, NULL, "explain", DEV1, NULL), ==, 0);
        assert_contains(out, "device 1 (vm1 lt0): created, not ready");
        assert_contains(out, "port lt0 on br0 is ");
        assert_contains(out, ", forwarding in ");
        assert_contains(out, "STP on br0, forward delay 2 s");
        assert_contains(out, MAC " is held by no device");
        assert_contains(out, "does not follow vm1's guest");
        g_assert_cmpint(ctl_run(f, &out, NULL, "--json", "explain", "1", NULL), ==, 0);
        o = parse_object(out, &root);
        g_assert_false(json_object_get_boolean_member(o, "ready"));
        g_assert_cmpint(json_object_get_int_member(o, "ready-in-usec"), >, 0);
        g_assert_cmpint(json_object_get_int_member(o, "ready-in-usec"), <=, 4000000);
        g_assert_true(g_str_has_prefix(json_object_get_string_member(o, "why"), "port lt0"));
        g_assert_cmpint(ctl_run(f, &out, NULL, "explain", "vm1", NULL), ==, 0);
        assert_contains(out, "instance vm1: not ready, not active");
        assert_contains(out, "ready in about ");

        /* Activated, and a second device of the instance with the same MAC. */
        g_assert_cmpint(ctl_run(f, NULL, NULL, "activate", "1", NULL), ==, 0);
        dev2 = ns_allocate(&f->env, "vm1", MAC, "{'bridge': <'br0'>, 'ifname': <'lt1'>}");
        g_assert_cmpint(ctl_run(f, &out, NULL, "explain", dev2, NULL), ==, 0);
        assert_contains(out, MAC " is held by device 1 (vm1 lt0) on br0");
        g_assert_cmpint(ctl_run(f, &out, NULL, "explain", "vm1", NULL), ==, 0);
        assert_contains(out, "device 2 (vm1 lt1): allocated, not ready: only allocated");
        g_assert_null(strstr(out, "ready in about"));
        g_assert_cmpint(ctl_run(f, NULL, NULL, "wait-ready", "vm1", "10", NULL), ==, 5);
        g_assert_cmpint(ctl_run(f, NULL, NULL, "free", "2", NULL), ==, 0);
        g_assert_cmpint(ctl_run(f, NULL, NULL, "wait-ready", "vm1", "10000", NULL), ==, 0);
        g_assert_cmpint(ctl_run(f, &out, NULL, "explain", "1", NULL), ==, 0);
        assert_contains(out, "device 1 (vm1 lt0): active, ready");
        assert_contains(out, "port lt0 on br0 is forwarding");
        assert_contains(out, MAC " is held by this device (static FDB entry on br0)");
}

static gboolean
port_forwards(void)
{
        g_autofree char *state = ns_kernel_port_state(TAP);

        return g_str_equal(state, "forwarding");
}

static void
test_wait_ready(Fixture *f, gconstpointer data)
{
        g_autofree char *out = NULL, *path = NULL;
        g_autoptr(GUnixFDList) fds = NULL;
        gint64 start;

        path = ns_allocate(&f->env, "vm1", MAC, "{'bridge': <'br0'>, 'ifname': <'lt0'>}");
        fds = ns_create(&f->env, path);
        g_assert_cmpint(ctl_run(f, &out, NULL, "wait-ready", "vm1", "200", NULL), ==, 5);
        assert_contains(out, "instance vm1: not ready after 200 ms");
        assert_contains(out, "device 1 (vm1 lt0): port lt0 on br0 is ");
        g_assert_false(port_forwards());
        start = g_get_monotonic_time();
        g_assert_cmpint(ctl_run(f, &out, NULL, "wait-ready", "vm1", "10000", NULL), ==, 0);
        g_assert_cmpstr(out, ==, "instance vm1: ready\n");
        g_assert_true(port_forwards());
        /* 2 × forward_delay after Create, not the 10 s. */
        g_assert_cmpint(g_get_monotonic_time() - start, <, 6 * G_USEC_PER_SEC);
}

static gboolean
reason_is_bpdu_guard(gpointer data)
{
        Fixture *f = data;
        g_autofree char *reason =
                ns_get_string(&f->env, DEV1, "org.netlifecd1.Device", "PortReason");

        return g_str_equal(reason, "bpdu-guard");
}

/* A port the kernel disabled because the guest sent a BPDU: explain says
 * so, in words and in its JSON, and watch shows the signal. */
static void
test_explain_bpdu_guard(Fixture *f, gconstpointer data)
{
        g_autofree char *out = NULL, *path = NULL;
        g_autoptr(GUnixFDList) fds = NULL;
        g_autoptr(JsonNode) root = NULL;
        const char *watch[] = { "watch", "--count", "2", NULL };
        Ctl *w;
        JsonObject *o;

        path = ns_allocate(&f->env, "vm1", MAC, "{'bridge': <'br0'>, 'ifname': <'lt0'>}");
        g_assert_cmpstr(path, ==, DEV1);
        fds = ns_create(&f->env, path);
        w = ctl_start(f, watch);
        g_usleep(300000); /* watch subscribed */
        nlc_queue_write_superior_bpdus(g_unix_fd_list_peek_fds(fds, NULL)[0], 2);
        g_assert_true(ns_wait(reason_is_bpdu_guard, f, 3000));
        g_assert_cmpint(ctl_wait(w, 5000), ==, 0);
        out = slurp(w->out_path);
        assert_contains(out, "PortStateChanged ");
        assert_contains(out, "-> disabled (bpdu-guard)");
        ctl_free(w);
        g_clear_pointer(&out, g_free);
        g_assert_cmpint(ctl_run(f, &out, NULL, "explain", "1", NULL), ==, 0);
        assert_contains(out, "device 1 (vm1 lt0): created, not ready");
        assert_contains(out, "port lt0 on br0 is disabled: the kernel disabled it because a "
                             "BPDU came in from the guest");
        g_clear_pointer(&out, g_free);
        g_assert_cmpint(ctl_run(f, &out, NULL, "--json", "explain", "1", NULL), ==, 0);
        o = parse_object(out, &root);
        g_assert_cmpstr(json_object_get_string_member(o, "PortReason"), ==, "bpdu-guard");
        g_assert_false(json_object_get_boolean_member(o, "ready"));
}

/* create --exec: the child holds the live tap queue. */
static void
test_exec(Fixture *f, gconstpointer data)
{
        g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
        g_autofree char *out = NULL, *err = NULL;
        guint8 seen[NLC_FRAME_LEN];
        int sock = nlc_packet_open("vpeer0");

        /* The child writes as a MAC of its own: not through a locked port. */
        g_free(ns_allocate(&f->env, "vm1", MAC,
                           "{'bridge': <'br0'>, 'ifname': <'lt0'>, 'lock-mac': <false>}"));
        g_assert_cmpint(ctl_run(f, &out, NULL, "create", "1", "--exec", "--", "sh", "-c",
                                "test -e /proc/self/fd/{0} && readlink /proc/self/fd/{0} && "
                                "echo fds={fds}",
                                NULL),
                        ==, 0);
        g_assert_cmpstr(out, ==, "/dev/net/tun\nfds=3\n");
        g_assert_nonnull(self);
        g_assert_cmpint(ctl_run(f, NULL, NULL, "create", "1", "--exec", "--", self, "--write-frame",
                                "{0}", TAP, NULL),
                        ==, 0);
        g_assert_cmpint(nlc_packet_wait(sock, child_src, NLC_ETH_TEST, 3000, seen, sizeof seen), ==,
                        NLC_FRAME_LEN);
        /* The child's status is netlifectl's; a missing fd is a usage error. */
        g_assert_cmpint(
                ctl_run(f, NULL, NULL, "create", "1", "--exec", "--", "sh", "-c", "exit 7", NULL),
                ==, 7);
        g_assert_cmpint(ctl_run(f, NULL, NULL, "create", "1", "--exec", "--", "sh", "-c",
                                "kill -TERM $$", NULL),
                        ==, 128 + SIGTERM);
        g_assert_cmpint(ctl_run(f, NULL, &err, "create", "1", "--exec", "--", "true", "{1}", NULL),
                        ==, 2);
        assert_contains(err, "Create returned 1 fd");
        g_assert_cmpint(
                ctl_run(f, NULL, NULL, "create", "1", "--exec", "--", "/nonexistent/qemu", NULL),
                ==, 127);
        close(sock);
}

/* share-queues: a second QEMU's queues of the same tap, as create hands them
 * out; refusals named. */
static void
test_share_queues(Fixture *f, gconstpointer data)
{
        g_autofree char *out = NULL, *out2 = NULL, *err = NULL, *err2 = NULL;

        g_free(ns_allocate(&f->env, "vm1", MAC,
                           "{'bridge': <'br0'>, 'ifname': <'lt0'>, 'shareable': <true>}"));
        g_assert_cmpint(ctl_run(f, NULL, NULL, "create", "1", NULL), ==, 0);
        g_assert_cmpint(ctl_run(f, &out, NULL, "share-queues", "1", "vm1-new", "--exec", "--", "sh",
                                "-c", "readlink /proc/self/fd/{0} && echo fds={fds}", NULL),
                        ==, 0);
        g_assert_cmpstr(out, ==, "/dev/net/tun\nfds=3\n");
        g_assert_cmpint(ctl_run(f, &out2, NULL, "--json", "get-device", "vm1-new", MAC, NULL), ==,
                        0);
        assert_contains(out2, "\"IfName\" : \"lt0\"");
        assert_contains(out2, "\"SharedWith\" : \"/org/netlifecd1/device/1\"");
        g_assert_cmpint(ctl_run(f, NULL, &err, "share-queues", "1", "vm1-other", NULL), ==, 1);
        assert_contains(err, "org.netlifecd1.Error.Busy");
        g_free(ns_allocate(&f->env, "vm3", "52:54:00:00:33:03",
                           "{'bridge': <'br0'>, 'ifname': <'lt3'>}"));
        g_assert_cmpint(ctl_run(f, NULL, NULL, "create", "3", NULL), ==, 0);
        g_assert_cmpint(ctl_run(f, NULL, &err2, "share-queues", "3", "vm3-new", NULL), ==, 1);
        assert_contains(err2, "org.netlifecd1.Error.NotSupported");
}

static void
test_watch(Fixture *f, gconstpointer data)
{
        static const char *const count6[] = { "watch", "--count", "6", NULL };
        static const char *const forever[] = { "watch", NULL };
        static const char *const json1[] = { "--json", "watch", "--count", "1", NULL };
        g_autofree char *path = NULL;
        g_autoptr(Ctl) c = NULL;
        g_autoptr(JsonNode) root = NULL;
        g_autoptr(GUnixFDList) fds = NULL;
        g_auto(GStrv) lines = NULL;
        JsonObject *o;

        path = ns_allocate(&f->env, "vm1", MAC, "{'bridge': <'br0'>, 'ifname': <'lt0'>}");
        c = ctl_start(f, count6);
        ctl_wait_for(c, TRUE, "watching org.netlifecd1");
        fds = ns_create(&f->env, path);
        ns_device_call(&f->env, path, "Activate");
        ns_device_call(&f->env, path, "Deactivate");
        g_assert_cmpint(ctl_wait(c, RUN_MS), ==, 0);
        lines = g_strsplit(c->out, "\n", -1);
        g_assert_cmpuint(g_strv_length(lines), ==, 7); /* 6 and the empty rest */
        for (guint i = 0; i < 6; i++)
                g_assert_true(g_regex_match_simple(
                        "^\\d\\d:\\d\\d:\\d\\d\\.\\d\\d\\d [a-z]+ .*: ", lines[i], 0, 0));
        assert_contains(c->out, "StateChanged allocated -> created (create)");
        g_clear_pointer(&c, ctl_free);

        /* Until SIGTERM or SIGINT, exit 0; also PropertiesChanged and
         * InterfacesRemoved. */
        c = ctl_start(f, forever);
        ctl_wait_for(c, TRUE, "watching org.netlifecd1");
        ns_device_call(&f->env, path, "Activate");
        ctl_wait_for(c, FALSE, "OwnsMac=true");
        ns_device_call(&f->env, path, "Deactivate");
        ns_device_call(&f->env, path, "Destroy");
        ns_device_call(&f->env, path, "Free");
        ctl_wait_for(c, FALSE, "device 1 (vm1 lt0): removed");
        g_subprocess_send_signal(c->proc, SIGTERM);
        g_assert_cmpint(ctl_wait(c, RUN_MS), ==, 0);
        assert_contains(c->out, "StateChanged created -> active (activate)");
        assert_contains(c->out, "StateChanged destroyed -> freed (free)");
        assert_contains(c->out, "device 1 (vm1 lt0): removed");
        g_clear_pointer(&c, ctl_free);

        c = ctl_start(f, forever);
        ctl_wait_for(c, TRUE, "watching org.netlifecd1");
        g_subprocess_send_signal(c->proc, SIGINT);
        g_assert_cmpint(ctl_wait(c, RUN_MS), ==, 0);
        g_clear_pointer(&c, ctl_free);

        c = ctl_start(f, json1);
        ctl_wait_for(c, TRUE, "watching org.netlifecd1");
        g_free(ns_allocate(&f->env, "vm2", "52:54:00:00:1c:02", "{'bridge': <'br0'>}"));
        g_assert_cmpint(ctl_wait(c, RUN_MS), ==, 0);
        o = parse_object(c->out, &root);
        g_assert_cmpstr(json_object_get_string_member(o, "signal"), ==, "InterfacesAdded");
        g_assert_true(
                g_str_has_prefix(json_object_get_string_member(o, "path"), "/org/netlifecd1/"));
        g_assert_cmpint(json_object_get_int_member(o, "usec"), >, 0);
}

/* The refusals and the argument paths against the real daemon. */
static void
test_migrate_errors(Fixture *f, gconstpointer data)
{
        g_autofree char *out = NULL, *err = NULL, *path = NULL, *sock = NULL;
        g_autoptr(GUnixFDList) fds = NULL;

        path = ns_allocate(&f->env, "vm1", MAC, "{'bridge': <'br0'>, 'ifname': <'lt0'>}");
        fds = ns_create(&f->env, path);
        FAILS("org.netlifecd1.Error.InvalidState", "migrate", "vm1", URI);
        assert_contains(err, "AttachQemu");
        FAILS("org.netlifecd1.Error.InvalidState", "prepare-incoming", "vm1", "tcp:0.0.0.0:4444");
        FAILS("org.netlifecd1.Error.NotFound", "migrate", "vm9", URI);
        /* A socket nobody listens on: the daemon keeps trying. */
        sock = g_build_filename(f->env.dir, "qmp.sock", NULL);
        g_assert_cmpint(ctl_run(f, NULL, NULL, "attach-qemu", "vm1", sock, NULL), ==, 0);
        FAILS("org.netlifecd1.Error.InvalidArgs", "migrate", "vm1", URI, "max-bandwith=1");
        assert_contains(err, "max-bandwith");
        FAILS("org.netlifecd1.Error.InvalidArgs", "migrate", "vm1", URI, "postcopy=sometimes");
        FAILS("org.netlifecd1.Error.InvalidArgs", "migrate", "vm1", URI, "context=evacuate",
              "postcopy=never");
        FAILS("org.netlifecd1.Error.NotFound", "migrate", "vm1", URI, "readiness=local",
              "destination-instance=vm7");
        /* No default fails open: no way to learn the destination's readiness,
         * or "local" on the migrating instance itself. */
        FAILS("org.netlifecd1.Error.InvalidArgs", "migrate", "vm1", URI);
        assert_contains(err, "needs option 'readiness'");
        FAILS("org.netlifecd1.Error.InvalidArgs", "migrate", "vm1", URI, "readiness=local");
        assert_contains(err, "needs option 'destination-instance'");
        FAILS("org.netlifecd1.Error.InvalidArgs", "migrate", "vm1", URI, "readiness=local",
              "destination-instance=vm1");
        assert_contains(err, "the migrating instance itself");
        FAILS("org.freedesktop.DBus.Error.UnknownMethod", "cancel", "99");
        /* Nobody answers on the socket: the migration fails at once, 4. */
        g_assert_cmpint(ctl_run(f, &out, &err, "migrate", "vm1", URI, "postcopy=never", NULL), ==,
                        4);
        g_assert_true(g_str_has_prefix(out, MIG1 "\n"));
        assert_contains(out, "Timeline:\n");
        assert_contains(out, "  failed\n");
        assert_contains(err, "netlifectl: migration 1 failed: ");
        FAILS("org.netlifecd1.Error.InvalidState", "start-postcopy", "1");
        FAILS("org.netlifecd1.Error.InvalidState", "cancel", MIG1);
        FAILS("org.netlifecd1.Error.InvalidState", "recover", "1", URI);
        g_assert_cmpint(ctl_run(f, &out, NULL, "status", NULL), ==, 0);
        assert_contains(out, "Migrations:");
        assert_contains(out, "source  failed");
}

/* The guest follows a scripted QEMU; the daemon's device is ready. */
static void
attach_fake_qemu(Fixture *f, const char *status_reply, gboolean announce)
{
        f->qemu = nlc_fake_qmp_new(7, 2, 0);
        g_free(ns_allocate(&f->env, "vm1", MAC, "{'bridge': <'br0'>, 'ifname': <'lt0'>}"));
        g_assert_cmpint(ctl_run(f, NULL, NULL, "create", "1", NULL), ==, 0);
        nlc_fake_qmp_expect(f->qemu, "query-status", NULL, status_reply);
        if (announce)
                nlc_fake_qmp_expect(f->qemu, "announce-self", NULL, NULL);
        g_assert_cmpint(
                ctl_run(f, NULL, NULL, "attach-qemu", "vm1", nlc_fake_qmp_get_path(f->qemu), NULL),
                ==, 0);
        g_assert_true(nlc_fake_qmp_run_until_done(f->qemu, 5000));
}

/* What the daemon asks QEMU before it starts a migration. */
static void
expect_start(Fixture *f)
{
        nlc_fake_qmp_expect_migration_start(f->qemu);
}

/* prepare-incoming to completion: plain lines, the Timeline, exit 0; the
 * guest's announce shows in explain. */
static void
test_incoming_completes(Fixture *f, gconstpointer data)
{
        g_autofree char *out = NULL;

        attach_fake_qemu(f, "{\"running\": false, \"status\": \"inmigrate\"}", FALSE);
        expect_start(f);
        nlc_fake_qmp_expect(f->qemu, "migrate-incoming", "{\"uri\": \"tcp:0.0.0.0:4444\"}", NULL);
        nlc_fake_qmp_event(f->qemu, "MIGRATION", "{\"status\": \"active\"}");
        nlc_fake_qmp_event(f->qemu, "MIGRATION", "{\"status\": \"postcopy-active\"}");
        nlc_fake_qmp_event(f->qemu, "RESUME", NULL);
        nlc_fake_qmp_expect(f->qemu, "announce-self", NULL, NULL);
        nlc_fake_qmp_event(f->qemu, "MIGRATION", "{\"status\": \"completed\"}");
        g_assert_cmpint(ctl_run(f, &out, NULL, "prepare-incoming", "vm1", "tcp:0.0.0.0:4444",
                                "postcopy=true", NULL),
                        ==, 0);
        nlc_fake_qmp_assert_done(f->qemu);
        g_assert_true(g_str_has_prefix(out, MIG1 "\n"));
        assert_contains(out, " migration 1: postcopy, pass 0");
        assert_contains(out, "Timeline:\n");
        assert_contains(out, "  incoming\n");
        assert_contains(out, "  destination-resume\n");
        assert_contains(out, "  completed\n");
        g_assert_cmpint(ctl_run(f, &out, NULL, "explain", "vm1", NULL), ==, 0);
        assert_contains(out, "instance vm1: ready, active");
        assert_contains(out, "mac: " MAC " is held by device 1 (vm1 lt0) on br0");
        assert_contains(out, "announced: last announced ");
        assert_contains(out, "migration 1: destination, completed");
}

/* The migration goes on when its follower is stopped (SIGTERM: 143); a
 * second one, cancelled from another netlifectl, ends with 4. */
static void
test_migrate_cancelled(Fixture *f, gconstpointer data)
{
        static const char *const args[] = { "migrate", "vm1", URI, "postcopy=never", NULL };
        g_autofree char *out = NULL, *err = NULL, *phase = NULL;
        g_autoptr(Ctl) c = NULL;

        attach_fake_qemu(f, "{\"running\": true, \"status\": \"running\"}", TRUE);
        for (int round = 1; round <= 2; round++) {
                g_autofree char *id = g_strdup_printf("%d", round);
                g_autofree char *line = g_strdup_printf("migration %d: precopy", round);

                expect_start(f);
                nlc_fake_qmp_expect(f->qemu, "migrate", "{\"uri\": \"" URI "\"}", NULL);
                nlc_fake_qmp_event(f->qemu, "MIGRATION", "{\"status\": \"active\"}");
                c = ctl_start(f, args);
                ctl_wait_for(c, FALSE, line);
                if (round == 1) {
                        FAILS("org.netlifecd1.Error.Busy", "migrate", "vm1", URI);
                        g_subprocess_send_signal(c->proc, SIGTERM);
                        g_assert_cmpint(ctl_wait(c, RUN_MS), ==, 128 + SIGTERM);
                        assert_contains(c->err, "the migration goes on");
                        g_clear_pointer(&c, ctl_free);
                        phase = ns_get_string(&f->env, MIG1, "org.netlifecd1.Migration", "Phase");
                        g_assert_cmpstr(phase, ==, "precopy");
                }
                nlc_fake_qmp_expect(f->qemu, "migrate_cancel", NULL, NULL);
                nlc_fake_qmp_event(f->qemu, "MIGRATION", "{\"status\": \"cancelled\"}");
                g_assert_cmpint(ctl_run(f, &out, NULL, "cancel", id, NULL), ==, 0);
                assert_contains(out, "(vm1): ");
                nlc_fake_qmp_assert_done(f->qemu);
        }
        g_assert_cmpint(ctl_wait(c, RUN_MS), ==, 4);
        g_assert_true(g_str_has_prefix(c->out, "/org/netlifecd1/migration/2\n"));
        assert_contains(c->out, "Timeline:\n");
        assert_contains(c->out, "  migrate\n");
        assert_contains(c->out, "  cancelled\n");
        assert_contains(c->err, "netlifectl: migration 2 cancelled");
        g_assert_cmpint(ctl_run(f, &out, NULL, "--json", "status", NULL), ==, 0);
}

/* create --exec's child: proves it holds a queue of @ifname and writes a
 * frame through it (behind the 10-byte virtio-net header). */
static int
write_frame_child(const char *fd_text, const char *ifname)
{
        guint8 frame[NLC_FRAME_LEN];
        int fd = atoi(fd_text);

        nlc_assert_queue(fd, ifname, FALSE);
        nlc_frame_build(frame, child_src, NLC_ETH_TEST, 0x5a);
        nlc_queue_write(fd, frame, sizeof frame);
        return 0;
}

int
main(int argc, char **argv)
{
        if (argc == 4 && g_str_equal(argv[1], "--write-frame"))
                return write_frame_child(argv[2], argv[3]);
        g_test_init(&argc, &argv, NULL);
#define ADD(path, fn, stp) g_test_add(path, Fixture, GINT_TO_POINTER(stp), set_up, fn, tear_down)
        ADD("/netlifectl/usage", test_usage, FALSE);
        ADD("/netlifectl/lifecycle", test_lifecycle, FALSE);
        ADD("/netlifectl/json", test_json, FALSE);
        ADD("/netlifectl/errors", test_errors, FALSE);
        ADD("/netlifectl/explain", test_explain, TRUE);
        ADD("/netlifectl/wait-ready", test_wait_ready, TRUE);
        ADD("/netlifectl/explain-bpdu-guard", test_explain_bpdu_guard, TRUE);
        ADD("/netlifectl/exec", test_exec, FALSE);
        ADD("/netlifectl/share-queues", test_share_queues, FALSE);
        ADD("/netlifectl/watch", test_watch, FALSE);
        ADD("/netlifectl/migrate-errors", test_migrate_errors, FALSE);
        ADD("/netlifectl/incoming-completes", test_incoming_completes, FALSE);
        ADD("/netlifectl/migrate-cancelled", test_migrate_cancelled, FALSE);
        return g_test_run();
}
