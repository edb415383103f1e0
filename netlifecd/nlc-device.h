/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * NlcDevice: one guest NIC. Subclasses the generated org.netlifecd1.Device
 * skeleton; every state change goes through one funnel (set_state) that checks
 * the transition table, logs, journals, sets the property, then signals.
 */
#pragma once

#include <gio/gunixfdlist.h>

#include "nlc-dbus-generated.h"
#include "nlc-journal.h"
#include "nlc-plugin.h"

G_BEGIN_DECLS

#define NLC_TYPE_DEVICE (nlc_device_get_type())
G_DECLARE_FINAL_TYPE(NlcDevice, nlc_device, NLC, DEVICE, NlcDbusDeviceSkeleton)

/* Takes ownership of @record. @journal and @runtime_dir must outlive the
 * device. */
NlcDevice *nlc_device_new(NlcJournalRecord *record, const NlcBackend *backend, NlcJournal *journal,
                          const char *runtime_dir);

/* A new record: runs the backend's allocate and journals state "allocated";
 * with @host->adopting, adopts the existing kernel device instead. */
gboolean nlc_device_allocate(NlcDevice *self, GVariantDict *options, const NlcBackendHost *host,
                             GError **error);
/* Adopts a device the kernel already has (Manager.Notify or a re-notify). */
gboolean nlc_device_adopt(NlcDevice *self, GError **error);
/* At start: rolls an interrupted operation forward, then verifies and repairs
 * the device against the kernel (the two steps below in one). */
gboolean nlc_device_restore(NlcDevice *self, GError **error);
/* Restart, step 1: completes the operation the journal says was in flight. */
gboolean nlc_device_roll_forward(NlcDevice *self, GError **error);
/* Restart, step 2: a crash in the middle of a handover leaves two active
 * records for one MAC; the loser drops to created (nlc-mac-registry.c
 * picks it). */
gboolean nlc_device_yield_mac(NlcDevice *self, NlcDevice *holder, GError **error);
gint64 nlc_device_get_activated_usec(NlcDevice *self);

/*
 * A tap shared by two QEMUs of one guest (Device.ShareQueues, localhost live
 * upgrade). check_shareable() refuses a device that cannot share
 * (NotSupported, Busy, InvalidState); once it passed, share_queues() runs
 * the backend's hook on @self for @sharer, a new record (state none) of
 * another instance; set_peer() links one side (NULL unlinks it; journalled
 * as the prop "shared-with" = the peer's id with the next write);
 * journal_shared() journals a new sharer as created, or an existing
 * device's link.
 */
gboolean nlc_device_check_shareable(NlcDevice *self, GError **error);
gboolean nlc_device_share_queues(NlcDevice *self, NlcDevice *sharer, GError **error);
void nlc_device_set_peer(NlcDevice *self, NlcDevice *peer);
NlcDevice *nlc_device_get_peer(NlcDevice *self);
const NlcBackend *nlc_device_get_backend(NlcDevice *self);
const char *nlc_device_get_peer_id(NlcDevice *self); /* from the record; NULL: none */
gboolean nlc_device_journal_shared(NlcDevice *self, GError **error);
/* A daemon that holds none of the device's queues (it was restarted) takes
 * copies of those the instance's QEMU, process @pid, holds. */
void nlc_device_adopt_queues(NlcDevice *self, int pid);
/* The queues the daemon holds, duplicated into @fds; the handles ("ah"). */
GVariant *nlc_device_queue_handles(NlcDevice *self, GUnixFDList *fds, GError **error);
/* Verifies and repairs the device against the kernel (the backend's
 * notify); @reason names the occasion in the log and StateChanged: restart
 * step 3 ("restored"), a bridge made again ("bridge-returned"). */
gboolean nlc_device_verify(NlcDevice *self, const char *reason, GError **error);

/*
 * MAC ownership (DESIGN §4) is the registry's (nlc-mac-registry.h): an
 * activation that would run goes to activate(), which claims the MAC,
 * runs the transition itself (nlc_device_run_transition) and hands the MAC
 * over. Refusals and no-ops never get there. All NULL: plain transitions.
 */
