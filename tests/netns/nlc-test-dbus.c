/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <unistd.h>

#include "nlc-test-dbus.h"

/* A guard against a hang, not a measure: the longer of the two fixtures'
 * (ns-env's), so that no call of theirs is cut shorter than it was. */
#define CALL_TIMEOUT_MS 20000

typedef struct {
        char *subject;
        char *member;
        GVariant *params;
        gboolean consumed;
} NlcSignal;

struct _NlcTestSignals {
        guint sub;
        GPtrArray *list; /* NlcSignal *, in arrival order */
        guint mark;      /* nlc_expect_no_signal() looks from here on */
};

static void
nlc_signal_free(gpointer p)
{
        NlcSignal *s = p;

        g_free(s->subject);
        g_free(s->member);
        g_variant_unref(s->params);
        g_free(s);
}

/* ---- D-Bus calls -------------------------------------------------------- */

GVariant *
nlc_try_call(NlcTestEnv *env, const char *path, const char *iface, const char *method,
             GVariant *params, const char *reply_type, GError **error)
{
        /* NO_AUTO_START: a call while the daemon is down must fail, not
         * make the bus look for a service file. */
        return g_dbus_connection_call_sync(env->conn, NLC_BUS_NAME, path, iface, method, params,
                                           reply_type ? G_VARIANT_TYPE(reply_type) : NULL,
                                           G_DBUS_CALL_FLAGS_NO_AUTO_START, CALL_TIMEOUT_MS, NULL,
                                           error);
}

GVariant *
nlc_call(NlcTestEnv *env, const char *path, const char *iface, const char *method, GVariant *params,
         const char *reply_type)
{
        g_autoptr(GError) error = NULL;
        GVariant *reply = nlc_try_call(env, path, iface, method, params, reply_type, &error);

        if (!reply) {
                g_autofree char *remote = g_dbus_error_get_remote_error(error);

                g_error("%s.%s() on %s failed: %s: %s", iface, method, path, remote,
                        error->message);
        }
        return reply;
}

char *
nlc_call_error(NlcTestEnv *env, const char *path, const char *iface, const char *method,
               GVariant *params, const char *error_name)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = nlc_try_call(env, path, iface, method, params, NULL, &error);
        g_autofree char *remote = NULL;

        if (reply) {
                g_autofree char *text = g_variant_print(reply, TRUE);

                g_error("%s.%s() on %s succeeded (%s), expected %s", iface, method, path, text,
                        error_name);
        }
        remote = g_dbus_error_get_remote_error(error);
        if (g_strcmp0(remote, error_name) != 0)
                g_error("%s.%s() on %s: expected %s, got %s: %s", iface, method, path, error_name,
                        remote, error->message);
        g_dbus_error_strip_remote_error(error);
        return g_strdup(error->message);
}

void
nlc_device_call(NlcTestEnv *env, const char *path, const char *method)
{
        g_autoptr(GVariant) reply = nlc_call(env, path, NLC_DEVICE, method, NULL, "()");
}

GUnixFDList *
nlc_device_create(NlcTestEnv *env, const char *path)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GUnixFDList) received = NULL;
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GVariant) handles = NULL;
        GUnixFDList *fds = g_unix_fd_list_new();
        gsize n;

        reply = g_dbus_connection_call_with_unix_fd_list_sync(
                env->conn, NLC_BUS_NAME, path, NLC_DEVICE, "Create", NULL, G_VARIANT_TYPE("(ah)"),
                G_DBUS_CALL_FLAGS_NO_AUTO_START, CALL_TIMEOUT_MS, NULL, &received, NULL, &error);
        if (!reply) {
                g_autofree char *remote = g_dbus_error_get_remote_error(error);

                g_error("Create() on %s failed: %s: %s", path, remote, error->message);
        }
        g_assert_nonnull(received);
        handles = g_variant_get_child_value(reply, 0);
        n = g_variant_n_children(handles);
        g_assert_cmpuint(n, >=, 1);
        /* Each handle indexes the message's fd list; no fd is handed out twice. */
        g_assert_cmpint(g_unix_fd_list_get_length(received), ==, (int) n);
        for (gsize i = 0; i < n; i++) {
                gint32 h;
                int fd;

                g_variant_get_child(handles, i, "h", &h);
                g_assert_cmpint(h, >=, 0);
                g_assert_cmpint(h, <, g_unix_fd_list_get_length(received));
                for (gsize j = 0; j < i; j++) {
                        gint32 other;

                        g_variant_get_child(handles, j, "h", &other);
                        g_assert_cmpint(other, !=, h);
                }
                fd = g_unix_fd_list_get(received, h, &error);
                g_assert_no_error(error);
                g_assert_cmpint(g_unix_fd_list_append(fds, fd, &error), ==, (int) i);
                g_assert_no_error(error);
                close(fd);
        }
        return fds;
}

