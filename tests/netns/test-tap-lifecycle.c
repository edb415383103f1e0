/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The tap-bridge lifecycle over D-Bus, checked against the kernel after every
 * step: the whole life, repeats, refusals, bad input, crash and restart,
 * adoption, and what busctl shows.
 */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernel-check.h"
#include "ns-env.h"

#define DEV  "org.netlifecd1.Device"
#define MGR  "org.netlifecd1.Manager"
#define MAC  "52:54:00:00:0c:01"
#define OPTS "{'bridge': <'br0'>, 'ifname': <'lt0'>}"

typedef struct {
        NsEnv env;
        char *path;
        GUnixFDList *fds;
        GPtrArray *changes; /* "old>new:reason" */
        guint subscription;
} Fixture;

static void
on_state_changed(GDBusConnection *c, const char *sender, const char *path, const char *iface,
                 const char *signal, GVariant *params, gpointer data)
{
        Fixture *f = data;
        const char *old, *new, *reason;

        g_variant_get(params, "(&s&s&s)", &old, &new, &reason);
        g_ptr_array_add(f->changes, g_strdup_printf("%s>%s:%s", old, new, reason));
}

static void
set_up(Fixture *f, gconstpointer data)
{
        ns_env_set_up(&f->env, NULL);
        ns_sh("ip link add br0 type bridge stp_state 0 && ip link set br0 mtu 1400 up");
        ns_sh("ip link add br0-up type veth peer name br0-peer");
        ns_sh("ip link set br0-up mtu 1400 master br0 && ip link set br0-up up && ip link set "
              "br0-peer up");
        f->changes = g_ptr_array_new_with_free_func(g_free);
        f->subscription = g_dbus_connection_signal_subscribe(
                f->env.conn, "org.netlifecd1", DEV, "StateChanged", NULL, NULL,
                G_DBUS_SIGNAL_FLAGS_NONE, on_state_changed, f, NULL);
}

static void
tear_down(Fixture *f, gconstpointer data)
{
        g_dbus_connection_signal_unsubscribe(f->env.conn, f->subscription);
        g_ptr_array_unref(f->changes);
        g_clear_object(&f->fds);
        g_free(f->path);
        ns_env_tear_down(&f->env);
}

static char *
state(Fixture *f)
{
        return ns_get_string(&f->env, f->path, DEV, "State");
}

#define assert_state(f, want)                   \
        G_STMT_START                            \
        {                                       \
                g_autofree char *_s = state(f); \
                g_assert_cmpstr(_s, ==, want);  \
        }                                       \
        G_STMT_END

#define assert_fdb(want)                                           \
        G_STMT_START                                               \
        {                                                          \
                g_autofree char *_fdb = ns_kernel_fdb_static(MAC); \
                g_assert_cmpstr(_fdb, ==, want);                   \
        }                                                          \
        G_STMT_END

/* What a created, inactive tap-bridge port must look like. */
static void
assert_port_created(const char *ifname, gboolean multi_queue)
{
        KernelPort k;

        kernel_port_read(ifname, &k);
        g_assert_true(k.exists);
        g_assert_true(k.is_tap);
        g_assert_true(k.vnet_hdr);
        g_assert_false(k.pi);
        g_assert_cmpint(k.multi_queue, ==, multi_queue);
        g_assert_cmpstr(k.master, ==, "br0");
        g_assert_cmpuint(k.mtu, ==, 1400);
        g_assert_true(k.up);
        g_assert_true(k.lower_up);
        g_assert_false(k.learning);
        g_assert_false(k.flood);
}

/* Everything the kernel shows that a refused or repeated call must not
 * change (no timers: those tick on their own). */
static char *
kernel_snapshot(void)
{
        g_autofree char *links = kernel_link_names();
        g_autofree char *fdb = ns_kernel_fdb_static(MAC);
        KernelPort k;

        kernel_port_read("lt0", &k);
        return g_strdup_printf("links=%s fdb=%s lt0: exists=%d master=%s mtu=%u up=%d carrier=%d "
                               "learning=%d flood=%d mq=%d",
                               links, fdb, k.exists, k.master, k.mtu, k.up, k.lower_up, k.learning,
                               k.flood, k.multi_queue);
}

static void
wait_changes(Fixture *f, guint n)
{
        for (int i = 0; i < 2000 && f->changes->len < n; i++)
                g_main_context_iteration(NULL, FALSE) || (g_usleep(1000), TRUE);
        g_assert_cmpuint(f->changes->len, >=, n);
}

