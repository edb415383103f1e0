/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The QMP client against the scripted fake QEMU (7.2 greeting). */
#include <string.h>

#include "nlc-fake-qmp.h"
#include "nlc-qmp-commands.h"
#include "nlc-qmp.h"

typedef struct {
        NlcFakeQmp *fake;
        NlcQmp *qmp;
        GPtrArray *events; /* event names, in order */
        guint connected;
        guint disconnected;
} Fixture;

typedef struct {
        gboolean done;
        JsonNode *result;
        GError *error;
} Call;

static void
on_event(NlcQmp *qmp, const char *name, JsonObject *data, gint64 ts, Fixture *f)
{
        g_ptr_array_add(f->events, g_strdup(name));
}

static void
on_connected(NlcQmp *qmp, Fixture *f)
{
        f->connected++;
}

static void
on_disconnected(NlcQmp *qmp, GError *why, Fixture *f)
{
        f->disconnected++;
}

static void
iterate_until(gboolean *flag, guint timeout_ms)
{
        gint64 deadline = g_get_monotonic_time() + (gint64) timeout_ms * 1000;

        while (!*flag && g_get_monotonic_time() < deadline)
                g_main_context_iteration(NULL, FALSE) || (g_usleep(500), TRUE);
        g_assert_true(*flag);
}

static void
wait_count(guint *counter, guint target, guint timeout_ms)
{
        gint64 deadline = g_get_monotonic_time() + (gint64) timeout_ms * 1000;

        while (*counter < target && g_get_monotonic_time() < deadline)
                g_main_context_iteration(NULL, FALSE) || (g_usleep(500), TRUE);
        g_assert_cmpuint(*counter, >=, target);
}

static void
connect_done(GObject *source, GAsyncResult *res, gpointer data)
{
        Call *c = data;

        nlc_qmp_connect_finish(NLC_QMP(source), res, &c->error);
        c->done = TRUE;
}

static void
exec_done(GObject *source, GAsyncResult *res, gpointer data)
{
        Call *c = data;

        c->result = nlc_qmp_execute_finish(NLC_QMP(source), res, &c->error);
        c->done = TRUE;
}

static void
call_clear(Call *c)
{
        g_clear_pointer(&c->result, json_node_unref);
        g_clear_error(&c->error);
        c->done = FALSE;
}

static void
set_up(Fixture *f, gconstpointer data)
{
        Call c = { 0 };

        f->fake = nlc_fake_qmp_new(7, 2, 0);
        f->qmp = nlc_qmp_new(nlc_fake_qmp_get_path(f->fake));
        f->events = g_ptr_array_new_with_free_func(g_free);
        nlc_qmp_set_reconnect_backoff(f->qmp, 5, 20);
        g_signal_connect(f->qmp, "event", G_CALLBACK(on_event), f);
        g_signal_connect(f->qmp, "connected", G_CALLBACK(on_connected), f);
        g_signal_connect(f->qmp, "disconnected", G_CALLBACK(on_disconnected), f);
        nlc_qmp_connect_async(f->qmp, NULL, connect_done, &c);
        iterate_until(&c.done, 2000);
        g_assert_no_error(c.error);
}

static void
tear_down(Fixture *f, gconstpointer data)
{
        nlc_qmp_close(f->qmp);
        g_object_unref(f->qmp);
        nlc_fake_qmp_free(f->fake);
        g_ptr_array_unref(f->events);
}

static JsonObject *
args(const char *json)
{
        JsonNode *node = json_from_string(json, NULL);
        JsonObject *obj = json_object_ref(json_node_get_object(node));

        json_node_unref(node);
        return obj;
}

static void
test_greeting(Fixture *f, gconstpointer data)
{
        g_assert_true(nlc_qmp_is_connected(f->qmp));
        g_assert_cmpuint(nlc_qmp_get_version(f->qmp), ==, 70200);
        g_assert_cmpuint(f->connected, ==, 1);
}

