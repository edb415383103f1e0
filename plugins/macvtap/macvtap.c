/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * macvtap: a macvtap on a lower device, created down with the guest MAC. The
 * macvlan layer delivers the guest MAC's frames to it only while it is up, and
 * the kernel refuses to bring up a second macvtap with the same MAC on the
 * same lower (EADDRINUSE): being up is holding the MAC, so activate brings it
 * up and deactivate down. Its queues are opens of its character device; with
 * no udev on the host the daemon makes that node itself, in its runtime
 * directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "nlc-announce.h"
#include "nlc-backend-util.h"
#include "nlc-error.h"
#include "nlc-names.h"
#include "nlc-netlink.h"
#include "nlc-plugin.h"
#include "nlc-port-profile.h"

#define KIND       "macvtap"
#define MAX_QUEUES 16

static const NlcBackendOption options[] = {
        { "link", "s", "Lower device the macvtap sits on (required)" },
        { "mode", "s", "bridge, vepa, private or passthru (default bridge)" },
        { "queues", "u", "Number of macvtap queues, 1-16 (default 1)" },
        { "ifname", "s", "Name of the macvtap (default nlc<id>)" },
        NLC_PORT_PROFILE_OPTIONS,
        { NULL },
};

static const char *
ifname_of(const NlcBackendDevice *dev)
{
        return nlc_backend_device_get_prop(dev, "ifname");
}

static const char *
lower_of(const NlcBackendDevice *dev)
{
        return nlc_backend_device_get_prop(dev, "link");
}

static guint
queues_of(const NlcBackendDevice *dev)
{
        const char *q = nlc_backend_device_get_prop(dev, "queues");

        return q ? (guint) g_ascii_strtoull(q, NULL, 10) : 1;
}

static gboolean
get_lower(const char *name, NlcError missing_code, NlcLinkInfo *out, GError **error)
{
        int r = nlc_link_get(name, out);

        if (r == -ENODEV) {
                g_set_error(error, NLC_ERROR, missing_code, "lower device '%s' does not exist",
                            name);
                return FALSE;
        }
        if (r < 0)
                return nlc_error_set_errno(error, r, "cannot look up lower device '%s'", name);
        return TRUE;
}

static gboolean
macvtap_allocate(NlcBackendDevice *dev, GVariantDict *opts, const NlcBackendHost *host,
                 GError **error)
{
        NlcPortProfile profile;
        const char *lower = NULL, *mode = "bridge", *ifname = NULL;
        guint32 queues = 1;
        g_autofree char *queues_str = NULL;
        NlcLinkInfo lo;

        if (!nlc_port_profile_from_options(opts, &profile, error))
                return FALSE;
        /* A profile is the daemon's (associated before Activate, on the
         * lower device). */
        if (!g_variant_dict_lookup(opts, "link", "&s", &lower)) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                            "backend macvtap needs option 'link'");
                return FALSE;
        }
        if (!get_lower(lower, NLC_ERROR_INVALID_ARGS, &lo, error) ||
            !nlc_backend_may_use(host, "lower", lower, error))
                return FALSE;
        g_variant_dict_lookup(opts, "mode", "&s", &mode);
        if (!nlc_macvtap_mode_valid(mode)) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                            "option 'mode' is '%s'; it must be bridge, vepa, private or passthru",
                            mode);
                return FALSE;
        }
        g_variant_dict_lookup(opts, "queues", "u", &queues);
        if (queues < 1 || queues > MAX_QUEUES) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                            "option 'queues' is %u; it must be 1 to %d", queues, MAX_QUEUES);
                return FALSE;
        }
        g_variant_dict_lookup(opts, "ifname", "&s", &ifname);
        if (host->adopting && !ifname) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                            "adopting a macvtap needs option 'ifname'");
                return FALSE;
        }
        if (!nlc_backend_reserve_ifname(dev, ifname, KIND, host, error))
                return FALSE;
        queues_str = g_strdup_printf("%u", queues);
        nlc_backend_device_set_prop(dev, "link", lower);
        nlc_backend_device_set_prop(dev, "mode", mode);
        nlc_backend_device_set_prop(dev, "queues", queues_str);
        return TRUE;
}

