/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "nlc-error.h"
#include "nlc-port-profile.h"
#include "nlc-vdp.h"

static const char *const qbg_only[] = { "managerid", "typeid", "typeidversion" };

static gboolean invalid(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static gboolean
invalid(GError **error, const char *fmt, ...)
{
        g_autofree char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        msg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        g_set_error_literal(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS, msg);
        return FALSE;
}

static gboolean
read_instance(GVariantDict *opts, NlcPortProfile *out, GError **error)
{
        const char *s = NULL;
        static const guint8 zero[16] = { 0 };

        /* libvirt makes one up when the domain XML has none; netlifecd has
         * no domain to keep it with. */
        if (!g_variant_dict_lookup(opts, "instanceid", "&s", &s))
                return invalid(error, "virtualport %s needs option 'instanceid' (%s, a UUID)",
                               out->kind == NLC_PORT_PROFILE_8021QBG ? "802.1Qbg" : "802.1Qbh",
                               out->kind == NLC_PORT_PROFILE_8021QBG ? "the VSI's instance"
                                                                     : "the VM's");
        if (!nlc_vdp_uuid_parse(s, out->instance))
                return invalid(error,
                               "option 'instanceid' is '%s'; it must be a UUID "
                               "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
                               s);
        if (memcmp(out->instance, zero, 16) == 0)
                return invalid(error, "option 'instanceid' is all zeros; lldpad and the switch "
                                      "refuse that instance id");
        out->has_instance = TRUE;
        return TRUE;
}

static gboolean
read_qbg(GVariantDict *opts, NlcPortProfile *out, GError **error)
{
        guint32 type_id;

        if (g_variant_dict_contains(opts, "profileid"))
                return invalid(error, "option 'profileid' is 802.1Qbh's; virtualport is 802.1Qbg");
        for (guint i = 0; i < G_N_ELEMENTS(qbg_only); i++)
                if (!g_variant_dict_contains(opts, qbg_only[i]))
                        return invalid(error, "virtualport 802.1Qbg needs option '%s'",
                                       qbg_only[i]);
        g_variant_dict_lookup(opts, "managerid", "y", &out->manager_id);
        g_variant_dict_lookup(opts, "typeid", "u", &type_id);
        g_variant_dict_lookup(opts, "typeidversion", "y", &out->type_id_version);
        if (type_id > 0xffffff)
                return invalid(error, "option 'typeid' is %u; it must fit in 24 bits (0-16777215)",
                               type_id);
        out->type_id = type_id;
        return read_instance(opts, out, error);
}

static gboolean
read_qbh(GVariantDict *opts, NlcPortProfile *out, GError **error)
{
        const char *profile = NULL;

        for (guint i = 0; i < G_N_ELEMENTS(qbg_only); i++)
                if (g_variant_dict_contains(opts, qbg_only[i]))
                        return invalid(error, "option '%s' is 802.1Qbg's; virtualport is 802.1Qbh",
                                       qbg_only[i]);
        if (!g_variant_dict_lookup(opts, "profileid", "&s", &profile))
                return invalid(error, "virtualport 802.1Qbh needs option 'profileid'");
        /* IFLA_PORT_PROFILE carries at most PORT_PROFILE_MAX (40) bytes with
         * its NUL. */
        if (!*profile || strlen(profile) >= sizeof out->profile_id)
                return invalid(error, "option 'profileid' is %zu characters; it must be 1 to %zu",
                               strlen(profile), sizeof out->profile_id - 1);
        g_strlcpy(out->profile_id, profile, sizeof out->profile_id);
        return read_instance(opts, out, error);
}

gboolean
nlc_port_profile_from_options(GVariantDict *opts, NlcPortProfile *out, GError **error)
{
        static const char *const fields[] = { "managerid", "typeid", "typeidversion", "instanceid",
                                              "profileid" };
        const char *kind = NULL;

        memset(out, 0, sizeof(*out));
        if (!g_variant_dict_lookup(opts, "virtualport", "&s", &kind)) {
                for (guint i = 0; i < G_N_ELEMENTS(fields); i++)
                        if (g_variant_dict_contains(opts, fields[i]))
                                return invalid(error, "option '%s' needs option 'virtualport'",
                                               fields[i]);
                return TRUE;
        }
        if (g_str_equal(kind, "802.1Qbg")) {
                out->kind = NLC_PORT_PROFILE_8021QBG;
                return read_qbg(opts, out, error);
        }
        if (g_str_equal(kind, "802.1Qbh")) {
                out->kind = NLC_PORT_PROFILE_8021QBH;
                return read_qbh(opts, out, error);
        }
        return invalid(error, "option 'virtualport' is '%s'; it must be 802.1Qbg or 802.1Qbh",
                       kind);
}

void
nlc_port_profile_set_not_applied(const NlcPortProfile *profile, const char *backend, GError **error)
{
        if (profile->kind == NLC_PORT_PROFILE_8021QBH)
                g_set_error(error, NLC_ERROR, NLC_ERROR_NOT_SUPPORTED,
                            "backend %s: virtualport 802.1Qbh is applied to a macvtap's lower "
                            "device; an assigned device's VF (through its PF) is not reached "
                            "yet: use backend macvtap",
                            backend);
        else
                g_set_error(error, NLC_ERROR, NLC_ERROR_NOT_SUPPORTED,
                            "backend %s: virtualport 802.1Qbg is associated through lldpad for a "
                            "macvtap on the uplink; an assigned host device has no macvtap "
                            "(libvirt applies 802.1Qbg to none either): use backend macvtap",
                            backend);
}
