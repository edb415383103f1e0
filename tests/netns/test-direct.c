/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The direct backend over D-Bus, with veths as the host devices, checked
 * against the kernel (iproute2's JSON) after every step: the whole life,
 * destroy putting back the MAC, MTU and up/down state byte for byte, repeats,
 * refusals, bad input, pools, a failed create undone, announce, kill -9
 * between steps, drift, two devices with one MAC, adoption and SIGTERM.
 */
#include <arpa/inet.h>
#include <json-glib/json-glib.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nlc-test-kernel.h"
#include "backend-test.h"
#include "ns-env.h"

#define DEV  "org.netlifecd1.Device"
#define MGR  "org.netlifecd1.Manager"
#define MAC  "52:54:00:00:0e:01"
#define OPTS "{'device': <'dv0'>}"

static const guint8 guest_mac[6] = { 0x52, 0x54, 0x00, 0x00, 0x0e, 0x01 };

/* The host devices: veths whose peers stay up, each as the host left it. */
static const struct {
        const char *name;
        const char *mac;
        guint mtu;
        gboolean up;
} host_devs[] = {
        { "dv0", "02:00:00:00:0e:a0", 1400, TRUE },
        { "dv1", "02:00:00:00:0e:a1", 1500, FALSE },
        { "dv2", "02:00:00:00:0e:a2", 9000, TRUE },
};

typedef struct {
        NsEnv env;
        char *path;
        GPtrArray *changes; /* "<path> old>new:reason" */
        guint subscription;
        char *before[G_N_ELEMENTS(host_devs)]; /* each one's ip -j -d JSON at the start */
} Fixture;

/* ---- the kernel's view, through iproute2 ---- */

typedef struct {
        gboolean exists;
        gboolean up; /* IFF_UP */
        char operstate[16];
        char address[18];
        guint mtu;
} KernelLink;

static void
kernel_link_read(const char *ifname, KernelLink *out)
{
        g_autofree char *json = bt_link_json(ifname);
        g_autoptr(JsonNode) root = NULL;
        g_autoptr(GError) error = NULL;
        JsonObject *l;

        memset(out, 0, sizeof *out);
        if (!*json)
                return;
        root = json_from_string(json, &error);
        g_assert_no_error(error);
        g_assert_true(JSON_NODE_HOLDS_ARRAY(root));
        g_assert_cmpuint(json_array_get_length(json_node_get_array(root)), ==, 1);
        l = json_array_get_object_element(json_node_get_array(root), 0);
        out->exists = TRUE;
        out->up = bt_has_flag(l, "UP");
        out->mtu = (guint) json_object_get_int_member_with_default(l, "mtu", 0);
        g_strlcpy(out->operstate, json_object_get_string_member_with_default(l, "operstate", ""),
                  sizeof out->operstate);
        g_strlcpy(out->address, json_object_get_string_member_with_default(l, "address", ""),
                  sizeof out->address);
}

/* An assigned device: the guest MAC, its own MTU, up only while active. */
static void
assert_assigned(const char *ifname, const char *mac, guint mtu, gboolean up)
{
        KernelLink k;

        kernel_link_read(ifname, &k);
        g_assert_true(k.exists);
        g_assert_cmpstr(k.address, ==, mac);
        g_assert_cmpuint(k.mtu, ==, mtu);
        g_assert_cmpint(k.up, ==, up);
        g_assert_cmpstr(k.operstate, ==, up ? "UP" : "DOWN");
}

static gboolean
link_up(const char *ifname)
{
        KernelLink k;

        kernel_link_read(ifname, &k);
        g_assert_true(k.exists);
        return k.up;
}

/* Waits (bounded) until @ifname's operstate is @want. */
static void
wait_operstate(const char *ifname, const char *want)
{
        KernelLink k;

        for (int i = 0; i < 300; i++) {
                kernel_link_read(ifname, &k);
                if (g_str_equal(k.operstate, want))
                        return;
                g_usleep(10000);
        }
        g_error("%s stayed %s, not %s, for 3 s", ifname, k.operstate, want);
}

static guint
dev_index(const char *ifname)
{
        for (guint i = 0; i < G_N_ELEMENTS(host_devs); i++)
                if (g_str_equal(host_devs[i].name, ifname))
                        return i;
        g_error("%s is not a host device of the fixture", ifname);
}

/* @ifname is byte for byte what it was before the test touched it. */
#define assert_as_before(f, ifname)                                        \
        G_STMT_START                                                       \
        {                                                                  \
                g_autofree char *_now = bt_link_json(ifname);              \
                g_assert_cmpstr(_now, ==, (f)->before[dev_index(ifname)]); \
        }                                                                  \
        G_STMT_END

/* Everything a refused or repeated call must not change. */
static char *
kernel_snapshot(void)
{
        g_autoptr(GString) s = g_string_new(NULL);
        g_autofree char *links = nlc_kernel_link_names();

        g_string_append_printf(s, "links=%s\n", links);
        for (guint i = 0; i < G_N_ELEMENTS(host_devs); i++) {
                g_autofree char *json = bt_link_json(host_devs[i].name);

                g_string_append_printf(s, "%s: %s\n", host_devs[i].name, json);
        }
        return g_string_free(g_steal_pointer(&s), FALSE);
}

/* ---- fixture and D-Bus helpers ---- */

static void
set_up(Fixture *f, gconstpointer data)
{
        /* No direct device unless the host lists it. */
        g_autofree char *config = ns_config_arg("[allow]\ndirect-devices = dv0;dv1;dv2\n");
        const char *args[] = { config, NULL };

        ns_env_set_up_full(&f->env, args, TRUE);
        for (guint i = 0; i < G_N_ELEMENTS(host_devs); i++) {
                const char *name = host_devs[i].name;

                ns_sh("ip link add %s type veth peer name %s-peer", name, name);
                ns_sh("ip link set %s address %s mtu %u && ip link set %s-peer mtu %u up", name,
                      host_devs[i].mac, host_devs[i].mtu, name, host_devs[i].mtu);
                /* Up once even if it is to be down: the kernel attaches the
                 * default qdisc at the first open and keeps it, which is not
                 * part of what destroy puts back. */
                ns_sh("ip link set %s up", name);
                if (!host_devs[i].up)
                        ns_sh("ip link set %s down", name);
                wait_operstate(name, host_devs[i].up ? "UP" : "DOWN");
                f->before[i] = bt_link_json(name);
        }
        f->changes = g_ptr_array_new_with_free_func(g_free);
        f->subscription = bt_record_state_changes(f->env.conn, f->changes);
}

static void
tear_down(Fixture *f, gconstpointer data)
{
        g_dbus_connection_signal_unsubscribe(f->env.conn, f->subscription);
        g_ptr_array_unref(f->changes);
        g_free(f->path);
        for (guint i = 0; i < G_N_ELEMENTS(host_devs); i++)
                g_free(f->before[i]);
        ns_env_tear_down(&f->env);
}

/* Manager.@method(instance, "direct", mac, options) → object path (asserted). */
static char *
call_manager(Fixture *f, const char *method, const char *instance, const char *mac,
             const char *options_text)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) opts = bt_parse_options(options_text);
        g_autoptr(GVariant) r =
                ns_call(&f->env, "/org/netlifecd1", MGR, method,
                        g_variant_new("(sss@a{sv})", instance, "direct", mac, opts), "(o)", &error);
        char *path = NULL;

        g_assert_no_error(error);
        g_variant_get(r, "(o)", &path);
        return path;
}

