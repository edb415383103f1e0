/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host configuration file: defaults, every key, and refusals that name
 * the file, the line and the key. */
#include <glib/gstdio.h>
#include <string.h>

#include "nlc-config.h"
#include "nlc-error.h"

static char *
write_conf(const char *text)
{
        g_autofree char *dir = g_dir_make_tmp("nlc-config-XXXXXX", NULL);
        char *path = g_build_filename(dir, "netlifecd.conf", NULL);

        g_assert_true(g_file_set_contents(path, text, -1, NULL));
        return path;
}

static void
test_defaults(void)
{
        NlcConfig c;

        g_assert_true(nlc_config_load(&c, "/nonexistent/netlifecd.conf", FALSE, NULL));
        g_assert_true(c.postcopy_allowed);
        g_assert_cmpuint(c.policy, ==, NLC_POSTCOPY_AFTER_PRECOPY);
        g_assert_cmpuint(c.precopy_passes, ==, 1);
        g_assert_cmpuint(c.readiness_timeout_ms, ==, 60000);
        g_assert_false(c.fallback_fail);
        g_assert_cmpuint(c.announce_rounds, ==, 5);
        g_assert_cmpuint(c.announce_max_ms, ==, 550);
        g_assert_cmpuint(c.max_bandwidth, ==, 0);
        /* No readiness default: a Migrate naming none is refused. */
        g_assert_false(c.has_readiness);
        g_assert_cmpstr(c.destination_bus, ==, "");
        g_assert_cmpstr(c.lldpad_pid_file, ==, "/var/run/lldpad.pid");
        g_assert_cmpuint(c.port_profile_timeout_ms, ==, 10000);
        g_assert_cmpuint(c.port_profile_event_port, ==, 0x6e6c6364);
        g_assert_cmpstr(c.port_profile_host_uuid, ==, "");
        g_assert_cmpuint(c.port_profile_watch_ms, ==, 10000);
}

static void
test_every_key(void)
{
        g_autofree char *path = write_conf("# host policy\n"
                                           "[postcopy]\n"
                                           "allowed = false\n"
                                           "policy = on-stall\n"
                                           "precopy-passes = 3\n"
                                           "stall-passes = 4\n"
                                           "preempt = false\n"
                                           "[readiness]\n"
                                           "timeout-ms = 5000\n"
                                           "fallback = fail\n"
                                           "[announce]\n"
                                           "rounds = 8\n"
                                           "initial-ms = 20\n"
                                           "max-ms = 900\n"
                                           "step-ms = 50\n"
                                           "[migration]\n"
                                           "max-bandwidth = 16777216\n"
                                           "readiness = destination-bus\n"
                                           "destination-bus = tcp:host=192.0.2.2,port=7000\n"
                                           "[port-profile]\n"
                                           "lldpad-pid-file = /run/st/lldpad.pid\n"
                                           "timeout-ms = 3000\n"
                                           "event-port = 4242\n"
                                           "host-uuid = 11223344-5566-7788-99aa-bbccddeeff00\n"
                                           "watch-ms = 0\n");
        NlcConfig c;
        g_autoptr(GError) error = NULL;

        g_assert_true(nlc_config_load(&c, path, TRUE, &error));
        g_assert_no_error(error);
        g_assert_false(c.postcopy_allowed);
        g_assert_cmpuint(c.policy, ==, NLC_POSTCOPY_ON_STALL);
        g_assert_cmpuint(c.precopy_passes, ==, 3);
        g_assert_cmpuint(c.stall_passes, ==, 4);
        g_assert_false(c.preempt);
        g_assert_cmpuint(c.readiness_timeout_ms, ==, 5000);
        g_assert_true(c.fallback_fail);
        g_assert_cmpuint(c.announce_rounds, ==, 8);
        g_assert_cmpuint(c.announce_initial_ms, ==, 20);
        g_assert_cmpuint(c.announce_max_ms, ==, 900);
        g_assert_cmpuint(c.announce_step_ms, ==, 50);
        g_assert_cmpuint(c.max_bandwidth, ==, 16777216);
        g_assert_true(c.has_readiness);
        g_assert_cmpuint(c.readiness, ==, NLC_READINESS_DESTINATION_BUS);
        g_assert_cmpstr(c.destination_bus, ==, "tcp:host=192.0.2.2,port=7000");
        g_assert_cmpstr(c.lldpad_pid_file, ==, "/run/st/lldpad.pid");
        g_assert_cmpuint(c.port_profile_timeout_ms, ==, 3000);
        g_assert_cmpuint(c.port_profile_event_port, ==, 4242);
        g_assert_cmpstr(c.port_profile_host_uuid, ==, "11223344-5566-7788-99aa-bbccddeeff00");
        g_assert_cmpuint(c.port_profile_watch_ms, ==, 0);
}

static void
expect_refusal(const char *text, const char *message_part)
{
        g_autofree char *path = write_conf(text);
        g_autofree char *want = g_strdup_printf("%s:%s", path, message_part);
        g_autoptr(GError) error = NULL;
        NlcConfig c;

        g_assert_false(nlc_config_load(&c, path, TRUE, &error));
        g_assert_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS);
        if (!g_str_has_prefix(error->message, want))
                g_error("'%s' does not start with '%s'", error->message, want);
}

static void
test_refusals(void)
{
        g_autoptr(GError) error = NULL;
        NlcConfig c;

        expect_refusal("[postcopy]\nallowed = maybe\n", "2: [postcopy] allowed: 'maybe'");
        expect_refusal("[postcopy]\n\npolicy = sometimes\n", "3: [postcopy] policy: 'sometimes'");
        expect_refusal("[readiness]\ntimeout-ms = -5\n", "2: [readiness] timeout-ms: '-5'");
        expect_refusal("[readiness]\nfallback = retry\n", "2: [readiness] fallback: 'retry'");
        expect_refusal("[announce]\nrounds = 0\n", "2: [announce] rounds: '0'");
        expect_refusal("[postcopy]\nallowed = true\nspeed = fast\n",
                       "3: [postcopy] speed: unknown key");
        expect_refusal("[colours]\nred = 1\n", "2: [colours] red: unknown key");
        expect_refusal("[announce]\ninitial-ms = 900\nmax-ms = 100\n",
                       "2: [announce] initial-ms is above");
        expect_refusal("[migration]\nreadiness = guess\n", "2: [migration] readiness: 'guess'");
        expect_refusal("[migration]\ndestination-bus = nowhere\n",
                       "2: [migration] destination-bus: 'nowhere' is not a D-Bus address");
        expect_refusal("[port-profile]\nlldpad-pid-file = lldpad.pid\n",
                       "2: [port-profile] lldpad-pid-file: 'lldpad.pid' is not an absolute path");
        expect_refusal("[port-profile]\ntimeout-ms = 5\n", "2: [port-profile] timeout-ms: '5'");
        expect_refusal("[port-profile]\nhost-uuid = host1\n",
                       "2: [port-profile] host-uuid: 'host1' is not a UUID");
        expect_refusal("[port-profile]\nevent-port = 0\n", "2: [port-profile] event-port: '0'");
        expect_refusal("[migration]\nreadiness = destination-bus\n",
                       "2: [migration] readiness destination-bus needs");
        /* An explicit --config that is missing is an error; the default is not. */
        g_assert_false(nlc_config_load(&c, "/nonexistent/netlifecd.conf", TRUE, &error));
        g_assert_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/config/defaults", test_defaults);
        g_test_add_func("/config/every-key", test_every_key);
        g_test_add_func("/config/refusals", test_refusals);
        return g_test_run();
}
