/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A VDP request as a GTask with steps: SETLINK sent → lldpad's acceptance
 * awaited → status polled until the switch's answer. One socket per
 * request; every wait is a main-loop source, bounded by the timeouts. An
 * 802.1Qbh request takes the same steps with the kernel (its driver) in
 * lldpad's place.
 */
#include <errno.h>
#include <glib-unix.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nlc-vdp.h"

#define DEFAULT_PID_FILE "/var/run/lldpad.pid"

G_DEFINE_QUARK(nlc - vdp - error - quark, nlc_vdp_error)

typedef enum {
        STEP_ACCEPTANCE, /* the SETLINK is out, lldpad's NLMSG_ERROR awaited */
        STEP_POLL_WAIT,  /* between two status reads */
        STEP_STATUS,     /* a GETLINK is out, its answer awaited */
} Step;

typedef struct {
        NlcVdpVsi vsi;
        gboolean qbh;         /* an 802.1Qbh request to the kernel: @port, not @vsi */
        gboolean status_only; /* no SETLINK: one status read (nlc_vdp_status_async) */
        NlcQbhPort port;
        NlcVdpRequest request;
        NlcVdpTimings t;
        char *pid_file;
        char *what; /* "associate of VSI <uuid> on st0", for messages */
        int fd;
        guint32 port_id, lldpad_port, seq;
        Step step;
        guint polls;
        gint64 started, deadline; /* monotonic µs */
        gboolean ended;           /* returned: nothing more may happen */
        GSource *io, *timer, *cancel;
} Request;

static void
drop_source(GSource **source)
{
        if (*source) {
                g_source_destroy(*source);
                g_clear_pointer(source, g_source_unref);
        }
}

/* Nothing of the request may fire once it has ended. */
static void
stop_waits(Request *r)
{
        r->ended = TRUE;
        drop_source(&r->io);
        drop_source(&r->timer);
        drop_source(&r->cancel);
}

static void
request_free(Request *r)
{
        stop_waits(r);
        if (r->fd >= 0)
                close(r->fd);
        g_free(r->pid_file);
        g_free(r->what);
        g_free(r);
}

gboolean
nlc_vdp_uuid_parse(const char *text, guint8 out[16])
{
        guint n = 0;

        for (const char *p = text; p && *p; p++) {
                int hi, lo;

                if (*p == '-')
                        continue;
                hi = g_ascii_xdigit_value(p[0]);
                lo = p[1] ? g_ascii_xdigit_value(p[1]) : -1;
                if (hi < 0 || lo < 0 || n == 16)
                        return FALSE;
                out[n++] = (guint8) (hi << 4 | lo);
                p++;
        }
        return n == 16 && text && strlen(text) == 36 && text[8] == '-' && text[13] == '-' &&
               text[18] == '-' && text[23] == '-';
}

char *
nlc_vdp_uuid_to_string(const guint8 u[16])
{
        return g_strdup_printf(
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
                u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
                u[15]);
}

static double
elapsed_ms(const Request *r)
{
        return (double) (g_get_monotonic_time() - r->started) / 1000;
}

