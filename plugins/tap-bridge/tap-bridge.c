/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tap-bridge: a persistent tap enslaved to a Linux bridge. The port never
 * learns (the guest MAC's location is a static FDB entry the daemon owns) and
 * is not flooded with unknown unicast; the daemon holds the queues from create
 * on, so the port has carrier and STP starts counting before the guest runs.
 *
 * The port is the guest's, and the guest is not trusted with the bridge,
 * which every guest on it and the host's uplink share: it never becomes the
 * root port (root_block), a BPDU from it disables it (bpdu_guard, option
 * "bpdu-guard"), and it is locked (option "lock-mac"): the bridge takes a
 * frame from it only when its source MAC has an FDB entry on this port,
 * which is the static entry of the guest MAC the daemon installs at
 * Activate: a guest sending as another MAC, or sending at all while its
 * device is not active, gets nothing through.
 */
#include <errno.h>
#include <net/if.h>
#include <unistd.h>

#include "nlc-announce.h"
#include "nlc-backend-util.h"
#include "nlc-error.h"
#include "nlc-netlink.h"
#include "nlc-plugin.h"
#include "nlc-tap.h"

#define MAX_QUEUES 16

static const NlcBackendOption options[] = {
        { "bridge", "s", "Linux bridge to enslave the tap to (required)" },
        { "ifname", "s", "Name of the tap (default nlc<id>)" },
        { "queues", "u", "Number of tap queues, 1-16 (default 1; more is a multiqueue tap)" },
        { "shareable", "b",
          "Multiqueue tap even with one queue, so Device.ShareQueues can give a second QEMU "
          "the same port (localhost live upgrade)" },
        { "bpdu-guard", "b",
          "A BPDU from the guest disables its port (default true; the port never becomes the "
          "root port either way)" },
        { "lock-mac", "b",
          "The bridge drops what the guest sends with a source MAC other than its own, and "
          "everything while the device is not active (default true; false for a guest that "
          "uses other MACs)" },
        { NULL },
};

/* Both guards are on unless the device was allocated with them off. */
static gboolean
guard_on(NlcBackendDevice *dev, const char *option)
{
        return g_strcmp0(nlc_backend_device_get_prop(dev, option), "false") != 0;
}

static const char *
ifname_of(const NlcBackendDevice *dev)
{
        return nlc_backend_device_get_prop(dev, "ifname");
}

static guint
queues_of(const NlcBackendDevice *dev)
{
        const char *q = nlc_backend_device_get_prop(dev, "queues");

        return q ? (guint) g_ascii_strtoull(q, NULL, 10) : 1;
}

static gboolean
shareable(const NlcBackendDevice *dev)
{
        return g_strcmp0(nlc_backend_device_get_prop(dev, "shareable"), "true") == 0;
}

/* The peer (a localhost upgrade's other QEMU) holds the MAC on this port. */
static gboolean
peer_holds_mac(const NlcBackendDevice *dev)
{
        return dev->peer && dev->peer->state == NLC_DEVICE_STATE_ACTIVE;
}

/* The bridge, which must exist and be a bridge. */
static gboolean
get_bridge(const char *name, NlcError missing_code, NlcLinkInfo *out, GError **error)
{
        int r = nlc_link_get(name, out);

        if (r == -ENODEV) {
                g_set_error(error, NLC_ERROR, missing_code, "bridge '%s' does not exist", name);
                return FALSE;
        }
        if (r < 0)
                return nlc_error_set_errno(error, r, "cannot look up bridge '%s'", name);
        if (!g_str_equal(out->kind, "bridge")) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                            "'%s' is not a bridge (its kind is '%s')", name,
                            *out->kind ? out->kind : "none");
                return FALSE;
        }
        return TRUE;
}

/* A VLAN-aware bridge is refused, not half-served: the guest MAC's static
 * entry carries no VLAN (NDA_VLAN) and unicast flood is off on the port, so
 * the guest's traffic on any VLAN but the default would be dropped. Kernels
 * without CONFIG_BRIDGE_VLAN_FILTERING (the test machines') cannot make such
 * a bridge, so this is unit-tested on the message only. */
