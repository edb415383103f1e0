/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the host lets callers use, from [allow] in the configuration: the
 * bridges, lower devices and host netdevs a backend's allocate asks about
 * (NlcBackendHost.may_use), never the uplink of the default route for a
 * direct device, and the QMP sockets AttachQemu may connect the root daemon
 * to. Refusals are NotAuthorized naming the file and the key.
 */
#include <stdlib.h>
#include <sys/stat.h>

#include "nlc-authz.h"
#include "nlc-error.h"
#include "nlc-manager-private.h"
#include "nlc-names.h"
#include "nlc-netlink.h"

gboolean
nlc_manager_ifname_reserved(const char *ifname, gpointer user_data)
{
        HostCall *call = user_data;

        return g_hash_table_contains(call->self->by_ifname, ifname);
}

static gboolean
is_default_route_device(const char *name)
{
        g_autoptr(GArray) uplinks = g_array_new(FALSE, FALSE, sizeof(int));
        NlcLinkInfo link;

        if (nlc_link_get(name, &link) < 0 || nlc_route_default_ifindexes(uplinks) < 0)
                return FALSE;
        for (guint i = 0; i < uplinks->len; i++)
                if (g_array_index(uplinks, int, i) == link.ifindex)
                        return TRUE;
        return FALSE;
}

/* The [allow] lists of the configuration; a direct device never the
 * host's uplink, and none unless listed. */
gboolean
nlc_manager_may_use(const char *kind, const char *name, gpointer user_data, GError **error)
{
        HostCall *call = user_data;
        const NlcConfig *c = &call->self->host;
        NlcAllowKind k = g_str_equal(kind, "bridge")  ? NLC_ALLOW_BRIDGES
                         : g_str_equal(kind, "lower") ? NLC_ALLOW_MACVTAP_LINKS
                                                      : NLC_ALLOW_DIRECT_DEVICES;

        if (k == NLC_ALLOW_DIRECT_DEVICES && is_default_route_device(name)) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_NOT_AUTHORIZED,
                            "%s carries the host's default route: no guest may take it", name);
                return FALSE;
        }
        if (c->has_allow[k] ? nlc_allow_list_match(c->allow[k], name, FALSE, &call->who)
                            : k != NLC_ALLOW_DIRECT_DEVICES)
                return TRUE;
        g_set_error(error, NLC_ERROR, NLC_ERROR_NOT_AUTHORIZED,
                    "%s %s is not allowed for uid %u%s%s%s: %s [allow] %s%s",
                    k == NLC_ALLOW_BRIDGES         ? "bridge"
                    : k == NLC_ALLOW_MACVTAP_LINKS ? "lower device"
                                                   : "host device",
                    name, call->who.uid, call->who.user ? " (" : "",
                    call->who.user ? call->who.user : "", call->who.user ? ")" : "",
                    c->path[0] ? c->path : "the configuration", nlc_allow_key(k),
                    c->has_allow[k] ? "" : " is not set (none unless listed)");
        return FALSE;
}

void
nlc_manager_host_call_init(HostCall *call, NlcManager *self, GDBusMethodInvocation *invocation)
{
        static const char *const root_groups[] = { "root", NULL };

        call->self = self;
        if (!nlc_authz_caller(invocation, &call->who))
                call->who = (NlcPrincipal){ 0, "root", root_groups };
}

gboolean
nlc_manager_check_qmp_socket(NlcManager *self, GDBusMethodInvocation *invocation, const char *path,
                             GError **error)
{
        const NlcConfig *c = &self->host;
        g_autofree char *quoted = nlc_excerpt(path, 200);
        g_autofree char *dir = g_path_get_dirname(path);
        g_autofree char *real = NULL;
        const char *owned = path;
        HostCall call;
        struct stat st;

        nlc_manager_host_call_init(&call, self, invocation);
        /* The root daemon connects to what the caller names, and later copies
         * tun fds out of whoever listens there: only the caller's own
         * socket, or one in a directory the host lists. A socket QEMU has
         * not made yet (the daemon waits for it) is judged by its directory,
         * which the caller must own. */
        if (!g_path_is_absolute(path)) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                            "'%s' is not an absolute path", quoted);
                return FALSE;
        }
        if (stat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode)) {
                        g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                                    "'%s' is not a unix socket", quoted);
                        return FALSE;
                }
        } else if (stat(dir, &st) == 0) {
                owned = dir;
        } else {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                            "'%s' is not a socket path in an existing directory", quoted);
                return FALSE;
        }
        if (st.st_uid == call.who.uid)
                return TRUE;
        real = realpath(owned, NULL);
        if (real && owned == dir) { /* no socket yet: what would be below it */
                g_autofree char *in_dir = g_steal_pointer(&real);

                real = g_build_filename(in_dir, "socket", NULL);
        }
        if (real && c->has_allow[NLC_ALLOW_QMP_DIRS] &&
            nlc_allow_list_match(c->allow[NLC_ALLOW_QMP_DIRS], real, TRUE, &call.who))
                return TRUE;
        g_set_error(error, NLC_ERROR, NLC_ERROR_NOT_AUTHORIZED,
                    "the QMP socket %s%s belongs to uid %u, not to the caller (uid %u), and %s "
                    "[allow] qmp-dirs does not list its directory for the caller",
                    quoted, owned == dir ? " (its directory: no socket yet)" : "",
                    (guint) st.st_uid, call.who.uid, c->path[0] ? c->path : "the configuration");
        return FALSE;
}

gboolean
nlc_manager_qmp_dir_listed(NlcManager *self, const char *path, guint32 uid)
{
        const NlcConfig *c = &self->host;
        g_autoptr(NlcPrincipal) owner = NULL;
        g_autofree char *dir = g_path_get_dirname(path);
        g_autofree char *real_dir = NULL, *real = NULL;

        if (!c->has_allow[NLC_ALLOW_QMP_DIRS] || !(real_dir = realpath(dir, NULL)))
                return FALSE;
        real = g_build_filename(real_dir, "socket", NULL);
        owner = nlc_principal_new_for_uid(uid);
        return nlc_allow_list_match(c->allow[NLC_ALLOW_QMP_DIRS], real, TRUE, owner);
}
