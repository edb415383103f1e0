/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* When will a bridge port forward? Pure, unit-tested. */
#pragma once

#include <glib.h>

#include "nlc-enums.h"

/*
 * Microseconds until a port in @state forwards, from the kernel's
 * forward-delay timer (@timer_usec left when the event was generated, 0 if
 * not running) and the bridge's forward delay @forward_delay_usec:
 * listening = timer + one more delay for learning; learning = timer;
 * forwarding = 0; disabled and blocking = G_MAXUINT64 (not counting).
 */
guint64 nlc_port_ready_in_usec(NlcPortState state, guint64 timer_usec, guint64 forward_delay_usec);

/* What the kernel shows of a device's port, its link and its bridge. */
typedef struct {
        gboolean on_bridge;     /* the device is a bridge port (tap-bridge) */
        gboolean bridge_exists; /* on_bridge: the bridge is there */
        gboolean bridge_up;
        gboolean link_exists; /* the device's link, or the link it follows */
        gboolean link_up;
        gboolean carrier;
        gboolean is_port;    /* on_bridge: the link is a port of that bridge */
        NlcPortState state;  /* on_bridge: the port's STP state */
        gboolean bpdu_guard; /* on_bridge: the port's bpdu_guard flag */
} NlcPortFacts;

/*
 * Why the port does not forward. A bridge port the kernel disabled while the
 * link is up with carrier on a bridge that is up was disabled by a BPDU when
 * bpdu_guard is on: nothing else disables such a port (6.x br_stp_rcv()).
 * Without a bridge (macvtap, direct) the device forwards when the link it
 * follows is up with carrier.
 */
NlcPortReason nlc_port_reason(const NlcPortFacts *facts);

/* The port state a device without a bridge shows: forwarding or disabled. */
NlcPortState nlc_port_state_of_link(const NlcPortFacts *facts);

/*
 * Whether a destination instance can take a guest whose NICs have
 * @guest_macs: it holds a ready device for every one of them (@ready_macs,
 * its ReadyMacs; both lower case). A NIC not yet allocated there holds the
 * gate. With no guest MAC known (a guest without a NIC here), the
 * destination instance's own Ready (@instance_ready) decides.
 */
/*
 * Why a destination does not cover @guest_macs, in words: for each guest MAC
 * without a ready device there, "MAC on IFNAME: REASON" from @not_ready (its
 * NotReady, a(sss)) or "MAC: no device" when it has none; with no guest MAC
 * known, every entry of @not_ready. "" when nothing is missing.
 */
char *nlc_describe_not_ready(const char *const *guest_macs, const char *const *ready_macs,
                             GVariant *not_ready);

gboolean nlc_destination_covers(const char *const *guest_macs, const char *const *ready_macs,
                                gboolean instance_ready);
