/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE /* unshare */
#include <errno.h>
#include <sched.h>
#include <sys/mount.h>

#include "nlc-test-ns.h"

void
nlc_test_unshare(gboolean own_sysfs)
{
        int flags = CLONE_NEWNET | (own_sysfs ? CLONE_NEWNS : 0);

        if (unshare(flags) < 0)
                g_error("unshare(CLONE_NEWNET%s): %s — run as root",
                        own_sysfs ? " | CLONE_NEWNS" : "", g_strerror(errno));
        if (!own_sysfs)
                return;
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                g_error("cannot make / private in the new mount namespace: %s", g_strerror(errno));
        if (mount("sysfs", "/sys", "sysfs", 0, NULL) < 0)
                g_error("cannot mount a sysfs on /sys: %s", g_strerror(errno));
}
