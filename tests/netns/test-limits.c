/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the daemon process claims at start: its state directory alone (a
 * second daemon on it exits at once, naming the holder, and touches
 * nothing), and the file descriptors its devices' queues need (the soft
 * limit raised to the hard one: more single-queue devices than a soft
 * limit of 1024 allows).
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/resource.h>

#include "nlc-test-dbus.h"
#include "nlc-test-kernel.h"

#define BRIDGE2 "br1"

/* The second daemon is started by hand on the same state directory, on a
 * bus it would never reach: it must stop at the lock, before the journal. */
static void
test_second_daemon_refused(NlcTestEnv *env, gconstpointer data)
{
        g_autofree char *path = nlc_allocate(env, "vm-1", "52:54:00:0d:00:01",
                                             "{'bridge': <'" NLC_BRIDGE "'>, 'ifname': <'lk0'>}");
        g_autofree char *journal = g_build_filename(env->state_dir, "devices.log", NULL);
        g_autofree char *before = NULL, *after = NULL, *err = NULL, *out = NULL;
        g_autofree char *state_arg = g_strconcat("--state-dir=", env->state_dir, NULL);
        g_autofree char *runtime_dir = g_build_filename(env->dir, "runtime2", NULL);
        g_autofree char *runtime_arg = g_strconcat("--runtime-dir=", runtime_dir, NULL);
        g_autofree char *holder = g_strdup_printf("pid %d", env->daemon_pid);
        const char *argv[] = { g_getenv("NLC_DAEMON"), "--address=unix:path=/nonexistent",
                               state_arg, runtime_arg, NULL };
        g_autoptr(GError) error = NULL;
        gint64 started = g_get_monotonic_time();
        int status;

        g_assert_true(g_file_get_contents(journal, &before, NULL, NULL));
        g_assert_true(g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out,
                                   &err, &status, &error));
        g_assert_no_error(error);
        g_test_message("second daemon: %s", err);
        g_assert_false(g_spawn_check_wait_status(status, NULL));
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, 1);
        g_assert_nonnull(strstr(err, "another netlifecd"));
        g_assert_nonnull(strstr(err, holder));
        g_assert_cmpint(g_get_monotonic_time() - started, <, 2 * G_USEC_PER_SEC);
        g_assert_true(g_file_get_contents(journal, &after, NULL, NULL));
        g_assert_cmpstr(after, ==, before);
        /* The first one is untouched and still answers. */
        nlc_assert_state(env, path, "allocated");
        /* A daemon killed with -9 leaves no lock behind. */
        nlc_test_kill9_daemon(env);
        nlc_test_start_daemon(env);
        nlc_assert_state(env, path, "allocated");
}

static guint64
soft_limit_of(GPid pid)
{
        g_autofree char *path = g_strdup_printf("/proc/%d/limits", pid);
        g_autofree char *text = NULL;
        g_auto(GStrv) lines = NULL;

        g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
        lines = g_strsplit(text, "\n", -1);
        for (guint i = 0; lines[i]; i++) {
                unsigned long long soft;

                if (sscanf(lines[i], "Max open files %llu", &soft) == 1)
                        return soft;
        }
        g_error("no 'Max open files' in %s", path);
}

#define DEVICES 1100 /* single-queue: one fd each in the daemon */

/* Started with a soft limit of 1024 (systemd's default) and a higher hard
 * one, the daemon raises its own and holds the queues of more devices than
 * 1024 allows; each Create returns its queue. */
static void
test_more_queues_than_soft_limit(NlcTestEnv *env, gconstpointer data)
{
        struct rlimit rl;

        g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &rl), ==, 0);
        g_assert_cmpuint(rl.rlim_max, >, DEVICES + 200);
        rl.rlim_cur = 1024;
        g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &rl), ==, 0);
        nlc_test_restart_daemon(env); /* inherits the soft 1024 */
        g_assert_cmpuint(soft_limit_of(env->daemon_pid), ==, rl.rlim_max);
        /* A Linux bridge takes at most 1024 ports. */
        nlc_run("ip link add " BRIDGE2 " type bridge stp_state 0");
        nlc_run("ip link set " BRIDGE2 " up");
        for (guint i = 0; i < DEVICES; i++) {
                g_autofree char *mac = g_strdup_printf("52:54:00:0d:%02x:%02x", i >> 8, i & 0xff);
                g_autofree char *opts = g_strdup_printf("{'bridge': <'%s'>, 'ifname': <'fd%u'>}",
                                                        i < DEVICES / 2 ? NLC_BRIDGE : BRIDGE2, i);
                g_autofree char *path = nlc_allocate(env, "vm-fd", mac, opts);
                g_autoptr(GUnixFDList) fds = nlc_device_create(env, path);

                g_assert_cmpint(g_unix_fd_list_get_length(fds), ==, 1);
        }
        /* Still answering, and the last tap is there with carrier (the
         * daemon holds its queue, the test closed its copy). */
        {
                g_autoptr(NlcLink) last = NULL;
                g_autofree char *name = g_strdup_printf("fd%u", DEVICES - 1);

                last = nlc_link_read(name);
                g_assert_true(last->exists);
                g_assert_true(last->lower_up);
        }
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        nlc_test_add("/limits/second-daemon-refused", test_second_daemon_refused, NULL);
        nlc_test_add("/limits/more-queues-than-soft-limit", test_more_queues_than_soft_limit, NULL);
        return g_test_run();
}
