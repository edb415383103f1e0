/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Enums that cross the bus. Values are explicit and stable: they are written
 * to the journal by name, and the names are the D-Bus strings. A unit test
 * proves every value has a string and every string maps back.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
        NLC_DEVICE_STATE_NONE = 0, /* not yet allocated, or freed */
        NLC_DEVICE_STATE_ALLOCATED = 1,
        NLC_DEVICE_STATE_CREATED = 2,
        NLC_DEVICE_STATE_ACTIVE = 3,
        NLC_DEVICE_STATE_DESTROYED = 4,
        NLC_DEVICE_STATE_FREED = 5,
        NLC_DEVICE_STATE_LAST = NLC_DEVICE_STATE_FREED,
} NlcDeviceState;

typedef enum {
        NLC_OP_ALLOCATE = 0,
        NLC_OP_CREATE = 1,
        NLC_OP_ACTIVATE = 2,
        NLC_OP_DEACTIVATE = 3,
        NLC_OP_DESTROY = 4,
        NLC_OP_FREE = 5,
        NLC_OP_NOTIFY = 6,
        NLC_OP_LAST = NLC_OP_NOTIFY,
} NlcOp;

/* A bridge port's STP state; the values are the kernel's BR_STATE_*. */
typedef enum {
        NLC_PORT_STATE_DISABLED = 0,
        NLC_PORT_STATE_LISTENING = 1,
        NLC_PORT_STATE_LEARNING = 2,
        NLC_PORT_STATE_FORWARDING = 3,
        NLC_PORT_STATE_BLOCKING = 4,
        NLC_PORT_STATE_LAST = NLC_PORT_STATE_BLOCKING,
} NlcPortState;

/* Why a device's port does not forward (Device.PortReason), from what the
 * kernel shows of the port, its link and its bridge; NONE while it does. */
typedef enum {
        NLC_PORT_REASON_NONE = 0,              /* "": forwarding */
        NLC_PORT_REASON_NO_PORT = 1,           /* the device has no link (allocated, destroyed) */
        NLC_PORT_REASON_STP_FORWARD_DELAY = 2, /* listening or learning: STP counts */
        NLC_PORT_REASON_STP_BLOCKING = 3,      /* STP blocks it: a loop, or a better path */
        NLC_PORT_REASON_BPDU_GUARD = 4,        /* the kernel disabled it: a BPDU came in */
        NLC_PORT_REASON_NO_CARRIER = 5,        /* the link (or the lower device) has no carrier */
        NLC_PORT_REASON_LINK_DOWN = 6,         /* the link (or the lower device) is down */
        NLC_PORT_REASON_LINK_GONE = 7,         /* the link (or the lower device) does not exist */
        NLC_PORT_REASON_BRIDGE_DOWN = 8,       /* the bridge is down */
        NLC_PORT_REASON_BRIDGE_GONE = 9,       /* the bridge does not exist */
        NLC_PORT_REASON_NOT_ON_BRIDGE = 10,    /* the link is not a port of its bridge */
        NLC_PORT_REASON_DISABLED = 11,         /* disabled, for none of the reasons above */
        /* The port forwards, but the switch has not (yet, or no longer)
         * associated the device's port profile (Device.PortProfile says
         * why): an active device with a profile counts as ready only once
         * the switch applies it. */
        NLC_PORT_REASON_PORT_PROFILE = 12,
        NLC_PORT_REASON_LAST = NLC_PORT_REASON_PORT_PROFILE,
} NlcPortReason;

typedef enum {
        NLC_MIGRATION_PHASE_SETUP = 0,
        NLC_MIGRATION_PHASE_INCOMING = 1, /* destination: waiting for the stream */
        NLC_MIGRATION_PHASE_PRECOPY = 2,
        NLC_MIGRATION_PHASE_WAITING_FOR_DESTINATION = 3,
        NLC_MIGRATION_PHASE_POSTCOPY_REQUESTED = 4,
        NLC_MIGRATION_PHASE_POSTCOPY = 5,
        NLC_MIGRATION_PHASE_POSTCOPY_PAUSED = 6,
        NLC_MIGRATION_PHASE_POSTCOPY_RECOVER = 7,
        NLC_MIGRATION_PHASE_COMPLETED = 8,
        NLC_MIGRATION_PHASE_FAILED = 9,
        NLC_MIGRATION_PHASE_CANCELLED = 10,
        NLC_MIGRATION_PHASE_LAST = NLC_MIGRATION_PHASE_CANCELLED,
} NlcMigrationPhase;

typedef enum {
        NLC_POSTCOPY_AFTER_PRECOPY = 0,
        NLC_POSTCOPY_IMMEDIATE = 1,
        NLC_POSTCOPY_ON_STALL = 2,
        NLC_POSTCOPY_NEVER = 3,
        NLC_POSTCOPY_LAST = NLC_POSTCOPY_NEVER,
} NlcPostcopyPolicy;

typedef enum {
        NLC_READINESS_LOCAL = 0,
        NLC_READINESS_COORDINATED = 1,
        NLC_READINESS_DESTINATION_BUS = 2,
        NLC_READINESS_LAST = NLC_READINESS_DESTINATION_BUS,
} NlcReadinessSource;

/* Registered as the D-Bus errors org.netlifecd1.Error.<Name>. */
typedef enum {
        NLC_ERROR_FAILED = 0,
        NLC_ERROR_INVALID_ARGS = 1,
        NLC_ERROR_INVALID_STATE = 2,
        NLC_ERROR_NOT_FOUND = 3,
        NLC_ERROR_CONFLICT = 4,
        NLC_ERROR_BUSY = 5,
        NLC_ERROR_NOT_SUPPORTED = 6,
        NLC_ERROR_NOT_AUTHORIZED = 7, /* the caller does not hold the action it needs */
        /* A port profile's association (Device.PortProfile): lldpad or the
         * switch said no (the switch's response code in the message); no
         * answer within [port-profile] timeout-ms; no lldpad to ask. */
        NLC_ERROR_PORT_PROFILE_REFUSED = 8,
        NLC_ERROR_PORT_PROFILE_TIMED_OUT = 9,
        NLC_ERROR_PORT_PROFILE_UNAVAILABLE = 10,
        NLC_ERROR_LAST = NLC_ERROR_PORT_PROFILE_UNAVAILABLE,
} NlcError;

const char *nlc_device_state_to_string(NlcDeviceState state);
gboolean nlc_device_state_from_string(const char *s, NlcDeviceState *out);

const char *nlc_op_to_string(NlcOp op);
gboolean nlc_op_from_string(const char *s, NlcOp *out);

const char *nlc_port_state_to_string(NlcPortState state);
gboolean nlc_port_state_from_string(const char *s, NlcPortState *out);
const char *nlc_port_reason_to_string(NlcPortReason reason);
gboolean nlc_port_reason_from_string(const char *s, NlcPortReason *out);

const char *nlc_migration_phase_to_string(NlcMigrationPhase phase);
const char *nlc_postcopy_policy_to_string(NlcPostcopyPolicy policy);
gboolean nlc_postcopy_policy_from_string(const char *s, NlcPostcopyPolicy *out);
const char *nlc_readiness_source_to_string(NlcReadinessSource source);
gboolean nlc_readiness_source_from_string(const char *s, NlcReadinessSource *out);

/* The short name, e.g. "InvalidState". */
const char *nlc_error_to_string(NlcError code);

G_END_DECLS
