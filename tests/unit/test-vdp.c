/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * netlifecd's VDP client (nlc-vdp.c) against a scripted lldpad: a netlink
 * socket bound to a port id of its own, named in a pid file as lldpad's
 * pid, answering as lldpad does (tests/lldpad/README.md 3.3-3.4) — for what
 * Debian's lldpad cannot be made to do: a switch that refuses (a non-zero
 * IFLA_PORT_RESPONSE), one that never answers, a VSI lldpad drops, lldpad
 * refusing with an errno, an answer that never comes. The real exchange
 * with two lldpads is tests/lldpad (scenario nlc-client).
 */
#include <errno.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nlc-fake-lldpad.h"
#include "nlc-vdp.h"

static void
on_done(GObject *source, GAsyncResult *result, gpointer data)
{
        Fake *f = data;

        f->ok = nlc_vdp_request_finish(result, &f->response, &f->error);
        g_main_loop_quit(f->loop);
}

/* Runs one request against the fake; the timings are short so that the
 * timeouts are quick to reach. */
static void
run(Fake *f, NlcVdpRequest request, const char *pid_file)
{
        NlcVdpVsi vsi = { .manager_id = 1,
                          .type_id = 2,
                          .type_id_version = 3,
                          .uplink = 2,
                          .uplink_name = "st0" };
        NlcVdpTimings t = { .lldpad_pid_file = pid_file ? pid_file : f->pid_file,
                            .reply_timeout_ms = 300,
                            .timeout_ms = 500,
                            .first_poll_ms = 5,
                            .poll_ms = 5 };

        memcpy(vsi.instance_uuid, nlc_fake_lldpad_uuid, 16);
        nlc_vdp_request_async(&vsi, request, &t, NULL, on_done, f);
        g_main_loop_run(f->loop);
        if (f->error)
                g_test_message("%s", f->error->message);
}

static void
test_success(void)
{
        Fake f;

        fake_start(&f, SCRIPT_SUCCESS);
        run(&f, NLC_VDP_ASSOCIATE, NULL);
        g_assert_no_error(f.error);
        g_assert_true(f.ok);
        g_assert_cmpuint(f.response, ==, 0);
        g_assert_cmpuint(f.setlinks, ==, 1);
        g_assert_cmpuint(f.last_request, ==, NLC_VDP_ASSOCIATE);
        g_assert_cmpuint(f.statuses, ==, 2); /* pending, then the answer */
        fake_stop(&f);
}

static void
test_refused(void)
{
        Fake f;

        fake_start(&f, SCRIPT_REFUSE);
        run(&f, NLC_VDP_ASSOCIATE, NULL);
        g_assert_error(f.error, NLC_VDP_ERROR, NLC_VDP_ERROR_REFUSED);
        g_assert_nonnull(
                strstr(f.error->message, "the switch answered 2 (insufficient resources)"));
        g_assert_nonnull(strstr(f.error->message,
                                "associate of VSI a1412857-60f7-4ce1-e95a-2164943f53aa on st0"));
        fake_stop(&f);
}

static void
test_timed_out(void)
{
        Fake f;

        fake_start(&f, SCRIPT_SILENT);
        run(&f, NLC_VDP_ASSOCIATE, NULL);
        g_assert_error(f.error, NLC_VDP_ERROR, NLC_VDP_ERROR_TIMED_OUT);
        g_assert_nonnull(strstr(f.error->message, "no answer from the switch within 500 ms"));
        g_assert_cmpuint(f.statuses, >, 10);
        fake_stop(&f);
}

/* The entry disappears: lost for an association, done for a
 * disassociation (lldpad forgets a VSI once its end was reported). */
static void
test_dropped(void)
{
        Fake f;

        fake_start(&f, SCRIPT_DROP);
        run(&f, NLC_VDP_ASSOCIATE, NULL);
        g_assert_error(f.error, NLC_VDP_ERROR, NLC_VDP_ERROR_LOST);
        g_assert_nonnull(strstr(f.error->message, "no longer lists VSI"));
        fake_stop(&f);

        fake_start(&f, SCRIPT_DROP);
        run(&f, NLC_VDP_DISASSOCIATE, NULL);
        g_assert_no_error(f.error);
        g_assert_true(f.ok);
        g_assert_cmpuint(f.last_request, ==, NLC_VDP_DISASSOCIATE);
        fake_stop(&f);
}