static void fail(GTask *task, NlcVdpError code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void
fail(GTask *task, NlcVdpError code, const char *fmt, ...)
{
        Request *r = g_task_get_task_data(task);
        g_autofree char *why = NULL;
        va_list ap;

        va_start(ap, fmt);
        why = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        stop_waits(r);
        g_task_return_new_error(task, NLC_VDP_ERROR, code, "%s: %s", r->what, why);
        g_object_unref(task);
}

/* @value: the response, or for a status read status << 16 | response. */
static void
succeed(GTask *task, guint32 value)
{
        stop_waits(g_task_get_task_data(task));
        g_task_return_int(task, value);
        g_object_unref(task);
}

/* lldpad's errno, in what it means for a VDP request (README 4.5). */
static const char *
lldpad_errno_words(int e)
{
        switch (e) {
        case EPROTONOSUPPORT:
                return "EVB is not negotiated on the uplink (the switch has not answered LLDP's "
                       "EVB TLV)";
        case ENXIO:
                return "lldpad has no VDP on the uplink (its configuration does not name it, or "
                       "lldpad started less than a second ago)";
        case EBUSY:
                return "a request for this VSI is still in flight";
        case ENODEV:
                return "lldpad holds this VSI as ended (after a timeout it stays so until lldpad "
                       "restarts)";
        case EINVAL:
                return "lldpad refused the request as invalid (an unknown VSI, a zero instance "
                       "id, a downgrade)";
        case EOPNOTSUPP:
                return "that lldpad is in the bridge role";
        default:
                return g_strerror(e);
        }
}

static gboolean send_message(GTask *task, const guint8 *buf, gsize len);
static void arm_timer(GTask *task, guint ms, GSourceFunc func);
static gboolean on_timeout(gpointer data);

static gboolean
on_poll_due(gpointer data)
{
        GTask *task = data;
        Request *r = g_task_get_task_data(task);
        guint8 buf[NLC_VDP_MSG_MAX];
        gsize len = nlc_vdp_build_getlink(buf, ++r->seq, r->port_id,
                                          r->qbh ? r->port.ifindex : r->vsi.uplink);

        drop_source(&r->timer);
        r->step = STEP_STATUS;
        r->polls++;
        if (send_message(task, buf, len))
                arm_timer(task, r->t.reply_timeout_ms, on_timeout);
        return G_SOURCE_REMOVE;
}

/* The next status read, unless the request's time is up. */
static void
schedule_poll(GTask *task, guint delay_ms)
{
        Request *r = g_task_get_task_data(task);
        gint64 left_ms = (r->deadline - g_get_monotonic_time()) / 1000;

        if (left_ms <= 0) {
                fail(task, NLC_VDP_ERROR_TIMED_OUT,
                     "no answer from the switch within %u ms (%u status reads)", r->t.timeout_ms,
                     r->polls);
                return;
        }
        /* Quick reads are for the switch's first answer; past that the
         * switch is slow or silent, and lldpad is read at most every 20 ms. */
        if (elapsed_ms(r) > 100 && delay_ms < 20)
                delay_ms = 20;
        r->step = STEP_POLL_WAIT;
        arm_timer(task, (guint) MIN((gint64) delay_ms, left_ms), on_poll_due);
}

static void
on_acceptance(GTask *task, const guint8 *buf, gsize len)
{
        Request *r = g_task_get_task_data(task);
        int e = nlc_vdp_parse_setlink_reply(buf, len, r->seq);

        if (e == -EBADMSG)
                return; /* not the answer to our SETLINK: read on */
        if (e < 0 && r->qbh) {
                fail(task, NLC_VDP_ERROR_REJECTED, "the kernel refused it: %s%s", g_strerror(-e),
                     e == -EOPNOTSUPP || e == -EINVAL
                             ? " (the device's driver takes no 802.1Qbh port profile: that needs "
                               "a Cisco enic)"
                             : "");
                return;
        }
        if (e < 0) {
                fail(task, NLC_VDP_ERROR_REJECTED, "lldpad (pid %u) refused it: %s (%s)",
                     r->lldpad_port, lldpad_errno_words(-e), g_strerror(-e));
                return;
        }
        schedule_poll(task, r->t.first_poll_ms);
}

static void
on_status(GTask *task, const guint8 *buf, gsize len)
{
        Request *r = g_task_get_task_data(task);
        guint16 response = 0;
        g_autofree char *uuid = NULL;

        if (r->status_only) {
                NlcVdpStatus st =
                        nlc_vdp_parse_status(buf, len, r->seq, r->vsi.instance_uuid, &response);

                if (st != NLC_VDP_STATUS_BAD_MESSAGE)
                        succeed(task, (guint32) st << 16 | response);
                return;
        }
        switch (r->qbh ? nlc_qbh_parse_status(buf, len, r->seq, &r->port, &response)
                       : nlc_vdp_parse_status(buf, len, r->seq, r->vsi.instance_uuid, &response)) {
        case NLC_VDP_STATUS_BAD_MESSAGE:
                return; /* a stale answer or a notification: read on */
        case NLC_VDP_STATUS_PENDING:
                break;
        case NLC_VDP_STATUS_NO_ENTRY:
                /* A disassociated VSI leaves lldpad's list once reported: done. */
                if (r->request == NLC_VDP_DISASSOCIATE) {
                        succeed(task, 0);
                        return;
                }
                if (r->qbh) {
                        fail(task, NLC_VDP_ERROR_LOST,
                             "the driver of %s reports no port profile (no 802.1Qbh port)",
                             r->port.ifname);
                        return;
                }
                uuid = nlc_vdp_uuid_to_string(r->vsi.instance_uuid);
                fail(task, NLC_VDP_ERROR_LOST,
                     "lldpad no longer lists VSI %s on %s after %.0f ms (the switch dropped it)",
                     uuid, r->vsi.uplink_name, elapsed_ms(r));
                return;
        case NLC_VDP_STATUS_DONE:
                if (nlc_vdp_response_is_success(response)) {
                        succeed(task, response);
                        return;
                }
                if (!nlc_vdp_response_is_pending(response)) {
                        fail(task, NLC_VDP_ERROR_REFUSED,
                             "the switch answered %u (%s) after %.0f ms", response,
                             nlc_vdp_response_to_string(response), elapsed_ms(r));
                        return;
                }
                break;
        }
        schedule_poll(task, r->t.poll_ms);
}

static gboolean
on_readable(int fd, GIOCondition condition, gpointer data)
{
        GTask *task = data;
        Request *r = g_task_get_task_data(task);
        guint8 buf[8192];
        gssize n;

        /* The task may end inside a handler; keep it until this returns. */
        g_object_ref(task);
        while (!r->ended &&
               (n = nlc_vdp_socket_receive(fd, buf, sizeof buf, r->lldpad_port)) != -EAGAIN) {
                if (n == 0 || n == -EINTR)
                        continue; /* not lldpad's */
                if (n < 0) {
                        fail(task, NLC_VDP_ERROR_NO_LLDPAD, "reading lldpad's answer: %s",
                             g_strerror((int) -n));
                        break;
                }
                if (r->step == STEP_ACCEPTANCE)
                        on_acceptance(task, buf, (gsize) n);
                else if (r->step == STEP_STATUS)
                        on_status(task, buf, (gsize) n);
        }
        g_object_unref(task);
        return G_SOURCE_CONTINUE;
}

static gboolean
on_timeout(gpointer data)
{
        GTask *task = data;
        Request *r = g_task_get_task_data(task);

        if (r->qbh)
                fail(task, NLC_VDP_ERROR_TIMED_OUT, "the kernel did not answer in %u ms",
                     r->t.reply_timeout_ms);
        else if (r->step == STEP_ACCEPTANCE)
                fail(task, NLC_VDP_ERROR_TIMED_OUT, "lldpad (pid %u) did not answer in %u ms",
                     r->lldpad_port, r->t.reply_timeout_ms);
        else
                fail(task, NLC_VDP_ERROR_TIMED_OUT,
                     "lldpad (pid %u) did not answer status read %u in %u ms", r->lldpad_port,
                     r->polls, r->t.reply_timeout_ms);
        return G_SOURCE_REMOVE;
}

static void
arm_timer(GTask *task, guint ms, GSourceFunc func)
{
        Request *r = g_task_get_task_data(task);

        drop_source(&r->timer);
        r->timer = g_timeout_source_new(ms);
        g_source_set_callback(r->timer, func, task, NULL);
        g_source_attach(r->timer, g_task_get_context(task));
}

static gboolean
send_message(GTask *task, const guint8 *buf, gsize len)
{
        Request *r = g_task_get_task_data(task);
        int e = nlc_vdp_socket_send(r->fd, r->lldpad_port, buf, len);

        if (e == 0)
                return TRUE;
        if (r->qbh)
                fail(task, NLC_VDP_ERROR_NO_LLDPAD, "cannot send to the kernel: %s",
                     g_strerror(-e));
        else if (e == -ECONNREFUSED)
                fail(task, NLC_VDP_ERROR_NO_LLDPAD,
                     "nobody listens at lldpad's netlink port %u (from %s): lldpad is not running "
                     "in this network namespace",
                     r->lldpad_port, r->pid_file);
        else
                fail(task, NLC_VDP_ERROR_NO_LLDPAD, "cannot send to lldpad (pid %u): %s",
                     r->lldpad_port, g_strerror(-e));
        return FALSE;
}

gboolean
nlc_vdp_read_lldpad_pid(const char *path, guint32 *pid, GError **error)
{
        g_autofree char *text = NULL;
        guint64 v;

        if (!g_file_get_contents(path, &text, NULL, error))
                return FALSE;
        if (!g_ascii_string_to_unsigned(g_strstrip(text), 10, 1, G_MAXINT32, &v, NULL)) {
                g_set_error(error, NLC_VDP_ERROR, NLC_VDP_ERROR_NO_LLDPAD, "%s does not hold a pid",
                            path);
                return FALSE;
        }
        *pid = (guint32) v;
        return TRUE;
}

static gboolean
on_cancelled(GCancellable *cancellable, gpointer data)
{
        GTask *task = data;
        Request *r = g_task_get_task_data(task);

        drop_source(&r->cancel);
        stop_waits(r);
        g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "%s: cancelled", r->what);
        g_object_unref(task);
        return G_SOURCE_REMOVE;
}

