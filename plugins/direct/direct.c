/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * direct: a host netdev assigned to one guest. The device is taken as it is
 * (named, or the first free one of a pool), given the guest MAC at create and
 * kept down until activate; destroy puts back the MAC, MTU and up/down state
 * it had before create. With a PF and a VF index the VF is also programmed
 * through its PF: its administrative MAC at create, its link state disabled
 * until activate and again after deactivate.
 *
 * Not tried on SR-IOV hardware (the test kernels have no VF emulation): the
 * PF requests are checked byte for byte by tests/unit/test-vf-msg.c and the
 * code paths that send them ran only against devices that are not PFs. What
 * the PF driver then does (whether the VF netdev takes the new MAC at once,
 * whether it accepts an all-zero MAC to clear an unset one) is the driver's.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "nlc-announce.h"
#include "nlc-backend-util.h"
#include "nlc-error.h"
#include "nlc-names.h"
#include "nlc-netlink.h"
#include "nlc-plugin.h"
#include "nlc-port-profile.h"

static const NlcBackendOption options[] = {
        { "device", "s", "The host netdev to assign (this or 'pool')" },
        { "pool", "as", "Candidate netdevs; the first free one that exists is taken" },
        { "pf", "s", "PF of the VF 'device' is, to program the VF through (with 'vf')" },
        { "vf", "u", "Index of that VF on 'pf' (with 'pf')" },
        NLC_PORT_PROFILE_OPTIONS,
        { NULL },
};

/* What create saves and destroy puts back, in dev->props. */
static const char *const saved_keys[] = {
        "saved-mac", "saved-mtu", "saved-up", "saved-vf-mac", "saved-vf-state",
};

static const char *
ifname_of(const NlcBackendDevice *dev)
{
        return nlc_backend_device_get_prop(dev, "ifname");
}

static gboolean
has_vf(const NlcBackendDevice *dev)
{
        return nlc_backend_device_get_prop(dev, "pf") != NULL;
}

static guint32
vf_of(const NlcBackendDevice *dev)
{
        return (guint32) g_ascii_strtoull(nlc_backend_device_get_prop(dev, "vf"), NULL, 10);
}

/* Saved MACs may be anything the device had, so not nlc_mac_parse(), which
 * refuses what a guest must not use. */
static gboolean
parse_saved_mac(const char *s, guint8 mac[6])
{
        return s && sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3],
                           &mac[4], &mac[5]) == 6;
}

/* The first candidate that exists and no record holds. */
static gboolean
take_from_pool(NlcBackendDevice *dev, const char *const *pool, const NlcBackendHost *host,
               GError **error)
{
        g_autofree char *names = NULL;
        NlcLinkInfo link;

        if (!pool[0]) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS, "option 'pool' is empty");
                return FALSE;
        }
        for (guint i = 0; pool[i]; i++)
                if (!nlc_ifname_validate(pool[i], error))
                        return FALSE;
        for (guint i = 0; pool[i]; i++) {
                /* A candidate the caller may not take is passed over. */
                if (host->ifname_reserved(pool[i], host->user_data) ||
                    nlc_link_get(pool[i], &link) < 0 ||
                    !nlc_backend_may_use(host, "device", pool[i], NULL))
                        continue;
                nlc_backend_device_set_prop(dev, "ifname", pool[i]);
                return TRUE;
        }
        names = g_strjoinv(", ", (char **) pool);
        g_set_error(error, NLC_ERROR, NLC_ERROR_BUSY,
                    "pool %s has no free device this caller may take", names);
        return FALSE;
}

static gboolean
get_pf(const char *name, NlcError missing_code, NlcLinkInfo *out, GError **error)
{
        int r = nlc_link_get(name, out);

        if (r == -ENODEV) {
                g_set_error(error, NLC_ERROR, missing_code, "PF '%s' does not exist", name);
                return FALSE;
        }
        if (r < 0)
                return nlc_error_set_errno(error, r, "cannot look up PF '%s'", name);
        return TRUE;
}

