/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "nlc-enums.h"

static const char *const device_state_names[] = {
        [NLC_DEVICE_STATE_NONE] = "none",           [NLC_DEVICE_STATE_ALLOCATED] = "allocated",
        [NLC_DEVICE_STATE_CREATED] = "created",     [NLC_DEVICE_STATE_ACTIVE] = "active",
        [NLC_DEVICE_STATE_DESTROYED] = "destroyed", [NLC_DEVICE_STATE_FREED] = "freed",
};
G_STATIC_ASSERT(G_N_ELEMENTS(device_state_names) == NLC_DEVICE_STATE_LAST + 1);

static const char *const op_names[] = {
        [NLC_OP_ALLOCATE] = "allocate", [NLC_OP_CREATE] = "create",
        [NLC_OP_ACTIVATE] = "activate", [NLC_OP_DEACTIVATE] = "deactivate",
        [NLC_OP_DESTROY] = "destroy",   [NLC_OP_FREE] = "free",
        [NLC_OP_NOTIFY] = "notify",
};
G_STATIC_ASSERT(G_N_ELEMENTS(op_names) == NLC_OP_LAST + 1);

static const char *const port_state_names[] = {
        [NLC_PORT_STATE_DISABLED] = "disabled", [NLC_PORT_STATE_LISTENING] = "listening",
        [NLC_PORT_STATE_LEARNING] = "learning", [NLC_PORT_STATE_FORWARDING] = "forwarding",
        [NLC_PORT_STATE_BLOCKING] = "blocking",
};
G_STATIC_ASSERT(G_N_ELEMENTS(port_state_names) == NLC_PORT_STATE_LAST + 1);

static const char *const port_reason_names[] = {
        [NLC_PORT_REASON_NONE] = "",
        [NLC_PORT_REASON_NO_PORT] = "no-port",
        [NLC_PORT_REASON_STP_FORWARD_DELAY] = "stp-forward-delay",
        [NLC_PORT_REASON_STP_BLOCKING] = "stp-blocking",
        [NLC_PORT_REASON_BPDU_GUARD] = "bpdu-guard",
        [NLC_PORT_REASON_NO_CARRIER] = "no-carrier",
        [NLC_PORT_REASON_LINK_DOWN] = "link-down",
        [NLC_PORT_REASON_LINK_GONE] = "link-gone",
        [NLC_PORT_REASON_BRIDGE_DOWN] = "bridge-down",
        [NLC_PORT_REASON_BRIDGE_GONE] = "bridge-gone",
        [NLC_PORT_REASON_NOT_ON_BRIDGE] = "not-on-bridge",
        [NLC_PORT_REASON_DISABLED] = "disabled",
        [NLC_PORT_REASON_PORT_PROFILE] = "port-profile",
};
G_STATIC_ASSERT(G_N_ELEMENTS(port_reason_names) == NLC_PORT_REASON_LAST + 1);

static const char *const migration_phase_names[] = {
        [NLC_MIGRATION_PHASE_SETUP] = "setup",
        [NLC_MIGRATION_PHASE_INCOMING] = "incoming",
        [NLC_MIGRATION_PHASE_PRECOPY] = "precopy",
        [NLC_MIGRATION_PHASE_WAITING_FOR_DESTINATION] = "waiting-for-destination",
        [NLC_MIGRATION_PHASE_POSTCOPY_REQUESTED] = "postcopy-requested",
        [NLC_MIGRATION_PHASE_POSTCOPY] = "postcopy",
        [NLC_MIGRATION_PHASE_POSTCOPY_PAUSED] = "postcopy-paused",
        [NLC_MIGRATION_PHASE_POSTCOPY_RECOVER] = "postcopy-recover",
        [NLC_MIGRATION_PHASE_COMPLETED] = "completed",
        [NLC_MIGRATION_PHASE_FAILED] = "failed",
        [NLC_MIGRATION_PHASE_CANCELLED] = "cancelled",
};
G_STATIC_ASSERT(G_N_ELEMENTS(migration_phase_names) == NLC_MIGRATION_PHASE_LAST + 1);

static const char *const postcopy_policy_names[] = {
        [NLC_POSTCOPY_AFTER_PRECOPY] = "after-precopy",
        [NLC_POSTCOPY_IMMEDIATE] = "immediate",
        [NLC_POSTCOPY_ON_STALL] = "on-stall",
        [NLC_POSTCOPY_NEVER] = "never",
};
G_STATIC_ASSERT(G_N_ELEMENTS(postcopy_policy_names) == NLC_POSTCOPY_LAST + 1);