/* The task and its request, everything but the target and the message. */
static GTask *
request_new(NlcVdpRequest request, const NlcVdpTimings *timings, GCancellable *cancellable,
            GAsyncReadyCallback callback, gpointer data, char *what)
{
        GTask *task = g_task_new(NULL, cancellable, callback, data);
        Request *r = g_new0(Request, 1);

        g_task_set_source_tag(task, nlc_vdp_request_async);
        r->fd = -1;
        r->request = request;
        r->t = timings ? *timings : (NlcVdpTimings){ 0 };
        r->t.reply_timeout_ms = r->t.reply_timeout_ms ? r->t.reply_timeout_ms : 2000;
        r->t.timeout_ms = r->t.timeout_ms ? r->t.timeout_ms : 10000;
        r->t.first_poll_ms = r->t.first_poll_ms ? r->t.first_poll_ms : 20;
        r->t.poll_ms = r->t.poll_ms ? r->t.poll_ms : 20;
        r->pid_file = g_strdup(r->t.lldpad_pid_file ? r->t.lldpad_pid_file : DEFAULT_PID_FILE);
        r->t.lldpad_pid_file = NULL; /* r->pid_file owns it */
        r->what = what;
        r->started = g_get_monotonic_time();
        r->deadline = r->started + (gint64) r->t.timeout_ms * 1000;
        g_task_set_task_data(task, r, (GDestroyNotify) request_free);
        /* The task's own check would only act when it returns. */
        g_task_set_check_cancellable(task, FALSE);
        if (cancellable) {
                r->cancel = g_cancellable_source_new(cancellable);
                g_source_set_callback(r->cancel, (GSourceFunc) (void (*)(void)) on_cancelled, task,
                                      NULL);
                g_source_attach(r->cancel, g_task_get_context(task));
        }
        return task;
}

