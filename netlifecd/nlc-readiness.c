/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "nlc-readiness.h"

/* The kernel reports bridge timers in clock_t (1/100 s). */
#define CLOCK_TICK_USEC 10000ull

guint64
nlc_port_ready_in_usec(NlcPortState state, guint64 timer_usec, guint64 forward_delay_usec)
{
        /* A state announced before its timer was armed reads 0: the whole
         * delay is still ahead. A timer a tick above the delay is rounding
         * (clock_t); one well above it was armed before the delay was made
         * shorter, and runs out as armed. */
        guint64 step = timer_usec ? timer_usec : forward_delay_usec;

        if (timer_usec > forward_delay_usec && timer_usec - forward_delay_usec <= CLOCK_TICK_USEC)
                step = forward_delay_usec;

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

static NlcPortReason
link_reason(const NlcPortFacts *f)
{
        if (!f->link_exists)
                return NLC_PORT_REASON_LINK_GONE;
        if (!f->link_up)
                return NLC_PORT_REASON_LINK_DOWN;
        if (!f->carrier)
                return NLC_PORT_REASON_NO_CARRIER;
        return NLC_PORT_REASON_NONE;
}

NlcPortState
nlc_port_state_of_link(const NlcPortFacts *f)
{
        return link_reason(f) == NLC_PORT_REASON_NONE ? NLC_PORT_STATE_FORWARDING
                                                      : NLC_PORT_STATE_DISABLED;
}

NlcPortReason
nlc_port_reason(const NlcPortFacts *f)
{
        NlcPortReason link;

        if (!f->on_bridge)
                return link_reason(f);
        if (!f->bridge_exists)
                return NLC_PORT_REASON_BRIDGE_GONE;
        if (!f->link_exists)
                return NLC_PORT_REASON_LINK_GONE;
        if (!f->is_port)
                return NLC_PORT_REASON_NOT_ON_BRIDGE;
        switch (f->state) {
        case NLC_PORT_STATE_FORWARDING:
                return NLC_PORT_REASON_NONE;
        case NLC_PORT_STATE_LISTENING:
        case NLC_PORT_STATE_LEARNING:
                return NLC_PORT_REASON_STP_FORWARD_DELAY;
        case NLC_PORT_STATE_BLOCKING:
                return NLC_PORT_REASON_STP_BLOCKING;
        case NLC_PORT_STATE_DISABLED:
        default:
                break;
        }
        link = link_reason(f);
        if (link != NLC_PORT_REASON_NONE)
                return link;
        if (!f->bridge_up)
                return NLC_PORT_REASON_BRIDGE_DOWN;
        return f->bpdu_guard ? NLC_PORT_REASON_BPDU_GUARD : NLC_PORT_REASON_DISABLED;
}

/* The NotReady entry of @mac: "on IFNAME: REASON", or NULL. */
static char *
not_ready_words(GVariant *not_ready, const char *mac)
{
        GVariantIter iter;
        const char *m, *ifname, *reason;

        if (!not_ready || !g_variant_is_of_type(not_ready, G_VARIANT_TYPE("a(sss)")))
                return NULL;
        g_variant_iter_init(&iter, not_ready);
        while (g_variant_iter_next(&iter, "(&s&s&s)", &m, &ifname, &reason))
                if (!mac || g_ascii_strcasecmp(m, mac) == 0)
                        return g_strdup_printf("%s%s: %s", *ifname ? " on " : "", ifname, reason);
        return NULL;
}

char *
nlc_describe_not_ready(const char *const *guest_macs, const char *const *ready_macs,
                       GVariant *not_ready)
{
        g_autoptr(GString) s = g_string_new(NULL);

        if (!guest_macs || !guest_macs[0]) {
                GVariantIter iter;
                const char *mac, *ifname, *reason;

                if (!not_ready || !g_variant_is_of_type(not_ready, G_VARIANT_TYPE("a(sss)")))
                        return g_strdup("");
                g_variant_iter_init(&iter, not_ready);
                while (g_variant_iter_next(&iter, "(&s&s&s)", &mac, &ifname, &reason))
                        g_string_append_printf(s, "%s%s%s%s: %s", s->len ? ", " : "", mac,
                                               *ifname ? " on " : "", ifname, reason);
                return g_strdup(s->str);
        }
        for (guint i = 0; guest_macs[i]; i++) {
                g_autofree char *words = NULL;

                if (ready_macs && g_strv_contains(ready_macs, guest_macs[i]))
                        continue;
                words = not_ready_words(not_ready, guest_macs[i]);
                g_string_append_printf(s, "%s%s%s", s->len ? ", " : "", guest_macs[i],
                                       words ? words : ": no device there");
        }
        return g_strdup(s->str);
}
