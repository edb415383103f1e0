/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A scripted lldpad for unit tests: a netlink socket bound to a port id of
 * its own, named in a pid file as lldpad's pid, answering VDP requests as
 * lldpad does (tests/lldpad/README.md 3.3-3.4) — or as Debian's lldpad
 * cannot be made to: a switch that refuses (a non-zero
 * IFLA_PORT_RESPONSE), one that never answers, a VSI lldpad drops, lldpad
 * refusing with an errno, an answer that never comes. It answers from the
 * default main context; every status names the one VSI
 * nlc_fake_lldpad_uuid.
 */
#pragma once

#include <glib.h>

typedef enum {
        SCRIPT_SUCCESS,   /* accepted; pending once, then response 0 */
        SCRIPT_REFUSE,    /* accepted; then response 2 */
        SCRIPT_SILENT,    /* accepted; pending for ever */
        SCRIPT_DROP,      /* accepted; then no entry */
        SCRIPT_ERRNO,     /* refused with -ENODEV */
        SCRIPT_NO_ANSWER, /* the SETLINK is never answered */
} Script;

typedef struct {
        Script script;
        int fd;
        guint32 port;
        guint statuses; /* status requests answered */
        guint setlinks;
        guint8 last_request;
        guint32 last_pid; /* the nlmsg_pid of the last SETLINK */
        /* Play the kernel (an 802.1Qbh driver) instead: RTM_NEWLINK with
         * IFLA_PORT_SELF, responses 0x100 (success), 0x101 (in progress),
         * 0x102 for SCRIPT_REFUSE (invalid). */
        gboolean kernel;
        char *pid_file;
        char *dir;
        GMainLoop *loop;
        gboolean ok;
        guint16 response;
        GError *error;
} Fake;

extern const guint8 nlc_fake_lldpad_uuid[16];

void fake_start(Fake *f, Script script);
void fake_stop(Fake *f);
/* lldpad's unsolicited DISASSOCIATE for the VSI on @uplink (README 3.6),
 * sent from the fake's port to @to_port; @from_other: from another socket
 * instead (not lldpad). */
void fake_notify(Fake *f, guint32 to_port, const char *uplink, gboolean from_other);
