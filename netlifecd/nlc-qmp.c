/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "nlc-qmp-private.h"
#include "nlc-qmp.h"

/* A QMP line longer than this is not QEMU talking (query-migrate and the
 * largest schema replies are far smaller). */
#define MAX_LINE (16u << 20)

G_DEFINE_QUARK(nlc - qmp - error - quark, nlc_qmp_error)

typedef enum {
        STAGE_IDLE,     /* not connected */
        STAGE_GREETING, /* waiting for {"QMP": ...} */
        STAGE_CAPS,     /* qmp_capabilities sent */
        STAGE_READY,
} Stage;

struct _NlcQmp {
        GObject parent;
        char *path;
        Stage stage;
        GSocketConnection *connection;
        GInputStream *in;
        GOutputStream *out;
        GByteArray *rx;          /* bytes read, not yet a whole line */
        gsize rx_scanned;        /* rx[0..rx_scanned) holds no newline */
        guint generation;        /* bumped on every drop: stale callbacks stop */
        GCancellable *io_cancel; /* this connection's reads and writes */
        GQueue writes;           /* GBytes, written one at a time */
        gboolean writing;
        GHashTable *pending; /* id → GTask */
        guint64 next_id;
        guint timeout_ms;
        guint backoff_min_ms, backoff_max_ms, backoff_ms;
        guint reconnect_id;
        gboolean closed; /* by the owner: no reconnect */
        GTask *connect_task;
        guint version;
        /* Out-of-band execution (QEMU 3.0+, offered in the greeting): a
         * command that must get through while the main loop is stuck, as
         * on a post-copy destination whose link to the source is cut. */
        gboolean oob_offered, oob;
};

enum { SIGNAL_EVENT, SIGNAL_CONNECTED, SIGNAL_DISCONNECTED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE(NlcQmp, nlc_qmp, G_TYPE_OBJECT)

typedef struct {
        NlcQmp *qmp;
        guint64 id;
        guint timeout_id;
} Pending;

static void start_connect(NlcQmp *self);
static void read_more(NlcQmp *self);

static void
pending_free(Pending *p)
{
        if (p->timeout_id)
                g_source_remove(p->timeout_id);
        g_free(p);
}

static GTask *
take_pending(NlcQmp *self, guint64 id)
{
        GTask *task = NULL;
        gpointer key = NULL;

        /* Steal the task (the table does not own it), free the key. */
        if (g_hash_table_steal_extended(self->pending, &id, &key, (gpointer *) &task)) {
                Pending *p = g_task_get_task_data(task);

                g_free(key);
                if (p->timeout_id)
                        g_source_remove(p->timeout_id);
                p->timeout_id = 0;
        }
        return task;
}

static void
fail_all_pending(NlcQmp *self, const GError *why)
{
        g_autoptr(GList) tasks = g_hash_table_get_values(self->pending);

        /* The keys go, the tasks (not owned by the table) are answered. */
        g_hash_table_remove_all(self->pending);
        for (GList *l = tasks; l; l = l->next) {
                GTask *task = l->data;
                Pending *p = g_task_get_task_data(task);

                if (p->timeout_id)
                        g_source_remove(p->timeout_id);
                p->timeout_id = 0;
                /* Every error from this client names its command. */
                g_task_return_new_error(task, why->domain, why->code, "%s: %s",
                                        g_task_get_name(task), why->message);
                g_object_unref(task);
        }
}

static void schedule_reconnect(NlcQmp *self);

/* Drops the connection; @why goes to pending commands and listeners. */
static void
drop_connection(NlcQmp *self, const GError *why)
{
        gboolean was_ready = self->stage == STAGE_READY;

        if (self->stage == STAGE_IDLE && !self->connection)
                return;
        self->stage = STAGE_IDLE;
        self->oob_offered = self->oob = FALSE;
        self->generation++;
        g_byte_array_set_size(self->rx, 0);
        self->rx_scanned = 0;
        g_cancellable_cancel(self->io_cancel);
        g_clear_object(&self->io_cancel);
        g_queue_clear_full(&self->writes, (GDestroyNotify) g_bytes_unref);
        self->writing = FALSE;
        self->in = NULL;
        self->out = NULL;
        if (self->connection)
                g_io_stream_close(G_IO_STREAM(self->connection), NULL, NULL);
        g_clear_object(&self->connection);
        fail_all_pending(self, why);
        if (self->connect_task) {
                GTask *task = g_steal_pointer(&self->connect_task);

                g_task_return_error(task, g_error_copy(why));
                g_object_unref(task);
        }
        g_debug("qmp %s: %s", self->path, why->message);
        if (was_ready)
                g_signal_emit(self, signals[SIGNAL_DISCONNECTED], 0, why);
        schedule_reconnect(self);
}

static void drop_with(NlcQmp *self, NlcQmpError code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void
drop_with(NlcQmp *self, NlcQmpError code, const char *fmt, ...)
{
        g_autoptr(GError) error = NULL;
        g_autofree char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        msg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        error = g_error_new_literal(NLC_QMP_ERROR, code, msg);
        drop_connection(self, error);
}

static void write_next(NlcQmp *self);

static void
on_written(GObject *source, GAsyncResult *result, gpointer data)
{
        NlcQmp *self = data;
        g_autoptr(GError) error = NULL;

        if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), result, NULL, &error)) {
                if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                        drop_with(self, NLC_QMP_ERROR_DISCONNECTED, "writing to %s: %s", self->path,
                                  error->message);
                g_object_unref(self);
                return;
        }
        g_bytes_unref(g_queue_pop_head(&self->writes));
        self->writing = FALSE;
        write_next(self);
        g_object_unref(self);
}

