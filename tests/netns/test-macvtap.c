/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The macvtap backend over D-Bus, checked against the kernel (iproute2's
 * JSON, sysfs, /proc) after every step: the whole life in every mode,
 * repeats, refusals, bad input, a lower that goes away, live queues in both
 * directions, announce, kill -9 between steps, drift, two macvtaps with one
 * MAC on one lower, adoption, SIGTERM, and what Manager.Backends says.
 *
 * Every case has a network namespace and a sysfs of its own: the daemon
 * reads the macvtap's device number from /sys/class/net.
 */
#include <arpa/inet.h>
#include <json-glib/json-glib.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "nlc-test-kernel.h"
#include "backend-test.h"
#include "nlc-test-ipv6.h"
#include "ns-env.h"

#define DEV       "org.netlifecd1.Device"
#define MGR       "org.netlifecd1.Manager"
#define MAC       "52:54:00:00:0d:01"
#define LOWER     "low0"
#define PEER      "low0-peer"
#define LOWER_MAC "02:00:00:00:0d:a0"
#define OPTS      "{'link': <'low0'>, 'ifname': <'mt0'>}"
#define VNET_HDR  10 /* struct virtio_net_hdr, the queues' default header */

static const guint8 guest_mac[6] = { 0x52, 0x54, 0x00, 0x00, 0x0d, 0x01 };

typedef struct {
        NsEnv env;
        char *path;
        GUnixFDList *fds;
        GPtrArray *changes; /* "<path> old>new:reason" */
        guint subscription;
        char *lower_before; /* the lower's ip -j -d JSON before any device */
} Fixture;

/* ---- the kernel's view, through iproute2, sysfs and /proc ---- */

typedef struct {
        gboolean exists;
        int ifindex;
        gboolean up; /* IFF_UP */
        char operstate[16];
        char address[18];
        guint mtu;
        char kind[16];
        char mode[16];  /* info_data mode */
        char lower[16]; /* "link" */
} KernelLink;

static void
copy_member(char *dst, gsize size, JsonObject *o, const char *member)
{
        g_strlcpy(dst, o ? json_object_get_string_member_with_default(o, member, "") : "", size);
}

static void
kernel_link_read(const char *ifname, KernelLink *out)
{
        g_autofree char *json = bt_link_json(ifname);
        g_autoptr(JsonNode) root = NULL;
        g_autoptr(GError) error = NULL;
        JsonObject *l, *info = NULL, *data = NULL;

        memset(out, 0, sizeof *out);
        if (!*json)
                return;
        root = json_from_string(json, &error);
        g_assert_no_error(error);
        g_assert_true(JSON_NODE_HOLDS_ARRAY(root));
        g_assert_cmpuint(json_array_get_length(json_node_get_array(root)), ==, 1);
        l = json_array_get_object_element(json_node_get_array(root), 0);
        out->exists = TRUE;
        out->ifindex = (int) json_object_get_int_member(l, "ifindex");
        out->up = bt_has_flag(l, "UP");
        out->mtu = (guint) json_object_get_int_member_with_default(l, "mtu", 0);
        copy_member(out->operstate, sizeof out->operstate, l, "operstate");
        copy_member(out->address, sizeof out->address, l, "address");
        copy_member(out->lower, sizeof out->lower, l, "link");
        if (json_object_has_member(l, "linkinfo"))
                info = json_object_get_object_member(l, "linkinfo");
        if (info && json_object_has_member(info, "info_data"))
                data = json_object_get_object_member(info, "info_data");
        copy_member(out->kind, sizeof out->kind, info, "info_kind");
        copy_member(out->mode, sizeof out->mode, data, "mode");
}

/* A macvtap of ours: on the lower, in @mode, with the guest MAC and the
 * lower's MTU; up (and operationally up: the lower has carrier) or down;
 * no host IPv6 on it (this namespace has IPv6 on). */