static gboolean
refuse_vlan_filtering(const NlcLinkInfo *br, GError **error)
{
        int r = nlc_bridge_get_vlan_filtering(br->ifindex);

        if (r == 1) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_NOT_SUPPORTED,
                            "bridge '%s' filters VLANs (vlan_filtering 1), which tap-bridge does "
                            "not support yet: the guest MAC's static FDB entry carries no VLAN "
                            "and unicast flood is off on the port, so the guest's traffic on "
                            "VLANs other than the default would be dropped",
                            br->name);
                return FALSE;
        }
        if (r < 0 && r != -ENOENT)
                return nlc_error_set_errno(
                        error, r, "cannot read whether bridge '%s' filters VLANs", br->name);
        return TRUE;
}

/* Our tap: it must be a tun/tap device if it exists. Returns 1 when it
 * exists, 0 when it does not, -1 with @error set otherwise. */
static int
get_tap(const char *ifname, NlcLinkInfo *out, GError **error)
{
        return nlc_backend_get_link(ifname, "tun", out, error);
}

static const char *const guards[] = { "bpdu-guard", "lock-mac" };

static gboolean
tap_bridge_allocate(NlcBackendDevice *dev, GVariantDict *opts, const NlcBackendHost *host,
                    GError **error)
{
        const char *bridge = NULL, *ifname = NULL;
        guint32 queues = 1;
        gboolean share = FALSE;
        g_autofree char *queues_str = NULL;
        NlcLinkInfo br;

        if (!g_variant_dict_lookup(opts, "bridge", "&s", &bridge)) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                            "backend tap-bridge needs option 'bridge'");
                return FALSE;
        }
        if (!get_bridge(bridge, NLC_ERROR_INVALID_ARGS, &br, error) ||
            !refuse_vlan_filtering(&br, error) ||
            !nlc_backend_may_use(host, "bridge", bridge, error))
                return FALSE;
        g_variant_dict_lookup(opts, "queues", "u", &queues);
        if (queues < 1 || queues > MAX_QUEUES) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                            "option 'queues' is %u; it must be 1 to %d", queues, MAX_QUEUES);
                return FALSE;
        }
        g_variant_dict_lookup(opts, "ifname", "&s", &ifname);
        if (host->adopting && !ifname) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                            "adopting a tap needs option 'ifname'");
                return FALSE;
        }
        if (!nlc_backend_reserve_ifname(dev, ifname, "tun", host, error))
                return FALSE;
        queues_str = g_strdup_printf("%u", queues);
        nlc_backend_device_set_prop(dev, "bridge", bridge);
        nlc_backend_device_set_prop(dev, "queues", queues_str);
        if (g_variant_dict_lookup(opts, "shareable", "b", &share) && share)
                nlc_backend_device_set_prop(dev, "shareable", "true");
        for (guint i = 0; i < G_N_ELEMENTS(guards); i++) {
                gboolean on = TRUE;

                if (g_variant_dict_lookup(opts, guards[i], "b", &on) && !on)
                        nlc_backend_device_set_prop(dev, guards[i], "false");
        }
        return TRUE;
}

/* Opens @n queues of the tap into dev->queue_fds. An adopted tap may be
 * multiqueue or not whatever was asked: the kernel refuses a mismatch with
 * EINVAL, so the other kind is tried once. */
static int
open_queues(NlcBackendDevice *dev, guint n)
{
        gboolean multi = n > 1 || shareable(dev);

        for (guint i = 0; i < n; i++) {
                int fd = nlc_tap_open_queue(ifname_of(dev), multi);

                if (fd == -EINVAL && i == 0) {
                        multi = !multi;
                        fd = nlc_tap_open_queue(ifname_of(dev), multi);
                }
                if (fd < 0)
                        return fd;
                g_array_append_val(dev->queue_fds, fd);
        }
        return 0;
}

/* Enslaves the tap and makes the port what the design wants; idempotent, so
 * create and the drift repair of notify share it. */