GVariant *
nlc_manager_params(const char *instance, const char *backend, const char *mac, const char *options)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) opts =
                g_variant_parse(G_VARIANT_TYPE_VARDICT, options, NULL, NULL, &error);

        if (!opts)
                g_error("bad options text '%s' in the test: %s", options, error->message);
        return g_variant_new("(sss@a{sv})", instance, backend, mac, opts);
}

char *
nlc_allocate(NlcTestEnv *env, const char *instance, const char *mac, const char *options)
{
        g_autoptr(GVariant) reply =
                nlc_call(env, NLC_MANAGER_PATH, NLC_MANAGER, "Allocate",
                         nlc_manager_params(instance, "tap-bridge", mac, options), "(o)");
        char *path = NULL;

        g_variant_get(reply, "(o)", &path);
        return path;
}

GVariant *
nlc_get(NlcTestEnv *env, const char *path, const char *iface, const char *prop)
{
        g_autoptr(GVariant) reply = nlc_call(env, path, "org.freedesktop.DBus.Properties", "Get",
                                             g_variant_new("(ss)", iface, prop), "(v)");
        GVariant *value = NULL;

        g_variant_get(reply, "(v)", &value);
        return value;
}

char *
nlc_get_string(NlcTestEnv *env, const char *path, const char *iface, const char *prop)
{
        g_autoptr(GVariant) v = nlc_get(env, path, iface, prop);

        g_assert_cmpstr(g_variant_get_type_string(v), ==, "s");
        return g_variant_dup_string(v, NULL);
}

gboolean
nlc_get_bool(NlcTestEnv *env, const char *path, const char *iface, const char *prop)
{
        g_autoptr(GVariant) v = nlc_get(env, path, iface, prop);

        g_assert_cmpstr(g_variant_get_type_string(v), ==, "b");
        return g_variant_get_boolean(v);
}

guint64
nlc_get_u64(NlcTestEnv *env, const char *path, const char *iface, const char *prop)
{
        g_autoptr(GVariant) v = nlc_get(env, path, iface, prop);

        g_assert_cmpstr(g_variant_get_type_string(v), ==, "t");
        return g_variant_get_uint64(v);
}

void
nlc_assert_state(NlcTestEnv *env, const char *path, const char *state)
{
        g_autofree char *s = nlc_get_string(env, path, NLC_DEVICE, "State");

        g_assert_cmpstr(s, ==, state);
}

void
nlc_assert_device(NlcTestEnv *env, const char *path, const char *instance, const char *mac,
                  const char *ifname, const char *state)
{
        static const char *const names[] = { "Instance", "Backend", "MAC",
                                             "IfName",   "Bridge",  "State" };
        const char *want[] = { instance, "tap-bridge", mac, ifname, NLC_BRIDGE, state };

        for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
                g_autofree char *value = nlc_get_string(env, path, NLC_DEVICE, names[i]);

                if (g_strcmp0(value, want[i]) != 0)
                        g_error("%s of %s is '%s', expected '%s'", names[i], path, value, want[i]);
        }
        g_assert_cmpint(nlc_get_bool(env, path, NLC_DEVICE, "OwnsMac"), ==,
                        g_str_equal(state, "active"));
}

static int
compare_strings(gconstpointer a, gconstpointer b)
{
        return g_strcmp0(*(const char *const *) a, *(const char *const *) b);
}