static void
assert_macvtap(const char *ifname, const char *mode, gboolean up)
{
        KernelLink k;
        guint ipv6_addrs = 0;

        kernel_link_read(ifname, &k);
        g_assert_true(k.exists);
        g_assert_cmpstr(k.kind, ==, "macvtap");
        g_assert_cmpstr(k.mode, ==, mode);
        g_assert_cmpstr(k.lower, ==, LOWER);
        g_assert_cmpstr(k.address, ==, MAC);
        g_assert_cmpuint(k.mtu, ==, 1400);
        g_assert_cmpint(k.up, ==, up);
        g_assert_cmpstr(k.operstate, ==, up ? "UP" : "DOWN");
        g_assert_true(nlc_test_ipv6_off(ifname, &ipv6_addrs));
        g_assert_cmpuint(ipv6_addrs, ==, 0);
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

static int
compare_strings(gconstpointer a, gconstpointer b)
{
        return g_strcmp0(*(const char *const *) a, *(const char *const *) b);
}

static char *
node_path(Fixture *f, int ifindex)
{
        return g_strdup_printf("%s/run/tap%d", f->env.dir, ifindex);
}

/* The tap* nodes in the daemon's runtime directory, sorted. */
static char *
run_nodes(Fixture *f)
{
        g_autofree char *run = g_build_filename(f->env.dir, "run", NULL);
        g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
        GDir *dir = g_dir_open(run, 0, NULL);
        const char *name;

        while (dir && (name = g_dir_read_name(dir)))
                if (g_str_has_prefix(name, "tap"))
                        g_ptr_array_add(names, g_strdup(name));
        if (dir)
                g_dir_close(dir);
        g_ptr_array_sort(names, compare_strings);
        g_ptr_array_add(names, NULL);
        return g_strjoinv(" ", (char **) names->pdata);
}

/* The device number sysfs gives for @ifname's macvtap. */
static dev_t
sysfs_devnum(const char *ifname, int ifindex)
{
        g_autofree char *sys =
                g_strdup_printf("/sys/class/net/%s/macvtap/tap%d/dev", ifname, ifindex);
        g_autofree char *text = NULL;
        guint maj, min;

        if (!g_file_get_contents(sys, &text, NULL, NULL))
                g_error("cannot read %s", sys);
        g_assert_cmpint(sscanf(text, "%u:%u", &maj, &min), ==, 2);
        return makedev(maj, min);
}

/* The node of @ifname: tap<ifindex> in the daemon's runtime directory, a
 * character device with the number sysfs gives; returns its path. */
static char *
assert_node(Fixture *f, const char *ifname)
{
        g_autofree char *nodes = run_nodes(f), *padded = NULL, *want = NULL;
        char *path;
        struct stat st;
        KernelLink k;

        kernel_link_read(ifname, &k);
        g_assert_true(k.exists);
        padded = g_strdup_printf(" %s ", nodes);
        want = g_strdup_printf(" tap%d ", k.ifindex);
        if (!strstr(padded, want))
                g_error("no node tap%d for %s among '%s'", k.ifindex, ifname, nodes);
        path = node_path(f, k.ifindex);
        g_assert_cmpint(stat(path, &st), ==, 0);
        g_assert_true(S_ISCHR(st.st_mode));
        g_assert_cmpuint(st.st_rdev, ==, sysfs_devnum(ifname, k.ifindex));
        return path;
}

/* The only node is @ifname's. */
static char *
assert_only_node(Fixture *f, const char *ifname)
{
        g_autofree char *nodes = run_nodes(f), *want = NULL;
        KernelLink k;

        kernel_link_read(ifname, &k);
        want = g_strdup_printf("tap%d", k.ifindex);
        g_assert_cmpstr(nodes, ==, want);
        return assert_node(f, ifname);
}

/* How many of the daemon's open files are @path. */
static guint
daemon_opens(Fixture *f, const char *path)
{
        g_autofree char *fd_dir = g_strdup_printf("/proc/%d/fd", (int) f->env.daemon_pid);
        GDir *dir = g_dir_open(fd_dir, 0, NULL);
        const char *name;
        guint n = 0;

        g_assert_nonnull(dir);
        while ((name = g_dir_read_name(dir))) {
                g_autofree char *fd = g_build_filename(fd_dir, name, NULL);
                g_autofree char *target = g_file_read_link(fd, NULL);

                if (g_strcmp0(target, path) == 0)
                        n++;
        }
        g_dir_close(dir);
        return n;
}

/* Each fd received is a queue of @ifname: an open of its character device. */
static void
assert_fds_are_queues(GUnixFDList *fds, const char *ifname)
{
        KernelLink k;

        kernel_link_read(ifname, &k);
        for (int i = 0; i < g_unix_fd_list_get_length(fds); i++) {
                const int *all = g_unix_fd_list_peek_fds(fds, NULL);
                struct stat st;

                g_assert_cmpint(fstat(all[i], &st), ==, 0);
                g_assert_true(S_ISCHR(st.st_mode));
                g_assert_cmpuint(st.st_rdev, ==, sysfs_devnum(ifname, k.ifindex));
        }
}

/* Everything a refused or repeated call must not change. */
static char *
kernel_snapshot(Fixture *f, const char *ifname)
{
        g_autofree char *links = nlc_kernel_link_names(), *nodes = run_nodes(f);
        g_autofree char *mv = bt_link_json(ifname), *lower = bt_link_json(LOWER);
        KernelLink k;
        guint opens = 0;

        kernel_link_read(ifname, &k);
        if (k.exists) {
                g_autofree char *path = node_path(f, k.ifindex);

                opens = daemon_opens(f, path);
        }
        return g_strdup_printf("links=%s nodes=%s opens=%u\n%s: %s\n" LOWER ": %s", links, nodes,
                               opens, ifname, mv, lower);
}

/* ---- fixture and D-Bus helpers ---- */

static void
set_up(Fixture *f, gconstpointer data)
{
        ns_env_set_up_full(&f->env, NULL, TRUE);
        ns_sh("ip link add " LOWER " type veth peer name " PEER);
        ns_sh("ip link set " LOWER " address " LOWER_MAC " mtu 1400 up && ip link set " PEER
              " mtu 1400 up");
        ns_sh("ip link add low1 type veth peer name low1-peer");
        ns_sh("ip link set low1 up && ip link set low1-peer up");
        wait_operstate(LOWER, "UP");
        f->lower_before = bt_link_json(LOWER);
        f->changes = g_ptr_array_new_with_free_func(g_free);
        f->subscription = bt_record_state_changes(f->env.conn, f->changes);
}

static void
tear_down(Fixture *f, gconstpointer data)
{
        g_dbus_connection_signal_unsubscribe(f->env.conn, f->subscription);
        g_ptr_array_unref(f->changes);
        g_clear_object(&f->fds);
        g_free(f->path);
        g_free(f->lower_before);
        ns_env_tear_down(&f->env);
}

/* Manager.@method(instance, "macvtap", mac, options) → object path (asserted). */
static char *
call_manager(Fixture *f, const char *method, const char *instance, const char *mac,
             const char *options_text)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) opts = bt_parse_options(options_text);
        g_autoptr(GVariant) r = ns_call(
                &f->env, "/org/netlifecd1", MGR, method,
                g_variant_new("(sss@a{sv})", instance, "macvtap", mac, opts), "(o)", &error);
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

/* ---- frames ---- */

/* Reads frames on @sock for up to @timeout_ms until one has source @src and
 * ethertype @type; copies up to 28 bytes of its payload. */
