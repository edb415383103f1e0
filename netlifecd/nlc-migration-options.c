/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "nlc-backends.h"
#include "nlc-error.h"
#include "nlc-migration-options.h"
#include "nlc-readiness.h"

static const NlcBackendOption source_options[] = {
        { "context", "s", "evacuate or balance (instead of postcopy)" },
        { "postcopy", "s", "after-precopy, immediate, on-stall or never" },
        { "precopy-passes", "u", "full pre-copy passes before the switch (after-precopy)" },
        { "stall-passes", "u", "passes without progress before the switch (on-stall)" },
        { "readiness", "s", "local, coordinated or destination-bus" },
        { "destination-instance", "s", "the destination instance's name" },
        { "destination-bus", "s", "D-Bus address of the destination daemon's bus" },
        { "readiness-timeout", "u", "ms to wait for the destination after the policy fired" },
        { "fallback", "s", "continue-precopy or fail, when the destination is not ready in time" },
        { "max-bandwidth", "t", "bytes per second" },
        { "release-source", "b", "destroy and free the source devices on completion" },
        { "preempt", "b", "use postcopy-preempt when QEMU offers it (default true)" },
        { "pause-before-switchover", "b",
          "pause at the switchover until the destination is ready" },
        { NULL },
};

static const NlcBackendOption destination_options[] = {
        { "postcopy", "b", "allow post-copy (default true)" },
        { "preempt", "b", "use postcopy-preempt when QEMU offers it (default true)" },
        { NULL },
};

void
nlc_migration_options_clear(NlcMigrationOptions *o)
{
        g_clear_pointer(&o->destination_instance, g_free);
        g_clear_pointer(&o->destination_bus, g_free);
}

static gboolean
bad_value(GError **error, const char *option, const char *value, const char *expected)
{
        g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS, "option '%s' is '%s'; expected %s",
                    option, value, expected);
        return FALSE;
}

/* How the source learns the destination's readiness: the caller's
 * 'readiness', else 'destination-bus' given alone, else the host
 * configuration's [migration] readiness. Nothing is guessed: there is no
 * built-in default, and "local" must name another instance (the migrating
 * one is ready because the guest runs there, which says nothing of the
 * destination). @restoring: a journalled migration of an older version may
 * name none; it is followed with the gate closed instead of refused. */
static gboolean
parse_readiness(GVariant *options, const char *instance, const NlcConfig *defaults,
                gboolean restoring, NlcMigrationOptions *out, GError **error)
{
        const char *s = NULL;
        gboolean gated = out->policy != NLC_POSTCOPY_NEVER || out->pause_before_switchover;

        if (g_variant_lookup(options, "destination-bus", "&s", &s))
                out->destination_bus = g_strdup(s);
        else if (defaults->destination_bus[0])
                out->destination_bus = g_strdup(defaults->destination_bus);
        if (g_variant_lookup(options, "destination-instance", "&s", &s))
                out->destination_instance = g_strdup(s);
        if (g_variant_lookup(options, "readiness", "&s", &s)) {
                if (!nlc_readiness_source_from_string(s, &out->readiness))
                        return bad_value(error, "readiness", s,
                                         "local, coordinated or destination-bus");
                out->has_readiness = TRUE;
        } else if (g_variant_lookup(options, "destination-bus", "&s", NULL)) {
                out->readiness = NLC_READINESS_DESTINATION_BUS;
                out->has_readiness = TRUE;
        } else if (defaults->has_readiness) {
                out->readiness = defaults->readiness;
                out->has_readiness = TRUE;
        }
        if (!out->has_readiness) {
                if (!gated || restoring)
                        return TRUE;
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                            "Migrate needs option 'readiness' (destination-bus with option "
                            "'destination-bus', coordinated, or local with option "
                            "'destination-instance'): without it the daemon cannot learn when "
                            "the destination's ports forward, and the switch must wait for them; "
                            "or name a default in the host configuration ([migration] readiness)");
                return FALSE;
        }
        switch (out->readiness) {
        case NLC_READINESS_DESTINATION_BUS:
                if (!out->destination_bus ||
                    !g_dbus_is_supported_address(out->destination_bus, NULL)) {
                        g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                                    "readiness 'destination-bus' needs option 'destination-bus' "
                                    "with a D-Bus address (or [migration] destination-bus in the "
                                    "host configuration)");
                        return FALSE;
                }
                /* The guest keeps its name on the other host. */
                if (!out->destination_instance)
                        out->destination_instance = g_strdup(instance);
                return TRUE;
        case NLC_READINESS_LOCAL:
                if (out->destination_instance && !g_str_equal(out->destination_instance, instance))
                        return TRUE;
                if (restoring) {
                        /* Followed with no destination: never ready. */
                        g_clear_pointer(&out->destination_instance, g_free);
                        return TRUE;
                }
                if (out->destination_instance)
                        g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                                    "readiness 'local': option 'destination-instance' is %s, the "
                                    "migrating instance itself; it is ready because the guest "
                                    "runs there, which says nothing of the destination",
                                    instance);
                else
                        g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                                    "readiness 'local' needs option 'destination-instance': the "
                                    "instance of the new QEMU on this host (not %s, the one "
                                    "migrating)",
                                    instance);
                return FALSE;
        case NLC_READINESS_COORDINATED:
        default:
                return TRUE;
        }
}

