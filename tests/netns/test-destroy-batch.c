/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Coalesced destroys against the real kernel: many callers at once over
 * mixed backends (taps and macvtaps deleted in one request, direct devices
 * restored, each caller answered), Manager.DestroyInstances, a foreign link
 * in the daemon's netdev group left alone, kill -9 in the middle of a
 * batch, and a Destroy answered once the kernel unlisted the link.
 */
#include <string.h>

#include "ns-env.h"
#include "nlc-test-log.h"

#define NLC_MANAGER "org.netlifecd1.Manager"
#define NLC_DEVICE  "org.netlifecd1.Device"
#define ROUNDS      20

/* Replies to calls sent without waiting, counted as they come. */
typedef struct {
        guint pending;
        guint ok;
        GPtrArray *errors; /* D-Bus error names, in arrival order */
} Replies;

static void
on_reply(GObject *source, GAsyncResult *result, gpointer data)
{
        Replies *r = data;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply =
                g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);

        r->pending--;
        if (reply)
                r->ok++;
        else
                g_ptr_array_add(r->errors, g_dbus_error_get_remote_error(error));
}

static void
send_call(NsEnv *env, const char *path, const char *iface, const char *method, GVariant *params,
          Replies *r)
{
        r->pending++;
        g_dbus_connection_call(env->conn, "org.netlifecd1", path, iface, method, params, NULL,
                               G_DBUS_CALL_FLAGS_NONE, 60000, NULL, on_reply, r);
}

static gboolean
all_replied(gpointer data)
{
        return ((Replies *) data)->pending == 0;
}

static void
wait_replies(Replies *r)
{
        g_assert_true(ns_wait(all_replied, r, 60000));
}

static gboolean
link_exists(const char *ifname)
{
        g_autofree char *out = ns_sh_out("ip -o link show dev %s 2>/dev/null || true", ifname);

        return out && *out;
}

static guint
count_links(const char *type)
{
        g_autofree char *out = ns_sh_out("ip -o link show type %s | wc -l", type);

        return (guint) g_ascii_strtoull(out, NULL, 10);
}

/* "destroy batch: N links deleted in one request": the largest N logged. */
static guint
largest_batch(NsEnv *env)
{
        g_autofree char *log = NULL;
        guint best = 0;

        g_assert_true(g_file_get_contents(env->daemon_log, &log, NULL, NULL));
        for (const char *p = log; (p = strstr(p, "destroy batch: ")); p++) {
                guint n = (guint) g_ascii_strtoull(p + strlen("destroy batch: "), NULL, 10);

                best = MAX(best, n);
        }
        return best;
}

static char *
allocate_created_on(NsEnv *env, const char *backend, const char *instance, const char *mac,
                    const char *options)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = ns_call(
                env, "/org/netlifecd1", NLC_MANAGER, "Allocate",
                g_variant_new("(sss@a{sv})", instance, backend, mac, g_variant_new_parsed(options)),
                "(o)", &error);
        char *path = NULL;
        g_autoptr(GVariant) created = NULL;

        g_assert_no_error(error);
        g_variant_get(reply, "(o)", &path);
        /* The queue fds (none for a direct device) are not needed here. */
        created = ns_call(env, path, NLC_DEVICE, "Create", NULL, NULL, &error);
        g_assert_no_error(error);
        return path;
}

static char *
allocate_created(NsEnv *env, const char *instance, const char *mac, const char *options)
{
        return allocate_created_on(env, "tap-bridge", instance, mac, options);
}

static char *
tap_options(guint i)
{
        return g_strdup_printf("{'bridge': <'br0'>, 'ifname': <'tb%u'>}", i);
}

static char *
mac_of(guint i)
{
        return g_strdup_printf("52:54:00:44:%02x:%02x", i / 256, i % 256);
}

/* N taps of one instance each, created; their paths. */
static GPtrArray *
create_taps(NsEnv *env, guint n, guint first)
{
        GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);

        for (guint i = first; i < first + n; i++) {
                g_autofree char *opts = tap_options(i), *mac = mac_of(i);
                g_autofree char *instance = g_strdup_printf("vm%u", i);

                g_ptr_array_add(paths, allocate_created(env, instance, mac, opts));
        }
        return paths;
}

static void
destroy_all_at_once(NsEnv *env, GPtrArray *paths, Replies *r)
{
        for (guint i = 0; i < paths->len; i++)
                send_call(env, paths->pdata[i], NLC_DEVICE, "Destroy", NULL, r);
}

