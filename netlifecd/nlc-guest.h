/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * NlcGuest: following one guest's CPUs through QMP (Manager.AttachQemu).
 * STOP deactivates the instance's devices at once, so the paused copy never
 * keeps the MAC; RESUME activates them (each device announces itself), then
 * QEMU's announce-self goes out once every port forwards. On (re)connect the
 * devices are matched to query-status.
 */
#pragma once

#include "nlc-config.h"
#include "nlc-instance.h"
#include "nlc-qmp.h"

typedef struct _NlcGuest NlcGuest;

/* @host gives the announce rounds; it must outlive the guest. */
NlcGuest *nlc_guest_new(NlcInstance *instance, const char *qmp_path, const NlcConfig *host);
void nlc_guest_free(NlcGuest *guest);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlcGuest, nlc_guest_free)
const char *nlc_guest_get_qmp_path(NlcGuest *guest);
NlcQmp *nlc_guest_get_qmp(NlcGuest *guest);
/* Only a QEMU running as @uid is followed (any with @any: the socket lies in
 * a directory [allow] qmp-dirs lists); another is refused and the
 * connection closed. */
void nlc_guest_expect_peer(NlcGuest *guest, guint32 uid, gboolean any);
