/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Validation of the names and addresses callers hand in. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NLC_INSTANCE_NAME_MAX 64

/* Parses "52:54:00:12:34:56" (either case). Sets InvalidArgs and returns FALSE
 * for bad syntax, a multicast/broadcast MAC or all-zero. */
gboolean nlc_mac_parse(const char *s, guint8 mac[6], GError **error);
/* "52:54:00:12:34:56", lower case; the result is freed by the caller. */
char *nlc_mac_to_string(const guint8 mac[6]);

/* 1–64 characters from [A-Za-z0-9_.-]; InvalidArgs naming the fault. */
gboolean nlc_instance_name_validate(const char *name, GError **error);

/* A kernel interface name we are willing to create: 1–15 characters from
 * [A-Za-z0-9_.-], not "." or "..". InvalidArgs naming the fault. */
gboolean nlc_ifname_validate(const char *name, GError **error);

/* A caller's string as it may be quoted in a message: valid UTF-8 (bad
 * bytes replaced), at most @max_chars characters, cut on a character
 * boundary with "…" when longer. A message cut mid-character is not a
 * valid D-Bus string, and the caller would get "[Invalid UTF-8]". */
char *nlc_excerpt(const char *s, gsize max_chars);

G_END_DECLS