static gboolean
frame_seen(int sock, const guint8 src[6], guint16 type, guint8 *payload_out, guint timeout_ms)
{
        gint64 deadline = g_get_monotonic_time() + (gint64) timeout_ms * 1000;
        guint8 buf[2048];

        for (guint i = 0; i < 100000 && g_get_monotonic_time() < deadline; i++) {
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

/* Writes a broadcast frame from @src into a queue, behind a zero virtio-net
 * header, with a local experimental ethertype. */
static void
write_frame(int fd, const guint8 src[6])
{
        guint8 pkt[VNET_HDR + 60] = { 0 };

        memset(pkt + VNET_HDR, 0xff, 6);
        memcpy(pkt + VNET_HDR + 6, src, 6);
        pkt[VNET_HDR + 12] = 0x88, pkt[VNET_HDR + 13] = 0xb5;
        g_assert_cmpint(write(fd, pkt, sizeof pkt), ==, sizeof pkt);
}

/* Sends, from the lower's peer, a frame to the guest MAC carrying @marker. */
static void
send_to_guest(int sock, const char *marker)
{
        struct sockaddr_ll to = { .sll_family = AF_PACKET,
                                  .sll_ifindex = (int) if_nametoindex(PEER),
                                  .sll_halen = 6 };
        const guint8 src[6] = { 0x02, 0x00, 0x00, 0x00, 0x0f, 0x99 };
        guint8 frame[60] = { 0 };

        memcpy(frame, guest_mac, 6);
        memcpy(frame + 6, src, 6);
        frame[12] = 0x88, frame[13] = 0xb5;
        memcpy(frame + 14, marker, strlen(marker));
        memcpy(to.sll_addr, guest_mac, 6);
        g_assert_cmpint(sendto(sock, frame, sizeof frame, 0, (struct sockaddr *) &to, sizeof to),
                        ==, sizeof frame);
}

/* Reads the queues for up to @timeout_ms until a frame to the guest MAC
 * carrying @marker comes out of one of them. */
static gboolean
queue_received(GUnixFDList *fds, const char *marker, guint timeout_ms)
{
        gint64 deadline = g_get_monotonic_time() + (gint64) timeout_ms * 1000;
        const int *all = g_unix_fd_list_peek_fds(fds, NULL);
        int n_fds = g_unix_fd_list_get_length(fds);
        struct pollfd pfd[16];
        guint8 buf[2048];

        g_assert_cmpint(n_fds, <=, (int) G_N_ELEMENTS(pfd));
        for (guint round = 0; round < 10000 && g_get_monotonic_time() < deadline; round++) {
                int left = (int) ((deadline - g_get_monotonic_time()) / 1000) + 1;

                for (int i = 0; i < n_fds; i++)
                        pfd[i] = (struct pollfd){ .fd = all[i], .events = POLLIN };
                if (poll(pfd, n_fds, left) <= 0)
                        continue;
                for (int i = 0; i < n_fds; i++) {
                        ssize_t n;

                        if (!(pfd[i].revents & POLLIN))
                                continue;
                        n = read(all[i], buf, sizeof buf);
                        if (n >= VNET_HDR + 14 + (ssize_t) strlen(marker) &&
                            memcmp(buf + VNET_HDR, guest_mac, 6) == 0 &&
                            memcmp(buf + VNET_HDR + 14, marker, strlen(marker)) == 0)
                                return TRUE;
                }
        }
        return FALSE;
}

/* ---- the cases ---- */

static void
test_full_lifecycle(Fixture *f, gconstpointer data)
{
        g_autofree char *before = nlc_kernel_link_names(), *after_alloc = NULL, *nodes = NULL;
        g_autofree char *node = NULL, *lower_after = NULL;
        const char *const steps[] = {
                "allocated>created:create",  "created>active:activate", "active>created:deactivate",
                "created>destroyed:destroy", "destroyed>freed:free",
        };

        f->path = allocate(f, "vm1", "52:54:00:00:0D:01", OPTS);
        assert_state(f, "allocated");
        assert_prop(f, f->path, "MAC", MAC); /* normalized to lower case */
        assert_prop(f, f->path, "IfName", "mt0");
        assert_prop(f, f->path, "Bridge", "");
        assert_prop(f, f->path, "Backend", "macvtap");
        assert_prop(f, f->path, "Instance", "vm1");
        g_assert_false(ns_get_bool(&f->env, f->path, DEV, "OwnsMac"));
        after_alloc = nlc_kernel_link_names();
        g_assert_cmpstr(after_alloc, ==, before); /* nothing in the kernel yet */
        nodes = run_nodes(f);
        g_assert_cmpstr(nodes, ==, "");

        f->fds = ns_create(&f->env, f->path);
        g_assert_cmpint(g_unix_fd_list_get_length(f->fds), ==, 1);
        assert_state(f, "created");
        assert_macvtap("mt0", "bridge", FALSE); /* created down */
        node = assert_only_node(f, "mt0");
        g_assert_cmpuint(daemon_opens(f, node), ==, 1);
        assert_fds_are_queues(f->fds, "mt0");
        g_assert_false(ns_get_bool(&f->env, f->path, DEV, "OwnsMac"));

        ns_device_call(&f->env, f->path, "Activate");
        assert_state(f, "active");
        assert_macvtap("mt0", "bridge", TRUE);
        g_assert_true(ns_get_bool(&f->env, f->path, DEV, "OwnsMac"));

        ns_device_call(&f->env, f->path, "Deactivate");
        assert_state(f, "created");
        assert_macvtap("mt0", "bridge", FALSE);
        g_assert_false(ns_get_bool(&f->env, f->path, DEV, "OwnsMac"));
        g_assert_cmpuint(daemon_opens(f, node), ==, 1);

        ns_device_call(&f->env, f->path, "Destroy");
        assert_state(f, "destroyed");
        g_assert_false(nlc_kernel_link_exists("mt0"));
        g_free(nodes);
        nodes = run_nodes(f);
        g_assert_cmpstr(nodes, ==, ""); /* the node went with it */
        g_assert_cmpuint(daemon_opens(f, node), ==, 0);
        lower_after = bt_link_json(LOWER);
        g_assert_cmpstr(lower_after, ==, f->lower_before); /* the lower as it was */

        ns_device_call(&f->env, f->path, "Free");
        g_assert_false(bt_device_exported(&f->env, f->path));
        ns_call_expect_error(&f->env, f->path, DEV, "Activate", NULL,
                             "org.netlifecd1.Error.NotFound");
        bt_wait_len(f->changes, G_N_ELEMENTS(steps));
        g_assert_cmpuint(f->changes->len, ==, G_N_ELEMENTS(steps));
        for (guint i = 0; i < G_N_ELEMENTS(steps); i++) {
                g_autofree char *expected = g_strdup_printf("%s %s", f->path, steps[i]);

                g_assert_cmpstr(f->changes->pdata[i], ==, expected);
        }
}

/* Every mode the backend accepts is what the kernel shows; passthru lends the
 * lower the guest MAC while the macvtap exists, and the lower comes back as
 * it was after each. */
static void
test_modes(Fixture *f, gconstpointer data)
{
        static const char *const modes[] = { "bridge", "vepa", "private", "passthru" };

        for (guint i = 0; i < G_N_ELEMENTS(modes); i++) {
                g_autofree char *opts = g_strdup_printf(
                        "{'link': <'low0'>, 'ifname': <'mt0'>, 'mode': <'%s'>}", modes[i]);
                g_autofree char *path = allocate(f, "vm1", MAC, opts);
                g_autofree char *lower_after = NULL;
                g_autoptr(GUnixFDList) fds = ns_create(&f->env, path);
                gboolean passthru = g_str_equal(modes[i], "passthru");
                KernelLink lower;

                g_test_message("mode %s", modes[i]);
                g_assert_cmpint(g_unix_fd_list_get_length(fds), ==, 1);
                assert_macvtap("mt0", modes[i], FALSE);
                g_free(assert_only_node(f, "mt0"));
                kernel_link_read(LOWER, &lower);
                g_assert_cmpstr(lower.address, ==, passthru ? MAC : LOWER_MAC);
                ns_device_call(&f->env, path, "Activate");
                assert_macvtap("mt0", modes[i], TRUE);
                ns_device_call(&f->env, path, "Deactivate");
                assert_macvtap("mt0", modes[i], FALSE);
                ns_device_call(&f->env, path, "Destroy");
                g_assert_false(nlc_kernel_link_exists("mt0"));
                ns_device_call(&f->env, path, "Free");
                lower_after = bt_link_json(LOWER);
                g_assert_cmpstr(lower_after, ==, f->lower_before);
        }
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
                        f->fds = ns_create(&f->env, f->path);
                else
                        ns_device_call(&f->env, f->path, ops[i]);
                s1 = ns_get_string(&f->env, f->path, DEV, "State");
                snap = kernel_snapshot(f, "mt0");
                bt_wait_len(f->changes, i + 1);
                n = f->changes->len;
                if (g_str_equal(ops[i], "Create")) {
                        g_autoptr(GUnixFDList) fds2 = ns_create(&f->env, f->path);

                        /* The same queue again, not a new one (opens=1 below). */
                        g_assert_cmpint(g_unix_fd_list_get_length(fds2), ==, 1);
                        assert_fds_are_queues(fds2, "mt0");
                } else {
                        ns_device_call(&f->env, f->path, ops[i]);
                }
                s2 = ns_get_string(&f->env, f->path, DEV, "State");
                snap2 = kernel_snapshot(f, "mt0");
                g_assert_cmpstr(s2, ==, s1);
                g_assert_cmpstr(snap2, ==, snap);
                if (g_str_equal(ops[i], "Create"))
                        g_assert_nonnull(strstr(snap2, "opens=1\n"));
                bt_drain_signals();
                g_assert_cmpuint(f->changes->len, ==, n); /* no StateChanged for a repeat */
        }
        ns_device_call(&f->env, f->path, "Free");
        ns_device_call(&f->env, f->path, "Free"); /* gone already: still success */
}

/* A macvtap with the profile @profile_fields (GVariant text) on low0:
 * allocated and created, then Activate fails with @error_name; it stays
 * created and down, and goes again. */
static void
expect_activation_refused(Fixture *f, const char *profile_fields, const char *error_name)
{
        g_autofree char *opts =
                g_strdup_printf("{'link': <'low0'>, 'ifname': <'mt0'>, %s, "
                                "'instanceid': <'a1412857-60f7-4ce1-e95a-2164943f53aa'>}",
                                profile_fields);

        f->path = allocate(f, "vm1", MAC, opts);
        f->fds = ns_create(&f->env, f->path);
        ns_call_expect_error(&f->env, f->path, DEV, "Activate", NULL, error_name);
        assert_state(f, "created");
        assert_macvtap("mt0", "bridge", FALSE);
        ns_device_call(&f->env, f->path, "Destroy");
        ns_device_call(&f->env, f->path, "Free");
        g_clear_pointer(&f->path, g_free);
        g_clear_object(&f->fds);
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
                        f->fds = ns_create(&f->env, f->path);
                } else if (s == 2) {
                        ns_device_call(&f->env, f->path, "Activate");
                } else if (s == 3) {
                        ns_device_call(&f->env, f->path, "Deactivate");
                        ns_device_call(&f->env, f->path, "Destroy");
                }
                assert_state(f, table[s].state);
                for (guint i = 0; table[s].refused[i]; i++) {
                        g_autofree char *before = kernel_snapshot(f, "mt0"), *after = NULL;

                        ns_call_expect_error(&f->env, f->path, DEV, table[s].refused[i], NULL,
                                             "org.netlifecd1.Error.InvalidState");
                        after = kernel_snapshot(f, "mt0");
                        g_assert_cmpstr(after, ==, before);
                        assert_state(f, table[s].state);
                }
        }
}