static const char *const readiness_source_names[] = {
        [NLC_READINESS_LOCAL] = "local",
        [NLC_READINESS_COORDINATED] = "coordinated",
        [NLC_READINESS_DESTINATION_BUS] = "destination-bus",
};
G_STATIC_ASSERT(G_N_ELEMENTS(readiness_source_names) == NLC_READINESS_LAST + 1);

static const char *const error_names[] = {
        [NLC_ERROR_FAILED] = "Failed",
        [NLC_ERROR_INVALID_ARGS] = "InvalidArgs",
        [NLC_ERROR_INVALID_STATE] = "InvalidState",
        [NLC_ERROR_NOT_FOUND] = "NotFound",
        [NLC_ERROR_CONFLICT] = "Conflict",
        [NLC_ERROR_BUSY] = "Busy",
        [NLC_ERROR_NOT_SUPPORTED] = "NotSupported",
        [NLC_ERROR_NOT_AUTHORIZED] = "NotAuthorized",
        [NLC_ERROR_PORT_PROFILE_REFUSED] = "PortProfileRefused",
        [NLC_ERROR_PORT_PROFILE_TIMED_OUT] = "PortProfileTimedOut",
        [NLC_ERROR_PORT_PROFILE_UNAVAILABLE] = "PortProfileUnavailable",
};
G_STATIC_ASSERT(G_N_ELEMENTS(error_names) == NLC_ERROR_LAST + 1);

static gboolean
lookup(const char *const *table, guint n, const char *s, guint *out)
{
        for (guint i = 0; i < n; i++) {
                if (table[i] && g_strcmp0(table[i], s) == 0) {
                        *out = i;
                        return TRUE;
                }
        }
        return FALSE;
}

const char *
nlc_device_state_to_string(NlcDeviceState state)
{
        return (guint) state <= NLC_DEVICE_STATE_LAST ? device_state_names[state] : NULL;
}

gboolean
nlc_device_state_from_string(const char *s, NlcDeviceState *out)
{
        guint v;

        if (!lookup(device_state_names, G_N_ELEMENTS(device_state_names), s, &v))
                return FALSE;
        *out = (NlcDeviceState) v;
        return TRUE;
}

const char *
nlc_op_to_string(NlcOp op)
{
        return (guint) op <= NLC_OP_LAST ? op_names[op] : NULL;
}

gboolean
nlc_op_from_string(const char *s, NlcOp *out)
{
        guint v;

        if (!lookup(op_names, G_N_ELEMENTS(op_names), s, &v))
                return FALSE;
        *out = (NlcOp) v;
        return TRUE;
}

const char *
nlc_port_state_to_string(NlcPortState state)
{
        return (guint) state <= NLC_PORT_STATE_LAST ? port_state_names[state] : NULL;
}

gboolean
nlc_port_state_from_string(const char *s, NlcPortState *out)
{
        guint v;

        if (!lookup(port_state_names, G_N_ELEMENTS(port_state_names), s, &v))
                return FALSE;
        *out = (NlcPortState) v;
        return TRUE;
}

const char *
nlc_port_reason_to_string(NlcPortReason reason)
{
        return (guint) reason <= NLC_PORT_REASON_LAST ? port_reason_names[reason] : NULL;
}

gboolean
nlc_port_reason_from_string(const char *s, NlcPortReason *out)
{
        guint v;

        if (!lookup(port_reason_names, G_N_ELEMENTS(port_reason_names), s, &v))
                return FALSE;
        *out = (NlcPortReason) v;
        return TRUE;
}

const char *
nlc_migration_phase_to_string(NlcMigrationPhase phase)
{
        return (guint) phase <= NLC_MIGRATION_PHASE_LAST ? migration_phase_names[phase] : NULL;
}

const char *
nlc_postcopy_policy_to_string(NlcPostcopyPolicy policy)
{
        return (guint) policy <= NLC_POSTCOPY_LAST ? postcopy_policy_names[policy] : NULL;
}

gboolean
nlc_postcopy_policy_from_string(const char *s, NlcPostcopyPolicy *out)
{
        guint v;

        if (!lookup(postcopy_policy_names, G_N_ELEMENTS(postcopy_policy_names), s, &v))
                return FALSE;
        *out = (NlcPostcopyPolicy) v;
        return TRUE;
}

const char *
nlc_readiness_source_to_string(NlcReadinessSource source)
{
        return (guint) source <= NLC_READINESS_LAST ? readiness_source_names[source] : NULL;
}

gboolean
nlc_readiness_source_from_string(const char *s, NlcReadinessSource *out)
{
        guint v;

        if (!lookup(readiness_source_names, G_N_ELEMENTS(readiness_source_names), s, &v))
                return FALSE;
        *out = (NlcReadinessSource) v;
        return TRUE;
}

const char *
nlc_error_to_string(NlcError code)
{
        return (guint) code <= NLC_ERROR_LAST ? error_names[code] : NULL;
}
