/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Garbage in from many clients at once: 100 connections, each sending random
 * and malformed calls to every method (wrong types and arities, huge and odd
 * strings, unknown paths and members, options of the wrong type). The daemon
 * must not crash or hang, every error must carry a D-Bus error name, its log
 * must hold no GLib critical, and its memory must stay flat between two equal
 * rounds.
 */
#include <string.h>

#include "ns-env.h"

#define CLIENTS          100
#define CALLS_PER_CLIENT 30

typedef struct {
        const char *path;
        const char *iface;
        const char *method;
        const char *signature; /* the right one, or NULL: none */
} Target;

static const char *device_path = "/org/netlifecd1/device/1";

static const Target targets[] = {
        { "/org/netlifecd1", "org.netlifecd1.Manager", "Allocate", "(sssa{sv})" },
        { "/org/netlifecd1", "org.netlifecd1.Manager", "Notify", "(sssa{sv})" },
        { "/org/netlifecd1", "org.netlifecd1.Manager", "GetDevice", "(ss)" },
        { "/org/netlifecd1", "org.netlifecd1.Manager", "GetInstance", "(s)" },
        { "/org/netlifecd1", "org.netlifecd1.Manager", "AttachQemu", "(ss)" },
        { "/org/netlifecd1", "org.netlifecd1.Manager", "Migrate", "(ssa{sv})" },
        { "/org/netlifecd1", "org.netlifecd1.Manager", "PrepareIncoming", "(ssa{sv})" },
        { "/org/netlifecd1", "org.netlifecd1.Manager", "DestroyInstances", "(as)" },
        { "/org/netlifecd1", "org.netlifecd1.Manager", "NoSuchMethod", NULL },
        { NULL, "org.netlifecd1.Device", "Create", "()" },
        { NULL, "org.netlifecd1.Device", "Activate", "()" },
        { NULL, "org.netlifecd1.Device", "Deactivate", "()" },
        { NULL, "org.netlifecd1.Device", "Destroy", "()" },
        { NULL, "org.netlifecd1.Device", "Announce", "()" },
        { "/org/netlifecd1/device/99999", "org.netlifecd1.Device", "Activate", "()" },
        { "/org/netlifecd1/instance/vm1", "org.netlifecd1.Instance", "WaitReady", "(u)" },
        { "/org/netlifecd1/instance/vm1", "org.netlifecd1.Instance", "Activate", "()" },
        { "/org/netlifecd1/instance/vm1", "org.netlifecd1.Instance", "Deactivate", "()" },
        { "/org/netlifecd1/migration/1", "org.netlifecd1.Migration", "Cancel", "()" },
        { "/org/netlifecd1/nowhere", "org.netlifecd1.Device", "Free", "()" },
        { "/org/netlifecd1", "org.freedesktop.DBus.Properties", "Set", "(ssv)" },
        { "/org/netlifecd1", "org.freedesktop.DBus.Properties", "Get", "(ss)" },
        { NULL, "org.freedesktop.DBus.Properties", "GetAll", "(s)" },
};

static const char *const named_prefixes[] = { "org.netlifecd1.Error.",
                                              "org.freedesktop.DBus.Error." };

static char *
random_string(GRand *r)
{
        static const gsize lengths[] = { 0, 1, 7, 15, 16, 64, 300, 4096, 70000 };
        static const char *const words[] = { "br0",
                                             "vm1",
                                             "tap-bridge",
                                             "macvtap",
                                             "direct",
                                             "52:54:00:00:33:01",
                                             "01:00:5e:00:00:01",
                                             "/tmp/q",
                                             "tcp:198.51.100.9:1",
                                             "../../etc",
                                             "é€" };
        /* Two, three and four bytes each: a message that quotes such a
         * string cut at a byte count is no longer UTF-8. */
        static const char *const wide[] = { "é", "€", "𝄞" };
        gsize len = lengths[g_rand_int_range(r, 0, G_N_ELEMENTS(lengths))];
        gboolean multibyte = g_rand_boolean(r);
        GString *s;

        if (g_rand_boolean(r))
                return g_strdup(words[g_rand_int_range(r, 0, G_N_ELEMENTS(words))]);
        s = g_string_sized_new(len * 4);
        for (gsize i = 0; i < len; i++) {
                if (multibyte)
                        g_string_append(s, wide[g_rand_int_range(r, 0, G_N_ELEMENTS(wide))]);
                else
                        g_string_append_c(s, (char) g_rand_int_range(r, 0x20, 0x7f));
        }
        return g_string_free(s, FALSE);
}

