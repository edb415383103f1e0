/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Watches an instance's Ready and ReadyMacs on another netlifecd (the
 * destination host's daemon, reached by the D-Bus address it listens on):
 * the "destination-bus" readiness source. Follows PropertiesChanged. What it
 * reports never goes stale: the bus connection closing, the daemon leaving
 * the bus (NameOwnerChanged) or the instance going away report "not ready"
 * at once; it retries every second, and a daemon that comes back on the bus
 * is read again at once.
 */
#pragma once

#include <gio/gio.h>

/* @ready_macs: the instance's ReadyMacs; NULL while it cannot be read. */
typedef void (*NlcRemoteReadyFunc)(gboolean ready, const char *const *ready_macs,
                                   gpointer user_data);
typedef struct _NlcRemoteInstance NlcRemoteInstance;

NlcRemoteInstance *nlc_remote_instance_new(const char *address, const char *instance,
                                           NlcRemoteReadyFunc func, gpointer user_data);
void nlc_remote_instance_free(NlcRemoteInstance *remote);
/* Why the instance there does not cover @guest_macs, in words: its
 * NotReady as last read (nlc_describe_not_ready), or why it cannot be read
 * (its daemon is not on the bus, the connection closed, no such instance). */
char *nlc_remote_instance_why_not_ready(NlcRemoteInstance *remote, const char *const *guest_macs);
/* Instance.AssociatePortProfiles() on the instance there (a migration's
 * destination, while QEMU holds the source). Its daemon's named error comes
 * back as the same NLC_ERROR; G_IO_ERROR_NOT_CONNECTED when the instance
 * cannot be reached now. */
void nlc_remote_instance_associate_async(NlcRemoteInstance *remote, GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer data);
gboolean nlc_remote_instance_associate_finish(GAsyncResult *result, GError **error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlcRemoteInstance, nlc_remote_instance_free)