static void
test_command_and_arguments(Fixture *f, gconstpointer data)
{
        Call c = { 0 };

        nlc_fake_qmp_expect(
                f->fake, "migrate-set-capabilities",
                "{\"capabilities\": [{\"capability\": \"postcopy-ram\", \"state\": true}]}", "{}");
        nlc_fake_qmp_expect(f->fake, "query-status", NULL,
                            "{\"running\": true, \"status\": \"running\"}");
        nlc_qmp_execute_async(f->qmp, "migrate-set-capabilities",
                              args("{\"capabilities\": [{\"capability\": \"postcopy-ram\", "
                                   "\"state\": true}]}"),
                              NULL, exec_done, &c);
        iterate_until(&c.done, 2000);
        g_assert_no_error(c.error);
        call_clear(&c);
        nlc_qmp_execute_async(f->qmp, "query-status", NULL, NULL, exec_done, &c);
        iterate_until(&c.done, 2000);
        g_assert_no_error(c.error);
        g_assert_cmpstr(json_object_get_string_member(json_node_get_object(c.result), "status"), ==,
                        "running");
        call_clear(&c);
        nlc_fake_qmp_assert_done(f->fake);
}

static void
test_error_reply(Fixture *f, gconstpointer data)
{
        Call c = { 0 };

        nlc_fake_qmp_expect_error(f->fake, "migrate-start-postcopy", "GenericError",
                                  "Postcopy must be started after migration has been started");
        nlc_qmp_execute_async(f->qmp, "migrate-start-postcopy", NULL, NULL, exec_done, &c);
        iterate_until(&c.done, 2000);
        g_assert_error(c.error, NLC_QMP_ERROR, NLC_QMP_ERROR_COMMAND);
        g_assert_nonnull(strstr(c.error->message, "GenericError: Postcopy must be started"));
        call_clear(&c);
        g_assert_true(nlc_qmp_is_connected(f->qmp)); /* an error reply is no reason to drop */
}

/* Events before a reply, and replies in another order than the commands. */
static void
test_interleaving(Fixture *f, gconstpointer data)
{
        Call a = { 0 }, b = { 0 };

        /* ids: 1 was qmp_capabilities, so A is 2 and B is 3. */
        nlc_fake_qmp_expect_silence(f->fake, "query-migrate");
        nlc_fake_qmp_event(f->fake, "STOP", NULL);
        nlc_fake_qmp_expect(f->fake, "query-status", NULL, "{\"status\": \"paused\"}");
        nlc_fake_qmp_event(f->fake, "MIGRATION", "{\"status\": \"postcopy-active\"}");
        nlc_fake_qmp_raw(f->fake, "{\"return\": {\"status\": \"completed\"}, \"id\": 2}\r\n");
        nlc_qmp_execute_async(f->qmp, "query-migrate", NULL, NULL, exec_done, &a);
        nlc_qmp_execute_async(f->qmp, "query-status", NULL, NULL, exec_done, &b);
        iterate_until(&a.done, 2000);
        iterate_until(&b.done, 2000);
        g_assert_no_error(a.error);
        g_assert_no_error(b.error);
        g_assert_cmpstr(json_object_get_string_member(json_node_get_object(a.result), "status"), ==,
                        "completed");
        g_assert_cmpstr(json_object_get_string_member(json_node_get_object(b.result), "status"), ==,
                        "paused");
        g_assert_cmpuint(f->events->len, ==, 2);
        g_assert_cmpstr(f->events->pdata[0], ==, "STOP");
        g_assert_cmpstr(f->events->pdata[1], ==, "MIGRATION");
        call_clear(&a);
        call_clear(&b);
        nlc_fake_qmp_assert_done(f->fake);
}

