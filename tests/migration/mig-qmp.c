/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "mig-qmp.h"

typedef struct {
        gboolean done;
        JsonNode *node;
        GError *error;
} Reply;

static void
on_connected(GObject *source, GAsyncResult *result, gpointer data)
{
        Reply *reply = data;

        nlc_qmp_connect_finish(NLC_QMP(source), result, &reply->error);
        reply->done = TRUE;
}

static void
on_reply(GObject *source, GAsyncResult *result, gpointer data)
{
        Reply *reply = data;

        reply->node = nlc_qmp_execute_finish(NLC_QMP(source), result, &reply->error);
        reply->done = TRUE;
}

/* NlcQmp times every command out, so this ends. */
static gboolean
wait_reply(Reply *reply, const char *what, GError **error)
{
        while (!reply->done)
                g_main_context_iteration(NULL, TRUE);
        if (reply->error) {
                g_propagate_prefixed_error(error, reply->error, "%s: ", what);
                return FALSE;
        }
        return TRUE;
}

NlcQmp *
mig_qmp_connect(const char *path, GError **error)
{
        g_autoptr(NlcQmp) qmp = nlc_qmp_new(path);
        g_autofree char *what = g_strdup_printf("QMP at %s", path);
        Reply reply = { 0 };

        for (int i = 0; i < 1000 && !g_file_test(path, G_FILE_TEST_EXISTS); i++)
                g_usleep(10000);
        nlc_qmp_connect_async(qmp, NULL, on_connected, &reply);
        if (!wait_reply(&reply, what, error))
                return NULL;
        return g_steal_pointer(&qmp);
}

JsonNode *
mig_qmp_run(NlcQmp *qmp, const char *command, const char *args, GError **error)
{
        g_autoptr(JsonNode) parsed = args ? json_from_string(args, NULL) : NULL;
        Reply reply = { 0 };

        g_assert(!args || (parsed && JSON_NODE_HOLDS_OBJECT(parsed)));
        /* The reference is the call's. */
        nlc_qmp_execute_async(qmp, command, parsed ? json_node_dup_object(parsed) : NULL, NULL,
                              on_reply, &reply);
        if (!wait_reply(&reply, command, error))
                return NULL;
        return reply.node ? reply.node : json_node_new(JSON_NODE_NULL);
}

gboolean
mig_qmp_do(NlcQmp *qmp, const char *command, const char *args, GError **error)
{
        g_autoptr(JsonNode) node = mig_qmp_run(qmp, command, args, error);

        return node != NULL;
}
