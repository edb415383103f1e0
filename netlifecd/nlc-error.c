/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <gio/gio.h>
#include <string.h>

#include "nlc-dbus-names.h"
#include "nlc-error.h"

static GDBusErrorEntry error_entries[NLC_ERROR_LAST + 1];
static char error_names[NLC_ERROR_LAST + 1][64];

static gpointer
build_error_entries(gpointer unused)
{
        for (int i = 0; i <= NLC_ERROR_LAST; i++) {
                g_snprintf(error_names[i], sizeof error_names[i], NLC_DBUS_ERROR_PREFIX "%s",
                           nlc_error_to_string((NlcError) i));
                error_entries[i].error_code = i;
                error_entries[i].dbus_error_name = error_names[i];
        }
        return NULL;
}

GQuark
nlc_error_quark(void)
{
        static GOnce entries_once = G_ONCE_INIT;
        static gsize quark;

        /* Registering maps NLC_ERROR codes to org.netlifecd1.Error.<Name> on
         * the wire, in both directions; it guards @quark itself. */
        g_once(&entries_once, build_error_entries, NULL);
        g_dbus_error_register_error_domain("nlc-error-quark", &quark, error_entries,
                                           G_N_ELEMENTS(error_entries));
        return (GQuark) quark;
}

static NlcError
code_for_errno(int e)
{
        switch (e) {
        case ENODEV:
        case ENOENT:
        case ENXIO:
                return NLC_ERROR_NOT_FOUND;
        case EEXIST:
                return NLC_ERROR_CONFLICT;
        case EBUSY:
        case EAGAIN:
                return NLC_ERROR_BUSY;
        case EINVAL:
        case ERANGE:
        case EOPNOTSUPP:
                return NLC_ERROR_INVALID_ARGS;
        default:
                return NLC_ERROR_FAILED;
        }
}

gboolean
nlc_error_set_errno(GError **error, int negative_errno, const char *fmt, ...)
{
        va_list ap;
        g_autofree char *msg = NULL;
        int e = negative_errno < 0 ? -negative_errno : negative_errno;

        va_start(ap, fmt);
        msg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        g_set_error(error, NLC_ERROR, code_for_errno(e), "%s: %s", msg, g_strerror(e));
        return FALSE;
}
