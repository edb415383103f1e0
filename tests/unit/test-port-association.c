/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One device's port-profile association (nlc-port-association.c) against
 * the scripted lldpad: the named errors the daemon's Activate returns (the
 * switch's refusal with its code, a silent switch, lldpad refusing, no
 * lldpad, no uplink), one request at a time in the order asked, a release
 * that is idempotent and leaves a VSI another device wants, lldpad's
 * unsolicited DISASSOCIATE answered with a new association (and nothing
 * else taken for one). The real
 * exchange through the daemon: tests/lldpad (scenario nlc-daemon).
 */
#include <string.h>

#include "nlc-error.h"
#include "nlc-fake-lldpad.h"
#include "nlc-port-association.h"

typedef struct {
        Fake fake;
        GObject *owner; /* the tasks' source object: a device in the daemon */
        NlcPortAssociation *a;
        guint changes;
        gboolean done;
        gboolean ok;
        GError *error;
        guint setlinks_at_done; /* what the fake had got when the callback ran */
        guint lost;
        char *lost_why;
} Fixture;

/* The event port of this test process (each unit test its own). */
#define EVENT_PORT 0x6e6c6301u

static void
on_changed(gpointer data)
{
        ((Fixture *) data)->changes++;
}

static NlcPortAssociation *
new_association(Fixture *f, const char *uplink, const char *device_id)
{
        NlcPortProfile p = {
                .kind = NLC_PORT_PROFILE_8021QBG,
                .manager_id = 1,
                .type_id = 2,
                .type_id_version = 3,
                .has_instance = TRUE,
        };
        static const guint8 mac[6] = { 0x52, 0x54, 0x00, 0x00, 0x20, 0x01 };

        memcpy(p.instance, nlc_fake_lldpad_uuid, 16);
        return nlc_port_association_new(&p, mac, uplink, device_id, G_CALLBACK(on_changed), f);
}

static void
setup(Fixture *f, Script script, const char *uplink, guint timeout_ms)
{
        memset(f, 0, sizeof(*f));
        fake_start(&f->fake, script);
        nlc_port_association_configure(f->fake.pid_file, timeout_ms, NULL);
        f->owner = g_object_new(G_TYPE_OBJECT, NULL);
        f->a = new_association(f, uplink, "7");
}

static void
on_lost(gpointer data, const char *why)
{
        Fixture *f = data;

        f->lost++;
        g_free(f->lost_why);
        f->lost_why = g_strdup(why);
}

static void
teardown(Fixture *f)
{
        g_free(f->lost_why);
        nlc_port_association_free(f->a);
        g_object_unref(f->owner);
        g_clear_error(&f->error);
        fake_stop(&f->fake);
}

static void
on_done(GObject *source, GAsyncResult *result, gpointer data)
{
        Fixture *f = data;

        g_assert_true(source == f->owner);
        g_clear_error(&f->error);
        f->ok = nlc_port_association_request_finish(result, &f->error);
        f->setlinks_at_done = f->fake.setlinks;
        f->done = TRUE;
}

static void
wait_done(Fixture *f)
{
        while (!f->done)
                g_main_context_iteration(NULL, TRUE);
        f->done = FALSE;
        if (f->error)
                g_test_message("%s", f->error->message);
}

static void
ask(Fixture *f, NlcVdpRequest request)
{
        nlc_port_association_request_async(f->a, request, f->owner, on_done, f);
        wait_done(f);
}

static const char *
variant_string(NlcPortAssociation *a, const char *key)
{
        static char value[512];
        g_autoptr(GVariant) v = nlc_port_association_to_variant(a);
        const char *s = "";

        g_variant_lookup(v, key, "&s", &s);
        g_strlcpy(value, s, sizeof value);
        return value;
}

/* Let the main loop run for @ms, for what is sent without a caller. */
static void
spin(guint ms)
{
        gint64 until = g_get_monotonic_time() + (gint64) ms * 1000;

        while (g_get_monotonic_time() < until)
                g_main_context_iteration(NULL, FALSE);
}