static char *
allocate(Fixture *f, const char *instance, const char *mac, const char *options_text)
{
        return call_manager(f, "Allocate", instance, mac, options_text);
}

/* Device.Create(): direct hands over no queues (an empty ah, no fd). */
static void
create(Fixture *f, const char *path)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GUnixFDList) fds = NULL;
        g_autoptr(GVariant) r = g_dbus_connection_call_with_unix_fd_list_sync(
                f->env.conn, "org.netlifecd1", path, DEV, "Create", NULL, G_VARIANT_TYPE("(ah)"),
                G_DBUS_CALL_FLAGS_NONE, 20000, NULL, &fds, NULL, &error);
        g_autoptr(GVariant) handles = NULL;

        g_assert_no_error(error);
        handles = g_variant_get_child_value(r, 0);
        g_assert_cmpuint(g_variant_n_children(handles), ==, 0);
        g_assert_true(fds == NULL || g_unix_fd_list_get_length(fds) == 0);
}

static void
restart_daemon(Fixture *f)
{
        ns_env_kill9_daemon(&f->env);
        ns_env_start_daemon(&f->env);
}

/* ---- frames ---- */

/* Reads frames on @sock for up to @timeout_ms until one comes from @src with
 * ethertype @type (any when 0); copies up to 28 bytes of its payload. */
static gboolean
frame_from(int sock, const guint8 src[6], guint16 type, guint8 *payload, guint timeout_ms)
{
        gint64 deadline = g_get_monotonic_time() + (gint64) timeout_ms * 1000;
        guint8 buf[2048];

        for (guint i = 0; i < 100000 && g_get_monotonic_time() < deadline; i++) {
                ssize_t n = recv(sock, buf, sizeof buf, MSG_DONTWAIT);

                if (n < 0) {
                        g_usleep(1000);
                        continue;
                }
                if (n >= 14 && memcmp(buf + 6, src, 6) == 0 &&
                    (!type || (buf[12] == (type >> 8) && buf[13] == (type & 0xff)))) {
                        if (payload)
                                memcpy(payload, buf + 14, MIN((gsize) n - 14, 28));
                        return TRUE;
                }
        }
        return FALSE;
}

