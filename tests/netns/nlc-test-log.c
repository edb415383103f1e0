/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "nlc-test-log.h"

guint
nlc_test_log_count(const char *log_path, const char *what)
{
        g_autofree char *log = NULL;
        guint n = 0;

        g_assert_true(g_file_get_contents(log_path, &log, NULL, NULL));
        for (const char *p = log; (p = strstr(p, what)); p++)
                n++;
        return n;
}