/* The request's socket, read from the main loop, and its first sequence
 * number. FALSE: the task has failed. */
static gboolean
open_socket(GTask *task)
{
        Request *r = g_task_get_task_data(task);
        int fd = nlc_vdp_socket_open(&r->port_id);

        if (fd < 0) {
                fail(task, NLC_VDP_ERROR_NO_LLDPAD, "cannot open a netlink socket: %s",
                     g_strerror(-fd));
                return FALSE;
        }
        r->fd = fd;
        /* A stale pid file may name a pid that is now this process's, whose
         * socket would then get its own request. */
        if (!r->qbh && r->port_id == r->lldpad_port) {
                fail(task, NLC_VDP_ERROR_NO_LLDPAD,
                     "%s names pid %u, which is this process now: lldpad is not running",
                     r->pid_file, r->lldpad_port);
                return FALSE;
        }
        r->io = g_unix_fd_source_new(fd, G_IO_IN);
        g_source_set_callback(r->io, (GSourceFunc) (void (*)(void)) on_readable, task, NULL);
        g_source_attach(r->io, g_task_get_context(task));
        r->seq = (guint32) g_random_int_range(1, G_MAXINT32 / 2);
        return TRUE;
}

/* lldpad's port from its pid file, and the socket to it. */
static gboolean
open_lldpad_socket(GTask *task)
{
        Request *r = g_task_get_task_data(task);
        g_autoptr(GError) error = NULL;

        if (!nlc_vdp_read_lldpad_pid(r->pid_file, &r->lldpad_port, &error)) {
                fail(task, NLC_VDP_ERROR_NO_LLDPAD, "cannot read lldpad's pid: %s", error->message);
                return FALSE;
        }
        return open_socket(task);
}

