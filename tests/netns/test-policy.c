/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The shipped bus policy, enforced by a real dbus-daemon configured like
 * Debian's system bus (deny method calls by default) with our policy file
 * included: a non-root user is denied every method of the API and may still
 * introspect and read properties; root and members of the configured group
 * may call every method. The methods come from the generated interface data,
 * so a method added to the API but not to the policy fails this test.
 *
 * The calls are made by this same binary in "probe" mode, started through
 * setpriv as the user under test.
 */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "nlc-authz-rules.h"
#include "nlc-dbus-generated.h"
#include "ns-env.h"

#define USER   "nlc-policy-test"
#define MEMBER "nlc-policy-grp"
#define GROUP  "netlifecd"

typedef struct {
        const char *path;
        GDBusInterfaceInfo *(*info)(void);
} Api;

static const Api apis[] = {
        { "/org/netlifecd1", nlc_dbus_manager_interface_info },
        { "/org/netlifecd1/device/1", nlc_dbus_device_interface_info },
        { "/org/netlifecd1/instance/vm1", nlc_dbus_instance_interface_info },
        { "/org/netlifecd1/migration/1", nlc_dbus_migration_interface_info },
        { "/org/netlifecd1/bridge/br0", nlc_dbus_bridge_interface_info },
};

/* A harmless value of @type: refused by the daemon, if the bus lets it by. */
static GVariant *
dummy(const GVariantType *type)
{
        if (g_variant_type_equal(type, G_VARIANT_TYPE_STRING))
                return g_variant_new_string("nlc-policy-probe");
        if (g_variant_type_equal(type, G_VARIANT_TYPE_UINT32))
                return g_variant_new_uint32(0);
        return g_variant_new_array(g_variant_type_element(type), NULL, 0);
}

static GVariant *
dummy_args(GDBusMethodInfo *m)
{
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE_TUPLE);
        for (guint i = 0; m->in_args && m->in_args[i]; i++)
                g_variant_builder_add_value(&b, dummy(G_VARIANT_TYPE(m->in_args[i]->signature)));
        return g_variant_builder_end(&b);
}

/* "denied" when the bus refused, "allowed" when the call reached the daemon. */
static const char *
verdict(GDBusConnection *conn, const char *path, const char *iface, const char *method,
        GVariant *args)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r =
                g_dbus_connection_call_sync(conn, "org.netlifecd1", path, iface, method, args, NULL,
                                            G_DBUS_CALL_FLAGS_NONE, 10000, NULL, &error);
        g_autofree char *name = error ? g_dbus_error_get_remote_error(error) : NULL;

        return g_strcmp0(name, "org.freedesktop.DBus.Error.AccessDenied") == 0 ? "denied"
                                                                               : "allowed";
}

/* Probe mode: every method of the API, then the read-only ones, one line each. */
static int
probe(const char *address)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GDBusConnection) conn = g_dbus_connection_new_for_address_sync(
                address,
                G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                NULL, NULL, &error);

        if (!conn) {
                g_printerr("probe: %s\n", error->message);
                return 3;
        }
        for (guint a = 0; a < G_N_ELEMENTS(apis); a++) {
                GDBusInterfaceInfo *info = apis[a].info();

                for (guint i = 0; info->methods && info->methods[i]; i++)
                        g_print("call %s.%s %s\n", info->name, info->methods[i]->name,
                                verdict(conn, apis[a].path, info->name, info->methods[i]->name,
                                        dummy_args(info->methods[i])));
        }
        g_print("call org.freedesktop.DBus.Properties.Set %s\n",
                verdict(conn, "/org/netlifecd1/instance/vm1", "org.freedesktop.DBus.Properties",
                        "Set",
                        g_variant_new("(ssv)", "org.netlifecd1.Instance", "AllowPostcopy",
                                      g_variant_new_boolean(TRUE))));
        g_print("read Properties.Get %s\n",
                verdict(conn, "/org/netlifecd1", "org.freedesktop.DBus.Properties", "Get",
                        g_variant_new("(ss)", "org.netlifecd1.Manager", "Version")));
        g_print("read Properties.GetAll %s\n",
                verdict(conn, "/org/netlifecd1", "org.freedesktop.DBus.Properties", "GetAll",
                        g_variant_new("(s)", "org.netlifecd1.Manager")));
        g_print("read Introspectable.Introspect %s\n",
                verdict(conn, "/org/netlifecd1", "org.freedesktop.DBus.Introspectable",
                        "Introspect", NULL));
        g_print("read ObjectManager.GetManagedObjects %s\n",
                verdict(conn, "/org/netlifecd1", "org.freedesktop.DBus.ObjectManager",
                        "GetManagedObjects", NULL));
        return 0;
}

