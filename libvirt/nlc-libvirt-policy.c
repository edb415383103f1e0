/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "nlc-libvirt-policy.h"

const char *
nlc_libvirt_action_to_string(NlcLibvirtAction action)
{
        switch (action) {
        case NLC_LIBVIRT_ACTION_ACTIVATE:
                return "Activate";
        case NLC_LIBVIRT_ACTION_DEACTIVATE:
                return "Deactivate";
        case NLC_LIBVIRT_ACTION_NONE:
                break;
        }
        return "none";
}

NlcLibvirtAction
nlc_libvirt_lifecycle_action(int event, int detail)
{
        switch (event) {
        case VIR_DOMAIN_EVENT_RESUMED:
                /* UNPAUSED, MIGRATED (pre-copy's destination, or the source
                 * taking the guest back after a failed switchover), POSTCOPY
                 * (the destination runs the guest), POSTCOPY_FAILED: the guest
                 * runs here. */
                return NLC_LIBVIRT_ACTION_ACTIVATE;
        case VIR_DOMAIN_EVENT_SUSPENDED:
                /* Only the source's switchover moves the MAC away; a user
                 * pause, an I/O error or a failed post-copy keep the guest
                 * here. */
                if (detail == VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED ||
                    detail == VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY)
                        return NLC_LIBVIRT_ACTION_DEACTIVATE;
                return NLC_LIBVIRT_ACTION_NONE;
        default:
                return NLC_LIBVIRT_ACTION_NONE;
        }
}

NlcLibvirtAction
nlc_libvirt_reconcile_action(int state, int reason)
{
        switch (state) {
        case VIR_DOMAIN_RUNNING:
                return NLC_LIBVIRT_ACTION_ACTIVATE;
        case VIR_DOMAIN_PAUSED:
                if (reason == VIR_DOMAIN_PAUSED_MIGRATION || reason == VIR_DOMAIN_PAUSED_POSTCOPY)
                        return NLC_LIBVIRT_ACTION_DEACTIVATE;
                return NLC_LIBVIRT_ACTION_NONE;
        default:
                return NLC_LIBVIRT_ACTION_NONE;
        }
}

gboolean
nlc_libvirt_lifecycle_ends_migration(int event)
{
        return event == VIR_DOMAIN_EVENT_RESUMED || event == VIR_DOMAIN_EVENT_STOPPED ||
               event == VIR_DOMAIN_EVENT_SUSPENDED || event == VIR_DOMAIN_EVENT_UNDEFINED;
}

gboolean
nlc_libvirt_postcopy_due(guint iteration, guint passes, gboolean already_requested)
{
        /* Iteration 0 does not exist; before iteration 1 QEMU has not started
         * migrating and libvirt (then QEMU) refuses the request. */
        return !already_requested && iteration >= 1 && iteration > passes;
}

gboolean
nlc_libvirt_postcopy_refusal_is_final(int code, const char *message)
{
        g_autofree char *lower = NULL;

        /* libvirt refuses with OPERATION_INVALID when the migration was not
         * started with VIR_MIGRATE_POSTCOPY or post-copy already runs; QEMU's
         * refusals come through as INTERNAL_ERROR naming post-copy. */
        if (code == VIR_ERR_OPERATION_INVALID)
                return TRUE;
        if (message == NULL)
                return FALSE;
        lower = g_ascii_strdown(message, -1);
        return strstr(lower, "post-copy") != NULL || strstr(lower, "postcopy") != NULL;
}

typedef struct {
        int kind;
        int detail; /* -1: any */
        const char *text;
} Description;

static const Description events[] = {
        { VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_ADDED, "defined (added)" },
        { VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_UPDATED, "defined (updated)" },
        { VIR_DOMAIN_EVENT_DEFINED, -1, "defined" },
        { VIR_DOMAIN_EVENT_UNDEFINED, -1, "undefined" },
        { VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_BOOTED, "started (booted)" },
        { VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_MIGRATED, "started (migrated)" },
        { VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_RESTORED, "started (restored)" },
        { VIR_DOMAIN_EVENT_STARTED, -1, "started" },
        { VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_PAUSED, "suspended (paused)" },
        { VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED, "suspended (migrated)" },
        { VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_IOERROR, "suspended (I/O error)" },
        { VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY,
          "suspended (post-copy)" },
        { VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY_FAILED,
          "suspended (post-copy failed)" },
        { VIR_DOMAIN_EVENT_SUSPENDED, -1, "suspended" },
        { VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_UNPAUSED, "resumed (unpaused)" },
        { VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_MIGRATED, "resumed (migrated)" },
        { VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_FROM_SNAPSHOT,
          "resumed (from snapshot)" },
        { VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_POSTCOPY, "resumed (post-copy)" },
#if LIBVIR_CHECK_VERSION(8, 5, 0)
        { VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_POSTCOPY_FAILED,
          "resumed (post-copy failed)" },
#endif
        { VIR_DOMAIN_EVENT_RESUMED, -1, "resumed" },
        { VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN, "stopped (shutdown)" },
        { VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_DESTROYED, "stopped (destroyed)" },
        { VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_CRASHED, "stopped (crashed)" },
        { VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_MIGRATED, "stopped (migrated)" },
        { VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_SAVED, "stopped (saved)" },
        { VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_FAILED, "stopped (failed)" },
        { VIR_DOMAIN_EVENT_STOPPED, -1, "stopped" },
        { VIR_DOMAIN_EVENT_SHUTDOWN, -1, "shutdown" },
        { VIR_DOMAIN_EVENT_PMSUSPENDED, -1, "pmsuspended" },
        { VIR_DOMAIN_EVENT_CRASHED, -1, "crashed" },
};

static const Description states[] = {
        { VIR_DOMAIN_NOSTATE, -1, "no state" },
        { VIR_DOMAIN_RUNNING, -1, "running" },
        { VIR_DOMAIN_BLOCKED, -1, "blocked" },
        { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_USER, "paused (user)" },
        { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_MIGRATION, "paused (migration)" },
        { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_IOERROR, "paused (I/O error)" },
        { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_STARTING_UP, "paused (starting up)" },
        { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_POSTCOPY, "paused (post-copy)" },
        { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_POSTCOPY_FAILED, "paused (post-copy failed)" },
        { VIR_DOMAIN_PAUSED, -1, "paused" },
        { VIR_DOMAIN_SHUTDOWN, -1, "shutting down" },
        { VIR_DOMAIN_SHUTOFF, -1, "shut off" },
        { VIR_DOMAIN_CRASHED, -1, "crashed" },
        { VIR_DOMAIN_PMSUSPENDED, -1, "pmsuspended" },
};

static const char *
describe(const Description *table, gsize n, int kind, int detail, const char *unknown)
{
        for (gsize i = 0; i < n; i++) {
                if (table[i].kind == kind && (table[i].detail == -1 || table[i].detail == detail))
                        return table[i].text;
        }
        return unknown;
}

const char *
nlc_libvirt_event_describe(int event, int detail)
{
        return describe(events, G_N_ELEMENTS(events), event, detail, "unknown event");
}

const char *
nlc_libvirt_state_describe(int state, int reason)
{
        return describe(states, G_N_ELEMENTS(states), state, reason, "unknown state");
}