static gboolean
direct_allocate(NlcBackendDevice *dev, GVariantDict *opts, const NlcBackendHost *host,
                GError **error)
{
        NlcPortProfile profile;
        const char *device = NULL, *pf = NULL;
        g_autofree const char **pool = NULL;
        gboolean with_pf, with_vf;
        guint32 vf = 0;
        NlcLinkInfo pf_link;

        if (!nlc_port_profile_from_options(opts, &profile, error))
                return FALSE;
        if (profile.kind != NLC_PORT_PROFILE_NONE) {
                nlc_port_profile_set_not_applied(&profile, "direct", error);
                return FALSE;
        }
        g_variant_dict_lookup(opts, "device", "&s", &device);
        g_variant_dict_lookup(opts, "pool", "^a&s", &pool);
        if (!device == !pool) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                            "backend direct needs exactly one of options 'device' and 'pool'");
                return FALSE;
        }
        with_pf = g_variant_dict_lookup(opts, "pf", "&s", &pf);
        with_vf = g_variant_dict_lookup(opts, "vf", "u", &vf);
        if (with_pf != with_vf) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                            "options 'pf' and 'vf' go together");
                return FALSE;
        }
        /* A VF index names one device; a pool would hand out others. */
        if (with_pf && !device) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                            "options 'pf' and 'vf' need 'device' (the VF's netdev), not 'pool'");
                return FALSE;
        }
        if (host->adopting && !device) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                            "adopting a device needs option 'device'");
                return FALSE;
        }
        if (with_pf && !get_pf(pf, NLC_ERROR_INVALID_ARGS, &pf_link, error))
                return FALSE;
        if (device ? !nlc_backend_reserve_ifname(dev, device, NULL, host, error) ||
                             !nlc_backend_may_use(host, "device", device, error)
                   : !take_from_pool(dev, pool, host, error))
                return FALSE;
        if (with_pf) {
                g_autofree char *vf_str = g_strdup_printf("%u", vf);

                nlc_backend_device_set_prop(dev, "pf", pf);
                nlc_backend_device_set_prop(dev, "vf", vf_str);
        }
        return TRUE;
}

static gboolean
get_device(const NlcBackendDevice *dev, NlcLinkInfo *out, GError **error)
{
        int r = nlc_link_get(ifname_of(dev), out);

        if (r == -ENODEV) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_NOT_FOUND, "device %s does not exist",
                            ifname_of(dev));
                return FALSE;
        }
        if (r < 0)
                return nlc_error_set_errno(error, r, "cannot look up %s", ifname_of(dev));
        return TRUE;
}

/* Saves what destroy puts back, once: a create retried after a failure or a
 * crash must not save the guest MAC as the device's own. Returns TRUE when
 * this call saved it. */
static gboolean
save_state(NlcBackendDevice *dev, const NlcLinkInfo *link, const NlcLinkInfo *pf)
{
        g_autofree char *mac = NULL, *mtu = NULL, *vf_mac_str = NULL, *vf_state_str = NULL;
        guint8 vf_mac[6];
        NlcVfLinkState vf_state;
        int r;

        if (nlc_backend_device_get_prop(dev, "saved-mac"))
                return FALSE;
        mac = nlc_mac_to_string(link->mac);
        mtu = g_strdup_printf("%u", link->mtu);
        nlc_backend_device_set_prop(dev, "saved-mac", mac);
        nlc_backend_device_set_prop(dev, "saved-mtu", mtu);
        nlc_backend_device_set_prop(dev, "saved-up", (link->flags & IFF_UP) ? "1" : "0");
        if (!pf)
                return TRUE;
        r = nlc_vf_get_info(pf->ifindex, vf_of(dev), vf_mac, &vf_state);
        if (r < 0) {
                g_message("direct: cannot read VF %u of %s (%s); destroy will set its link state "
                          "to auto and leave its MAC",
                          vf_of(dev), pf->name, g_strerror(-r));
                return TRUE;
        }
        vf_mac_str = nlc_mac_to_string(vf_mac);
        vf_state_str = g_strdup_printf("%d", (int) vf_state);
        nlc_backend_device_set_prop(dev, "saved-vf-mac", vf_mac_str);
        nlc_backend_device_set_prop(dev, "saved-vf-state", vf_state_str);
        return TRUE;
}

static void
drop_saved(NlcBackendDevice *dev)
{
        for (guint i = 0; i < G_N_ELEMENTS(saved_keys); i++)
                nlc_backend_device_set_prop(dev, saved_keys[i], NULL);
}

static gboolean
set_down(const NlcLinkInfo *link, GError **error)
{
        int r;

        if (!(link->flags & IFF_UP))
                return TRUE;
        r = nlc_link_set_up(link->ifindex, FALSE);
        if (r < 0)
                return nlc_error_set_errno(error, r, "cannot set %s down", link->name);
        return TRUE;
}