static void
expect_manager_error(Fixture *f, const char *method, const char *instance, const char *mac,
                     const char *options, const char *error_name)
{
        g_autofree char *before = kernel_snapshot(f, "mt0"), *after = NULL;
        g_autoptr(GVariant) opts = bt_parse_options(options);

        ns_call_expect_error(&f->env, "/org/netlifecd1", MGR, method,
                             g_variant_new("(sss@a{sv})", instance, "macvtap", mac, opts),
                             error_name);
        after = kernel_snapshot(f, "mt0");
        g_assert_cmpstr(after, ==, before);
}

static void
test_bad_input(Fixture *f, gconstpointer data)
{
        const char *invalid = "org.netlifecd1.Error.InvalidArgs";
        const char *conflict = "org.netlifecd1.Error.Conflict";

        /* The lower: missing, not there, not a name. */
        expect_manager_error(f, "Allocate", "vm1", MAC, "{'ifname': <'mt0'>}", invalid);
        expect_manager_error(f, "Allocate", "vm1", MAC, "@a{sv} {}", invalid);
        expect_manager_error(f, "Allocate", "vm1", MAC, "{'link': <'nolow0'>}", invalid);
        expect_manager_error(f, "Allocate", "vm1", MAC, "{'link': <uint32 2>}", invalid);
        /* The mode. */
        expect_manager_error(f, "Allocate", "vm1", MAC, "{'link': <'low0'>, 'mode': <'bridged'>}",
                             invalid);
        expect_manager_error(f, "Allocate", "vm1", MAC, "{'link': <'low0'>, 'mode': <''>}",
                             invalid);
        expect_manager_error(f, "Allocate", "vm1", MAC, "{'link': <'low0'>, 'mode': <uint32 1>}",
                             invalid);
        /* Queues. */
        expect_manager_error(f, "Allocate", "vm1", MAC, "{'link': <'low0'>, 'queues': <uint32 0>}",
                             invalid);
        expect_manager_error(f, "Allocate", "vm1", MAC, "{'link': <'low0'>, 'queues': <uint32 17>}",
                             invalid);
        expect_manager_error(f, "Allocate", "vm1", MAC, "{'link': <'low0'>, 'queues': <'2'>}",
                             invalid);
        /* Options of another backend, unknown ones. */
        expect_manager_error(f, "Allocate", "vm1", MAC, "{'link': <'low0'>, 'bridge': <'br0'>}",
                             invalid);
        expect_manager_error(f, "Allocate", "vm1", MAC, "{'link': <'low0'>, 'device': <'low1'>}",
                             invalid);
        /* The name: too long, not a name, taken by a link that is not ours. */
        expect_manager_error(f, "Allocate", "vm1", MAC,
                             "{'link': <'low0'>, 'ifname': <'sixteen-chars-xx'>}", invalid);
        expect_manager_error(f, "Allocate", "vm1", MAC, "{'link': <'low0'>, 'ifname': <'a/b'>}",
                             invalid);
        expect_manager_error(f, "Allocate", "vm1", MAC,
                             "{'link': <'low0'>, 'ifname': <'" PEER "'>}", conflict);
        expect_manager_error(f, "Allocate", "vm1", MAC, "{'link': <'low0'>, 'ifname': <'low0'>}",
                             conflict);
        /* The MAC and the instance. */
        expect_manager_error(f, "Allocate", "vm1", "01:00:5e:00:00:01", OPTS, invalid);
        expect_manager_error(f, "Allocate", "vm1", "00:00:00:00:00:00", OPTS, invalid);
        expect_manager_error(f, "Allocate", "vm 1", MAC, OPTS, invalid);
        /* Port profiles: a wrong one is InvalidArgs (here: no type id; an
         * 802.1Qbh without the VM's UUID). Neither leaves a record or a
         * link. */
        expect_manager_error(f, "Allocate", "vm1", MAC,
                             "{'link': <'low0'>, 'virtualport': <'802.1Qbg'>, "
                             "'managerid': <byte 1>, 'typeidversion': <byte 1>}",
                             invalid);
        expect_manager_error(f, "Allocate", "vm1", MAC,
                             "{'link': <'low0'>, 'virtualport': <'802.1Qbh'>, "
                             "'profileid': <'finance'>}",
                             invalid);
        /* Notify: no name, nothing to adopt, not a macvtap. */
        expect_manager_error(f, "Notify", "vm1", MAC, "{'link': <'low0'>}", invalid);
        expect_manager_error(f, "Notify", "vm1", MAC, OPTS, "org.netlifecd1.Error.NotFound");
        expect_manager_error(f, "Notify", "vm1", MAC, "{'link': <'low0'>, 'ifname': <'low1'>}",
                             conflict);
        g_assert_false(bt_device_exported(&f->env, NULL)); /* none of them left a record */

        /* A valid profile is accepted, and its Activate (ASSOCIATE first)
         * fails, named, leaving the macvtap down: 802.1Qbg with no lldpad
         * in the namespace; 802.1Qbh refused by the kernel, whose veth
         * driver has no port profiles. */
        expect_activation_refused(f,
                                  "'virtualport': <'802.1Qbg'>, 'managerid': <byte 1>, "
                                  "'typeid': <uint32 2>, 'typeidversion': <byte 3>",
                                  "org.netlifecd1.Error.PortProfileUnavailable");
        expect_activation_refused(f, "'virtualport': <'802.1Qbh'>, 'profileid': <'finance'>",
                                  "org.netlifecd1.Error.PortProfileRefused");

        /* A name another record holds: the device is already assigned. */
        f->path = allocate(f, "vm1", MAC, OPTS);
        expect_manager_error(f, "Allocate", "vm2", "52:54:00:00:0d:02", OPTS, conflict);
        expect_manager_error(f, "Allocate", "vm1", MAC, "{'link': <'low1'>, 'ifname': <'mt0'>}",
                             conflict);
        f->fds = ns_create(&f->env, f->path);
        expect_manager_error(f, "Allocate", "vm2", "52:54:00:00:0d:02", OPTS, conflict);
        expect_manager_error(f, "Notify", "vm2", "52:54:00:00:0d:02", OPTS, conflict);
        assert_state(f, "created");
        assert_macvtap("mt0", "bridge", FALSE);
}

