/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include <gio/gio.h>

#include "config.h"

#include "nlc-authz.h"
#include "nlc-config.h"
#include "nlc-error.h"
#include "nlc-vdp.h"

typedef enum {
        T_BOOL,
        T_UINT,
        T_UINT64,
        T_POLICY,
        T_FALLBACK,
        T_READINESS,
        T_ADDRESS,
        T_AUTHZ_BACKEND,
        T_PRINCIPALS,
        T_ALLOW,
        T_PATH,
        T_UUID,
} Type;

typedef struct {
        const char *group, *key;
        Type type;
        gsize offset;
        guint64 min, max;
} Key;

#define OFF(field) G_STRUCT_OFFSET(NlcConfig, field)

static const Key keys[] = {
        { "postcopy", "allowed", T_BOOL, OFF(postcopy_allowed), 0, 0 },
        { "postcopy", "policy", T_POLICY, OFF(policy), 0, 0 },
        { "postcopy", "precopy-passes", T_UINT, OFF(precopy_passes), 1, 1000 },
        { "postcopy", "stall-passes", T_UINT, OFF(stall_passes), 1, 1000 },
        { "postcopy", "preempt", T_BOOL, OFF(preempt), 0, 0 },
        { "readiness", "timeout-ms", T_UINT, OFF(readiness_timeout_ms), 0, 3600000 },
        { "readiness", "fallback", T_FALLBACK, OFF(fallback_fail), 0, 0 },
        { "announce", "rounds", T_UINT, OFF(announce_rounds), 1, 100 },
        { "announce", "initial-ms", T_UINT, OFF(announce_initial_ms), 1, 100000 },
        { "announce", "max-ms", T_UINT, OFF(announce_max_ms), 1, 100000 },
        { "announce", "step-ms", T_UINT, OFF(announce_step_ms), 1, 100000 },
        { "migration", "max-bandwidth", T_UINT64, OFF(max_bandwidth), 0, G_MAXUINT64 },
        { "migration", "readiness", T_READINESS, OFF(readiness), 0, 0 },
        { "migration", "destination-bus", T_ADDRESS, OFF(destination_bus), 0, 0 },
        { "journal", "fsync", T_BOOL, OFF(journal_fsync), 0, 0 },
        { "authorization", "backend", T_AUTHZ_BACKEND, OFF(authz_backend), 0, 0 },
        { "authorization", "read", T_PRINCIPALS, OFF(authz_rules[NLC_ACTION_READ]), 0, 0 },
        { "authorization", "manage", T_PRINCIPALS, OFF(authz_rules[NLC_ACTION_MANAGE]), 0, 0 },
        { "authorization", "migrate", T_PRINCIPALS, OFF(authz_rules[NLC_ACTION_MIGRATE]), 0, 0 },
        { "authorization", "manage-any-instance", T_PRINCIPALS,
          OFF(authz_rules[NLC_ACTION_MANAGE_ANY]), 0, 0 },
        { "authorization", "direct", T_PRINCIPALS, OFF(authz_rules[NLC_ACTION_DIRECT]), 0, 0 },
        /* min: the NlcAllowKind, for has_allow */
        { "allow", "bridges", T_ALLOW, OFF(allow[NLC_ALLOW_BRIDGES]), NLC_ALLOW_BRIDGES, 0 },
        { "allow", "macvtap-links", T_ALLOW, OFF(allow[NLC_ALLOW_MACVTAP_LINKS]),
          NLC_ALLOW_MACVTAP_LINKS, 0 },
        { "allow", "direct-devices", T_ALLOW, OFF(allow[NLC_ALLOW_DIRECT_DEVICES]),
          NLC_ALLOW_DIRECT_DEVICES, 0 },
        { "port-profile", "lldpad-pid-file", T_PATH, OFF(lldpad_pid_file), 0, 0 },
        { "port-profile", "timeout-ms", T_UINT, OFF(port_profile_timeout_ms), 100, 600000 },
        { "port-profile", "event-port", T_UINT, OFF(port_profile_event_port), 1, G_MAXUINT32 },
        { "port-profile", "host-uuid", T_UUID, OFF(port_profile_host_uuid), 0, 0 },
        { "port-profile", "watch-ms", T_UINT, OFF(port_profile_watch_ms), 0, 3600000 },
        { "allow", "qmp-dirs", T_ALLOW, OFF(allow[NLC_ALLOW_QMP_DIRS]), NLC_ALLOW_QMP_DIRS, 0 },
};