static gboolean
set_mac(const NlcLinkInfo *link, const guint8 mac[6], GError **error)
{
        g_autofree char *s = NULL;
        int r;

        if (memcmp(link->mac, mac, 6) == 0)
                return TRUE;
        r = nlc_link_set_address(link->ifindex, mac);
        if (r < 0) {
                s = nlc_mac_to_string(mac);
                return nlc_error_set_errno(error, r, "cannot set MAC %s on %s", s, link->name);
        }
        return TRUE;
}

static gboolean
set_vf_state(const NlcBackendDevice *dev, const NlcLinkInfo *pf, NlcVfLinkState state,
             GError **error)
{
        int r = nlc_vf_set_link_state(pf->ifindex, vf_of(dev), state);

        if (r < 0)
                return nlc_error_set_errno(error, r, "cannot set the link state of VF %u of %s",
                                           vf_of(dev), pf->name);
        return TRUE;
}

/* The VF's administrative MAC and link state, as saved; a VF whose config
 * could not be read gets the kernel's default link state (auto) so it is
 * not left disabled. Failures are logged: the VF goes with its PF anyway. */
static void
restore_vf(NlcBackendDevice *dev)
{
        const char *pf_name = nlc_backend_device_get_prop(dev, "pf");
        const char *state = nlc_backend_device_get_prop(dev, "saved-vf-state");
        guint8 mac[6];
        NlcLinkInfo pf;
        int r;

        if (nlc_link_get(pf_name, &pf) < 0)
                return;
        if (parse_saved_mac(nlc_backend_device_get_prop(dev, "saved-vf-mac"), mac)) {
                r = nlc_vf_set_mac(pf.ifindex, vf_of(dev), mac);
                if (r < 0)
                        g_message("direct: cannot put back the MAC of VF %u of %s: %s", vf_of(dev),
                                  pf.name, g_strerror(-r));
        }
        r = nlc_vf_set_link_state(pf.ifindex, vf_of(dev),
                                  state ? (NlcVfLinkState) g_ascii_strtoull(state, NULL, 10)
                                        : NLC_VF_LINK_STATE_AUTO);
        if (r < 0)
                g_message("direct: cannot put back the link state of VF %u of %s: %s", vf_of(dev),
                          pf.name, g_strerror(-r));
}

/* Puts back exactly what save_state() saved, then forgets it. Nothing saved
 * (an adopted device): the device stays as it is. */
static gboolean
restore_state(NlcBackendDevice *dev, GError **error)
{
        const char *mtu = nlc_backend_device_get_prop(dev, "saved-mtu");
        guint8 mac[6];
        NlcLinkInfo link;
        int r = nlc_link_get(ifname_of(dev), &link);

        if (r == -ENODEV) {
                /* The netdev went away; a VF outlives its netdev (a driver
                 * unbound), so the PF's side is still put back. */
                if (has_vf(dev) && nlc_backend_device_get_prop(dev, "saved-mac"))
                        restore_vf(dev);
                drop_saved(dev);
                return TRUE;
        }
        if (r < 0)
                return nlc_error_set_errno(error, r, "cannot look up %s", ifname_of(dev));
        if (!parse_saved_mac(nlc_backend_device_get_prop(dev, "saved-mac"), mac)) {
                drop_saved(dev);
                return TRUE;
        }
        /* Down first: many drivers refuse a MAC change on a running device. */
        if (!set_down(&link, error))
                return FALSE;
        if (has_vf(dev))
                restore_vf(dev);
        if (!set_mac(&link, mac, error))
                return FALSE;
        if (mtu && link.mtu != (guint) g_ascii_strtoull(mtu, NULL, 10)) {
                r = nlc_link_set_mtu(link.ifindex, (guint) g_ascii_strtoull(mtu, NULL, 10));
                if (r < 0)
                        return nlc_error_set_errno(error, r, "cannot put back MTU %s on %s", mtu,
                                                   link.name);
        }
        if (g_strcmp0(nlc_backend_device_get_prop(dev, "saved-up"), "1") == 0) {
                r = nlc_link_set_up(link.ifindex, TRUE);
                if (r < 0)
                        return nlc_error_set_errno(error, r, "cannot set %s up again", link.name);
        }
        drop_saved(dev);
        return TRUE;
}

