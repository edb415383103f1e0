/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "nlc-lifecycle.h"

#include <glib.h>

#define S(x) (1u << NLC_DEVICE_STATE_##x)

static const struct {
        guint sources;         /* states the operation runs from */
        NlcDeviceState target; /* state it leads to; repeating it there is a no-op */
} table[] = {
        [NLC_OP_ALLOCATE] = { S(NONE), NLC_DEVICE_STATE_ALLOCATED },
        /* destroyed → created: a device may be re-created before it is freed. */
        [NLC_OP_CREATE] = { S(ALLOCATED) | S(DESTROYED), NLC_DEVICE_STATE_CREATED },
        [NLC_OP_ACTIVATE] = { S(CREATED), NLC_DEVICE_STATE_ACTIVE },
        [NLC_OP_DEACTIVATE] = { S(ACTIVE), NLC_DEVICE_STATE_CREATED },
        /* Not from active: the caller deactivates first, so the MAC's location
         * is released explicitly, never as a side effect. */
        [NLC_OP_DESTROY] = { S(CREATED), NLC_DEVICE_STATE_DESTROYED },
        /* allocated → freed: nothing was created, nothing to destroy. */
        [NLC_OP_FREE] = { S(ALLOCATED) | S(DESTROYED), NLC_DEVICE_STATE_FREED },
        /* notify adopts or re-verifies a device in any live state. */
        [NLC_OP_NOTIFY] = { S(NONE) | S(ALLOCATED) | S(CREATED) | S(ACTIVE) | S(DESTROYED),
                            NLC_DEVICE_STATE_NONE },
};
G_STATIC_ASSERT(G_N_ELEMENTS(table) == NLC_OP_LAST + 1);

NlcTransition
nlc_lifecycle_check(NlcDeviceState state, NlcOp op)
{
        if ((guint) op > NLC_OP_LAST || (guint) state > NLC_DEVICE_STATE_LAST)
                return NLC_TRANSITION_REFUSE;
        if (table[op].target != NLC_DEVICE_STATE_NONE && state == table[op].target)
                return NLC_TRANSITION_NOOP;
        if (table[op].sources & (1u << state))
                return NLC_TRANSITION_RUN;
        return NLC_TRANSITION_REFUSE;
}

NlcDeviceState
nlc_lifecycle_target(NlcOp op)
{
        return (guint) op <= NLC_OP_LAST ? table[op].target : NLC_DEVICE_STATE_NONE;
}

char *
nlc_lifecycle_describe_sources(NlcOp op)
{
        g_autoptr(GPtrArray) names = g_ptr_array_new();

        if ((guint) op > NLC_OP_LAST)
                return g_strdup("");
        for (guint s = 0; s <= NLC_DEVICE_STATE_LAST; s++)
                if (table[op].sources & (1u << s))
                        g_ptr_array_add(names, (gpointer) nlc_device_state_to_string(s));
        g_ptr_array_add(names, NULL);
        return g_strjoinv(" or ", (char **) names->pdata);
}

gboolean
nlc_lifecycle_transition_allowed(NlcDeviceState old_state, NlcDeviceState new_state, NlcOp op)
{
        if (op == NLC_OP_NOTIFY)
                return nlc_lifecycle_check(old_state, op) == NLC_TRANSITION_RUN &&
                       new_state != NLC_DEVICE_STATE_NONE && new_state != NLC_DEVICE_STATE_FREED &&
                       (guint) new_state <= NLC_DEVICE_STATE_LAST;
        return nlc_lifecycle_check(old_state, op) == NLC_TRANSITION_RUN &&
               nlc_lifecycle_target(op) == new_state;
}