/* A RARP reverse request for the guest MAC comes from it. */
static void
assert_rarp(int sock)
{
        guint8 arp[28] = { 0 };

        g_assert_true(frame_from(sock, guest_mac, 0x8035, arp, 2000));
        g_assert_cmpuint(arp[7], ==, 3); /* RARP reverse request */
        g_assert_cmpmem(arp + 8, 6, guest_mac, 6);
        g_assert_cmpmem(arp + 18, 6, guest_mac, 6);
}

/* ---- the cases ---- */

static void
test_full_lifecycle(Fixture *f, gconstpointer data)
{
        g_autofree char *before = kernel_snapshot(), *after_alloc = NULL;
        const char *const steps[] = {
                "allocated>created:create",  "created>active:activate", "active>created:deactivate",
                "created>destroyed:destroy", "destroyed>freed:free",
        };

        f->path = allocate(f, "vm1", "52:54:00:00:0E:01", OPTS);
        assert_state(f, "allocated");
        assert_prop(f, f->path, "MAC", MAC); /* normalized to lower case */
        assert_prop(f, f->path, "IfName", "dv0");
        assert_prop(f, f->path, "Bridge", "");
        assert_prop(f, f->path, "Backend", "direct");
        assert_prop(f, f->path, "Instance", "vm1");
        g_assert_false(ns_get_bool(&f->env, f->path, DEV, "OwnsMac"));
        after_alloc = kernel_snapshot();
        g_assert_cmpstr(after_alloc, ==, before); /* the device is the host's until create */

        create(f, f->path);
        assert_state(f, "created");
        assert_assigned("dv0", MAC, 1400, FALSE); /* the guest MAC, kept down */
        g_assert_false(ns_get_bool(&f->env, f->path, DEV, "OwnsMac"));

        ns_device_call(&f->env, f->path, "Activate");
        assert_state(f, "active");
        assert_assigned("dv0", MAC, 1400, TRUE);
        g_assert_true(ns_get_bool(&f->env, f->path, DEV, "OwnsMac"));

        ns_device_call(&f->env, f->path, "Deactivate");
        assert_state(f, "created");
        assert_assigned("dv0", MAC, 1400, FALSE);
        g_assert_false(ns_get_bool(&f->env, f->path, DEV, "OwnsMac"));

        ns_device_call(&f->env, f->path, "Destroy");
        assert_state(f, "destroyed");
        assert_as_before(f, "dv0");

        ns_device_call(&f->env, f->path, "Free");
        g_assert_false(bt_device_exported(&f->env, f->path));
        assert_as_before(f, "dv0");
        ns_call_expect_error(&f->env, f->path, DEV, "Activate", NULL,
                             "org.netlifecd1.Error.NotFound");
        bt_wait_len(f->changes, G_N_ELEMENTS(steps));
        g_assert_cmpuint(f->changes->len, ==, G_N_ELEMENTS(steps));
        for (guint i = 0; i < G_N_ELEMENTS(steps); i++) {
                g_autofree char *expected = g_strdup_printf("%s %s", f->path, steps[i]);

                g_assert_cmpstr(f->changes->pdata[i], ==, expected);
        }
}

/* Destroy puts back the MAC, MTU and up/down state the device had before
 * create, whatever happened in between: a device that was up and one that
 * was down, an MTU changed while assigned, a destroy straight after create,
 * and a second create of the same record (which saves again). */