static void
test_associated(void)
{
        Fixture f;
        g_autoptr(GVariant) v = NULL;
        guint16 response = 99;

        setup(&f, SCRIPT_SUCCESS, "lo", 2000);
        g_assert_cmpstr(variant_string(f.a, "State"), ==, "none");
        ask(&f, NLC_VDP_ASSOCIATE);
        g_assert_true(f.ok);
        g_assert_cmpint(nlc_port_association_get_state(f.a), ==, NLC_ASSOCIATION_ASSOCIATED);
        g_assert_cmpuint(f.changes, ==, 2); /* associating, associated */
        g_assert_cmpuint(f.fake.last_request, ==, NLC_VDP_ASSOCIATE);
        v = nlc_port_association_to_variant(f.a);
        g_assert_true(g_variant_lookup(v, "Response", "q", &response));
        g_assert_cmpuint(response, ==, 0);
        g_assert_cmpstr(variant_string(f.a, "Kind"), ==, "802.1Qbg");
        g_assert_cmpstr(variant_string(f.a, "Uplink"), ==, "lo");
        g_assert_cmpstr(variant_string(f.a, "Request"), ==, "associate");
        g_assert_cmpstr(variant_string(f.a, "Error"), ==, "");
        g_assert_cmpstr(variant_string(f.a, "InstanceId"), ==,
                        "a1412857-60f7-4ce1-e95a-2164943f53aa");
        teardown(&f);
}

/* The switch's refusal, with its code and meaning, as the daemon's error. */
static void
test_refused(void)
{
        Fixture f;

        setup(&f, SCRIPT_REFUSE, "lo", 2000);
        ask(&f, NLC_VDP_ASSOCIATE);
        g_assert_false(f.ok);
        g_assert_error(f.error, NLC_ERROR, NLC_ERROR_PORT_PROFILE_REFUSED);
        g_assert_nonnull(strstr(f.error->message, "device 7: associate of VSI"));
        g_assert_nonnull(
                strstr(f.error->message, "the switch answered 2 (insufficient resources)"));
        g_assert_cmpint(nlc_port_association_get_state(f.a), ==, NLC_ASSOCIATION_FAILED);
        g_assert_cmpstr(variant_string(f.a, "State"), ==, "failed");
        g_assert_cmpstr(variant_string(f.a, "Error"), ==, f.error->message);
        teardown(&f);
}

static void
test_timed_out(void)
{
        Fixture f;
        gint64 t0 = g_get_monotonic_time();

        setup(&f, SCRIPT_SILENT, "lo", 300);
        ask(&f, NLC_VDP_ASSOCIATE);
        g_assert_error(f.error, NLC_ERROR, NLC_ERROR_PORT_PROFILE_TIMED_OUT);
        g_assert_nonnull(strstr(f.error->message, "300 ms"));
        /* GLib may fire a timer a fraction of a millisecond early. */
        g_assert_cmpint(g_get_monotonic_time() - t0, >=, 290 * 1000);
        teardown(&f);
}

/* lldpad's own refusal (an errno) and a VSI lldpad drops are refusals too. */
static void
test_lldpad_refuses(void)
{
        Fixture f;

        setup(&f, SCRIPT_ERRNO, "lo", 2000);
        ask(&f, NLC_VDP_ASSOCIATE);
        g_assert_error(f.error, NLC_ERROR, NLC_ERROR_PORT_PROFILE_REFUSED);
        teardown(&f);
        setup(&f, SCRIPT_DROP, "lo", 2000);
        ask(&f, NLC_VDP_ASSOCIATE);
        g_assert_error(f.error, NLC_ERROR, NLC_ERROR_PORT_PROFILE_REFUSED);
        teardown(&f);
}

static void
test_unavailable(void)
{
        Fixture f;

        setup(&f, SCRIPT_SUCCESS, "lo", 2000);
        nlc_port_association_configure("/nonexistent/lldpad.pid", 2000, NULL);
        ask(&f, NLC_VDP_ASSOCIATE);
        g_assert_error(f.error, NLC_ERROR, NLC_ERROR_PORT_PROFILE_UNAVAILABLE);
        g_assert_cmpuint(f.fake.setlinks, ==, 0);
        teardown(&f);
}

static void
test_no_uplink(void)
{
        Fixture f;

        setup(&f, SCRIPT_SUCCESS, "nlcnouplink0", 2000);
        ask(&f, NLC_VDP_ASSOCIATE);
        g_assert_error(f.error, NLC_ERROR, NLC_ERROR_NOT_FOUND);
        g_assert_nonnull(strstr(f.error->message, "uplink nlcnouplink0"));
        g_assert_cmpuint(f.fake.setlinks, ==, 0);
        teardown(&f);
}