static void
write_next(NlcQmp *self)
{
        GBytes *bytes = g_queue_peek_head(&self->writes);
        gsize len;
        const void *data;

        if (self->writing || !bytes || !self->out)
                return;
        self->writing = TRUE;
        data = g_bytes_get_data(bytes, &len);
        g_output_stream_write_all_async(self->out, data, len, G_PRIORITY_DEFAULT, self->io_cancel,
                                        on_written, g_object_ref(self));
}

static void
send_command(NlcQmp *self, const char *command, JsonObject *arguments, guint64 id, gboolean oob)
{
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(JsonGenerator) gen = json_generator_new();
        g_autoptr(JsonNode) root = NULL;
        g_autofree char *text = NULL;

        json_builder_begin_object(b);
        json_builder_set_member_name(b, oob ? "exec-oob" : "execute");
        json_builder_add_string_value(b, command);
        if (arguments) {
                JsonNode *args = json_node_new(JSON_NODE_OBJECT);

                json_node_set_object(args, arguments);
                json_builder_set_member_name(b, "arguments");
                json_builder_add_value(b, args);
        }
        json_builder_set_member_name(b, "id");
        json_builder_add_int_value(b, (gint64) id);
        json_builder_end_object(b);
        root = json_builder_get_root(b);
        json_generator_set_root(gen, root);
        text = json_generator_to_data(gen, NULL);
        g_debug("qmp %s <- %s", self->path, text);
        g_queue_push_tail(&self->writes,
                          g_bytes_new_take(g_strconcat(text, "\n", NULL), strlen(text) + 1));
        write_next(self);
}

static gboolean
on_command_timeout(gpointer data)
{
        Pending *p = data;
        GTask *task;

        p->timeout_id = 0;
        task = take_pending(p->qmp, p->id);
        if (task) {
                g_task_return_new_error(task, NLC_QMP_ERROR, NLC_QMP_ERROR_TIMEOUT,
                                        "%s: no reply within %u ms", g_task_get_name(task),
                                        p->qmp->timeout_ms);
                g_object_unref(task);
        }
        return G_SOURCE_REMOVE;
}

/* Registers @task under a fresh id and sends the command. */
static void
execute_task(NlcQmp *self, GTask *task, const char *command, JsonObject *arguments, gboolean oob)
{
        Pending *p = g_new0(Pending, 1);

        p->qmp = self;
        p->id = ++self->next_id;
        g_task_set_task_data(task, p, (GDestroyNotify) pending_free);
        g_task_set_name(task, command);
        g_hash_table_insert(self->pending, g_memdup2(&p->id, sizeof p->id), task);
        if (self->timeout_ms)
                p->timeout_id = g_timeout_add(self->timeout_ms, on_command_timeout, p);
        send_command(self, command, arguments, p->id, oob);
}