static void
test_restore_byte_for_byte(Fixture *f, gconstpointer data)
{
        g_autofree char *p0 = allocate(f, "vm1", MAC, "{'device': <'dv0'>}");
        g_autofree char *p1 = allocate(f, "vm2", "52:54:00:00:0e:02", "{'device': <'dv1'>}");
        g_autofree char *p2 = allocate(f, "vm3", "52:54:00:00:0e:03", "{'device': <'dv2'>}");

        /* Up before; its MTU changed while it was assigned. */
        create(f, p0);
        ns_device_call(&f->env, p0, "Activate");
        ns_sh("ip link set dv0 mtu 9000 && ip link set dv0 address 52:54:00:00:0e:77");
        ns_device_call(&f->env, p0, "Deactivate");
        ns_device_call(&f->env, p0, "Destroy");
        assert_as_before(f, "dv0");

        /* Created again from destroyed: the guest's again, then back. */
        create(f, p0);
        assert_assigned("dv0", MAC, 1400, FALSE);
        ns_device_call(&f->env, p0, "Destroy");
        assert_as_before(f, "dv0");

        /* Down before: down after, though it was up while active. */
        create(f, p1);
        assert_assigned("dv1", "52:54:00:00:0e:02", 1500, FALSE);
        ns_device_call(&f->env, p1, "Activate");
        assert_assigned("dv1", "52:54:00:00:0e:02", 1500, TRUE);
        ns_device_call(&f->env, p1, "Deactivate");
        ns_device_call(&f->env, p1, "Destroy");
        assert_as_before(f, "dv1");

        /* Never activated. */
        create(f, p2);
        assert_assigned("dv2", "52:54:00:00:0e:03", 9000, FALSE);
        ns_device_call(&f->env, p2, "Destroy");
        assert_as_before(f, "dv2");

        ns_device_call(&f->env, p0, "Free");
        ns_device_call(&f->env, p1, "Free");
        ns_device_call(&f->env, p2, "Free");
        assert_as_before(f, "dv0");
        assert_as_before(f, "dv1");
        assert_as_before(f, "dv2");
}

/* Every operation repeated in the state it leads to: success, no change. */
static void
test_idempotent(Fixture *f, gconstpointer data)
{
        static const char *const ops[] = { "Create", "Activate", "Deactivate", "Destroy" };
        g_autofree char *again = NULL;

        f->path = allocate(f, "vm1", MAC, OPTS);
        again = allocate(f, "vm1", MAC, OPTS);
        g_assert_cmpstr(again, ==, f->path);
        for (guint i = 0; i < G_N_ELEMENTS(ops); i++) {
                g_autofree char *snap = NULL, *snap2 = NULL, *s1 = NULL, *s2 = NULL;
                guint n;

                if (g_str_equal(ops[i], "Create"))
                        create(f, f->path);
                else
                        ns_device_call(&f->env, f->path, ops[i]);
                s1 = ns_get_string(&f->env, f->path, DEV, "State");
                snap = kernel_snapshot();
                bt_wait_len(f->changes, i + 1);
                n = f->changes->len;
                if (g_str_equal(ops[i], "Create"))
                        create(f, f->path);
                else
                        ns_device_call(&f->env, f->path, ops[i]);
                s2 = ns_get_string(&f->env, f->path, DEV, "State");
                snap2 = kernel_snapshot();
                g_assert_cmpstr(s2, ==, s1);
                g_assert_cmpstr(snap2, ==, snap);
                bt_drain_signals();
                g_assert_cmpuint(f->changes->len, ==, n); /* no StateChanged for a repeat */
        }
        assert_as_before(f, "dv0"); /* a repeated Destroy restores nothing twice */
        ns_device_call(&f->env, f->path, "Free");
        ns_device_call(&f->env, f->path, "Free"); /* gone already: still success */
        assert_as_before(f, "dv0");
}

/* For each state, every operation the table refuses: InvalidState, nothing changes. */
static void
test_out_of_order(Fixture *f, gconstpointer data)
{
        static const struct {
                const char *state;
                const char *refused[5];
        } table[] = {
                { "allocated", { "Activate", "Deactivate", "Destroy", "Announce", NULL } },
                { "created", { "Free", "Announce", NULL } },
                { "active", { "Create", "Destroy", "Free", NULL } },
                { "destroyed", { "Activate", "Deactivate", "Announce", NULL } },
        };

        f->path = allocate(f, "vm1", MAC, OPTS);
        for (guint s = 0; s < G_N_ELEMENTS(table); s++) {
                if (s == 1) {
                        create(f, f->path);
                } else if (s == 2) {
                        ns_device_call(&f->env, f->path, "Activate");
                } else if (s == 3) {
                        ns_device_call(&f->env, f->path, "Deactivate");
                        ns_device_call(&f->env, f->path, "Destroy");
                }
                assert_state(f, table[s].state);
                for (guint i = 0; table[s].refused[i]; i++) {
                        g_autofree char *before = kernel_snapshot(), *after = NULL;

                        ns_call_expect_error(&f->env, f->path, DEV, table[s].refused[i], NULL,
                                             "org.netlifecd1.Error.InvalidState");
                        after = kernel_snapshot();
                        g_assert_cmpstr(after, ==, before);
                        assert_state(f, table[s].state);
                }
        }
}

