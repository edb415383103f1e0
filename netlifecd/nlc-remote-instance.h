/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Watches an instance's Ready on another netlifecd (the destination host's
 * daemon, reached by the D-Bus address it listens on): the "destination-bus"
 * readiness source. Follows PropertiesChanged; retries every second while
 * the daemon or the instance cannot be reached.
 */
#pragma once

#include <gio/gio.h>

typedef void (*NlcRemoteReadyFunc)(gboolean ready, gpointer user_data);
typedef struct _NlcRemoteInstance NlcRemoteInstance;

NlcRemoteInstance *nlc_remote_instance_new(const char *address, const char *instance,
                                           NlcRemoteReadyFunc func, gpointer user_data);
void nlc_remote_instance_free(NlcRemoteInstance *remote);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlcRemoteInstance, nlc_remote_instance_free)
