/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One device's port profile and the switch's association of it: the
 * requests the lifecycle makes (ASSOCIATE before Activate, DISASSOCIATE
 * after Deactivate and Destroy) through nlc-vdp.c — 802.1Qbg VDP to
 * lldpad, 802.1Qbh to the kernel's driver — and what came of the last one
 * (Device.PortProfile).
 *
 * Requests of one device go out one at a time, in the order asked: lldpad
 * answers a status read right after a new request with the previous one's
 * success (nlc-vdp.h), so an ASSOCIATE must not overtake a PREASSOCIATE
 * still on its way. A request waits behind the one in flight; none is
 * dropped.
 */
#pragma once

#include <gio/gio.h>

#include "nlc-port-profile.h"
#include "nlc-vdp.h"

G_BEGIN_DECLS

typedef enum {
        NLC_ASSOCIATION_NONE,           /* nothing asked since the daemon started */
        NLC_ASSOCIATION_PREASSOCIATING, /* a PREASSOCIATE is on its way */
        NLC_ASSOCIATION_PREASSOCIATED,  /* the switch has the profile reserved */
        NLC_ASSOCIATION_ASSOCIATING,    /* an ASSOCIATE is on its way */
        NLC_ASSOCIATION_ASSOCIATED,     /* the switch applies the profile */
        NLC_ASSOCIATION_DISASSOCIATING, /* a DISASSOCIATE is on its way */
        NLC_ASSOCIATION_DISASSOCIATED,  /* the switch was told to drop it */
        NLC_ASSOCIATION_FAILED,         /* the last request failed (Error says why) */
} NlcAssociationState;

const char *nlc_association_state_to_string(NlcAssociationState state);

typedef struct _NlcPortAssociation NlcPortAssociation;

/* Host-wide, from the configuration: lldpad's pid file, the time one
 * request may take, 802.1Qbh's host UUID (NULL: from /etc/machine-id).
 * Read by every association made afterwards. */
void nlc_port_association_configure(const char *lldpad_pid_file, guint timeout_ms,
                                    const char *host_uuid);
/* Tests: 802.1Qbh requests go to netlink port @port (a responder) instead
 * of the kernel (0). */
void nlc_port_association_set_qbh_port(guint32 port);

/* The association of the device @device_id (for messages) with @profile
 * (802.1Qbg), guest MAC @mac, on the uplink @uplink (a macvtap's lower
 * device). @changed runs after every change of state, with @data. */
NlcPortAssociation *nlc_port_association_new(const NlcPortProfile *profile, const guint8 mac[6],
                                             const char *uplink, const char *device_id,
                                             GCallback changed, gpointer data);
void nlc_port_association_free(NlcPortAssociation *a);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlcPortAssociation, nlc_port_association_free)

/* Queues @request. The result is an NLC_ERROR PortProfileRefused (lldpad
 * refused it, or the switch answered with a failure code: both in the
 * message), PortProfileTimedOut or PortProfileUnavailable (no lldpad), or
 * NotFound (the uplink does not exist); the message names the device, the
 * request, the VSI and the uplink. @source_object keeps the caller alive
 * until the callback. */
void nlc_port_association_request_async(NlcPortAssociation *a, NlcVdpRequest request,
                                        GObject *source_object, GAsyncReadyCallback callback,
                                        gpointer data);
gboolean nlc_port_association_request_finish(GAsyncResult *result, GError **error);

/* A DISASSOCIATE when the switch may hold something of this device (the
 * last request was a (pre)association, whatever came of it), else nothing:
 * idempotent, best effort, its outcome logged and shown, never returned. */
void nlc_port_association_release(NlcPortAssociation *a, GObject *source_object);

/* lldpad's notifications (the VSI ended by the switch's doing) come to a
 * netlink socket bound to @port, which every request then names; one per
 * network namespace ([port-profile] event-port). On one, an association
 * whose device wants it associated runs @lost (void (*)(gpointer data,
 * const char *why)) and asks ASSOCIATE again, once per 2 s at most.
 * FALSE (logged) when the port is taken: notifications are then lost. */
gboolean nlc_port_association_listen(guint32 port);
/* lldpad tells nothing when it gives up on a silent switch itself: an
 * associated 802.1Qbg VSI's status is read every @interval_ms ([port-
 * profile] watch-ms; 0: never) and one lldpad no longer lists is lost as
 * above. For associations made afterwards. */
void nlc_port_association_set_watch(guint interval_ms);
void nlc_port_association_set_lost_handler(NlcPortAssociation *a, GCallback lost, gpointer data);

NlcAssociationState nlc_port_association_get_state(NlcPortAssociation *a);
/* Device.PortProfile: Kind, InstanceId, Uplink, State, Request (the last
 * one), Response and ResponseText (the switch's last answer, when there was
 * one), Error (why the last request failed, else ""), ChangedUsec
 * (CLOCK_REALTIME µs of the last change). */
GVariant *nlc_port_association_to_variant(NlcPortAssociation *a);

G_END_DECLS