/* The VF's side of create: its administrative MAC, and no link until
 * activate. Before the netdev's own MAC, which the VF driver may only take
 * once the PF allowed it. */
static gboolean
program_vf(NlcBackendDevice *dev, const NlcLinkInfo *pf, GError **error)
{
        int r = nlc_vf_set_mac(pf->ifindex, vf_of(dev), dev->mac);

        if (r < 0)
                return nlc_error_set_errno(error, r, "cannot set MAC %s on VF %u of %s",
                                           dev->mac_str, vf_of(dev), pf->name);
        return set_vf_state(dev, pf, NLC_VF_LINK_STATE_DISABLE, error);
}

static gboolean
configure(NlcBackendDevice *dev, const NlcLinkInfo *pf, GError **error)
{
        NlcLinkInfo link;

        if (!get_device(dev, &link, error) || !set_down(&link, error))
                return FALSE;
        if (pf && !program_vf(dev, pf, error))
                return FALSE;
        /* Read again: programming the VF may have changed the netdev's MAC. */
        return get_device(dev, &link, error) && set_mac(&link, dev->mac, error);
}

static gboolean
direct_create(NlcBackendDevice *dev, GError **error)
{
        g_autoptr(GError) undo_error = NULL;
        NlcLinkInfo link, pf;
        gboolean saved;

        if (!get_device(dev, &link, error))
                return FALSE;
        if (has_vf(dev) &&
            !get_pf(nlc_backend_device_get_prop(dev, "pf"), NLC_ERROR_NOT_FOUND, &pf, error))
                return FALSE;
        saved = save_state(dev, &link, has_vf(dev) ? &pf : NULL);
        /* The saved MAC/MTU/state must be on disk before the MAC changes: a
         * crash in between would otherwise make the retry save the guest's. */
        if (saved && !dev->persist(dev, error)) {
                drop_saved(dev);
                return FALSE;
        }
        if (configure(dev, has_vf(dev) ? &pf : NULL, error))
                return TRUE;
        /* Undo what this call changed; a retry keeps the state saved first. */
        if (saved && !restore_state(dev, &undo_error))
                g_message("direct: cannot put %s back: %s", ifname_of(dev), undo_error->message);
        return FALSE;
}

static gboolean
direct_announce(NlcBackendDevice *dev, GError **error)
{
        NlcLinkInfo link;
        int r;

        if (!get_device(dev, &link, error))
                return FALSE;
        r = nlc_announce_rarp_packet(link.ifindex, dev->mac);
        if (r < 0)
                return nlc_error_set_errno(error, r, "cannot send a RARP on %s", link.name);
        return TRUE;
}

/* Link state of the VF, where there is one, for @active. */
static gboolean
apply_vf_state(NlcBackendDevice *dev, gboolean active, GError **error)
{
        NlcLinkInfo pf;

        if (!has_vf(dev))
                return TRUE;
        if (!get_pf(nlc_backend_device_get_prop(dev, "pf"), NLC_ERROR_NOT_FOUND, &pf, error))
                return FALSE;
        return set_vf_state(dev, &pf, active ? NLC_VF_LINK_STATE_AUTO : NLC_VF_LINK_STATE_DISABLE,
                            error);
}

static gboolean
set_up(const NlcLinkInfo *link, GError **error)
{
        int r;

        if (link->flags & IFF_UP)
                return TRUE;
        r = nlc_link_set_up(link->ifindex, TRUE);
        if (r < 0)
                return nlc_error_set_errno(error, r, "cannot set %s up", link->name);
        return TRUE;
}

static gboolean
direct_activate(NlcBackendDevice *dev, GError **error)
{
        g_autoptr(GError) announce_error = NULL;
        NlcLinkInfo link;

        if (!get_device(dev, &link, error) || !apply_vf_state(dev, TRUE, error) ||
            !set_up(&link, error))
                return FALSE;
        /* The MAC's location is already right; a lost announce is repaired by
         * the next one (Announce()), so it does not undo the activation. */
        if (!direct_announce(dev, &announce_error))
                g_message("direct: %s active without announce: %s", link.name,
                          announce_error->message);
        return TRUE;
}

