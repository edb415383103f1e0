/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Who may do what, with callers that really are other uids (this binary in
 * "probe" mode under setpriv) on a system-style bus whose policy is the
 * shipped one (the outer wall), once with a real polkitd (Debian's, its
 * rules and actions directories bind-mounted from the test's: the shipped
 * policy and rules plus the test's own) and once with the daemon's own rules
 * ([authorization] in its configuration) saying the same:
 *
 *   - a member of the group manages its own instance;
 *   - another member cannot touch it: not deactivate its device, not take
 *     its MAC into that instance, not destroy it (manage-any-instance);
 *   - the direct backend needs use-direct, which only root holds;
 *   - a member a rule refuses migrate cannot migrate;
 *   - an administrator (a rule grants manage-any-instance) and root can;
 *   - ownership survives a restart of the daemon.
 *
 * The daemon serves that bus as the system bus (no --address), so polkit is
 * asked about the caller's bus name, as in production.
 */
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "../unit/nlc-fake-qmp.h"
#include "nlc-test-ns.h"
#include "ns-env.h"

#define GROUP  "netlifecd"
#define USER_A "nlc-az-a"
#define USER_B "nlc-az-b"
#define ADMIN  "nlc-az-admin"
#define NOMIG  "nlc-az-nomig"  /* refused migrate and read by rule */
#define READER "nlc-az-reader" /* refused manage by rule */
#define MAC_A  "52:54:00:0a:00:01"
/* What the host lets callers use, the same with either backend. */
#define ALLOW                                                                           \
        "[allow]\nbridges = br0:@" GROUP ";brx:root\nmacvtap-links = low0:" USER_A "\n" \
        "direct-devices = dz0;up0\nqmp-dirs = /run/nlc-az-qmp:@" GROUP "\n"

/* nlc-test-daemon.h's bus (system-style, see set_up()), polkitd on it and
 * the daemon serving it as the system bus. */
typedef NlcTestDaemon World;

/* ---- probe mode: calls as another uid, one line of result each ---- */

static char *
result_of(GVariant *reply, GError *error)
{
        g_autofree char *name = NULL;

        if (!reply) {
                name = g_dbus_error_get_remote_error(error);
                return g_strdup_printf("err %s %s", name ? name : "?", error->message);
        }
        if (g_variant_is_of_type(reply, G_VARIANT_TYPE("(o)"))) {
                const char *path;

                g_variant_get(reply, "(&o)", &path);
                return g_strdup_printf("ok %s", path);
        }
        return g_strdup("ok");
}

/* Commands: "alloc INSTANCE MAC BACKEND KEY=VALUE", "call PATH IFACE
 * METHOD", "destroy-instances NAME", "get-instance NAME", "migrate NAME". */
static char *
probe_one(GDBusConnection *conn, const char *command)
{
        g_auto(GStrv) w = g_strsplit(command, " ", -1);
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = NULL;
        const char *path = "/org/netlifecd1", *iface = "org.netlifecd1.Manager", *method = w[0];
        GVariant *args = NULL;

        if (g_str_equal(w[0], "alloc")) {
                g_auto(GStrv) kv = g_strsplit(w[4], "=", 2);
                const char *backend = w[3];
                GVariantBuilder opts;

                g_variant_builder_init(&opts, G_VARIANT_TYPE_VARDICT);
                g_variant_builder_add(&opts, "{sv}", kv[0], g_variant_new_string(kv[1]));
                /* "tap-bridge" is on br0, "tap-bridge-brx" on brx. */
                if (g_str_has_prefix(backend, "tap-bridge")) {
                        g_variant_builder_add(
                                &opts, "{sv}", "bridge",
                                g_variant_new_string(backend[10] ? backend + 11 : "br0"));
                        backend = "tap-bridge";
                }
                method = "Allocate";
                args = g_variant_new("(sssa{sv})", w[1], backend, w[2], &opts);
        } else if (g_str_equal(w[0], "call")) {
                path = w[1], iface = w[2], method = w[3];
        } else if (g_str_equal(w[0], "destroy-instances")) {
                const char *names[] = { w[1], NULL };

                method = "DestroyInstances";
                args = g_variant_new("(^as)", names);
        } else if (g_str_equal(w[0], "get-instance")) {
                method = "GetInstance";
                args = g_variant_new("(s)", w[1]);
        } else if (g_str_equal(w[0], "get")) {
                g_autoptr(GVariant) value = NULL;

                reply = g_dbus_connection_call_sync(
                        conn, "org.netlifecd1", w[1], "org.freedesktop.DBus.Properties", "Get",
                        g_variant_new("(ss)", w[2], w[3]), G_VARIANT_TYPE("(v)"),
                        G_DBUS_CALL_FLAGS_NONE, 10000, NULL, &error);
                if (!reply)
                        return result_of(NULL, error);
                g_variant_get(reply, "(v)", &value);
                return g_strdup_printf("ok %s", g_variant_get_string(value, NULL));
        } else if (g_str_equal(w[0], "set")) {
                path = w[1], iface = "org.freedesktop.DBus.Properties", method = "Set";
                args = g_variant_new("(ssv)", w[2], w[3],
                                     g_variant_new_boolean(g_str_equal(w[4], "true")));
        } else if (g_str_equal(w[0], "attach")) {
                method = "AttachQemu";
                args = g_variant_new("(ss)", w[1], w[2]);
        } else if (g_str_equal(w[0], "migrate")) {
                method = "Migrate";
                args = g_variant_new("(ssa{sv})", w[1], "tcp:198.51.100.9:4444", NULL);
        }
        reply = g_dbus_connection_call_with_unix_fd_list_sync(
                conn, "org.netlifecd1", path, iface, method, args, NULL, G_DBUS_CALL_FLAGS_NONE,
                10000, NULL, NULL, NULL, &error);
        return result_of(reply, error);
}

static int
probe(int argc, char **argv)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GDBusConnection) conn = g_dbus_connection_new_for_address_sync(
                argv[2],
                G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                NULL, NULL, &error);

        if (!conn) {
                g_printerr("probe: %s\n", error->message);
                return 3;
        }
        for (int i = 3; i < argc; i++) {
                g_autofree char *line = probe_one(conn, argv[i]);

                g_print("%s\n", line);
        }
        return 0;
}

