/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <net/if.h>

#include "nlc-bridge.h"
#include "nlc-monitor.h"
#include "nlc-names.h"
#include "nlc-netlink.h"
#include "nlc-readiness.h"
#include "nlc-topology.h"

struct _NlcTopology {
        GDBusObjectManagerServer *object_manager;
        NlcTopologyHooks hooks;
        NlcMonitor *monitor;
        GHashTable *bridges;         /* name → NlcBridge */
        GHashTable *bridge_users;    /* name → number of devices with a port on it */
        GHashTable *bridge_by_index; /* ifindex → NlcBridge (borrowed) */
        GHashTable *port_bridge;     /* port ifindex → NlcBridge (borrowed) */
        GHashTable *device_bridge;   /* NlcDevice → bridge name it is counted on */
        GHashTable *device_seen;     /* NlcDevice → generation of its last port event */
        /* Devices without a bridge follow the carrier of a link (their own,
         * a macvtap's lower device, a VF's PF). */
        GHashTable *device_carrier; /* NlcDevice → name of the link it follows */
        GHashTable *carrier_users;  /* link name → set of NlcDevice */
        GHashTable *appeared;       /* bridge names made again, to repair from an idle */
        guint appeared_id;
        guint requery_id;
        guint generation;
};

static NlcBridge *
bridge_by_index(NlcTopology *t, int ifindex)
{
        return ifindex ? g_hash_table_lookup(t->bridge_by_index, GINT_TO_POINTER(ifindex)) : NULL;
}

static void
port_left(NlcTopology *t, int ifindex)
{
        NlcBridge *b = g_hash_table_lookup(t->port_bridge, GINT_TO_POINTER(ifindex));

        if (!b)
                return;
        nlc_bridge_remove_port(b, ifindex);
        g_hash_table_remove(t->port_bridge, GINT_TO_POINTER(ifindex));
}

/* The device's own bridge, whether or not it exists now. */
static NlcBridge *
own_bridge(NlcTopology *t, NlcDevice *dev)
{
        const char *name = nlc_device_get_bridge(dev);

        return name ? g_hash_table_lookup(t->bridges, name) : NULL;
}

/* What the kernel shows of @dev's bridge, the rest of @facts being the
 * port's. */
static void
add_bridge_facts(NlcTopology *t, NlcDevice *dev, NlcPortFacts *facts)
{
        NlcBridge *own = own_bridge(t, dev);

        facts->on_bridge = TRUE;
        facts->bridge_exists = own && nlc_bridge_get_ifindex(own) != 0;
        facts->bridge_up = facts->bridge_exists && nlc_bridge_get_up(own);
}

/* @facts of @dev's port, on @bridge (the port's master, or NULL); the timer
 * is what the kernel had left on the port's forward delay. */
static void
set_device_port(NlcTopology *t, NlcDevice *dev, NlcPortFacts *facts, guint64 timer_usec,
                NlcBridge *bridge)
{
        guint64 delay = bridge ? nlc_bridge_get_forward_delay_usec(bridge) : 0;
        NlcPortState state;

        add_bridge_facts(t, dev, facts);
        /* A port on another bridge than the device's does not serve it. */
        if (!bridge || bridge != own_bridge(t, dev))
                facts->is_port = FALSE;
        state = facts->is_port ? facts->state : NLC_PORT_STATE_DISABLED;
        nlc_device_set_port_state(dev, state, nlc_port_reason(facts),
                                  nlc_port_ready_in_usec(state, timer_usec, delay),
                                  g_get_monotonic_time());
        g_hash_table_insert(t->device_seen, dev, GUINT_TO_POINTER(t->generation));
}

/* The port of @dev, and of its peer: a shared tap (ShareQueues) is the port
 * of both. */
static void
set_devices_port(NlcTopology *t, NlcDevice *dev, const NlcPortFacts *facts, guint64 timer_usec,
                 NlcBridge *bridge)
{
        NlcPortFacts copy = *facts;

        set_device_port(t, dev, &copy, timer_usec, bridge);
        if (nlc_device_get_peer(dev)) {
                copy = *facts;
                set_device_port(t, nlc_device_get_peer(dev), &copy, timer_usec, bridge);
        }
}