static void
test_partial_lines(Fixture *f, gconstpointer data)
{
        nlc_fake_qmp_raw(f->fake, "{\"event\": \"RES");
        nlc_fake_qmp_raw(f->fake, "UME\", \"data\": {}, \"timest");
        nlc_fake_qmp_raw(
                f->fake,
                "amp\": {\"seconds\": 1, \"microseconds\": 2}}\r\n{\"event\": \"STOP\"}\r\n");
        g_assert_true(nlc_fake_qmp_run_until_done(f->fake, 2000));
        wait_count(&f->events->len, 2, 2000);
        g_assert_cmpstr(f->events->pdata[0], ==, "RESUME");
        g_assert_cmpstr(f->events->pdata[1], ==, "STOP");
}

static void
test_timeout(Fixture *f, gconstpointer data)
{
        Call c = { 0 };

        nlc_qmp_set_timeout(f->qmp, 50);
        nlc_fake_qmp_expect_silence(f->fake, "query-migrate");
        nlc_qmp_execute_async(f->qmp, "query-migrate", NULL, NULL, exec_done, &c);
        iterate_until(&c.done, 2000);
        g_assert_error(c.error, NLC_QMP_ERROR, NLC_QMP_ERROR_TIMEOUT);
        call_clear(&c);
        /* The late reply is dropped, not matched to a later command. */
        nlc_fake_qmp_raw(f->fake, "{\"return\": {\"status\": \"late\"}, \"id\": 2}\r\n");
        nlc_fake_qmp_expect(f->fake, "query-status", NULL, "{\"status\": \"running\"}");
        nlc_qmp_execute_async(f->qmp, "query-status", NULL, NULL, exec_done, &c);
        iterate_until(&c.done, 2000);
        g_assert_no_error(c.error);
        g_assert_cmpstr(json_object_get_string_member(json_node_get_object(c.result), "status"), ==,
                        "running");
        call_clear(&c);
}

/* Garbage on the socket: a clear protocol error, then a reconnect. */
static void
test_garbage_reconnects(Fixture *f, gconstpointer data)
{
        Call c = { 0 };

        nlc_fake_qmp_expect_silence(f->fake, "query-migrate");
        nlc_fake_qmp_raw(f->fake, "this is not json\r\n");
        nlc_qmp_execute_async(f->qmp, "query-migrate", NULL, NULL, exec_done, &c);
        iterate_until(&c.done, 2000);
        g_assert_error(c.error, NLC_QMP_ERROR, NLC_QMP_ERROR_PROTOCOL);
        g_assert_nonnull(strstr(c.error->message, "not QMP"));
        call_clear(&c);
        wait_count(&f->connected, 2, 2000);
        g_assert_cmpuint(f->disconnected, ==, 1);
        g_assert_cmpuint(nlc_fake_qmp_get_connections(f->fake), ==, 2);
        nlc_fake_qmp_expect(f->fake, "query-status", NULL, "{\"status\": \"running\"}");
        nlc_qmp_execute_async(f->qmp, "query-status", NULL, NULL, exec_done, &c);
        iterate_until(&c.done, 2000);
        g_assert_no_error(c.error);
        call_clear(&c);
}

static void
test_hang_up_fails_pending(Fixture *f, gconstpointer data)
{
        Call c = { 0 };

        nlc_fake_qmp_expect_silence(f->fake, "migrate");
        nlc_fake_qmp_hang_up(f->fake);
        nlc_qmp_execute_async(f->qmp, "migrate", args("{\"uri\": \"tcp:192.0.2.1:4444\"}"), NULL,
                              exec_done, &c);
        iterate_until(&c.done, 2000);
        g_assert_error(c.error, NLC_QMP_ERROR, NLC_QMP_ERROR_DISCONNECTED);
        /* Like every error of the client, it names the command, once. */
        g_assert_true(g_str_has_prefix(c.error->message, "migrate: "));
        g_assert_null(strstr(c.error->message + 1, "migrate: "));
        call_clear(&c);
        wait_count(&f->connected, 2, 2000);
        g_assert_true(nlc_qmp_is_connected(f->qmp));
}