static void
expect_manager_error(Fixture *f, const char *method, const char *instance, const char *mac,
                     const char *options, const char *error_name)
{
        g_autofree char *before = kernel_snapshot(), *after = NULL;
        g_autoptr(GVariant) opts = bt_parse_options(options);

        ns_call_expect_error(&f->env, "/org/netlifecd1", MGR, method,
                             g_variant_new("(sss@a{sv})", instance, "direct", mac, opts),
                             error_name);
        after = kernel_snapshot();
        g_assert_cmpstr(after, ==, before);
}

static void
test_bad_input(Fixture *f, gconstpointer data)
{
        const char *invalid = "org.netlifecd1.Error.InvalidArgs";
        const char *conflict = "org.netlifecd1.Error.Conflict";

        /* Neither or both of device and pool. */
        expect_manager_error(f, "Allocate", "vm1", MAC, "@a{sv} {}", invalid);
        expect_manager_error(f, "Allocate", "vm1", MAC,
                             "{'device': <'dv0'>, 'pool': <['dv1', 'dv2']>}", invalid);
        /* A device that does not exist, or is not a name. */
        expect_manager_error(f, "Allocate", "vm1", MAC, "{'device': <'nodev0'>}", invalid);
        expect_manager_error(f, "Allocate", "vm1", MAC, "{'device': <'a/b'>}", invalid);
        expect_manager_error(f, "Allocate", "vm1", MAC, "{'device': <'sixteen-chars-xx'>}",
                             invalid);
        expect_manager_error(f, "Allocate", "vm1", MAC, "{'device': <uint32 3>}", invalid);
        /* Pools: empty, a bad name in it, the wrong type, nothing in it exists. */
        expect_manager_error(f, "Allocate", "vm1", MAC, "{'pool': <@as []>}", invalid);
        expect_manager_error(f, "Allocate", "vm1", MAC, "{'pool': <['dv0', 'a/b']>}", invalid);
        expect_manager_error(f, "Allocate", "vm1", MAC, "{'pool': <'dv0'>}", invalid);
        expect_manager_error(f, "Allocate", "vm1", MAC, "{'pool': <['nodev0', 'nodev1']>}",
                             "org.netlifecd1.Error.Busy");
        /* PF and VF: one without the other, with a pool, a PF that is not there. */
        expect_manager_error(f, "Allocate", "vm1", MAC, "{'device': <'dv0'>, 'pf': <'dv1'>}",
                             invalid);
        expect_manager_error(f, "Allocate", "vm1", MAC, "{'device': <'dv0'>, 'vf': <uint32 0>}",
                             invalid);
        expect_manager_error(f, "Allocate", "vm1", MAC,
                             "{'pool': <['dv0']>, 'pf': <'dv1'>, 'vf': <uint32 0>}", invalid);
        expect_manager_error(f, "Allocate", "vm1", MAC,
                             "{'device': <'dv0'>, 'pf': <'nopf0'>, 'vf': <uint32 0>}", invalid);
        expect_manager_error(f, "Allocate", "vm1", MAC,
                             "{'device': <'dv0'>, 'pf': <'dv1'>, 'vf': <'0'>}", invalid);
        /* Options of other backends, unknown ones. */
        expect_manager_error(f, "Allocate", "vm1", MAC, "{'device': <'dv0'>, 'link': <'dv1'>}",
                             invalid);
        expect_manager_error(f, "Allocate", "vm1", MAC, "{'device': <'dv0'>, 'ifname': <'dv0'>}",
                             invalid);
        /* The MAC and the instance. */
        expect_manager_error(f, "Allocate", "vm1", "01:00:5e:00:00:01", OPTS, invalid);
        expect_manager_error(f, "Allocate", "vm1", "00:00:00:00:00:00", OPTS, invalid);
        expect_manager_error(f, "Allocate", "", MAC, OPTS, invalid);
        /* Notify: no device named, nothing to adopt, not the guest's MAC. */
        expect_manager_error(f, "Notify", "vm1", MAC, "{'pool': <['dv0']>}", invalid);
        expect_manager_error(f, "Notify", "vm1", MAC, "{'device': <'nodev0'>}",
                             "org.netlifecd1.Error.NotFound");
        expect_manager_error(f, "Notify", "vm1", MAC, OPTS, conflict);
        g_assert_false(bt_device_exported(&f->env, NULL)); /* none of them left a record */

        /* A device another record holds is already assigned. */
        f->path = allocate(f, "vm1", MAC, OPTS);
        expect_manager_error(f, "Allocate", "vm2", "52:54:00:00:0e:02", OPTS, conflict);
        expect_manager_error(f, "Allocate", "vm1", "52:54:00:00:0e:02", OPTS, conflict);
        create(f, f->path);
        expect_manager_error(f, "Allocate", "vm2", "52:54:00:00:0e:02", OPTS, conflict);
        expect_manager_error(f, "Notify", "vm2", "52:54:00:00:0e:02", OPTS, conflict);
        expect_manager_error(f, "Allocate", "vm2", "52:54:00:00:0e:02", "{'pool': <['dv0']>}",
                             "org.netlifecd1.Error.Busy");
        assert_state(f, "created");
        assert_assigned("dv0", MAC, 1400, FALSE);
}