/* A macvtap we did not put on our lower is not ours to fix. */
static gboolean
check_lower(const NlcLinkInfo *mv, const NlcLinkInfo *lower, GError **error)
{
        int r = nlc_link_get_lower(mv->ifindex);

        if (r < 0)
                return nlc_error_set_errno(error, r, "cannot read the lower device of %s",
                                           mv->name);
        if (r != lower->ifindex) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_CONFLICT,
                            "%s sits on ifindex %d, not on %s (ifindex %d)", mv->name, r,
                            lower->name, lower->ifindex);
                return FALSE;
        }
        return TRUE;
}

/* The guest MAC is what the macvlan layer delivers to the macvtap. In
 * passthru mode the kernel gives a new macvtap the lower's MAC whatever the
 * request said, and setting it sets the lower's (which the kernel puts back
 * when the macvtap goes), so this is needed after every creation. */
static gboolean
ensure_mac(NlcBackendDevice *dev, const NlcLinkInfo *mv, GError **error)
{
        int r;

        if (memcmp(mv->mac, dev->mac, 6) == 0)
                return TRUE;
        r = nlc_link_set_address(mv->ifindex, dev->mac);
        if (r < 0)
                return nlc_error_set_errno(error, r, "cannot set MAC %s on %s", dev->mac_str,
                                           mv->name);
        return TRUE;
}

/*
 * The macvtap itself, down, on our lower, with the guest MAC and the host's
 * IPv6 off; one that is
 * already there under this record's name (a retry after a crash) is taken as
 * it is and put down. *created tells the caller what to undo.
 */
static gboolean
ensure_link(NlcBackendDevice *dev, NlcLinkInfo *mv, gboolean *created, GError **error)
{
        const char *ifname = ifname_of(dev);
        NlcLinkInfo lower;
        int exists, r;

        *created = FALSE;
        if (!get_lower(lower_of(dev), NLC_ERROR_NOT_FOUND, &lower, error))
                return FALSE;
        exists = nlc_backend_get_link(ifname, KIND, mv, error);
        if (exists < 0)
                return FALSE;
        if (exists) {
                if (!check_lower(mv, &lower, error))
                        return FALSE;
                if (mv->flags & IFF_UP) {
                        r = nlc_link_set_up(mv->ifindex, FALSE);
                        if (r < 0)
                                return nlc_error_set_errno(error, r, "cannot set %s down", ifname);
                }
        } else {
                r = nlc_macvtap_create(ifname, lower.ifindex,
                                       nlc_backend_device_get_prop(dev, "mode"), dev->mac);
                if (r < 0)
                        return nlc_error_set_errno(error, r, "cannot create macvtap %s on %s",
                                                   ifname, lower.name);
                r = nlc_link_get(ifname, mv);
                if (r < 0)
                        return nlc_error_set_errno(error, r, "macvtap %s vanished after creation",
                                                   ifname);
                *created = TRUE;
        }
        /* Down here in either case. The macvtap carries the guest's MAC, so
         * the host's IPv6 on it would claim the guest's own link-local
         * address (DAD against the guest) and speak with the guest's MAC. */
        nlc_backend_host_ipv6_off(ifname);
        return ensure_mac(dev, mv, error);
}

static char *
node_path(const NlcBackendDevice *dev, const char *node)
{
        return dev->runtime_dir ? g_build_filename(dev->runtime_dir, node, NULL) : NULL;
}

static void
remove_node(NlcBackendDevice *dev)
{
        const char *node = nlc_backend_device_get_prop(dev, "node");
        g_autofree char *path = node ? node_path(dev, node) : NULL;

        /* A node left behind is harmless: the next create replaces it. */
        if (path && unlink(path) < 0 && errno != ENOENT)
                g_message("macvtap: cannot remove %s: %s", path, g_strerror(errno));
        nlc_backend_device_set_prop(dev, "node", NULL);
}

/*
 * The macvtap's character device, tap<ifindex> in the runtime directory,
 * made from the number sysfs gives (udev would make /dev/tap<ifindex>). A
 * node already there is replaced: it may be a stale one of an earlier device
 * with another number. Reading sysfs needs a sysfs mounted in the daemon's
 * network namespace. Returns the path.
 */
