/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The backend registry: built-in vtables, each checked against the ABI. */
#pragma once

#include "nlc-plugin.h"

/* Registers the built-in backends. */
void nlc_backends_init(void);
/* Checks @backend's ABI version and required members, then registers it. */
gboolean nlc_backends_register(const NlcBackend *backend, GError **error);
/* Refuses a vtable built for another ABI major, a newer minor, or one that
 * lacks a required operation. */
gboolean nlc_backend_check(const NlcBackend *backend, GError **error);
const NlcBackend *nlc_backends_lookup(const char *name);
/* "tap-bridge, macvtap": for error messages. */
char *nlc_backends_list_names(void);
/* Manager.Backends: name → { description, fd-handover, quiet-until-activate,
 * postcopy-safe, options (a{ss} name → GVariant type), option-descriptions
 * (a{ss}) }. */
GVariant *nlc_backends_describe(void);
/* Checks @options (a{sv}) against @table (terminated by { NULL }): unknown
 * names and wrong types are refused with InvalidArgs naming the option and
 * @owner ("backend tap-bridge", "Migrate"). */
gboolean nlc_options_check(const NlcBackendOption *table, const char *owner, GVariant *options,
                           GError **error);
/* Checks @options (a{sv}) against the backend's accepted options: unknown
 * names and wrong types are refused with InvalidArgs naming the option. */
gboolean nlc_backend_check_options(const NlcBackend *backend, GVariant *options, GError **error);
