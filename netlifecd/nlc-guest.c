/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <glib-unix.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nlc-guest.h"
#include "nlc-qmp-commands.h"

/* QEMU's own announce-self defaults (net/announce.c): 5 rounds, 50 ms
 * first, growing by 100 ms up to 550 ms. */
#define ANNOUNCE_ROUNDS     5
#define ANNOUNCE_INITIAL_MS 50
#define ANNOUNCE_MAX_MS     550
#define ANNOUNCE_STEP_MS    100

struct _NlcGuest {
        NlcInstance *instance;
        const NlcConfig *host;
        NlcQmp *qmp;
        gulong event_id, connected_id, disconnected_id;
        gulong ready_id, macs_id; /* waiting for the ports before announce-self */
        GCancellable *cancel;
        int qemu_pidfd;   /* the connected QEMU's process, -1: none */
        guint exit_watch; /* readable when that process ends */
        /* Who may listen on the socket: the instance's owner, or anyone
         * when the socket lies in a directory the host lists. */
        guint32 peer_uid;
        gboolean any_peer;
};

static void
on_announced(GObject *source, GAsyncResult *result, gpointer data)
{
        NlcGuest *g = data;
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) reply = nlc_qmp_command_finish(NLC_QMP(source), result, &error);

        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                return;
        if (!reply) {
                g_message("instance %s: announce-self failed: %s",
                          nlc_instance_get_name(g->instance), error->message);
                return;
        }
        nlc_instance_record(g->instance, "announced");
}

static void
announce(NlcGuest *g)
{
        nlc_qmp_announce_self(g->qmp, g->host->announce_rounds, g->host->announce_initial_ms,
                              g->host->announce_max_ms, g->host->announce_step_ms, g->cancel,
                              on_announced, g);
}

static void
stop_waiting_for_ports(NlcGuest *g)
{
        if (g->ready_id)
                g_signal_handler_disconnect(g->instance, g->ready_id);
        if (g->macs_id)
                g_signal_handler_disconnect(g->instance, g->macs_id);
        g->ready_id = g->macs_id = 0;
}

static void
on_ports_changed(NlcGuest *g)
{
        if (!nlc_instance_get_active_ready(g->instance))
                return;
        stop_waiting_for_ports(g);
        announce(g);
}

static void
on_ready_changed(GObject *object, GParamSpec *pspec, gpointer data)
{
        on_ports_changed(data);
}

static void
on_ready_macs_changed(NlcInstance *instance, gpointer data)
{
        on_ports_changed(data);
}

/* Announcements sent before the ports forward are dropped by the bridge:
 * wait until every active port forwards, which the kernel's event tells. */
static void
announce_when_ready(NlcGuest *g)
{
        if (nlc_instance_get_active_ready(g->instance)) {
                announce(g);
                return;
        }
        if (!g->ready_id)
                g->ready_id = g_signal_connect(g->instance, "notify::ready",
                                               G_CALLBACK(on_ready_changed), g);
        if (!g->macs_id)
                g->macs_id = g_signal_connect(g->instance, "ready-macs-changed",
                                              G_CALLBACK(on_ready_macs_changed), g);
}

/* Every NIC that can carry the guest's traffic activates; one stray record
 * does not keep the others inactive. */
static void
guest_running(NlcGuest *g)
{
        g_autoptr(GString) skipped = g_string_new(NULL);

        nlc_instance_activate_available(g->instance, skipped);
        if (skipped->len)
                g_warning("instance %s: the guest runs; not activated: %s",
                          nlc_instance_get_name(g->instance), skipped->str);
        nlc_instance_record(g->instance, "activated");
        announce_when_ready(g);
}

static void
guest_stopped(NlcGuest *g)
{
        g_autoptr(GError) error = NULL;

        stop_waiting_for_ports(g);
        if (nlc_instance_hand_over_shared(g->instance) > 0)
                nlc_instance_record(g->instance, "handed-over");
        if (!nlc_instance_deactivate(g->instance, &error)) {
                g_warning("instance %s: cannot deactivate its devices for the stopped guest: %s",
                          nlc_instance_get_name(g->instance), error->message);
                return;
        }
        nlc_instance_record(g->instance, "deactivated");
}

/* The guest's QEMU is gone (its process ended, or after a restart nobody
 * listens on its monitor any more; a QMP connection that drops while QEMU
 * lives is not this): the guest runs nowhere, so its devices let go of the
 * MAC, or a sticky static entry would keep pulling its traffic here. A new
 * QEMU on the same socket is followed as before. */
static void
qemu_gone(NlcGuest *g, const char *what, const char *why)
{
        g_autoptr(GError) error = NULL;

        nlc_instance_record(g->instance, what);
        g_message("instance %s: %s; its devices let go of the MAC",
                  nlc_instance_get_name(g->instance), why);
        stop_waiting_for_ports(g);
        if (!nlc_instance_deactivate(g->instance, &error))
                g_warning("instance %s: cannot deactivate its devices: %s",
                          nlc_instance_get_name(g->instance), error->message);
}

static void
unwatch_qemu(NlcGuest *g)
{
        if (g->exit_watch)
                g_source_remove(g->exit_watch);
        g->exit_watch = 0;
        if (g->qemu_pidfd >= 0)
                close(g->qemu_pidfd);
        g->qemu_pidfd = -1;
}

static gboolean
on_qemu_exited(int fd, GIOCondition condition, gpointer data)
{
        NlcGuest *g = data;

        g->exit_watch = 0;
        unwatch_qemu(g);
        qemu_gone(g, "qemu-exited", "its QEMU exited");
        return G_SOURCE_REMOVE;
}

