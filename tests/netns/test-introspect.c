/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What an operator sees with busctl: the object tree, and every member of the
 * Manager and Device interfaces with its signature (and a property's value).
 */
#include <string.h>

#include "nlc-test-dbus.h"

#define MAC "52:54:00:12:34:01"

static gboolean
tree_lists(NlcTestEnv *env, const char *path)
{
        g_autofree char *out =
                nlc_run_out("busctl --address=%s --list tree " NLC_BUS_NAME, env->address);
        g_auto(GStrv) lines = g_strsplit(out, "\n", -1);

        return g_strv_contains((const char *const *) lines, path);
}

/* busctl introspect's table as "interface.member" → "type signature result",
 * where result is a method's out signature or a property's value. */
static GHashTable *
introspect(NlcTestEnv *env, const char *path)
{
        g_autofree char *out = nlc_run_out("busctl --address=%s introspect " NLC_BUS_NAME " %s",
                                           env->address, path);
        g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
        GHashTable *members = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        g_autofree char *iface = NULL;

        for (guint i = 1; lines[i]; i++) {
                g_auto(GStrv) t = g_regex_split_simple("\\s+", g_strstrip(lines[i]), 0, 0);
                guint n = g_strv_length(t);
                g_autofree char *result = NULL;

                if (n < 5)
                        continue;
                if (g_str_equal(t[1], "interface")) {
                        g_free(iface);
                        iface = g_strdup(t[0]);
                        g_hash_table_insert(members, g_strdup(iface), g_strdup("interface"));
                        continue;
                }
                g_assert_true(t[0][0] == '.');
                g_assert_nonnull(iface);
                /* Between the signature and the flags: the result or value. */
                g_free(t[n - 1]);
                t[n - 1] = NULL;
                result = g_strjoinv(" ", t + 3);
                g_hash_table_insert(members, g_strconcat(iface, t[0], NULL),
                                    g_strdup_printf("%s %s %s", t[1], t[2], result));
        }
        return members;
}

static void
assert_member(GHashTable *members, const char *name, const char *expected)
{
        const char *actual = g_hash_table_lookup(members, name);

        if (g_strcmp0(actual, expected) != 0)
                g_error("busctl introspect shows %s as '%s', expected '%s'", name, actual,
                        expected);
}

static void
test_tree(NlcTestEnv *env, gconstpointer data)
{
        g_autofree char *path =
                nlc_allocate(env, "vm-1", MAC, "{'bridge': <'br0'>, 'ifname': <'lt0'>}");

        nlc_test_step("busctl tree");
        g_assert_true(tree_lists(env, NLC_MANAGER_PATH));
        g_assert_true(tree_lists(env, path));
        nlc_device_call(env, path, "Free");
        /* The tree follows the objects: a freed device is gone from it. */
        g_assert_false(tree_lists(env, path));
        g_assert_true(tree_lists(env, NLC_MANAGER_PATH));
}

static void
test_device(NlcTestEnv *env, gconstpointer data)
{
        g_autofree char *path =
                nlc_allocate(env, "vm-1", MAC, "{'bridge': <'br0'>, 'ifname': <'lt0'>}");
        g_autoptr(GHashTable) m = NULL;

        nlc_test_step("busctl introspect %s", path);
        m = introspect(env, path);
        assert_member(m, NLC_DEVICE, "interface");
        assert_member(m, NLC_DEVICE ".Create", "method - ah");
        assert_member(m, NLC_DEVICE ".Activate", "method - -");
        assert_member(m, NLC_DEVICE ".Deactivate", "method - -");
        assert_member(m, NLC_DEVICE ".Destroy", "method - -");
        assert_member(m, NLC_DEVICE ".Free", "method - -");
        assert_member(m, NLC_DEVICE ".Announce", "method - -");
        assert_member(m, NLC_DEVICE ".Instance", "property s \"vm-1\"");
        assert_member(m, NLC_DEVICE ".Backend", "property s \"tap-bridge\"");
        assert_member(m, NLC_DEVICE ".MAC", "property s \"" MAC "\"");
        assert_member(m, NLC_DEVICE ".IfName", "property s \"lt0\"");
        assert_member(m, NLC_DEVICE ".Bridge", "property s \"br0\"");
        assert_member(m, NLC_DEVICE ".State", "property s \"allocated\"");
        assert_member(m, NLC_DEVICE ".StateChanged", "signal sss -");
}

static void
test_manager(NlcTestEnv *env, gconstpointer data)
{
        g_autoptr(GHashTable) m = NULL;
        g_autofree char *version = nlc_get_string(env, NLC_MANAGER_PATH, NLC_MANAGER, "Version");
        g_autofree char *version_row = g_strdup_printf("property s \"%s\"", version);

        g_assert_cmpstr(version, !=, "");
        nlc_test_step("busctl introspect " NLC_MANAGER_PATH);
        m = introspect(env, NLC_MANAGER_PATH);
        assert_member(m, NLC_MANAGER, "interface");
        assert_member(m, NLC_MANAGER ".Allocate", "method sssa{sv} o");
        assert_member(m, NLC_MANAGER ".Notify", "method sssa{sv} o");
        assert_member(m, NLC_MANAGER ".GetDevice", "method ss o");
        assert_member(m, NLC_MANAGER ".Version", version_row);
        assert_member(m, NLC_OBJMGR, "interface");
        assert_member(m, NLC_OBJMGR ".GetManagedObjects", "method - a{oa{sa{sv}}}");
        assert_member(m, NLC_OBJMGR ".InterfacesAdded", "signal oa{sa{sv}} -");
        assert_member(m, NLC_OBJMGR ".InterfacesRemoved", "signal oas -");
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        nlc_test_add("/introspect/tree", test_tree, NULL);
        nlc_test_add("/introspect/device", test_device, NULL);
        nlc_test_add("/introspect/manager", test_manager, NULL);
        return g_test_run();
}