static char *
make_node(NlcBackendDevice *dev, const NlcLinkInfo *mv, GError **error)
{
        g_autofree char *sys =
                g_strdup_printf("/sys/class/net/%s/macvtap/tap%d/dev", mv->name, mv->ifindex);
        g_autofree char *node = g_strdup_printf("tap%d", mv->ifindex);
        g_autofree char *path = node_path(dev, node);
        g_autofree char *contents = NULL;
        g_autoptr(GError) local = NULL;
        guint major, minor;

        if (!path) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_FAILED,
                            "the daemon has no runtime directory for the node of %s", mv->name);
                return NULL;
        }
        if (!g_file_get_contents(sys, &contents, NULL, &local)) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_FAILED,
                            "cannot read the device number of %s: %s", mv->name, local->message);
                return NULL;
        }
        if (sscanf(contents, "%u:%u", &major, &minor) != 2) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_FAILED, "%s holds '%s', not major:minor",
                            sys, g_strstrip(contents));
                return NULL;
        }
        if (unlink(path) < 0 && errno != ENOENT) {
                nlc_error_set_errno(error, -errno, "cannot remove the stale node %s", path);
                return NULL;
        }
        if (mknod(path, S_IFCHR | 0600, makedev(major, minor)) < 0) {
                nlc_error_set_errno(error, -errno, "cannot make node %s (%u:%u)", path, major,
                                    minor);
                return NULL;
        }
        /* The node of a device this one replaced (same name, new ifindex). */
        if (g_strcmp0(nlc_backend_device_get_prop(dev, "node"), node) != 0)
                remove_node(dev);
        nlc_backend_device_set_prop(dev, "node", node);
        return g_steal_pointer(&path);
}

/* One queue: every open of a macvtap node adds one. TUNSETIFF asks for the
 * virtio-net header, as tap-bridge's queues have, so a hypervisor uses both
 * kinds of fd the same way. */
static int
open_queue(const char *path)
{
        struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
        int fd = open(path, O_RDWR | O_CLOEXEC);
        int e;

        if (fd < 0)
                return -errno;
        if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
                e = errno;
                close(fd);
                return -e;
        }
        return fd;
}

static void
close_fds(GArray *fds)
{
        for (guint i = 0; i < fds->len; i++)
                close(g_array_index(fds, int, i));
        g_array_set_size(fds, 0);
}

/* Opens @n queues into dev->queue_fds, all or none. */
static gboolean
open_queues(NlcBackendDevice *dev, const char *path, guint n, GError **error)
{
        g_autoptr(GArray) fds = g_array_new(FALSE, FALSE, sizeof(int));

        for (guint i = 0; i < n; i++) {
                int fd = open_queue(path);

                if (fd < 0) {
                        close_fds(fds);
                        return nlc_error_set_errno(error, fd, "cannot open queue %u of %s", i + 1,
                                                   path);
                }
                g_array_append_val(fds, fd);
        }
        g_array_append_vals(dev->queue_fds, fds->data, fds->len);
        return TRUE;
}

static gboolean
macvtap_create(NlcBackendDevice *dev, GError **error)
{
        g_autofree char *path = NULL;
        gboolean created;
        NlcLinkInfo mv;

        if (!ensure_link(dev, &mv, &created, error)) {
                if (created)
                        nlc_link_delete(mv.ifindex);
                return FALSE;
        }
        path = make_node(dev, &mv, error);
        if (path && open_queues(dev, path, queues_of(dev), error))
                return TRUE;
        /* Undo what this call made; a macvtap that was there before stays. */
        if (created) {
                nlc_link_delete(mv.ifindex);
                remove_node(dev);
        }
        return FALSE;
}

static gboolean
macvtap_announce(NlcBackendDevice *dev, GError **error)
{
        NlcLinkInfo mv;
        int r;

        if (dev->queue_fds->len > 0) {
                r = nlc_announce_rarp_vnet(g_array_index(dev->queue_fds, int, 0), dev->mac);
                if (r < 0)
                        return nlc_error_set_errno(error, r, "cannot write a RARP into %s",
                                                   ifname_of(dev));
                return TRUE;
        }
        /* After a daemon restart only the hypervisor holds the queues; a frame
         * sent on the macvtap leaves through the lower all the same. */
        r = nlc_link_get(ifname_of(dev), &mv);
        if (r < 0)
                return nlc_error_set_errno(error, r, "macvtap %s", ifname_of(dev));
        r = nlc_announce_rarp_packet(mv.ifindex, dev->mac);
        if (r < 0)
                return nlc_error_set_errno(error, r, "cannot send a RARP on %s", mv.name);
        return TRUE;
}