static void
test_full_lifecycle(Fixture *f, gconstpointer data)
{
        g_autofree char *before = kernel_link_names(), *after_alloc = NULL;
        static const char *const expected[] = {
                "allocated>created:create",  "created>active:activate", "active>created:deactivate",
                "created>destroyed:destroy", "destroyed>freed:free",
        };
        KernelPort k;

        f->path = ns_allocate(&f->env, "vm1", "52:54:00:00:0C:01", OPTS);
        assert_state(f, "allocated");
        {
                g_autofree char *mac = ns_get_string(&f->env, f->path, DEV, "MAC");
                g_autofree char *ifname = ns_get_string(&f->env, f->path, DEV, "IfName");
                g_autofree char *bridge = ns_get_string(&f->env, f->path, DEV, "Bridge");
                g_autofree char *backend = ns_get_string(&f->env, f->path, DEV, "Backend");
                g_autofree char *inst = ns_get_string(&f->env, f->path, DEV, "Instance");

                g_assert_cmpstr(mac, ==, MAC); /* normalized to lower case */
                g_assert_cmpstr(ifname, ==, "lt0");
                g_assert_cmpstr(bridge, ==, "br0");
                g_assert_cmpstr(backend, ==, "tap-bridge");
                g_assert_cmpstr(inst, ==, "vm1");
        }
        after_alloc = kernel_link_names();
        g_assert_cmpstr(after_alloc, ==, before); /* nothing in the kernel yet */

        f->fds = ns_create(&f->env, f->path);
        g_assert_cmpint(g_unix_fd_list_get_length(f->fds), ==, 1);
        assert_state(f, "created");
        assert_port_created("lt0", FALSE);
        assert_fdb("");

        ns_device_call(&f->env, f->path, "Activate");
        assert_state(f, "active");
        assert_fdb("lt0@br0");

        ns_device_call(&f->env, f->path, "Deactivate");
        assert_state(f, "created");
        assert_fdb("");
        assert_port_created("lt0", FALSE); /* the port stays */

        ns_device_call(&f->env, f->path, "Destroy");
        assert_state(f, "destroyed");
        kernel_port_read("lt0", &k);
        g_assert_false(k.exists);

        ns_device_call(&f->env, f->path, "Free");
        {
                g_autoptr(GVariant) objs =
                        ns_call(&f->env, "/org/netlifecd1", "org.freedesktop.DBus.ObjectManager",
                                "GetManagedObjects", NULL, "(a{oa{sa{sv}}})", NULL);
                g_autofree char *text = g_variant_print(objs, FALSE);

                g_assert_null(strstr(text, f->path));
        }
        ns_call_expect_error(&f->env, f->path, DEV, "Activate", NULL,
                             "org.netlifecd1.Error.NotFound");
        wait_changes(f, G_N_ELEMENTS(expected));
        for (guint i = 0; i < G_N_ELEMENTS(expected); i++)
                g_assert_cmpstr(f->changes->pdata[i], ==, expected[i]);
}