/* The link @name as the kernel shows it now (none: it does not exist). */
static void
read_link_facts(const char *name, NlcPortFacts *facts)
{
        NlcLinkInfo link;

        if (!name || nlc_link_get(name, &link) < 0)
                return;
        facts->link_exists = TRUE;
        facts->link_up = (link.flags & IFF_UP) != 0;
        facts->carrier = link.lower_up;
}

/* A bridge device with no port to show: why, as far as the kernel tells. */
static void
set_device_portless(NlcTopology *t, NlcDevice *dev)
{
        NlcPortFacts facts = { 0 };

        read_link_facts(nlc_device_get_ifname(dev), &facts);
        set_device_port(t, dev, &facts, 0, NULL);
}

/* ---- devices without a bridge: the carrier of the link they follow ---- */

static void
set_carrier_devices(NlcTopology *t, const char *link, const NlcPortFacts *facts)
{
        GHashTable *users = g_hash_table_lookup(t->carrier_users, link);
        NlcPortState state = nlc_port_state_of_link(facts);
        NlcPortReason reason = nlc_port_reason(facts);
        GHashTableIter iter;
        gpointer dev;

        if (!users)
                return;
        g_hash_table_iter_init(&iter, users);
        while (g_hash_table_iter_next(&iter, &dev, NULL))
                nlc_device_set_port_state(dev, state, reason,
                                          state == NLC_PORT_STATE_FORWARDING ? 0 : G_MAXUINT64,
                                          g_get_monotonic_time());
}

static void
read_carrier_link(NlcTopology *t, const char *link)
{
        NlcPortFacts facts = { 0 };

        read_link_facts(link, &facts);
        set_carrier_devices(t, link, &facts);
}

/* @dev follows the carrier of @link from now on (NULL: of none). */
static void
follow_carrier(NlcTopology *t, NlcDevice *dev, const char *link)
{
        const char *had = g_hash_table_lookup(t->device_carrier, dev);
        GHashTable *users;

        if (g_strcmp0(had, link) == 0)
                return;
        if (had) {
                users = g_hash_table_lookup(t->carrier_users, had);
                g_hash_table_remove(users, dev);
                if (g_hash_table_size(users) == 0)
                        g_hash_table_remove(t->carrier_users, had);
                g_hash_table_remove(t->device_carrier, dev);
        }
        if (!link)
                return;
        users = g_hash_table_lookup(t->carrier_users, link);
        if (!users) {
                users = g_hash_table_new(NULL, NULL);
                g_hash_table_insert(t->carrier_users, g_strdup(link), users);
        }
        g_hash_table_add(users, dev);
        g_hash_table_insert(t->device_carrier, dev, g_strdup(link));
}

static void
on_carrier_link(NlcTopology *t, const NlcLinkEvent *ev)
{
        NlcPortFacts facts = { 0 };

        if (ev->af_bridge || !ev->name || !g_hash_table_contains(t->carrier_users, ev->name))
                return;
        facts.link_exists = !ev->removed;
        facts.link_up = ev->up;
        facts.carrier = ev->carrier;
        set_carrier_devices(t, ev->name, &facts);
}

/* ---- bridges that change under the devices --------------------------- */

/* The kernel sends no port event when a bridge's settings change, but a
 * port's time left (forward delay) and reason (bridge down) follow them:
 * every port is read again, from an idle (never inside the monitor's own
 * callback, whose buffer a dump would reuse). */
static gboolean
requery_ports(gpointer data)
{
        NlcTopology *t = data;
        int r;

        t->requery_id = 0;
        r = nlc_monitor_dump_ports(t->monitor);
        if (r < 0)
                g_warning("monitor: cannot read the bridge ports again: %s", g_strerror(-r));
        return G_SOURCE_REMOVE;
}

static void
schedule_requery(NlcTopology *t)
{
        if (!t->requery_id)
                t->requery_id = g_idle_add(requery_ports, t);
}

/* The devices of a bridge made again go back on it: the backend's notify
 * re-enslaves, sets the port flags and puts back the active device's FDB
 * entry. From an idle, outside the monitor's callback. */