static gboolean
direct_deactivate(NlcBackendDevice *dev, GError **error)
{
        NlcLinkInfo link;
        int r = nlc_link_get(ifname_of(dev), &link);

        if (r == -ENODEV)
                return TRUE; /* no device, no MAC held */
        if (r < 0)
                return nlc_error_set_errno(error, r, "cannot look up %s", ifname_of(dev));
        return set_down(&link, error) && apply_vf_state(dev, FALSE, error);
}

static gboolean
direct_destroy(NlcBackendDevice *dev, GError **error)
{
        return restore_state(dev, error);
}

/*
 * Adopts or re-verifies: the device must exist and carry the guest MAC; its
 * link (and the VF's, where there is one) follows the record's state. An
 * adopted device has nothing saved, so destroy leaves it as it is.
 */
static gboolean
direct_notify(NlcBackendDevice *dev, NlcDeviceState *state, GError **error)
{
        const char *ifname = ifname_of(dev);
        NlcLinkInfo link;
        gboolean up;
        int r;

        if (*state == NLC_DEVICE_STATE_ALLOCATED || *state == NLC_DEVICE_STATE_DESTROYED)
                return TRUE; /* the device is the host's until create */
        r = nlc_link_get(ifname, &link);
        if (r == -ENODEV && *state == NLC_DEVICE_STATE_NONE) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_NOT_FOUND,
                            "there is no interface %s to adopt", ifname);
                return FALSE;
        }
        if (r == -ENODEV) {
                /* A host device cannot be made again; it may come back. */
                g_set_error(error, NLC_ERROR, NLC_ERROR_NOT_FOUND, "device %s vanished", ifname);
                return FALSE;
        }
        if (r < 0)
                return nlc_error_set_errno(error, r, "cannot look up %s", ifname);
        if (memcmp(link.mac, dev->mac, 6) != 0) {
                g_autofree char *have = nlc_mac_to_string(link.mac);

                if (*state == NLC_DEVICE_STATE_NONE) {
                        g_set_error(error, NLC_ERROR, NLC_ERROR_CONFLICT,
                                    "%s has MAC %s, not the guest's %s", ifname, have,
                                    dev->mac_str);
                        return FALSE;
                }
                g_message("direct: %s had MAC %s; set to %s again", ifname, have, dev->mac_str);
                if (!set_mac(&link, dev->mac, error))
                        return FALSE;
        }
        up = (link.flags & IFF_UP) != 0;
        if (*state == NLC_DEVICE_STATE_NONE) {
                *state = up ? NLC_DEVICE_STATE_ACTIVE : NLC_DEVICE_STATE_CREATED;
                return TRUE;
        }
        /* Setting the VF's link state to what it should be changes nothing
         * when it already is; its current value would need a VF dump. */
        if (!apply_vf_state(dev, *state == NLC_DEVICE_STATE_ACTIVE, error))
                return FALSE;
        if (*state == NLC_DEVICE_STATE_ACTIVE && !up) {
                g_message("direct: %s is active but was down; set up again", ifname);
                return set_up(&link, error);
        }
        if (*state == NLC_DEVICE_STATE_CREATED && up) {
                /* Only an active device may hold its MAC. */
                g_message("direct: %s is inactive but was up; set down", ifname);
                return set_down(&link, error);
        }
        return TRUE;
}

/* A VF's traffic leaves through its PF's port, whose carrier the host sees
 * while the VF is held down; without a PF the device itself, held down until
 * activate, shows no carrier before (so it is not Ready before). */
static const char *
direct_carrier_link(const NlcBackendDevice *dev)
{
        return has_vf(dev) ? nlc_backend_device_get_prop(dev, "pf") : NULL;
}

/* clang-format off: one member per line reads as the table it is. */
NLC_BACKEND_DEFINE(nlc_backend_direct,
        .name = "direct",
        .description = "host netdev (or SR-IOV VF) assigned to one guest",
        .options = options,
        /* No queues to hand over; the device is down until activate, which
         * is one link-up (and one VF link state) away. */
        .caps = {
                .fd_handover = FALSE,
                .quiet_until_activate = TRUE,
                .postcopy_safe = TRUE,
        },
        .allocate = direct_allocate,
        .create = direct_create,
        .activate = direct_activate,
        .deactivate = direct_deactivate,
        .destroy = direct_destroy,
        .free = NULL, /* the daemon releases the name, and with it the device */
        .notify = direct_notify,
        .announce = direct_announce,
        .carrier_link = direct_carrier_link);
/* clang-format on */
