/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A guest's port cannot subvert the bridge it shares with every other guest
 * and the host's uplink: its BPDUs change no spanning tree (root_block; with
 * bpdu-guard the kernel disables the port), and the locked port lets through
 * only what the guest sends as its own MAC while its device is active. The
 * daemon's RARP still gets out; the flags come back after a restart; both
 * guards can be turned off per device. Frames are written into the tap's
 * queues as a guest would and watched on the uplink's far end.
 */
#include <json-glib/json-glib.h>
#include <string.h>

#include "nlc-test-dbus.h"
#include "nlc-test-kernel.h"
#include "nlc-test-packet.h"

#define MAC  "52:54:00:12:34:01"
#define TAP  "lt0"
#define WAIT 3000 /* ms for a frame that must come */
#define NONE 500  /* ms that must pass without one */

static char *
allocate(NlcTestEnv *env, const char *bridge, const char *extra)
{
        g_autofree char *opts = g_strdup_printf("{'bridge': <'%s'>, 'ifname': <'" TAP "'>%s%s}",
                                                bridge, extra ? ", " : "", extra ? extra : "");

        return nlc_allocate(env, "vm-1", MAC, opts);
}

static int
first_queue(GUnixFDList *fds)
{
        return g_unix_fd_list_peek_fds(fds, NULL)[0];
}

/* A frame from @src written into the guest's queue: whether it leaves the
 * bridge at the uplink's far end @sock within @wait_ms. */
static gboolean
gets_out(int sock, int fd, const guint8 src[6], guint8 tag, guint wait_ms)
{
        guint8 frame[NLC_FRAME_LEN];

        nlc_frame_build(frame, src, NLC_ETH_TEST, tag);
        nlc_queue_write(fd, frame, sizeof frame);
        return nlc_packet_wait(sock, src, NLC_ETH_TEST, wait_ms, NULL, 0) > 0;
}

/* Created with the defaults: root_block, bpdu_guard and a locked port;
 * allocated with both off: only root_block. Manager.Backends lists both. */
static void
test_defaults_and_options(NlcTestEnv *env, gconstpointer data)
{
        g_autofree char *path = allocate(env, NLC_BRIDGE, NULL);
        g_autofree char *open = NULL;
        g_autoptr(GUnixFDList) fds = nlc_device_create(env, path);
        g_autoptr(GUnixFDList) fds2 = NULL;
        g_autoptr(GVariant) all = nlc_get(env, NLC_MANAGER_PATH, NLC_MANAGER, "Backends");
        g_autoptr(GVariant) tap_bridge = NULL, options = NULL;
        const char *type;

        nlc_assert_tap_port(TAP, NLC_BRIDGE, NLC_BRIDGE_MTU, 1);
        nlc_device_call(env, path, "Destroy");
        nlc_device_call(env, path, "Free");
        open = nlc_allocate(env, "vm-1", MAC,
                            "{'bridge': <'" NLC_BRIDGE "'>, 'ifname': <'" TAP
                            "'>, 'bpdu-guard': <false>, 'lock-mac': <false>}");
        fds2 = nlc_device_create(env, open);
        nlc_assert_port_guards(TAP, FALSE, FALSE);
        g_assert_true(g_variant_lookup(all, "tap-bridge", "@a{sv}", &tap_bridge));
        g_assert_true(g_variant_lookup(tap_bridge, "options", "@a{ss}", &options));
        g_assert_true(g_variant_lookup(options, "bpdu-guard", "&s", &type));
        g_assert_cmpstr(type, ==, "b");
        g_assert_true(g_variant_lookup(options, "lock-mac", "&s", &type));
        g_assert_cmpstr(type, ==, "b");
}

/* The first object of @command's JSON output (iproute2's -j). */
static JsonObject *
first_object(JsonParser *parser, const char *command)
{
        g_autofree char *out = nlc_run_out("%s", command);
        JsonNode *root;

        g_assert_true(json_parser_load_from_data(parser, out, -1, NULL));
        root = json_parser_get_root(parser);
        g_assert_true(JSON_NODE_HOLDS_ARRAY(root));
        return json_array_get_object_element(json_node_get_array(root), 0);
}

/* The bridge's root id and root port, as iproute2 shows them. */
static char *
root_of(const char *bridge)
{
        g_autoptr(JsonParser) parser = json_parser_new();
        g_autofree char *command = g_strdup_printf("ip -j -d link show %s", bridge);
        JsonObject *data = json_object_get_object_member(
                json_object_get_object_member(first_object(parser, command), "linkinfo"),
                "info_data");

        return g_strdup_printf("root %s port %" G_GINT64_FORMAT,
                               json_object_get_string_member(data, "root_id"),
                               json_object_get_int_member(data, "root_port"));
}

static char *
port_state(const char *ifname)
{
        g_autoptr(JsonParser) parser = json_parser_new();
        g_autofree char *command = g_strdup_printf("bridge -j link show dev %s", ifname);

        return g_strdup(json_object_get_string_member(first_object(parser, command), "state"));
}

/* An STP bridge with one uplink; the guest's port counts. */
static void
make_stp_bridge(void)
{
        nlc_run("ip link add bstp type bridge stp_state 1 priority 32768 forward_delay 200");
        nlc_run("ip link add bstp-up type veth peer name bstp-peer");
        nlc_run("ip link set bstp-up master bstp");
        nlc_run("ip link set bstp-up up");
        nlc_run("ip link set bstp-peer up");
        nlc_run("ip link set bstp up");
}