static gboolean
parse_options(GVariant *options, gboolean source, const char *instance, const NlcConfig *defaults,
              gboolean restoring, NlcMigrationOptions *out, GError **error)
{
        const char *s = NULL;

        memset(out, 0, sizeof *out);
        /* The host configuration's defaults; the caller's options win. */
        out->policy = defaults->policy;
        out->precopy_passes = defaults->precopy_passes;
        out->stall_passes = defaults->stall_passes;
        out->readiness_timeout_ms = defaults->readiness_timeout_ms;
        out->fallback_fail = defaults->fallback_fail;
        out->max_bandwidth = defaults->max_bandwidth;
        out->allow_postcopy = defaults->postcopy_allowed;
        out->preempt = defaults->preempt;
        if (!nlc_options_check(source ? source_options : destination_options,
                               source ? "Migrate" : "PrepareIncoming", options, error))
                return FALSE;
        g_variant_lookup(options, "preempt", "b", &out->preempt);
        if (!source) {
                gboolean wanted;

                if (g_variant_lookup(options, "postcopy", "b", &wanted) && wanted &&
                    !defaults->postcopy_allowed) {
                        g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_STATE,
                                    "post-copy is off on this host ([postcopy] allowed=false)");
                        return FALSE;
                }
                if (g_variant_lookup(options, "postcopy", "b", &wanted))
                        out->allow_postcopy = wanted;
                return TRUE;
        }
        g_variant_lookup(options, "pause-before-switchover", "b", &out->pause_before_switchover);
        if (g_variant_lookup(options, "context", "&s", &s)) {
                /* The decision table (README): evacuate must end in bounded
                 * time; balance must not risk a post-copy it can avoid. */
                if (g_variant_lookup(options, "postcopy", "&s", NULL)) {
                        g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                                    "give option 'context' or option 'postcopy', not both");
                        return FALSE;
                }
                if (g_str_equal(s, "evacuate"))
                        out->policy = NLC_POSTCOPY_AFTER_PRECOPY;
                else if (g_str_equal(s, "balance"))
                        out->policy = NLC_POSTCOPY_ON_STALL;
                else
                        return bad_value(error, "context", s, "evacuate or balance");
        }
        if (g_variant_lookup(options, "postcopy", "&s", &s) &&
            !nlc_postcopy_policy_from_string(s, &out->policy))
                return bad_value(error, "postcopy", s,
                                 "after-precopy, immediate, on-stall or never");
        if (g_variant_lookup(options, "fallback", "&s", &s)) {
                if (g_str_equal(s, "fail"))
                        out->fallback_fail = TRUE;
                else if (!g_str_equal(s, "continue-precopy"))
                        return bad_value(error, "fallback", s, "continue-precopy or fail");
        }
        g_variant_lookup(options, "precopy-passes", "u", &out->precopy_passes);
        g_variant_lookup(options, "stall-passes", "u", &out->stall_passes);
        g_variant_lookup(options, "readiness-timeout", "u", &out->readiness_timeout_ms);
        g_variant_lookup(options, "max-bandwidth", "t", &out->max_bandwidth);
        g_variant_lookup(options, "release-source", "b", &out->release_source);
        if (out->precopy_passes < 1 || out->stall_passes < 1) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                            "options 'precopy-passes' and 'stall-passes' must be at least 1");
                return FALSE;
        }
        return parse_readiness(options, instance, defaults, restoring, out, error);
}

gboolean
nlc_migration_options_parse(GVariant *options, gboolean source, const char *instance,
                            const NlcConfig *defaults, NlcMigrationOptions *out, GError **error)
{
        return parse_options(options, source, instance, defaults, FALSE, out, error);
}

gboolean
nlc_migration_options_parse_journalled(GVariant *options, gboolean source, const char *instance,
                                       const NlcConfig *defaults, NlcMigrationOptions *out,
                                       GError **error)
{
        return parse_options(options, source, instance, defaults, TRUE, out, error);
}
