/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <net/if.h>
#include <string.h>

#include "nlc-error.h"
#include "nlc-names.h"

gboolean
nlc_mac_parse(const char *s, guint8 mac[6], GError **error)
{
        static const guint8 zero[6];

        if (!s || strlen(s) != 17)
                goto bad_syntax;
        for (int i = 0; i < 6; i++) {
                int hi = g_ascii_xdigit_value(s[i * 3]);
                int lo = g_ascii_xdigit_value(s[i * 3 + 1]);

                if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != ':'))
                        goto bad_syntax;
                mac[i] = (guint8) (hi << 4 | lo);
        }
        if (mac[0] & 0x01) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                            "MAC %s is a multicast address; a guest NIC needs a unicast one", s);
                return FALSE;
        }
        if (memcmp(mac, zero, 6) == 0) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS, "MAC %s is all-zero", s);
                return FALSE;
        }
        return TRUE;

bad_syntax : {
        g_autofree char *quoted = nlc_excerpt(s ? s : "", 40);

        g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                    "'%s' is not a MAC address of the form 52:54:00:12:34:56", quoted);
        return FALSE;
}
}

char *
nlc_excerpt(const char *s, gsize max_chars)
{
        g_autofree char *valid = g_utf8_make_valid(s ? s : "", -1);
        g_autofree char *head = NULL;

        if (g_utf8_strlen(valid, -1) <= (glong) max_chars)
                return g_steal_pointer(&valid);
        head = g_utf8_substring(valid, 0, (glong) max_chars);
        return g_strconcat(head, "…", NULL);
}

char *
nlc_mac_to_string(const guint8 mac[6])
{
        return g_strdup_printf("%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                               mac[4], mac[5]);
}

static const char *
first_bad_char(const char *s)
{
        for (const char *p = s; *p; p++)
                if (!g_ascii_isalnum(*p) && *p != '_' && *p != '.' && *p != '-')
                        return p;
        return NULL;
}

static gboolean
validate_token(const char *what, const char *s, gsize max, GError **error)
{
        const char *bad;

        if (!s || !*s) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS, "%s is empty", what);
                return FALSE;
        }
        if (strlen(s) > max) {
                g_autofree char *quoted = nlc_excerpt(s, 80);

                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                            "%s '%s' is %zu bytes long; at most %zu are allowed", what, quoted,
                            strlen(s), max);
                return FALSE;
        }
        bad = first_bad_char(s);
        if (bad) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                            "%s '%s' contains '%c'; only letters, digits, '_', '.' and '-' are "
                            "allowed",
                            what, s, g_ascii_isprint(*bad) ? *bad : '?');
                return FALSE;
        }
        return TRUE;
}

gboolean
nlc_instance_name_validate(const char *name, GError **error)
{
        return validate_token("instance name", name, NLC_INSTANCE_NAME_MAX, error);
}

gboolean
nlc_ifname_validate(const char *name, GError **error)
{
        if (!validate_token("interface name", name, IF_NAMESIZE - 1, error))
                return FALSE;
        if (g_str_equal(name, ".") || g_str_equal(name, "..")) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                            "interface name '%s' is reserved", name);
                return FALSE;
        }
        return TRUE;
}
