/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "nlc-authz-rules.h"
#include "nlc-error.h"
#include "nlc-names.h"

static const struct {
        const char *id, *key;
} actions[] = {
        [NLC_ACTION_READ] = { "org.netlifecd1.read", "read" },
        [NLC_ACTION_MANAGE] = { "org.netlifecd1.manage", "manage" },
        [NLC_ACTION_MIGRATE] = { "org.netlifecd1.migrate", "migrate" },
        [NLC_ACTION_MANAGE_ANY] = { "org.netlifecd1.manage-any-instance", "manage-any-instance" },
        [NLC_ACTION_DIRECT] = { "org.netlifecd1.use-direct", "direct" },
};
G_STATIC_ASSERT(G_N_ELEMENTS(actions) == NLC_ACTION_LAST + 1);

const char *
nlc_action_id(NlcAction action)
{
        return (guint) action <= NLC_ACTION_LAST ? actions[action].id : NULL;
}

const char *
nlc_action_key(NlcAction action)
{
        return (guint) action <= NLC_ACTION_LAST ? actions[action].key : NULL;
}

gboolean
nlc_action_from_key(const char *key, NlcAction *out)
{
        for (guint i = 0; i <= NLC_ACTION_LAST; i++)
                if (g_strcmp0(actions[i].key, key) == 0) {
                        *out = (NlcAction) i;
                        return TRUE;
                }
        return FALSE;
}

/* Every method of the API. A method added to the XML and not here is
 * refused until it is (and the unit test says so). */
static const struct {
        const char *interface, *method;
        NlcAction action;
} methods[] = {
        { "org.netlifecd1.Manager", "Allocate", NLC_ACTION_MANAGE },
        { "org.netlifecd1.Manager", "Notify", NLC_ACTION_MANAGE },
        { "org.netlifecd1.Manager", "GetDevice", NLC_ACTION_READ },
        { "org.netlifecd1.Manager", "GetInstance", NLC_ACTION_READ },
        { "org.netlifecd1.Manager", "DestroyInstances", NLC_ACTION_MANAGE },
        { "org.netlifecd1.Manager", "AttachQemu", NLC_ACTION_MANAGE },
        { "org.netlifecd1.Manager", "Migrate", NLC_ACTION_MIGRATE },
        { "org.netlifecd1.Manager", "PrepareIncoming", NLC_ACTION_MIGRATE },
        { "org.netlifecd1.Device", "Create", NLC_ACTION_MANAGE },
        { "org.netlifecd1.Device", "ShareQueues", NLC_ACTION_MANAGE },
        { "org.netlifecd1.Device", "Activate", NLC_ACTION_MANAGE },
        { "org.netlifecd1.Device", "Deactivate", NLC_ACTION_MANAGE },
        { "org.netlifecd1.Device", "Destroy", NLC_ACTION_MANAGE },
        { "org.netlifecd1.Device", "Free", NLC_ACTION_MANAGE },
        { "org.netlifecd1.Device", "Announce", NLC_ACTION_MANAGE },
        { "org.netlifecd1.Instance", "WaitReady", NLC_ACTION_READ },
        { "org.netlifecd1.Instance", "Activate", NLC_ACTION_MANAGE },
        { "org.netlifecd1.Instance", "Deactivate", NLC_ACTION_MANAGE },
        { "org.netlifecd1.Instance", "AssociatePortProfiles", NLC_ACTION_MANAGE },
        { "org.netlifecd1.Migration", "StartPostcopy", NLC_ACTION_MIGRATE },
        { "org.netlifecd1.Migration", "DestinationReady", NLC_ACTION_MIGRATE },
        { "org.netlifecd1.Migration", "Cancel", NLC_ACTION_MIGRATE },
        { "org.netlifecd1.Migration", "Recover", NLC_ACTION_MIGRATE },
};

gboolean
nlc_method_action(const char *interface, const char *method, NlcAction *out)
{
        for (guint i = 0; i < G_N_ELEMENTS(methods); i++)
                if (g_strcmp0(methods[i].interface, interface) == 0 &&
                    g_strcmp0(methods[i].method, method) == 0) {
                        *out = methods[i].action;
                        return TRUE;
                }
        return FALSE;
}

static gboolean
entry_matches(const char *entry, const NlcPrincipal *who)
{
        guint64 uid;

        if (g_str_equal(entry, "*"))
                return TRUE;
        if (entry[0] == '@')
                return who->groups && g_strv_contains(who->groups, entry + 1);
        if (g_str_has_prefix(entry, "uid:"))
                return g_ascii_string_to_unsigned(entry + 4, 10, 0, G_MAXUINT32, &uid, NULL) &&
                       uid == who->uid;
        return who->user && g_str_equal(entry, who->user);
}

