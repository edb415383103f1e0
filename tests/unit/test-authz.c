/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who may call what: every method of the API has an action, the actions'
 * ids and configuration keys, and the daemon's own rules (user, @group,
 * uid:N, *). The real checks, with polkitd and other uids, are in
 * tests/netns/test-authz.c. */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "nlc-authz-rules.h"
#include "nlc-config.h"
#include "nlc-dbus-generated.h"
#include "nlc-error.h"

static void
test_every_method_has_an_action(void)
{
        GDBusInterfaceInfo *(*infos[])(void) = {
                nlc_dbus_manager_interface_info,  nlc_dbus_device_interface_info,
                nlc_dbus_instance_interface_info, nlc_dbus_migration_interface_info,
                nlc_dbus_bridge_interface_info,
        };
        guint n = 0;
        NlcAction action;

        for (guint i = 0; i < G_N_ELEMENTS(infos); i++) {
                GDBusInterfaceInfo *info = infos[i]();

                for (guint m = 0; info->methods && info->methods[m]; m++, n++)
                        if (!nlc_method_action(info->name, info->methods[m]->name, &action))
                                g_error("%s.%s has no action", info->name, info->methods[m]->name);
        }
        g_assert_cmpuint(n, >=, 22);
        /* What reads stays open to everyone the bus lets through; the rest
         * needs more. */
        g_assert_true(nlc_method_action("org.netlifecd1.Instance", "WaitReady", &action));
        g_assert_cmpint(action, ==, NLC_ACTION_READ);
        g_assert_true(nlc_method_action("org.netlifecd1.Device", "Activate", &action));
        g_assert_cmpint(action, ==, NLC_ACTION_MANAGE);
        g_assert_true(nlc_method_action("org.netlifecd1.Migration", "Cancel", &action));
        g_assert_cmpint(action, ==, NLC_ACTION_MIGRATE);
        g_assert_false(nlc_method_action("org.netlifecd1.Device", "NoSuchMethod", &action));
}

static void
test_action_names(void)
{
        for (guint a = 0; a <= NLC_ACTION_LAST; a++) {
                NlcAction back;

                g_assert_true(g_str_has_prefix(nlc_action_id(a), "org.netlifecd1."));
                g_assert_true(nlc_action_from_key(nlc_action_key(a), &back));
                g_assert_cmpint(back, ==, a);
        }
        g_assert_null(nlc_action_id(NLC_ACTION_LAST + 1));
        g_assert_cmpstr(nlc_action_id(NLC_ACTION_MANAGE_ANY), ==,
                        "org.netlifecd1.manage-any-instance");
}

static void
test_principals(void)
{
        const char *const kvm[] = { "alice", "kvm", NULL };
        const NlcPrincipal alice = { 1000, "alice", kvm };
        const NlcPrincipal root = { 0, "root", (const char *const[]){ "root", NULL } };
        const NlcPrincipal nameless = { 4242, NULL, (const char *const[]){ NULL } };
        g_autoptr(GError) error = NULL;

        g_assert_true(nlc_principals_match("root;@kvm", &alice));
        g_assert_true(nlc_principals_match(" bob ; alice ", &alice));
        g_assert_false(nlc_principals_match("root;@libvirt", &alice));
        g_assert_true(nlc_principals_match("root", &root));
        /* Root is on no list it is not named on. */
        g_assert_false(nlc_principals_match("@kvm", &root));
        g_assert_false(nlc_principals_match("", &root));
        g_assert_true(nlc_principals_match("uid:4242", &nameless));
        g_assert_false(nlc_principals_match("uid:42", &nameless));
        g_assert_true(nlc_principals_match("*", &nameless));
        g_assert_true(nlc_principals_validate("root;@kvm;uid:7;*;svc$", NULL));
        g_assert_false(nlc_principals_validate("root;@", &error));
        g_assert_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS);
        g_clear_error(&error);
        g_assert_false(nlc_principals_validate("uid:x", &error));
        g_clear_error(&error);
        g_assert_false(nlc_principals_validate("a b", &error));
}