char *
nlc_managed_devices(NlcTestEnv *env)
{
        g_autoptr(GVariant) reply = nlc_call(env, NLC_MANAGER_PATH, NLC_OBJMGR, "GetManagedObjects",
                                             NULL, "(a{oa{sa{sv}}})");
        g_autoptr(GVariant) objects = g_variant_get_child_value(reply, 0);
        g_autoptr(GPtrArray) words = g_ptr_array_new_with_free_func(g_free);
        GVariantIter iter;
        const char *path;
        GVariant *ifaces;

        g_variant_iter_init(&iter, objects);
        while (g_variant_iter_loop(&iter, "{&o@a{sa{sv}}}", &path, &ifaces)) {
                g_autoptr(GVariant) props =
                        g_variant_lookup_value(ifaces, NLC_DEVICE, G_VARIANT_TYPE_VARDICT);
                const char *state = "?";

                if (!props)
                        continue;
                g_variant_lookup(props, "State", "&s", &state);
                g_ptr_array_add(words, g_strdup_printf("%s=%s", path, state));
        }
        g_ptr_array_sort(words, compare_strings);
        g_ptr_array_add(words, NULL);
        return g_strjoinv(" ", (char **) words->pdata);
}

void
nlc_device_step(NlcTestEnv *env, const char *path, const char *method, const char *old_state,
                const char *new_state)
{
        g_autofree char *reason = g_ascii_strdown(method, -1);

        nlc_test_step("%s on %s (%s -> %s)", method, path, old_state, new_state);
        if (g_str_equal(method, "Create")) {
                g_autoptr(GUnixFDList) fds = nlc_device_create(env, path);
        } else {
                nlc_device_call(env, path, method);
        }
        nlc_expect_state_changed(env, path, old_state, new_state, reason);
        if (!g_str_equal(new_state, "freed"))
                nlc_assert_state(env, path, new_state);
}

/* ---- signals ------------------------------------------------------------ */

static void
on_signal(GDBusConnection *conn, const char *sender, const char *path, const char *iface,
          const char *member, GVariant *params, gpointer data)
{
        NlcTestEnv *env = data;
        NlcSignal *s;

        /* Every name's comings and goings: noise in what is recorded. */
        if (g_str_equal(member, "NameOwnerChanged"))
                return;
        s = g_new0(NlcSignal, 1);
        s->member = g_strdup(member);
        s->params = g_variant_ref(params);
        if (g_str_equal(iface, NLC_OBJMGR) && g_variant_n_children(params) > 0)
                g_variant_get_child(params, 0, "o", &s->subject);
        else
                s->subject = g_strdup(path);
        g_ptr_array_add(env->signals->list, s);
}

typedef struct {
        NlcTestEnv *env;
        const char *subject;
        const char *member;
        NlcSignal *found;
} SignalQuery;

static gboolean
find_signal(gpointer data)
{
        SignalQuery *q = data;

        for (guint i = 0; i < q->env->signals->list->len; i++) {
                NlcSignal *s = q->env->signals->list->pdata[i];

                if (!s->consumed && g_str_equal(s->subject, q->subject) &&
                    g_str_equal(s->member, q->member)) {
                        q->found = s;
                        return TRUE;
                }
        }
        return FALSE;
}

static char *
describe_signals(NlcTestEnv *env)
{
        g_autoptr(GString) text = g_string_new(NULL);

        for (guint i = 0; i < env->signals->list->len; i++) {
                NlcSignal *s = env->signals->list->pdata[i];
                g_autofree char *params = g_variant_print(s->params, FALSE);

                g_string_append_printf(text, "\n  %s%s %s %s", s->consumed ? "(seen) " : "",
                                       s->subject, s->member, params);
        }
        return g_string_free(g_steal_pointer(&text), FALSE);
}

GVariant *
nlc_wait_signal(NlcTestEnv *env, const char *subject, const char *member, guint timeout_ms)
{
        SignalQuery q = { env, subject, member, NULL };

        if (!nlc_wait_until(find_signal, &q, timeout_ms)) {
                g_autofree char *seen = describe_signals(env);

                g_error("no %s for %s within %u ms; recorded:%s", member, subject, timeout_ms,
                        seen);
        }
        q.found->consumed = TRUE;
        return g_variant_ref(q.found->params);
}