static void
execute(NlcQmp *self, const char *command, JsonObject *arguments, gboolean oob,
        GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
        GTask *task = g_task_new(self, cancellable, callback, user_data);

        g_task_set_source_tag(task, nlc_qmp_execute_async);
        if (self->stage != STAGE_READY) {
                g_task_return_new_error(task, NLC_QMP_ERROR, NLC_QMP_ERROR_DISCONNECTED,
                                        "%s: not connected to QEMU at %s", command, self->path);
                g_object_unref(task);
                if (arguments)
                        json_object_unref(arguments);
                return;
        }
        execute_task(self, task, command, arguments, oob && self->oob);
        if (arguments)
                json_object_unref(arguments);
}

void
nlc_qmp_execute_async(NlcQmp *self, const char *command, JsonObject *arguments,
                      GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
        execute(self, command, arguments, FALSE, cancellable, callback, user_data);
}

void
nlc_qmp_execute_oob_async(NlcQmp *self, const char *command, JsonObject *arguments,
                          GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data)
{
        execute(self, command, arguments, TRUE, cancellable, callback, user_data);
}

gboolean
nlc_qmp_has_oob(NlcQmp *self)
{
        return self->stage == STAGE_READY && self->oob;
}

JsonNode *
nlc_qmp_execute_finish(NlcQmp *self, GAsyncResult *result, GError **error)
{
        return g_task_propagate_pointer(G_TASK(result), error);
}

static void
on_capabilities(GObject *source, GAsyncResult *result, gpointer data)
{
        NlcQmp *self = NLC_QMP(source);
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) reply = g_task_propagate_pointer(G_TASK(result), &error);
        GTask *task;

        if (!reply) {
                if (self->stage == STAGE_CAPS)
                        drop_with(self, NLC_QMP_ERROR_PROTOCOL, "qmp_capabilities failed: %s",
                                  error->message);
                return;
        }
        self->stage = STAGE_READY;
        self->oob = self->oob_offered;
        self->backoff_ms = self->backoff_min_ms;
        g_debug("qmp %s: ready (QEMU %u)", self->path, self->version);
        task = g_steal_pointer(&self->connect_task);
        if (task) {
                g_task_return_boolean(task, TRUE);
                g_object_unref(task);
        }
        g_signal_emit(self, signals[SIGNAL_CONNECTED], 0);
}

static void
handle_greeting(NlcQmp *self, JsonObject *msg)
{
        JsonObject *qmp = json_object_get_object_member(msg, "QMP");
        JsonObject *version = qmp && json_object_has_member(qmp, "version")
                                      ? json_object_get_object_member(qmp, "version")
                                      : NULL;
        JsonObject *qemu = version && json_object_has_member(version, "qemu")
                                   ? json_object_get_object_member(version, "qemu")
                                   : NULL;
        g_autoptr(JsonObject) args = NULL;
        GTask *caps;

        if (!qmp) {
                drop_with(self, NLC_QMP_ERROR_PROTOCOL, "%s did not greet with QMP", self->path);
                return;
        }
        if (qemu)
                self->version =
                        (guint) (json_object_get_int_member_with_default(qemu, "major", 0) * 10000 +
                                 json_object_get_int_member_with_default(qemu, "minor", 0) * 100 +
                                 json_object_get_int_member_with_default(qemu, "micro", 0));
        self->oob_offered = FALSE;
        if (json_object_has_member(qmp, "capabilities") &&
            JSON_NODE_HOLDS_ARRAY(json_object_get_member(qmp, "capabilities"))) {
                JsonArray *offered = json_object_get_array_member(qmp, "capabilities");

                for (guint i = 0; i < json_array_get_length(offered); i++)
                        if (JSON_NODE_HOLDS_VALUE(json_array_get_element(offered, i)) &&
                            g_strcmp0(json_array_get_string_element(offered, i), "oob") == 0)
                                self->oob_offered = TRUE;
        }
        if (self->oob_offered) {
                JsonArray *enable = json_array_new();

                json_array_add_string_element(enable, "oob");
                args = json_object_new();
                json_object_set_array_member(args, "enable", enable);
        }
        self->stage = STAGE_CAPS;
        caps = g_task_new(self, NULL, on_capabilities, NULL);
        execute_task(self, caps, "qmp_capabilities", args, FALSE);
}

