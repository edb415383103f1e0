/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "nlc-qmp-commands.h"

static JsonObject *
object_with_string(const char *key, const char *value)
{
        JsonObject *o = json_object_new();

        json_object_set_string_member(o, key, value);
        return o;
}

JsonNode *
nlc_qmp_command_finish(NlcQmp *qmp, GAsyncResult *result, GError **error)
{
        return nlc_qmp_execute_finish(qmp, result, error);
}

void
nlc_qmp_migrate_set_capabilities(NlcQmp *qmp, const NlcQmpCapability *caps, guint n,
                                 GCancellable *c, GAsyncReadyCallback cb, gpointer data)
{
        JsonObject *args = json_object_new();
        JsonArray *list = json_array_new();

        for (guint i = 0; i < n; i++) {
                JsonObject *cap = json_object_new();

                json_object_set_string_member(cap, "capability", caps[i].name);
                json_object_set_boolean_member(cap, "state", caps[i].state);
                json_array_add_object_element(list, cap);
        }
        json_object_set_array_member(args, "capabilities", list);
        nlc_qmp_execute_async(qmp, "migrate-set-capabilities", args, c, cb, data);
}

void
nlc_qmp_migrate_set_parameters(NlcQmp *qmp, JsonObject *parameters, GCancellable *c,
                               GAsyncReadyCallback cb, gpointer data)
{
        nlc_qmp_execute_async(qmp, "migrate-set-parameters", parameters, c, cb, data);
}

void
nlc_qmp_migrate(NlcQmp *qmp, const char *uri, GCancellable *c, GAsyncReadyCallback cb,
                gpointer data)
{
        nlc_qmp_execute_async(qmp, "migrate", object_with_string("uri", uri), c, cb, data);
}

void
nlc_qmp_migrate_incoming(NlcQmp *qmp, const char *uri, GCancellable *c, GAsyncReadyCallback cb,
                         gpointer data)
{
        nlc_qmp_execute_async(qmp, "migrate-incoming", object_with_string("uri", uri), c, cb, data);
}

void
nlc_qmp_migrate_start_postcopy(NlcQmp *qmp, GCancellable *c, GAsyncReadyCallback cb, gpointer data)
{
        nlc_qmp_execute_async(qmp, "migrate-start-postcopy", NULL, c, cb, data);
}

void
nlc_qmp_migrate_cancel(NlcQmp *qmp, GCancellable *c, GAsyncReadyCallback cb, gpointer data)
{
        nlc_qmp_execute_async(qmp, "migrate_cancel", NULL, c, cb, data);
}

void
nlc_qmp_migrate_recover(NlcQmp *qmp, const char *uri, GCancellable *c, GAsyncReadyCallback cb,
                        gpointer data)
{
        /* Out of band: the destination's main loop may be stuck on the page
         * faults the cut link left unanswered (QEMU marks it allow-oob). */
        nlc_qmp_execute_oob_async(qmp, "migrate-recover", object_with_string("uri", uri), c, cb,
                                  data);
}

void
nlc_qmp_migrate_resume(NlcQmp *qmp, const char *uri, GCancellable *c, GAsyncReadyCallback cb,
                       gpointer data)
{
        JsonObject *args = object_with_string("uri", uri);

        json_object_set_boolean_member(args, "resume", TRUE);
        nlc_qmp_execute_async(qmp, "migrate", args, c, cb, data);
}

void
nlc_qmp_migrate_continue(NlcQmp *qmp, const char *state, GCancellable *c, GAsyncReadyCallback cb,
                         gpointer data)
{
        nlc_qmp_execute_async(qmp, "migrate-continue", object_with_string("state", state), c, cb,
                              data);
}

void
nlc_qmp_query_migrate(NlcQmp *qmp, GCancellable *c, GAsyncReadyCallback cb, gpointer data)
{
        nlc_qmp_execute_async(qmp, "query-migrate", NULL, c, cb, data);
}

void
nlc_qmp_query_status(NlcQmp *qmp, GCancellable *c, GAsyncReadyCallback cb, gpointer data)
{
        nlc_qmp_execute_async(qmp, "query-status", NULL, c, cb, data);
}

void
nlc_qmp_announce_self(NlcQmp *qmp, guint rounds, guint initial_ms, guint max_ms, guint step_ms,
                      GCancellable *c, GAsyncReadyCallback cb, gpointer data)
{
        JsonObject *args = json_object_new();

        json_object_set_int_member(args, "initial", initial_ms);
        json_object_set_int_member(args, "max", max_ms);
        json_object_set_int_member(args, "rounds", rounds);
        json_object_set_int_member(args, "step", step_ms);
        nlc_qmp_execute_async(qmp, "announce-self", args, c, cb, data);
}

