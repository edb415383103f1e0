/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "nlc-lazy-property.h"

static void
emit(NlcLazyProperties *lazy)
{
        GDBusInterfaceSkeleton *skel = lazy->skeleton;
        const char *path = g_dbus_interface_skeleton_get_object_path(skel);
        GList *connections = g_dbus_interface_skeleton_get_connections(skel);
        GVariant *params;

        g_ptr_array_add(lazy->pending, NULL);
        params = g_variant_ref_sink(
                g_variant_new("(s@a{sv}^as)", g_dbus_interface_skeleton_get_info(skel)->name,
                              g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0),
                              (const char *const *) lazy->pending->pdata));
        g_ptr_array_set_size(lazy->pending, 0);
        for (GList *l = connections; path && l; l = l->next)
                g_dbus_connection_emit_signal(l->data, NULL, path,
                                              "org.freedesktop.DBus.Properties",
                                              "PropertiesChanged", params, NULL);
        g_list_free_full(connections, g_object_unref);
        g_variant_unref(params);
}

static gboolean
on_idle(gpointer data)
{
        NlcLazyProperties *lazy = data;

        lazy->idle_id = 0;
        emit(lazy);
        return G_SOURCE_REMOVE;
}

/* What a class installed: kept on its GType. */
typedef struct {
        const char *const *names;
        NlcLazyBuild build;
        GDBusInterfaceSkeletonClass *parent;
        GDBusInterfaceVTable vtable; /* the parent's, with get_property ours */
} LazyClass;

static GQuark
lazy_class_quark(void)
{
        return g_quark_from_static_string("nlc-lazy-class");
}

/* The owners are final types: the class data is on the instance's own. */
static LazyClass *
lazy_class_of(gpointer skeleton)
{
        LazyClass *lc = g_type_get_qdata(G_TYPE_FROM_INSTANCE(skeleton), lazy_class_quark());

        g_assert(lc);
        return lc;
}

static gboolean
is_lazy(const LazyClass *lc, const char *name)
{
        for (guint i = 0; lc->names[i]; i++)
                if (g_str_equal(lc->names[i], name))
                        return TRUE;
        return FALSE;
}

static GVariant *
lazy_get_property(GDBusConnection *connection, const char *sender, const char *object_path,
                  const char *interface_name, const char *property_name, GError **error,
                  gpointer user_data)
{
        LazyClass *lc = lazy_class_of(user_data);

        if (is_lazy(lc, property_name))
                return lc->build(user_data, property_name);
        return lc->parent->get_vtable(user_data)->get_property(
                connection, sender, object_path, interface_name, property_name, error, user_data);
}

static GDBusInterfaceVTable *
lazy_get_vtable(GDBusInterfaceSkeleton *skeleton)
{
        LazyClass *lc = lazy_class_of(skeleton);

        if (!lc->vtable.method_call) {
                lc->vtable = *lc->parent->get_vtable(skeleton);
                lc->vtable.get_property = lazy_get_property;
        }
        return &lc->vtable;
}

/* GetAll and the object manager: the skeleton's values, the lazy ones
 * built now. */
static GVariant *
lazy_get_properties(GDBusInterfaceSkeleton *skeleton)
{
        LazyClass *lc = lazy_class_of(skeleton);
        g_autoptr(GVariant) cached = g_variant_ref_sink(lc->parent->get_properties(skeleton));
        GVariantBuilder b;
        GVariantIter iter;
        const char *name;
        GVariant *value;

        g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
        g_variant_iter_init(&iter, cached);
        while (g_variant_iter_next(&iter, "{&sv}", &name, &value)) {
                g_variant_builder_add(&b, "{sv}", name,
                                      is_lazy(lc, name) ? lc->build(skeleton, name) : value);
                g_variant_unref(value);
        }
        return g_variant_builder_end(&b);
}

void
nlc_lazy_properties_install(GDBusInterfaceSkeletonClass *klass, const char *const *names,
                            NlcLazyBuild build)
{
        LazyClass *lc = g_new0(LazyClass, 1); /* lives as long as the class */

        lc->names = names;
        lc->build = build;
        lc->parent = g_type_class_peek_parent(klass);
        g_type_set_qdata(G_TYPE_FROM_CLASS(klass), lazy_class_quark(), lc);
        klass->get_vtable = lazy_get_vtable;
        klass->get_properties = lazy_get_properties;
}

void
nlc_lazy_properties_init(NlcLazyProperties *lazy, GDBusInterfaceSkeleton *skeleton)
{
        lazy->skeleton = skeleton;
        lazy->pending = g_ptr_array_new();
        lazy->idle_id = 0;
}

void
nlc_lazy_properties_clear(NlcLazyProperties *lazy)
{
        g_clear_handle_id(&lazy->idle_id, g_source_remove);
        g_clear_pointer(&lazy->pending, g_ptr_array_unref);
}

void
nlc_lazy_properties_invalidate(NlcLazyProperties *lazy, const char *name)
{
        for (guint i = 0; i < lazy->pending->len; i++)
                if (lazy->pending->pdata[i] == name)
                        return;
        g_ptr_array_add(lazy->pending, (gpointer) name);
        if (!lazy->idle_id)
                lazy->idle_id = g_idle_add(on_idle, lazy);
}