static void
die_with_parent(gpointer data)
{
        prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* Runs the probe as @user (with @groups, or none) and returns its lines. */
static char *
run_probe(const char *address, const char *user, const char *groups)
{
        g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
        g_autofree char *out = NULL, *err = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *reuid = g_strdup_printf("--reuid=%s", user);
        g_autofree char *regid = g_strdup_printf("--regid=%s", user);
        g_autofree char *grp =
                groups ? g_strdup_printf("--groups=%s", groups) : g_strdup("--clear-groups");
        const char *argv_user[] = { "setpriv", reuid, regid, grp, self, "--probe", address, NULL };
        const char *argv_root[] = { self, "--probe", address, NULL };
        int status = 0;

        g_assert_true(g_spawn_sync(NULL, (char **) (user ? argv_user : argv_root), NULL,
                                   G_SPAWN_SEARCH_PATH, die_with_parent, NULL, &out, &err, &status,
                                   &error));
        if (!g_spawn_check_wait_status(status, NULL))
                g_error("probe as %s failed: %s", user ? user : "root", err);
        return g_steal_pointer(&out);
}

static void
ensure_accounts(void)
{
        /* Made by the test (root), kept for later runs; no login, no home. */
        ns_sh("getent group " GROUP " >/dev/null || groupadd --system " GROUP);
        ns_sh("id -u " USER " >/dev/null 2>&1 || useradd --system --no-create-home "
              "--shell /usr/sbin/nologin " USER);
        ns_sh("id -u " MEMBER " >/dev/null 2>&1 || useradd --system --no-create-home "
              "--shell /usr/sbin/nologin --groups " GROUP " " MEMBER);
}

static void
assert_lines(const char *who, const char *out, const char *prefix, const char *want)
{
        g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
        guint n = 0;

        for (guint i = 0; lines[i]; i++) {
                if (!g_str_has_prefix(lines[i], prefix))
                        continue;
                n++;
                if (!g_str_has_suffix(lines[i], want))
                        g_error("%s: '%s', expected %s", who, lines[i], want);
        }
        g_assert_cmpuint(n, >, 0);
}

/* Behind the bus policy, the daemon authorizes each method against an
 * action (nlc-authz-rules.c): every method the policy lets through has one. */
static void
test_every_method_has_an_action(void)
{
        for (guint a = 0; a < G_N_ELEMENTS(apis); a++) {
                GDBusInterfaceInfo *info = apis[a].info();

                for (guint i = 0; info->methods && info->methods[i]; i++) {
                        NlcAction action;

                        if (!nlc_method_action(info->name, info->methods[i]->name, &action))
                                g_error("%s.%s has no authorization action", info->name,
                                        info->methods[i]->name);
                        g_test_message("%s.%s: %s", info->name, info->methods[i]->name,
                                       nlc_action_id(action));
                }
        }
}

static void
test_policy(void)
{
        const char *policy = g_getenv("NLC_POLICY");
        g_autofree char *dir = g_dir_make_tmp("nlc-policy-XXXXXX", NULL);
        g_autofree char *conf = g_build_filename(dir, "bus.conf", NULL);
        g_autofree char *sock = g_build_filename(dir, "bus", NULL);
        g_autofree char *text = NULL, *as_user = NULL, *as_member = NULL, *as_root = NULL;
        NsEnv env;

        g_assert_nonnull(policy);
        ensure_accounts();
        nlc_test_daemon_init(&env, dir);
        /* Debian's system bus defaults: no method calls unless a rule allows. */
        text = g_strdup_printf(
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-BUS Bus Configuration "
                "1.0//EN\" "
                "\"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                "<busconfig><type>system</type><listen>unix:path=%s</listen><auth>EXTERNAL</auth>"
                "<policy context=\"default\"><allow user=\"*\"/><deny own=\"*\"/>"
                "<deny send_type=\"method_call\"/><allow send_type=\"signal\"/>"
                "<allow send_requested_reply=\"true\" send_type=\"method_return\"/>"
                "<allow send_requested_reply=\"true\" send_type=\"error\"/>"
                "<allow receive_type=\"method_call\"/><allow receive_type=\"method_return\"/>"
                "<allow receive_type=\"error\"/><allow receive_type=\"signal\"/>"
                "<allow send_destination=\"org.freedesktop.DBus\"/></policy>"
                "<include>%s</include></busconfig>\n",
                sock, policy);
        g_assert_true(g_file_set_contents(conf, text, -1, NULL));
        g_chmod(dir, 0755); /* the test users reach the socket */
        nlc_test_start_bus(&env, conf);
        /* The daemon as root on that bus (it owns the name: root may). */
        nlc_test_start_daemon(&env);

        as_user = run_probe(env.address, USER, NULL);
        assert_lines("a user outside the group", as_user, "call ", "denied");
        assert_lines("a user outside the group", as_user, "read ", "allowed");
        as_member = run_probe(env.address, MEMBER, GROUP);
        assert_lines("a member of " GROUP, as_member, "call ", "allowed");
        as_root = run_probe(env.address, NULL, NULL);
        assert_lines("root", as_root, "call ", "allowed");
        assert_lines("root", as_root, "read ", "allowed");

        ns_env_tear_down(&env);
}

int
main(int argc, char **argv)
{
        if (argc == 3 && g_str_equal(argv[1], "--probe"))
                return probe(argv[2]);
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/policy/shipped-policy-enforced", test_policy);
        g_test_add_func("/policy/every-method-has-an-action", test_every_method_has_an_action);
        return g_test_run();
}