/* The lower goes away: before create (refused, nothing made), and under a
 * created macvtap (the kernel takes the macvtap with it; Destroy succeeds). */
static void
test_lower_gone(Fixture *f, gconstpointer data)
{
        g_autofree char *path1 =
                allocate(f, "vm1", "52:54:00:00:0d:02", "{'link': <'low1'>, 'ifname': <'mt1'>}");
        g_autofree char *before = NULL, *after = NULL, *nodes = NULL;

        ns_sh("ip link del low1");
        before = nlc_kernel_link_names();
        ns_call_expect_error(&f->env, path1, DEV, "Create", NULL, "org.netlifecd1.Error.NotFound");
        after = nlc_kernel_link_names();
        g_assert_cmpstr(after, ==, before);
        assert_state_of(f, path1, "allocated");
        nodes = run_nodes(f);
        g_assert_cmpstr(nodes, ==, "");
        ns_device_call(&f->env, path1, "Free");

        f->path = allocate(f, "vm1", MAC, OPTS);
        f->fds = ns_create(&f->env, f->path);
        ns_sh("ip link del " LOWER);
        g_assert_false(nlc_kernel_link_exists("mt0"));
        ns_device_call(&f->env, f->path, "Destroy");
        assert_state(f, "destroyed");
        g_free(nodes);
        nodes = run_nodes(f);
        g_assert_cmpstr(nodes, ==, "");
        ns_device_call(&f->env, f->path, "Free");
}

/* The macvtap deleted by hand under a created device: Destroy succeeds. */
static void
test_destroy_when_gone(Fixture *f, gconstpointer data)
{
        g_autofree char *nodes = NULL, *lower_after = NULL;

        f->path = allocate(f, "vm1", MAC, OPTS);
        f->fds = ns_create(&f->env, f->path);
        ns_sh("ip link del mt0");
        ns_device_call(&f->env, f->path, "Destroy");
        assert_state(f, "destroyed");
        nodes = run_nodes(f);
        g_assert_cmpstr(nodes, ==, "");
        lower_after = bt_link_json(LOWER);
        g_assert_cmpstr(lower_after, ==, f->lower_before);
}

/* The fds are live macvtap queues, quiet until activate: a frame written
 * comes out on the lower's peer, a frame sent to the guest MAC comes out of
 * a queue; while the macvtap is down neither happens. */
static void
test_fds_live(Fixture *f, gconstpointer data)
{
        const guint8 early[6] = { 0x02, 0x00, 0x00, 0x00, 0x0f, 0xee };
        int sock = bt_listen_on(PEER);
        g_autofree char *node = NULL;

        f->path = allocate(f, "vm1", MAC,
                           "{'link': <'low0'>, 'ifname': <'mt0'>, 'queues': <uint32 2>}");
        f->fds = ns_create(&f->env, f->path);
        g_assert_cmpint(g_unix_fd_list_get_length(f->fds), ==, 2);
        assert_fds_are_queues(f->fds, "mt0");
        node = assert_node(f, "mt0");
        g_assert_cmpuint(daemon_opens(f, node), ==, 2);

        /* Created (down): nothing leaves, nothing arrives. */
        write_frame(g_unix_fd_list_peek_fds(f->fds, NULL)[0], early);
        send_to_guest(sock, "nlc-early");
        g_assert_false(frame_seen(sock, early, 0x88b5, NULL, 300));
        g_assert_false(queue_received(f->fds, "nlc-early", 300));

        ns_device_call(&f->env, f->path, "Activate");
        for (int q = 0; q < 2; q++) {
                const guint8 src[6] = { 0x02, 0x00, 0x00, 0x00, 0x0f, (guint8) q };

                write_frame(g_unix_fd_list_peek_fds(f->fds, NULL)[q], src);
                g_assert_true(frame_seen(sock, src, 0x88b5, NULL, 2000));
        }
        send_to_guest(sock, "nlc-in");
        g_assert_true(queue_received(f->fds, "nlc-in", 2000));

        /* Deactivated: quiet again. */
        ns_device_call(&f->env, f->path, "Deactivate");
        write_frame(g_unix_fd_list_peek_fds(f->fds, NULL)[1], early);
        send_to_guest(sock, "nlc-late");
        g_assert_false(frame_seen(sock, early, 0x88b5, NULL, 300));
        g_assert_false(queue_received(f->fds, "nlc-late", 300));
        close(sock);
}

static void
assert_rarp(int sock)
{
        guint8 arp[28];

        g_assert_true(frame_seen(sock, guest_mac, 0x8035, arp, 2000));
        g_assert_cmpuint(arp[7], ==, 3); /* RARP reverse request */
        g_assert_cmpmem(arp + 8, 6, guest_mac, 6);
        g_assert_cmpmem(arp + 18, 6, guest_mac, 6);
}