static void
test_huge_line(Fixture *f, gconstpointer data)
{
        Call c = { 0 };
        g_autofree char *junk = g_malloc(17u << 20);

        memset(junk, 'x', (17u << 20) - 1);
        junk[(17u << 20) - 1] = '\0';
        nlc_fake_qmp_expect_silence(f->fake, "query-migrate");
        nlc_fake_qmp_raw(f->fake, junk);
        nlc_qmp_execute_async(f->qmp, "query-migrate", NULL, NULL, exec_done, &c);
        iterate_until(&c.done, 5000);
        g_assert_error(c.error, NLC_QMP_ERROR, NLC_QMP_ERROR_PROTOCOL);
        g_assert_nonnull(strstr(c.error->message, "longer than"));
        call_clear(&c);
}

static void
probe_done(GObject *source, GAsyncResult *res, gpointer data)
{
        NlcQmpProbe **out = data;

        *out = nlc_qmp_probe_finish(NLC_QMP(source), res, NULL);
}

static void
probe_failed(GObject *source, GAsyncResult *res, gpointer data)
{
        Call *c = data;

        g_assert_null(nlc_qmp_probe_finish(NLC_QMP(source), res, &c->error));
        c->done = TRUE;
}

/* QEMU 7.2's replies: no postcopy-preempt, so the driver must not use it. */
static void
test_probe_qemu_7_2(Fixture *f, gconstpointer data)
{
        g_autoptr(NlcQmpProbe) probe = NULL;
        gboolean got = FALSE;

        nlc_fake_qmp_expect(f->fake, "query-version", NULL,
                            "{\"qemu\": {\"major\": 7, \"minor\": 2, \"micro\": 0}, \"package\": "
                            "\"Debian 1:7.2+dfsg-7\"}");
        nlc_fake_qmp_expect(f->fake, "query-migrate-capabilities", NULL,
                            "[{\"state\": false, \"capability\": \"xbzrle\"}, "
                            "{\"state\": false, \"capability\": \"events\"}, "
                            "{\"state\": false, \"capability\": \"postcopy-ram\"}, "
                            "{\"state\": false, \"capability\": \"pause-before-switchover\"}, "
                            "{\"state\": false, \"capability\": \"postcopy-blocktime\"}]");
        nlc_qmp_probe_async(f->qmp, NULL, probe_done, &probe);
        while (!probe && nlc_fake_qmp_run_until_done(f->fake, 10) == FALSE)
                ;
        for (int i = 0; i < 200 && !probe; i++)
                g_main_context_iteration(NULL, FALSE) || (g_usleep(1000), TRUE);
        g_assert_nonnull(probe);
        got = nlc_qmp_probe_has(probe, "postcopy-ram");
        g_assert_true(got);
        g_assert_true(nlc_qmp_probe_has(probe, "pause-before-switchover"));
        g_assert_false(nlc_qmp_probe_has(probe, "postcopy-preempt"));
        g_assert_cmpuint(probe->version, ==, 70200);
        nlc_fake_qmp_assert_done(f->fake);
}

static void
test_command_arguments_on_the_wire(Fixture *f, gconstpointer data)
{
        const NlcQmpCapability caps[] = { { "postcopy-ram", TRUE }, { "events", TRUE } };
        Call c = { 0 };

        nlc_fake_qmp_expect(
                f->fake, "migrate-set-capabilities",
                "{\"capabilities\": [{\"capability\": \"postcopy-ram\", \"state\": true}, "
                "{\"capability\": \"events\", \"state\": true}]}",
                NULL);
        nlc_fake_qmp_expect(f->fake, "migrate",
                            "{\"uri\": \"tcp:198.51.100.2:4444\", \"resume\": true}", NULL);
        nlc_fake_qmp_expect(f->fake, "announce-self",
                            "{\"initial\": 50, \"max\": 550, \"rounds\": 5, \"step\": 100}", NULL);
        nlc_qmp_migrate_set_capabilities(f->qmp, caps, G_N_ELEMENTS(caps), NULL, exec_done, &c);
        iterate_until(&c.done, 2000);
        g_assert_no_error(c.error);
        call_clear(&c);
        nlc_qmp_migrate_resume(f->qmp, "tcp:198.51.100.2:4444", NULL, exec_done, &c);
        iterate_until(&c.done, 2000);
        g_assert_no_error(c.error);
        call_clear(&c);
        nlc_qmp_announce_self(f->qmp, 5, 50, 550, 100, NULL, exec_done, &c);
        iterate_until(&c.done, 2000);
        g_assert_no_error(c.error);
        call_clear(&c);
        nlc_fake_qmp_assert_done(f->fake);
}

