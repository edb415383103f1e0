/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One 802.1Qbg VDP request to lldpad, followed to its end without blocking
 * the main loop: the RTM_SETLINK to lldpad's netlink port (its pid, from its
 * pid file, read for every request as libvirt does), lldpad's acceptance,
 * then the status polled (RTM_GETLINK) until the switch's response, a
 * refusal, or the timeout. The messages: nlc-vdp-netlink.h.
 *
 * What lldpad cannot tell (tests/lldpad/README.md 6): a status read right
 * after an ASSOCIATE that follows a PREASSOCIATE, a re-ASSOCIATE or a
 * DISASSOCIATE shows the previous request's success until the switch
 * answers (2-6 ms on the wire); the first poll therefore waits
 * first_poll_ms (default 20 ms, several ECP round trips). A switch refusing
 * such a request later ends the VSI with an unsolicited DISASSOCIATE.
 */
#pragma once

#include <gio/gio.h>

#include "nlc-qbh-netlink.h"
#include "nlc-vdp-netlink.h"

G_BEGIN_DECLS

#define NLC_VDP_ERROR (nlc_vdp_error_quark())
GQuark nlc_vdp_error_quark(void);

typedef enum {
        NLC_VDP_ERROR_NO_LLDPAD, /* no pid file, or nobody at its port */
        NLC_VDP_ERROR_REJECTED,  /* lldpad refused the request (an errno) */
        NLC_VDP_ERROR_REFUSED,   /* the switch answered with a failure code */
        NLC_VDP_ERROR_TIMED_OUT, /* no answer within the timeout */
        NLC_VDP_ERROR_LOST,      /* lldpad stopped listing the VSI */
} NlcVdpError;

typedef struct {
        const char *lldpad_pid_file; /* NULL: /var/run/lldpad.pid */
        guint reply_timeout_ms;      /* lldpad's acceptance; 0: 2000, as libvirt */
        guint timeout_ms;            /* the whole request; 0: 10000, as libvirt */
        guint first_poll_ms;         /* 0: 20 */
        guint poll_ms;               /* 0: 20 (libvirt: 125) */
        /* The nlmsg_pid of the SETLINK: where lldpad sends the VSI's
         * notifications (to the port of the request that created it, even
         * after a restart). 0: the request's own socket, gone after it. */
        guint32 event_port;
        /* Where an 802.1Qbh request goes: 0, the kernel; a test's
         * responder's port otherwise. */
        guint32 qbh_port;
} NlcVdpTimings;

/* Sends @request for @vsi and follows it. The result: the switch's response
 * code (success) or an NLC_VDP_ERROR whose message names the request, the
 * VSI, the uplink and why (lldpad's errno in words, the switch's code and
 * its meaning, the time waited). */
void nlc_vdp_request_async(const NlcVdpVsi *vsi, NlcVdpRequest request,
                           const NlcVdpTimings *timings, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer data);
gboolean nlc_vdp_request_finish(GAsyncResult *result, guint16 *response, GError **error);

/* The same for an 802.1Qbh request to the kernel (its driver answers in
 * lldpad's place: the acceptance, then IFLA_PORT_RESPONSE polled); finish
 * with nlc_vdp_request_finish. The kernel refusing (a driver without port
 * profiles: all but Cisco's enic) is NLC_VDP_ERROR_REJECTED. */
void nlc_qbh_request_async(const NlcQbhPort *port, NlcVdpRequest request,
                           const NlcVdpTimings *timings, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer data);

/* One status read of @vsi, no request sent: what lldpad lists for it now
 * (NO_ENTRY, PENDING, or DONE with *response); BAD_MESSAGE with @error
 * set when lldpad cannot be asked or does not answer. Reading consumes an
 * ended VSI's state in lldpad: one reader per VSI (tests/lldpad/README.md
 * 6.2). */
void nlc_vdp_status_async(const NlcVdpVsi *vsi, const NlcVdpTimings *timings,
                          GCancellable *cancellable, GAsyncReadyCallback callback, gpointer data);
NlcVdpStatus nlc_vdp_status_finish(GAsyncResult *result, guint16 *response, GError **error);

/* lldpad's pid (its netlink port) from its pid file. */
gboolean nlc_vdp_read_lldpad_pid(const char *path, guint32 *pid, GError **error);

/* "a1412857-60f7-4ce1-e95a-2164943f53aa" ↔ 16 bytes; FALSE when not a UUID. */
gboolean nlc_vdp_uuid_parse(const char *text, guint8 out[16]);
char *nlc_vdp_uuid_to_string(const guint8 uuid[16]);

G_END_DECLS