static void
die_with_parent(gpointer data)
{
        prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* @command run as @user (NULL: root, as a plain bus client): its result. */
static char *
as(World *w, const char *user, const char *command)
{
        g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
        g_autofree char *reuid = g_strdup_printf("--reuid=%s", user ? user : "root");
        g_autofree char *regid = g_strdup_printf("--regid=%s", user ? user : "root");
        g_autofree char *groups = g_strdup_printf("--init-groups");
        const char *argv[] = { "setpriv", reuid,      regid,   groups, self,
                               "--probe", w->address, command, NULL };
        g_autofree char *out = NULL, *err = NULL;
        g_autoptr(GError) error = NULL;
        int status;

        g_assert_true(g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, die_with_parent,
                                   NULL, &out, &err, &status, &error));
        if (!g_spawn_check_wait_status(status, NULL))
                g_error("probe as %s failed: %s", user ? user : "root", err);
        g_strchomp(out);
        g_test_message("%s: %s -> %s", user ? user : "root", command, out);
        return g_steal_pointer(&out);
}

static void
expect_ok(World *w, const char *user, const char *command)
{
        g_autofree char *r = as(w, user, command);

        if (!g_str_has_prefix(r, "ok"))
                g_error("%s: %s: expected success, got %s", user ? user : "root", command, r);
}

/* Refused before anything happened, naming @action. */
static void
expect_refused(World *w, const char *user, const char *command, const char *action)
{
        g_autofree char *r = as(w, user, command);

        if (!g_str_has_prefix(r, "err org.netlifecd1.Error.NotAuthorized ") || !strstr(r, action))
                g_error("%s: %s: expected NotAuthorized naming %s, got %s", user, command, action,
                        r);
}

/* Allowed past authorization (it may fail for its own reasons). */
static void
expect_authorized(World *w, const char *user, const char *command)
{
        g_autofree char *r = as(w, user, command);

        if (strstr(r, "NotAuthorized") || strstr(r, "AccessDenied"))
                g_error("%s: %s: expected to be authorized, got %s", user, command, r);
}