static void
test_concurrent_mixed(void)
{
        NsEnv env;
        g_autoptr(GPtrArray) taps = NULL;
        g_autoptr(GPtrArray) others = g_ptr_array_new_with_free_func(g_free);
        Replies r = { 0, 0, g_ptr_array_new_with_free_func(g_free) };
        Replies busy = { 0, 0, g_ptr_array_new_with_free_func(g_free) };
        g_autofree char *dv0_mac = NULL;
        g_autofree char *config = ns_config_arg("[allow]\ndirect-devices = dv0;dv1\n");
        const char *args[] = { config, NULL };

        ns_env_set_up_full(&env, args, TRUE);
        ns_sh("ip link add br0 type bridge && ip link set br0 up");
        ns_sh("ip link add low0 type veth peer name low0-peer && ip link set low0 up");
        ns_sh("ip link add dv0 type veth peer name dv0-peer && ip link add dv1 type veth peer "
              "name dv1-peer");
        dv0_mac = ns_sh_out("cat /sys/class/net/dv0/address");
        taps = create_taps(&env, 40, 0);
        for (guint i = 0; i < 8; i++) {
                g_autofree char *opts =
                        g_strdup_printf("{'link': <'low0'>, 'ifname': <'mv%u'>}", i);
                g_autofree char *mac = mac_of(100 + i), *instance = g_strdup_printf("mv%u", i);

                g_ptr_array_add(others, allocate_created_on(&env, "macvtap", instance, mac, opts));
        }
        g_ptr_array_add(others, allocate_created_on(&env, "direct", "dv0", "52:54:00:44:0e:00",
                                                    "{'device': <'dv0'>}"));
        g_ptr_array_add(others, allocate_created_on(&env, "direct", "dv1", "52:54:00:44:0e:01",
                                                    "{'device': <'dv1'>}"));
        g_assert_cmpuint(count_links("tun"), ==, 40);
        g_assert_cmpuint(count_links("macvtap"), ==, 8);

        /* Everything at once, one device twice, and a call that must not
         * slip in between a queued Destroy and its batch. */
        destroy_all_at_once(&env, taps, &r);
        destroy_all_at_once(&env, others, &r);
        send_call(&env, taps->pdata[0], NLC_DEVICE, "Destroy", NULL, &r);
        send_call(&env, taps->pdata[1], NLC_DEVICE, "Activate", NULL, &busy);
        wait_replies(&r);
        wait_replies(&busy);

        g_assert_cmpuint(r.errors->len, ==, 0);
        g_assert_cmpuint(r.ok, ==, 40 + 8 + 2 + 1);
        /* Busy while queued, or refused as destroyed after: never run. */
        g_assert_cmpuint(busy.ok, ==, 0);
        g_assert_cmpuint(busy.errors->len, ==, 1);
        g_assert_true(g_str_equal(busy.errors->pdata[0], "org.netlifecd1.Error.Busy") ||
                      g_str_equal(busy.errors->pdata[0], "org.netlifecd1.Error.InvalidState"));
        for (guint i = 0; i < taps->len; i++) {
                g_autofree char *state = ns_get_string(&env, taps->pdata[i], NLC_DEVICE, "State");

                g_assert_cmpstr(state, ==, "destroyed");
        }
        for (guint i = 0; i < others->len; i++) {
                g_autofree char *state = ns_get_string(&env, others->pdata[i], NLC_DEVICE, "State");

                g_assert_cmpstr(state, ==, "destroyed");
        }
        g_assert_cmpuint(count_links("tun"), ==, 0);
        g_assert_cmpuint(count_links("macvtap"), ==, 0);
        /* Direct devices are restored, never deleted. */
        g_assert_true(link_exists("dv0"));
        g_assert_true(link_exists("dv1"));
        {
                g_autofree char *mac = ns_sh_out("cat /sys/class/net/dv0/address");

                g_assert_cmpstr(mac, ==, dv0_mac);
        }
        /* Coalesced: the taps and macvtaps went in few requests. */
        g_test_message("largest batch: %u links", largest_batch(&env));
        g_assert_cmpuint(largest_batch(&env), >=, 10);
        g_ptr_array_unref(r.errors);
        g_ptr_array_unref(busy.errors);
        ns_env_tear_down(&env);
}

