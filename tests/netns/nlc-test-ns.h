/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The test process's own namespaces, for both fixtures and the benchmarks. */
#pragma once

#include <glib.h>

/*
 * Moves the calling process into a new network namespace and, with
 * @own_sysfs, a new mount namespace (private, so nothing propagates back
 * to the host) with a fresh sysfs on /sys, which shows the new network
 * namespace's links (a macvtap's device number is read there). Without the
 * privilege, the test fails here: these tests never skip.
 */
void nlc_test_unshare(gboolean own_sysfs);
