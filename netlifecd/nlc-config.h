/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host configuration file (GKeyFile, default /etc/netlifecd/netlifecd.conf,
 * --config to override): host-wide defaults for migrations and announcements,
 * and a host-wide post-copy switch. Unknown groups and keys and bad values
 * are refused at start, naming the file, the line and the key.
 */
#pragma once

#include <glib.h>

#include "nlc-authz-rules.h"
#include "nlc-enums.h"

#define NLC_DEFAULT_CONFIG     "/etc/netlifecd/netlifecd.conf"
#define NLC_CONFIG_ADDRESS_MAX 512 /* bytes of a D-Bus address, with its NUL */
#define NLC_CONFIG_RULE_MAX    512 /* bytes of an [authorization] list, with its NUL */

typedef struct {
        gboolean postcopy_allowed;  /* [postcopy] allowed */
        NlcPostcopyPolicy policy;   /* [postcopy] policy */
        guint precopy_passes;       /* [postcopy] precopy-passes */
        guint stall_passes;         /* [postcopy] stall-passes */
        gboolean preempt;           /* [postcopy] preempt */
        guint readiness_timeout_ms; /* [readiness] timeout-ms */
        gboolean fallback_fail;     /* [readiness] fallback */
        guint announce_rounds;      /* [announce] rounds */
        guint announce_initial_ms;  /* [announce] initial-ms */
        guint announce_max_ms;      /* [announce] max-ms */
        guint announce_step_ms;     /* [announce] step-ms */
        guint64 max_bandwidth;      /* [migration] max-bandwidth, bytes/s; 0: QEMU's */
        /* [migration] readiness and destination-bus: how a Migrate that names
         * no readiness learns the destination's. Unset by default: such a
         * Migrate is refused, never gated on a guess. A fixed buffer keeps
         * NlcConfig a plain value that the daemon copies. */
        gboolean has_readiness;
        NlcReadinessSource readiness;
        char destination_bus[NLC_CONFIG_ADDRESS_MAX];
        gboolean journal_fsync; /* [journal] fsync */
        /* [port-profile] lldpad-pid-file: where lldpad's pid (its netlink
         * port) is read for each VDP request; timeout-ms: how long one
         * request may take before it counts as timed out. */
        char lldpad_pid_file[NLC_CONFIG_ADDRESS_MAX];
        guint port_profile_timeout_ms;
        /* [port-profile] event-port: the netlink port lldpad's
         * notifications come to; the same after a restart, since lldpad
         * sends them to the port of the request that created the VSI. */
        guint port_profile_event_port;
        /* [port-profile] host-uuid: 802.1Qbh's host UUID; "" takes
         * /etc/machine-id's. */
        char port_profile_host_uuid[37];
        /* [port-profile] watch-ms: how often an associated VSI's status is
         * read (lldpad ends one silently when the switch stops answering);
         * 0: never. */
        guint port_profile_watch_ms;
        /* [authorization] backend: polkit or config; unset, polkit on the
         * system bus and the daemon's own rules on any other bus. */
        gboolean has_authz_backend;
        int authz_backend; /* NlcAuthzBackend */
        /* [authorization] read, manage, ...: the config backend's lists. */
        char authz_rules[NLC_ACTION_LAST + 1][NLC_CONFIG_RULE_MAX];
        /* [allow] bridges, macvtap-links, direct-devices, qmp-dirs
         * (nlc_allow_list_match). Unset: any bridge and lower device, no
         * direct device, QMP sockets the caller owns only. */
        gboolean has_allow[NLC_ALLOW_LAST + 1];
        char allow[NLC_ALLOW_LAST + 1][NLC_CONFIG_RULE_MAX];
        char path[NLC_CONFIG_ADDRESS_MAX]; /* the file read, for messages */
} NlcConfig;

/* The built-in defaults (also what a missing default file means). */
void nlc_config_init_defaults(NlcConfig *config);
/* Loads @path over the defaults. @required: a missing file is an error (an
 * explicit --config); otherwise it means the defaults. */
gboolean nlc_config_load(NlcConfig *config, const char *path, gboolean required, GError **error);
