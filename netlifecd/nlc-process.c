/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "nlc-error.h"
#include "nlc-process.h"

int
nlc_state_dir_lock(const char *state_dir, GError **error)
{
        g_autofree char *path = g_build_filename(state_dir, "lock", NULL);
        struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        char pid[32];
        int fd;

        if (g_mkdir_with_parents(state_dir, 0700) < 0) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_FAILED, "cannot create %s: %s", state_dir,
                            g_strerror(errno));
                return -1;
        }
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_FAILED, "cannot open %s: %s", path,
                            g_strerror(errno));
                return -1;
        }
        /* A POSIX record lock: the kernel drops it when the process dies
         * (kill -9 included), and F_GETLK names the process that holds it. */
        if (fcntl(fd, F_SETLK, &lock) < 0) {
                int err = errno;
                struct flock holder = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

                if ((err == EAGAIN || err == EACCES) && fcntl(fd, F_GETLK, &holder) == 0 &&
                    holder.l_type != F_UNLCK)
                        g_set_error(error, NLC_ERROR, NLC_ERROR_BUSY,
                                    "another netlifecd (pid %ld) uses the state directory %s",
                                    (long) holder.l_pid, state_dir);
                else
                        g_set_error(error, NLC_ERROR, NLC_ERROR_FAILED, "cannot lock %s: %s", path,
                                    g_strerror(err));
                close(fd);
                return -1;
        }
        /* For an operator's eyes only; the lock itself is the truth. */
        g_snprintf(pid, sizeof pid, "%ld\n", (long) getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, strlen(pid), 0) < 0)
                g_message("cannot write my pid into %s: %s", path, g_strerror(errno));
        return fd;
}

guint64
nlc_raise_fd_limit(void)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return 0;
        if (rl.rlim_cur < rl.rlim_max) {
                rlim_t was = rl.rlim_cur;

                rl.rlim_cur = rl.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
                        g_message("cannot raise the file descriptor limit from %llu to %llu: %s",
                                  (unsigned long long) was, (unsigned long long) rl.rlim_max,
                                  g_strerror(errno));
                        rl.rlim_cur = was;
                }
        }
        return rl.rlim_cur;
}