static void
test_destroy_instances(void)
{
        NsEnv env;
        g_autofree char *a0 = NULL, *a1 = NULL, *b0 = NULL, *c0 = NULL, *a_alloc = NULL;
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *state = NULL;

        ns_env_set_up(&env, NULL);
        ns_sh("ip link add br0 type bridge && ip link set br0 up");
        a0 = allocate_created(&env, "vm-a", "52:54:00:45:00:01",
                              "{'bridge': <'br0'>, 'ifname': <'ta0'>}");
        a1 = allocate_created(&env, "vm-a", "52:54:00:45:00:02",
                              "{'bridge': <'br0'>, 'ifname': <'ta1'>}");
        a_alloc = ns_allocate(&env, "vm-a", "52:54:00:45:00:03",
                              "{'bridge': <'br0'>, 'ifname': <'ta2'>}");
        b0 = allocate_created(&env, "vm-b", "52:54:00:45:01:01",
                              "{'bridge': <'br0'>, 'ifname': <'tb0'>}");
        c0 = allocate_created(&env, "vm-c", "52:54:00:45:02:01",
                              "{'bridge': <'br0'>, 'ifname': <'tc0'>}");
        ns_device_call(&env, a0, "Activate");

        /* An unknown name: NotFound, and nothing destroyed. */
        ns_call_expect_error(&env, "/org/netlifecd1", NLC_MANAGER, "DestroyInstances",
                             g_variant_new_parsed("(['vm-a', 'vm-nope'],)"),
                             "org.netlifecd1.Error.NotFound");
        g_assert_true(link_exists("ta0"));

        reply = ns_call(&env, "/org/netlifecd1", NLC_MANAGER, "DestroyInstances",
                        g_variant_new_parsed("(['vm-a', 'vm-b'],)"), "()", &error);
        g_assert_no_error(error);
        g_assert_false(link_exists("ta0"));
        g_assert_false(link_exists("ta1"));
        g_assert_false(link_exists("tb0"));
        g_assert_true(link_exists("tc0"));
        state = ns_get_string(&env, a0, NLC_DEVICE, "State");
        g_assert_cmpstr(state, ==, "destroyed");
        g_clear_pointer(&state, g_free);
        state = ns_get_string(&env, a_alloc, NLC_DEVICE, "State");
        g_assert_cmpstr(state, ==, "allocated");
        g_clear_pointer(&state, g_free);
        state = ns_get_string(&env, c0, NLC_DEVICE, "State");
        g_assert_cmpstr(state, ==, "created");
        /* The active one gave its MAC up on the way. */
        {
                g_autofree char *fdb = ns_kernel_fdb_static("52:54:00:45:00:01");

                g_assert_cmpstr(fdb, ==, "");
        }
        /* Again: nothing left to do, success. */
        g_clear_pointer(&reply, g_variant_unref);
        reply = ns_call(&env, "/org/netlifecd1", NLC_MANAGER, "DestroyInstances",
                        g_variant_new_parsed("(['vm-a'],)"), "()", &error);
        g_assert_no_error(error);
        ns_env_tear_down(&env);
}

/* The kernel answers RTM_DELLINK only after its RCU barrier; the daemon
 * answers Destroy when its monitor sees the link go, before that. Then the
 * link must be gone and its name free: the next device of each round takes
 * the same name at once. */
static void
test_answered_when_unlisted(void)
{
        const char *const verbose[] = { "--verbose", NULL };
        NsEnv env;
        guint early;

        ns_env_set_up(&env, verbose);
        ns_sh("ip link add br0 type bridge && ip link set br0 up");
        for (guint i = 0; i < ROUNDS; i++) {
                g_autofree char *instance = g_strdup_printf("vm%u", i), *mac = mac_of(i);
                g_autofree char *path = allocate_created(&env, instance, mac,
                                                         "{'bridge': <'br0'>, 'ifname': <'tl0'>}");
                g_autofree char *state = NULL;

                g_assert_true(link_exists("tl0"));
                ns_device_call(&env, path, "Destroy");
                g_assert_false(link_exists("tl0"));
                state = ns_get_string(&env, path, NLC_DEVICE, "State");
                g_assert_cmpstr(state, ==, "destroyed");
                ns_device_call(&env, path, "Free");
        }
        /* Not every time: when the daemon's loop is slow, the kernel's answer
         * may be read first (a loaded machine, a sanitizer build). */
        early = nlc_test_log_count(env.daemon_log, "link gone before the kernel answered");
        g_test_message("%u of %u destroys answered before the kernel's answer", early, ROUNDS);
        g_assert_cmpuint(early, >=, 1);
        ns_env_tear_down(&env);
}

static char *
group_file(NsEnv *env)
{
        g_autofree char *path = g_build_filename(env->dir, "state", "destroy-group", NULL);
        char *text = NULL;

        g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
        return g_strstrip(text);
}