void
nlc_config_init_defaults(NlcConfig *c)
{
        memset(c, 0, sizeof *c);
        c->postcopy_allowed = TRUE;
        c->policy = NLC_POSTCOPY_AFTER_PRECOPY;
        c->precopy_passes = 1;
        c->stall_passes = 2;
        c->preempt = TRUE;
        c->readiness_timeout_ms = 60000;
        /* QEMU's own announce-self defaults (net/announce.c). */
        c->announce_rounds = 5;
        c->announce_initial_ms = 50;
        c->announce_max_ms = 550;
        c->announce_step_ms = 100;
        c->journal_fsync = TRUE;
        /* lldpad's own pid file, and libvirt's limit for one VDP request. */
        g_strlcpy(c->lldpad_pid_file, "/var/run/lldpad.pid", sizeof c->lldpad_pid_file);
        c->port_profile_timeout_ms = 10000;
        /* "nlcd": above any pid (pid_max is at most 2^22) and below the
         * kernel's own choices for unbound sockets (from 2^32-4096 down). */
        c->port_profile_event_port = 0x6e6c6364;
        c->port_profile_watch_ms = 10000;
        /* The daemon's own rules: root by rule, not by a bypass; the bus
         * policy's group may manage and migrate its own instances. */
        g_strlcpy(c->authz_rules[NLC_ACTION_READ], "*", NLC_CONFIG_RULE_MAX);
        g_strlcpy(c->authz_rules[NLC_ACTION_MANAGE], "root;@" NLC_GROUP, NLC_CONFIG_RULE_MAX);
        g_strlcpy(c->authz_rules[NLC_ACTION_MIGRATE], "root;@" NLC_GROUP, NLC_CONFIG_RULE_MAX);
        g_strlcpy(c->authz_rules[NLC_ACTION_MANAGE_ANY], "root", NLC_CONFIG_RULE_MAX);
        g_strlcpy(c->authz_rules[NLC_ACTION_DIRECT], "root", NLC_CONFIG_RULE_MAX);
}

/* The line "key = value" of @key in [@group], for messages. */
static guint
line_of(const char *text, const char *group, const char *key)
{
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        g_autofree char *header = g_strdup_printf("[%s]", group);
        gboolean in_group = FALSE;

        for (guint i = 0; lines[i]; i++) {
                g_autofree char *l = g_strstrip(g_strdup(lines[i]));

                if (l[0] == '[') {
                        in_group = g_str_equal(l, header);
                        continue;
                }
                if (in_group && g_str_has_prefix(l, key) &&
                    (l[strlen(key)] == '=' || l[strlen(key)] == ' ' || l[strlen(key)] == '\t'))
                        return i + 1;
        }
        return 0;
}

static const Key *
find_key(const char *group, const char *key)
{
        for (guint i = 0; i < G_N_ELEMENTS(keys); i++)
                if (g_str_equal(keys[i].group, group) && g_str_equal(keys[i].key, key))
                        return &keys[i];
        return NULL;
}

/* Takes @what (the message's end). */
static gboolean
bad(GError **error, const char *path, const char *text, const char *group, const char *key,
    char *what)
{
        g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS, "%s:%u: [%s] %s: %s", path,
                    line_of(text, group, key), group, key, what);
        g_free(what);
        return FALSE;
}

