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

/* Registered as the D-Bus errors org.netlifecd1.Error.<Name>. */
typedef enum {
        NLC_ERROR_FAILED = 0,
        NLC_ERROR_INVALID_ARGS = 1,
        NLC_ERROR_INVALID_STATE = 2,
        NLC_ERROR_NOT_FOUND = 3,
        NLC_ERROR_CONFLICT = 4,
        NLC_ERROR_BUSY = 5,
        NLC_ERROR_LAST = NLC_ERROR_BUSY,
} NlcError;

const char *nlc_device_state_to_string(NlcDeviceState state);
gboolean nlc_device_state_from_string(const char *s, NlcDeviceState *out);

const char *nlc_op_to_string(NlcOp op);
gboolean nlc_op_from_string(const char *s, NlcOp *out);

const char *nlc_port_state_to_string(NlcPortState state);
gboolean nlc_port_state_from_string(const char *s, NlcPortState *out);

/* The short name, e.g. "InvalidState". */
const char *nlc_error_to_string(NlcError code);

G_END_DECLS