static void
handle_reply(NlcQmp *self, JsonObject *msg)
{
        JsonNode *id_node = json_object_get_member(msg, "id");
        GTask *task;

        if (!id_node || json_node_get_value_type(id_node) != G_TYPE_INT64) {
                g_debug("qmp %s: reply without our id; ignored", self->path);
                return;
        }
        task = take_pending(self, (guint64) json_node_get_int(id_node));
        if (!task) {
                /* Late (timed out) or not ours. */
                g_debug("qmp %s: reply to unknown id %" G_GINT64_FORMAT, self->path,
                        json_node_get_int(id_node));
                return;
        }
        if (json_object_has_member(msg, "error")) {
                JsonObject *err = json_object_get_object_member(msg, "error");
                const char *cls =
                        err ? json_object_get_string_member_with_default(err, "class", "?") : "?";
                const char *desc =
                        err ? json_object_get_string_member_with_default(err, "desc", "") : "";

                g_task_return_new_error(task, NLC_QMP_ERROR, NLC_QMP_ERROR_COMMAND, "%s: %s: %s",
                                        g_task_get_name(task), cls, desc);
        } else {
                g_task_return_pointer(task, json_node_copy(json_object_get_member(msg, "return")),
                                      (GDestroyNotify) json_node_unref);
        }
        g_object_unref(task);
}

static void
handle_event(NlcQmp *self, JsonObject *msg)
{
        const char *name = json_object_get_string_member_with_default(msg, "event", NULL);
        JsonObject *data =
                json_object_has_member(msg, "data") &&
                                JSON_NODE_HOLDS_OBJECT(json_object_get_member(msg, "data"))
                        ? json_object_get_object_member(msg, "data")
                        : NULL;
        JsonObject *ts =
                json_object_has_member(msg, "timestamp") &&
                                JSON_NODE_HOLDS_OBJECT(json_object_get_member(msg, "timestamp"))
                        ? json_object_get_object_member(msg, "timestamp")
                        : NULL;
        gint64 usec = 0;

        if (!name)
                return;
        if (ts)
                usec = json_object_get_int_member_with_default(ts, "seconds", 0) * G_USEC_PER_SEC +
                       json_object_get_int_member_with_default(ts, "microseconds", 0);
        g_signal_emit(self, signals[SIGNAL_EVENT], 0, name, data, usec);
}

static void
handle_line(NlcQmp *self, const char *line)
{
        g_autoptr(JsonParser) parser = json_parser_new_immutable();
        g_autoptr(GError) error = NULL;
        JsonObject *msg;

        if (!*line)
                return;
        g_debug("qmp %s -> %s", self->path, line);
        if (!json_parser_load_from_data(parser, line, -1, &error) ||
            !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
                drop_with(self, NLC_QMP_ERROR_PROTOCOL, "%s sent something that is not QMP: %s",
                          self->path, error ? error->message : "not an object");
                return;
        }
        msg = json_node_get_object(json_parser_get_root(parser));
        if (self->stage == STAGE_GREETING)
                handle_greeting(self, msg);
        else if (json_object_has_member(msg, "event"))
                handle_event(self, msg);
        else if (json_object_has_member(msg, "return") || json_object_has_member(msg, "error"))
                handle_reply(self, msg);
        else
                g_debug("qmp %s: unknown message ignored", self->path);
}

/* Splits what was read into lines and handles each; stops as soon as a line
 * drops the connection. */
static void
feed(NlcQmp *self, const guint8 *data, gsize len)
{
        guint generation = self->generation;
        gsize start = 0;

        g_byte_array_append(self->rx, data, (guint) len);
        /* Each byte is looked at once, however long the line grows. */
        for (gsize i = self->rx_scanned; i < self->rx->len && generation == self->generation; i++) {
                if (self->rx->data[i] != '\n')
                        continue;
                self->rx->data[i] = '\0';
                g_strchomp((char *) self->rx->data + start); /* QEMU ends lines with \r\n */
                if (!g_utf8_validate((const char *) self->rx->data + start, -1, NULL))
                        drop_with(self, NLC_QMP_ERROR_PROTOCOL, "%s sent bytes that are not UTF-8",
                                  self->path);
                else
                        handle_line(self, (const char *) self->rx->data + start);
                start = i + 1;
        }
        if (generation != self->generation)
                return;
        g_byte_array_remove_range(self->rx, 0, (guint) start);
        self->rx_scanned = self->rx->len;
        if (self->rx->len > MAX_LINE)
                drop_with(self, NLC_QMP_ERROR_PROTOCOL, "%s: a line longer than %u bytes",
                          self->path, MAX_LINE);
}