static void
send_request(GTask *task, const guint8 *buf, gsize len)
{
        Request *r = g_task_get_task_data(task);

        r->step = STEP_ACCEPTANCE;
        if (send_message(task, buf, len))
                arm_timer(task, r->t.reply_timeout_ms, on_timeout);
}

void
nlc_vdp_request_async(const NlcVdpVsi *vsi, NlcVdpRequest request, const NlcVdpTimings *timings,
                      GCancellable *cancellable, GAsyncReadyCallback callback, gpointer data)
{
        g_autofree char *uuid = nlc_vdp_uuid_to_string(vsi->instance_uuid);
        GTask *task = request_new(request, timings, cancellable, callback, data,
                                  g_strdup_printf("%s of VSI %s on %s",
                                                  nlc_vdp_request_to_string(request), uuid,
                                                  vsi->uplink_name));
        Request *r = g_task_get_task_data(task);
        guint8 buf[NLC_VDP_MSG_MAX];

        r->vsi = *vsi;
        if (!open_lldpad_socket(task))
                return;
        /* lldpad answers the sender's address; the header's pid is only
         * where its later notifications go. */
        send_request(task, buf,
                     nlc_vdp_build_setlink(buf, r->seq,
                                           r->t.event_port ? r->t.event_port : r->port_id, vsi,
                                           request));
}

void
nlc_qbh_request_async(const NlcQbhPort *port, NlcVdpRequest request, const NlcVdpTimings *timings,
                      GCancellable *cancellable, GAsyncReadyCallback callback, gpointer data)
{
        g_autofree char *uuid = nlc_vdp_uuid_to_string(port->instance_uuid);
        GTask *task = request_new(
                request, timings, cancellable, callback, data,
                port->vf == NLC_QBH_SELF_VF
                        ? g_strdup_printf("802.1Qbh %s of profile '%s' (instance %s) on %s",
                                          nlc_vdp_request_to_string(request), port->profile, uuid,
                                          port->ifname)
                        : g_strdup_printf("802.1Qbh %s of profile '%s' (instance %s) on VF %d of "
                                          "%s",
                                          nlc_vdp_request_to_string(request), port->profile, uuid,
                                          port->vf, port->ifname));
        Request *r = g_task_get_task_data(task);
        guint8 buf[NLC_VDP_MSG_MAX];

        r->qbh = TRUE;
        r->port = *port;
        /* The kernel; a test's responder in its place. */
        r->lldpad_port = r->t.qbh_port;
        if (open_socket(task))
                send_request(task, buf, nlc_qbh_build_setlink(buf, r->seq, port, request));
}

void
nlc_vdp_status_async(const NlcVdpVsi *vsi, const NlcVdpTimings *timings, GCancellable *cancellable,
                     GAsyncReadyCallback callback, gpointer data)
{
        g_autofree char *uuid = nlc_vdp_uuid_to_string(vsi->instance_uuid);
        GTask *task =
                request_new(NLC_VDP_ASSOCIATE, timings, cancellable, callback, data,
                            g_strdup_printf("status of VSI %s on %s", uuid, vsi->uplink_name));
        Request *r = g_task_get_task_data(task);

        r->vsi = *vsi;
        r->status_only = TRUE;
        if (open_lldpad_socket(task))
                on_poll_due(task);
}

NlcVdpStatus
nlc_vdp_status_finish(GAsyncResult *result, guint16 *response, GError **error)
{
        gssize v = g_task_propagate_int(G_TASK(result), error);

        if (v < 0)
                return NLC_VDP_STATUS_BAD_MESSAGE;
        if (response)
                *response = (guint16) (v & 0xffff);
        return (NlcVdpStatus) (v >> 16);
}

gboolean
nlc_vdp_request_finish(GAsyncResult *result, guint16 *response, GError **error)
{
        gssize v = g_task_propagate_int(G_TASK(result), error);

        if (v < 0)
                return FALSE;
        if (response)
                *response = (guint16) v;
        return TRUE;
}