static gboolean
repair_appeared(gpointer data)
{
        NlcTopology *t = data;
        g_autoptr(GHashTable) names = g_steal_pointer(&t->appeared);
        GHashTableIter iter;
        gpointer name;

        t->appeared_id = 0;
        t->appeared = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_hash_table_iter_init(&iter, names);
        while (g_hash_table_iter_next(&iter, &name, NULL))
                if (t->hooks.bridge_appeared)
                        t->hooks.bridge_appeared(name, t->hooks.user_data);
        return G_SOURCE_REMOVE;
}

/* The devices counted on @b: their ports are gone with it. */
static void
bridge_gone(NlcTopology *t, NlcBridge *b)
{
        GHashTableIter iter;
        gpointer dev, name;

        g_hash_table_iter_init(&iter, t->device_bridge);
        while (g_hash_table_iter_next(&iter, &dev, &name))
                if (g_str_equal(name, nlc_bridge_get_name(b)))
                        set_device_portless(t, dev);
}

static void
on_bridge_event(NlcTopology *t, const NlcLinkEvent *ev)
{
        NlcBridge *b = bridge_by_index(t, ev->ifindex);

        if (!b && ev->name)
                b = g_hash_table_lookup(t->bridges, ev->name);
        if (!b)
                return;
        if (ev->removed) {
                if (nlc_bridge_get_ifindex(b) != ev->ifindex)
                        return; /* an older bridge of that name */
                g_hash_table_remove(t->bridge_by_index, GINT_TO_POINTER(ev->ifindex));
                nlc_bridge_set_ifindex(b, 0);
                g_message("bridge %s: deleted; its devices wait for a bridge of that name",
                          nlc_bridge_get_name(b));
                bridge_gone(t, b);
                return;
        }
        if (nlc_bridge_get_ifindex(b) != ev->ifindex) {
                /* Deleted and made again under the same name (or made only
                 * now): its devices go back on it. */
                g_hash_table_remove(t->bridge_by_index, GINT_TO_POINTER(nlc_bridge_get_ifindex(b)));
                nlc_bridge_set_ifindex(b, ev->ifindex);
                g_message("bridge %s: made again; putting its devices back on it",
                          nlc_bridge_get_name(b));
                g_hash_table_add(t->appeared, g_strdup(nlc_bridge_get_name(b)));
                if (!t->appeared_id)
                        t->appeared_id = g_idle_add(repair_appeared, t);
        }
        g_hash_table_insert(t->bridge_by_index, GINT_TO_POINTER(ev->ifindex), b);
        if (nlc_bridge_set_config(b, ev->up, ev->stp_enabled, ev->forward_delay_usec))
                schedule_requery(t);
}

static void
on_link(const NlcLinkEvent *ev, gpointer data)
{
        NlcTopology *t = data;
        NlcDevice *dev = ev->name ? t->hooks.device_by_ifname(ev->name, t->hooks.user_data) : NULL;
        NlcPortFacts facts = {
                .link_exists = !ev->removed,
                .link_up = ev->up,
                .carrier = ev->carrier,
                .is_port = ev->has_port_state && !ev->removed,
                .state = ev->port_state,
                .bpdu_guard = ev->bpdu_guard,
        };
        NlcBridge *b;

        if (ev->removed && t->hooks.link_removed)
                t->hooks.link_removed(ev->ifindex, t->hooks.user_data);
        if (ev->is_bridge)
                on_bridge_event(t, ev);
        on_carrier_link(t, ev);
        /* Only a bridge port's device follows port events. */
        if (dev && !nlc_device_get_bridge(dev))
                dev = NULL;
        if (ev->af_bridge && !ev->has_port_state)
                return; /* the bridge device itself, or VLAN news */
        if (ev->removed || !ev->has_port_state) {
                /* Gone, or (AF_UNSPEC without bridge-slave data) no longer a port. */
                port_left(t, ev->ifindex);
                if (dev)
                        set_devices_port(t, dev, &facts, 0, NULL);
                return;
        }
        b = bridge_by_index(t, ev->master_ifindex);
        if (g_hash_table_lookup(t->port_bridge, GINT_TO_POINTER(ev->ifindex)) != b)
                port_left(t, ev->ifindex);
        if (b) {
                nlc_bridge_update_port(b, ev->ifindex, ev->name, ev->port_state);
                g_hash_table_insert(t->port_bridge, GINT_TO_POINTER(ev->ifindex), b);
        }
        if (dev)
                set_devices_port(t, dev, &facts, ev->forward_delay_timer_usec, b);
}