static gboolean
set_up(const NlcLinkInfo *mv, const NlcBackendDevice *dev, GError **error)
{
        int r = nlc_link_set_up(mv->ifindex, TRUE);

        if (r == -EADDRINUSE) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_CONFLICT,
                            "cannot set %s up: another device on %s is up with MAC %s", mv->name,
                            lower_of(dev), dev->mac_str);
                return FALSE;
        }
        if (r < 0)
                return nlc_error_set_errno(error, r, "cannot set %s up", mv->name);
        return TRUE;
}

static gboolean
macvtap_activate(NlcBackendDevice *dev, GError **error)
{
        g_autoptr(GError) announce_error = NULL;
        NlcLinkInfo mv;
        int r = nlc_link_get(ifname_of(dev), &mv);

        if (r < 0)
                return nlc_error_set_errno(error, r, "macvtap %s", ifname_of(dev));
        if (!(mv.flags & IFF_UP) && !set_up(&mv, dev, error))
                return FALSE;
        /* The MAC's location is already right; a lost announce is repaired by
         * the next one (Announce()), so it does not undo the activation. */
        if (!macvtap_announce(dev, &announce_error))
                g_message("macvtap: %s active without announce: %s", mv.name,
                          announce_error->message);
        return TRUE;
}

static gboolean
macvtap_deactivate(NlcBackendDevice *dev, GError **error)
{
        NlcLinkInfo mv;
        int r = nlc_link_get(ifname_of(dev), &mv);

        if (r == -ENODEV)
                return TRUE; /* no macvtap, no MAC held */
        if (r < 0)
                return nlc_error_set_errno(error, r, "macvtap %s", ifname_of(dev));
        if (!(mv.flags & IFF_UP))
                return TRUE;
        r = nlc_link_set_up(mv.ifindex, FALSE);
        if (r < 0)
                return nlc_error_set_errno(error, r, "cannot set %s down", mv.name);
        return TRUE;
}

static int
macvtap_destroy_link(NlcBackendDevice *dev, GError **error)
{
        return nlc_backend_destroy_link(ifname_of(dev), KIND, error);
}

static gboolean
macvtap_destroy(NlcBackendDevice *dev, GError **error)
{
        NlcLinkInfo mv;
        int exists = nlc_backend_get_link(ifname_of(dev), KIND, &mv, error);
        int r;

        if (exists < 0)
                return FALSE;
        if (exists) {
                r = nlc_link_delete(mv.ifindex);
                if (r < 0)
                        return nlc_error_set_errno(error, r, "cannot delete %s", mv.name);
        }
        remove_node(dev);
        return TRUE;
}

/*
 * The macvtap vanished under a created or active record (deleted by hand,
 * or with its lower). It comes back, with its node, but without queues: the
 * hypervisor's fds belonged to the old device and the daemon cannot hand it
 * new ones from here, so a client reopens them from the node; queues opened
 * now would only collect traffic nobody reads.
 */
static gboolean
recreate(NlcBackendDevice *dev, NlcLinkInfo *mv, GError **error)
{
        g_autofree char *path = NULL;
        gboolean created;
        int r;

        close_fds(dev->queue_fds); /* queues of the deleted device */
        if (!ensure_link(dev, mv, &created, error)) {
                if (created)
                        nlc_link_delete(mv->ifindex);
                return FALSE;
        }
        path = make_node(dev, mv, error);
        if (!path) {
                if (created)
                        nlc_link_delete(mv->ifindex);
                return FALSE;
        }
        g_message("macvtap: %s vanished; created again without queues (open %s)", mv->name, path);
        /* ensure_link() may have changed the MAC since it read the link. */
        r = nlc_link_get(ifname_of(dev), mv);
        if (r < 0)
                return nlc_error_set_errno(error, r, "macvtap %s", ifname_of(dev));
        return TRUE;
}

/* The node of a device that exists: made again if it went missing (a new
 * runtime directory, a cleaned one), never opened. */
static void
repair_node(NlcBackendDevice *dev, const NlcLinkInfo *mv)
{
        g_autofree char *node = g_strdup_printf("tap%d", mv->ifindex);
        g_autofree char *path = node_path(dev, node);
        g_autofree char *made = NULL;
        g_autoptr(GError) local = NULL;

        if (path && g_file_test(path, G_FILE_TEST_EXISTS) &&
            g_strcmp0(nlc_backend_device_get_prop(dev, "node"), node) == 0)
                return;
        made = make_node(dev, mv, &local);
        if (!made)
                g_message("macvtap: %s has no node: %s", mv->name, local->message);
}

