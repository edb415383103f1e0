/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one place where the two error models meet: kernel and QMP layers return
 * negative errno; everything above takes GError ** in NLC_ERROR, a registered
 * D-Bus error domain (org.netlifecd1.Error.*).
 */
#pragma once

#include <glib.h>

#include "nlc-enums.h"

G_BEGIN_DECLS

#define NLC_ERROR (nlc_error_quark())
GQuark nlc_error_quark(void);

/* Sets @error from a negative errno: -ENODEV/-ENOENT → NotFound, -EEXIST →
 * Conflict, -EBUSY → Busy, -EINVAL → InvalidArgs, else Failed. The message is
 * the formatted text followed by ": " and strerror. Returns FALSE. */
gboolean nlc_error_set_errno(GError **error, int negative_errno, const char *fmt, ...)
        G_GNUC_PRINTF(3, 4);

G_END_DECLS
