/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What backends share about the interface a device record names: looking it
 * up with the kind the backend expects, and reserving its name at allocate.
 * Messages name the device by what the operator knows it as: a "tun" link is
 * a "tap", any other kind is named by its kind, no kind is an "interface".
 */
#pragma once

#include <glib.h>

#include "nlc-netlink.h"
#include "nlc-plugin.h"

G_BEGIN_DECLS

/*
 * Looks @ifname up; when it exists and @kind is not NULL, its link kind must
 * be @kind (else Conflict). Returns 1 when it exists, 0 when it does not, -1
 * with @error set otherwise.
 */
int nlc_backend_get_link(const char *ifname, const char *kind, NlcLinkInfo *out, GError **error);

/* A backend's destroy_link (plugin ABI 1.3) for a device that is the link
 * @ifname of kind @kind: its ifindex, 0 when it is gone, -EEXIST with @error
 * set when it cannot be looked up or is of another kind. */
int nlc_backend_destroy_link(const char *ifname, const char *kind, GError **error);

/*
 * Reserves the record's interface name at allocate and stores it in the
 * "ifname" prop (the daemon's ifname_reserved() then keeps other records off
 * it). A name reserved by another record is a Conflict.
 *
 * @kind names the link kind the backend creates ("tun", "macvtap"): then
 * @requested must not exist yet, or, when @host is adopting, must exist with
 * that kind (NotFound if it does not); without @requested the first free name
 * of nlc<id>, nlc<id>-1, ... is taken.
 *
 * @kind NULL is for a backend that takes an existing host device instead of
 * creating one: @requested is required and must exist, of any kind
 * (InvalidArgs naming it if it does not; NotFound when adopting).
 */
gboolean nlc_backend_reserve_ifname(NlcBackendDevice *dev, const char *requested, const char *kind,
                                    const NlcBackendHost *host, GError **error);

/* Whether the caller may use the host object @name of @kind (the daemon's
 * [allow] lists; host->may_use); TRUE when the daemon does not check. */
gboolean nlc_backend_may_use(const NlcBackendHost *host, const char *kind, const char *name,
                             GError **error);

/* Turns the host's IPv6 off on a guest's interface @ifname, which needs no
 * host address; a failure is logged, not returned: the guest's traffic does
 * not depend on it. */
void nlc_backend_host_ipv6_off(const char *ifname);

G_END_DECLS