/* QEMU offers OOB in its greeting: the client enables it, and
 * migrate-recover goes out of band (a post-copy destination whose link was
 * cut answers nothing in band), while ordinary commands stay in band. */
static void
test_recover_goes_out_of_band(Fixture *f, gconstpointer data)
{
        Call c = { 0 };

        g_assert_true(nlc_qmp_has_oob(f->qmp));
        nlc_fake_qmp_expect_oob(f->fake, "migrate-recover", "{\"uri\": \"tcp:0.0.0.0:4445\"}",
                                NULL);
        nlc_fake_qmp_expect(f->fake, "query-migrate", NULL, "{\"status\": \"postcopy-recover\"}");
        nlc_qmp_migrate_recover(f->qmp, "tcp:0.0.0.0:4445", NULL, exec_done, &c);
        iterate_until(&c.done, 2000);
        g_assert_no_error(c.error);
        call_clear(&c);
        nlc_qmp_query_migrate(f->qmp, NULL, exec_done, &c);
        iterate_until(&c.done, 2000);
        g_assert_no_error(c.error);
        call_clear(&c);
        nlc_fake_qmp_assert_done(f->fake);
}

static void
test_not_connected(void)
{
        g_autoptr(NlcQmp) qmp = nlc_qmp_new("/nonexistent/qmp.sock");
        Call c = { 0 };

        nlc_qmp_execute_async(qmp, "query-status", NULL, NULL, exec_done, &c);
        iterate_until(&c.done, 100);
        g_assert_error(c.error, NLC_QMP_ERROR, NLC_QMP_ERROR_DISCONNECTED);
        g_assert_true(g_str_has_prefix(c.error->message, "query-status: "));
        call_clear(&c);
        /* The probe passes the client's error on as it is: named once. */
        nlc_qmp_probe_async(qmp, NULL, probe_failed, &c);
        iterate_until(&c.done, 100);
        g_assert_error(c.error, NLC_QMP_ERROR, NLC_QMP_ERROR_DISCONNECTED);
        g_assert_true(g_str_has_prefix(c.error->message, "query-version: not connected"));
        call_clear(&c);
        /* No socket: nobody can be listening (the guest's QEMU is gone). */
        nlc_qmp_connect_async(qmp, NULL, connect_done, &c);
        iterate_until(&c.done, 2000);
        g_assert_error(c.error, NLC_QMP_ERROR, NLC_QMP_ERROR_NO_LISTENER);
        call_clear(&c);
        nlc_qmp_close(qmp);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, set_up, fn, tear_down)
        ADD("/qmp/greeting", test_greeting);
        ADD("/qmp/command-and-arguments", test_command_and_arguments);
        ADD("/qmp/error-reply", test_error_reply);
        ADD("/qmp/interleaving", test_interleaving);
        ADD("/qmp/partial-lines", test_partial_lines);
        ADD("/qmp/timeout", test_timeout);
        ADD("/qmp/garbage-reconnects", test_garbage_reconnects);
        ADD("/qmp/hang-up-fails-pending", test_hang_up_fails_pending);
        ADD("/qmp/huge-line", test_huge_line);
        ADD("/qmp/probe-qemu-7.2", test_probe_qemu_7_2);
        ADD("/qmp/command-arguments-on-the-wire", test_command_arguments_on_the_wire);
        ADD("/qmp/recover-goes-out-of-band", test_recover_goes_out_of_band);
        g_test_add_func("/qmp/not-connected", test_not_connected);
        return g_test_run();
}
