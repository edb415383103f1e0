/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the QMP reader and dispatcher: arbitrary bytes, split
 * into one to four reads (partial lines), against a client with three
 * commands in flight (ids 1-3), so replies, errors, events, garbage, huge and
 * out-of-order messages all meet real dispatch code. Any crash, leak or
 * sanitizer report is a finding.
 */
#include <stdint.h>

#include "nlc-qmp-private.h"

static void
done(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) reply = nlc_qmp_execute_finish(NLC_QMP(source), result, &error);
}

static void
on_event(NlcQmp *qmp, const char *name, JsonObject *data, gint64 ts, gpointer user_data)
{
        (*(guint *) user_data)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        g_autoptr(NlcQmp) qmp = nlc_qmp_new_detached();
        guint events = 0;
        gsize chunks = size ? (data[0] & 3) + 1 : 1;
        gsize at = size ? 1 : 0;

        g_signal_connect(qmp, "event", G_CALLBACK(on_event), &events);
        nlc_qmp_execute_async(qmp, "query-status", NULL, NULL, done, NULL);
        nlc_qmp_execute_async(qmp, "query-migrate", NULL, NULL, done, NULL);
        nlc_qmp_execute_async(qmp, "migrate-start-postcopy", NULL, NULL, done, NULL);
        for (gsize c = 0; c < chunks && at <= size; c++) {
                gsize len = c + 1 == chunks ? size - at : (size - at) / (chunks - c);

                nlc_qmp_feed(qmp, data + at, len);
                at += len;
        }
        nlc_qmp_close(qmp);
        /* Completed tasks report from idle callbacks. */
        while (g_main_context_iteration(NULL, FALSE))
                ;
        return 0;
}