/* A unix socket at @path owned by @user, as a QEMU of theirs would make. */
static void
make_socket(const char *path, const char *user)
{
        struct sockaddr_un addr = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);

        g_strlcpy(addr.sun_path, path, sizeof addr.sun_path);
        g_unlink(path); /* left by a run that failed half way */
        g_assert_cmpint(bind(fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
        close(fd); /* the file stays: nobody listens, the daemon waits */
        ns_sh("chown %s %s", user, path);
}

/* ---- the world ---- */

static void
ensure_accounts(void)
{
        const char *members[] = { USER_A, USER_B, ADMIN, NOMIG, READER };

        ns_sh("getent group " GROUP " >/dev/null || groupadd --system " GROUP);
        for (guint i = 0; i < G_N_ELEMENTS(members); i++)
                ns_sh("id -u %s >/dev/null 2>&1 || useradd --system --no-create-home "
                      "--shell /usr/sbin/nologin --groups " GROUP " %s",
                      members[i], members[i]);
}

/* polkitd reads its actions and rules from the test's directories: the
 * shipped policy and rules, and the test's own, which come first. */
static void
start_polkitd(World *w)
{
        g_autofree char *actions = g_build_filename(w->dir, "actions", NULL);
        g_autofree char *rules = g_build_filename(w->dir, "rules", NULL);
        g_autofree char *policy = NULL, *shipped = NULL;
        g_autofree char *policy_dst = g_build_filename(actions, "org.netlifecd1.policy", NULL);
        g_autofree char *rules_dst = g_build_filename(rules, "50-netlifecd.rules", NULL);
        g_autofree char *test_rules = g_build_filename(rules, "40-test.rules", NULL);
        const char *argv[] = { "/usr/lib/polkit-1/polkitd", "--no-debug", NULL };

        g_assert_true(g_file_get_contents(g_getenv("NLC_POLKIT_ACTIONS"), &policy, NULL, NULL));
        g_assert_true(g_file_get_contents(g_getenv("NLC_POLKIT_RULES"), &shipped, NULL, NULL));
        g_assert_cmpint(g_mkdir(actions, 0755), ==, 0);
        g_assert_cmpint(g_mkdir(rules, 0755), ==, 0);
        g_assert_true(g_file_set_contents(policy_dst, policy, -1, NULL));
        g_assert_true(g_file_set_contents(rules_dst, shipped, -1, NULL));
        g_assert_true(g_file_set_contents(
                test_rules,
                "polkit.addRule(function(action, subject) {\n"
                "  if (action.id == 'org.netlifecd1.manage-any-instance' && subject.user == '" ADMIN
                "') return polkit.Result.YES;\n"
                "  if ((action.id == 'org.netlifecd1.migrate' || action.id == "
                "'org.netlifecd1.read') && subject.user == '" NOMIG "') return polkit.Result.NO;\n"
                "  if (action.id == 'org.netlifecd1.manage' && subject.user == '" READER
                "') return polkit.Result.NO;\n"
                "});\n",
                -1, NULL));
        ns_sh("chmod -R a+rX %s/actions %s/rules", w->dir, w->dir);
        /* The mount namespace is this process's own (nlc_test_unshare). */
        g_assert_cmpint(mount(actions, "/usr/share/polkit-1/actions", NULL, MS_BIND, NULL), ==, 0);
        g_assert_cmpint(mount(rules, "/etc/polkit-1/rules.d", NULL, MS_BIND, NULL), ==, 0);
        g_assert_cmpint(mount(rules, "/usr/share/polkit-1/rules.d", NULL, MS_BIND, NULL), ==, 0);
        nlc_test_start_service(w, argv, "org.freedesktop.PolicyKit1");
}

static void
set_up(World *w, gboolean polkit)
{
        g_autofree char *dir = NULL, *conf = NULL, *text = NULL;
        const char *policy = g_getenv("NLC_POLICY");

        g_assert_nonnull(policy);
        nlc_test_unshare(TRUE);
        ns_sh("ip link set lo up");
        ns_sh("ip link add br0 type bridge stp_state 0 && ip link set br0 up");
        ns_sh("ip link add dz0 type veth peer name dz0-peer");
        /* The host's uplink: the default route leaves through up0. */
        ns_sh("ip link add up0 type veth peer name up0-peer && ip link set up0 up && "
              "ip link set up0-peer up && ip addr add 192.0.2.1/24 dev up0 && "
              "ip route add default via 192.0.2.254");
        ns_sh("ip link add brx type bridge stp_state 0 && ip link set brx up");
        ns_sh("ip link add low0 type veth peer name low0-peer && ip link set low0 up");
        ensure_accounts();
        dir = g_dir_make_tmp("nlc-authz-XXXXXX", NULL);
        g_chmod(dir, 0755); /* the test users reach the bus socket */
        nlc_test_daemon_init(w, dir);
        w->config = g_build_filename(w->dir, "netlifecd.conf", NULL);
        w->daemon_args = g_strdupv((char *[]){ "--verbose", NULL });
        w->system_bus = TRUE;
        conf = g_build_filename(w->dir, "bus.conf", NULL);
        /* Debian's system bus defaults (no method calls unless a rule
         * allows), polkitd's own policy, and ours: the outer wall. */
        text = g_strdup_printf(
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-BUS Bus Configuration "
                "1.0//EN\" \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                "<busconfig><type>system</type><listen>unix:path=%s/bus</listen>"
                "<auth>EXTERNAL</auth>"
                "<policy context=\"default\"><allow user=\"*\"/><deny own=\"*\"/>"
                "<deny send_type=\"method_call\"/><allow send_type=\"signal\"/>"
                "<allow send_requested_reply=\"true\" send_type=\"method_return\"/>"
                "<allow send_requested_reply=\"true\" send_type=\"error\"/>"
                "<allow receive_type=\"method_call\"/><allow receive_type=\"method_return\"/>"
                "<allow receive_type=\"error\"/><allow receive_type=\"signal\"/>"
                "<allow send_destination=\"org.freedesktop.DBus\"/>"
                "<allow send_destination=\"org.freedesktop.PolicyKit1\"/></policy>"
                "<policy user=\"root\"><allow own=\"org.freedesktop.PolicyKit1\"/></policy>"
                "<policy user=\"polkitd\"><allow own=\"org.freedesktop.PolicyKit1\"/></policy>"
                "<include>%s</include></busconfig>\n",
                w->dir, policy);
        g_assert_true(g_file_set_contents(conf, text, -1, NULL));
        nlc_test_start_bus(w, conf);
        if (polkit) {
                start_polkitd(w);
                g_assert_true(g_file_set_contents(
                        w->config, "[authorization]\nbackend = polkit\n" ALLOW, -1, NULL));
        } else {
                /* The same decisions through the daemon's own rules. */
                g_assert_true(g_file_set_contents(
                        w->config,
                        "[authorization]\nbackend = config\n"
                        "read = root;" USER_A ";" USER_B ";" ADMIN ";" READER "\n"
                        "manage = root;" USER_A ";" USER_B ";" ADMIN ";" NOMIG "\n"
                        "migrate = root;" USER_A ";" USER_B ";" ADMIN "\n"
                        "manage-any-instance = root;" ADMIN "\n"
                        "direct = root\n" ALLOW,
                        -1, NULL));
        }
        nlc_test_start_daemon(w);
}

static void
tear_down(World *w)
{
        if (g_test_failed())
                nlc_test_print_logs(w->dir);
        nlc_test_daemon_finish(w, TRUE);
}

static char *
path_of(const char *result)
{
        g_assert_true(g_str_has_prefix(result, "ok /"));
        return g_strdup(result + 3);
}

static void
run_scenario(World *w)
{
        g_autofree char *alloc = as(w, USER_A, "alloc vm-a " MAC_A " tap-bridge ifname=az0");
        g_autofree char *dev = path_of(alloc);
        g_autofree char *create = g_strdup_printf("call %s org.netlifecd1.Device Create", dev);
        g_autofree char *activate = g_strdup_printf("call %s org.netlifecd1.Device Activate", dev);
        g_autofree char *deactivate =
                g_strdup_printf("call %s org.netlifecd1.Device Deactivate", dev);

        expect_ok(w, USER_A, create);
        expect_ok(w, USER_A, activate);
        /* Another member of the group: not on A's instance. */
        expect_refused(w, USER_B, deactivate, "org.netlifecd1.manage-any-instance");
        expect_refused(w, USER_B, "alloc vm-a " MAC_A " tap-bridge ifname=az1",
                       "org.netlifecd1.manage-any-instance");
        expect_refused(w, USER_B, "destroy-instances vm-a", "org.netlifecd1.manage-any-instance");
        expect_refused(w, USER_B, "migrate vm-a", "org.netlifecd1.manage-any-instance");
        /* Its own instance, and reading A's. */
        expect_ok(w, USER_B, "alloc vm-b 52:54:00:0b:00:01 tap-bridge ifname=bz0");
        expect_ok(w, USER_B, "get-instance vm-a");
        /* Properties.Set is a change like a method's. */
        expect_refused(
                w, USER_B,
                "set /org/netlifecd1/instance/vm_2da org.netlifecd1.Instance AllowPostcopy false",
                "org.netlifecd1.manage-any-instance");
        expect_ok(
                w, USER_A,
                "set /org/netlifecd1/instance/vm_2da org.netlifecd1.Instance AllowPostcopy false");
        expect_authorized(w, USER_B, "migrate vm-b");
        /* The direct backend: root's only. */
        expect_refused(w, USER_A, "alloc vm-a2 52:54:00:0a:00:02 direct device=dz0",
                       "org.netlifecd1.use-direct");
        /* A member a rule refuses migrate. */
        expect_ok(w, NOMIG, "alloc vm-n 52:54:00:0c:00:01 tap-bridge ifname=nz0");
        expect_refused(w, NOMIG, "migrate vm-n", "org.netlifecd1.migrate");
        /* Every action is refused to someone: read and manage too. */
        expect_refused(w, NOMIG, "get-instance vm-a", "org.netlifecd1.read");
        expect_refused(w, READER, "alloc vm-x 52:54:00:0e:00:01 tap-bridge ifname=xz0",
                       "org.netlifecd1.manage");
        expect_ok(w, READER, "get-instance vm-a");
        /* The administrator and root may. */
        expect_ok(w, ADMIN, deactivate);
        expect_ok(w, NULL, "destroy-instances vm-b");
        expect_ok(w, NULL, "alloc vm-r 52:54:00:0d:00:01 direct device=dz0");
        expect_ok(w, USER_A, activate);
        /* The host's [allow] lists: a bridge only root may use, a lower
         * device only A may, and never the default route's device. */
        expect_refused(w, USER_A, "alloc vm-a3 52:54:00:0a:00:03 tap-bridge-brx ifname=az3",
                       "[allow] bridges");
        expect_refused(w, USER_B, "alloc vm-b2 52:54:00:0b:00:02 macvtap link=low0",
                       "[allow] macvtap-links");
        expect_ok(w, USER_A, "alloc vm-a4 52:54:00:0a:00:04 macvtap link=low0");
        expect_refused(w, NULL, "alloc vm-r2 52:54:00:0d:00:02 direct device=up0", "default route");
        expect_ok(w, NULL, "alloc vm-r3 52:54:00:0d:00:03 tap-bridge-brx ifname=rz3");
        /* AttachQemu: the caller's own socket, or one in [allow] qmp-dirs;
         * never another user's. */
        {
                g_autofree char *a_sock = g_build_filename(w->dir, "a.qmp", NULL);
                g_autofree char *b_sock = g_build_filename(w->dir, "b.qmp", NULL);
                g_autofree char *attach_a = g_strdup_printf("attach vm-a4 %s", a_sock);
                g_autofree char *steal = g_strdup_printf("attach vm-b %s", a_sock);
                g_autofree char *attach_b = g_strdup_printf("attach vm-b %s", b_sock);
                g_autofree char *a_socket = g_strdup_printf("ok %s", a_sock);
                g_autofree char *as_a = NULL, *as_b = NULL, *as_admin = NULL;
                const char *get = "get /org/netlifecd1/instance/vm_2da4 org.netlifecd1.Instance "
                                  "QemuSocket";

                make_socket(a_sock, USER_A);
                make_socket(b_sock, USER_B);
                ns_sh("mkdir -p /run/nlc-az-qmp");
                make_socket("/run/nlc-az-qmp/vm.qmp", "root");
                expect_ok(w, USER_A, attach_a);
                /* The path names A's guest: A and an administrator read it,
                 * B reads nothing. */
                as_a = as(w, USER_A, get);
                as_b = as(w, USER_B, get);
                as_admin = as(w, ADMIN, get);
                g_assert_cmpstr(as_a, ==, a_socket);
                g_assert_cmpstr(as_b, ==, "ok"); /* an empty string */
                g_assert_cmpstr(as_admin, ==, a_socket);
                expect_ok(w, USER_B, "alloc vm-b 52:54:00:0b:00:01 tap-bridge ifname=bz0");
                expect_refused(w, USER_B, steal, "belongs to uid");
                expect_ok(w, USER_B, attach_b);
                expect_ok(w, USER_B, "attach vm-b /run/nlc-az-qmp/vm.qmp");
                ns_sh("rm -rf /run/nlc-az-qmp");
        }
        /* The example: an unprivileged user's VM on br0 (listed for the
         * group), its tap's queue handed to the user's command, the MAC
         * placed for it; everything gone when the command ends. */
        {
                g_autofree char *script =
                        g_build_filename(g_getenv("NLC_EXAMPLES_SRC"), "user-bridged-tap.sh", NULL);
                g_autofree char *nlctl = g_strconcat("NETLIFECTL=", g_getenv("NLCTL"), NULL);
                g_autofree char *bus = g_strconcat("DBUS_SYSTEM_BUS_ADDRESS=", w->address, NULL);
                const char *argv[] = { "setpriv",
                                       "--reuid=" USER_A,
                                       "--regid=" USER_A,
                                       "--init-groups",
                                       "env",
                                       nlctl,
                                       bus,
                                       "sh",
                                       script,
                                       "vm-u",
                                       "52:54:00:0a:00:0e",
                                       "br0",
                                       "--",
                                       "sh",
                                       "-c",
                                       "readlink /proc/self/fd/{0}; bridge fdb show br br0",
                                       NULL };
                g_autofree char *out = NULL, *err = NULL, *left = NULL;
                g_autoptr(GError) error = NULL;
                int status;

                g_assert_true(g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH,
                                           die_with_parent, NULL, &out, &err, &status, &error));
                g_test_message("user-bridged-tap.sh: %s%s", out, err);
                g_assert_true(g_spawn_check_wait_status(status, NULL));
                g_assert_nonnull(strstr(out, "/dev/net/tun"));
                g_assert_nonnull(strstr(out, "52:54:00:0a:00:0e dev nlc"));
                g_assert_nonnull(strstr(out, " master br0 static"));
                left = ns_sh_out("bridge fdb show br br0");
                g_assert_null(strstr(left, "52:54:00:0a:00:0e"));
        }
        /* A's own socket with a process of another uid (root here) listening:
         * the daemon does not follow it (it would copy tun fds out of it). */
        {
                g_autoptr(NlcFakeQmp) qemu = nlc_fake_qmp_new(10, 0, 2);
                g_autofree char *attach =
                        g_strdup_printf("attach vm-a4 %s", nlc_fake_qmp_get_path(qemu));
                g_autoptr(GVariant) timeline = NULL;
                g_autofree char *text = NULL;

                ns_sh("chown %s %s", USER_A, nlc_fake_qmp_get_path(qemu));
                expect_ok(w, USER_A, attach);
                for (int i = 0; i < 100 && nlc_fake_qmp_get_connections(qemu) == 0; i++)
                        g_main_context_iteration(NULL, FALSE) || (g_usleep(10000), TRUE);
                g_assert_cmpuint(nlc_fake_qmp_get_connections(qemu), >, 0);
                for (int i = 0; i < 50; i++)
                        g_main_context_iteration(NULL, FALSE) || (g_usleep(10000), TRUE);
                timeline = ns_get(w, "/org/netlifecd1/instance/vm_2da4", "org.netlifecd1.Instance",
                                  "GuestTimeline");
                text = g_variant_print(timeline, FALSE);
                g_test_message("GuestTimeline: %s", text);
                g_assert_nonnull(strstr(text, "'qmp-refused'"));
                g_assert_null(strstr(text, "'qmp-connected'"));
        }
        /* Ownership is journalled: a restarted daemon still refuses B. */
        nlc_test_restart_daemon(w);
        expect_refused(w, USER_B, deactivate, "org.netlifecd1.manage-any-instance");
        expect_ok(w, USER_A, deactivate);
}

static void
test_polkit(void)
{
        World w = { 0 };

        set_up(&w, TRUE);
        run_scenario(&w);
        tear_down(&w);
}

static void
test_config_rules(void)
{
        World w = { 0 };

        set_up(&w, FALSE);
        run_scenario(&w);
        tear_down(&w);
}

int
main(int argc, char **argv)
{
        if (argc >= 3 && g_str_equal(argv[1], "--probe"))
                return probe(argc, argv);
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/authz/polkit", test_polkit);
        g_test_add_func("/authz/config-rules", test_config_rules);
        return g_test_run();
}
