/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's log, as both fixtures keep it (a file per test case).
 */
#pragma once

#include <glib.h>

/* How many times @what occurs in the file @log_path (which must exist). */
guint nlc_test_log_count(const char *log_path, const char *what);
