/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <grp.h>
#include <polkit/polkit.h>
#include <pwd.h>

#include "nlc-authz.h"
#include "nlc-error.h"

/* A bus client as the checks see it; kept while its connection lives. */
typedef struct {
        guint32 uid;
        guint32 pid;
        char *user;      /* NULL: a uid with no account */
        GStrv groups;    /* names of its primary and supplementary groups */
        GSList *waiting; /* Checks waiting for the credentials */
        gboolean known;
} Caller;

struct _NlcAuthz {
        NlcAuthzBackend backend;
        char *rules[NLC_ACTION_LAST + 1];
        NlcAuthzHooks hooks;
        GDBusConnection *connection;
        gboolean system_bus;
        guint gone_subscription;
        GHashTable *callers; /* unique bus name → Caller */
        PolkitAuthority *authority;
        GError *authority_error;   /* why polkit cannot be asked, once known */
        GSList *waiting_authority; /* Checks waiting for the authority */
        gboolean authority_pending;
};

static NlcAuthz *installed;

/* One method call on its way through the checks. */
typedef struct {
        NlcAuthz *authz;
        GDBusInterfaceSkeleton *skeleton;
        const GDBusInterfaceVTable *parent;
        GDBusMethodInvocation *invocation; /* owned until returned or dispatched */
        GArray *actions;                   /* NlcAction, checked in order */
        guint next;
        Caller *caller;
} Check;

static void
check_free(Check *c)
{
        g_clear_object(&c->skeleton);
        if (c->actions)
                g_array_unref(c->actions);
        g_free(c);
}

static void
caller_free(Caller *caller)
{
        g_free(caller->user);
        g_strfreev(caller->groups);
        g_slist_free(caller->waiting);
        g_free(caller);
}

/* Who a checked call came from, kept with the invocation: the cache entry
 * may go with its bus name before the handler is done. */
typedef struct {
        guint32 uid;
        char *user;
        GStrv groups;
} CallerCopy;

static void
caller_copy_free(CallerCopy *c)
{
        g_free(c->user);
        g_strfreev(c->groups);
        g_free(c);
}

static GQuark
caller_quark(void)
{
        return g_quark_from_static_string("nlc-authz-caller");
}

gboolean
nlc_authz_caller(GDBusMethodInvocation *invocation, NlcPrincipal *out)
{
        CallerCopy *c =
                invocation ? g_object_get_qdata(G_OBJECT(invocation), caller_quark()) : NULL;

        if (!c)
                return FALSE;
        *out = (NlcPrincipal){ c->uid, c->user, (const char *const *) c->groups };
        return TRUE;
}

gboolean
nlc_authz_caller_uid(GDBusMethodInvocation *invocation, guint32 *uid)
{
        NlcPrincipal who;

        if (!nlc_authz_caller(invocation, &who))
                return FALSE;
        *uid = who.uid;
        return TRUE;
}

