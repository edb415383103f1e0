/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A device with a port profile (nlc-device.c with nlc-port-association.c),
 * the fake backend and the scripted lldpad: the daemon's own activations
 * are refused until the switch associated the profile; after a restart an
 * active device is not Ready until its profile is associated again
 * (PortReason port-profile), and stays not Ready when the switch does not
 * answer; the profile stays across Deactivate and goes with Destroy.
 */
#include <glib/gstdio.h>
#include <string.h>

#include "nlc-device.h"
#include "nlc-error.h"
#include "nlc-fake-backend.h"
#include "nlc-fake-lldpad.h"
#include "nlc-instance.h"
#include "nlc-port-association.h"

#define PROFILE                                                                       \
        "{'virtualport': <'802.1Qbg'>, 'managerid': <byte 1>, 'typeid': <uint32 2>, " \
        "'typeidversion': <byte 3>, 'instanceid': <'a1412857-60f7-4ce1-e95a-2164943f53aa'>}"

typedef struct {
        Fake fake;
        char *dir;
        NlcJournal *journal;
        NlcDevice *device;
        guint ready_changes;
        gboolean done, ok;
        GError *error;
} Fixture;

static void
on_ready_changed(NlcDevice *device, gpointer data)
{
        ((Fixture *) data)->ready_changes++;
}

static void
setup(Fixture *f, Script script, NlcDeviceState state, guint timeout_ms)
{
        NlcJournalRecord *rec = g_new0(NlcJournalRecord, 1);

        memset(f, 0, sizeof(*f));
        nlc_fake_backend_reset();
        fake_start(&f->fake, script);
        nlc_port_association_configure(f->fake.pid_file, timeout_ms, NULL);
        f->dir = g_dir_make_tmp("test-device-profile-XXXXXX", NULL);
        f->journal = nlc_journal_open(f->dir, NULL);
        rec->id = g_strdup("1");
        rec->instance = g_strdup("vm1");
        rec->backend = g_strdup("fake");
        rec->mac = g_strdup("52:54:00:00:20:01");
        rec->state = state;
        rec->options = g_variant_ref_sink(g_variant_parse(NULL, PROFILE, NULL, NULL, NULL));
        rec->props = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        /* The uplink: the macvtap's lower device in the daemon. */
        g_hash_table_insert(rec->props, g_strdup("link"), g_strdup("lo"));
        f->device = nlc_device_new(rec, &nlc_fake_backend, f->journal, NULL);
        g_signal_connect(f->device, "ready-changed", G_CALLBACK(on_ready_changed), f);
        /* The kernel says the link forwards (a macvtap's lower with carrier). */
        nlc_device_set_port_state(f->device, NLC_PORT_STATE_FORWARDING, NLC_PORT_REASON_NONE, 0,
                                  g_get_monotonic_time());
}

static void
teardown(Fixture *f)
{
        g_object_unref(f->device);
        nlc_journal_free(f->journal);
        nlc_fake_remove_dir(f->dir);
        g_clear_error(&f->error);
        fake_stop(&f->fake);
}

static void
on_associated(GObject *source, GAsyncResult *result, gpointer data)
{
        Fixture *f = data;

        f->ok = nlc_device_associate_finish(result, &f->error);
        f->done = TRUE;
}

static const char *
profile_state(Fixture *f)
{
        static char state[64];
        GVariant *p = nlc_dbus_device_get_port_profile(NLC_DBUS_DEVICE(f->device));
        const char *s = "";

        if (p)
                g_variant_lookup(p, "State", "&s", &s);
        g_strlcpy(state, s, sizeof state);
        return state;
}

static void
wait_profile(Fixture *f, const char *state)
{
        gint64 until = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

        while (!g_str_equal(profile_state(f), state)) {
                g_assert_cmpint(g_get_monotonic_time(), <, until);
                g_main_context_iteration(NULL, TRUE);
        }
}