/*
 * Adopts or re-verifies: the macvtap must exist, be a macvtap, sit on our
 * lower and carry the guest MAC; the host's IPv6 is turned off on it; its
 * link state follows the record's state
 * (active: up, created: down). The queues are never reopened here: a
 * hypervisor may hold them, and an extra macvtap queue would take a share of
 * the guest's traffic that nobody reads.
 */
static gboolean
macvtap_notify(NlcBackendDevice *dev, NlcDeviceState *state, GError **error)
{
        const char *ifname = ifname_of(dev);
        NlcLinkInfo lower, mv;
        gboolean up;
        int exists, r;

        if (*state == NLC_DEVICE_STATE_ALLOCATED || *state == NLC_DEVICE_STATE_DESTROYED)
                return TRUE; /* nothing of ours is in the kernel */
        if (!get_lower(lower_of(dev), NLC_ERROR_NOT_FOUND, &lower, error))
                return FALSE;
        exists = nlc_backend_get_link(ifname, KIND, &mv, error);
        if (exists < 0)
                return FALSE;
        if (exists == 0) {
                if (*state == NLC_DEVICE_STATE_NONE) {
                        g_set_error(error, NLC_ERROR, NLC_ERROR_NOT_FOUND,
                                    "there is no macvtap %s to adopt", ifname);
                        return FALSE;
                }
                if (!recreate(dev, &mv, error))
                        return FALSE;
        }
        if (!check_lower(&mv, &lower, error))
                return FALSE;
        if (memcmp(mv.mac, dev->mac, 6) != 0) {
                if (*state == NLC_DEVICE_STATE_NONE) {
                        g_autofree char *have = nlc_mac_to_string(mv.mac);

                        g_set_error(error, NLC_ERROR, NLC_ERROR_CONFLICT,
                                    "%s has MAC %s, not the guest's %s", ifname, have,
                                    dev->mac_str);
                        return FALSE;
                }
                g_message("macvtap: %s had another MAC; set to %s again", ifname, dev->mac_str);
                if (!ensure_mac(dev, &mv, error))
                        return FALSE;
        }
        repair_node(dev, &mv);
        nlc_backend_host_ipv6_off(ifname);

        up = (mv.flags & IFF_UP) != 0;
        if (*state == NLC_DEVICE_STATE_NONE) {
                *state = up ? NLC_DEVICE_STATE_ACTIVE : NLC_DEVICE_STATE_CREATED;
        } else if (*state == NLC_DEVICE_STATE_ACTIVE && !up) {
                g_autoptr(GError) announce_error = NULL;

                g_message("macvtap: %s is active but was down; set up again", ifname);
                if (!set_up(&mv, dev, error))
                        return FALSE;
                /* While it was down the switches may have forgotten the MAC. */
                if (!macvtap_announce(dev, &announce_error))
                        g_message("macvtap: %s up again without announce: %s", ifname,
                                  announce_error->message);
        } else if (*state == NLC_DEVICE_STATE_CREATED && up) {
                /* Only an active device may hold its MAC. */
                g_message("macvtap: %s is inactive but was up; set down", ifname);
                r = nlc_link_set_up(mv.ifindex, FALSE);
                if (r < 0)
                        return nlc_error_set_errno(error, r, "cannot set %s down", ifname);
        }
        return TRUE;
}

/* A macvtap carries traffic when its lower device does. */
static const char *
macvtap_carrier_link(const NlcBackendDevice *dev)
{
        return lower_of(dev);
}

/* clang-format off: one member per line reads as the table it is. */
NLC_BACKEND_DEFINE(nlc_backend_macvtap,
        .name = "macvtap",
        .description = "macvtap on a lower device, down until activate",
        .options = options,
        /* The macvtap exists from create on but holds the MAC only while up;
         * activate is one link-up, nothing to wait for. */
        .caps = {
                .fd_handover = TRUE,
                .quiet_until_activate = TRUE,
                .postcopy_safe = TRUE,
        },
        .allocate = macvtap_allocate,
        .create = macvtap_create,
        .activate = macvtap_activate,
        .deactivate = macvtap_deactivate,
        .destroy = macvtap_destroy,
        .destroy_link = macvtap_destroy_link,
        .free = NULL, /* the name is the record's; nothing else was reserved */
        .notify = macvtap_notify,
        .announce = macvtap_announce,
        .carrier_link = macvtap_carrier_link);
/* clang-format on */