/* Two requests asked at once: the second goes out only once the first has
 * its answer (lldpad would answer EBUSY, or the stale status). */
static void
test_one_at_a_time(void)
{
        Fixture f;

        setup(&f, SCRIPT_SUCCESS, "lo", 2000);
        nlc_port_association_request_async(f.a, NLC_VDP_ASSOCIATE, f.owner, on_done, &f);
        nlc_port_association_request_async(f.a, NLC_VDP_DISASSOCIATE, f.owner, on_done, &f);
        wait_done(&f);
        g_assert_true(f.ok);
        g_assert_cmpuint(f.setlinks_at_done, ==, 1);
        wait_done(&f);
        g_assert_true(f.ok);
        g_assert_cmpuint(f.setlinks_at_done, ==, 2);
        g_assert_cmpuint(f.fake.last_request, ==, NLC_VDP_DISASSOCIATE);
        g_assert_cmpint(nlc_port_association_get_state(f.a), ==, NLC_ASSOCIATION_DISASSOCIATED);
        teardown(&f);
}

/* Release: nothing to undo before any request; once after an association;
 * never twice. */
static void
test_release(void)
{
        Fixture f;

        setup(&f, SCRIPT_SUCCESS, "lo", 2000);
        nlc_port_association_release(f.a, f.owner);
        spin(100);
        g_assert_cmpuint(f.fake.setlinks, ==, 0);
        ask(&f, NLC_VDP_ASSOCIATE);
        nlc_port_association_release(f.a, f.owner);
        nlc_port_association_release(f.a, f.owner);
        while (nlc_port_association_get_state(f.a) != NLC_ASSOCIATION_DISASSOCIATED)
                g_main_context_iteration(NULL, TRUE);
        spin(100);
        g_assert_cmpuint(f.fake.setlinks, ==, 2);
        g_assert_cmpuint(f.fake.last_request, ==, NLC_VDP_DISASSOCIATE);
        teardown(&f);
}

/* Two devices of one host with the same VSI on the same uplink (a MAC
 * handed between them): the one that lets go does not disassociate the
 * VSI the other holds. */
static void
test_release_shared_vsi(void)
{
        Fixture f;
        NlcPortAssociation *other;

        setup(&f, SCRIPT_SUCCESS, "lo", 2000);
        other = new_association(&f, "lo", "8");
        ask(&f, NLC_VDP_ASSOCIATE);
        nlc_port_association_request_async(other, NLC_VDP_ASSOCIATE, f.owner, on_done, &f);
        wait_done(&f);
        g_assert_cmpuint(f.fake.setlinks, ==, 2);
        nlc_port_association_release(f.a, f.owner);
        spin(100);
        g_assert_cmpuint(f.fake.setlinks, ==, 2);
        g_assert_cmpint(nlc_port_association_get_state(f.a), ==, NLC_ASSOCIATION_DISASSOCIATED);
        g_assert_cmpint(nlc_port_association_get_state(other), ==, NLC_ASSOCIATION_ASSOCIATED);
        /* The last one holding it does disassociate. */
        nlc_port_association_release(other, f.owner);
        while (nlc_port_association_get_state(other) != NLC_ASSOCIATION_DISASSOCIATED)
                g_main_context_iteration(NULL, TRUE);
        g_assert_cmpuint(f.fake.setlinks, ==, 3);
        nlc_port_association_free(other);
        teardown(&f);
}

static void
wait_state(Fixture *f, NlcAssociationState state)
{
        gint64 until = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

        while (nlc_port_association_get_state(f->a) != state) {
                g_assert_cmpint(g_get_monotonic_time(), <, until);
                g_main_context_iteration(NULL, TRUE);
        }
}

static void
listening_setup(Fixture *f)
{
        static gboolean listening;

        if (!listening)
                g_assert_true(nlc_port_association_listen(EVENT_PORT));
        listening = TRUE;
        setup(f, SCRIPT_SUCCESS, "lo", 2000);
        nlc_port_association_set_lost_handler(f->a, G_CALLBACK(on_lost), f);
        ask(f, NLC_VDP_ASSOCIATE);
        g_assert_true(f->ok);
        /* lldpad keeps the creating request's pid for its notifications. */
        g_assert_cmpuint(f->fake.last_pid, ==, EVENT_PORT);
}

