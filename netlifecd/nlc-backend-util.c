/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "nlc-backend-util.h"
#include "nlc-error.h"
#include "nlc-names.h"

static const char *
noun_of(const char *kind)
{
        if (!kind)
                return "interface";
        /* The kernel calls taps "tun" links; operators call them taps. */
        return g_str_equal(kind, "tun") ? "tap" : kind;
}

int
nlc_backend_get_link(const char *ifname, const char *kind, NlcLinkInfo *out, GError **error)
{
        int r = nlc_link_get(ifname, out);

        if (r == -ENODEV)
                return 0;
        if (r < 0)
                return nlc_error_set_errno(error, r, "cannot look up %s", ifname) - 1;
        if (kind && !g_str_equal(out->kind, kind)) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_CONFLICT,
                            "%s exists and is not a %s (its kind is '%s')", ifname, noun_of(kind),
                            *out->kind ? out->kind : "none");
                return -1;
        }
        return 1;
}

int
nlc_backend_destroy_link(const char *ifname, const char *kind, GError **error)
{
        NlcLinkInfo link;
        int exists = nlc_backend_get_link(ifname, kind, &link, error);

        return exists > 0 ? link.ifindex : exists < 0 ? -EEXIST : 0;
}

/* @requested must exist: adopting, or a host device taken as it is. */
static gboolean
check_exists(const char *requested, const char *kind, gboolean adopting, GError **error)
{
        NlcLinkInfo link;
        int r = nlc_backend_get_link(requested, kind, &link, error);

        if (r == 0 && adopting)
                g_set_error(error, NLC_ERROR, NLC_ERROR_NOT_FOUND, "there is no %s %s to adopt",
                            noun_of(kind), requested);
        else if (r == 0)
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS, "there is no %s %s",
                            noun_of(kind), requested);
        return r > 0;
}

static gboolean
reserve_requested(NlcBackendDevice *dev, const char *requested, const char *kind,
                  const NlcBackendHost *host, GError **error)
{
        NlcLinkInfo link;

        if (!nlc_ifname_validate(requested, error))
                return FALSE;
        if (host->ifname_reserved(requested, host->user_data)) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_CONFLICT,
                            "interface name %s is reserved by another device", requested);
                return FALSE;
        }
        if (host->adopting || !kind) {
                if (!check_exists(requested, kind, host->adopting, error))
                        return FALSE;
        } else if (nlc_link_get(requested, &link) == 0) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_CONFLICT, "interface %s already exists",
                            requested);
                return FALSE;
        }
        nlc_backend_device_set_prop(dev, "ifname", requested);
        return TRUE;
}

gboolean
nlc_backend_reserve_ifname(NlcBackendDevice *dev, const char *requested, const char *kind,
                           const NlcBackendHost *host, GError **error)
{
        g_autofree char *name = NULL;
        NlcLinkInfo link;

        if (requested)
                return reserve_requested(dev, requested, kind, host, error);
        if (!kind) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                            "device %s needs the name of an existing interface", dev->id);
                return FALSE;
        }
        /* nlc<id> is unique among our records; step aside from foreign links. */
        for (guint k = 0; k < 100; k++) {
                g_free(name);
                name = k ? g_strdup_printf("nlc%s-%u", dev->id, k)
                         : g_strdup_printf("nlc%s", dev->id);
                if (strlen(name) >= IF_NAMESIZE)
                        break;
                if (!host->ifname_reserved(name, host->user_data) &&
                    nlc_link_get(name, &link) == -ENODEV) {
                        nlc_backend_device_set_prop(dev, "ifname", name);
                        return TRUE;
                }
        }
        g_set_error(error, NLC_ERROR, NLC_ERROR_BUSY, "no free interface name for device %s",
                    dev->id);
        return FALSE;
}

void
nlc_backend_host_ipv6_off(const char *ifname)
{
        int r = nlc_link_disable_ipv6(ifname);

        if (r < 0)
                g_message("cannot turn the host's IPv6 off on %s: %s", ifname, g_strerror(-r));
}

gboolean
nlc_backend_may_use(const NlcBackendHost *host, const char *kind, const char *name, GError **error)
{
        return !host->may_use || host->may_use(kind, name, host->user_data, error);
}