static gboolean
configure_port(NlcBackendDevice *dev, const NlcLinkInfo *tap, const NlcLinkInfo *br,
               gboolean set_mtu, GError **error)
{
        int r;

        if (set_mtu && tap->mtu != br->mtu) {
                r = nlc_link_set_mtu(tap->ifindex, br->mtu);
                if (r < 0)
                        return nlc_error_set_errno(error, r, "cannot set MTU %u on %s", br->mtu,
                                                   tap->name);
        }
        if (tap->master_ifindex != br->ifindex) {
                if (tap->master_ifindex)
                        g_message("tap-bridge: %s was on ifindex %d, moving it back to %s",
                                  tap->name, tap->master_ifindex, br->name);
                r = nlc_link_set_master(tap->ifindex, br->ifindex);
                if (r < 0)
                        return nlc_error_set_errno(error, r, "cannot enslave %s to %s", tap->name,
                                                   br->name);
        }
        r = nlc_bridge_port_set_flags(tap->ifindex,
                                      &(NlcPortFlags){ .bpdu_guard = guard_on(dev, "bpdu-guard"),
                                                       .root_block = TRUE,
                                                       .locked = guard_on(dev, "lock-mac") });
        if (r < 0)
                return nlc_error_set_errno(error, r,
                                           "cannot set the port flags of %s (learning and flood "
                                           "off, root_block, bpdu_guard, locked)",
                                           tap->name);
        /* A bridge port needs no host address: the bridge takes its frames
         * before IPv6 would. Off before the link goes up, the kernel skips
         * the per-link IPv6 setup (link-local address, DAD, routes), a large
         * part of a create's and a destroy's kernel time, and the guest
         * no longer receives the host's solicitations on its tap. */
        nlc_backend_host_ipv6_off(tap->name);
        if (!(tap->flags & IFF_UP)) {
                r = nlc_link_set_up(tap->ifindex, TRUE);
                if (r < 0)
                        return nlc_error_set_errno(error, r, "cannot set %s up", tap->name);
        }
        return TRUE;
}

static gboolean
tap_bridge_create(NlcBackendDevice *dev, GError **error)
{
        const char *ifname = ifname_of(dev);
        NlcLinkInfo br, tap;
        int existed, r;

        if (!get_bridge(nlc_backend_device_get_prop(dev, "bridge"), NLC_ERROR_NOT_FOUND, &br,
                        error))
                return FALSE;
        existed = get_tap(ifname, &tap, error);
        if (existed < 0)
                return FALSE;
        r = open_queues(dev, queues_of(dev));
        if (r < 0) {
                nlc_error_set_errno(error, r, "cannot open the queues of tap %s", ifname);
        } else if ((r = nlc_link_get(ifname, &tap)) < 0) {
                nlc_error_set_errno(error, r, "tap %s vanished after creation", ifname);
        } else if (configure_port(dev, &tap, &br, TRUE, error)) {
                return TRUE;
        }
        /* Undo what this call made; a tap that was there before stays. */
        if (!existed && nlc_link_get(ifname, &tap) == 0)
                nlc_link_delete(tap.ifindex);
        return FALSE;
}

static gboolean
tap_bridge_announce(NlcBackendDevice *dev, GError **error)
{
        gboolean held = dev->queue_fds->len > 0;
        /* A tap the daemon adopted but never held (libvirt's): write through
         * a copy of the holder's queue, closed at once. */
        int fd =
                held ? g_array_index(dev->queue_fds, int, 0) : nlc_tap_borrow_queue(ifname_of(dev));
        int r;

        if (fd < 0)
                return nlc_error_set_errno(error, fd,
                                           "the daemon holds no queue of %s to announce through "
                                           "and cannot borrow one",
                                           ifname_of(dev));
        r = nlc_announce_rarp_vnet(fd, dev->mac);
        if (!held)
                close(fd);
        if (r < 0)
                return nlc_error_set_errno(error, r, "cannot write a RARP into %s", ifname_of(dev));
        return TRUE;
}

