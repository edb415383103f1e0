/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Who may call what (DESIGN §6; the bus policy stays the outer wall). Every
 * method call is checked before its handler runs: the caller's credentials
 * from the bus (GetConnectionCredentials), the actions the method needs
 * (nlc-authz-rules.h) plus what the call itself adds (the direct backend, an
 * instance another uid owns), each action checked with polkit or with the
 * daemon's own rules ([authorization] in the configuration). A refusal is
 * org.netlifecd1.Error.NotAuthorized naming the action; nothing happened.
 *
 * The check sits in the skeletons' vtable (nlc_authz_hook_class()), in the
 * main thread: GLib runs ::g-authorize-method handlers in a worker thread,
 * where the daemon's state may not be read.
 */
#pragma once

#include <gio/gio.h>

#include "nlc-authz-rules.h"

typedef enum {
        NLC_AUTHZ_CONFIG = 0, /* the daemon's own rules */
        NLC_AUTHZ_POLKIT = 1, /* polkitd on the system bus */
} NlcAuthzBackend;

typedef struct {
        /* Appends to @actions (NlcAction) what the call adds beyond its
         * method's action, seen from @caller_uid. */
        void (*more_actions)(GDBusMethodInvocation *invocation, guint32 caller_uid, GArray *actions,
                             gpointer user_data);
        gpointer user_data;
} NlcAuthzHooks;

typedef struct _NlcAuthz NlcAuthz;

/* @rules: per action, the config backend's list (nlc_principals_match);
 * copied. */
NlcAuthz *nlc_authz_new(NlcAuthzBackend backend, const char *const *rules,
                        const NlcAuthzHooks *hooks);
void nlc_authz_free(NlcAuthz *authz);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlcAuthz, nlc_authz_free)
/* The bus the calls come on; @system_bus: polkit may name the caller by its
 * bus name (polkitd sees the same bus), else by its process. */
void nlc_authz_set_connection(NlcAuthz *authz, GDBusConnection *connection, gboolean system_bus);
/* The checker the hooked skeletons use from now on (NULL: none, every call
 * runs unchecked — only the unit tests, which have no bus, do that). */
void nlc_authz_install(NlcAuthz *authz);

/* In a skeleton subclass's class_init: its method calls are checked. */
void nlc_authz_hook_class(GDBusInterfaceSkeletonClass *klass);

/*
 * A property of a hooked class that only the object's owner and holders of
 * manage-any-instance may read (a QMP socket path reveals another user's
 * guest): its published value (GetManagedObjects, PropertiesChanged) is the
 * GObject property's, which the class keeps empty; a Get from such a caller
 * returns @reveal(skeleton) instead. @owner(skeleton) is the owning uid.
 */
typedef struct {
        const char *name;
        guint32 (*owner)(GDBusInterfaceSkeleton *skeleton);
        GVariant *(*reveal)(GDBusInterfaceSkeleton *skeleton);
} NlcPrivateProperty;
void nlc_authz_hook_private_property(GDBusInterfaceSkeletonClass *klass,
                                     const NlcPrivateProperty *property);

/* A checked call's caller (valid while @invocation lives) and its uid;
 * FALSE when the call was not checked. */
gboolean nlc_authz_caller(GDBusMethodInvocation *invocation, NlcPrincipal *out);
gboolean nlc_authz_caller_uid(GDBusMethodInvocation *invocation, guint32 *uid);

/* @uid's account (its name and groups), for the rules about a process
 * that is not a bus caller (a QEMU on its socket). */
NlcPrincipal *nlc_principal_new_for_uid(guint32 uid);
void nlc_principal_free(NlcPrincipal *principal);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlcPrincipal, nlc_principal_free)
