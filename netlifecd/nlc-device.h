/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * NlcDevice: one guest NIC. Subclasses the generated org.netlifecd1.Device
 * skeleton; every state change goes through one funnel (set_state) that checks
 * the transition table, logs, journals, sets the property, then signals.
 */
#pragma once

#include "nlc-dbus-generated.h"
#include "nlc-journal.h"
#include "nlc-plugin.h"

G_BEGIN_DECLS

#define NLC_TYPE_DEVICE (nlc_device_get_type())
G_DECLARE_FINAL_TYPE(NlcDevice, nlc_device, NLC, DEVICE, NlcDbusDeviceSkeleton)

/* Takes ownership of @record. @journal must outlive the device. */
NlcDevice *nlc_device_new(NlcJournalRecord *record, const NlcBackend *backend,
                          NlcJournal *journal);

/* A new record: runs the backend's allocate and journals state "allocated";
 * with @host->adopting, adopts the existing kernel device instead. */
gboolean nlc_device_allocate(NlcDevice *self, GVariantDict *options, const NlcBackendHost *host,
                             GError **error);
/* Adopts a device the kernel already has (Manager.Notify or a re-notify). */
gboolean nlc_device_adopt(NlcDevice *self, GError **error);
/* At start: rolls an interrupted operation forward, then verifies and repairs
 * the device against the kernel. */
gboolean nlc_device_restore(NlcDevice *self, GError **error);

const char *nlc_device_get_id(NlcDevice *self);
const char *nlc_device_get_object_path(NlcDevice *self);
const char *nlc_device_get_instance(NlcDevice *self);
const char *nlc_device_get_mac(NlcDevice *self);
const char *nlc_device_get_backend_name(NlcDevice *self);
const char *nlc_device_get_ifname_or_dash(NlcDevice *self);
GVariant *nlc_device_get_options(NlcDevice *self);
NlcDeviceState nlc_device_get_state(NlcDevice *self);
gint64 nlc_device_get_allocated_usec(NlcDevice *self);

G_END_DECLS
