/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * examples/hypervisor-driver against the real daemon on a private bus in a
 * fresh namespace: the child it starts really holds the tap's queue at the
 * fd number put in its command line, the device is active (the bridge's
 * static entry on its tap) while the child runs, and everything is gone
 * after it exits: device freed, tap deleted, no entry left. (The migration
 * coordinator example is run by test-migration-gate, which has two daemons.)
 */
#include <string.h>

#include "ns-env.h"

#define MAC "52:54:00:00:e1:01"

typedef struct {
        NsEnv env;
} Fixture;

static void
set_up(Fixture *f, gconstpointer data)
{
        ns_env_set_up(&f->env, NULL);
        ns_sh("ip link add br0 type bridge stp_state 0 && ip link set br0 up");
}

static void
tear_down(Fixture *f, gconstpointer data)
{
        ns_env_tear_down(&f->env);
}

static gboolean
file_exists(gpointer path)
{
        return g_file_test(path, G_FILE_TEST_EXISTS);
}

static void
test_driver(Fixture *f, gconstpointer data)
{
        g_autofree char *exe =
                g_build_filename(g_getenv("NLC_EXAMPLES"), "hypervisor-driver", NULL);
        g_autofree char *seen = g_build_filename(f->env.dir, "child-fd", NULL);
        g_autofree char *stop = g_build_filename(f->env.dir, "stop", NULL);
        g_autofree char *script =
                g_strdup_printf("readlink /proc/self/fd/{0} > %s.tmp && mv %s.tmp %s; "
                                "while [ ! -e %s ]; do sleep 0.05; done; exit 3",
                                seen, seen, seen, stop);
        g_autofree char *address = g_strconcat("--address=", f->env.address, NULL);
        const char *argv[] = { exe, address, "vm1", "br0", MAC, "--", "sh", "-c", script, NULL };
        g_autoptr(GSubprocess) driver = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL;
        g_autofree char *out = NULL, *err = NULL, *link = NULL, *state = NULL, *fdb = NULL;
        g_autofree char *path = NULL, *left = NULL, *taps = NULL;

        g_assert_nonnull(g_getenv("NLC_EXAMPLES"));
        driver = g_subprocess_newv(
                argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
        g_assert_no_error(error);
        g_assert_true(ns_wait(file_exists, seen, 10000));

        /* The child holds a tun queue at the fd its command line named. */
        g_assert_true(g_file_get_contents(seen, &link, NULL, NULL));
        g_assert_cmpstr(g_strstrip(link), ==, "/dev/net/tun");
        r = ns_call(&f->env, "/org/netlifecd1", "org.netlifecd1.Manager", "GetDevice",
                    g_variant_new("(ss)", "vm1", MAC), "(o)", &error);
        g_assert_no_error(error);
        g_variant_get(r, "(o)", &path);
        state = ns_get_string(&f->env, path, "org.netlifecd1.Device", "State");
        g_assert_cmpstr(state, ==, "active");
        fdb = ns_kernel_fdb_static(MAC);
        g_assert_true(g_str_has_suffix(fdb, "@br0"));

        /* The child ends (status 3): the driver tears down and passes it on. */
        g_assert_true(g_file_set_contents(stop, "", 0, NULL));
        g_assert_true(g_subprocess_communicate_utf8(driver, NULL, NULL, &out, &err, &error));
        g_assert_no_error(error);
        g_test_message("driver stdout:\n%sstderr:\n%s", out, err);
        g_assert_true(g_subprocess_get_if_exited(driver));
        g_assert_cmpint(g_subprocess_get_exit_status(driver), ==, 3);
        g_assert_nonnull(strstr(out, "device freed"));
        g_assert_cmpstr(err, ==, "");
        ns_call_expect_error(&f->env, "/org/netlifecd1", "org.netlifecd1.Manager", "GetDevice",
                             g_variant_new("(ss)", "vm1", MAC), "org.netlifecd1.Error.NotFound");
        left = ns_kernel_fdb_static(MAC);
        g_assert_cmpstr(left, ==, "");
        taps = ns_sh_out("ip -o link show type tun | wc -l");
        g_assert_cmpstr(g_strstrip(taps), ==, "0");
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add("/examples/hypervisor-driver", Fixture, NULL, set_up, test_driver, tear_down);
        return g_test_run();
}