/*
 * A guest MAC in the FDB of a managed bridge at a port that is not its
 * owner's: signal it. The kernel never moves a static entry by learning
 * (6.x), so on the owner's own bridge this is someone else's static entry, and
 * the owner's is put back; elsewhere it is learnt, the MAC seen where the
 * running guest is not.
 */
static void
on_fdb(const NlcFdbEvent *ev, gpointer data)
{
        NlcTopology *t = data;
        NlcDevice *owner;
        NlcBridge *b;
        const char *seen, *owner_port;
        g_autofree char *mac = NULL;
        NlcLinkInfo link;
        int r;

        if (ev->removed)
                return;
        owner = t->hooks.mac_owner(ev->mac, t->hooks.user_data);
        b = bridge_by_index(t, ev->bridge_ifindex);
        owner_port = owner ? nlc_device_get_ifname(owner) : NULL;
        if (!owner_port || !b)
                return;
        seen = nlc_bridge_get_port_name(b, ev->port_ifindex);
        if (g_strcmp0(seen, owner_port) == 0)
                return;
        mac = nlc_mac_to_string(ev->mac);
        if (!seen && nlc_link_get_by_index(ev->port_ifindex, &link) == 0)
                seen = link.name;
        nlc_bridge_report_conflict(b, mac, owner_port, seen ? seen : "?");
        if (g_strcmp0(nlc_bridge_get_name(b), nlc_device_get_bridge(owner)) != 0)
                return;
        if (nlc_link_get(owner_port, &link) == 0 &&
            (r = nlc_fdb_replace_static(link.ifindex, ev->mac)) < 0)
                g_warning("bridge %s: cannot put %s back on %s: %s", nlc_bridge_get_name(b), mac,
                          owner_port, g_strerror(-r));
}

static void
on_resync_begin(gpointer data)
{
        NlcTopology *t = data;

        t->generation++;
}

/* After a full dump: a tracked device whose port the kernel did not report
 * has none. */
static void
on_resynced(gpointer data)
{
        NlcTopology *t = data;
        GHashTableIter iter;
        gpointer dev;

        GHashTableIter carriers;
        gpointer link;

        g_hash_table_iter_init(&iter, t->device_bridge);
        while (g_hash_table_iter_next(&iter, &dev, NULL))
                if (GPOINTER_TO_UINT(g_hash_table_lookup(t->device_seen, dev)) != t->generation)
                        set_device_portless(t, dev);
        /* The dump delivered the links that exist; one that was not among
         * them is read (and found gone) again. */
        g_hash_table_iter_init(&carriers, t->carrier_users);
        while (g_hash_table_iter_next(&carriers, &link, NULL))
                read_carrier_link(t, link);
}

static const NlcMonitorCallbacks monitor_callbacks = {
        .link = on_link,
        .fdb = on_fdb,
        .resync_begin = on_resync_begin,
        .resynced = on_resynced,
};

static void
export_bridge(NlcTopology *t, NlcBridge *b)
{
        g_autoptr(NlcDbusObjectSkeleton) object =
                nlc_dbus_object_skeleton_new(nlc_bridge_get_object_path(b));

        nlc_dbus_object_skeleton_set_bridge(object, NLC_DBUS_BRIDGE(b));
        g_dbus_object_manager_server_export(t->object_manager, G_DBUS_OBJECT_SKELETON(object));
}

