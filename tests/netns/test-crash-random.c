/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Crash safety under random timing: random lifecycle operations on a few
 * devices (three of them sharing a MAC, on two bridges, so handovers on one
 * bridge and across bridges happen), each followed
 * after a random 0-4 ms by kill -9 of the daemon — before, during or after
 * the operation — and a restart. After every restart the invariants must
 * hold: no kernel object without a record, no record without its kernel
 * object, ports configured, the MAC held by at most one entry and only by an
 * active device, and one journal file per device object.
 *
 * Reproduce a failure with the seed GTest prints: --seed=R02S...
 */
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#include "nlc-test-kernel.h"
#include "ns-env.h"

#define KILLS     200
#define N_DEVICES 5

typedef struct {
        const char *instance, *mac, *ifname, *bridge;
        guint mac_slot; /* the first slot with this MAC */
} Slot;

static const Slot slots[N_DEVICES] = {
        { "vm1", "52:54:00:00:2a:01", "ct0", "br0", 0 },
        { "vm1", "52:54:00:00:2a:01", "ct1", "br0", 0 }, /* same MAC, same instance: handovers */
        { "vm2", "52:54:00:00:2a:02", "ct2", "br0", 2 },
        { "vm2", "52:54:00:00:2a:03", "ct3", "br0", 3 },
        { "vm1", "52:54:00:00:2a:01", "ct4", "br1", 0 }, /* and across bridges */
};

static const char *const ops[] = { "Create", "Activate", "Deactivate", "Destroy", "Free" };

typedef struct {
        NsEnv env;
        char *paths[N_DEVICES]; /* NULL once freed */
} Fixture;

static char *
allocate(Fixture *f, guint i)
{
        g_autofree char *opts = g_strdup_printf("{'bridge': <'%s'>, 'ifname': <'%s'>}",
                                                slots[i].bridge, slots[i].ifname);
        g_autoptr(GVariant) o =
                g_variant_ref_sink(g_variant_parse(G_VARIANT_TYPE_VARDICT, opts, NULL, NULL, NULL));
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = ns_call(
                &f->env, "/org/netlifecd1", "org.netlifecd1.Manager", "Allocate",
                g_variant_new("(sss@a{sv})", slots[i].instance, "tap-bridge", slots[i].mac, o),
                "(o)", &error);
        char *path = NULL;

        g_assert_no_error(error);
        g_variant_get(r, "(o)", &path);
        return path;
}

static void
set_up(Fixture *f, gconstpointer data)
{
        ns_env_set_up(&f->env, NULL);
        ns_sh("ip link add br0 type bridge stp_state 0 && ip link set br0 up");
        ns_sh("ip link add br1 type bridge stp_state 0 && ip link set br1 up");
        for (guint i = 0; i < N_DEVICES; i++)
                f->paths[i] = allocate(f, i);
}

static void
tear_down(Fixture *f, gconstpointer data)
{
        for (guint i = 0; i < N_DEVICES; i++)
                g_free(f->paths[i]);
        ns_env_tear_down(&f->env);
}

/* path → State of every device object the daemon has. */
static GHashTable *
device_states(Fixture *f)
{
        GHashTable *states = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        g_autoptr(GVariant) r =
                ns_call(&f->env, "/org/netlifecd1", "org.freedesktop.DBus.ObjectManager",
                        "GetManagedObjects", NULL, "(a{oa{sa{sv}}})", NULL);
        g_autoptr(GVariant) objects = g_variant_get_child_value(r, 0);
        GVariantIter iter;
        const char *path;
        GVariant *ifaces;

        g_variant_iter_init(&iter, objects);
        while (g_variant_iter_next(&iter, "{&o@a{sa{sv}}}", &path, &ifaces)) {
                g_autoptr(GVariant) owned = ifaces;
                g_autoptr(GVariant) dev = g_variant_lookup_value(ifaces, "org.netlifecd1.Device",
                                                                 G_VARIANT_TYPE_VARDICT);
                const char *state;

                if (dev && g_variant_lookup(dev, "State", "&s", &state))
                        g_hash_table_insert(states, g_strdup(path), g_strdup(state));
        }
        return states;
}

/* Records live in the daemon's journal (<state>/devices.log), read here
 * without the daemon's code: each entry is a header "nlc1 <length, 8 hex>
 * <digest>\n", then the payload, whose first line is "put <id>" or
 * "del <id>" (or "next-id <n>"). */
