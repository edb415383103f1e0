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

/*
 * Whether a destination instance can take a guest whose NICs have
 * @guest_macs: it holds a ready device for every one of them (@ready_macs,
 * its ReadyMacs; both lower case). A NIC not yet allocated there holds the
 * gate. With no guest MAC known (a guest without a NIC here), the
 * destination instance's own Ready (@instance_ready) decides.
 */
gboolean nlc_destination_covers(const char *const *guest_macs, const char *const *ready_macs,
                                gboolean instance_ready);
