/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "nlc-fake-qmp.h"

typedef enum {
        STEP_EXPECT,
        STEP_EXPECT_ERROR,
        STEP_SILENCE,
        STEP_EVENT,
        STEP_RAW,
        STEP_HANG_UP
} StepKind;

typedef struct {
        StepKind kind;
        char *command;
        char *args_json;
        char *text; /* reply JSON, event data, raw bytes, error desc */
        char *cls;
        gboolean oob; /* must come as "exec-oob" */
} Step;

struct _NlcFakeQmp {
        char *dir, *path;
        GSocketService *service;
        GSocketConnection *client;
        GDataInputStream *in;
        GOutputStream *out;
        GCancellable *cancel;
        GPtrArray *steps;
        guint next;
        GString *errors;
        int major, minor, micro;
        guint connections;
        gboolean oob_enabled; /* the client enabled "oob" at qmp_capabilities */
};

static void
step_free(Step *s)
{
        g_free(s->command);
        g_free(s->args_json);
        g_free(s->text);
        g_free(s->cls);
        g_free(s);
}

typedef struct {
        GOutputStream *out;
        char *text;
} BigWrite;

static gpointer
write_thread(gpointer data)
{
        BigWrite *w = data;

        g_output_stream_write_all(w->out, w->text, strlen(w->text), NULL, NULL, NULL);
        g_object_unref(w->out);
        g_free(w->text);
        g_free(w);
        return NULL;
}

/* The client reads on this same thread: a write larger than the socket
 * buffer would block forever, so those go from a thread. */
static void
send_text(NlcFakeQmp *f, const char *text)
{
        BigWrite *w;

        if (!f->out)
                return;
        if (strlen(text) < 64 * 1024) {
                g_output_stream_write_all(f->out, text, strlen(text), NULL, NULL, NULL);
                return;
        }
        w = g_new0(BigWrite, 1);
        w->out = g_object_ref(f->out);
        w->text = g_strdup(text);
        g_thread_unref(g_thread_new("fake-qmp-writer", write_thread, w));
}

/* Runs the steps that need no input: events, raw bytes, hang-ups. */
static void run_output_steps(NlcFakeQmp *f);

static void
hang_up(NlcFakeQmp *f)
{
        if (f->cancel)
                g_cancellable_cancel(f->cancel);
        g_clear_object(&f->cancel);
        g_clear_object(&f->in);
        f->out = NULL;
        if (f->client)
                g_io_stream_close(G_IO_STREAM(f->client), NULL, NULL);
        g_clear_object(&f->client);
}

static void
run_output_steps(NlcFakeQmp *f)
{
        while (f->client && f->next < f->steps->len) {
                Step *s = f->steps->pdata[f->next];
                g_autofree char *line = NULL;

                if (s->kind == STEP_EVENT) {
                        gint64 now = g_get_real_time();

                        line = g_strdup_printf("{\"event\": \"%s\", \"data\": %s, \"timestamp\": "
                                               "{\"seconds\": %" G_GINT64_FORMAT
                                               ", \"microseconds\": %" G_GINT64_FORMAT "}}\r\n",
                                               s->command, s->text ? s->text : "{}",
                                               now / G_USEC_PER_SEC, now % G_USEC_PER_SEC);
                        send_text(f, line);
                } else if (s->kind == STEP_RAW) {
                        send_text(f, s->text);
                } else if (s->kind == STEP_HANG_UP) {
                        f->next++;
                        hang_up(f);
                        return;
                } else {
                        return; /* waits for a command */
                }
                f->next++;
        }
}

static gboolean
json_equal_text(JsonNode *node, const char *text)
{
        g_autoptr(JsonNode) want = json_from_string(text, NULL);

        return want && node && json_node_equal(node, want);
}