static void
test_rejected(void)
{
        Fake f;

        fake_start(&f, SCRIPT_ERRNO);
        run(&f, NLC_VDP_ASSOCIATE, NULL);
        g_assert_error(f.error, NLC_VDP_ERROR, NLC_VDP_ERROR_REJECTED);
        g_assert_nonnull(strstr(f.error->message, "holds this VSI as ended"));
        g_assert_cmpuint(f.statuses, ==, 0);
        fake_stop(&f);
}

static void
test_no_answer(void)
{
        Fake f;

        fake_start(&f, SCRIPT_NO_ANSWER);
        run(&f, NLC_VDP_ASSOCIATE, NULL);
        g_assert_error(f.error, NLC_VDP_ERROR, NLC_VDP_ERROR_TIMED_OUT);
        g_assert_nonnull(strstr(f.error->message, "did not answer in 300 ms"));
        fake_stop(&f);
}

/* Nobody at the pid file's port (a stale pid file); no pid file at all. */
static void
test_no_lldpad(void)
{
        g_autofree char *dir = g_dir_make_tmp("test-vdp-XXXXXX", NULL);
        g_autofree char *stale = g_build_filename(dir, "stale.pid", NULL);
        g_autofree char *missing = g_build_filename(dir, "missing.pid", NULL);
        g_autofree char *pid = NULL;
        struct sockaddr_nl addr = { .nl_family = AF_NETLINK };
        socklen_t len = sizeof addr;
        int other;
        Fake f;

        /* A port that was bound and is free again, positive like a pid: the
         * kernel's automatic port ids (the pid, then negative ones) never
         * give it to the client. */
        fake_start(&f, SCRIPT_SUCCESS);
        addr.nl_pid = 0x7ffff000u + ((guint32) getpid() & 0xfff);
        other = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        g_assert_cmpint(bind(other, (struct sockaddr *) &addr, sizeof addr), ==, 0);
        g_assert_cmpint(getsockname(other, (struct sockaddr *) &addr, &len), ==, 0);
        close(other);
        pid = g_strdup_printf("%u\n", addr.nl_pid);
        g_assert_true(g_file_set_contents(stale, pid, -1, NULL));
        run(&f, NLC_VDP_ASSOCIATE, stale);
        g_assert_error(f.error, NLC_VDP_ERROR, NLC_VDP_ERROR_NO_LLDPAD);
        g_assert_nonnull(strstr(f.error->message, "nobody listens"));
        g_clear_error(&f.error);
        run(&f, NLC_VDP_ASSOCIATE, missing);
        g_assert_error(f.error, NLC_VDP_ERROR, NLC_VDP_ERROR_NO_LLDPAD);
        g_assert_nonnull(strstr(f.error->message, "cannot read lldpad's pid"));
        g_assert_cmpuint(f.setlinks, ==, 0);
        fake_stop(&f);
        g_unlink(stale);
        g_rmdir(dir);
}

/* Cancelled while it waits for the switch: the task ends with
 * G_IO_ERROR_CANCELLED, nothing fires afterwards. */
static void
test_cancelled(void)
{
        NlcVdpVsi vsi = { .uplink = 2, .uplink_name = "st0" };
        NlcVdpTimings t = { .timeout_ms = 5000, .poll_ms = 5, .first_poll_ms = 5 };
        g_autoptr(GCancellable) cancel = g_cancellable_new();
        Fake f;

        fake_start(&f, SCRIPT_SILENT);
        t.lldpad_pid_file = f.pid_file;
        memcpy(vsi.instance_uuid, nlc_fake_lldpad_uuid, 16);
        nlc_vdp_request_async(&vsi, NLC_VDP_ASSOCIATE, &t, cancel, on_done, &f);
        g_timeout_add_once(50, (GSourceOnceFunc) g_cancellable_cancel, cancel);
        g_main_loop_run(f.loop);
        g_assert_error(f.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        /* Nothing of the request runs on: the loop idles. */
        for (int i = 0; i < 20; i++)
                g_main_context_iteration(NULL, FALSE);
        fake_stop(&f);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/vdp/success", test_success);
        g_test_add_func("/vdp/refused", test_refused);
        g_test_add_func("/vdp/timed-out", test_timed_out);
        g_test_add_func("/vdp/dropped", test_dropped);
        g_test_add_func("/vdp/rejected", test_rejected);
        g_test_add_func("/vdp/no-answer", test_no_answer);
        g_test_add_func("/vdp/no-lldpad", test_no_lldpad);
        g_test_add_func("/vdp/cancelled", test_cancelled);
        return g_test_run();
}
