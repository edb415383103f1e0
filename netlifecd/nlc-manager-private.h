/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * NlcManager's insides, shared by its three files: nlc-manager.c (the
 * object: devices, instances, exports, the kernel monitor's hooks),
 * nlc-manager-bus.c (the D-Bus handlers of Manager and the Device methods
 * the manager answers, and the C calls they wrap) and nlc-manager-restore.c
 * (a start after a crash: the journal back into objects). Not for other
 * files: they use nlc-manager.h.
 */
#pragma once

#include "nlc-authz.h"
#include "nlc-destroy-batch.h"
#include "nlc-journal.h"
#include "nlc-mac-registry.h"
#include "nlc-manager.h"
#include "nlc-topology.h"

struct _NlcManager {
        NlcDbusManagerSkeleton parent;
        NlcJournal *journal;
        NlcConfig host;
        char *runtime_dir;
        GHashTable *devices;    /* id → NlcDevice */
        GHashTable *by_ifname;  /* interface name → NlcDevice (borrowed) */
        GHashTable *instances;  /* name → NlcInstance */
        NlcMacRegistry *macs;   /* who holds each guest MAC (nlc-mac-registry.h) */
        GHashTable *guests;     /* instance name → NlcGuest (AttachQemu) */
        GHashTable *migrations; /* id → NlcMigration (kept after they end, for their record) */
        guint64 next_migration_id;
        NlcTopology *topology;
        NlcDestroyBatch *destroy_batch;
        GDBusObjectManagerServer *object_manager;
        GDBusConnection *connection;
        guint fallback_id;
        gboolean system_bus; /* the daemon serves the system bus (polkit sees it) */
        NlcAuthz *authz;
};

/* nlc-manager.c */
/* A device joins the registry: exported, in its instance, followed. */
void nlc_manager_add_device(NlcManager *self, NlcDevice *device);
void nlc_manager_export_skeleton(NlcManager *self, const char *path, gpointer iface,
                                 void (*set)(NlcDbusObjectSkeleton *, gpointer));

/* nlc-manager-bus.c */
void nlc_manager_iface_init(NlcDbusManagerIface *iface);
/* Device.ShareQueues and Device.Destroy, answered by the manager: the one
 * makes a device, the other goes through the destroy batch. */
gboolean nlc_manager_handle_share_queues(NlcDbusDevice *skel, GDBusMethodInvocation *invocation,
                                         GUnixFDList *in_fds, const char *instance,
                                         NlcManager *self);
gboolean nlc_manager_handle_destroy(NlcDbusDevice *skel, GDBusMethodInvocation *invocation,
                                    NlcManager *self);
/* What a call needs beyond its method's action (NlcAuthzHooks): the direct
 * backend, and manage-any-instance for an instance another uid owns. */
void nlc_manager_more_actions(GDBusMethodInvocation *invocation, guint32 caller, GArray *actions,
                              gpointer user_data);
/* The migration of instance @name that is not over yet, or NULL. */
NlcMigration *nlc_manager_unfinished_migration(NlcManager *self, const char *name);

/* nlc-manager-allow.c: what a backend's allocate may ask of the daemon
 * about one call (NlcBackendHost), and the QMP sockets a caller may use. */
typedef struct {
        NlcManager *self;
        NlcPrincipal who; /* the caller; root when the call was not checked */
} HostCall;
void nlc_manager_host_call_init(HostCall *call, NlcManager *self,
                                GDBusMethodInvocation *invocation);
gboolean nlc_manager_ifname_reserved(const char *ifname, gpointer user_data);
gboolean nlc_manager_may_use(const char *kind, const char *name, gpointer user_data,
                             GError **error);
/* AttachQemu: the socket is the caller's own, or lies in [allow] qmp-dirs. */
gboolean nlc_manager_check_qmp_socket(NlcManager *self, GDBusMethodInvocation *invocation,
                                      const char *path, GError **error);

/* Whether the directory of @path is one [allow] qmp-dirs lists for @uid:
 * then any process may listen there, else only @uid's. */
gboolean nlc_manager_qmp_dir_listed(NlcManager *self, const char *path, guint32 uid);

/* nlc-manager-restore.c: at start, in this order (the monitor listening). */
void nlc_manager_restore_devices(NlcManager *self);
void nlc_manager_restore_attachments(NlcManager *self);
void nlc_manager_restore_migrations(NlcManager *self);