typedef struct {
        gboolean (*activate)(NlcDevice *device, GError **error, gpointer user_data);
        gpointer user_data;
} NlcDeviceOwnership;

void nlc_device_set_ownership(NlcDevice *self, const NlcDeviceOwnership *ownership);

/*
 * The port profile (nlc-port-association.h). A device with one is
 * associated by the switch before it may activate: needs_association()
 * says whether an Activate must first go through associate_async()
 * (NLC_ERROR PortProfile* on failure); disassociate() lets the switch go
 * (best effort: an activation that failed after its association);
 * restore_port_profile() associates an active device's profile again after
 * a restart.
 */
gboolean nlc_device_has_port_profile(NlcDevice *self);
gboolean nlc_device_needs_association(NlcDevice *self);
void nlc_device_associate_async(NlcDevice *self, GAsyncReadyCallback callback, gpointer data);
gboolean nlc_device_associate_finish(GAsyncResult *result, GError **error);
void nlc_device_disassociate(NlcDevice *self);
void nlc_device_restore_port_profile(NlcDevice *self);

/* Deactivate, destroy and free, as far as the state needs; the object goes
 * away (Migrate's release-source). */
gboolean nlc_device_release(NlcDevice *self, GError **error);

/* Runs one lifecycle operation as the D-Bus method would. */
gboolean nlc_device_run(NlcDevice *self, NlcOp op, GError **error);
/* The operation alone (refuse, no-op, or write-ahead + backend + funnel),
 * logged with @reason; no ownership: for the MAC registry. */
gboolean nlc_device_run_transition(NlcDevice *self, NlcOp op, const char *reason, GError **error);
/* The activation's number in the registry's sequence (journalled with the
 * record's next write); 0 for a record of before the sequence. */
void nlc_device_set_activation_seq(NlcDevice *self, guint64 seq);
guint64 nlc_device_get_activation_seq(NlcDevice *self);

/* Destroy in halves, for nlc-destroy-batch.c: begin refuses (FALSE), is a
 * no-op (*run FALSE) or journals the write-ahead record (*run TRUE); the
 * link the backend's destroy would delete (ifindex, 0 when gone,
 * -EOPNOTSUPP when the device is not a link of its own); finish runs the
 * backend's destroy and the funnel; abandon withdraws the write-ahead. */
void nlc_device_set_destroy_queued(NlcDevice *self, gboolean queued);
gboolean nlc_device_destroy_begin(NlcDevice *self, gboolean *run, GError **error);
int nlc_device_destroy_link(NlcDevice *self, GError **error);
gboolean nlc_device_destroy_finish(NlcDevice *self, GError **error);
void nlc_device_destroy_abandon(NlcDevice *self);

/*
 * The port's STP state from a kernel event read at @now_usec (monotonic),
 * and why it does not forward (ignored while it does); @ready_in_usec is the
 * time left then (G_MAXUINT64: not counting). Updates PortState, PortReason,
 * Ready and ReadyInUsec, emits PortStateChanged when the state or the reason
 * changed and "ready-changed" when Ready flips.
 */
void nlc_device_set_port_state(NlcDevice *self, NlcPortState state, NlcPortReason reason,
                               guint64 ready_in_usec, gint64 now_usec);
gboolean nlc_device_get_ready(NlcDevice *self);
NlcPortState nlc_device_get_port_state(NlcDevice *self);
NlcPortReason nlc_device_get_port_reason(NlcDevice *self);
/* The tap/port interface name, or NULL. */
const char *nlc_device_get_ifname(NlcDevice *self);
/* The bridge the port belongs to, or NULL. */
const char *nlc_device_get_bridge(NlcDevice *self);
/* A macvtap's lower device, or NULL. */
const char *nlc_device_get_lower_link(NlcDevice *self);
/* For a device without a bridge, the link whose carrier decides Ready (the
 * backend's carrier_link, else its own); NULL for a bridge port. */
const char *nlc_device_get_carrier_link(NlcDevice *self);
/* The uid that owns the device's instance (journalled). */
guint32 nlc_device_get_owner_uid(NlcDevice *self);
const guint8 *nlc_device_get_mac_bytes(NlcDevice *self);

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