static void
handle_command(NlcFakeQmp *f, const char *line)
{
        g_autoptr(JsonNode) root = json_from_string(line, NULL);
        JsonObject *msg = root && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
        const char *oob_cmd =
                msg ? json_object_get_string_member_with_default(msg, "exec-oob", NULL) : NULL;
        const char *cmd =
                msg ? json_object_get_string_member_with_default(msg, "execute", oob_cmd) : NULL;
        JsonNode *id = msg ? json_object_get_member(msg, "id") : NULL;
        g_autofree char *id_text = id ? json_to_string(id, FALSE) : g_strdup("null");
        Step *s = f->next < f->steps->len ? f->steps->pdata[f->next] : NULL;
        g_autofree char *reply = NULL;

        if (!cmd) {
                g_string_append_printf(f->errors, "not a command: %s\n", line);
                return;
        }
        if (g_str_equal(cmd, "qmp_capabilities")) {
                JsonObject *args = json_object_has_member(msg, "arguments")
                                           ? json_object_get_object_member(msg, "arguments")
                                           : NULL;
                JsonArray *enable = args && json_object_has_member(args, "enable")
                                            ? json_object_get_array_member(args, "enable")
                                            : NULL;

                f->oob_enabled = enable && json_array_get_length(enable) == 1 &&
                                 g_strcmp0(json_array_get_string_element(enable, 0), "oob") == 0;
                reply = g_strdup_printf("{\"return\": {}, \"id\": %s}\r\n", id_text);
                send_text(f, reply);
                return;
        }
        if (!s ||
            (s->kind != STEP_EXPECT && s->kind != STEP_EXPECT_ERROR && s->kind != STEP_SILENCE) ||
            !g_str_equal(s->command, cmd)) {
                g_string_append_printf(f->errors, "unscripted command %s (expected %s)\n", cmd,
                                       s && s->command ? s->command : "nothing");
                reply = g_strdup_printf("{\"error\": {\"class\": \"GenericError\", \"desc\": "
                                        "\"unscripted\"}, \"id\": %s}\r\n",
                                        id_text);
                send_text(f, reply);
                return;
        }
        if (s->args_json &&
            !json_equal_text(json_object_get_member(msg, "arguments"), s->args_json)) {
                g_autofree char *got =
                        json_object_has_member(msg, "arguments")
                                ? json_to_string(json_object_get_member(msg, "arguments"), FALSE)
                                : g_strdup("none");
                g_string_append_printf(f->errors, "%s: arguments %s, expected %s\n", cmd, got,
                                       s->args_json);
        }
        if (oob_cmd && !f->oob_enabled)
                g_string_append_printf(f->errors, "%s: exec-oob without OOB enabled\n", cmd);
        if (s->oob != (oob_cmd != NULL))
                g_string_append_printf(f->errors, "%s: sent %s, expected %s\n", cmd,
                                       oob_cmd ? "exec-oob" : "execute",
                                       s->oob ? "exec-oob" : "execute");
        f->next++;
        if (s->kind == STEP_EXPECT)
                reply = g_strdup_printf("{\"return\": %s, \"id\": %s}\r\n",
                                        s->text ? s->text : "{}", id_text);
        else if (s->kind == STEP_EXPECT_ERROR)
                reply = g_strdup_printf(
                        "{\"error\": {\"class\": \"%s\", \"desc\": \"%s\"}, \"id\": %s}\r\n",
                        s->cls, s->text, id_text);
        if (reply)
                send_text(f, reply);
        run_output_steps(f);
}

static void read_line(NlcFakeQmp *f);

static void
on_line(GObject *source, GAsyncResult *result, gpointer data)
{
        NlcFakeQmp *f = data;
        g_autofree char *line = g_data_input_stream_read_line_finish_utf8(
                G_DATA_INPUT_STREAM(source), result, NULL, NULL);

        if (!line || G_DATA_INPUT_STREAM(source) != f->in)
                return; /* hung up */
        handle_command(f, line);
        if (f->in)
                read_line(f);
}

static void
read_line(NlcFakeQmp *f)
{
        g_data_input_stream_read_line_async(f->in, G_PRIORITY_DEFAULT, f->cancel, on_line, f);
}

static gboolean
on_incoming(GSocketService *service, GSocketConnection *conn, GObject *source, gpointer data)
{
        NlcFakeQmp *f = data;
        g_autofree char *greeting = NULL;

        hang_up(f);
        f->connections++;
        f->client = g_object_ref(conn);
        f->cancel = g_cancellable_new();
        f->in = g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(conn)));
        f->out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
        greeting =
                g_strdup_printf("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": %d, \"minor\": %d, "
                                "\"major\": %d}, \"package\": \"\"}, \"capabilities\": "
                                "[\"oob\"]}}\r\n",
                                f->micro, f->minor, f->major);
        send_text(f, greeting);
        read_line(f);
        return TRUE;
}

NlcFakeQmp *
nlc_fake_qmp_new(int major, int minor, int micro)
{
        NlcFakeQmp *f = g_new0(NlcFakeQmp, 1);
        g_autoptr(GSocketAddress) addr = NULL;
        g_autoptr(GError) error = NULL;

        f->major = major, f->minor = minor, f->micro = micro;
        f->dir = g_dir_make_tmp("nlc-fake-qmp-XXXXXX", NULL);
        f->path = g_build_filename(f->dir, "qmp.sock", NULL);
        f->steps = g_ptr_array_new_with_free_func((GDestroyNotify) step_free);
        f->errors = g_string_new(NULL);
        f->service = g_socket_service_new();
        addr = g_unix_socket_address_new(f->path);
        if (!g_socket_listener_add_address(G_SOCKET_LISTENER(f->service), addr,
                                           G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL,
                                           NULL, &error))
                g_error("fake QMP: %s", error->message);
        g_signal_connect(f->service, "incoming", G_CALLBACK(on_incoming), f);
        g_socket_service_start(f->service);
        return f;
}