static void refuse(Check *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
refuse(Check *c, const char *fmt, ...)
{
        g_autofree char *why = NULL;
        va_list ap;

        va_start(ap, fmt);
        why = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        g_message("refused %s.%s from %s: %s",
                  g_dbus_method_invocation_get_interface_name(c->invocation),
                  g_dbus_method_invocation_get_method_name(c->invocation),
                  g_dbus_method_invocation_get_sender(c->invocation), why);
        g_dbus_method_invocation_return_error(
                c->invocation, NLC_ERROR, NLC_ERROR_NOT_AUTHORIZED, "%s.%s: %s",
                g_dbus_method_invocation_get_interface_name(c->invocation),
                g_dbus_method_invocation_get_method_name(c->invocation), why);
        check_free(c);
}

static void
dispatch(Check *c)
{
        GDBusMethodInvocation *inv = c->invocation;

        c->parent->method_call(g_dbus_method_invocation_get_connection(inv),
                               g_dbus_method_invocation_get_sender(inv),
                               g_dbus_method_invocation_get_object_path(inv),
                               g_dbus_method_invocation_get_interface_name(inv),
                               g_dbus_method_invocation_get_method_name(inv),
                               g_dbus_method_invocation_get_parameters(inv), inv,
                               g_dbus_method_invocation_get_user_data(inv));
        check_free(c);
}

/* ---- the actions, one after the other ------------------------------- */

static void check_next(Check *c);

static void
refuse_action(Check *c, NlcAction action, const char *detail)
{
        refuse(c, "uid %u does not hold %s%s%s", c->caller->uid, nlc_action_id(action),
               detail ? ": " : "", detail ? detail : "");
}

static void
on_polkit_checked(GObject *source, GAsyncResult *result, gpointer data)
{
        Check *c = data;
        NlcAction action = g_array_index(c->actions, NlcAction, c->next);
        g_autoptr(GError) error = NULL;
        g_autoptr(PolkitAuthorizationResult) r = polkit_authority_check_authorization_finish(
                POLKIT_AUTHORITY(source), result, &error);

        if (!r) {
                refuse_action(c, action, error->message);
                return;
        }
        if (!polkit_authorization_result_get_is_authorized(r)) {
                refuse_action(c, action, NULL);
                return;
        }
        c->next++;
        check_next(c);
}

static PolkitSubject *
polkit_subject_of(Check *c)
{
        /* polkitd resolves a bus name on its own bus (race-free); on another
         * bus the caller's process, its start time read by polkitd. */
        if (c->authz->system_bus)
                return polkit_system_bus_name_new(
                        g_dbus_method_invocation_get_sender(c->invocation));
        return polkit_unix_process_new_for_owner((gint) c->caller->pid, 0, (gint) c->caller->uid);
}

static void
check_with_polkit(Check *c, NlcAction action)
{
        g_autoptr(PolkitSubject) subject = polkit_subject_of(c);

        polkit_authority_check_authorization(c->authz->authority, subject, nlc_action_id(action),
                                             NULL, POLKIT_CHECK_AUTHORIZATION_FLAGS_NONE, NULL,
                                             on_polkit_checked, c);
}

static void
on_authority(GObject *source, GAsyncResult *result, gpointer data)
{
        NlcAuthz *authz = data;
        g_autoptr(GSList) waiting = g_steal_pointer(&authz->waiting_authority);

        authz->authority_pending = FALSE;
        authz->authority = polkit_authority_get_finish(result, &authz->authority_error);
        for (GSList *l = waiting; l; l = l->next)
                check_next(l->data);
}

static void
check_next(Check *c)
{
        NlcAuthz *authz = c->authz;
        NlcAction action;

        if (c->next >= c->actions->len) {
                dispatch(c);
                return;
        }
        action = g_array_index(c->actions, NlcAction, c->next);
        if (authz->backend == NLC_AUTHZ_CONFIG) {
                NlcPrincipal who = { c->caller->uid, c->caller->user,
                                     (const char *const *) c->caller->groups };

                if (!nlc_principals_match(authz->rules[action], &who)) {
                        refuse_action(c, action,
                                      "not on the list of [authorization] in the "
                                      "configuration");
                        return;
                }
                c->next++;
                check_next(c);
                return;
        }
        if (authz->authority_error) {
                refuse(c, "polkit cannot be asked: %s", authz->authority_error->message);
                return;
        }
        if (!authz->authority) {
                authz->waiting_authority = g_slist_append(authz->waiting_authority, c);
                if (!authz->authority_pending) {
                        authz->authority_pending = TRUE;
                        polkit_authority_get_async(NULL, on_authority, authz);
                }
                return;
        }
        check_with_polkit(c, action);
}

/* ---- the caller's credentials ---------------------------------------- */

static void
read_account(Caller *caller)
{
        g_autofree char *buf = g_malloc(16384);
        struct passwd pw, *found = NULL;
        g_autoptr(GPtrArray) names = g_ptr_array_new();
        gid_t gids[256];
        int n = G_N_ELEMENTS(gids);

        if (getpwuid_r(caller->uid, &pw, buf, 16384, &found) != 0 || !found) {
                caller->groups = g_new0(char *, 1);
                return;
        }
        caller->user = g_strdup(pw.pw_name);
        if (getgrouplist(pw.pw_name, pw.pw_gid, gids, &n) < 0)
                n = 0; /* more than 256 groups: none counted, never too many */
        for (int i = 0; i < n; i++) {
                g_autofree char *gbuf = g_malloc(16384);
                struct group gr, *g = NULL;

                if (getgrgid_r(gids[i], &gr, gbuf, 16384, &g) == 0 && g)
                        g_ptr_array_add(names, g_strdup(gr.gr_name));
        }
        g_ptr_array_add(names, NULL);
        caller->groups = (GStrv) g_ptr_array_free(g_steal_pointer(&names), FALSE);
}

NlcPrincipal *
nlc_principal_new_for_uid(guint32 uid)
{
        Caller account = { .uid = uid };
        NlcPrincipal *p = g_new0(NlcPrincipal, 1);

        read_account(&account);
        p->uid = uid;
        p->user = g_steal_pointer(&account.user);
        p->groups = (const char *const *) g_steal_pointer(&account.groups);
        return p;
}

void
nlc_principal_free(NlcPrincipal *p)
{
        if (!p)
                return;
        g_free((char *) p->user);
        g_strfreev((GStrv) p->groups);
        g_free(p);
}

static void
start_checks(Check *c)
{
        CallerCopy *copy = g_new0(CallerCopy, 1);

        copy->uid = c->caller->uid;
        copy->user = g_strdup(c->caller->user);
        copy->groups = g_strdupv(c->caller->groups);
        g_object_set_qdata_full(G_OBJECT(c->invocation), caller_quark(), copy,
                                (GDestroyNotify) caller_copy_free);
        if (c->authz->hooks.more_actions)
                c->authz->hooks.more_actions(c->invocation, c->caller->uid, c->actions,
                                             c->authz->hooks.user_data);
        check_next(c);
}

static void
on_credentials(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autofree char *sender = data;
        NlcAuthz *authz = installed;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply =
                g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
        g_autoptr(GVariant) creds = NULL;
        g_autoptr(GSList) waiting = NULL;
        Caller *caller = authz ? g_hash_table_lookup(authz->callers, sender) : NULL;
        guint32 uid, pid = 0;

        if (!caller)
                return; /* gone meanwhile: its calls were answered with it */
        waiting = g_steal_pointer(&caller->waiting);
        if (reply)
                creds = g_variant_get_child_value(reply, 0);
        if (!creds || !g_variant_lookup(creds, "UnixUserID", "u", &uid)) {
                g_hash_table_remove(authz->callers, sender);
                for (GSList *l = waiting; l; l = l->next) {
                        Check *c = l->data;

                        c->caller = NULL;
                        g_dbus_method_invocation_return_error(
                                c->invocation, NLC_ERROR, NLC_ERROR_NOT_AUTHORIZED,
                                "the bus does not say who %s is: %s", sender,
                                error ? error->message : "no UnixUserID");
                        check_free(c);
                }
                return;
        }
        g_variant_lookup(creds, "ProcessID", "u", &pid);
        caller->uid = uid;
        caller->pid = pid;
        read_account(caller);
        caller->known = TRUE;
        for (GSList *l = waiting; l; l = l->next)
                start_checks(l->data);
}

static void
with_caller(Check *c)
{
        NlcAuthz *authz = c->authz;
        const char *sender = g_dbus_method_invocation_get_sender(c->invocation);
        Caller *caller = sender ? g_hash_table_lookup(authz->callers, sender) : NULL;

        if (!sender) {
                refuse(c, "a peer-to-peer caller has no bus credentials");
                return;
        }
        if (!caller) {
                caller = g_new0(Caller, 1);
                g_hash_table_insert(authz->callers, g_strdup(sender), caller);
                g_dbus_connection_call(authz->connection, "org.freedesktop.DBus",
                                       "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                       "GetConnectionCredentials", g_variant_new("(s)", sender),
                                       G_VARIANT_TYPE("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                                       on_credentials, g_strdup(sender));
        }
        c->caller = caller;
        if (caller->known)
                start_checks(c);
        else
                caller->waiting = g_slist_append(caller->waiting, c);
}

/* A unique name is never reused: its credentials go with it. */
static void
on_name_gone(GDBusConnection *connection, const char *sender, const char *path, const char *iface,
             const char *signal, GVariant *params, gpointer data)
{
        NlcAuthz *authz = data;
        const char *name, *old_owner, *new_owner;
        Caller *caller;

        g_variant_get(params, "(&s&s&s)", &name, &old_owner, &new_owner);
        if (*new_owner || name[0] != ':')
                return;
        caller = g_hash_table_lookup(authz->callers, name);
        if (caller && !caller->waiting)
                g_hash_table_remove(authz->callers, name);
}

/* ---- the hook in the skeletons' vtable ------------------------------ */

typedef struct {
        GType type;
        GDBusInterfaceVTable *(*parent_get_vtable)(GDBusInterfaceSkeleton *skeleton);
        const GDBusInterfaceVTable *parent;
        GDBusInterfaceVTable vtable;
        const NlcPrivateProperty *private_property; /* or NULL */
} HookedClass;

/* A handful of classes, each hooked once at class_init. */
static HookedClass hooked[8];
static guint n_hooked;

static HookedClass *
hooked_class_of(GDBusInterfaceSkeleton *skeleton)
{
        for (GType t = G_OBJECT_TYPE(skeleton); t; t = g_type_parent(t))
                for (guint i = 0; i < n_hooked; i++)
                        if (hooked[i].type == t)
                                return &hooked[i];
        g_assert_not_reached();
}

static void
checked_method_call(GDBusConnection *connection, const char *sender, const char *path,
                    const char *interface, const char *method, GVariant *params,
                    GDBusMethodInvocation *invocation, gpointer user_data)
{
        GDBusInterfaceSkeleton *skeleton = user_data;
        HookedClass *h = hooked_class_of(skeleton);
        NlcAction action;
        Check *c;

        if (!installed) {
                h->parent->method_call(connection, sender, path, interface, method, params,
                                       invocation, user_data);
                return;
        }
        c = g_new0(Check, 1);
        c->authz = installed;
        c->skeleton = g_object_ref(skeleton);
        c->parent = h->parent;
        c->invocation = invocation;
        c->actions = g_array_new(FALSE, FALSE, sizeof(NlcAction));
        if (!nlc_method_action(interface, method, &action)) {
                refuse(c, "no action is defined for this method");
                return;
        }
        g_array_append_val(c->actions, action);
        with_caller(c);
}

/* The caller's credentials now, from the cache or asked of the bus: a
 * property is read synchronously. NULL when the bus does not say. */
static Caller *
caller_now(NlcAuthz *authz, const char *sender)
{
        Caller *caller = g_hash_table_lookup(authz->callers, sender);
        g_autoptr(GVariant) reply = NULL, creds = NULL;
        guint32 uid, pid = 0;

        if (caller && caller->known)
                return caller;
        reply = g_dbus_connection_call_sync(
                authz->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                "org.freedesktop.DBus", "GetConnectionCredentials", g_variant_new("(s)", sender),
                G_VARIANT_TYPE("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, 5000, NULL, NULL);
        if (reply)
                creds = g_variant_get_child_value(reply, 0);
        if (!creds || !g_variant_lookup(creds, "UnixUserID", "u", &uid))
                return NULL;
        g_variant_lookup(creds, "ProcessID", "u", &pid);
        if (!caller) {
                caller = g_new0(Caller, 1);
                g_hash_table_insert(authz->callers, g_strdup(sender), caller);
        }
        /* Calls waiting for the asynchronous answer take this one too. */
        if (!caller->known) {
                caller->uid = uid;
                caller->pid = pid;
                read_account(caller);
                caller->known = TRUE;
        }
        return caller;
}

/* Whether @caller holds @action, asked synchronously. */
static gboolean
holds_now(NlcAuthz *authz, const char *sender, Caller *caller, NlcAction action)
{
        g_autoptr(PolkitSubject) subject = NULL;
        g_autoptr(PolkitAuthorizationResult) r = NULL;

        if (authz->backend == NLC_AUTHZ_CONFIG) {
                NlcPrincipal who = { caller->uid, caller->user,
                                     (const char *const *) caller->groups };

                return nlc_principals_match(authz->rules[action], &who);
        }
        if (!authz->authority && !authz->authority_error)
                authz->authority = polkit_authority_get_sync(NULL, &authz->authority_error);
        if (!authz->authority)
                return FALSE;
        subject = authz->system_bus ? polkit_system_bus_name_new(sender)
                                    : polkit_unix_process_new_for_owner((gint) caller->pid, 0,
                                                                        (gint) caller->uid);
        r = polkit_authority_check_authorization_sync(
                authz->authority, subject, nlc_action_id(action), NULL,
                POLKIT_CHECK_AUTHORIZATION_FLAGS_NONE, NULL, NULL);
        return r && polkit_authorization_result_get_is_authorized(r);
}

static GVariant *
guarded_get_property(GDBusConnection *connection, const char *sender, const char *path,
                     const char *interface, const char *property, GError **error,
                     gpointer user_data)
{
        GDBusInterfaceSkeleton *skeleton = user_data;
        HookedClass *h = hooked_class_of(skeleton);
        const NlcPrivateProperty *p = h->private_property;
        Caller *caller;

        if (!p || !g_str_equal(property, p->name) || !installed || !sender)
                return h->parent->get_property(connection, sender, path, interface, property, error,
                                               user_data);
        caller = caller_now(installed, sender);
        if (caller && (caller->uid == p->owner(skeleton) ||
                       holds_now(installed, sender, caller, NLC_ACTION_MANAGE_ANY)))
                return p->reveal(skeleton);
        return h->parent->get_property(connection, sender, path, interface, property, error,
                                       user_data);
}

/* Properties.Set (AllowPostcopy) is a change like a method's: manage, and
 * manage-any-instance on another uid's object. Asked in place. */
static gboolean
guarded_set_property(GDBusConnection *connection, const char *sender, const char *path,
                     const char *interface, const char *property, GVariant *value, GError **error,
                     gpointer user_data)
{
        GDBusInterfaceSkeleton *skeleton = user_data;
        HookedClass *h = hooked_class_of(skeleton);
        const NlcPrivateProperty *p = h->private_property;
        Caller *caller;
        NlcAction missing;

        if (!installed || !sender)
                return h->parent->set_property(connection, sender, path, interface, property, value,
                                               error, user_data);
        caller = caller_now(installed, sender);
        if (!caller) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_NOT_AUTHORIZED,
                            "the bus does not say who %s is", sender);
                return FALSE;
        }
        if (!holds_now(installed, sender, caller, NLC_ACTION_MANAGE))
                missing = NLC_ACTION_MANAGE;
        else if (p && caller->uid != p->owner(skeleton) &&
                 !holds_now(installed, sender, caller, NLC_ACTION_MANAGE_ANY))
                missing = NLC_ACTION_MANAGE_ANY;
        else
                return h->parent->set_property(connection, sender, path, interface, property, value,
                                               error, user_data);
        g_set_error(error, NLC_ERROR, NLC_ERROR_NOT_AUTHORIZED,
                    "setting %s.%s: uid %u does not hold %s", interface, property, caller->uid,
                    nlc_action_id(missing));
        return FALSE;
}

static GDBusInterfaceVTable *
checked_get_vtable(GDBusInterfaceSkeleton *skeleton)
{
        HookedClass *h = hooked_class_of(skeleton);

        if (!h->parent) {
                h->parent = h->parent_get_vtable(skeleton);
                h->vtable = *h->parent;
                h->vtable.method_call = checked_method_call;
                if (h->private_property)
                        h->vtable.get_property = guarded_get_property;
                h->vtable.set_property = guarded_set_property;
        }
        return &h->vtable;
}

void
nlc_authz_hook_private_property(GDBusInterfaceSkeletonClass *klass,
                                const NlcPrivateProperty *property)
{
        for (guint i = 0; i < n_hooked; i++)
                if (hooked[i].type == G_TYPE_FROM_CLASS(klass))
                        hooked[i].private_property = property;
}

void
nlc_authz_hook_class(GDBusInterfaceSkeletonClass *klass)
{
        /* What the class has now: inherited, or its own (lazy properties
         * replace the property getter), whose method_call runs the handler. */
        g_assert(n_hooked < G_N_ELEMENTS(hooked));
        hooked[n_hooked++] = (HookedClass){ .type = G_TYPE_FROM_CLASS(klass),
                                            .parent_get_vtable = klass->get_vtable };
        klass->get_vtable = checked_get_vtable;
}

/* ---- life ----------------------------------------------------------- */

NlcAuthz *
nlc_authz_new(NlcAuthzBackend backend, const char *const *rules, const NlcAuthzHooks *hooks)
{
        NlcAuthz *authz = g_new0(NlcAuthz, 1);

        authz->backend = backend;
        for (guint i = 0; i <= NLC_ACTION_LAST; i++)
                authz->rules[i] = g_strdup(rules ? rules[i] : NULL);
        if (hooks)
                authz->hooks = *hooks;
        authz->callers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                               (GDestroyNotify) caller_free);
        return authz;
}

void
nlc_authz_set_connection(NlcAuthz *authz, GDBusConnection *connection, gboolean system_bus)
{
        authz->connection = g_object_ref(connection);
        authz->system_bus = system_bus;
        authz->gone_subscription = g_dbus_connection_signal_subscribe(
                connection, "org.freedesktop.DBus", "org.freedesktop.DBus", "NameOwnerChanged",
                "/org/freedesktop/DBus", NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_name_gone, authz, NULL);
}

void
nlc_authz_install(NlcAuthz *authz)
{
        installed = authz;
}

void
nlc_authz_free(NlcAuthz *authz)
{
        if (!authz)
                return;
        if (installed == authz)
                installed = NULL;
        if (authz->gone_subscription)
                g_dbus_connection_signal_unsubscribe(authz->connection, authz->gone_subscription);
        g_clear_object(&authz->connection);
        g_clear_object(&authz->authority);
        g_clear_error(&authz->authority_error);
        g_hash_table_unref(authz->callers);
        for (guint i = 0; i <= NLC_ACTION_LAST; i++)
                g_free(authz->rules[i]);
        g_free(authz);
}
