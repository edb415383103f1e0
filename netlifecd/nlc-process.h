/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the daemon process claims for itself at start, before it reads
 * anything: its state directory, alone, and the file descriptors it needs. */
#pragma once

#include <glib.h>

/*
 * Takes the write lock on @state_dir/lock (made, with the directory, when
 * missing) and keeps it for the life of the process: the fd it returns is
 * never closed. A second daemon on the same directory would restore, repair
 * the kernel and compact the journal under the first; it gets -1 and an
 * error naming the holder's pid instead, before it reads anything.
 */
int nlc_state_dir_lock(const char *state_dir, GError **error);

/*
 * The daemon holds every queue of every device (and a journal, sockets):
 * systemd's default soft limit of 1024 descriptors stops it near 1000
 * single-queue devices. Raises the soft RLIMIT_NOFILE to the hard limit;
 * returns the limit in force afterwards.
 */
guint64 nlc_raise_fd_limit(void);