static void
test_foreign_in_group(void)
{
        NsEnv env;
        g_autoptr(GPtrArray) first = NULL, rest = NULL;
        Replies r = { 0, 0, g_ptr_array_new_with_free_func(g_free) };
        g_autofree char *group = NULL, *group_after = NULL;

        ns_env_set_up(&env, NULL);
        ns_sh("ip link add br0 type bridge && ip link set br0 up");
        /* Sent together, some of them share a batch: a group is picked (a
         * lone link is deleted without one). */
        first = create_taps(&env, 6, 0);
        destroy_all_at_once(&env, first, &r);
        wait_replies(&r);
        group = group_file(&env);
        g_assert_cmpuint(g_ascii_strtoull(group, NULL, 10), >=, 0x10000);

        /* Someone else puts a link in the daemon's group. */
        ns_sh("ip link add fx0 type veth peer name fx0-peer && ip link set fx0 group %s", group);
        rest = create_taps(&env, 6, 10);
        destroy_all_at_once(&env, rest, &r);
        wait_replies(&r);
        g_assert_cmpuint(r.errors->len, ==, 0);
        g_assert_cmpuint(r.ok, ==, 12);
        g_assert_cmpuint(count_links("tun"), ==, 0);
        g_assert_true(link_exists("fx0"));
        /* A new group was picked and journalled; the next batch uses it. */
        group_after = group_file(&env);
        g_assert_cmpstr(group_after, !=, group);
        g_ptr_array_unref(rest);
        rest = create_taps(&env, 4, 20);
        destroy_all_at_once(&env, rest, &r);
        wait_replies(&r);
        g_assert_cmpuint(r.ok, ==, 16);
        g_assert_cmpuint(count_links("tun"), ==, 0);
        g_assert_true(link_exists("fx0"));
        g_ptr_array_unref(r.errors);
        ns_env_tear_down(&env);
}

/* Killed after a random delay while a batch of 60 runs; the restarted
 * daemon and the kernel must agree on every device, and what was not
 * destroyed can still be. */
static void
test_kill9_mid_batch(void)
{
        NsEnv env;
        g_autoptr(GPtrArray) paths = NULL;
        Replies r = { 0, 0, g_ptr_array_new_with_free_func(g_free) };
        guint delay_ms = (guint) g_test_rand_int_range(0, 150);
        guint destroyed = 0;

        ns_env_set_up(&env, NULL);
        ns_sh("ip link add br0 type bridge && ip link set br0 up");
        paths = create_taps(&env, 60, 0);
        destroy_all_at_once(&env, paths, &r);
        g_usleep(delay_ms * 1000);
        ns_env_kill9_daemon(&env);
        wait_replies(&r);
        ns_env_start_daemon(&env);

        for (guint i = 0; i < paths->len; i++) {
                g_autofree char *state = ns_get_string(&env, paths->pdata[i], NLC_DEVICE, "State");
                g_autofree char *tap = g_strdup_printf("tb%u", i);

                if (g_str_equal(state, "destroyed")) {
                        destroyed++;
                        g_assert_false(link_exists(tap));
                } else {
                        g_assert_cmpstr(state, ==, "created");
                        g_assert_true(link_exists(tap));
                }
        }
        g_test_message("killed %u ms into the batch: %u of 60 destroyed, %u answered before",
                       delay_ms, destroyed, r.ok);
        /* Nothing the daemon still keeps is left in its netdev group, where
         * a later batch would delete it unasked. */
        {
                g_autofree char *path = g_build_filename(env.dir, "state", "destroy-group", NULL);
                g_autofree char *group = NULL, *members = NULL;

                if (g_file_get_contents(path, &group, NULL, NULL)) {
                        members = ns_sh_out("ip -o link show group %s", g_strstrip(group));
                        g_assert_cmpstr(members, ==, "");
                }
        }
        /* Every caller that got success has its device destroyed. */
        g_assert_cmpuint(destroyed, >=, r.ok);
        destroy_all_at_once(&env, paths, &r);
        wait_replies(&r);
        g_assert_cmpuint(count_links("tun"), ==, 0);
        g_ptr_array_unref(r.errors);
        ns_env_tear_down(&env);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/destroy-batch/concurrent-mixed", test_concurrent_mixed);
        g_test_add_func("/destroy-batch/destroy-instances", test_destroy_instances);
        g_test_add_func("/destroy-batch/foreign-in-group", test_foreign_in_group);
        g_test_add_func("/destroy-batch/kill9-mid-batch", test_kill9_mid_batch);
        g_test_add_func("/destroy-batch/answered-when-unlisted", test_answered_when_unlisted);
        return g_test_run();
}
