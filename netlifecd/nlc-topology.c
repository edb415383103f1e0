/* SPDX-License-Identifier: LGPL-2.1-or-later */
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

static void
set_device_port(NlcTopology *t, NlcDevice *dev, NlcPortState state, guint64 timer_usec,
                NlcBridge *bridge)
{
        guint64 delay = bridge ? nlc_bridge_get_forward_delay_usec(bridge) : 0;

        /* A port on another bridge than the device's does not serve it. */
        if (!bridge || g_strcmp0(nlc_bridge_get_name(bridge), nlc_device_get_bridge(dev)) != 0)
                state = NLC_PORT_STATE_DISABLED;
        nlc_device_set_port_state(dev, state, nlc_port_ready_in_usec(state, timer_usec, delay),
                                  g_get_monotonic_time());
        g_hash_table_insert(t->device_seen, dev, GUINT_TO_POINTER(t->generation));
}

/* The port of @dev, and of its peer: a shared tap (ShareQueues) is the port
 * of both. */
static void
set_devices_port(NlcTopology *t, NlcDevice *dev, NlcPortState state, guint64 timer_usec,
                 NlcBridge *bridge)
{
        set_device_port(t, dev, state, timer_usec, bridge);
        if (nlc_device_get_peer(dev))
                set_device_port(t, nlc_device_get_peer(dev), state, timer_usec, bridge);
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
                g_hash_table_remove(t->bridge_by_index, GINT_TO_POINTER(ev->ifindex));
                return;
        }
        if (nlc_bridge_get_ifindex(b) != ev->ifindex) {
                /* Deleted and made again under the same name. */
                g_hash_table_remove(t->bridge_by_index, GINT_TO_POINTER(nlc_bridge_get_ifindex(b)));
                nlc_bridge_set_ifindex(b, ev->ifindex);
        }
        g_hash_table_insert(t->bridge_by_index, GINT_TO_POINTER(ev->ifindex), b);
        nlc_bridge_set_config(b, ev->stp_enabled, ev->forward_delay_usec);
}

static void
on_link(const NlcLinkEvent *ev, gpointer data)
{
        NlcTopology *t = data;
        NlcDevice *dev = ev->name ? t->hooks.device_by_ifname(ev->name, t->hooks.user_data) : NULL;
        NlcBridge *b;

        if (ev->removed && t->hooks.link_removed)
                t->hooks.link_removed(ev->ifindex, t->hooks.user_data);
        if (ev->is_bridge)
                on_bridge_event(t, ev);
        if (ev->af_bridge && !ev->has_port_state)
                return; /* the bridge device itself, or VLAN news */
        if (ev->removed || !ev->has_port_state) {
                /* Gone, or (AF_UNSPEC without bridge-slave data) no longer a port. */
                port_left(t, ev->ifindex);
                if (dev)
                        set_devices_port(t, dev, NLC_PORT_STATE_DISABLED, 0, NULL);
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
                set_devices_port(t, dev, ev->port_state, ev->forward_delay_timer_usec, b);
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

        g_hash_table_iter_init(&iter, t->device_bridge);
        while (g_hash_table_iter_next(&iter, &dev, NULL))
                if (GPOINTER_TO_UINT(g_hash_table_lookup(t->device_seen, dev)) != t->generation)
                        set_device_port(t, dev, NLC_PORT_STATE_DISABLED, 0, NULL);
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
        NlcLinkInfo link;
        gboolean new_port = recount_device(t, dev, bridge);

        if (has_port && !nlc_device_get_bridge(dev)) {
                /* No bridge (macvtap, direct): no STP to wait for; the device
                 * can carry traffic as soon as it exists. */
                nlc_device_set_port_state(dev, NLC_PORT_STATE_FORWARDING, 0,
                                          g_get_monotonic_time());
                return;
        }
        /* A port new to the device is read from the kernel now; one it
         * already had (created <-> active) is kept current by the events. */
        if (!bridge || (new_port && (!ifname || nlc_link_get(ifname, &link) < 0 ||
                                     nlc_monitor_query_link(t->monitor, link.ifindex) < 0)))
                set_device_port(t, dev, NLC_PORT_STATE_DISABLED, 0, NULL);
        nlc_topology_ownership_changed(t, dev);
}

void
nlc_topology_forget_device(NlcTopology *t, NlcDevice *dev)
{
        recount_device(t, dev, NULL);
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
        g_clear_pointer(&t->device_seen, g_hash_table_unref);
        g_clear_pointer(&t->device_bridge, g_hash_table_unref);
        g_clear_pointer(&t->port_bridge, g_hash_table_unref);
        g_clear_pointer(&t->bridge_by_index, g_hash_table_unref);
        g_clear_pointer(&t->bridge_users, g_hash_table_unref);
        g_clear_pointer(&t->bridges, g_hash_table_unref);
        g_clear_object(&t->object_manager);
        g_free(t);
}