static guint
journal_records(Fixture *f)
{
        g_autofree char *path = g_build_filename(f->env.dir, "state", "devices.log", NULL);
        g_autoptr(GHashTable) live = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_autofree char *data = NULL;
        gsize size = 0, off = 0;

        g_assert_true(g_file_get_contents(path, &data, &size, NULL));
        while (off + 31 <= size) {
                gsize len = (gsize) g_ascii_strtoull(data + off + 5, NULL, 16);
                g_autofree char *first = g_strndup(data + off + 31, MIN(len, 64));
                char *nl = strchr(first, '\n');

                g_assert_true(g_str_has_prefix(data + off, "nlc1 "));
                if (nl)
                        *nl = '\0';
                if (g_str_has_prefix(first, "put "))
                        g_hash_table_add(live, g_strdup(first + 4));
                else if (g_str_has_prefix(first, "del "))
                        g_hash_table_remove(live, first + 4);
                off += 31 + len;
        }
        g_assert_cmpuint(off, ==, size);
        return g_hash_table_size(live);
}

static void
check_invariants(Fixture *f, guint round, const char *what)
{
        g_autoptr(GHashTable) states = device_states(f);
        guint active_per_mac[N_DEVICES] = { 0 };

        if (journal_records(f) != g_hash_table_size(states))
                g_error("round %u (%s): %u journal records for %u device objects", round, what,
                        journal_records(f), g_hash_table_size(states));
        for (guint i = 0; i < N_DEVICES; i++) {
                const char *state = f->paths[i] ? g_hash_table_lookup(states, f->paths[i]) : NULL;
                gboolean has_port =
                        state && (g_str_equal(state, "created") || g_str_equal(state, "active"));
                g_autofree char *fdb = ns_kernel_fdb_static(slots[i].mac);
                g_autofree char *mine = g_strdup_printf("%s@%s", slots[i].ifname, slots[i].bridge);
                gboolean holds = strstr(fdb, mine) != NULL;
                g_autoptr(NlcLink) k = NULL;

                if (f->paths[i] && !state)
                        g_error("round %u (%s): device %s lost its object", round, what,
                                f->paths[i]);
                k = nlc_link_read(slots[i].ifname);
                if (has_port != k->exists)
                        g_error("round %u (%s): %s is %s but its tap %s", round, what,
                                slots[i].ifname, state ? state : "freed",
                                k->exists ? "exists" : "is missing");
                if (has_port && (g_strcmp0(k->master, slots[i].bridge) != 0 || k->learning ||
                                 k->flood || !k->lower_up))
                        g_error("round %u (%s): port %s not as configured (master %s learning %d "
                                "flood %d carrier %d)",
                                round, what, slots[i].ifname, k->master, k->learning, k->flood,
                                k->lower_up);
                if (holds != (state && g_str_equal(state, "active")))
                        g_error("round %u (%s): %s is %s and %s the MAC's entry", round, what,
                                slots[i].ifname, state ? state : "freed",
                                holds ? "holds" : "lacks");
                if (holds)
                        active_per_mac[slots[i].mac_slot]++;
                if (strchr(fdb, ' '))
                        g_error("round %u (%s): MAC %s has several static entries: %s", round, what,
                                slots[i].mac, fdb);
        }
        for (guint i = 0; i < N_DEVICES; i++)
                if (active_per_mac[i] > 1)
                        g_error("round %u (%s): two devices hold %s", round, what, slots[i].mac);
}

static void
test_random_kills(Fixture *f, gconstpointer data)
{
        guint changed = 0;

        for (guint round = 0; round < KILLS; round++) {
                guint i = (guint) g_test_rand_int_range(0, N_DEVICES);
                const char *op = ops[g_test_rand_int_range(0, G_N_ELEMENTS(ops))];
                g_autofree char *what = NULL;
                g_autoptr(GHashTable) before = NULL;
                g_autoptr(GHashTable) after = NULL;

                if (!f->paths[i])
                        f->paths[i] = allocate(f, i);
                what = g_strdup_printf("%s %s", op, slots[i].ifname);
                before = device_states(f);
                /* Fire and forget: the daemon dies with or without replying. */
                g_dbus_connection_call(f->env.conn, "org.netlifecd1", f->paths[i],
                                       "org.netlifecd1.Device", op, NULL, NULL,
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL, NULL);
                g_dbus_connection_flush_sync(f->env.conn, NULL, NULL);
                g_usleep((gulong) g_test_rand_int_range(0, 4000));
                ns_env_kill9_daemon(&f->env);
                ns_env_start_daemon(&f->env);
                after = device_states(f);
                if (g_strcmp0(g_hash_table_lookup(before, f->paths[i]),
                              g_hash_table_lookup(after, f->paths[i])) != 0)
                        changed++;
                if (g_str_equal(op, "Free") && !g_hash_table_contains(after, f->paths[i]))
                        g_clear_pointer(&f->paths[i], g_free);
                check_invariants(f, round, what);
        }
        /* The kills must have hit operations that did something, or this
         * proved little. */
        g_test_message("%u kills, %u of them after the operation changed the state", KILLS,
                       changed);
        g_assert_cmpuint(changed, >=, KILLS / 10);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add("/crash/random-kills", Fixture, NULL, set_up, test_random_kills, tear_down);
        return g_test_run();
}