static void
use_bridge(NlcTopology *t, const char *name)
{
        guint users = GPOINTER_TO_UINT(g_hash_table_lookup(t->bridge_users, name));
        NlcLinkInfo link;
        NlcBridge *b;
        int r;

        g_hash_table_insert(t->bridge_users, g_strdup(name), GUINT_TO_POINTER(users + 1));
        if (users > 0)
                return;
        r = nlc_link_get(name, &link);
        b = nlc_bridge_new(name, r == 0 ? link.ifindex : 0);
        g_hash_table_insert(t->bridges, g_strdup(name), b);
        if (r == 0)
                g_hash_table_insert(t->bridge_by_index, GINT_TO_POINTER(link.ifindex), b);
        export_bridge(t, b);
        /* Its settings, then every port it has. */
        if (r == 0 && (r = nlc_monitor_query_link(t->monitor, link.ifindex)) == 0)
                r = nlc_monitor_dump_ports(t->monitor);
        if (r < 0)
                g_message("bridge %s: cannot read it from the kernel: %s", name, g_strerror(-r));
}

static void
drop_bridge(NlcTopology *t, const char *name)
{
        guint users = GPOINTER_TO_UINT(g_hash_table_lookup(t->bridge_users, name));
        NlcBridge *b = g_hash_table_lookup(t->bridges, name);
        GHashTableIter iter;
        gpointer value;

        if (users > 1) {
                g_hash_table_insert(t->bridge_users, g_strdup(name), GUINT_TO_POINTER(users - 1));
                return;
        }
        g_hash_table_remove(t->bridge_users, name);
        if (!b)
                return;
        g_hash_table_iter_init(&iter, t->port_bridge);
        while (g_hash_table_iter_next(&iter, NULL, &value))
                if (value == b)
                        g_hash_table_iter_remove(&iter);
        g_hash_table_iter_init(&iter, t->bridge_by_index);
        while (g_hash_table_iter_next(&iter, NULL, &value))
                if (value == b)
                        g_hash_table_iter_remove(&iter);
        g_dbus_object_manager_server_unexport(t->object_manager, nlc_bridge_get_object_path(b));
        g_hash_table_remove(t->bridges, name);
}

/* The bridge @dev's port is on (counted while it has one). */
static NlcBridge *
device_port_bridge(NlcTopology *t, NlcDevice *dev)
{
        const char *name = g_hash_table_lookup(t->device_bridge, dev);

        return name ? g_hash_table_lookup(t->bridges, name) : NULL;
}

/* Counts @dev on bridge @want (NULL: on none); FALSE when it already was. */
static gboolean
recount_device(NlcTopology *t, NlcDevice *dev, const char *want)
{
        const char *have = g_hash_table_lookup(t->device_bridge, dev);

        if (g_strcmp0(want, have) == 0)
                return FALSE;
        if (want)
                use_bridge(t, want);
        if (have) {
                NlcBridge *b = device_port_bridge(t, dev);

                if (b)
                        nlc_bridge_set_mac_owner(b, dev, NULL);
                drop_bridge(t, have);
        }
        if (want)
                g_hash_table_insert(t->device_bridge, dev, g_strdup(want));
        else
                g_hash_table_remove(t->device_bridge, dev);
        return TRUE;
}

void
nlc_topology_device_changed(NlcTopology *t, NlcDevice *dev)
{
        NlcDeviceState st = nlc_device_get_state(dev);
        gboolean has_port = st == NLC_DEVICE_STATE_CREATED || st == NLC_DEVICE_STATE_ACTIVE;
        const char *bridge = has_port ? nlc_device_get_bridge(dev) : NULL;
        const char *ifname = nlc_device_get_ifname(dev);
        const char *carrier = has_port && !bridge ? nlc_device_get_carrier_link(dev) : NULL;
        NlcLinkInfo link;
        gboolean new_port = recount_device(t, dev, bridge);

        if (!has_port) {
                follow_carrier(t, dev, NULL);
                nlc_device_set_port_state(dev, NLC_PORT_STATE_DISABLED, NLC_PORT_REASON_NO_PORT,
                                          G_MAXUINT64, g_get_monotonic_time());
                nlc_topology_ownership_changed(t, dev);
                return;
        }
        if (!bridge && !carrier) {
                /* A backend with no link to watch (no ifname): nothing to
                 * wait for once it exists. */
                nlc_device_set_port_state(dev, NLC_PORT_STATE_FORWARDING, NLC_PORT_REASON_NONE, 0,
                                          g_get_monotonic_time());
                return;
        }
        if (carrier) {
                /* No bridge (macvtap, direct): no STP to wait for; the device
                 * carries traffic while the link it follows has carrier. A
                 * created direct device is held down, so its own carrier is
                 * read again when activate brings it up. */
                follow_carrier(t, dev, carrier);
                read_carrier_link(t, carrier);
                return;
        }
        /* A port new to the device is read from the kernel now; one it
         * already had (created <-> active) is kept current by the events. */
        if (new_port && (!ifname || nlc_link_get(ifname, &link) < 0 ||
                         nlc_monitor_query_link(t->monitor, link.ifindex) < 0))
                set_device_portless(t, dev);
        nlc_topology_ownership_changed(t, dev);
}