void
nlc_expect_state_changed(NlcTestEnv *env, const char *path, const char *old_state,
                         const char *new_state, const char *reason)
{
        g_autoptr(GVariant) params = nlc_wait_signal(env, path, "StateChanged", 5000);
        const char *o, *n, *r;

        g_assert_cmpstr(g_variant_get_type_string(params), ==, "(sss)");
        g_variant_get(params, "(&s&s&s)", &o, &n, &r);
        g_assert_cmpstr(o, ==, old_state);
        g_assert_cmpstr(n, ==, new_state);
        g_assert_cmpstr(r, ==, reason);
}

void
nlc_expect_port_state(NlcTestEnv *env, const char *path, const char *new_state, const char *reason,
                      guint timeout_ms)
{
        gint64 deadline = g_get_monotonic_time() + timeout_ms * G_TIME_SPAN_MILLISECOND;

        for (;;) {
                gint64 left = (deadline - g_get_monotonic_time()) / G_TIME_SPAN_MILLISECOND;
                g_autoptr(GVariant) params =
                        nlc_wait_signal(env, path, "PortStateChanged", (guint) MAX(left, 1));
                const char *o, *n, *r;

                g_assert_cmpstr(g_variant_get_type_string(params), ==, "(sss)");
                g_variant_get(params, "(&s&s&s)", &o, &n, &r);
                g_test_message("%s: PortStateChanged %s -> %s (%s)", path, o, n, r);
                if (g_str_equal(n, new_state) && g_str_equal(r, reason))
                        break;
        }
}

/* Once the daemon has answered a Ping, every signal it sent before is in our
 * queue; dispatching that records it. */
static void
drain_daemon_signals(NlcTestEnv *env)
{
        g_autoptr(GVariant) pong =
                nlc_call(env, NLC_MANAGER_PATH, "org.freedesktop.DBus.Peer", "Ping", NULL, "()");

        for (int i = 0; i < 10000 && g_main_context_iteration(NULL, FALSE); i++)
                ;
}

void
nlc_mark_signals(NlcTestEnv *env)
{
        drain_daemon_signals(env);
        env->signals->mark = env->signals->list->len;
}

void
nlc_forget_signals(NlcTestEnv *env)
{
        nlc_mark_signals(env);
        for (guint i = 0; i < env->signals->list->len; i++)
                ((NlcSignal *) env->signals->list->pdata[i])->consumed = TRUE;
}

void
nlc_expect_no_signal(NlcTestEnv *env, const char *subject)
{
        static const char *const members[] = { "StateChanged", "InterfacesAdded",
                                               "InterfacesRemoved" };

        drain_daemon_signals(env);
        /* PropertiesChanged is left out on purpose: PortState follows the
         * kernel on its own time. */
        for (guint i = env->signals->mark; i < env->signals->list->len; i++) {
                NlcSignal *s = env->signals->list->pdata[i];

                if ((!subject || g_str_equal(s->subject, subject)) &&
                    g_strv_contains(members, s->member)) {
                        g_autofree char *seen = describe_signals(env);

                        g_error("unexpected %s for %s; recorded:%s", s->member, s->subject, seen);
                }
        }
}

void
nlc_test_signals_start(NlcTestEnv *env)
{
        env->signals = g_new0(NlcTestSignals, 1);
        env->signals->list = g_ptr_array_new_with_free_func(nlc_signal_free);
        env->signals->sub =
                g_dbus_connection_signal_subscribe(env->conn, NULL, NULL, NULL, NULL, NULL,
                                                   G_DBUS_SIGNAL_FLAGS_NONE, on_signal, env, NULL);
}

void
nlc_test_signals_stop(NlcTestEnv *env)
{
        g_dbus_connection_signal_unsubscribe(env->conn, env->signals->sub);
        g_ptr_array_unref(env->signals->list);
        g_clear_pointer(&env->signals, g_free);
}