/* A pidfd turns readable when its process ends (Linux 5.3). */
static void
watch_qemu(NlcGuest *g, GPid pid)
{
        unwatch_qemu(g);
        if (!pid)
                return;
        g->qemu_pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (g->qemu_pidfd < 0) {
                g_message("instance %s: cannot watch QEMU (pid %d): %s",
                          nlc_instance_get_name(g->instance), pid, g_strerror(errno));
                return;
        }
        g->exit_watch = g_unix_fd_add(g->qemu_pidfd, G_IO_IN, on_qemu_exited, g);
}

static void
on_event(NlcQmp *qmp, const char *name, JsonObject *data, gint64 timestamp, gpointer user_data)
{
        NlcGuest *g = user_data;

        if (g_str_equal(name, "STOP")) {
                nlc_instance_record(g->instance, "stop");
                guest_stopped(g);
        } else if (g_str_equal(name, "RESUME")) {
                nlc_instance_record(g->instance, "resume");
                guest_running(g);
        }
}

static void
on_status(GObject *source, GAsyncResult *result, gpointer data)
{
        NlcGuest *g = data;
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) reply = nlc_qmp_command_finish(NLC_QMP(source), result, &error);
        JsonObject *o = reply && JSON_NODE_HOLDS_OBJECT(reply) ? json_node_get_object(reply) : NULL;

        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                return;
        if (!o) {
                g_message("instance %s: query-status failed: %s",
                          nlc_instance_get_name(g->instance), error ? error->message : "no status");
                return;
        }
        if (json_object_get_boolean_member_with_default(o, "running", FALSE))
                guest_running(g);
        else
                guest_stopped(g);
}

static void
on_connected(NlcQmp *qmp, gpointer data)
{
        NlcGuest *g = data;
        GPid qemu_pid = nlc_qmp_get_peer_pid(qmp);
        guint32 uid = G_MAXUINT32;

        /* The root daemon would copy tun fds out of this process and drive
         * its migrations: not a process of someone else than the owner. */
        if (!g->any_peer && (!nlc_qmp_get_peer_uid(qmp, &uid) || uid != g->peer_uid)) {
                nlc_instance_record(g->instance, "qmp-refused");
                g_warning("instance %s: the process listening on %s runs as uid %u, not as the "
                          "instance's owner (uid %u): not following it",
                          nlc_instance_get_name(g->instance),
                          nlc_instance_get_qemu_socket(g->instance), uid, g->peer_uid);
                nlc_qmp_close(qmp);
                return;
        }
        nlc_instance_record(g->instance, "qmp-connected");
        watch_qemu(g, qemu_pid);
        if (qemu_pid)
                nlc_instance_adopt_queues(g->instance, qemu_pid);
        /* Events may have been missed while disconnected: ask. */
        nlc_qmp_query_status(qmp, g->cancel, on_status, g);
}

static void
on_disconnected(NlcQmp *qmp, GError *why, gpointer data)
{
        NlcGuest *g = data;

        nlc_instance_record(g->instance, "qmp-disconnected");
        g_message("instance %s: %s", nlc_instance_get_name(g->instance), why->message);
}

static void
on_first_connect(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(GError) error = NULL;

        /* Success is handled by "connected"; failures keep retrying. Nobody
         * listening at all (a daemon restarted after the guest's QEMU
         * ended): that QEMU is gone. */
        if (nlc_qmp_connect_finish(NLC_QMP(source), result, &error))
                return;
        g_debug("qmp: %s", error->message);
        if (g_error_matches(error, NLC_QMP_ERROR, NLC_QMP_ERROR_NO_LISTENER))
                qemu_gone(data, "qemu-gone", error->message);
}

NlcGuest *
nlc_guest_new(NlcInstance *instance, const char *qmp_path, const NlcConfig *host)
{
        NlcGuest *g = g_new0(NlcGuest, 1);

        g->host = host;
        g->instance = g_object_ref(instance);
        g->qmp = nlc_qmp_new(qmp_path);
        g->cancel = g_cancellable_new();
        g->qemu_pidfd = -1;
        g->any_peer = TRUE; /* until nlc_guest_expect_peer() says otherwise */
        g->event_id = g_signal_connect(g->qmp, "event", G_CALLBACK(on_event), g);
        g->connected_id = g_signal_connect(g->qmp, "connected", G_CALLBACK(on_connected), g);
        g->disconnected_id =
                g_signal_connect(g->qmp, "disconnected", G_CALLBACK(on_disconnected), g);
        nlc_instance_set_qemu_socket(instance, qmp_path);
        nlc_qmp_connect_async(g->qmp, g->cancel, on_first_connect, g);
        return g;
}

void
nlc_guest_free(NlcGuest *g)
{
        if (!g)
                return;
        g_cancellable_cancel(g->cancel);
        g_clear_object(&g->cancel);
        unwatch_qemu(g);
        stop_waiting_for_ports(g);
        g_signal_handlers_disconnect_by_data(g->qmp, g);
        nlc_qmp_close(g->qmp);
        g_clear_object(&g->qmp);
        nlc_instance_set_qemu_socket(g->instance, NULL);
        g_clear_object(&g->instance);
        g_free(g);
}

const char *
nlc_guest_get_qmp_path(NlcGuest *g)
{
        return nlc_qmp_get_socket_path(g->qmp);
}

void
nlc_guest_expect_peer(NlcGuest *g, guint32 uid, gboolean any)
{
        g->peer_uid = uid;
        g->any_peer = any;
}

NlcQmp *
nlc_guest_get_qmp(NlcGuest *g)
{
        return g->qmp;
}