/* The switch dropped the VSI: lldpad says so; the device associates again. */
static void
test_notified_reassociates(void)
{
        Fixture f;

        listening_setup(&f);
        fake_notify(&f.fake, EVENT_PORT, "lo", FALSE);
        while (f.fake.setlinks < 2)
                g_main_context_iteration(NULL, TRUE);
        wait_state(&f, NLC_ASSOCIATION_ASSOCIATED);
        g_assert_cmpuint(f.lost, ==, 1);
        g_assert_nonnull(strstr(f.lost_why, "unsolicited DISASSOCIATE"));
        g_assert_cmpuint(f.fake.last_request, ==, NLC_VDP_ASSOCIATE);
        g_assert_cmpstr(variant_string(f.a, "Error"), ==, "");
        teardown(&f);
}

/* Not lldpad, another uplink, or the echo of our own DISASSOCIATE: no
 * loss, nothing sent. */
static void
test_notified_ignored(void)
{
        Fixture f;

        listening_setup(&f);
        fake_notify(&f.fake, EVENT_PORT, "lo", TRUE);
        fake_notify(&f.fake, EVENT_PORT, "st9", FALSE);
        spin(200);
        g_assert_cmpuint(f.lost, ==, 0);
        g_assert_cmpuint(f.fake.setlinks, ==, 1);
        ask(&f, NLC_VDP_DISASSOCIATE);
        fake_notify(&f.fake, EVENT_PORT, "lo", FALSE);
        spin(200);
        g_assert_cmpuint(f.lost, ==, 0);
        g_assert_cmpuint(f.fake.setlinks, ==, 2);
        g_assert_cmpint(nlc_port_association_get_state(f.a), ==, NLC_ASSOCIATION_DISASSOCIATED);
        teardown(&f);
}

/* Dropped again right after the re-association (a switch that refuses
 * it): left failed, not asked for ever. */
static void
test_notified_again(void)
{
        Fixture f;

        listening_setup(&f);
        fake_notify(&f.fake, EVENT_PORT, "lo", FALSE);
        while (f.fake.setlinks < 2)
                g_main_context_iteration(NULL, TRUE);
        wait_state(&f, NLC_ASSOCIATION_ASSOCIATED);
        fake_notify(&f.fake, EVENT_PORT, "lo", FALSE);
        wait_state(&f, NLC_ASSOCIATION_FAILED);
        spin(200);
        g_assert_cmpuint(f.lost, ==, 2);
        g_assert_cmpuint(f.fake.setlinks, ==, 2);
        g_assert_nonnull(strstr(variant_string(f.a, "Error"), "not asked again"));
        teardown(&f);
}

/* 802.1Qbh, with the scripted lldpad playing the kernel (its driver):
 * IFLA_PORT_SELF with the profile, instance and host UUID; success
 * 0x100; a refusal 0x102 as PortProfileRefused; a timed-out ASSOCIATE
 * withdrawn with a DISASSOCIATE, as libvirt does. */
static NlcPortAssociation *
qbh_association(Fixture *f)
{
        NlcPortProfile p = { .kind = NLC_PORT_PROFILE_8021QBH,
                             .has_instance = TRUE,
                             .profile_id = "finance" };
        static const guint8 mac[6] = { 0x52, 0x54, 0x00, 0x00, 0x20, 0x01 };

        memcpy(p.instance, nlc_fake_lldpad_uuid, 16);
        return nlc_port_association_new(&p, mac, "lo", "9", G_CALLBACK(on_changed), f);
}

static void
qbh_setup(Fixture *f, Script script, guint timeout_ms)
{
        setup(f, script, "lo", timeout_ms);
        f->fake.kernel = TRUE;
        nlc_port_association_configure(f->fake.pid_file, timeout_ms,
                                       "11223344-5566-7788-99aa-bbccddeeff00");
        nlc_port_association_set_qbh_port(f->fake.port);
        nlc_port_association_free(f->a);
        f->a = qbh_association(f);
}

static void
qbh_teardown(Fixture *f)
{
        nlc_port_association_set_qbh_port(0);
        teardown(f);
}