/* Activate announces; Announce does again, also after a restart, when the
 * daemon holds no queue and sends on the macvtap itself. */
static void
test_announce(Fixture *f, gconstpointer data)
{
        int sock = bt_listen_on(PEER);

        f->path = allocate(f, "vm1", MAC, OPTS);
        f->fds = ns_create(&f->env, f->path);
        g_assert_false(frame_seen(sock, guest_mac, 0x8035, NULL, 200)); /* not before */
        ns_device_call(&f->env, f->path, "Activate");
        assert_rarp(sock);
        ns_device_call(&f->env, f->path, "Announce");
        assert_rarp(sock);
        ns_env_kill9_daemon(&f->env);
        ns_env_start_daemon(&f->env);
        ns_device_call(&f->env, f->path, "Announce");
        assert_rarp(sock);
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
                { "Deactivate", "created" }, { "Destroy", "destroyed" }, { "Create", "created" },
                { "Destroy", "destroyed" },
        };
        const char *opts = "{'link': <'low0'>, 'ifname': <'mt0'>, 'mode': <'vepa'>}";

        f->path = allocate(f, "vm1", MAC, opts);
        for (guint i = 0; i < G_N_ELEMENTS(steps); i++) {
                g_autofree char *nodes = NULL, *lower_now = NULL;
                gboolean exists = g_str_equal(steps[i].state, "created") ||
                                  g_str_equal(steps[i].state, "active");

                if (steps[i].op && g_str_equal(steps[i].op, "Create")) {
                        g_autoptr(GUnixFDList) fds = ns_create(&f->env, f->path);

                        g_assert_cmpint(g_unix_fd_list_get_length(fds), ==, 1);
                } else if (steps[i].op) {
                        ns_device_call(&f->env, f->path, steps[i].op);
                }
                ns_env_kill9_daemon(&f->env);
                ns_env_start_daemon(&f->env);
                assert_state(f, steps[i].state);
                g_assert_cmpint(nlc_kernel_link_exists("mt0"), ==, exists);
                nodes = run_nodes(f);
                if (exists) {
                        g_autofree char *node = NULL;

                        assert_macvtap("mt0", "vepa", g_str_equal(steps[i].state, "active"));
                        node = assert_only_node(f, "mt0");
                        /* The restarted daemon never reopens queues. */
                        g_assert_cmpuint(daemon_opens(f, node), ==, 0);
                } else {
                        g_assert_cmpstr(nodes, ==, "");
                        lower_now = bt_link_json(LOWER);
                        g_assert_cmpstr(lower_now, ==, f->lower_before);
                }
                g_assert_cmpint(ns_get_bool(&f->env, f->path, DEV, "OwnsMac"), ==,
                                g_str_equal(steps[i].state, "active"));
        }
        ns_device_call(&f->env, f->path, "Free");
        ns_env_kill9_daemon(&f->env);
        ns_env_start_daemon(&f->env);
        g_assert_false(bt_device_exported(&f->env, NULL));
}

/* The kernel drifts while the daemon is down: the restart repairs it. */
static void
test_drift_repaired(Fixture *f, gconstpointer data)
{
        g_autofree char *created =
                allocate(f, "vm2", "52:54:00:00:0d:02", "{'link': <'low1'>, 'ifname': <'mt1'>}");
        g_autofree char *node = NULL;
        g_autoptr(GUnixFDList) fds1 = ns_create(&f->env, created);
        KernelLink k;

        f->path = allocate(f, "vm1", MAC, OPTS);
        f->fds = ns_create(&f->env, f->path);
        ns_device_call(&f->env, f->path, "Activate");
        node = assert_node(f, "mt0");
        ns_env_kill9_daemon(&f->env);
        /* The active one: down, another MAC, its node gone. */
        ns_sh("ip link set mt0 down && ip link set mt0 address 52:54:00:00:0d:99");
        g_assert_cmpint(unlink(node), ==, 0);
        /* The created one: up. */
        ns_sh("ip link set mt1 up");
        ns_env_start_daemon(&f->env);
        assert_state(f, "active");
        assert_macvtap("mt0", "bridge", TRUE);
        g_assert_cmpint(access(node, F_OK), ==, 0);
        assert_state_of(f, created, "created");
        kernel_link_read("mt1", &k);
        g_assert_false(k.up);
        g_assert_cmpstr(k.address, ==, "52:54:00:00:0d:02");
        g_assert_cmpstr(k.lower, ==, "low1");
        g_free(assert_node(f, "mt1"));
}

/* The macvtap deleted while the daemon is down: the restart makes it again
 * on the lower, in its mode, with the guest MAC and a node for the new
 * ifindex; the active one comes back up. */
static void
test_vanished_recreated(Fixture *f, gconstpointer data)
{
        g_autofree char *node = NULL, *new_node = NULL, *want = NULL;
        KernelLink old, now;

        f->path =
                allocate(f, "vm1", MAC, "{'link': <'low0'>, 'ifname': <'mt0'>, 'mode': <'vepa'>}");
        f->fds = ns_create(&f->env, f->path);
        ns_device_call(&f->env, f->path, "Activate");
        node = assert_node(f, "mt0");
        kernel_link_read("mt0", &old);
        ns_env_kill9_daemon(&f->env);
        ns_sh("ip link del mt0");
        ns_env_start_daemon(&f->env);
        assert_state(f, "active");
        assert_macvtap("mt0", "vepa", TRUE);
        kernel_link_read("mt0", &now);
        g_assert_cmpint(now.ifindex, !=, old.ifindex);
        new_node = assert_only_node(f, "mt0"); /* the old node is gone */
        want = node_path(f, now.ifindex);
        g_assert_cmpstr(new_node, ==, want);
        g_assert_cmpuint(daemon_opens(f, new_node), ==, 0); /* no queues nobody reads */
        ns_device_call(&f->env, f->path, "Deactivate");
        assert_macvtap("mt0", "vepa", FALSE);
}

/* Two macvtaps with the guest MAC on one lower (one instance): only the
 * active one is up; activating the other hands the MAC over; a third device
 * of another instance is refused while the MAC is held. */
