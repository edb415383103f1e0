/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <gio/gio.h>

#include "nlc-bridge.h"

typedef struct {
        char *name;
        NlcPortState state;
} Port;

struct _NlcBridge {
        NlcDbusBridgeSkeleton parent;
        char *name;
        char *object_path;
        int ifindex;
        GHashTable *ports; /* ifindex → Port */
        guint64 conflicts;
        guint sync_ports_id; /* Ports is rebuilt once per burst of port events */
};

G_DEFINE_TYPE(NlcBridge, nlc_bridge, NLC_DBUS_TYPE_BRIDGE_SKELETON)

static void
port_free(Port *p)
{
        g_free(p->name);
        g_free(p);
}

/* Ports lists every port, managed or not: rebuilding it is O(ports). */
static void
sync_ports(NlcBridge *self)
{
        GVariantBuilder b;
        GHashTableIter iter;
        gpointer value;

        g_variant_builder_init(&b, G_VARIANT_TYPE("a(ss)"));
        g_hash_table_iter_init(&iter, self->ports);
        while (g_hash_table_iter_next(&iter, NULL, &value)) {
                Port *p = value;

                g_variant_builder_add(&b, "(ss)", p->name, nlc_port_state_to_string(p->state));
        }
        nlc_dbus_bridge_set_ports(NLC_DBUS_BRIDGE(self), g_variant_builder_end(&b));
        g_dbus_interface_skeleton_flush(G_DBUS_INTERFACE_SKELETON(self));
}

static gboolean
on_sync_ports(gpointer data)
{
        NlcBridge *self = data;

        self->sync_ports_id = 0;
        sync_ports(self);
        return G_SOURCE_REMOVE;
}

/* A port change: Ports follows on the next main-loop iteration, once for
 * all the events read meanwhile (a bridge with thousands of ports the
 * daemon does not manage would otherwise cost O(ports) per event). */
static void
schedule_sync_ports(NlcBridge *self)
{
        if (!self->sync_ports_id)
                self->sync_ports_id = g_idle_add(on_sync_ports, self);
}

void
nlc_bridge_update_port(NlcBridge *self, int ifindex, const char *name, NlcPortState state)
{
        Port *p = g_hash_table_lookup(self->ports, GINT_TO_POINTER(ifindex));

        if (!p) {
                p = g_new0(Port, 1);
                g_hash_table_insert(self->ports, GINT_TO_POINTER(ifindex), p);
        } else if (p->state == state && (!name || g_strcmp0(p->name, name) == 0)) {
                return;
        }
        if (name) {
                g_free(p->name);
                p->name = g_strdup(name);
        } else if (!p->name) {
                p->name = g_strdup_printf("ifindex-%d", ifindex);
        }
        p->state = state;
        schedule_sync_ports(self);
}

void
nlc_bridge_remove_port(NlcBridge *self, int ifindex)
{
        if (g_hash_table_remove(self->ports, GINT_TO_POINTER(ifindex)))
                schedule_sync_ports(self);
}

const char *
nlc_bridge_get_port_name(NlcBridge *self, int ifindex)
{
        Port *p = g_hash_table_lookup(self->ports, GINT_TO_POINTER(ifindex));

        return p ? p->name : NULL;
}

void
nlc_bridge_set_config(NlcBridge *self, gboolean stp_enabled, guint64 forward_delay_usec)
{
        nlc_dbus_bridge_set_stp_enabled(NLC_DBUS_BRIDGE(self), stp_enabled);
        nlc_dbus_bridge_set_forward_delay_usec(NLC_DBUS_BRIDGE(self), forward_delay_usec);
        g_dbus_interface_skeleton_flush(G_DBUS_INTERFACE_SKELETON(self));
}

guint64
nlc_bridge_get_forward_delay_usec(NlcBridge *self)
{
        return nlc_dbus_bridge_get_forward_delay_usec(NLC_DBUS_BRIDGE(self));
}

void
nlc_bridge_set_owned_macs(NlcBridge *self, const char *const *macs)
{
        nlc_dbus_bridge_set_owned_macs(NLC_DBUS_BRIDGE(self), macs);
        g_dbus_interface_skeleton_flush(G_DBUS_INTERFACE_SKELETON(self));
}

void
nlc_bridge_report_conflict(NlcBridge *self, const char *mac, const char *owner_port,
                           const char *seen_port)
{
        g_message("bridge %s: guest MAC %s (owner %s) seen on %s", self->name, mac, owner_port,
                  seen_port);
        nlc_dbus_bridge_set_conflicts(NLC_DBUS_BRIDGE(self), ++self->conflicts);
        g_dbus_interface_skeleton_flush(G_DBUS_INTERFACE_SKELETON(self));
        nlc_dbus_bridge_emit_mac_conflict(NLC_DBUS_BRIDGE(self), mac, owner_port, seen_port);
}

const char *
nlc_bridge_get_name(NlcBridge *self)
{
        return self->name;
}

const char *
nlc_bridge_get_object_path(NlcBridge *self)
{
        return self->object_path;
}

int
nlc_bridge_get_ifindex(NlcBridge *self)
{
        return self->ifindex;
}

void
nlc_bridge_set_ifindex(NlcBridge *self, int ifindex)
{
        if (ifindex != self->ifindex)
                g_hash_table_remove_all(self->ports); /* a new bridge with the old name */
        self->ifindex = ifindex;
}

NlcBridge *
nlc_bridge_new(const char *name, int ifindex)
{
        NlcBridge *self = g_object_new(NLC_TYPE_BRIDGE, NULL);
        g_autofree char *escaped = g_dbus_escape_object_path(name);
        const char *none[] = { NULL };

        self->name = g_strdup(name);
        self->ifindex = ifindex;
        self->object_path = g_strconcat("/org/netlifecd1/bridge/", escaped, NULL);
        nlc_dbus_bridge_set_name(NLC_DBUS_BRIDGE(self), name);
        nlc_dbus_bridge_set_owned_macs(NLC_DBUS_BRIDGE(self), none);
        sync_ports(self);
        return self;
}

static void
nlc_bridge_init(NlcBridge *self)
{
        self->ports = g_hash_table_new_full(NULL, NULL, NULL, (GDestroyNotify) port_free);
}

static void
nlc_bridge_finalize(GObject *object)
{
        NlcBridge *self = NLC_BRIDGE(object);

        g_clear_handle_id(&self->sync_ports_id, g_source_remove);
        g_hash_table_unref(self->ports);
        g_free(self->name);
        g_free(self->object_path);
        G_OBJECT_CLASS(nlc_bridge_parent_class)->finalize(object);
}

static void
nlc_bridge_class_init(NlcBridgeClass *klass)
{
        G_OBJECT_CLASS(klass)->finalize = nlc_bridge_finalize;
}