gboolean
nlc_principals_match(const char *list, const NlcPrincipal *who)
{
        g_auto(GStrv) entries = g_strsplit(list ? list : "", ";", -1);

        for (guint i = 0; entries[i]; i++) {
                g_strstrip(entries[i]);
                if (*entries[i] && entry_matches(entries[i], who))
                        return TRUE;
        }
        return FALSE;
}

/* A user or group name as shadow-utils accepts them (a leading letter or
 * '_', then letters, digits, '_', '-', '.', a trailing '$' for machine
 * accounts). */
static gboolean
valid_name(const char *s)
{
        if (!*s || !(g_ascii_isalpha(*s) || *s == '_'))
                return FALSE;
        for (const char *p = s + 1; *p; p++)
                if (!g_ascii_isalnum(*p) && *p != '_' && *p != '-' && *p != '.' &&
                    !(*p == '$' && !p[1]))
                        return FALSE;
        return strlen(s) <= 32;
}

gboolean
nlc_principals_validate(const char *list, GError **error)
{
        g_auto(GStrv) entries = g_strsplit(list ? list : "", ";", -1);
        guint64 uid;

        for (guint i = 0; entries[i]; i++) {
                const char *e = g_strstrip(entries[i]);

                if (!*e || g_str_equal(e, "*") || (e[0] == '@' && valid_name(e + 1)) ||
                    valid_name(e) ||
                    (g_str_has_prefix(e, "uid:") &&
                     g_ascii_string_to_unsigned(e + 4, 10, 0, G_MAXUINT32, &uid, NULL)))
                        continue;
                {
                        g_autofree char *quoted = nlc_excerpt(e, 40);

                        g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                                    "'%s' is not a user, @group, uid:N or *", quoted);
                }
                return FALSE;
        }
        return TRUE;
}

static const char *const allow_keys[] = {
        [NLC_ALLOW_BRIDGES] = "bridges",
        [NLC_ALLOW_MACVTAP_LINKS] = "macvtap-links",
        [NLC_ALLOW_DIRECT_DEVICES] = "direct-devices",
        [NLC_ALLOW_QMP_DIRS] = "qmp-dirs",
};
G_STATIC_ASSERT(G_N_ELEMENTS(allow_keys) == NLC_ALLOW_LAST + 1);

const char *
nlc_allow_key(NlcAllowKind kind)
{
        return (guint) kind <= NLC_ALLOW_LAST ? allow_keys[kind] : NULL;
}

static gboolean
under_directory(const char *path, const char *dir)
{
        gsize n = strlen(dir);

        while (n > 1 && dir[n - 1] == '/')
                n--;
        /* "/run/q" holds "/run/q/vm.sock", not "/run/qx/vm.sock" nor a
         * "/run/q/../etc" (a caller's path is not canonical). */
        return strncmp(path, dir, n) == 0 && path[n] == '/' && !strstr(path + n, "/../");
}

gboolean
nlc_allow_list_match(const char *list, const char *name, gboolean as_directory,
                     const NlcPrincipal *who)
{
        g_auto(GStrv) entries = g_strsplit(list ? list : "", ";", -1);

        for (guint i = 0; entries[i]; i++) {
                char *entry = g_strstrip(entries[i]);
                char *colon = strchr(entry, ':');
                g_autofree char *whom = NULL;

                if (!*entry)
                        continue;
                if (colon) {
                        *colon = '\0';
                        whom = g_strdelimit(g_strdup(colon + 1), ",", ';');
                }
                g_strstrip(entry);
                if (as_directory ? !under_directory(name, entry) : !g_str_equal(name, entry))
                        continue;
                if (!whom || nlc_principals_match(whom, who))
                        return TRUE;
        }
        return FALSE;
}

gboolean
nlc_allow_list_validate(const char *list, GError **error)
{
        g_auto(GStrv) entries = g_strsplit(list ? list : "", ";", -1);

        for (guint i = 0; entries[i]; i++) {
                char *entry = g_strstrip(entries[i]);
                char *colon = strchr(entry, ':');
                g_autofree char *whom = NULL;

                if (!colon)
                        continue;
                *colon = '\0';
                whom = g_strstrip(g_strdelimit(g_strdup(colon + 1), ",", ';'));
                if (!*g_strstrip(entry) || !*whom) {
                        g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                                    "entry %u names nothing or nobody: 'NAME' or 'NAME:WHO,WHO'",
                                    i + 1);
                        return FALSE;
                }
                if (!nlc_principals_validate(whom, error))
                        return FALSE;
        }
        return TRUE;
}
