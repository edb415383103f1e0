/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * NlcInstance: org.netlifecd1.Instance, one guest on this host. Ready when it
 * has devices and every one forwards; WaitReady callers are answered from the
 * kernel event that makes it so.
 */
#pragma once

#include "nlc-dbus-generated.h"
#include "nlc-device.h"

G_BEGIN_DECLS

#define NLC_TYPE_INSTANCE (nlc_instance_get_type())
G_DECLARE_FINAL_TYPE(NlcInstance, nlc_instance, NLC, INSTANCE, NlcDbusInstanceSkeleton)

NlcInstance *nlc_instance_new(const char *name);
const char *nlc_instance_get_name(NlcInstance *self);
const char *nlc_instance_get_object_path(NlcInstance *self);
void nlc_instance_add_device(NlcInstance *self, NlcDevice *device);
void nlc_instance_remove_device(NlcInstance *self, NlcDevice *device);
guint nlc_instance_get_n_devices(NlcInstance *self);
/* The devices, in the order they joined (borrowed). */
GPtrArray *nlc_instance_get_devices(NlcInstance *self);
gboolean nlc_instance_get_ready(NlcInstance *self);
/* ReadyMacs: the MACs (lower case, sorted) of the devices that are Ready.
 * Signal "ready-macs-changed" when a MAC joins or leaves the set. */
GStrv nlc_instance_dup_ready_macs(NlcInstance *self);
/* Instance.Activate()/Deactivate() for the daemon's own use. */
gboolean nlc_instance_activate(NlcInstance *self, GError **error);
/* The guest runs: every created device activates (each through the MAC
 * registry). One that cannot (a stray record never created or already
 * destroyed, a refused claim) is named in @skipped and the others still
 * go, unlike Activate(). One whose port profile the switch has not
 * associated is associated first and activated when that succeeds (and
 * the guest has not stopped again): not counted, not skipped. The number
 * activated now. */
guint nlc_instance_activate_available(NlcInstance *self, GString *skipped);
/* There is an active device and every active one forwards: what the
 * guest's announcements need (a stray record does not hold them back). */
gboolean nlc_instance_get_active_ready(NlcInstance *self);
gboolean nlc_instance_deactivate(NlcInstance *self, GError **error);
/* Instance.AssociatePortProfiles() for the daemon's own use. */
void nlc_instance_associate_async(NlcInstance *self, GAsyncReadyCallback callback, gpointer data);
gboolean nlc_instance_associate_finish(NlcInstance *self, GAsyncResult *result, GError **error);
/* Whether a device of the instance has a port profile. */
gboolean nlc_instance_has_port_profile(NlcInstance *self);
/* The guest stopped: every active device whose tap a created peer shares
 * (ShareQueues) hands it to the peer, which activates on the same port; the
 * number handed over. Deactivate the rest afterwards. */
guint nlc_instance_hand_over_shared(NlcInstance *self);
/* The instance's QEMU (process @qemu_pid) connected: devices whose queues
 * the daemon does not hold take copies of QEMU's. */
void nlc_instance_adopt_queues(NlcInstance *self, int qemu_pid);
/* Appends (what, now) to GuestTimeline, keeping the latest 64. */
void nlc_instance_record(NlcInstance *self, const char *what);
void nlc_instance_set_qemu_socket(NlcInstance *self, const char *path);
const char *nlc_instance_get_qemu_socket(NlcInstance *self);

/* NotReady: (MAC, interface, PortReason) of each device that is not Ready. */
GVariant *nlc_instance_dup_not_ready(NlcInstance *self);

/* The uid that owns the instance: who allocated its first device. Calls
 * of another uid on it need org.netlifecd1.manage-any-instance. */
void nlc_instance_set_owner_uid(NlcInstance *self, guint32 uid);
guint32 nlc_instance_get_owner_uid(NlcInstance *self);

G_END_DECLS