/* Only an association lets a device with a profile activate. */
static void
test_activation_needs_association(void)
{
        Fixture f;
        g_autoptr(GError) error = NULL;

        setup(&f, SCRIPT_SUCCESS, NLC_DEVICE_STATE_CREATED, 2000);
        g_assert_true(nlc_device_has_port_profile(f.device));
        g_assert_true(nlc_device_needs_association(f.device));
        g_assert_false(nlc_device_run(f.device, NLC_OP_ACTIVATE, &error));
        g_assert_error(error, NLC_ERROR, NLC_ERROR_INVALID_STATE);
        g_assert_nonnull(strstr(error->message, "has not associated its port profile"));
        g_assert_null(strstr(nlc_fake_backend_calls->str, "activate"));
        g_assert_cmpint(nlc_device_get_state(f.device), ==, NLC_DEVICE_STATE_CREATED);

        nlc_device_associate_async(f.device, on_associated, &f);
        while (!f.done)
                g_main_context_iteration(NULL, TRUE);
        g_assert_true(f.ok);
        g_assert_cmpstr(profile_state(&f), ==, "associated");
        g_assert_true(nlc_device_run(f.device, NLC_OP_ACTIVATE, NULL));
        g_assert_true(nlc_device_get_ready(f.device));
        g_assert_false(nlc_device_needs_association(f.device)); /* active now */

        /* A paused guest keeps its profile: Deactivate asks nothing, and
         * the next activation needs no new association. */
        g_assert_true(nlc_device_run(f.device, NLC_OP_DEACTIVATE, NULL));
        g_assert_cmpstr(profile_state(&f), ==, "associated");
        g_assert_false(nlc_device_needs_association(f.device));
        g_assert_true(nlc_device_run(f.device, NLC_OP_ACTIVATE, NULL));
        g_assert_true(nlc_device_run(f.device, NLC_OP_DEACTIVATE, NULL));
        g_assert_cmpuint(f.fake.setlinks, ==, 1);
        /* The NIC going lets the switch go. */
        g_assert_true(nlc_device_run(f.device, NLC_OP_DESTROY, NULL));
        wait_profile(&f, "disassociated");
        g_assert_cmpuint(f.fake.setlinks, ==, 2);
        g_assert_cmpuint(f.fake.last_request, ==, NLC_VDP_DISASSOCIATE);
        teardown(&f);
}

/* A restarted daemon associates an active device again; Ready waits. */
static void
test_restart_reassociates(void)
{
        Fixture f;

        setup(&f, SCRIPT_SUCCESS, NLC_DEVICE_STATE_ACTIVE, 2000);
        f.ready_changes = 0;
        nlc_device_restore_port_profile(f.device);
        g_assert_false(nlc_device_get_ready(f.device));
        g_assert_cmpint(nlc_device_get_port_reason(f.device), ==, NLC_PORT_REASON_PORT_PROFILE);
        g_assert_cmpuint(nlc_dbus_device_get_ready_in_usec(NLC_DBUS_DEVICE(f.device)), ==,
                         G_MAXUINT64);
        wait_profile(&f, "associated");
        g_assert_true(nlc_device_get_ready(f.device));
        g_assert_cmpint(nlc_device_get_port_reason(f.device), ==, NLC_PORT_REASON_NONE);
        g_assert_cmpuint(f.fake.last_request, ==, NLC_VDP_ASSOCIATE);
        g_assert_cmpuint(f.ready_changes, ==, 2); /* held back, then ready */
        teardown(&f);
}

/* The switch silent after a restart: the device stays active (its guest
 * runs) but not Ready, and says why. */
static void
test_restart_switch_silent(void)
{
        Fixture f;

        setup(&f, SCRIPT_SILENT, NLC_DEVICE_STATE_ACTIVE, 300);
        nlc_device_restore_port_profile(f.device);
        wait_profile(&f, "failed");
        g_assert_false(nlc_device_get_ready(f.device));
        g_assert_cmpint(nlc_device_get_port_reason(f.device), ==, NLC_PORT_REASON_PORT_PROFILE);
        g_assert_cmpint(nlc_device_get_state(f.device), ==, NLC_DEVICE_STATE_ACTIVE);
        g_assert_nonnull(strstr(nlc_fake_warnings->str, "port profile not re-established"));
        teardown(&f);
}

/* A followed guest's RESUME: the device with a profile is associated, then
 * activated; if the guest stops again before the switch answers, it stays
 * created (its profile associated for the next RESUME). */
static void
test_running_guest(void)
{
        Fixture f;
        g_autoptr(NlcInstance) instance = nlc_instance_new("vm1");
        g_autoptr(GString) skipped = g_string_new(NULL);
        g_autoptr(GError) error = NULL;

        setup(&f, SCRIPT_SUCCESS, NLC_DEVICE_STATE_CREATED, 2000);
        nlc_instance_add_device(instance, f.device);
        g_assert_cmpuint(nlc_instance_activate_available(instance, skipped), ==, 0);
        g_assert_cmpstr(skipped->str, ==, "");                    /* pending, not skipped */
        g_assert_true(nlc_instance_deactivate(instance, &error)); /* STOP before the answer */
        wait_profile(&f, "associated");
        g_main_context_iteration(NULL, FALSE);
        g_assert_cmpint(nlc_device_get_state(f.device), ==, NLC_DEVICE_STATE_CREATED);
        /* The next RESUME activates at once: the profile is associated. */
        g_assert_cmpuint(nlc_instance_activate_available(instance, skipped), ==, 1);
        g_assert_cmpint(nlc_device_get_state(f.device), ==, NLC_DEVICE_STATE_ACTIVE);
        g_assert_cmpuint(f.fake.setlinks, ==, 1);
        nlc_instance_remove_device(instance, f.device);
        teardown(&f);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        nlc_fake_backend_init();
        g_test_add_func("/device-profile/activation-needs-association",
                        test_activation_needs_association);
        g_test_add_func("/device-profile/restart-reassociates", test_restart_reassociates);
        g_test_add_func("/device-profile/restart-switch-silent", test_restart_switch_silent);
        g_test_add_func("/device-profile/running-guest", test_running_guest);
        return g_test_run();
}
