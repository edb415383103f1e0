/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
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

static int
queue_flags(int fd)
{
        struct ifreq ifr = { 0 };

        if (ioctl(fd, TUNGETIFF, &ifr) < 0)
                return -errno;
        return ifr.ifr_flags & 0xffff;
}

int
nlc_tap_queue_is_attached(int fd)
{
        int flags = queue_flags(fd);

        return flags < 0 ? flags : !(flags & IFF_DETACH_QUEUE);
}

int
nlc_tap_queue_is_persistent(int fd)
{
        int flags = queue_flags(fd);

        return flags < 0 ? flags : !!(flags & IFF_PERSIST);
}

int
nlc_tap_queue_is_multi(int fd)
{
        int flags = queue_flags(fd);

        return flags < 0 ? flags : !!(flags & IFF_MULTI_QUEUE);
}

int
nlc_tap_set_queue_attached(int fd, gboolean attached)
{
        struct ifreq ifr = { 0 };
        int now = nlc_tap_queue_is_attached(fd);

        if (now < 0 || now == !!attached)
                return now < 0 ? now : 0;
        ifr.ifr_flags = attached ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
        return ioctl(fd, TUNSETQUEUE, &ifr) < 0 ? -errno : 0;
}

/* Only a tun file's /proc/<pid>/fdinfo/<fd> names an interface ("iff:").
 * (Not the fd's link: from another mount namespace /dev/net/tun may read
 * as "/net/tun".) */
static gboolean
fd_is_queue_of(int pid, const char *fd_name, const char *ifname)
{
        g_autofree char *info_path = g_strdup_printf("/proc/%d/fdinfo/%s", pid, fd_name);
        g_autofree char *info = NULL;
        g_autofree char *want = g_strdup_printf("\niff:\t%s\n", ifname);

        return g_file_get_contents(info_path, &info, NULL, NULL) && strstr(info, want) != NULL;
}

/* A duplicate of fd @fd_name of the process behind @pidfd; -ESTALE when it
 * is not a queue of @ifname (any more: the process may have closed that
 * number and opened something else under it since fdinfo was read, so the
 * kernel's name of the copy decides), else a negative errno. */
static int
copy_queue(int pidfd, const char *fd_name, const char *ifname)
{
        int fd = (int) syscall(SYS_pidfd_getfd, pidfd, atoi(fd_name), 0);
        char named[IFNAMSIZ];

        if (fd < 0)
                return -errno;
        if (!nlc_tap_fd_is_tap(fd, named) || !g_str_equal(named, ifname)) {
                close(fd);
                return -ESTALE;
        }
        return fd;
}

static gint
compare_fd_numbers(gconstpointer a, gconstpointer b)
{
        return atoi(*(const char *const *) a) - atoi(*(const char *const *) b);
}

int
nlc_tap_take_queues_of(int pid, const char *ifname, GArray *fds)
{
        g_autofree char *dir_path = g_strdup_printf("/proc/%d/fd", pid);
        g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
        g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
        const char *name;
        int pidfd, taken = 0, e = 0;

        if (!dir)
                return -ESRCH;
        while ((name = g_dir_read_name(dir)))
                if (fd_is_queue_of(pid, name, ifname))
                        g_ptr_array_add(names, g_strdup(name));
        if (names->len == 0)
                return 0;
        g_ptr_array_sort(names, compare_fd_numbers);
        pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0)
                return -errno;
        for (guint i = 0; i < names->len; i++) {
                int fd = copy_queue(pidfd, names->pdata[i], ifname);

                if (fd == -ESTALE)
                        continue;
                if (fd < 0) {
                        e = -fd;
                        break;
                }
                g_array_append_val(fds, fd);
                taken++;
        }
        close(pidfd);
        return e && !taken ? -e : taken;
}

/* Another process's fd @fd_name, when it is an attached queue of @ifname
 * now; -1 otherwise. */
static int
copy_attached_queue(int pid, const char *fd_name, const char *ifname)
{
        int pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        int fd;

        if (pidfd < 0)
                return -1;
        fd = copy_queue(pidfd, fd_name, ifname);
        close(pidfd);
        if (fd >= 0 && nlc_tap_queue_is_attached(fd) != 1) {
                close(fd);
                return -1;
        }
        return fd < 0 ? -1 : fd;
}

int
nlc_tap_borrow_queue(const char *ifname)
{
        g_autoptr(GDir) proc = g_dir_open("/proc", 0, NULL);
        const char *pid_name;
        int self = getpid();

        if (!proc)
                return -errno;
        while ((pid_name = g_dir_read_name(proc))) {
                g_autofree char *fd_dir = NULL;
                g_autoptr(GDir) fds = NULL;
                const char *fd_name;
                int pid = atoi(pid_name);

                if (pid <= 0 || pid == self)
                        continue;
                fd_dir = g_strdup_printf("/proc/%d/fd", pid);
                fds = g_dir_open(fd_dir, 0, NULL);
                while (fds && (fd_name = g_dir_read_name(fds))) {
                        g_autofree char *fd_path = g_build_filename(fd_dir, fd_name, NULL);
                        g_autofree char *target = g_file_read_link(fd_path, NULL);
                        int fd;

                        /* The cheap test first: most fds are no tun file. */
                        if (!target || !g_str_has_suffix(target, "net/tun") ||
                            !fd_is_queue_of(pid, fd_name, ifname))
                                continue;
                        fd = copy_attached_queue(pid, fd_name, ifname);
                        if (fd >= 0)
                                return fd;
                }
        }
        return -ENOENT;
}
