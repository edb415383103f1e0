/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * NlcManager: org.netlifecd1.Manager at /org/netlifecd1, the device registry,
 * and the object manager that exports the devices.
 */
#pragma once

#include "nlc-config.h"
#include "nlc-dbus-generated.h"
#include "nlc-instance.h"
#include "nlc-migration.h"

G_BEGIN_DECLS

#define NLC_TYPE_MANAGER (nlc_manager_get_type())
G_DECLARE_FINAL_TYPE(NlcManager, nlc_manager, NLC, MANAGER, NlcDbusManagerSkeleton)

typedef struct {
        const NlcConfig *host;   /* the host configuration; NULL: built-in defaults */
        const char *state_dir;   /* the journal */
        const char *runtime_dir; /* backends' runtime files */
        guint monitor_rcvbuf;    /* kernel event socket buffer, bytes; 0: default */
        gboolean system_bus;     /* serving the system bus: polkit by default */
} NlcManagerConfig;

/* Opens the journal, starts the kernel monitor and restores every recorded
 * device, verified and repaired against the kernel. @config is copied. */
NlcManager *nlc_manager_new(const NlcManagerConfig *config, GError **error);
/* Exports the manager and all devices on @connection; from then on every
 * method call is authorized (nlc-authz.h). */
gboolean nlc_manager_export(NlcManager *self, GDBusConnection *connection, GError **error);
void nlc_manager_unexport(NlcManager *self);
/* The instance object, or NULL. */
NlcInstance *nlc_manager_lookup_instance(NlcManager *self, const char *name);
/* Manager.AttachQemu(): follow @instance's guest through its QMP socket. */
gboolean nlc_manager_attach_qemu(NlcManager *self, const char *instance, const char *qmp_socket,
                                 GError **error);

/* The migration with @id, or NULL. */
NlcMigration *nlc_manager_lookup_migration(NlcManager *self, const char *id);
/* Manager.Migrate() (@source) or PrepareIncoming(): the new migration,
 * owned by the manager. */
NlcMigration *nlc_manager_start_migration(NlcManager *self, const char *instance, const char *uri,
                                          GVariant *options, gboolean source, GError **error);

G_END_DECLS