/* A pool hands out the first device that exists and is free; when none is
 * left: Busy; a device freed goes back to the pool. */
static void
test_pool(Fixture *f, gconstpointer data)
{
        const char *pool = "{'pool': <['nodev0', 'dv0', 'dv1']>}";
        g_autofree char *a = allocate(f, "vm1", MAC, pool);
        g_autofree char *b = allocate(f, "vm2", "52:54:00:00:0e:02", pool);
        g_autofree char *again = NULL, *c = NULL;

        assert_prop(f, a, "IfName", "dv0");
        assert_prop(f, b, "IfName", "dv1");
        again = allocate(f, "vm1", MAC, pool); /* a repeat, not a new device */
        g_assert_cmpstr(again, ==, a);
        expect_manager_error(f, "Allocate", "vm3", "52:54:00:00:0e:03", pool,
                             "org.netlifecd1.Error.Busy");
        expect_manager_error(f, "Allocate", "vm3", "52:54:00:00:0e:03", "{'device': <'dv1'>}",
                             "org.netlifecd1.Error.Conflict");
        create(f, a);
        create(f, b);
        assert_assigned("dv0", MAC, 1400, FALSE);
        assert_assigned("dv1", "52:54:00:00:0e:02", 1500, FALSE);
        ns_device_call(&f->env, a, "Destroy");
        ns_device_call(&f->env, a, "Free");
        assert_as_before(f, "dv0");
        f->path = allocate(f, "vm3", "52:54:00:00:0e:03", pool);
        assert_prop(f, f->path, "IfName", "dv0");
        ns_device_call(&f->env, b, "Destroy");
        assert_as_before(f, "dv1");
}

/* A create that fails is undone: the device as it was, the record still
 * allocated, also across a restart. */
static void
test_create_failure_undone(Fixture *f, gconstpointer data)
{
        g_autofree char *vanished = allocate(f, "vm2", "52:54:00:00:0e:02", "{'device': <'dv1'>}");

        /* A veth is no PF: programming "its VF" fails after the device was
         * already taken down. */
        f->path = allocate(f, "vm1", MAC, "{'device': <'dv0'>, 'pf': <'dv2'>, 'vf': <uint32 0>}");
        ns_call_expect_error(&f->env, f->path, DEV, "Create", NULL,
                             "org.netlifecd1.Error.InvalidArgs"); /* EOPNOTSUPP */
        assert_state(f, "allocated");
        assert_as_before(f, "dv0");
        assert_as_before(f, "dv2");
        restart_daemon(f);
        assert_state(f, "allocated");
        assert_as_before(f, "dv0");
        ns_device_call(&f->env, f->path, "Free");

        /* The device went away after allocate. */
        ns_sh("ip link del dv1");
        ns_call_expect_error(&f->env, vanished, DEV, "Create", NULL,
                             "org.netlifecd1.Error.NotFound");
        assert_state_of(f, vanished, "allocated");
        ns_device_call(&f->env, vanished, "Free");
}

/* The device deleted under a created record: Destroy succeeds. */
static void
test_destroy_when_gone(Fixture *f, gconstpointer data)
{
        f->path = allocate(f, "vm1", MAC, OPTS);
        create(f, f->path);
        ns_sh("ip link del dv0");
        ns_device_call(&f->env, f->path, "Destroy");
        assert_state(f, "destroyed");
        ns_device_call(&f->env, f->path, "Free");
        g_assert_false(nlc_kernel_link_exists("dv0"));
}

/* Quiet until activate: nothing from the guest MAC while created; Activate
 * announces, Announce does again, also after a restart. */
static void
test_announce(Fixture *f, gconstpointer data)
{
        int sock = bt_listen_on("dv0-peer");

        f->path = allocate(f, "vm1", MAC, OPTS);
        create(f, f->path);
        g_assert_false(frame_from(sock, guest_mac, 0, NULL, 300)); /* nothing at all */
        ns_device_call(&f->env, f->path, "Activate");
        assert_rarp(sock);
        ns_device_call(&f->env, f->path, "Announce");
        assert_rarp(sock);
        restart_daemon(f);
        ns_device_call(&f->env, f->path, "Announce");
        assert_rarp(sock);
        close(sock);
}

/* kill -9 after every step; after each restart the object, its state and the
 * kernel are as they were, the next step works, and the last destroy still
 * puts back what the first create saved. */