static gboolean
set_value(NlcConfig *c, const Key *k, const char *value, const char *path, const char *text,
          GError **error)
{
        gpointer field = G_STRUCT_MEMBER_P(c, k->offset);
        guint64 n;

        switch (k->type) {
        case T_BOOL:
                if (g_str_equal(value, "true") || g_str_equal(value, "false")) {
                        *(gboolean *) field = g_str_equal(value, "true");
                        return TRUE;
                }
                return bad(error, path, text, k->group, k->key,
                           g_strdup_printf("'%s' is not true or false", value));
        case T_POLICY:
                if (nlc_postcopy_policy_from_string(value, (NlcPostcopyPolicy *) field))
                        return TRUE;
                return bad(
                        error, path, text, k->group, k->key,
                        g_strdup_printf("'%s' is not after-precopy, immediate, on-stall or never",
                                        value));
        case T_FALLBACK:
                if (g_str_equal(value, "fail") || g_str_equal(value, "continue-precopy")) {
                        *(gboolean *) field = g_str_equal(value, "fail");
                        return TRUE;
                }
                return bad(error, path, text, k->group, k->key,
                           g_strdup_printf("'%s' is not continue-precopy or fail", value));
        case T_READINESS:
                if (nlc_readiness_source_from_string(value, (NlcReadinessSource *) field)) {
                        c->has_readiness = TRUE;
                        return TRUE;
                }
                return bad(error, path, text, k->group, k->key,
                           g_strdup_printf("'%s' is not local, coordinated or destination-bus",
                                           value));
        case T_ADDRESS:
                if (strlen(value) < NLC_CONFIG_ADDRESS_MAX &&
                    g_dbus_is_supported_address(value, NULL)) {
                        g_strlcpy(field, value, NLC_CONFIG_ADDRESS_MAX);
                        return TRUE;
                }
                return bad(error, path, text, k->group, k->key,
                           g_strdup_printf("'%s' is not a D-Bus address", value));
        case T_PATH:
                if (strlen(value) < NLC_CONFIG_ADDRESS_MAX && g_path_is_absolute(value)) {
                        g_strlcpy(field, value, NLC_CONFIG_ADDRESS_MAX);
                        return TRUE;
                }
                return bad(error, path, text, k->group, k->key,
                           g_strdup_printf("'%s' is not an absolute path", value));
        case T_UUID: {
                guint8 bytes[16];

                if (nlc_vdp_uuid_parse(value, bytes)) {
                        g_strlcpy(field, value, 37);
                        return TRUE;
                }
                return bad(error, path, text, k->group, k->key,
                           g_strdup_printf("'%s' is not a UUID", value));
        }
        case T_AUTHZ_BACKEND:
                if (g_str_equal(value, "polkit") || g_str_equal(value, "config")) {
                        *(int *) field =
                                g_str_equal(value, "polkit") ? NLC_AUTHZ_POLKIT : NLC_AUTHZ_CONFIG;
                        c->has_authz_backend = TRUE;
                        return TRUE;
                }
                return bad(error, path, text, k->group, k->key,
                           g_strdup_printf("'%s' is not polkit or config", value));
        case T_PRINCIPALS:
        case T_ALLOW: {
                g_autoptr(GError) local = NULL;

                if (strlen(value) >= NLC_CONFIG_RULE_MAX)
                        return bad(
                                error, path, text, k->group, k->key,
                                g_strdup_printf("longer than %u bytes", NLC_CONFIG_RULE_MAX - 1));
                if (k->type == T_PRINCIPALS ? !nlc_principals_validate(value, &local)
                                            : !nlc_allow_list_validate(value, &local))
                        return bad(error, path, text, k->group, k->key, g_strdup(local->message));
                g_strlcpy(field, value, NLC_CONFIG_RULE_MAX);
                if (k->type == T_ALLOW)
                        c->has_allow[k->min] = TRUE;
                return TRUE;
        }
        case T_UINT:
        case T_UINT64:
        default:
                if (!g_ascii_string_to_unsigned(value, 10, k->min, k->max, &n, NULL))
                        return bad(
                                error, path, text, k->group, k->key,
                                g_strdup_printf("'%s' is not a whole number from %" G_GUINT64_FORMAT
                                                " to %" G_GUINT64_FORMAT,
                                                value, k->min, k->max));
                if (k->type == T_UINT)
                        *(guint *) field = (guint) n;
                else
                        *(guint64 *) field = n;
                return TRUE;
        }
}

gboolean
nlc_config_load(NlcConfig *c, const char *path, gboolean required, GError **error)
{
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_autoptr(GError) local = NULL;
        g_autofree char *text = NULL;
        g_auto(GStrv) groups = NULL;

        nlc_config_init_defaults(c);
        g_strlcpy(c->path, path, sizeof c->path);
        if (!g_file_get_contents(path, &text, NULL, &local)) {
                if (!required && g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
                        return TRUE;
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS, "%s: %s", path,
                            local->message);
                return FALSE;
        }
        if (!g_key_file_load_from_data(kf, text, -1, G_KEY_FILE_NONE, &local)) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS, "%s: %s", path,
                            local->message);
                return FALSE;
        }
        groups = g_key_file_get_groups(kf, NULL);
        for (guint g = 0; groups[g]; g++) {
                g_auto(GStrv) names = g_key_file_get_keys(kf, groups[g], NULL, NULL);

                for (guint i = 0; names && names[i]; i++) {
                        const Key *k = find_key(groups[g], names[i]);
                        g_autofree char *value = NULL;

                        if (!k)
                                return bad(error, path, text, groups[g], names[i],
                                           g_strdup("unknown key (see netlifecd(8))"));
                        value = g_key_file_get_value(kf, groups[g], names[i], NULL);
                        g_strstrip(value);
                        if (!set_value(c, k, value, path, text, error))
                                return FALSE;
                }
        }
        if (c->has_readiness && c->readiness == NLC_READINESS_DESTINATION_BUS &&
            !c->destination_bus[0]) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                            "%s:%u: [migration] readiness destination-bus needs "
                            "[migration] destination-bus, the destination daemon's D-Bus address",
                            path, line_of(text, "migration", "readiness"));
                return FALSE;
        }
        if (c->announce_initial_ms > c->announce_max_ms) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                            "%s:%u: [announce] initial-ms is above max-ms", path,
                            line_of(text, "announce", "initial-ms"));
                return FALSE;
        }
        return TRUE;
}
