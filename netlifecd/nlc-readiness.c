/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "nlc-readiness.h"

guint64
nlc_port_ready_in_usec(NlcPortState state, guint64 timer_usec, guint64 forward_delay_usec)
{
        /* A state announced before its timer was armed reads 0: the whole
         * delay is still ahead. */
        guint64 step =
                timer_usec ? MIN(timer_usec, forward_delay_usec ? forward_delay_usec : timer_usec)
                           : forward_delay_usec;

        switch (state) {
        case NLC_PORT_STATE_FORWARDING:
                return 0;
        case NLC_PORT_STATE_LEARNING:
                return step;
        case NLC_PORT_STATE_LISTENING:
                return step + forward_delay_usec;
        case NLC_PORT_STATE_DISABLED:
        case NLC_PORT_STATE_BLOCKING:
        default:
                return G_MAXUINT64;
        }
}

gboolean
nlc_destination_covers(const char *const *guest_macs, const char *const *ready_macs,
                       gboolean instance_ready)
{
        if (!guest_macs || !guest_macs[0])
                return instance_ready;
        for (guint i = 0; guest_macs[i]; i++)
                if (!ready_macs || !g_strv_contains(ready_macs, guest_macs[i]))
                        return FALSE;
        return TRUE;
}
