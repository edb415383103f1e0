/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Answers calls to device paths that do not exist (never did, or freed):
 * Free() succeeds — the record is already released, so Free stays idempotent —
 * and everything else gets org.netlifecd1.Error.NotFound instead of the bus's
 * generic UnknownObject.
 */
#pragma once

#include <gio/gio.h>

/* @list_ids returns the ids of the exported devices (for introspection of
 * /org/netlifecd1/device); it is called with @user_data. */
guint nlc_device_fallback_register(GDBusConnection *connection, char **(*list_ids)(gpointer),
                                   gpointer user_data, GError **error);