static void
test_allow_lists(void)
{
        const NlcPrincipal alice = { 1000, "alice", (const char *const[]){ "alice", "kvm", NULL } };
        const NlcPrincipal bob = { 1001, "bob", (const char *const[]){ "bob", NULL } };
        const char *list = "br0; br1:@kvm,root ;br2:bob";
        g_autoptr(GError) error = NULL;

        /* A bare name: whoever holds the method's action. */
        g_assert_true(nlc_allow_list_match(list, "br0", FALSE, &bob));
        g_assert_true(nlc_allow_list_match(list, "br1", FALSE, &alice));
        g_assert_false(nlc_allow_list_match(list, "br1", FALSE, &bob));
        g_assert_true(nlc_allow_list_match(list, "br2", FALSE, &bob));
        g_assert_false(nlc_allow_list_match(list, "br3", FALSE, &alice));
        g_assert_false(nlc_allow_list_match("", "br0", FALSE, &alice));
        /* Directories hold what is below them, and only that. */
        g_assert_true(nlc_allow_list_match("/run/q/", "/run/q/vm1.qmp", TRUE, &bob));
        g_assert_false(nlc_allow_list_match("/run/q", "/run/qx/vm1.qmp", TRUE, &bob));
        g_assert_false(nlc_allow_list_match("/run/q", "/run/q/../../etc/x", TRUE, &bob));
        g_assert_false(nlc_allow_list_match("/run/q", "/run/q", TRUE, &bob));
        g_assert_true(nlc_allow_list_validate(list, NULL));
        g_assert_false(nlc_allow_list_validate("br0:", &error));
        g_clear_error(&error);
        g_assert_false(nlc_allow_list_validate(":root", &error));
        g_clear_error(&error);
        g_assert_false(nlc_allow_list_validate("br0:@", &error));
        g_assert_cmpstr(nlc_allow_key(NLC_ALLOW_DIRECT_DEVICES), ==, "direct-devices");
}

/* The defaults: root by rule; the bus policy's group for its own. */
static void
test_config(void)
{
        g_autofree char *path = NULL;
        g_autoptr(GError) error = NULL;
        NlcConfig c;
        int fd = g_file_open_tmp("nlc-authz-XXXXXX.conf", &path, NULL);

        nlc_config_init_defaults(&c);
        g_assert_false(c.has_authz_backend);
        g_assert_cmpstr(c.authz_rules[NLC_ACTION_MANAGE_ANY], ==, "root");
        g_assert_cmpstr(c.authz_rules[NLC_ACTION_DIRECT], ==, "root");
        g_assert_true(g_str_has_prefix(c.authz_rules[NLC_ACTION_MANAGE], "root;@"));
        g_assert_cmpstr(c.authz_rules[NLC_ACTION_READ], ==, "*");
        /* Any bridge and lower device; no direct device unless listed. */
        for (guint k = 0; k <= NLC_ALLOW_LAST; k++)
                g_assert_false(c.has_allow[k]);
        close(fd);
        g_assert_true(g_file_set_contents(path,
                                          "[authorization]\nbackend = polkit\n"
                                          "manage-any-instance = root;@wheel\n"
                                          "[allow]\ndirect-devices = eth1:@kvm\n",
                                          -1, NULL));
        g_assert_true(nlc_config_load(&c, path, TRUE, &error));
        g_assert_true(c.has_authz_backend);
        g_assert_cmpstr(c.authz_rules[NLC_ACTION_MANAGE_ANY], ==, "root;@wheel");
        g_assert_true(c.has_allow[NLC_ALLOW_DIRECT_DEVICES]);
        g_assert_false(c.has_allow[NLC_ALLOW_BRIDGES]);
        g_assert_cmpstr(c.allow[NLC_ALLOW_DIRECT_DEVICES], ==, "eth1:@kvm");
        g_assert_true(
                g_file_set_contents(path, "[authorization]\n\ndirect = root;@ bad\n", -1, NULL));
        g_assert_false(nlc_config_load(&c, path, TRUE, &error));
        g_assert_nonnull(strstr(error->message, ":3: [authorization] direct:"));
        g_unlink(path);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/authz/every-method-has-an-action", test_every_method_has_an_action);
        g_test_add_func("/authz/action-names", test_action_names);
        g_test_add_func("/authz/principals", test_principals);
        g_test_add_func("/authz/allow-lists", test_allow_lists);
        g_test_add_func("/authz/config", test_config);
        return g_test_run();
}