static void
check_bpdus(NlcTestEnv *env, gboolean bpdu_guard)
{
        g_autofree char *path = NULL, *before = NULL, *after = NULL, *state = NULL;
        g_autofree char *shown = NULL, *reason = NULL;
        g_autoptr(GUnixFDList) fds = NULL;

        make_stp_bridge();
        path = allocate(env, "bstp", bpdu_guard ? NULL : "'bpdu-guard': <false>");
        fds = nlc_device_create(env, path);
        g_usleep(300000);
        before = root_of("bstp");
        g_assert_true(g_str_has_suffix(before, " port 0"));
        nlc_queue_write_superior_bpdus(first_queue(fds), 6);
        after = root_of("bstp");
        state = port_state(TAP);
        g_test_message("bpdu-guard %d: before %s, after %s; the guest's port %s", bpdu_guard,
                       before, after, state);
        /* The bridge is still its own root: the guest took nothing over. */
        g_assert_cmpstr(after, ==, before);
        if (bpdu_guard) {
                /* Shown as such, with a signal, and not Ready. */
                g_assert_cmpstr(state, ==, "disabled");
                nlc_expect_port_state(env, path, "disabled", "bpdu-guard", 3000);
        } else {
                g_assert_cmpstr(state, !=, "disabled");
        }
        shown = nlc_get_string(env, path, NLC_DEVICE, "PortState");
        reason = nlc_get_string(env, path, NLC_DEVICE, "PortReason");
        g_assert_cmpstr(shown, ==, state);
        g_assert_false(nlc_get_bool(env, path, NLC_DEVICE, "Ready"));
        if (bpdu_guard)
                g_assert_cmpstr(reason, ==, "bpdu-guard");
}

static void
test_bpdus_guarded(NlcTestEnv *env, gconstpointer data)
{
        check_bpdus(env, TRUE);
}

static void
test_bpdus_root_blocked(NlcTestEnv *env, gconstpointer data)
{
        check_bpdus(env, FALSE);
}

/* Locked: the guest's own MAC gets out while its device is active, another
 * never, and nothing while it is not active; the daemon's RARP at Activate
 * does (the static entry comes first). */
static void
test_locked(NlcTestEnv *env, gconstpointer data)
{
        static const guint8 foreign[6] = { 0x02, 0x00, 0x00, 0x00, 0x0f, 0x01 };
        int sock = nlc_packet_open(NLC_PEER_VETH);
        g_autofree char *path = allocate(env, NLC_BRIDGE, NULL);
        g_autoptr(GUnixFDList) fds = nlc_device_create(env, path);
        int fd = first_queue(fds);
        guint8 guest[6];

        nlc_mac_parse(MAC, guest);
        nlc_test_step("created, not active: nothing gets out");
        g_assert_false(gets_out(sock, fd, guest, 0x10, NONE));
        nlc_test_step("Activate: the RARP gets out, then the guest's own frames");
        nlc_device_call(env, path, "Activate");
        g_assert_cmpint(nlc_packet_wait(sock, guest, NLC_ETH_RARP, WAIT, NULL, 0), >, 0);
        g_assert_true(gets_out(sock, fd, guest, 0x11, WAIT));
        nlc_test_step("a foreign source MAC never gets out");
        g_assert_false(gets_out(sock, fd, foreign, 0x12, NONE));
        nlc_test_step("deactivated: nothing again");
        nlc_device_call(env, path, "Deactivate");
        g_assert_false(gets_out(sock, fd, guest, 0x14, NONE));
        close(sock);
}

/* lock-mac off, for a guest that uses other MACs: they get out. */
static void
test_unlocked(NlcTestEnv *env, gconstpointer data)
{
        static const guint8 foreign[6] = { 0x02, 0x00, 0x00, 0x00, 0x0f, 0x02 };
        int sock = nlc_packet_open(NLC_PEER_VETH);
        g_autofree char *path = allocate(env, NLC_BRIDGE, "'lock-mac': <false>");
        g_autoptr(GUnixFDList) fds = nlc_device_create(env, path);

        nlc_device_call(env, path, "Activate");
        g_assert_true(gets_out(sock, first_queue(fds), foreign, 0x21, WAIT));
        close(sock);
}

/* The guards turned off behind the daemon come back at its next start,
 * like the other port flags. */
static void
test_repaired_after_restart(NlcTestEnv *env, gconstpointer data)
{
        g_autofree char *path = allocate(env, NLC_BRIDGE, NULL);
        g_autoptr(GUnixFDList) fds = nlc_device_create(env, path);
        g_autoptr(NlcLink) drifted = NULL;

        nlc_run("bridge link set dev " TAP " guard off root_block off locked off learning on");
        drifted = nlc_link_read(TAP);
        g_assert_false(drifted->guard || drifted->root_block || drifted->locked);
        nlc_test_kill9_daemon(env);
        nlc_test_start_daemon(env);
        nlc_assert_tap_port(TAP, NLC_BRIDGE, NLC_BRIDGE_MTU, 1);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        nlc_test_add("/guest-port/defaults-and-options", test_defaults_and_options, NULL);
        nlc_test_add("/guest-port/bpdus-guarded", test_bpdus_guarded, NULL);
        nlc_test_add("/guest-port/bpdus-root-blocked", test_bpdus_root_blocked, NULL);
        nlc_test_add("/guest-port/locked", test_locked, NULL);
        nlc_test_add("/guest-port/unlocked", test_unlocked, NULL);
        nlc_test_add("/guest-port/repaired-after-restart", test_repaired_after_restart, NULL);
        return g_test_run();
}
