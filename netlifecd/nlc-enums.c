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

static const char *const error_names[] = {
        [NLC_ERROR_FAILED] = "Failed",
        [NLC_ERROR_INVALID_ARGS] = "InvalidArgs",
        [NLC_ERROR_INVALID_STATE] = "InvalidState",
        [NLC_ERROR_NOT_FOUND] = "NotFound",
        [NLC_ERROR_CONFLICT] = "Conflict",
        [NLC_ERROR_BUSY] = "Busy",
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
nlc_error_to_string(NlcError code)
{
        return (guint) code <= NLC_ERROR_LAST ? error_names[code] : NULL;
}