static void
test_same_mac_handover(Fixture *f, gconstpointer data)
{
        g_autofree char *a = allocate(f, "vm1", MAC, OPTS);
        g_autofree char *b = allocate(f, "vm1", MAC, "{'link': <'low0'>, 'ifname': <'mt1'>}");
        g_autofree char *c = allocate(f, "vm2", MAC, "{'link': <'low0'>, 'ifname': <'mt2'>}");
        g_autofree char *handover = g_strdup_printf("%s active>created:handover", a);
        g_autoptr(GUnixFDList) fa = ns_create(&f->env, a);
        g_autoptr(GUnixFDList) fb = ns_create(&f->env, b);
        g_autoptr(GUnixFDList) fc = ns_create(&f->env, c);
        g_autoptr(GVariant) got = NULL;
        const char *got_path;
        gboolean seen = FALSE;

        assert_macvtap("mt0", "bridge", FALSE);
        assert_macvtap("mt1", "bridge", FALSE);
        assert_macvtap("mt2", "bridge", FALSE);

        ns_device_call(&f->env, a, "Activate");
        g_assert_true(link_up("mt0"));
        g_assert_false(link_up("mt1"));
        g_assert_false(link_up("mt2"));

        ns_device_call(&f->env, b, "Activate");
        assert_state_of(f, a, "created");
        assert_state_of(f, b, "active");
        g_assert_false(link_up("mt0"));
        g_assert_true(link_up("mt1"));
        g_assert_false(link_up("mt2"));
        g_assert_false(ns_get_bool(&f->env, a, DEV, "OwnsMac"));
        g_assert_true(ns_get_bool(&f->env, b, DEV, "OwnsMac"));
        got = ns_call(&f->env, "/org/netlifecd1", MGR, "GetDevice",
                      g_variant_new("(ss)", "vm1", MAC), "(o)", NULL);
        g_assert_nonnull(got);
        g_variant_get(got, "(&o)", &got_path);
        g_assert_cmpstr(got_path, ==, b);
        bt_drain_signals();
        for (guint i = 0; i < f->changes->len; i++)
                seen = seen || g_str_equal(f->changes->pdata[i], handover);
        g_assert_true(seen);

        /* Another instance: Conflict, and nothing moves. */
        {
                g_autofree char *before = kernel_snapshot(f, "mt2"), *after = NULL;
                g_autofree char *before1 = bt_link_json("mt1"), *after1 = NULL;

                ns_call_expect_error(&f->env, c, DEV, "Activate", NULL,
                                     "org.netlifecd1.Error.Conflict");
                after = kernel_snapshot(f, "mt2");
                after1 = bt_link_json("mt1");
                g_assert_cmpstr(after, ==, before);
                g_assert_cmpstr(after1, ==, before1);
                assert_state_of(f, c, "created");
                assert_state_of(f, b, "active");
        }

        /* And back to the first. */
        ns_device_call(&f->env, a, "Activate");
        assert_state_of(f, a, "active");
        assert_state_of(f, b, "created");
        g_assert_true(link_up("mt0"));
        g_assert_false(link_up("mt1"));

        /* Released, the MAC can go to the other instance, which then holds it. */
        ns_device_call(&f->env, a, "Deactivate");
        g_assert_false(link_up("mt0"));
        ns_device_call(&f->env, c, "Activate");
        g_assert_true(link_up("mt2"));
        ns_call_expect_error(&f->env, b, DEV, "Activate", NULL, "org.netlifecd1.Error.Conflict");
        g_assert_false(link_up("mt0"));
        g_assert_false(link_up("mt1"));
        g_assert_true(link_up("mt2"));

        /* The holder survives a restart: still a Conflict afterwards. */
        ns_env_kill9_daemon(&f->env);
        ns_env_start_daemon(&f->env);
        ns_call_expect_error(&f->env, a, DEV, "Activate", NULL, "org.netlifecd1.Error.Conflict");
        g_assert_false(link_up("mt0"));
        g_assert_true(link_up("mt2"));
}

/* On one lower device the kernel refuses a second macvtap up with the MAC,
 * so the holder goes down first; when the new one then fails (its macvtap
 * deleted behind the daemon), the holder takes the MAC back, up and
 * registered again: another instance still meets Conflict. */
static void
test_failed_handover_takes_back(Fixture *f, gconstpointer data)
{
        g_autofree char *a = allocate(f, "vm1", MAC, OPTS);
        g_autofree char *b = allocate(f, "vm1", MAC, "{'link': <'low0'>, 'ifname': <'mt1'>}");
        g_autofree char *c = allocate(f, "vm2", MAC, "{'link': <'low0'>, 'ifname': <'mt2'>}");
        g_autoptr(GUnixFDList) fa = ns_create(&f->env, a);
        g_autoptr(GUnixFDList) fb = ns_create(&f->env, b);
        g_autoptr(GUnixFDList) fc = ns_create(&f->env, c);
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL;

        ns_device_call(&f->env, a, "Activate");
        ns_sh("ip link del mt1");
        r = ns_call(&f->env, b, DEV, "Activate", NULL, NULL, &error);
        g_assert_null(r);
        g_assert_nonnull(error);
        assert_state_of(f, a, "active");
        g_assert_true(link_up("mt0"));
        g_assert_true(ns_get_bool(&f->env, a, DEV, "OwnsMac"));
        ns_call_expect_error(&f->env, c, DEV, "Activate", NULL, "org.netlifecd1.Error.Conflict");
        g_assert_false(link_up("mt2"));
}

static void
test_notify_adopts(Fixture *f, gconstpointer data)
{
        g_autofree char *again = NULL, *active_path = NULL, *node = NULL;

        ns_sh("ip link add link " LOWER " name at0 address " MAC " type macvtap mode bridge");
        f->path = call_manager(f, "Notify", "vm1", MAC, "{'link': <'low0'>, 'ifname': <'at0'>}");
        assert_state(f, "created");
        assert_macvtap("at0", "bridge", FALSE);
        node = assert_only_node(f, "at0"); /* the node made for it */
        g_assert_cmpuint(daemon_opens(f, node), ==, 0);
        again = call_manager(f, "Notify", "vm1", MAC, "{'link': <'low0'>, 'ifname': <'at0'>}");
        g_assert_cmpstr(again, ==, f->path);
        ns_device_call(&f->env, f->path, "Activate");
        assert_macvtap("at0", "bridge", TRUE);
        ns_device_call(&f->env, f->path, "Deactivate");
        ns_device_call(&f->env, f->path, "Destroy");
        g_assert_false(nlc_kernel_link_exists("at0"));
        ns_device_call(&f->env, f->path, "Free");

        /* One that is up is adopted active. */
        ns_sh("ip link add link " LOWER " name at1 address " MAC " type macvtap mode private");
        ns_sh("ip link set at1 up");
        active_path =
                call_manager(f, "Notify", "vm2", MAC, "{'link': <'low0'>, 'ifname': <'at1'>}");
        assert_state_of(f, active_path, "active");
        g_assert_true(ns_get_bool(&f->env, active_path, DEV, "OwnsMac"));

        /* On another lower, with another MAC: not ours to take. */
        ns_sh("ip link add link low1 name at2 address 52:54:00:00:0d:02 type macvtap");
        expect_manager_error(f, "Notify", "vm3", "52:54:00:00:0d:02",
                             "{'link': <'low0'>, 'ifname': <'at2'>}",
                             "org.netlifecd1.Error.Conflict");
        expect_manager_error(f, "Notify", "vm3", "52:54:00:00:0d:03",
                             "{'link': <'low1'>, 'ifname': <'at2'>}",
                             "org.netlifecd1.Error.Conflict");
        g_assert_false(link_up("at2"));
}

