/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Collection properties that grow with the host (a bridge's ports and owned
 * MACs, an instance's devices) are not sent with every change: that cost
 * O(entries) per state change, in the daemon, the bus and every listener,
 * and at 1000 devices it was most of a call's time. Such a property is
 * annotated EmitsChangedSignal="invalidates": a change emits
 * PropertiesChanged with its name among the invalidated properties (once
 * per main-loop turn for all the changes of that turn), and its value is
 * built only when a client reads it (Get, GetAll, GetManagedObjects), so
 * a read always sees the current value.
 */
#pragma once

#include <gio/gio.h>

/* The value of lazy property @name (its D-Bus name) of @skeleton, now. */
typedef GVariant *(*NlcLazyBuild)(GDBusInterfaceSkeleton *skeleton, const char *name);

/* In a generated skeleton subclass's class_init: Get, GetAll and the object
 * manager read @names (D-Bus names, static) through @build from now on. */
void nlc_lazy_properties_install(GDBusInterfaceSkeletonClass *klass, const char *const *names,
                                 NlcLazyBuild build);

typedef struct {
        GDBusInterfaceSkeleton *skeleton; /* not a reference: the owner */
        GPtrArray *pending;               /* static property names */
        guint idle_id;
} NlcLazyProperties;

void nlc_lazy_properties_init(NlcLazyProperties *lazy, GDBusInterfaceSkeleton *skeleton);
/* Drops what is pending, unsent. */
void nlc_lazy_properties_clear(NlcLazyProperties *lazy);
/* @name (a D-Bus property name, a static string) changed. */
void nlc_lazy_properties_invalidate(NlcLazyProperties *lazy, const char *name);