static GVariant *random_value(GRand *r, int depth);

static GVariant *
random_options(GRand *r)
{
        static const char *const keys[] = { "bridge",
                                            "ifname",
                                            "queues",
                                            "link",
                                            "mode",
                                            "device",
                                            "pool",
                                            "postcopy",
                                            "readiness",
                                            "max-bandwidth",
                                            "readiness-timeout",
                                            "nonsense" };
        GVariantBuilder b;
        int n = g_rand_int_range(r, 0, 5);

        g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
        for (int i = 0; i < n; i++)
                g_variant_builder_add(&b, "{sv}", keys[g_rand_int_range(r, 0, G_N_ELEMENTS(keys))],
                                      random_value(r, 1));
        return g_variant_builder_end(&b);
}

static GVariant *
random_value(GRand *r, int depth)
{
        g_autofree char *s = NULL;

        switch (g_rand_int_range(r, 0, depth > 0 ? 7 : 9)) {
        case 0:
                return g_variant_new_uint32(g_rand_int(r));
        case 1:
                return g_variant_new_int32((gint32) g_rand_int(r));
        case 2:
                return g_variant_new_uint64(((guint64) g_rand_int(r) << 32) | g_rand_int(r));
        case 3:
                return g_variant_new_boolean(g_rand_boolean(r));
        case 4:
                return g_variant_new_double(g_rand_double(r));
        case 5:
                return g_variant_new_object_path(g_rand_boolean(r) ? "/org/netlifecd1" : "/x/y");
        case 6:
                s = random_string(r);
                return g_variant_new_string(s);
        case 7:
                return random_options(r);
        default:
                return g_variant_new_variant(random_value(r, depth + 1));
        }
}

/* Right signature with random values, or a random tuple. */
static GVariant *
random_params(GRand *r, const Target *t)
{
        GVariantBuilder b;

        if (t->signature && g_rand_int_range(r, 0, 10) < 7) {
                const GVariantType *type = G_VARIANT_TYPE(t->signature);
                const GVariantType *item;

                g_variant_builder_init(&b, type);
                for (item = g_variant_type_first(type); item; item = g_variant_type_next(item)) {
                        const char *code = g_variant_type_peek_string(item);
                        g_autofree char *s = NULL;

                        if (code[0] == 's' && g_rand_int_range(r, 0, 4)) {
                                s = random_string(r);
                                g_variant_builder_add(&b, "s", s);
                        } else if (code[0] == 's') {
                                g_variant_builder_add(&b, "s", "vm1");
                        } else if (code[0] == 'u') {
                                g_variant_builder_add(&b, "u",
                                                      (guint32) g_rand_int_range(r, 0, 50));
                        } else if (g_str_has_prefix(code, "as")) {
                                GVariantBuilder names;

                                g_variant_builder_init(&names, G_VARIANT_TYPE_STRING_ARRAY);
                                for (int n = g_rand_int_range(r, 0, 4); n > 0; n--) {
                                        g_autofree char *name = random_string(r);

                                        g_variant_builder_add(&names, "s", name);
                                }
                                g_variant_builder_add_value(&b, g_variant_builder_end(&names));
                        } else if (code[0] == 'v') {
                                g_variant_builder_add(&b, "v", random_value(r, 1));
                        } else {
                                g_variant_builder_add_value(&b, random_options(r));
                        }
                }
                return g_variant_builder_end(&b);
        }
        g_variant_builder_init(&b, G_VARIANT_TYPE_TUPLE);
        for (int i = g_rand_int_range(r, 0, 5); i > 0; i--)
                g_variant_builder_add_value(&b, random_value(r, 0));
        return g_variant_builder_end(&b);
}

typedef struct {
        const char *address;
        guint32 seed;
        guint calls, errors, unnamed;
        char *first_unnamed;
} Client;