/* Sets every queue of @dev attached or detached. */
static int
set_queues_attached(NlcBackendDevice *dev, gboolean attached)
{
        for (guint i = 0; i < dev->queue_fds->len; i++) {
                int r = nlc_tap_set_queue_attached(g_array_index(dev->queue_fds, int, i), attached);

                if (r < 0)
                        return r;
        }
        return 0;
}

/* A shared tap: the kernel steers the link's frames to @dev's queues from
 * now on. Attach first, then detach the peer's, so the tap never has no
 * queue (its carrier, and the STP port, stay up). */
static gboolean
take_traffic_from_peer(NlcBackendDevice *dev, GError **error)
{
        int r;

        if (!dev->peer)
                return TRUE;
        if (dev->queue_fds->len == 0) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_FAILED,
                            "the daemon holds no queue of %s for device %s (it was restarted, "
                            "and no QEMU attached to the instance gave them back), so it cannot "
                            "move the traffic to it",
                            ifname_of(dev), dev->id);
                return FALSE;
        }
        r = set_queues_attached(dev, TRUE);
        if (r < 0)
                return nlc_error_set_errno(error, r, "cannot attach the queues of %s",
                                           ifname_of(dev));
        r = set_queues_attached(dev->peer, FALSE);
        if (r < 0)
                return nlc_error_set_errno(error, r, "cannot detach device %s's queues of %s",
                                           dev->peer->id, ifname_of(dev));
        return TRUE;
}

static gboolean
tap_bridge_activate(NlcBackendDevice *dev, GError **error)
{
        g_autoptr(GError) announce_error = NULL;
        NlcLinkInfo tap;
        int r = nlc_link_get(ifname_of(dev), &tap);

        if (r < 0)
                return nlc_error_set_errno(error, r, "tap %s", ifname_of(dev));
        if (!take_traffic_from_peer(dev, error))
                return FALSE;
        r = nlc_fdb_replace_static(tap.ifindex, dev->mac);
        if (r < 0)
                return nlc_error_set_errno(error, r, "cannot add FDB entry %s -> %s", dev->mac_str,
                                           tap.name);
        /* The MAC's location is already right; a lost announce is repaired by
         * the next one (Announce()), so it does not undo the activation. */
        if (!tap_bridge_announce(dev, &announce_error))
                g_message("tap-bridge: %s active without announce: %s", tap.name,
                          announce_error->message);
        return TRUE;
}

static gboolean
tap_bridge_deactivate(NlcBackendDevice *dev, GError **error)
{
        NlcLinkInfo tap;
        int r = nlc_link_get(ifname_of(dev), &tap);

        if (r == -ENODEV)
                return TRUE; /* no port, no entry */
        if (r < 0)
                return nlc_error_set_errno(error, r, "tap %s", ifname_of(dev));
        if (peer_holds_mac(dev))
                return TRUE; /* same port, same entry: the peer's now */
        r = nlc_fdb_delete(tap.ifindex, dev->mac);
        if (r < 0)
                return nlc_error_set_errno(error, r, "cannot remove FDB entry %s -> %s",
                                           dev->mac_str, tap.name);
        return TRUE;
}

static gboolean
tap_bridge_destroy(NlcBackendDevice *dev, GError **error)
{
        NlcLinkInfo tap;
        int exists, r;

        if (dev->peer)
                return TRUE; /* the peer's QEMU runs on this tap: only our queues go */
        exists = get_tap(ifname_of(dev), &tap, error);

        if (exists <= 0)
                return exists == 0;
        r = nlc_link_delete(tap.ifindex);
        if (r < 0)
                return nlc_error_set_errno(error, r, "cannot delete %s", tap.name);
        return TRUE;
}

static int
tap_bridge_destroy_link(NlcBackendDevice *dev, GError **error)
{
        if (dev->peer)
                return 0; /* nothing of ours to delete: see tap_bridge_destroy */
        return nlc_backend_destroy_link(ifname_of(dev), "tun", error);
}