static void
test_kill9_between_steps(Fixture *f, gconstpointer data)
{
        static const struct {
                const char *op;
                const char *state;
        } steps[] = {
                { NULL, "allocated" },      { "Create", "created" },
                { "Activate", "active" },   { "Deactivate", "created" },
                { "Destroy", "destroyed" }, { "Create", "created" },
                { "Activate", "active" },   { "Deactivate", "created" },
                { "Destroy", "destroyed" },
        };

        f->path = allocate(f, "vm1", MAC, OPTS);
        for (guint i = 0; i < G_N_ELEMENTS(steps); i++) {
                if (steps[i].op && g_str_equal(steps[i].op, "Create"))
                        create(f, f->path);
                else if (steps[i].op)
                        ns_device_call(&f->env, f->path, steps[i].op);
                restart_daemon(f);
                assert_state(f, steps[i].state);
                if (g_str_equal(steps[i].state, "created") || g_str_equal(steps[i].state, "active"))
                        assert_assigned("dv0", MAC, 1400, g_str_equal(steps[i].state, "active"));
                else
                        assert_as_before(f, "dv0");
                g_assert_cmpint(ns_get_bool(&f->env, f->path, DEV, "OwnsMac"), ==,
                                g_str_equal(steps[i].state, "active"));
        }
        ns_device_call(&f->env, f->path, "Free");
        restart_daemon(f);
        g_assert_false(bt_device_exported(&f->env, NULL));
        assert_as_before(f, "dv0");
}

/* The kernel drifts while the daemon is down: the restart repairs it, and
 * destroy still puts back what was saved. */
static void
test_drift_repaired(Fixture *f, gconstpointer data)
{
        g_autofree char *created = allocate(f, "vm2", "52:54:00:00:0e:02", "{'device': <'dv1'>}");

        f->path = allocate(f, "vm1", MAC, OPTS);
        create(f, f->path);
        create(f, created);
        ns_device_call(&f->env, f->path, "Activate");
        ns_env_kill9_daemon(&f->env);
        ns_sh("ip link set dv0 down && ip link set dv0 address 52:54:00:00:0e:99");
        ns_sh("ip link set dv1 up");
        ns_env_start_daemon(&f->env);
        assert_state(f, "active");
        assert_assigned("dv0", MAC, 1400, TRUE);
        assert_state_of(f, created, "created");
        assert_assigned("dv1", "52:54:00:00:0e:02", 1500, FALSE);
        ns_device_call(&f->env, f->path, "Deactivate");
        ns_device_call(&f->env, f->path, "Destroy");
        ns_device_call(&f->env, created, "Destroy");
        assert_as_before(f, "dv0");
        assert_as_before(f, "dv1");
}

/* The device gone while the daemon is down: the record stays as it was (a
 * host device may come back), and can be wound down. */
static void
test_vanished_while_down(Fixture *f, gconstpointer data)
{
        f->path = allocate(f, "vm1", MAC, OPTS);
        create(f, f->path);
        ns_device_call(&f->env, f->path, "Activate");
        ns_env_kill9_daemon(&f->env);
        ns_sh("ip link del dv0");
        ns_env_start_daemon(&f->env);
        assert_state(f, "active");
        ns_device_call(&f->env, f->path, "Deactivate");
        ns_device_call(&f->env, f->path, "Destroy");
        ns_device_call(&f->env, f->path, "Free");
        g_assert_false(bt_device_exported(&f->env, NULL));
}

/* Two devices with the guest MAC (one instance): only the active one is up;
 * activating the other hands the MAC over; another instance is refused. */