/* Every operation repeated in the state it leads to: success, no change. */
static void
test_idempotent(Fixture *f, gconstpointer data)
{
        static const char *const ops[] = { "Create", "Activate", "Deactivate", "Destroy" };
        g_autofree char *again = NULL;

        f->path = ns_allocate(&f->env, "vm1", MAC, OPTS);
        again = ns_allocate(&f->env, "vm1", MAC, OPTS);
        g_assert_cmpstr(again, ==, f->path);
        for (guint i = 0; i < G_N_ELEMENTS(ops); i++) {
                g_autofree char *snap = NULL, *snap2 = NULL, *s1 = NULL, *s2 = NULL;
                guint n;

                if (g_str_equal(ops[i], "Create"))
                        f->fds = ns_create(&f->env, f->path);
                else
                        ns_device_call(&f->env, f->path, ops[i]);
                s1 = state(f);
                snap = kernel_snapshot();
                wait_changes(f, i + 1);
                n = f->changes->len;
                if (g_str_equal(ops[i], "Create")) {
                        g_autoptr(GUnixFDList) fds2 = ns_create(&f->env, f->path);

                        g_assert_cmpint(g_unix_fd_list_get_length(fds2), ==, 1);
                } else {
                        ns_device_call(&f->env, f->path, ops[i]);
                }
                s2 = state(f);
                snap2 = kernel_snapshot();
                g_assert_cmpstr(s2, ==, s1);
                g_assert_cmpstr(snap2, ==, snap);
                g_usleep(50000);
                while (g_main_context_iteration(NULL, FALSE))
                        ;
                g_assert_cmpuint(f->changes->len, ==, n); /* no StateChanged for a repeat */
        }
        ns_device_call(&f->env, f->path, "Free");
        ns_device_call(&f->env, f->path, "Free"); /* gone already: still success */
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
        static const char *const path_to[] = { NULL, "Create", "Activate", NULL };

        f->path = ns_allocate(&f->env, "vm1", MAC, OPTS);
        for (guint s = 0; s < G_N_ELEMENTS(table); s++) {
                if (s == 1)
                        f->fds = ns_create(&f->env, f->path);
                else if (s == 2)
                        ns_device_call(&f->env, f->path, path_to[s]);
                else if (s == 3) {
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
expect_allocate_error(Fixture *f, const char *instance, const char *backend, const char *mac,
                      const char *options, const char *error_name)
{
        g_autofree char *before = kernel_link_names(), *after = NULL;
        g_autoptr(GVariant) opts =
                g_variant_parse(G_VARIANT_TYPE_VARDICT, options, NULL, NULL, NULL);

        g_assert_nonnull(opts);
        ns_call_expect_error(&f->env, "/org/netlifecd1", MGR, "Allocate",
                             g_variant_new("(sss@a{sv})", instance, backend, mac, opts),
                             error_name);
        after = kernel_link_names();
        g_assert_cmpstr(after, ==, before);
}

static void
test_bad_input(Fixture *f, gconstpointer data)
{
        const char *invalid = "org.netlifecd1.Error.InvalidArgs";
        g_autofree char *long_instance = g_strnfill(65, 'v');
        g_autoptr(GVariant) objs = NULL;
        g_autofree char *objs_text = NULL;

        expect_allocate_error(f, "vm1", "tap-bridge", "52:54:00:zz:00:01", OPTS, invalid);
        expect_allocate_error(f, "vm1", "tap-bridge", "52:54:00:00:00", OPTS, invalid);
        expect_allocate_error(f, "vm1", "tap-bridge", "01:00:5e:00:00:01", OPTS,
                              invalid); /* multicast */
        expect_allocate_error(f, "vm1", "tap-bridge", "00:00:00:00:00:00", OPTS, invalid);
        expect_allocate_error(f, "", "tap-bridge", MAC, OPTS, invalid);
        expect_allocate_error(f, "vm 1", "tap-bridge", MAC, OPTS, invalid);
        expect_allocate_error(f, long_instance, "tap-bridge", MAC, OPTS, invalid);
        expect_allocate_error(f, "vm1", "tap-bridge", MAC, "{'bridge': <'nobr'>}", invalid);
        expect_allocate_error(f, "vm1", "tap-bridge", MAC, "{'bridge': <'br0-up'>}",
                              invalid); /* a veth */
        expect_allocate_error(f, "vm1", "tap-bridge", MAC, "@a{sv} {}", invalid);
        expect_allocate_error(f, "vm1", "tap-bridge", MAC,
                              "{'bridge': <'br0'>, 'ifname': <'sixteen-chars-xx'>}", invalid);
        expect_allocate_error(f, "vm1", "tap-bridge", MAC, "{'bridge': <'br0'>, 'ifname': <'a/b'>}",
                              invalid);
        expect_allocate_error(f, "vm1", "tap-bridge", MAC,
                              "{'bridge': <'br0'>, 'ifname': <'br0-peer'>}",
                              "org.netlifecd1.Error.Conflict");
        expect_allocate_error(f, "vm1", "ovs", MAC, OPTS, invalid);
        expect_allocate_error(f, "vm1", "tap-bridge", MAC, "{'bridge': <'br0'>, 'colour': <'red'>}",
                              invalid);
        expect_allocate_error(f, "vm1", "tap-bridge", MAC, "{'bridge': <'br0'>, 'queues': <'2'>}",
                              invalid);
        expect_allocate_error(f, "vm1", "tap-bridge", MAC,
                              "{'bridge': <'br0'>, 'queues': <uint32 0>}", invalid);
        expect_allocate_error(f, "vm1", "tap-bridge", MAC,
                              "{'bridge': <'br0'>, 'queues': <uint32 17>}", invalid);
        /* Nothing was recorded by any of them. */
        objs = ns_call(&f->env, "/org/netlifecd1", "org.freedesktop.DBus.ObjectManager",
                       "GetManagedObjects", NULL, "(a{oa{sa{sv}}})", NULL);
        objs_text = g_variant_print(objs, FALSE);
        g_assert_null(strstr(objs_text, "/org/netlifecd1/device/"));
        /* Paths and lookups that lead nowhere. */
        ns_call_expect_error(&f->env, "/org/netlifecd1/device/999", DEV, "Activate", NULL,
                             "org.netlifecd1.Error.NotFound");
        g_assert_nonnull(
                ns_call(&f->env, "/org/netlifecd1/device/999", DEV, "Free", NULL, "()", NULL));
        ns_call_expect_error(&f->env, "/org/netlifecd1", MGR, "GetDevice",
                             g_variant_new("(ss)", "vm1", MAC), "org.netlifecd1.Error.NotFound");
        /* A name reserved by another record is a conflict too. */
        f->path = ns_allocate(&f->env, "vm1", MAC, OPTS);
        expect_allocate_error(f, "vm2", "tap-bridge", "52:54:00:00:0c:02", OPTS,
                              "org.netlifecd1.Error.Conflict");
}

/* Reads frames on @ifname until one has source @src and ethertype @type. */
static gboolean
frame_seen(int sock, const guint8 src[6], guint16 type, guint8 *payload_out)
{
        gint64 deadline = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
        guint8 buf[2048];

        while (g_get_monotonic_time() < deadline) {
                ssize_t n = recv(sock, buf, sizeof buf, MSG_DONTWAIT);

                if (n < 0) {
                        g_usleep(1000);
                        continue;
                }
                if (n >= 14 && memcmp(buf + 6, src, 6) == 0 && buf[12] == (type >> 8) &&
                    buf[13] == (type & 0xff)) {
                        if (payload_out)
                                memcpy(payload_out, buf + 14, MIN((gsize) n - 14, 28));
                        return TRUE;
                }
        }
        return FALSE;
}

static int
listen_on(const char *ifname)
{
        struct sockaddr_ll sll = { .sll_family = AF_PACKET,
                                   .sll_protocol = htons(ETH_P_ALL),
                                   .sll_ifindex = (int) if_nametoindex(ifname) };
        int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));

        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(bind(fd, (struct sockaddr *) &sll, sizeof sll), ==, 0);
        return fd;
}

/* The fds handed out are live tap queues: a frame written into each comes
 * out of the bridge. */
static void
test_fds_live(Fixture *f, gconstpointer data)
{
        int sock = listen_on("br0-peer");
        KernelPort k;

        f->path = ns_allocate(&f->env, "vm1", MAC,
                              "{'bridge': <'br0'>, 'ifname': <'lt0'>, 'queues': <uint32 2>}");
        f->fds = ns_create(&f->env, f->path);
        g_assert_cmpint(g_unix_fd_list_get_length(f->fds), ==, 2);
        kernel_port_read("lt0", &k);
        g_assert_true(k.multi_queue);
        for (int q = 0; q < 2; q++) {
                guint8 pkt[10 + 60] = { 0 }; /* virtio-net header, then the frame */
                const guint8 src[6] = { 0x02, 0x00, 0x00, 0x00, 0x0f, (guint8) q };
                int fd = g_unix_fd_list_get(f->fds, q, NULL);

                memset(pkt + 10, 0xff, 6);
                memcpy(pkt + 16, src, 6);
                pkt[22] = 0x88, pkt[23] = 0xb5; /* local experimental ethertype */
                g_assert_cmpint(write(fd, pkt, sizeof pkt), ==, sizeof pkt);
                g_assert_true(frame_seen(sock, src, 0x88b5, NULL));
                close(fd);
        }
        close(sock);
}

static void
test_announce(Fixture *f, gconstpointer data)
{
        static const guint8 guest[6] = { 0x52, 0x54, 0x00, 0x00, 0x0c, 0x01 };
        int sock = listen_on("br0-peer");
        guint8 arp[28];

        f->path = ns_allocate(&f->env, "vm1", MAC, OPTS);
        f->fds = ns_create(&f->env, f->path);
        ns_device_call(&f->env, f->path, "Activate");
        g_assert_true(frame_seen(sock, guest, 0x8035, arp));
        g_assert_cmpuint(arp[7], ==, 3); /* RARP reverse request */
        g_assert_cmpmem(arp + 8, 6, guest, 6);
        ns_device_call(&f->env, f->path, "Announce");
        g_assert_true(frame_seen(sock, guest, 0x8035, NULL));
        close(sock);
}

/* kill -9 after every step; after each restart the object, its state and the
 * kernel are as they were, and the next step works. */
static void
test_kill9_between_steps(Fixture *f, gconstpointer data)
{
        static const struct {
                const char *op;
                const char *state;
        } steps[] = {
                { NULL, "allocated" },       { "Create", "created" },    { "Activate", "active" },
                { "Deactivate", "created" }, { "Destroy", "destroyed" },
        };
        KernelPort k;

        f->path = ns_allocate(&f->env, "vm1", MAC, OPTS);
        for (guint i = 0; i < G_N_ELEMENTS(steps); i++) {
                if (steps[i].op && g_str_equal(steps[i].op, "Create")) {
                        /* Drop our copies: only the daemon holds the queue, so
                         * carrier after the restart proves it reopened them. */
                        g_autoptr(GUnixFDList) fds = ns_create(&f->env, f->path);
                } else if (steps[i].op) {
                        ns_device_call(&f->env, f->path, steps[i].op);
                }
                ns_env_kill9_daemon(&f->env);
                ns_env_start_daemon(&f->env);
                assert_state(f, steps[i].state);
                kernel_port_read("lt0", &k);
                if (g_str_equal(steps[i].state, "created") ||
                    g_str_equal(steps[i].state, "active")) {
                        assert_port_created("lt0", FALSE);
                        assert_fdb(g_str_equal(steps[i].state, "active") ? "lt0@br0" : "");
                } else {
                        g_assert_false(k.exists);
                }
        }
        ns_device_call(&f->env, f->path, "Free");
}

/* The kernel drifts while the daemon is down: restart repairs it. */
static void
test_drift_repaired(Fixture *f, gconstpointer data)
{
        f->path = ns_allocate(&f->env, "vm1", MAC, OPTS);
        f->fds = ns_create(&f->env, f->path);
        ns_device_call(&f->env, f->path, "Activate");
        ns_env_kill9_daemon(&f->env);
        ns_sh("ip link set lt0 nomaster"); /* takes the FDB entry with it */
        ns_sh("ip link set lt0 master br0 && bridge link set dev lt0 learning on flood on");
        assert_fdb("");
        ns_env_start_daemon(&f->env);
        assert_state(f, "active");
        assert_port_created("lt0", FALSE);
        assert_fdb("lt0@br0");
}

static void
test_notify_adopts(Fixture *f, gconstpointer data)
{
        g_autoptr(GVariant) r = NULL, r2 = NULL, r3 = NULL;
        g_autofree char *again = NULL;
        g_autofree char *active_path = NULL;
        g_autoptr(GVariant) opts1 =
                g_variant_parse(NULL, "{'bridge': <'br0'>, 'ifname': <'at0'>}", NULL, NULL, NULL);
        g_autoptr(GVariant) opts2 =
                g_variant_parse(NULL, "{'bridge': <'br0'>, 'ifname': <'at1'>}", NULL, NULL, NULL);

        ns_sh("ip tuntap add at0 mode tap vnet_hdr && ip link set at0 mtu 1400");
        r = ns_call(&f->env, "/org/netlifecd1", MGR, "Notify",
                    g_variant_new("(sss@a{sv})", "vm1", "tap-bridge", MAC, opts1), "(o)", NULL);
        g_assert_nonnull(r);
        g_variant_get(r, "(o)", &f->path);
        assert_state(f, "created");
        assert_port_created("at0", FALSE); /* enslaved, flags off, up, queue reopened */
        r2 = ns_call(&f->env, "/org/netlifecd1", MGR, "Notify",
                     g_variant_new("(sss@a{sv})", "vm1", "tap-bridge", MAC, opts1), "(o)", NULL);
        g_variant_get(r2, "(o)", &again);
        g_assert_cmpstr(again, ==, f->path);
        /* A tap already holding the guest MAC's static entry is adopted active. */
        ns_sh("ip tuntap add at1 mode tap vnet_hdr && ip link set at1 mtu 1400 master br0 up");
        ns_sh("bridge fdb add 52:54:00:00:0c:02 dev at1 master static");
        r3 = ns_call(&f->env, "/org/netlifecd1", MGR, "Notify",
                     g_variant_new("(sss@a{sv})", "vm2", "tap-bridge", "52:54:00:00:0c:02", opts2),
                     "(o)", NULL);
        g_variant_get(r3, "(o)", &active_path);
        {
                g_autofree char *s = ns_get_string(&f->env, active_path, DEV, "State");
                g_assert_cmpstr(s, ==, "active");
        }
        /* Notify for a tap that does not exist. */
        {
                g_autoptr(GVariant) o = g_variant_parse(
                        NULL, "{'bridge': <'br0'>, 'ifname': <'nope0'>}", NULL, NULL, NULL);
                ns_call_expect_error(&f->env, "/org/netlifecd1", MGR, "Notify",
                                     g_variant_new("(sss@a{sv})", "vm1", "tap-bridge", MAC, o),
                                     "org.netlifecd1.Error.NotFound");
        }
}

static void
test_destroy_when_gone(Fixture *f, gconstpointer data)
{
        f->path = ns_allocate(&f->env, "vm1", MAC, OPTS);
        f->fds = ns_create(&f->env, f->path);
        g_clear_object(&f->fds);
        ns_sh("ip link del lt0");
        ns_device_call(&f->env, f->path, "Destroy");
        assert_state(f, "destroyed");
}

static void
test_sigterm_leaves_devices(Fixture *f, gconstpointer data)
{
        int status = 0;

        f->path = ns_allocate(&f->env, "vm1", MAC, OPTS);
        f->fds = ns_create(&f->env, f->path);
        ns_device_call(&f->env, f->path, "Activate");
        kill(f->env.daemon_pid, SIGTERM);
        waitpid(f->env.daemon_pid, &status, 0);
        g_spawn_close_pid(f->env.daemon_pid);
        g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_port_created("lt0", FALSE); /* our fds keep the carrier */
        assert_fdb("lt0@br0");
        ns_env_start_daemon(&f->env);
        assert_state(f, "active");
}

static void
test_busctl(Fixture *f, gconstpointer data)
{
        g_autofree char *tree = NULL, *dev = NULL, *mgr = NULL;
        static const char *const device_members[] = {
                ".Create",   ".Activate", ".Deactivate",   ".Destroy", ".Free",
                ".Announce", ".State",    ".Instance",     ".Backend", ".MAC",
                ".IfName",   ".Bridge",   ".StateChanged",
        };
        static const char *const manager_members[] = {
                ".Allocate",          ".Notify", ".GetDevice", "org.freedesktop.DBus.ObjectManager",
                ".GetManagedObjects",
        };

        f->path = ns_allocate(&f->env, "vm1", MAC, OPTS);
        tree = ns_sh_out("busctl --address=%s tree --list org.netlifecd1", f->env.address);
        g_assert_nonnull(strstr(tree, "/org/netlifecd1\n"));
        g_assert_nonnull(strstr(tree, f->path));
        dev = ns_sh_out("busctl --address=%s introspect org.netlifecd1 %s", f->env.address,
                        f->path);
        for (guint i = 0; i < G_N_ELEMENTS(device_members); i++)
                if (!strstr(dev, device_members[i]))
                        g_error("busctl introspect does not show %s:\n%s", device_members[i], dev);
        mgr = ns_sh_out("busctl --address=%s introspect org.netlifecd1 /org/netlifecd1",
                        f->env.address);
        for (guint i = 0; i < G_N_ELEMENTS(manager_members); i++)
                if (!strstr(mgr, manager_members[i]))
                        g_error("busctl introspect does not show %s:\n%s", manager_members[i], mgr);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, set_up, fn, tear_down)
        ADD("/lifecycle/full", test_full_lifecycle);
        ADD("/lifecycle/idempotent", test_idempotent);
        ADD("/lifecycle/out-of-order", test_out_of_order);
        ADD("/lifecycle/bad-input", test_bad_input);
        ADD("/lifecycle/destroy-when-gone", test_destroy_when_gone);
        ADD("/datapath/fds-live", test_fds_live);
        ADD("/datapath/announce", test_announce);
        ADD("/crash/kill9-between-steps", test_kill9_between_steps);
        ADD("/crash/drift-repaired", test_drift_repaired);
        ADD("/daemon/notify-adopts", test_notify_adopts);
        ADD("/daemon/sigterm-leaves-devices", test_sigterm_leaves_devices);
        ADD("/daemon/busctl", test_busctl);
        return g_test_run();
}