static void
on_read(GObject *source, GAsyncResult *result, gpointer data)
{
        NlcQmp *self = data;
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) bytes =
                g_input_stream_read_bytes_finish(G_INPUT_STREAM(source), result, &error);
        gsize len = 0;
        const guint8 *buf;

        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
            G_INPUT_STREAM(source) != self->in) {
                g_object_unref(self);
                return;
        }
        buf = bytes ? g_bytes_get_data(bytes, &len) : NULL;
        if (!bytes || len == 0) {
                drop_with(self, NLC_QMP_ERROR_DISCONNECTED, "%s: %s", self->path,
                          error ? error->message : "QEMU closed the socket");
                g_object_unref(self);
                return;
        }
        feed(self, buf, len);
        if (self->in == G_INPUT_STREAM(source))
                read_more(self);
        g_object_unref(self);
}

static void
read_more(NlcQmp *self)
{
        g_input_stream_read_bytes_async(self->in, 64 * 1024, G_PRIORITY_DEFAULT, self->io_cancel,
                                        on_read, g_object_ref(self));
}

static void
on_connected(GObject *source, GAsyncResult *result, gpointer data)
{
        NlcQmp *self = data;
        g_autoptr(GError) error = NULL;
        GSocketConnection *conn =
                g_socket_client_connect_finish(G_SOCKET_CLIENT(source), result, &error);

        if (!conn) {
                g_debug("qmp %s: connect failed: %s", self->path, error->message);
                if (self->connect_task) {
                        GTask *task = g_steal_pointer(&self->connect_task);

                        gboolean no_listener =
                                g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ||
                                g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);

                        g_task_return_new_error(task, NLC_QMP_ERROR,
                                                no_listener ? NLC_QMP_ERROR_NO_LISTENER
                                                            : NLC_QMP_ERROR_DISCONNECTED,
                                                "cannot connect to QEMU at %s: %s", self->path,
                                                error->message);
                        g_object_unref(task);
                }
                schedule_reconnect(self);
                g_object_unref(self);
                return;
        }
        if (self->closed) {
                g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
                g_object_unref(conn);
                g_object_unref(self);
                return;
        }
        self->connection = conn;
        self->io_cancel = g_cancellable_new();
        self->in = g_io_stream_get_input_stream(G_IO_STREAM(conn));
        self->out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
        self->stage = STAGE_GREETING;
        read_more(self);
        g_object_unref(self);
}

static void
start_connect(NlcQmp *self)
{
        g_autoptr(GSocketClient) client = g_socket_client_new();
        g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(self->path);

        g_socket_client_connect_async(client, G_SOCKET_CONNECTABLE(addr), NULL, on_connected,
                                      g_object_ref(self));
}

static gboolean
on_reconnect(gpointer data)
{
        NlcQmp *self = data;

        self->reconnect_id = 0;
        if (!self->closed && self->stage == STAGE_IDLE && !self->connection)
                start_connect(self);
        return G_SOURCE_REMOVE;
}

static void
schedule_reconnect(NlcQmp *self)
{
        if (self->closed || self->reconnect_id)
                return;
        self->reconnect_id = g_timeout_add(self->backoff_ms, on_reconnect, self);
        self->backoff_ms = MIN(self->backoff_ms * 2, self->backoff_max_ms);
}

void
nlc_qmp_connect_async(NlcQmp *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                      gpointer user_data)
{
        GTask *task = g_task_new(self, cancellable, callback, user_data);

        g_task_set_source_tag(task, nlc_qmp_connect_async);
        if (self->stage == STAGE_READY) {
                g_task_return_boolean(task, TRUE);
                g_object_unref(task);
                return;
        }
        if (self->connect_task) {
                g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_PENDING,
                                        "already connecting to %s", self->path);
                g_object_unref(task);
                return;
        }
        self->closed = FALSE;
        self->connect_task = task;
        if (self->reconnect_id) {
                g_source_remove(self->reconnect_id);
                self->reconnect_id = 0;
        }
        if (self->stage == STAGE_IDLE && !self->connection)
                start_connect(self);
}

gboolean
nlc_qmp_connect_finish(NlcQmp *self, GAsyncResult *result, GError **error)
{
        return g_task_propagate_boolean(G_TASK(result), error);
}