static void
test_same_mac_handover(Fixture *f, gconstpointer data)
{
        g_autofree char *a = allocate(f, "vm1", MAC, "{'device': <'dv0'>}");
        g_autofree char *b = allocate(f, "vm1", MAC, "{'device': <'dv1'>}");
        g_autofree char *c = allocate(f, "vm2", MAC, "{'device': <'dv2'>}");
        g_autofree char *handover = g_strdup_printf("%s active>created:handover", a);
        gboolean seen = FALSE;

        create(f, a);
        create(f, b);
        create(f, c);
        assert_assigned("dv0", MAC, 1400, FALSE);
        assert_assigned("dv1", MAC, 1500, FALSE);
        assert_assigned("dv2", MAC, 9000, FALSE);

        ns_device_call(&f->env, a, "Activate");
        g_assert_true(link_up("dv0"));
        g_assert_false(link_up("dv1"));
        g_assert_false(link_up("dv2"));
        ns_device_call(&f->env, b, "Activate");
        assert_state_of(f, a, "created");
        assert_state_of(f, b, "active");
        g_assert_false(link_up("dv0"));
        g_assert_true(link_up("dv1"));
        g_assert_false(link_up("dv2"));
        bt_drain_signals();
        for (guint i = 0; i < f->changes->len; i++)
                seen = seen || g_str_equal(f->changes->pdata[i], handover);
        g_assert_true(seen);
        {
                g_autofree char *before = kernel_snapshot(), *after = NULL;

                ns_call_expect_error(&f->env, c, DEV, "Activate", NULL,
                                     "org.netlifecd1.Error.Conflict");
                after = kernel_snapshot();
                g_assert_cmpstr(after, ==, before);
                assert_state_of(f, c, "created");
        }
        ns_device_call(&f->env, b, "Deactivate");
        ns_device_call(&f->env, c, "Activate");
        g_assert_false(link_up("dv0"));
        g_assert_false(link_up("dv1"));
        g_assert_true(link_up("dv2"));
        ns_call_expect_error(&f->env, a, DEV, "Activate", NULL, "org.netlifecd1.Error.Conflict");
        g_assert_false(link_up("dv0"));
}

/* A device already carrying the guest MAC is adopted as the kernel shows it;
 * nothing was saved, so destroy leaves it as it is. */
static void
test_notify_adopts(Fixture *f, gconstpointer data)
{
        g_autofree char *again = NULL, *active_path = NULL, *before_destroy = NULL;
        g_autofree char *after_destroy = NULL;

        ns_sh("ip link set dv1 address " MAC);
        f->path = call_manager(f, "Notify", "vm1", MAC, "{'device': <'dv1'>}");
        assert_state(f, "created");
        assert_assigned("dv1", MAC, 1500, FALSE);
        again = call_manager(f, "Notify", "vm1", MAC, "{'device': <'dv1'>}");
        g_assert_cmpstr(again, ==, f->path);
        ns_device_call(&f->env, f->path, "Activate");
        assert_assigned("dv1", MAC, 1500, TRUE);
        ns_device_call(&f->env, f->path, "Deactivate");
        before_destroy = bt_link_json("dv1");
        ns_device_call(&f->env, f->path, "Destroy");
        after_destroy = bt_link_json("dv1");
        g_assert_cmpstr(after_destroy, ==, before_destroy);
        ns_device_call(&f->env, f->path, "Free");

        /* Up: adopted active. */
        ns_sh("ip link set dv2 address 52:54:00:00:0e:02");
        active_path = call_manager(f, "Notify", "vm2", "52:54:00:00:0e:02", "{'device': <'dv2'>}");
        assert_state_of(f, active_path, "active");
        g_assert_true(ns_get_bool(&f->env, active_path, DEV, "OwnsMac"));
}

static void
test_sigterm_leaves_devices(Fixture *f, gconstpointer data)
{
        f->path = allocate(f, "vm1", MAC, OPTS);
        create(f, f->path);
        ns_device_call(&f->env, f->path, "Activate");
        nlc_test_stop_daemon(&f->env, SIGTERM); /* asserts exit status 0 */
        assert_assigned("dv0", MAC, 1400, TRUE);
        ns_env_start_daemon(&f->env);
        assert_state(f, "active");
        assert_assigned("dv0", MAC, 1400, TRUE);
        ns_device_call(&f->env, f->path, "Deactivate");
        ns_device_call(&f->env, f->path, "Destroy");
        assert_as_before(f, "dv0");
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, set_up, fn, tear_down)
        ADD("/direct/lifecycle/full", test_full_lifecycle);
        ADD("/direct/lifecycle/restore-byte-for-byte", test_restore_byte_for_byte);
        ADD("/direct/lifecycle/idempotent", test_idempotent);
        ADD("/direct/lifecycle/out-of-order", test_out_of_order);
        ADD("/direct/lifecycle/bad-input", test_bad_input);
        ADD("/direct/lifecycle/pool", test_pool);
        ADD("/direct/lifecycle/create-failure-undone", test_create_failure_undone);
        ADD("/direct/lifecycle/destroy-when-gone", test_destroy_when_gone);
        ADD("/direct/datapath/announce", test_announce);
        ADD("/direct/crash/kill9-between-steps", test_kill9_between_steps);
        ADD("/direct/crash/drift-repaired", test_drift_repaired);
        ADD("/direct/crash/vanished-while-down", test_vanished_while_down);
        ADD("/direct/ownership/same-mac-handover", test_same_mac_handover);
        ADD("/direct/daemon/notify-adopts", test_notify_adopts);
        ADD("/direct/daemon/sigterm-leaves-devices", test_sigterm_leaves_devices);
        return g_test_run();
}