static int
tap_bridge_adopt_queues(NlcBackendDevice *dev, int pid)
{
        return nlc_tap_take_queues_of(pid, ifname_of(dev), dev->queue_fds);
}

/* The second QEMU's queues: opened on the same tap, detached at once, so the
 * running guest keeps every frame until the sharer activates. */
static gboolean
tap_bridge_share_queues(NlcBackendDevice *dev, NlcBackendDevice *sharer, GError **error)
{
        const char *ifname = ifname_of(dev);
        int multi, r = 0;

        if (dev->queue_fds->len == 0) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_FAILED,
                            "the daemon holds no queue of %s (it was restarted, and no QEMU "
                            "attached to the instance gave them back), so it could not move the "
                            "traffic between the two QEMUs",
                            ifname);
                return FALSE;
        }
        multi = nlc_tap_queue_is_multi(g_array_index(dev->queue_fds, int, 0));
        if (multi < 0)
                return nlc_error_set_errno(error, multi, "cannot read the flags of %s", ifname);
        if (!multi) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_NOT_SUPPORTED,
                            "tap %s has a single queue, which one QEMU holds; allocate the "
                            "device with shareable=true (or queues > 1) to share it",
                            ifname);
                return FALSE;
        }
        for (guint i = 0; i < queues_of(dev) && r == 0; i++) {
                int fd = nlc_tap_open_queue(ifname, TRUE);

                if (fd < 0) {
                        r = fd;
                        break;
                }
                g_array_append_val(sharer->queue_fds, fd);
                r = nlc_tap_set_queue_attached(fd, FALSE);
        }
        if (r < 0) {
                for (guint i = 0; i < sharer->queue_fds->len; i++)
                        close(g_array_index(sharer->queue_fds, int, i));
                g_array_set_size(sharer->queue_fds, 0);
                return nlc_error_set_errno(error, r, "cannot open detached queues of %s", ifname);
        }
        for (const char *const *k =
                     (const char *const[]){ "ifname", "bridge", "queues", "shareable", NULL };
             *k; k++)
                if (nlc_backend_device_get_prop(dev, *k))
                        nlc_backend_device_set_prop(sharer, *k,
                                                    nlc_backend_device_get_prop(dev, *k));
        return TRUE;
}

/* Reopens the queues only when nobody holds the tap: with carrier up a
 * hypervisor has them, and opening more would add queues the guest never
 * reads (multiqueue) or fail with EBUSY. */
static void
reopen_queues_if_orphaned(NlcBackendDevice *dev)
{
        NlcLinkInfo tap;
        int r;

        if (dev->queue_fds->len > 0 || (dev->peer && dev->peer->queue_fds->len > 0) ||
            nlc_link_get(ifname_of(dev), &tap) < 0 || tap.lower_up)
                return;
        r = open_queues(dev, queues_of(dev));
        if (r < 0)
                g_message("tap-bridge: cannot reopen the queues of %s: %s", tap.name,
                          g_strerror(-r));
}

/* At adoption: a tap whose queues only another process holds and that is
 * not persistent (libvirt's, made for one QEMU) ends with that process;
 * noted, so that a restart does not make it again. */
static void
note_lifetime(NlcBackendDevice *dev)
{
        int fd, persistent;

        if (dev->queue_fds->len > 0)
                return;
        fd = nlc_tap_borrow_queue(ifname_of(dev));
        if (fd < 0)
                return;
        persistent = nlc_tap_queue_is_persistent(fd);
        close(fd);
        if (persistent == 0)
                nlc_backend_device_set_prop(dev, "lives-with-holder", "true");
}

