/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <gio/gio.h>
#include <stdlib.h>
#include <string.h>

#include "nlc-bridge.h"
#include "nlc-lazy-property.h"

typedef struct {
        char *name;
        NlcPortState state;
} Port;

struct _NlcBridge {
        NlcDbusBridgeSkeleton parent;
        char *name;
        char *object_path;
        int ifindex; /* 0 while there is no such bridge */
        gboolean up;
        GHashTable *ports; /* ifindex → Port */
        /* Owner (a device, opaque here) → the MAC it holds on this bridge:
         * OwnedMacs, built when read. */
        GHashTable *owned_macs;
        guint64 conflicts;
        NlcLazyProperties lazy; /* Ports, OwnedMacs */
};

G_DEFINE_TYPE(NlcBridge, nlc_bridge, NLC_DBUS_TYPE_BRIDGE_SKELETON)

static void
port_free(Port *p)
{
        g_free(p->name);
        g_free(p);
}

/* Every port, managed or not: O(ports), so only when a client reads it. */
static GVariant *
build_ports(NlcBridge *self)
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
        return g_variant_builder_end(&b);
}

static int
by_string(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Each MAC once (a shared tap's two devices hold the same one), sorted. */
static GVariant *
build_owned_macs(NlcBridge *self)
{
        g_autoptr(GHashTable) unique = g_hash_table_new(g_str_hash, g_str_equal);
        g_autofree const char **macs = NULL;
        GHashTableIter iter;
        gpointer mac;
        guint n;

        g_hash_table_iter_init(&iter, self->owned_macs);
        while (g_hash_table_iter_next(&iter, NULL, &mac))
                g_hash_table_add(unique, mac);
        macs = (const char **) g_hash_table_get_keys_as_array(unique, &n);
        qsort(macs, n, sizeof *macs, by_string);
        return g_variant_new_strv(macs, n);
}

static GVariant *
build_lazy(GDBusInterfaceSkeleton *skeleton, const char *name)
{
        NlcBridge *self = NLC_BRIDGE(skeleton);

        return g_str_equal(name, "Ports") ? build_ports(self) : build_owned_macs(self);
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
        nlc_lazy_properties_invalidate(&self->lazy, "Ports");
}

void
nlc_bridge_remove_port(NlcBridge *self, int ifindex)
{
        if (g_hash_table_remove(self->ports, GINT_TO_POINTER(ifindex)))
                nlc_lazy_properties_invalidate(&self->lazy, "Ports");
}

const char *
nlc_bridge_get_port_name(NlcBridge *self, int ifindex)
{
        Port *p = g_hash_table_lookup(self->ports, GINT_TO_POINTER(ifindex));

        return p ? p->name : NULL;
}

gboolean
nlc_bridge_set_config(NlcBridge *self, gboolean up, gboolean stp_enabled,
                      guint64 forward_delay_usec)
{
        NlcDbusBridge *skel = NLC_DBUS_BRIDGE(self);
        gboolean changed = up != self->up || stp_enabled != nlc_dbus_bridge_get_stp_enabled(skel) ||
                           forward_delay_usec != nlc_dbus_bridge_get_forward_delay_usec(skel);

        self->up = up;
        nlc_dbus_bridge_set_stp_enabled(skel, stp_enabled);
        nlc_dbus_bridge_set_forward_delay_usec(skel, forward_delay_usec);
        g_dbus_interface_skeleton_flush(G_DBUS_INTERFACE_SKELETON(self));
        return changed;
}

gboolean
nlc_bridge_get_up(NlcBridge *self)
{
        return self->up;
}

guint64
nlc_bridge_get_forward_delay_usec(NlcBridge *self)
{
        return nlc_dbus_bridge_get_forward_delay_usec(NLC_DBUS_BRIDGE(self));
}

void
nlc_bridge_set_mac_owner(NlcBridge *self, gconstpointer owner, const char *mac)
{
        const char *had = g_hash_table_lookup(self->owned_macs, owner);

        if (g_strcmp0(had, mac) == 0)
                return;
        if (mac)
                g_hash_table_insert(self->owned_macs, (gpointer) owner, g_strdup(mac));
        else
                g_hash_table_remove(self->owned_macs, owner);
        nlc_lazy_properties_invalidate(&self->lazy, "OwnedMacs");
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
        if (ifindex != self->ifindex && g_hash_table_size(self->ports)) {
                g_hash_table_remove_all(self->ports); /* a new bridge with the old name */
                nlc_lazy_properties_invalidate(&self->lazy, "Ports");
        }
        self->ifindex = ifindex;
        if (!ifindex)
                self->up = FALSE;
        nlc_dbus_bridge_set_present(NLC_DBUS_BRIDGE(self), ifindex != 0);
        g_dbus_interface_skeleton_flush(G_DBUS_INTERFACE_SKELETON(self));
}

NlcBridge *
nlc_bridge_new(const char *name, int ifindex)
{
        NlcBridge *self = g_object_new(NLC_TYPE_BRIDGE, NULL);
        g_autofree char *escaped = g_dbus_escape_object_path(name);

        self->name = g_strdup(name);
        self->ifindex = ifindex;
        self->object_path = g_strconcat("/org/netlifecd1/bridge/", escaped, NULL);
        nlc_dbus_bridge_set_name(NLC_DBUS_BRIDGE(self), name);
        nlc_dbus_bridge_set_present(NLC_DBUS_BRIDGE(self), ifindex != 0);
        return self;
}

static void
nlc_bridge_init(NlcBridge *self)
{
        self->ports = g_hash_table_new_full(NULL, NULL, NULL, (GDestroyNotify) port_free);
        self->owned_macs = g_hash_table_new_full(NULL, NULL, NULL, g_free);
        nlc_lazy_properties_init(&self->lazy, G_DBUS_INTERFACE_SKELETON(self));
}

static void
nlc_bridge_finalize(GObject *object)
{
        NlcBridge *self = NLC_BRIDGE(object);

        nlc_lazy_properties_clear(&self->lazy);
        g_hash_table_unref(self->ports);
        g_hash_table_unref(self->owned_macs);
        g_free(self->name);
        g_free(self->object_path);
        G_OBJECT_CLASS(nlc_bridge_parent_class)->finalize(object);
}

static void
nlc_bridge_class_init(NlcBridgeClass *klass)
{
        GObjectClass *object_class = G_OBJECT_CLASS(klass);
        static const char *const lazy[] = { "Ports", "OwnedMacs", NULL };

        object_class->finalize = nlc_bridge_finalize;
        /* Built when read (nlc-lazy-property.h). */
        nlc_lazy_properties_install(G_DBUS_INTERFACE_SKELETON_CLASS(klass), lazy, build_lazy);
}