static void
test_sigterm_leaves_devices(Fixture *f, gconstpointer data)
{
        g_autofree char *node = NULL;

        f->path = allocate(f, "vm1", MAC, OPTS);
        f->fds = ns_create(&f->env, f->path);
        ns_device_call(&f->env, f->path, "Activate");
        node = assert_node(f, "mt0");
        nlc_test_stop_daemon(&f->env, SIGTERM); /* asserts exit status 0 */
        assert_macvtap("mt0", "bridge", TRUE);
        g_assert_cmpint(access(node, F_OK), ==, 0);
        ns_env_start_daemon(&f->env);
        assert_state(f, "active");
        assert_macvtap("mt0", "bridge", TRUE);
}

/* Manager.Backends: the three built-in backends, each with exactly the
 * documented keys, its capabilities and its options' GVariant types. */
static void
test_backends(Fixture *f, gconstpointer data)
{
        static const struct {
                const char *name;
                gboolean fd_handover;
                const char *options; /* name:type, sorted */
        } want[] = {
                { "direct", FALSE,
                  "device:s instanceid:s managerid:y pf:s pool:as profileid:s typeid:u "
                  "typeidversion:y vf:u virtualport:s" },
                { "macvtap", TRUE,
                  "ifname:s instanceid:s link:s managerid:y mode:s profileid:s queues:u typeid:u "
                  "typeidversion:y virtualport:s" },
                { "tap-bridge", TRUE,
                  "bpdu-guard:b bridge:s ifname:s lock-mac:b queues:u shareable:b" },
        };
        static const char *const keys[] = {
                "description", "fd-handover",   "option-descriptions",
                "options",     "postcopy-safe", "quiet-until-activate",
        };
        g_autoptr(GVariant) all = ns_get(&f->env, "/org/netlifecd1", MGR, "Backends");
        g_autoptr(GPtrArray) names = g_ptr_array_new();
        GVariantIter iter;
        const char *name;

        g_assert_true(g_variant_is_of_type(all, G_VARIANT_TYPE("a{sa{sv}}")));
        g_variant_iter_init(&iter, all);
        while (g_variant_iter_next(&iter, "{&s@a{sv}}", &name, NULL))
                g_ptr_array_add(names, (gpointer) name);
        g_assert_cmpuint(names->len, ==, G_N_ELEMENTS(want));
        for (guint i = 0; i < G_N_ELEMENTS(want); i++) {
                g_autoptr(GVariant) entry = NULL;
                g_autoptr(GVariant) options = NULL, docs = NULL, desc = NULL;
                g_autoptr(GPtrArray) opt_names = g_ptr_array_new_with_free_func(g_free);
                g_autoptr(GPtrArray) entry_keys = g_ptr_array_new();
                g_autofree char *opt_text = NULL, *keys_text = NULL, *want_keys = NULL;
                GVariantIter it;
                const char *key, *type;
                gboolean b;

                g_test_message("backend %s", want[i].name);
                g_assert_true(g_variant_lookup(all, want[i].name, "@a{sv}", &entry));
                g_variant_iter_init(&it, entry);
                while (g_variant_iter_next(&it, "{&sv}", &key, NULL))
                        g_ptr_array_add(entry_keys, (gpointer) key);
                g_ptr_array_sort(entry_keys, compare_strings);
                g_ptr_array_add(entry_keys, NULL);
                keys_text = g_strjoinv(" ", (char **) entry_keys->pdata);
                want_keys = g_strjoinv(" ", (char **) keys);
                g_assert_cmpstr(keys_text, ==, want_keys);

                g_assert_true(g_variant_lookup(entry, "fd-handover", "b", &b));
                g_assert_cmpint(b, ==, want[i].fd_handover);
                g_assert_true(g_variant_lookup(entry, "quiet-until-activate", "b", &b));
                g_assert_true(b);
                g_assert_true(g_variant_lookup(entry, "postcopy-safe", "b", &b));
                g_assert_true(b);
                desc = g_variant_lookup_value(entry, "description", G_VARIANT_TYPE_STRING);
                g_assert_nonnull(desc);
                g_assert_cmpstr(g_variant_get_string(desc, NULL), !=, "");

                options = g_variant_lookup_value(entry, "options", G_VARIANT_TYPE("a{ss}"));
                docs = g_variant_lookup_value(entry, "option-descriptions",
                                              G_VARIANT_TYPE("a{ss}"));
                g_assert_nonnull(options);
                g_assert_nonnull(docs);
                g_assert_cmpuint(g_variant_n_children(docs), ==, g_variant_n_children(options));
                g_variant_iter_init(&it, options);
                while (g_variant_iter_next(&it, "{&s&s}", &key, &type)) {
                        const char *doc = NULL;

                        g_assert_true(g_variant_type_string_is_valid(type));
                        g_assert_true(g_variant_lookup(docs, key, "&s", &doc));
                        g_assert_cmpstr(doc, !=, "");
                        g_ptr_array_add(opt_names, g_strdup_printf("%s:%s", key, type));
                }
                g_ptr_array_sort(opt_names, compare_strings);
                g_ptr_array_add(opt_names, NULL);
                opt_text = g_strjoinv(" ", (char **) opt_names->pdata);
                g_assert_cmpstr(opt_text, ==, want[i].options);
        }
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, set_up, fn, tear_down)
        ADD("/macvtap/lifecycle/full", test_full_lifecycle);
        ADD("/macvtap/lifecycle/modes", test_modes);
        ADD("/macvtap/lifecycle/idempotent", test_idempotent);
        ADD("/macvtap/lifecycle/out-of-order", test_out_of_order);
        ADD("/macvtap/lifecycle/bad-input", test_bad_input);
        ADD("/macvtap/lifecycle/lower-gone", test_lower_gone);
        ADD("/macvtap/lifecycle/destroy-when-gone", test_destroy_when_gone);
        ADD("/macvtap/datapath/fds-live", test_fds_live);
        ADD("/macvtap/datapath/announce", test_announce);
        ADD("/macvtap/crash/kill9-between-steps", test_kill9_between_steps);
        ADD("/macvtap/crash/drift-repaired", test_drift_repaired);
        ADD("/macvtap/crash/vanished-recreated", test_vanished_recreated);
        ADD("/macvtap/ownership/same-mac-handover", test_same_mac_handover);
        ADD("/macvtap/ownership/failed-handover-takes-back", test_failed_handover_takes_back);
        ADD("/macvtap/daemon/notify-adopts", test_notify_adopts);
        ADD("/macvtap/daemon/sigterm-leaves-devices", test_sigterm_leaves_devices);
        ADD("/daemon/backends", test_backends);
        return g_test_run();
}