void
nlc_topology_forget_device(NlcTopology *t, NlcDevice *dev)
{
        recount_device(t, dev, NULL);
        follow_carrier(t, dev, NULL);
        g_hash_table_remove(t->device_seen, dev);
}

void
nlc_topology_ownership_changed(NlcTopology *t, NlcDevice *dev)
{
        NlcBridge *b = device_port_bridge(t, dev);

        if (b)
                nlc_bridge_set_mac_owner(b, dev,
                                         nlc_device_get_state(dev) == NLC_DEVICE_STATE_ACTIVE
                                                 ? nlc_device_get_mac(dev)
                                                 : NULL);
}

void
nlc_topology_sync(NlcTopology *t)
{
        int r;

        on_resync_begin(t);
        r = nlc_monitor_dump_all(t->monitor);
        if (r < 0) {
                /* Ports stay as the per-device queries left them. */
                g_warning("monitor: cannot read links and FDB: %s", g_strerror(-r));
                return;
        }
        on_resynced(t);
}

guint
nlc_topology_get_overruns(NlcTopology *t)
{
        return nlc_monitor_get_overruns(t->monitor);
}

NlcTopology *
nlc_topology_new(GDBusObjectManagerServer *object_manager, const NlcTopologyHooks *hooks,
                 guint rcvbuf, GError **error)
{
        g_autoptr(NlcTopology) t = g_new0(NlcTopology, 1);

        t->object_manager = g_object_ref(object_manager);
        t->hooks = *hooks;
        t->bridges = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
        t->bridge_users = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        t->bridge_by_index = g_hash_table_new(NULL, NULL);
        t->port_bridge = g_hash_table_new(NULL, NULL);
        t->device_bridge = g_hash_table_new_full(NULL, NULL, NULL, g_free);
        t->device_seen = g_hash_table_new(NULL, NULL);
        t->device_carrier = g_hash_table_new_full(NULL, NULL, NULL, g_free);
        t->carrier_users = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                 (GDestroyNotify) g_hash_table_unref);
        t->appeared = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        t->monitor = nlc_monitor_new(&monitor_callbacks, t, rcvbuf, error);
        if (!t->monitor)
                return NULL;
        return g_steal_pointer(&t);
}

void
nlc_topology_free(NlcTopology *t)
{
        if (!t)
                return;
        nlc_monitor_free(t->monitor);
        g_clear_handle_id(&t->requery_id, g_source_remove);
        g_clear_handle_id(&t->appeared_id, g_source_remove);
        g_clear_pointer(&t->appeared, g_hash_table_unref);
        g_clear_pointer(&t->carrier_users, g_hash_table_unref);
        g_clear_pointer(&t->device_carrier, g_hash_table_unref);
        g_clear_pointer(&t->device_seen, g_hash_table_unref);
        g_clear_pointer(&t->device_bridge, g_hash_table_unref);
        g_clear_pointer(&t->port_bridge, g_hash_table_unref);
        g_clear_pointer(&t->bridge_by_index, g_hash_table_unref);
        g_clear_pointer(&t->bridge_users, g_hash_table_unref);
        g_clear_pointer(&t->bridges, g_hash_table_unref);
        g_clear_object(&t->object_manager);
        g_free(t);
}