void
nlc_qmp_close(NlcQmp *self)
{
        g_autoptr(GError) why = g_error_new(NLC_QMP_ERROR, NLC_QMP_ERROR_DISCONNECTED,
                                            "connection to %s closed", self->path);

        self->closed = TRUE;
        if (self->reconnect_id)
                g_source_remove(self->reconnect_id);
        self->reconnect_id = 0;
        drop_connection(self, why);
}

GPid
nlc_qmp_get_peer_pid(NlcQmp *self)
{
        g_autoptr(GCredentials) creds = NULL;
        pid_t pid;

        if (!self->connection)
                return 0;
        creds = g_socket_get_credentials(g_socket_connection_get_socket(self->connection), NULL);
        pid = creds ? g_credentials_get_unix_pid(creds, NULL) : -1;
        return pid > 0 ? pid : 0;
}

gboolean
nlc_qmp_get_peer_uid(NlcQmp *self, guint32 *uid)
{
        g_autoptr(GCredentials) creds = NULL;
        uid_t u;

        if (!self->connection)
                return FALSE;
        creds = g_socket_get_credentials(g_socket_connection_get_socket(self->connection), NULL);
        if (!creds)
                return FALSE;
        u = g_credentials_get_unix_user(creds, NULL);
        if (u == (uid_t) -1)
                return FALSE;
        *uid = (guint32) u;
        return TRUE;
}

gboolean
nlc_qmp_is_connected(NlcQmp *self)
{
        return self->stage == STAGE_READY;
}

guint
nlc_qmp_get_version(NlcQmp *self)
{
        return self->version;
}

const char *
nlc_qmp_get_socket_path(NlcQmp *self)
{
        return self->path;
}

void
nlc_qmp_set_timeout(NlcQmp *self, guint timeout_ms)
{
        self->timeout_ms = timeout_ms;
}

void
nlc_qmp_set_reconnect_backoff(NlcQmp *self, guint min_ms, guint max_ms)
{
        self->backoff_min_ms = self->backoff_ms = MAX(1, min_ms);
        self->backoff_max_ms = MAX(self->backoff_min_ms, max_ms);
}

NlcQmp *
nlc_qmp_new(const char *socket_path)
{
        NlcQmp *self = g_object_new(NLC_TYPE_QMP, NULL);

        self->path = g_strdup(socket_path);
        return self;
}

static void
nlc_qmp_init(NlcQmp *self)
{
        self->pending = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
        self->rx = g_byte_array_new();
        self->timeout_ms = 10000;
        nlc_qmp_set_reconnect_backoff(self, 100, 2000);
        g_queue_init(&self->writes);
}

static void
nlc_qmp_dispose(GObject *object)
{
        NlcQmp *self = NLC_QMP(object);

        if (!self->closed)
                nlc_qmp_close(self);
        G_OBJECT_CLASS(nlc_qmp_parent_class)->dispose(object);
}

static void
nlc_qmp_finalize(GObject *object)
{
        NlcQmp *self = NLC_QMP(object);

        g_hash_table_unref(self->pending);
        g_byte_array_unref(self->rx);
        g_free(self->path);
        G_OBJECT_CLASS(nlc_qmp_parent_class)->finalize(object);
}

static void
nlc_qmp_class_init(NlcQmpClass *klass)
{
        GObjectClass *object_class = G_OBJECT_CLASS(klass);

        object_class->dispose = nlc_qmp_dispose;
        object_class->finalize = nlc_qmp_finalize;
        signals[SIGNAL_EVENT] =
                g_signal_new("event", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                             NULL, G_TYPE_NONE, 3, G_TYPE_STRING, JSON_TYPE_OBJECT, G_TYPE_INT64);
        signals[SIGNAL_CONNECTED] =
                g_signal_new("connected", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
                             NULL, NULL, G_TYPE_NONE, 0);
        signals[SIGNAL_DISCONNECTED] =
                g_signal_new("disconnected", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
                             NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

/* ---- fuzzing ---------------------------------------------------------- */

NlcQmp *
nlc_qmp_new_detached(void)
{
        NlcQmp *self = nlc_qmp_new("(fed by a test)");

        /* Ready as after a greeting, never (re)connecting, no timeouts. */
        self->stage = STAGE_READY;
        self->closed = TRUE;
        self->timeout_ms = 0;
        return self;
}

void
nlc_qmp_feed(NlcQmp *self, const guint8 *data, gsize len)
{
        feed(self, data, len);
}
