/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * NlcManager: org.netlifecd1.Manager at /org/netlifecd1, the device registry,
 * and the object manager that exports the devices.
 */
#pragma once

#include "nlc-dbus-generated.h"

G_BEGIN_DECLS

#define NLC_TYPE_MANAGER (nlc_manager_get_type())
G_DECLARE_FINAL_TYPE(NlcManager, nlc_manager, NLC, MANAGER, NlcDbusManagerSkeleton)

/* Opens the journal under @state_dir, starts the kernel monitor (event
 * socket buffer @monitor_rcvbuf bytes, 0 for the default) and restores every
 * recorded device, verified and repaired against the kernel. */
NlcManager *nlc_manager_new(const char *state_dir, guint monitor_rcvbuf, GError **error);
/* Exports the manager and all devices on @connection. */
gboolean nlc_manager_export(NlcManager *self, GDBusConnection *connection, GError **error);
void nlc_manager_unexport(NlcManager *self);

G_END_DECLS