void
nlc_qmp_cont(NlcQmp *qmp, GCancellable *c, GAsyncReadyCallback cb, gpointer data)
{
        nlc_qmp_execute_async(qmp, "cont", NULL, c, cb, data);
}

void
nlc_qmp_stop(NlcQmp *qmp, GCancellable *c, GAsyncReadyCallback cb, gpointer data)
{
        nlc_qmp_execute_async(qmp, "stop", NULL, c, cb, data);
}

/* The probe: query-version, then query-migrate-capabilities. */

void
nlc_qmp_probe_free(NlcQmpProbe *probe)
{
        if (!probe)
                return;
        g_clear_pointer(&probe->capabilities, g_hash_table_unref);
        g_free(probe);
}

gboolean
nlc_qmp_probe_has(const NlcQmpProbe *probe, const char *capability)
{
        return probe && g_hash_table_contains(probe->capabilities, capability);
}

static void
on_capabilities(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(GTask) task = data;
        NlcQmpProbe *probe = g_task_get_task_data(task);
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) reply = nlc_qmp_execute_finish(NLC_QMP(source), result, &error);
        JsonArray *list;

        if (!reply || !JSON_NODE_HOLDS_ARRAY(reply)) {
                nlc_qmp_probe_free(probe);
                /* The client's errors already name the command. */
                if (error)
                        g_task_return_error(task, g_steal_pointer(&error));
                else
                        g_task_return_new_error(task, NLC_QMP_ERROR, NLC_QMP_ERROR_PROTOCOL,
                                                "query-migrate-capabilities: not a list");
                return;
        }
        list = json_node_get_array(reply);
        for (guint i = 0; i < json_array_get_length(list); i++) {
                JsonObject *cap = json_array_get_object_element(list, i);
                const char *name =
                        cap ? json_object_get_string_member_with_default(cap, "capability", NULL)
                            : NULL;

                if (name)
                        g_hash_table_add(probe->capabilities, g_strdup(name));
        }
        g_task_return_pointer(task, probe, (GDestroyNotify) nlc_qmp_probe_free);
}

static void
on_version(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(GTask) task = data;
        NlcQmpProbe *probe = g_task_get_task_data(task);
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) reply = nlc_qmp_execute_finish(NLC_QMP(source), result, &error);
        JsonObject *qemu = NULL;
        GCancellable *cancellable;

        if (reply && JSON_NODE_HOLDS_OBJECT(reply) &&
            json_object_has_member(json_node_get_object(reply), "qemu"))
                qemu = json_object_get_object_member(json_node_get_object(reply), "qemu");
        if (!qemu) {
                nlc_qmp_probe_free(probe);
                if (error)
                        g_task_return_error(task, g_steal_pointer(&error));
                else
                        g_task_return_new_error(task, NLC_QMP_ERROR, NLC_QMP_ERROR_PROTOCOL,
                                                "query-version: no version");
                return;
        }
        probe->version =
                (guint) (json_object_get_int_member_with_default(qemu, "major", 0) * 10000 +
                         json_object_get_int_member_with_default(qemu, "minor", 0) * 100 +
                         json_object_get_int_member_with_default(qemu, "micro", 0));
        cancellable = g_task_get_cancellable(task); /* before the task is handed on */
        nlc_qmp_execute_async(NLC_QMP(source), "query-migrate-capabilities", NULL, cancellable,
                              on_capabilities, g_steal_pointer(&task));
}

void
nlc_qmp_probe_async(NlcQmp *qmp, GCancellable *c, GAsyncReadyCallback cb, gpointer data)
{
        GTask *task = g_task_new(qmp, c, cb, data);
        NlcQmpProbe *probe = g_new0(NlcQmpProbe, 1);

        probe->capabilities = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        /* Owned by the steps: freed on error, handed to the caller on success. */
        g_task_set_task_data(task, probe, NULL);
        nlc_qmp_execute_async(qmp, "query-version", NULL, c, on_version, task);
}

NlcQmpProbe *
nlc_qmp_probe_finish(NlcQmp *qmp, GAsyncResult *result, GError **error)
{
        return g_task_propagate_pointer(G_TASK(result), error);
}
