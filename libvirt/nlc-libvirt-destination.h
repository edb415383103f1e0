/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Whether the migration destination's netlifecd has the instance ready: the
 * gate before the agent asks libvirt for post-copy (the guest must not run
 * on the destination before its port forwards). One connection to the
 * destination's bus, kept and reopened when it closed.
 */
#pragma once

#include <gio/gio.h>

typedef struct _NlcLibvirtDestination NlcLibvirtDestination;

NlcLibvirtDestination *nlc_libvirt_destination_new(const char *address);
void nlc_libvirt_destination_free(NlcLibvirtDestination *self);

/* Reads Instance.Ready of @instance on the destination. TRUE when ready;
 * FALSE with @error saying why not (not ready, no such instance, the
 * destination unreachable). */
void nlc_libvirt_destination_check(NlcLibvirtDestination *self, const char *instance,
                                   GCancellable *cancellable, GAsyncReadyCallback callback,
                                   gpointer user_data);
gboolean nlc_libvirt_destination_check_finish(GAsyncResult *result, GError **error);

/* "org.netlifecd1.Error.NotFound: no instance vm1" for a D-Bus error, the
 * message for any other. */
char *nlc_libvirt_dbus_error_describe(const GError *error);
