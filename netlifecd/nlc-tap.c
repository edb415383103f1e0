/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "nlc-tap.h"

int
nlc_tap_open_queue(const char *ifname, gboolean multi_queue)
{
        struct ifreq ifr = { 0 };
        int fd, e;

        if (!ifname || strlen(ifname) >= IFNAMSIZ)
                return -EINVAL;
        fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        g_strlcpy(ifr.ifr_name, ifname, sizeof ifr.ifr_name);
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
        if (multi_queue)
                ifr.ifr_flags |= IFF_MULTI_QUEUE;
        /* Persistent: the tap outlives this fd, so a daemon crash or restart
         * does not take the guest's port away. */
        if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0) {
                e = errno;
                close(fd);
                return -e;
        }
        return fd;
}

gboolean
nlc_tap_fd_is_tap(int fd, char ifname_out[16])
{
        struct ifreq ifr = { 0 };

        if (ioctl(fd, TUNGETIFF, &ifr) < 0 || !(ifr.ifr_flags & IFF_TAP))
                return FALSE;
        if (ifname_out)
                g_strlcpy(ifname_out, ifr.ifr_name, IFNAMSIZ);
        return TRUE;
}