static gboolean
tap_bridge_notify(NlcBackendDevice *dev, NlcDeviceState *state, GError **error)
{
        const char *ifname = ifname_of(dev);
        NlcLinkInfo br, tap;
        int exists, has_fdb, r;

        if (*state == NLC_DEVICE_STATE_ALLOCATED || *state == NLC_DEVICE_STATE_DESTROYED)
                return TRUE; /* nothing of ours is in the kernel */
        if (!get_bridge(nlc_backend_device_get_prop(dev, "bridge"), NLC_ERROR_NOT_FOUND, &br,
                        error))
                return FALSE;
        exists = get_tap(ifname, &tap, error);
        if (exists < 0)
                return FALSE;
        if (exists == 0) {
                if (*state == NLC_DEVICE_STATE_NONE) {
                        g_set_error(error, NLC_ERROR, NLC_ERROR_NOT_FOUND,
                                    "there is no tap %s to adopt", ifname);
                        return FALSE;
                }
                /* A hypervisor's own tap (libvirt's) went with its QEMU: made
                 * again, it would be a port nobody uses, on the guest's
                 * bridge, under a name the hypervisor may give another
                 * guest. */
                if (g_strcmp0(nlc_backend_device_get_prop(dev, "lives-with-holder"), "true") == 0) {
                        g_message("tap-bridge: %s went away with the process that held it (not a "
                                  "persistent tap); destroyed, not made again",
                                  ifname);
                        *state = NLC_DEVICE_STATE_DESTROYED;
                        return TRUE;
                }
                g_message("tap-bridge: %s vanished; creating it again", ifname);
                if (!tap_bridge_create(dev, error))
                        return FALSE;
                exists = get_tap(ifname, &tap, error);
                if (exists <= 0)
                        return FALSE;
        }
        /* A running guest keeps its MTU: only create sets it. */
        if (!configure_port(dev, &tap, &br, FALSE, error))
                return FALSE;
        reopen_queues_if_orphaned(dev);

        has_fdb = nlc_fdb_has_static(tap.ifindex, dev->mac);
        if (has_fdb < 0)
                return nlc_error_set_errno(error, has_fdb, "cannot read the FDB of %s", br.name);
        if (*state == NLC_DEVICE_STATE_NONE) {
                *state = has_fdb ? NLC_DEVICE_STATE_ACTIVE : NLC_DEVICE_STATE_CREATED;
                note_lifetime(dev);
                return TRUE;
        }
        if (*state == NLC_DEVICE_STATE_ACTIVE && !has_fdb) {
                g_message("tap-bridge: FDB entry %s -> %s was missing; added again", dev->mac_str,
                          ifname);
                r = nlc_fdb_replace_static(tap.ifindex, dev->mac);
                if (r < 0)
                        return nlc_error_set_errno(error, r, "cannot add FDB entry %s -> %s",
                                                   dev->mac_str, ifname);
        } else if (*state == NLC_DEVICE_STATE_CREATED && has_fdb && !peer_holds_mac(dev)) {
                /* Only an active device may hold its MAC. */
                g_message("tap-bridge: %s is inactive but held %s; entry removed", ifname,
                          dev->mac_str);
                r = nlc_fdb_delete(tap.ifindex, dev->mac);
                if (r < 0)
                        return nlc_error_set_errno(error, r, "cannot remove FDB entry %s -> %s",
                                                   dev->mac_str, ifname);
        }
        return TRUE;
}

/* clang-format off: one member per line reads as the table it is. */
NLC_BACKEND_DEFINE(nlc_backend_tap_bridge,
        .name = "tap-bridge",
        .description = "tap device enslaved to a Linux bridge",
        .options = options,
        /* The port exists and counts STP from create on; the MAC moves with
         * one FDB replace at activate. */
        .caps = {
                .fd_handover = TRUE,
                .quiet_until_activate = TRUE,
                .postcopy_safe = TRUE,
        },
        .allocate = tap_bridge_allocate,
        .create = tap_bridge_create,
        .activate = tap_bridge_activate,
        .deactivate = tap_bridge_deactivate,
        .destroy = tap_bridge_destroy,
        .destroy_link = tap_bridge_destroy_link,
        .share_queues = tap_bridge_share_queues,
        .adopt_queues = tap_bridge_adopt_queues,
        .free = NULL, /* the name is the record's; nothing else was reserved */
        .notify = tap_bridge_notify,
        .announce = tap_bridge_announce);
/* clang-format on */
