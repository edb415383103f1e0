/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a caller must hold to call a method: the actions (polkit action ids
 * org.netlifecd1.*), which method needs which, and the daemon's own rules
 * (the "config" authorization backend: per action a list of users and
 * @groups). Pure: unit-tested, including that every method of the API maps
 * to an action (tests/unit/test-authz.c).
 */
#pragma once

#include <glib.h>

typedef enum {
        NLC_ACTION_READ = 0,       /* look up devices and instances, wait for readiness */
        NLC_ACTION_MANAGE = 1,     /* the lifecycle of the caller's own instances */
        NLC_ACTION_MIGRATE = 2,    /* migrations of the caller's own instances */
        NLC_ACTION_MANAGE_ANY = 3, /* the same on instances another uid owns */
        NLC_ACTION_DIRECT = 4,     /* the direct backend: a host netdev for one guest */
        NLC_ACTION_LAST = NLC_ACTION_DIRECT,
} NlcAction;

/* "org.netlifecd1.manage", ...; NULL past the last. */
const char *nlc_action_id(NlcAction action);
/* The key in [authorization] of the configuration: "manage", ... */
const char *nlc_action_key(NlcAction action);
gboolean nlc_action_from_key(const char *key, NlcAction *out);

/* The action @method of @interface (org.netlifecd1.*) needs before anything
 * the call itself adds (another uid's instance, the direct backend); FALSE
 * for a method the table does not know, which is refused. */
gboolean nlc_method_action(const char *interface, const char *method, NlcAction *out);

/* A caller as the config backend sees it. */
typedef struct {
        guint32 uid;
        const char *user;          /* its name, or NULL when it has none */
        const char *const *groups; /* the names of its groups (primary and supplementary) */
} NlcPrincipal;

/*
 * Whether @who is on @list, a ';'-separated list of user names, "@group"
 * names, "*" (everyone the bus lets through) and "uid:N". An empty list
 * allows nobody.
 */
gboolean nlc_principals_match(const char *list, const NlcPrincipal *who);
/* FALSE with a message naming the bad entry when @list is not such a list. */
gboolean nlc_principals_validate(const char *list, GError **error);

/* The host objects callers may use, from [allow] in the configuration. */
typedef enum {
        NLC_ALLOW_BRIDGES = 0,        /* bridges a tap-bridge port may go on */
        NLC_ALLOW_MACVTAP_LINKS = 1,  /* lower devices of macvtaps */
        NLC_ALLOW_DIRECT_DEVICES = 2, /* host netdevs the direct backend may take */
        NLC_ALLOW_QMP_DIRS = 3,       /* directories of QMP sockets AttachQemu may use */
        NLC_ALLOW_LAST = NLC_ALLOW_QMP_DIRS,
} NlcAllowKind;

/* The key in [allow]: "bridges", ... */
const char *nlc_allow_key(NlcAllowKind kind);

/*
 * Whether @list lets @who use @name. Entries are separated by ';': "NAME"
 * (whoever holds the method's action) or "NAME:WHO,WHO" (only those, each a
 * user, @group, uid:N or *). With @as_directory, NAME is a directory and
 * @name matches anything below it.
 */
gboolean nlc_allow_list_match(const char *list, const char *name, gboolean as_directory,
                              const NlcPrincipal *who);
gboolean nlc_allow_list_validate(const char *list, GError **error);