static gpointer
client_thread(gpointer data)
{
        Client *c = data;
        g_autoptr(GRand) r = g_rand_new_with_seed(c->seed);
        g_autoptr(GError) error = NULL;
        g_autoptr(GDBusConnection) conn = g_dbus_connection_new_for_address_sync(
                c->address,
                G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                NULL, NULL, &error);

        g_assert_no_error(error);
        for (int i = 0; i < CALLS_PER_CLIENT; i++) {
                const Target *t = &targets[g_rand_int_range(r, 0, G_N_ELEMENTS(targets))];
                g_autoptr(GError) call_error = NULL;
                g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
                        conn, "org.netlifecd1", t->path ? t->path : device_path, t->iface,
                        t->method, random_params(r, t), NULL, G_DBUS_CALL_FLAGS_NONE, 15000, NULL,
                        &call_error);
                g_autofree char *name = NULL;
                gboolean named = FALSE;

                c->calls++;
                if (reply)
                        continue;
                c->errors++;
                name = g_dbus_error_get_remote_error(call_error);
                for (guint k = 0; name && k < G_N_ELEMENTS(named_prefixes); k++)
                        named |= g_str_has_prefix(name, named_prefixes[k]);
                if (!named) {
                        c->unnamed++;
                        if (!c->first_unnamed)
                                c->first_unnamed = g_strdup_printf("%s.%s: %s", t->iface, t->method,
                                                                   call_error->message);
                }
        }
        return NULL;
}

static void
round_of_clients(NsEnv *env, guint32 seed)
{
        Client clients[CLIENTS];
        GThread *threads[CLIENTS];
        guint calls = 0, errors = 0;

        for (guint i = 0; i < CLIENTS; i++) {
                clients[i] = (Client){ .address = env->address, .seed = seed + i };
                threads[i] = g_thread_new("client", client_thread, &clients[i]);
        }
        for (guint i = 0; i < CLIENTS; i++) {
                g_thread_join(threads[i]);
                calls += clients[i].calls;
                errors += clients[i].errors;
                if (clients[i].unnamed)
                        g_error("a reply error without a D-Bus error name: %s",
                                clients[i].first_unnamed);
                g_free(clients[i].first_unnamed);
        }
        g_test_message("%u calls, %u refused, every refusal named", calls, errors);
        g_assert_cmpuint(calls, ==, CLIENTS * CALLS_PER_CLIENT);
        g_assert_cmpuint(errors, >, calls / 2); /* garbage is mostly refused */
}

static guint64
daemon_rss_kib(NsEnv *env)
{
        g_autofree char *status = ns_sh_out("cat /proc/%d/status", env->daemon_pid);
        const char *line = strstr(status, "VmRSS:");

        g_assert_nonnull(line);
        return g_ascii_strtoull(line + 6, NULL, 10);
}

static void
test_garbage(void)
{
        NsEnv env;
        g_autofree char *log = NULL, *version = NULL;
        g_autoptr(GUnixFDList) fds = NULL;
        g_autofree char *path = NULL;
        guint64 rss1, rss2;
        guint32 seed = g_test_rand_int();

        /* On a sanitized build ASan's quarantine grows RSS by design: there
         * the daemon runs with LeakSanitizer instead, and a leak report makes
         * its exit status non-zero, which the fixture's teardown asserts. */
        if (g_strcmp0(g_getenv("NLC_SANITIZED"), "1") == 0)
                g_setenv("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1", TRUE);
        /* A GLib critical in the daemon (a message cut mid-character, say)
         * kills it: the next call fails and the teardown sees the crash. */
        g_setenv("NLC_DAEMON_G_DEBUG", "fatal-criticals", TRUE);
        ns_env_set_up(&env, NULL);
        ns_sh("ip link add br0 type bridge stp_state 0 && ip link set br0 up");
        path = ns_allocate(&env, "vm1", "52:54:00:00:33:01",
                           "{'bridge': <'br0'>, 'ifname': <'bi0'>}");
        g_assert_cmpstr(path, ==, device_path);
        fds = ns_create(&env, path);
        round_of_clients(&env, seed);
        rss1 = daemon_rss_kib(&env);
        round_of_clients(&env, seed); /* the same calls again */
        rss2 = daemon_rss_kib(&env);
        g_test_message("daemon RSS %" G_GUINT64_FORMAT " KiB after round 1, %" G_GUINT64_FORMAT
                       " KiB after round 2",
                       rss1, rss2);
        if (g_strcmp0(g_getenv("NLC_SANITIZED"), "1") != 0)
                g_assert_cmpuint(rss2, <, rss1 + 4096);
        /* Still answering, and nothing went wrong inside. */
        version = ns_get_string(&env, "/org/netlifecd1", "org.netlifecd1.Manager", "Version");
        g_assert_cmpstr(version, !=, "");
        g_assert_true(g_file_get_contents(env.daemon_log, &log, NULL, NULL));
        g_assert_null(strstr(log, "CRITICAL"));
        ns_env_tear_down(&env); /* asserts a clean exit on SIGTERM */
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/bad-input/garbage-from-100-clients", test_garbage);
        return g_test_run();
}