void
nlc_fake_qmp_free(NlcFakeQmp *f)
{
        if (!f)
                return;
        hang_up(f);
        g_socket_service_stop(f->service);
        g_socket_listener_close(G_SOCKET_LISTENER(f->service));
        g_object_unref(f->service);
        g_unlink(f->path);
        g_rmdir(f->dir);
        g_ptr_array_unref(f->steps);
        g_string_free(f->errors, TRUE);
        g_free(f->path);
        g_free(f->dir);
        g_free(f);
}

const char *
nlc_fake_qmp_get_path(NlcFakeQmp *f)
{
        return f->path;
}

static void
add(NlcFakeQmp *f, StepKind kind, const char *command, const char *args, const char *text,
    const char *cls)
{
        Step *s = g_new0(Step, 1);

        s->kind = kind;
        s->command = g_strdup(command);
        s->args_json = g_strdup(args);
        s->text = g_strdup(text);
        s->cls = g_strdup(cls);
        g_ptr_array_add(f->steps, s);
        run_output_steps(f);
}

void
nlc_fake_qmp_expect(NlcFakeQmp *f, const char *command, const char *args_json,
                    const char *reply_json)
{
        add(f, STEP_EXPECT, command, args_json, reply_json, NULL);
}

void
nlc_fake_qmp_expect_oob(NlcFakeQmp *f, const char *command, const char *args_json,
                        const char *reply_json)
{
        add(f, STEP_EXPECT, command, args_json, reply_json, NULL);
        ((Step *) f->steps->pdata[f->steps->len - 1])->oob = TRUE;
}

void
nlc_fake_qmp_expect_migration_start(NlcFakeQmp *f)
{
        nlc_fake_qmp_expect(
                f, "query-version", NULL,
                "{\"qemu\": {\"major\": 7, \"minor\": 2, \"micro\": 0}, \"package\": \"\"}");
        nlc_fake_qmp_expect(f, "query-migrate-capabilities", NULL,
                            "[{\"state\": false, \"capability\": \"events\"}, "
                            "{\"state\": false, \"capability\": \"postcopy-ram\"}]");
        nlc_fake_qmp_expect(f, "migrate-set-capabilities", NULL, NULL);
}

void
nlc_fake_qmp_expect_error(NlcFakeQmp *f, const char *command, const char *cls, const char *desc)
{
        add(f, STEP_EXPECT_ERROR, command, NULL, desc, cls);
}

void
nlc_fake_qmp_expect_silence(NlcFakeQmp *f, const char *command)
{
        add(f, STEP_SILENCE, command, NULL, NULL, NULL);
}

void
nlc_fake_qmp_event(NlcFakeQmp *f, const char *name, const char *data_json)
{
        add(f, STEP_EVENT, name, NULL, data_json, NULL);
}

void
nlc_fake_qmp_raw(NlcFakeQmp *f, const char *bytes)
{
        add(f, STEP_RAW, NULL, NULL, bytes, NULL);
}

void
nlc_fake_qmp_hang_up(NlcFakeQmp *f)
{
        add(f, STEP_HANG_UP, NULL, NULL, NULL, NULL);
}

gboolean
nlc_fake_qmp_run_until_done(NlcFakeQmp *f, guint timeout_ms)
{
        gint64 deadline = g_get_monotonic_time() + (gint64) timeout_ms * 1000;

        while (f->next < f->steps->len && g_get_monotonic_time() < deadline)
                g_main_context_iteration(NULL, FALSE) || (g_usleep(1000), TRUE);
        return f->next == f->steps->len;
}

void
nlc_fake_qmp_assert_done(NlcFakeQmp *f)
{
        /* Commands sent just before the check may still be on their way. */
        nlc_fake_qmp_run_until_done(f, 2000);
        if (f->errors->len)
                g_error("fake QMP: %s", f->errors->str);
        if (f->next != f->steps->len)
                g_error("fake QMP: script stopped at step %u of %u", f->next, f->steps->len);
}

guint
nlc_fake_qmp_get_connections(NlcFakeQmp *f)
{
        return f->connections;
}
