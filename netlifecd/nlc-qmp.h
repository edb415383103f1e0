/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * NlcQmp: a QMP client (QEMU Machine Protocol) on a unix socket, on GIO and
 * json-glib. Connect reads the greeting and negotiates capabilities; commands
 * carry an "id" and their replies are matched by it, so events and replies
 * may interleave in any order; every command has a timeout. When the socket
 * drops, pending commands fail, "disconnected" is emitted, and the client
 * reconnects with backoff until nlc_qmp_close().
 *
 * Errors are GError in NLC_QMP_ERROR rather than errno: a QMP error reply
 * carries a class and a text that errno cannot. The migration driver turns
 * them into org.netlifecd1.Error.* in one place.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define NLC_QMP_ERROR (nlc_qmp_error_quark())
GQuark nlc_qmp_error_quark(void);

typedef enum {
        NLC_QMP_ERROR_COMMAND = 0,      /* QEMU answered {"error": ...}; message = "Class: desc" */
        NLC_QMP_ERROR_TIMEOUT = 1,      /* no reply in time */
        NLC_QMP_ERROR_DISCONNECTED = 2, /* the socket is closed or dropped meanwhile */
        NLC_QMP_ERROR_PROTOCOL = 3,     /* not QMP: bad greeting, garbage, wrong reply shape */
        NLC_QMP_ERROR_NO_LISTENER = 4,  /* connect: no such socket, or nobody listens on it
                                         * (a live QEMU keeps its monitor listening) */
} NlcQmpError;

#define NLC_TYPE_QMP (nlc_qmp_get_type())
G_DECLARE_FINAL_TYPE(NlcQmp, nlc_qmp, NLC, QMP, GObject)

/*
 * Signals:
 *   "event" (const char *name, JsonObject *data, gint64 timestamp_usec):
 *       a QMP event; data may be NULL; the timestamp is QEMU's.
 *   "connected" (): the greeting and capability negotiation are done.
 *   "disconnected" (const GError *why).
 */

NlcQmp *nlc_qmp_new(const char *socket_path);
const char *nlc_qmp_get_socket_path(NlcQmp *self);
gboolean nlc_qmp_is_connected(NlcQmp *self);
/* The uid of the process listening on the socket (SO_PEERCRED). */
gboolean nlc_qmp_get_peer_uid(NlcQmp *self, guint32 *uid);
/* The process at the other end of the socket (SO_PEERCRED), 0 when not
 * connected. */
GPid nlc_qmp_get_peer_pid(NlcQmp *self);
/* QEMU's version from the greeting: major*10000 + minor*100 + micro, or 0. */
guint nlc_qmp_get_version(NlcQmp *self);
/* Default per-command timeout; 0 disables. Initially 10 s. */
void nlc_qmp_set_timeout(NlcQmp *self, guint timeout_ms);
/* Reconnect delays start at @min_ms and double up to @max_ms. */
void nlc_qmp_set_reconnect_backoff(NlcQmp *self, guint min_ms, guint max_ms);

void nlc_qmp_connect_async(NlcQmp *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                           gpointer user_data);
gboolean nlc_qmp_connect_finish(NlcQmp *self, GAsyncResult *result, GError **error);
/* Closes the socket and stops reconnecting; pending commands fail. */
void nlc_qmp_close(NlcQmp *self);

/* Runs @command with @arguments (an object, or NULL; its reference is taken).
 * The result is QEMU's "return" value. */
void nlc_qmp_execute_async(NlcQmp *self, const char *command, JsonObject *arguments,
                           GCancellable *cancellable, GAsyncReadyCallback callback,
                           gpointer user_data);
JsonNode *nlc_qmp_execute_finish(NlcQmp *self, GAsyncResult *result, GError **error);
/* Like nlc_qmp_execute_async(), sent out-of-band ("exec-oob") when QEMU
 * offered OOB in its greeting (it is then enabled at qmp_capabilities), so
 * it is answered even while QEMU's main loop is blocked; in band otherwise.
 * Finish with nlc_qmp_execute_finish(). */
void nlc_qmp_execute_oob_async(NlcQmp *self, const char *command, JsonObject *arguments,
                               GCancellable *cancellable, GAsyncReadyCallback callback,
                               gpointer user_data);
gboolean nlc_qmp_has_oob(NlcQmp *self);

G_END_DECLS
