/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Migrate() and PrepareIncoming() options (NlcMigrationOptions, declared
 * with the driver in nlc-migration.h), parsed against the host
 * configuration's defaults.
 */
#pragma once

#include "nlc-migration.h"

/* As nlc_migration_options_parse(), for a journalled migration: one of an
 * older version may name no readiness, or "local" without another
 * instance; it is followed with the gate closed instead of refused. */
gboolean nlc_migration_options_parse_journalled(GVariant *options, gboolean source,
                                                const char *instance, const NlcConfig *defaults,
                                                NlcMigrationOptions *out, GError **error);
