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