static void
test_qbh(void)
{
        Fixture f;
        guint16 response = 0;
        g_autoptr(GVariant) v = NULL;

        qbh_setup(&f, SCRIPT_SUCCESS, 2000);
        ask(&f, NLC_VDP_ASSOCIATE);
        g_assert_true(f.ok);
        g_assert_cmpint(nlc_port_association_get_state(f.a), ==, NLC_ASSOCIATION_ASSOCIATED);
        g_assert_cmpuint(f.fake.last_request, ==, NLC_VDP_ASSOCIATE);
        v = nlc_port_association_to_variant(f.a);
        g_assert_true(g_variant_lookup(v, "Response", "q", &response));
        g_assert_cmpuint(response, ==, 0x100);
        g_assert_cmpstr(variant_string(f.a, "Kind"), ==, "802.1Qbh");
        g_assert_cmpstr(variant_string(f.a, "ProfileId"), ==, "finance");
        qbh_teardown(&f);

        qbh_setup(&f, SCRIPT_REFUSE, 2000);
        ask(&f, NLC_VDP_ASSOCIATE);
        g_assert_error(f.error, NLC_ERROR, NLC_ERROR_PORT_PROFILE_REFUSED);
        g_assert_nonnull(strstr(f.error->message, "802.1Qbh associate of profile 'finance'"));
        g_assert_nonnull(strstr(f.error->message, "answered 258 (invalid)"));
        qbh_teardown(&f);

        qbh_setup(&f, SCRIPT_SILENT, 300);
        ask(&f, NLC_VDP_ASSOCIATE);
        g_assert_error(f.error, NLC_ERROR, NLC_ERROR_PORT_PROFILE_TIMED_OUT);
        /* The withdrawal went out at once; this silent adapter leaves it
         * unanswered too. */
        g_assert_cmpint(nlc_port_association_get_state(f.a), ==, NLC_ASSOCIATION_DISASSOCIATING);
        wait_state(&f, NLC_ASSOCIATION_FAILED);
        g_assert_cmpuint(f.fake.setlinks, ==, 2);
        g_assert_cmpuint(f.fake.last_request, ==, NLC_VDP_DISASSOCIATE);
        qbh_teardown(&f);
}

/* lldpad gave up on the switch by itself (no notification): the periodic
 * status read finds the VSI gone, and the device associates again. */
static void
test_watch(void)
{
        Fixture f;

        nlc_port_association_set_watch(100);
        setup(&f, SCRIPT_SUCCESS, "lo", 2000);
        nlc_port_association_set_lost_handler(f.a, G_CALLBACK(on_lost), &f);
        ask(&f, NLC_VDP_ASSOCIATE);
        g_assert_true(f.ok);
        spin(250); /* two reads: still listed */
        g_assert_cmpuint(f.lost, ==, 0);
        g_assert_cmpint(nlc_port_association_get_state(f.a), ==, NLC_ASSOCIATION_ASSOCIATED);
        f.fake.script = SCRIPT_DROP; /* lldpad lists it no more */
        while (f.lost == 0)
                g_main_context_iteration(NULL, TRUE);
        g_assert_nonnull(strstr(f.lost_why, "no longer lists the VSI"));
        /* The new ASSOCIATE went out (and this lldpad drops it again). */
        wait_state(&f, NLC_ASSOCIATION_FAILED);
        g_assert_cmpuint(f.fake.setlinks, ==, 2);
        g_assert_cmpuint(f.fake.last_request, ==, NLC_VDP_ASSOCIATE);
        nlc_port_association_set_watch(0);
        teardown(&f);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/port-association/associated", test_associated);
        g_test_add_func("/port-association/refused", test_refused);
        g_test_add_func("/port-association/timed-out", test_timed_out);
        g_test_add_func("/port-association/lldpad-refuses", test_lldpad_refuses);
        g_test_add_func("/port-association/unavailable", test_unavailable);
        g_test_add_func("/port-association/no-uplink", test_no_uplink);
        g_test_add_func("/port-association/one-at-a-time", test_one_at_a_time);
        g_test_add_func("/port-association/release", test_release);
        g_test_add_func("/port-association/release-shared-vsi", test_release_shared_vsi);
        g_test_add_func("/port-association/notified-reassociates", test_notified_reassociates);
        g_test_add_func("/port-association/notified-ignored", test_notified_ignored);
        g_test_add_func("/port-association/notified-again", test_notified_again);
        g_test_add_func("/port-association/802.1Qbh", test_qbh);
        g_test_add_func("/port-association/watch", test_watch);
        return g_test_run();
}
