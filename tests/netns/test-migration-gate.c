/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The post-copy gate against the real kernel, without QEMU: two real daemons
 * (source and destination, each on its own bus) in one namespace; the source
 * follows a scripted QEMU; the destination's tap sits on an STP bridge. With
 * readiness "destination-bus", migrate-start-postcopy must reach QEMU only
 * after the kernel put the destination port in forwarding.
 */

#include "../unit/nlc-fake-qmp.h"
#include "nlc-test-packet.h"
#include "ns-env.h"

#define MAC  "52:54:00:00:1f:01"
#define MIG  "org.netlifecd1.Migration"
#define MIG1 "/org/netlifecd1/migration/1"

typedef struct {
        NsEnv dst;        /* the fixture's daemon: the destination */
        NsEnv src;        /* a second bus and daemon: the source */
        NlcFakeQmp *qemu; /* the source QEMU */
        GUnixFDList *fds[2];
} Fixture;

static void
set_up(Fixture *f, gconstpointer data)
{
        ns_env_set_up(&f->dst, NULL);
        /* The source's port needs no STP; the destination's counts 2 × 2 s. */
        ns_sh("ip link add bsrc type bridge stp_state 0 && ip link set bsrc up");
        ns_sh("ip link add bdst type bridge stp_state 1 forward_delay 200");
        ns_sh("ip link add bdst-up type veth peer name bdst-peer && ip link set bdst-up master "
              "bdst && "
              "ip link set bdst-up up && ip link set bdst-peer up && ip link set bdst up");
        /* A second private bus and daemon in the namespace the fixture made. */
        ns_env_start_bus_and_daemon(&f->src, "nlc-src-XXXXXX", NULL);
        f->qemu = nlc_fake_qmp_new(7, 2, 0);
}

static void
tear_down(Fixture *f, gconstpointer data)
{
        g_clear_object(&f->fds[0]);
        g_clear_object(&f->fds[1]);
        nlc_fake_qmp_free(f->qemu);
        /* The source's daemon and bus, then the fixture's own. */
        ns_env_tear_down(&f->src);
        ns_env_tear_down(&f->dst);
}

static char *
migration_phase(Fixture *f, const char *path)
{
        return ns_get_string(&f->src, path, MIG, "Phase");
}

static void
wait_phase(Fixture *f, const char *path, const char *want)
{
        g_autofree char *phase = NULL;

        for (int i = 0; i < 1000; i++) {
                g_free(phase);
                phase = migration_phase(f, path);
                if (g_str_equal(phase, want))
                        break;
                g_main_context_iteration(NULL, FALSE) || (g_usleep(5000), TRUE);
        }
        g_assert_cmpstr(phase, ==, want);
}

static guint64
timeline_at(Fixture *f, const char *path, const char *what)
{
        g_autoptr(GVariant) t = ns_get(&f->src, path, MIG, "Timeline");

        for (gsize i = 0; i < g_variant_n_children(t); i++) {
                const char *name;
                guint64 at;

                g_variant_get_child(t, i, "(&st)", &name, &at);
                if (g_str_equal(name, what))
                        return at;
        }
        g_error("no '%s' in the timeline", what);
}

/* Migrate vm1 from the source with readiness "destination-bus" (the
 * fixture's daemon), @policy and @more options ("" or ", 'key': <value>"...);
 * the path. */
static char *
migrate_to_destination_bus(Fixture *f, const char *policy, const char *more)
{
        g_autofree char *opts = g_strdup_printf("{'postcopy': <'%s'>, 'readiness': "
                                                "<'destination-bus'>, 'destination-bus': <'%s'>%s}",
                                                policy, f->dst.address, more);
        g_autoptr(GVariant) o =
                g_variant_ref_sink(g_variant_parse(G_VARIANT_TYPE_VARDICT, opts, NULL, NULL, NULL));
        g_autoptr(GVariant) r = ns_call(
                &f->src, "/org/netlifecd1", "org.netlifecd1.Manager", "Migrate",
                g_variant_new("(ss@a{sv})", "vm1", "tcp:198.51.100.2:4444", o), "(o)", NULL);
        char *path = NULL;

        g_assert_nonnull(r);
        g_variant_get(r, "(o)", &path);
        return path;
}

/* vm1's device on @env's daemon (tap @ifname on @bridge, created: its port
 * counts STP from now), and the daemon following @qemu, whose guest runs
 * (the daemon announces once the port forwards) or waits for a migration. */
static GUnixFDList *
attach_guest(NsEnv *env, NlcFakeQmp *qemu, const char *bridge, const char *ifname, gboolean running)
{
        g_autofree char *opts =
                g_strdup_printf("{'bridge': <'%s'>, 'ifname': <'%s'>}", bridge, ifname);
        g_autofree char *dev = ns_allocate(env, "vm1", MAC, opts);
        GUnixFDList *fds = ns_create(env, dev);

        nlc_fake_qmp_expect(qemu, "query-status", NULL,
                            running ? "{\"running\": true, \"status\": \"running\"}"
                                    : "{\"running\": false, \"status\": \"inmigrate\"}");
        if (running)
                nlc_fake_qmp_expect(qemu, "announce-self", NULL, NULL);
        g_assert_nonnull(ns_call(env, "/org/netlifecd1", "org.netlifecd1.Manager", "AttachQemu",
                                 g_variant_new("(ss)", "vm1", nlc_fake_qmp_get_path(qemu)), "()",
                                 NULL));
        g_assert_true(nlc_fake_qmp_run_until_done(qemu, 5000));
        return fds;
}

static void
test_switch_waits_for_forwarding(Fixture *f, gconstpointer data)
{
        g_autofree char *src_dev = NULL, *dst_dev = NULL, *path = NULL;
        gint64 forwarding_at = 0; /* CLOCK_REALTIME µs, end of the first poll that saw it */
        gint64 not_yet_since = 0; /* start of the last poll that saw it not forwarding */
        guint64 switch_at;
        gboolean saw_waiting = FALSE;

        /* The guest runs on the source, its port ready at once. */
        f->fds[0] = attach_guest(&f->src, f->qemu, "bsrc", "src0", TRUE);

        /* The destination's port starts counting STP now. */
        dst_dev = ns_allocate(&f->dst, "vm1", MAC, "{'bridge': <'bdst'>, 'ifname': <'dst0'>}");
        f->fds[1] = ns_create(&f->dst, dst_dev);

        nlc_fake_qmp_expect_migration_start(f->qemu);
        nlc_fake_qmp_expect(f->qemu, "migrate", "{\"uri\": \"tcp:198.51.100.2:4444\"}", NULL);
        nlc_fake_qmp_expect(f->qemu, "migrate-start-postcopy", NULL, NULL);
        path = migrate_to_destination_bus(f, "immediate", "");

        /* Watch the kernel and the daemon until the switch went out. */
        for (int i = 0; i < 2000; i++) {
                gint64 before = g_get_real_time();
                g_autofree char *kernel = ns_kernel_port_state("dst0");
                g_autofree char *phase = migration_phase(f, path);

                if (!g_str_equal(kernel, "forwarding"))
                        not_yet_since = before;
                else if (!forwarding_at)
                        forwarding_at = g_get_real_time();
                saw_waiting |= g_str_equal(phase, "waiting-for-destination");
                if (g_str_equal(phase, "postcopy-requested"))
                        break;
                g_main_context_iteration(NULL, FALSE) || (g_usleep(5000), TRUE);
        }
        nlc_fake_qmp_assert_done(f->qemu);
        g_assert_true(saw_waiting);
        g_assert_cmpint(forwarding_at, >, 0);
        switch_at = timeline_at(f, path, "postcopy-switch");
        /* The kernel said "not forwarding" at some moment after not_yet_since:
         * the switch cannot have gone out before that... */
        g_assert_cmpint((gint64) switch_at, >, not_yet_since);
        /* ...and it went out promptly once the port forwarded. */
        g_assert_cmpint((gint64) switch_at - forwarding_at, <, 200000);
        g_assert_cmpuint(timeline_at(f, path, "policy-fired"), <,
                         timeline_at(f, path, "destination-ready"));
        g_test_message("switch between %.1f ms after the last 'not forwarding' poll and %.1f ms "
                       "after the first 'forwarding' one",
                       ((gint64) switch_at - not_yet_since) / 1000.0,
                       ((gint64) switch_at - forwarding_at) / 1000.0);
}

/* ---- PrepareIncoming answers once QEMU listens ---- */

typedef struct {
        gboolean done;
        GVariant *reply;
        GError *error;
        GCancellable *cancel;
} Call;

static void
on_call_done(GObject *source, GAsyncResult *result, gpointer data)
{
        Call *call = data;

        call->reply =
                g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &call->error);
        call->done = TRUE;
}

/* A destination QEMU (scripted) followed by the fixture's source daemon,
 * playing a destination here; scripted up to migrate-incoming, which the
 * caller scripts before calling PrepareIncoming (call_prepare_incoming). */
static void
prepare_incoming(Fixture *f)
{
        f->fds[0] = attach_guest(&f->src, f->qemu, "bsrc", "src0", FALSE);
        nlc_fake_qmp_expect_migration_start(f->qemu);
}

static void
call_prepare_incoming(Fixture *f, Call *call)
{
        memset(call, 0, sizeof *call);
        call->cancel = g_cancellable_new();
        g_dbus_connection_call(
                f->src.conn, "org.netlifecd1", "/org/netlifecd1", "org.netlifecd1.Manager",
                "PrepareIncoming", g_variant_new("(ssa{sv})", "vm1", "tcp:0.0.0.0:4444", NULL),
                G_VARIANT_TYPE("(o)"), G_DBUS_CALL_FLAGS_NONE, 10000, NULL, on_call_done, call);
}

static void
run_for(guint ms)
{
        gint64 until = g_get_monotonic_time() + ms * 1000;

        while (g_get_monotonic_time() < until)
                g_main_context_iteration(NULL, FALSE) || (g_usleep(2000), TRUE);
}

/* Until migrate-incoming returns, a coordinator must not hear back: its next
 * call is Migrate on the source, which would find nobody listening. */
static void
test_prepare_incoming_waits_for_listening(Fixture *f, gconstpointer data)
{
        Call call;

        prepare_incoming(f);
        nlc_fake_qmp_expect_silence(f->qemu, "migrate-incoming");
        call_prepare_incoming(f, &call);
        g_assert_true(nlc_fake_qmp_run_until_done(f->qemu, 5000));
        run_for(500);
        g_assert_false(call.done);
        nlc_fake_qmp_assert_done(f->qemu);
        /* The call must end before @call goes out of scope. */
        g_cancellable_cancel(call.cancel);
        while (!call.done)
                g_main_context_iteration(NULL, TRUE);
        g_clear_error(&call.error);
        g_object_unref(call.cancel);
}

static void
test_prepare_incoming_refused(Fixture *f, gconstpointer data)
{
        g_autofree char *phase = NULL, *remote = NULL;
        Call call;

        prepare_incoming(f);
        nlc_fake_qmp_expect_error(f->qemu, "migrate-incoming", "GenericError",
                                  "Failed to bind socket: Address already in use");
        call_prepare_incoming(f, &call);
        g_assert_true(nlc_fake_qmp_run_until_done(f->qemu, 5000));
        for (int i = 0; i < 500 && !call.done; i++)
                run_for(10);
        g_assert_true(call.done);
        g_assert_null(call.reply);
        g_assert_true(g_dbus_error_is_remote_error(call.error));
        remote = g_dbus_error_get_remote_error(call.error);
        g_assert_cmpstr(remote, ==, "org.netlifecd1.Error.Failed");
        g_assert_nonnull(strstr(call.error->message, "/org/netlifecd1/migration/"));
        g_assert_nonnull(strstr(call.error->message, "Address already in use"));
        phase = ns_get_string(&f->src, "/org/netlifecd1/migration/1", MIG, "Phase");
        g_assert_cmpstr(phase, ==, "failed");
        g_error_free(call.error);
        g_object_unref(call.cancel);
}

/* ---- examples/migration-coordinator between the two daemons ---- */

typedef struct {
        gboolean exited;
} Waited;

static void
on_coordinator_exit(GObject *source, GAsyncResult *result, gpointer data)
{
        g_subprocess_wait_finish(G_SUBPROCESS(source), result, NULL);
        ((Waited *) data)->exited = TRUE;
}

static void
pass_with_progress(NlcFakeQmp *qemu, guint n)
{
        g_autofree char *data = g_strdup_printf("{\"pass\": %u}", n);

        nlc_fake_qmp_event(qemu, "MIGRATION_PASS", data);
        nlc_fake_qmp_expect(qemu, "query-migrate", NULL,
                            "{\"status\": \"active\", \"ram\": {\"remaining\": 4096}}");
}

/* The example coordinator: PrepareIncoming on the destination, Migrate with
 * readiness "coordinated" on the source, DestinationReady() once the
 * destination's STP port forwards (about 4 s), the migration to its end. The
 * source's switch must follow the coordinator's word, which must follow the
 * kernel's forwarding. */
static void
test_example_coordinator(Fixture *f, gconstpointer data)
{
        g_autofree char *exe =
                g_build_filename(g_getenv("NLC_EXAMPLES"), "migration-coordinator", NULL);
        g_autofree char *src_arg = g_strconcat("--source=", f->src.address, NULL);
        g_autofree char *dst_arg = g_strconcat("--destination=", f->dst.address, NULL);
        const char *argv[] = {
                exe, src_arg, dst_arg, "vm1", "tcp:0.0.0.0:4444", "tcp:198.51.100.2:4444", NULL
        };
        g_autoptr(NlcFakeQmp) dst_qemu = nlc_fake_qmp_new(7, 2, 0);
        g_autofree char *out = NULL, *err = NULL;
        g_autofree char *port = NULL;
        g_autoptr(GSubprocess) coordinator = NULL;
        g_autoptr(GError) error = NULL;
        gint64 forwarding_at = 0, not_yet_since = 0, deadline;
        Waited waited = { FALSE };

        g_assert_nonnull(g_getenv("NLC_EXAMPLES"));
        /* The guest runs on the source; the destination's QEMU waits. */
        f->fds[0] = attach_guest(&f->src, f->qemu, "bsrc", "src0", TRUE);
        f->fds[1] = attach_guest(&f->dst, dst_qemu, "bdst", "dst0", FALSE);

        nlc_fake_qmp_expect_migration_start(dst_qemu);
        nlc_fake_qmp_expect(dst_qemu, "migrate-incoming", "{\"uri\": \"tcp:0.0.0.0:4444\"}", NULL);
        nlc_fake_qmp_expect_migration_start(f->qemu);
        nlc_fake_qmp_expect(f->qemu, "migrate", "{\"uri\": \"tcp:198.51.100.2:4444\"}", NULL);
        nlc_fake_qmp_event(f->qemu, "MIGRATION", "{\"status\": \"active\"}");
        pass_with_progress(f->qemu, 1);
        pass_with_progress(f->qemu, 2);
        nlc_fake_qmp_expect(f->qemu, "migrate-start-postcopy", NULL, NULL);
        nlc_fake_qmp_event(f->qemu, "STOP", NULL);
        nlc_fake_qmp_event(f->qemu, "MIGRATION", "{\"status\": \"postcopy-active\"}");
        nlc_fake_qmp_event(f->qemu, "MIGRATION", "{\"status\": \"completed\"}");
        nlc_fake_qmp_expect(f->qemu, "query-migrate", NULL,
                            "{\"status\": \"completed\", \"downtime\": 4}");

        coordinator = g_subprocess_newv(
                argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
        g_assert_no_error(error);
        g_subprocess_wait_async(coordinator, NULL, on_coordinator_exit, &waited);
        /* Both scripted QEMUs are served from this loop; the kernel watched. */
        deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
        while (!waited.exited && g_get_monotonic_time() < deadline) {
                if (!forwarding_at) {
                        gint64 before = g_get_real_time();

                        g_free(port);
                        port = ns_kernel_port_state("dst0");
                        if (g_str_equal(port, "forwarding"))
                                forwarding_at = g_get_real_time();
                        else
                                not_yet_since = before;
                }
                g_main_context_iteration(NULL, FALSE) || (g_usleep(2000), TRUE);
        }
        g_assert_true(waited.exited);
        g_assert_true(g_subprocess_communicate_utf8(coordinator, NULL, NULL, &out, &err, &error));
        g_test_message("coordinator stdout:\n%sstderr:\n%s", out, err);
        g_assert_cmpint(g_subprocess_get_exit_status(coordinator), ==, 0);
        g_assert_nonnull(strstr(out, "destination ready: told the source"));
        g_assert_nonnull(strstr(out, "-> completed"));
        g_assert_nonnull(strstr(out, "postcopy-switch"));
        nlc_fake_qmp_assert_done(f->qemu);
        nlc_fake_qmp_assert_done(dst_qemu);
        /* Policy first, then the destination's word, then the switch; and
         * the word came after the kernel last said "not forwarding". */
        g_assert_cmpint(forwarding_at, >, 0);
        g_assert_cmpint((gint64) timeline_at(f, MIG1, "destination-ready"), >, not_yet_since);
        g_assert_cmpuint(timeline_at(f, MIG1, "policy-fired"), <,
                         timeline_at(f, MIG1, "destination-ready"));
        g_assert_cmpuint(timeline_at(f, MIG1, "destination-ready"), <=,
                         timeline_at(f, MIG1, "postcopy-switch"));
}

/* ---- readiness that cannot go stale, and every NIC counting ---- */

#define MAC2 "52:54:00:00:1f:02"

static gboolean
source_says_ready(Fixture *f, const char *path, gboolean want, guint timeout_ms)
{
        gint64 until = g_get_monotonic_time() + timeout_ms * 1000;

        while (g_get_monotonic_time() < until) {
                if (ns_get_bool(&f->src, path, MIG, "DestinationReady") == want)
                        return TRUE;
                g_main_context_iteration(NULL, FALSE) || (g_usleep(5000), TRUE);
        }
        return FALSE;
}

/* The destination's daemon killed while the source waits: the source's
 * gate closes again at once (the daemon left the bus); the policy fires
 * meanwhile and nothing goes to QEMU; a restarted daemon is read again
 * and the switch follows. */
static void
test_destination_daemon_killed(Fixture *f, gconstpointer data)
{
        g_autofree char *dst_dev = NULL, *path = NULL, *phase = NULL;
        gint64 killed_at;

        f->fds[0] = attach_guest(&f->src, f->qemu, "bsrc", "src0", TRUE);
        dst_dev = ns_allocate(&f->dst, "vm1", MAC, "{'bridge': <'bdst'>, 'ifname': <'dst0'>}");
        f->fds[1] = ns_create(&f->dst, dst_dev);
        nlc_fake_qmp_expect_migration_start(f->qemu);
        nlc_fake_qmp_expect(f->qemu, "migrate", "{\"uri\": \"tcp:198.51.100.2:4444\"}", NULL);
        path = migrate_to_destination_bus(f, "after-precopy", "");
        g_assert_true(source_says_ready(f, path, TRUE, 15000));

        killed_at = g_get_monotonic_time();
        ns_env_kill9_daemon(&f->dst);
        g_assert_true(source_says_ready(f, path, FALSE, 2000));
        g_test_message("gate closed %.0f ms after the destination's daemon was killed",
                       (g_get_monotonic_time() - killed_at) / 1000.0);
        /* The policy fires while the destination is away: held. */
        pass_with_progress(f->qemu, 1);
        pass_with_progress(f->qemu, 2);
        g_assert_true(nlc_fake_qmp_run_until_done(f->qemu, 3000));
        run_for(1500);
        phase = migration_phase(f, path);
        g_assert_cmpstr(phase, ==, "waiting-for-destination");
        nlc_fake_qmp_assert_done(f->qemu);

        /* Back: it restores its device (the port still forwards: this test
         * holds the queues too), and the source reads it again. */
        nlc_fake_qmp_expect(f->qemu, "migrate-start-postcopy", NULL, NULL);
        ns_env_start_daemon(&f->dst);
        g_assert_true(source_says_ready(f, path, TRUE, 10000));
        wait_phase(f, path, "postcopy-requested");
        nlc_fake_qmp_assert_done(f->qemu);
        g_assert_cmpuint(timeline_at(f, path, "destination-not-ready"), <,
                         timeline_at(f, path, "policy-fired"));
}

/* A two-NIC guest whose second NIC is allocated on the destination late:
 * the destination instance is Ready with its one device forwarding, yet the
 * gate stays closed until the second NIC's port forwards too. */
static void
test_second_nic_late(Fixture *f, gconstpointer data)
{
        g_autofree char *src2 = NULL, *dst1 = NULL, *dst2 = NULL, *path = NULL, *phase = NULL;
        g_autofree char *inst = NULL;
        g_autoptr(GUnixFDList) src2_fds = NULL, dst2_fds = NULL;
        gint64 not_yet_since = 0, forwarding_at = 0;
        g_autoptr(GVariant) r = NULL;

        /* The guest has two NICs on the source, both active. */
        src2 = ns_allocate(&f->src, "vm1", MAC2, "{'bridge': <'bsrc'>, 'ifname': <'src1'>}");
        src2_fds = ns_create(&f->src, src2);
        f->fds[0] = attach_guest(&f->src, f->qemu, "bsrc", "src0", TRUE);
        /* The destination has the first one only. */
        dst1 = ns_allocate(&f->dst, "vm1", MAC, "{'bridge': <'bdst'>, 'ifname': <'dst0'>}");
        f->fds[1] = ns_create(&f->dst, dst1);
        nlc_fake_qmp_expect_migration_start(f->qemu);
        nlc_fake_qmp_expect(f->qemu, "migrate", "{\"uri\": \"tcp:198.51.100.2:4444\"}", NULL);
        path = migrate_to_destination_bus(f, "immediate", "");
        r = ns_call(&f->dst, "/org/netlifecd1", "org.netlifecd1.Manager", "GetInstance",
                    g_variant_new("(s)", "vm1"), "(o)", NULL);
        g_variant_get(r, "(o)", &inst);
        for (int i = 0; i < 3000 && !ns_get_bool(&f->dst, inst, "org.netlifecd1.Instance", "Ready");
             i++)
                g_main_context_iteration(NULL, FALSE) || (g_usleep(5000), TRUE);
        g_assert_true(ns_get_bool(&f->dst, inst, "org.netlifecd1.Instance", "Ready"));
        run_for(1000);
        phase = migration_phase(f, path);
        g_assert_cmpstr(phase, ==, "waiting-for-destination");
        g_assert_false(ns_get_bool(&f->src, path, MIG, "DestinationReady"));
        nlc_fake_qmp_assert_done(f->qemu);

        /* The second NIC arrives: its port counts STP from now. */
        nlc_fake_qmp_expect(f->qemu, "migrate-start-postcopy", NULL, NULL);
        dst2 = ns_allocate(&f->dst, "vm1", MAC2, "{'bridge': <'bdst'>, 'ifname': <'dst1'>}");
        dst2_fds = ns_create(&f->dst, dst2);
        for (int i = 0; i < 3000; i++) {
                gint64 before = g_get_real_time();
                g_autofree char *kernel = ns_kernel_port_state("dst1");

                if (!g_str_equal(kernel, "forwarding"))
                        not_yet_since = before;
                else if (!forwarding_at)
                        forwarding_at = g_get_real_time();
                g_free(phase);
                phase = migration_phase(f, path);
                if (g_str_equal(phase, "postcopy-requested"))
                        break;
                g_main_context_iteration(NULL, FALSE) || (g_usleep(5000), TRUE);
        }
        g_assert_cmpstr(phase, ==, "postcopy-requested");
        nlc_fake_qmp_assert_done(f->qemu);
        g_assert_cmpint((gint64) timeline_at(f, path, "postcopy-switch"), >, not_yet_since);
}

/* Readiness "local" (one daemon: the localhost upgrade): the destination
 * instance's only device freed, the instance gone; a new device of that
 * name later is a new instance object, and the migration follows it: the
 * switch waits for its port. */
static void
test_local_destination_recreated(Fixture *f, gconstpointer data)
{
        g_autofree char *first = NULL, *second = NULL, *path = NULL;
        g_autoptr(GUnixFDList) first_fds = NULL, second_fds = NULL;
        g_autoptr(GVariant) o = g_variant_ref_sink(g_variant_new_parsed(
                "{'postcopy': <'immediate'>, 'readiness': <'local'>, 'destination-instance': "
                "<'vm1-new'>}"));
        g_autoptr(GVariant) r = NULL;
        gint64 not_yet_since = 0;

        f->fds[0] = attach_guest(&f->src, f->qemu, "bsrc", "src0", TRUE);
        /* The new QEMU's device, on the STP bridge: not ready for 4 s. */
        first = ns_allocate(&f->src, "vm1-new", MAC, "{'bridge': <'bdst'>, 'ifname': <'new0'>}");
        first_fds = ns_create(&f->src, first);
        nlc_fake_qmp_expect_migration_start(f->qemu);
        nlc_fake_qmp_expect(f->qemu, "migrate", "{\"uri\": \"tcp:127.0.0.1:4444\"}", NULL);
        r = ns_call(&f->src, "/org/netlifecd1", "org.netlifecd1.Manager", "Migrate",
                    g_variant_new("(ss@a{sv})", "vm1", "tcp:127.0.0.1:4444", o), "(o)", NULL);
        g_assert_nonnull(r);
        g_variant_get(r, "(o)", &path);
        wait_phase(f, path, "waiting-for-destination");
        nlc_fake_qmp_assert_done(f->qemu);
        /* Gone with its device... */
        ns_device_call(&f->src, first, "Destroy");
        ns_device_call(&f->src, first, "Free");
        g_clear_object(&first_fds);
        /* ...and back as a new one, whose port counts from now. */
        nlc_fake_qmp_expect(f->qemu, "migrate-start-postcopy", NULL, NULL);
        second = ns_allocate(&f->src, "vm1-new", MAC, "{'bridge': <'bdst'>, 'ifname': <'new1'>}");
        second_fds = ns_create(&f->src, second);
        for (int i = 0; i < 3000; i++) {
                gint64 before = g_get_real_time();
                g_autofree char *kernel = ns_kernel_port_state("new1");
                g_autofree char *phase = migration_phase(f, path);

                if (!g_str_equal(kernel, "forwarding"))
                        not_yet_since = before;
                if (g_str_equal(phase, "postcopy-requested"))
                        break;
                g_main_context_iteration(NULL, FALSE) || (g_usleep(5000), TRUE);
        }
        wait_phase(f, path, "postcopy-requested");
        nlc_fake_qmp_assert_done(f->qemu);
        g_assert_cmpint((gint64) timeline_at(f, path, "postcopy-switch"), >, not_yet_since);
}

/* Allocate on @env for vm1 with @mac on tap @ifname of bridge bsrc: the
 * D-Bus error's name, or NULL when it succeeded. */
static char *
allocate_error(NsEnv *env, const char *mac, const char *ifname)
{
        g_autofree char *opts = g_strdup_printf("{'bridge': <'bsrc'>, 'ifname': <'%s'>}", ifname);
        g_autoptr(GVariant) o =
                g_variant_ref_sink(g_variant_parse(G_VARIANT_TYPE_VARDICT, opts, NULL, NULL, NULL));
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r =
                ns_call(env, "/org/netlifecd1", "org.netlifecd1.Manager", "Allocate",
                        g_variant_new("(sss@a{sv})", "vm1", "tap-bridge", mac, o), "(o)", &error);

        return r ? NULL : g_dbus_error_get_remote_error(error);
}

/* Hotplug while migrating is refused with Busy, on the source (its gate
 * counts the NICs it had at Migrate) and on the destination (after
 * PrepareIncoming); repeating an allocation that exists still answers, and
 * once the migration is over the NIC can be added. */
static void
test_hotplug_refused_while_migrating(Fixture *f, gconstpointer data)
{
        g_autoptr(GVariant) o = g_variant_ref_sink(g_variant_new_parsed("{'postcopy': <'never'>}"));
        g_autoptr(GVariant) r = NULL;
        g_autofree char *path = NULL, *e1 = NULL, *e2 = NULL;
        Call call;

        /* The source side. */
        f->fds[0] = attach_guest(&f->src, f->qemu, "bsrc", "src0", TRUE);
        nlc_fake_qmp_expect_migration_start(f->qemu);
        nlc_fake_qmp_expect(f->qemu, "migrate", "{\"uri\": \"tcp:198.51.100.2:4444\"}", NULL);
        nlc_fake_qmp_event(f->qemu, "MIGRATION", "{\"status\": \"active\"}");
        r = ns_call(&f->src, "/org/netlifecd1", "org.netlifecd1.Manager", "Migrate",
                    g_variant_new("(ss@a{sv})", "vm1", "tcp:198.51.100.2:4444", o), "(o)", NULL);
        g_assert_nonnull(r);
        g_variant_get(r, "(o)", &path);
        wait_phase(f, path, "precopy");
        e1 = allocate_error(&f->src, MAC2, "src1");
        g_assert_cmpstr(e1, ==, "org.netlifecd1.Error.Busy");
        g_assert_null(allocate_error(&f->src, MAC, "src0")); /* the same one again */
        nlc_fake_qmp_expect(f->qemu, "migrate_cancel", NULL, NULL);
        nlc_fake_qmp_event(f->qemu, "MIGRATION", "{\"status\": \"cancelled\"}");
        g_assert_nonnull(ns_call(&f->src, path, MIG, "Cancel", NULL, "()", NULL));
        wait_phase(f, path, "cancelled");
        nlc_fake_qmp_assert_done(f->qemu);
        g_assert_null(allocate_error(&f->src, MAC2, "src1"));

        /* The destination side: the fixture's daemon, once QEMU listens. */
        {
                g_autoptr(NlcFakeQmp) dst_qemu = nlc_fake_qmp_new(7, 2, 0);

                f->fds[1] = attach_guest(&f->dst, dst_qemu, "bsrc", "dst0", FALSE);
                nlc_fake_qmp_expect_migration_start(dst_qemu);
                nlc_fake_qmp_expect(dst_qemu, "migrate-incoming", "{\"uri\": \"tcp:0.0.0.0:4444\"}",
                                    NULL);
                memset(&call, 0, sizeof call);
                g_dbus_connection_call(f->dst.conn, "org.netlifecd1", "/org/netlifecd1",
                                       "org.netlifecd1.Manager", "PrepareIncoming",
                                       g_variant_new("(ssa{sv})", "vm1", "tcp:0.0.0.0:4444", NULL),
                                       G_VARIANT_TYPE("(o)"), G_DBUS_CALL_FLAGS_NONE, 10000, NULL,
                                       on_call_done, &call);
                g_assert_true(nlc_fake_qmp_run_until_done(dst_qemu, 5000));
                for (int i = 0; i < 500 && !call.done; i++)
                        run_for(10);
                g_assert_true(call.done);
                g_assert_no_error(call.error);
                g_clear_pointer(&call.reply, g_variant_unref);
                e2 = allocate_error(&f->dst, MAC2, "dst1");
                g_assert_cmpstr(e2, ==, "org.netlifecd1.Error.Busy");
                nlc_fake_qmp_assert_done(dst_qemu);
        }
}

/* The destination's guest bridges its two NICs (a relay between its taps):
 * STP blocks one of their ports. The source's readiness timeout (fallback
 * fail) cancels, and the migration's Error names the NIC and why. */
static void
test_timeout_names_blocking(Fixture *f, gconstpointer data)
{
        g_autofree char *src1 = NULL, *dst0 = NULL, *dst1 = NULL, *path = NULL;
        g_autofree char *phase = NULL, *error = NULL;
        g_autoptr(GUnixFDList) src1_fds = NULL, dst1_fds = NULL;
        NlcQueueRelay *relay;

        f->fds[0] = attach_guest(&f->src, f->qemu, "bsrc", "src0", TRUE);
        src1 = ns_allocate(&f->src, "vm1", MAC2, "{'bridge': <'bsrc'>, 'ifname': <'src1'>}");
        src1_fds = ns_create(&f->src, src1);
        dst0 = ns_allocate(&f->dst, "vm1", MAC,
                           "{'bridge': <'bdst'>, 'ifname': <'dst0'>, 'bpdu-guard': <false>}");
        dst1 = ns_allocate(&f->dst, "vm1", MAC2,
                           "{'bridge': <'bdst'>, 'ifname': <'dst1'>, 'bpdu-guard': <false>}");
        f->fds[1] = ns_create(&f->dst, dst0);
        dst1_fds = ns_create(&f->dst, dst1);
        relay = nlc_queue_relay_start(g_unix_fd_list_peek_fds(f->fds[1], NULL)[0],
                                      g_unix_fd_list_peek_fds(dst1_fds, NULL)[0]);

        nlc_fake_qmp_expect_migration_start(f->qemu);
        nlc_fake_qmp_expect(f->qemu, "migrate", "{\"uri\": \"tcp:198.51.100.2:4444\"}", NULL);
        nlc_fake_qmp_expect(f->qemu, "migrate_cancel", NULL, NULL);
        path = migrate_to_destination_bus(
                f, "immediate", ", 'readiness-timeout': <uint32 8000>, 'fallback': <'fail'>");
        for (int i = 0; i < 3000; i++) {
                g_free(phase);
                phase = migration_phase(f, path);
                if (g_str_equal(phase, "failed"))
                        break;
                g_main_context_iteration(NULL, FALSE) || (g_usleep(5000), TRUE);
        }
        g_assert_cmpstr(phase, ==, "failed");
        nlc_fake_qmp_assert_done(f->qemu);
        error = ns_get_string(&f->src, path, MIG, "Error");
        g_test_message("Error: %s", error);
        g_assert_nonnull(strstr(error, "not ready within 8000 ms"));
        g_assert_nonnull(strstr(error, " on dst"));
        g_assert_nonnull(strstr(error, ": stp-blocking"));
        nlc_queue_relay_stop(relay);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add("/migration-gate/switch-waits-for-forwarding", Fixture, NULL, set_up,
                   test_switch_waits_for_forwarding, tear_down);
        g_test_add("/migration-gate/prepare-incoming-waits-for-listening", Fixture, NULL, set_up,
                   test_prepare_incoming_waits_for_listening, tear_down);
        g_test_add("/migration-gate/prepare-incoming-refused", Fixture, NULL, set_up,
                   test_prepare_incoming_refused, tear_down);
        g_test_add("/migration-gate/example-coordinator", Fixture, NULL, set_up,
                   test_example_coordinator, tear_down);
        g_test_add("/migration-gate/destination-daemon-killed", Fixture, NULL, set_up,
                   test_destination_daemon_killed, tear_down);
        g_test_add("/migration-gate/second-nic-late", Fixture, NULL, set_up, test_second_nic_late,
                   tear_down);
        g_test_add("/migration-gate/hotplug-refused-while-migrating", Fixture, NULL, set_up,
                   test_hotplug_refused_while_migrating, tear_down);
        g_test_add("/migration-gate/timeout-names-blocking", Fixture, NULL, set_up,
                   test_timeout_names_blocking, tear_down);
        g_test_add("/migration-gate/local-destination-recreated", Fixture, NULL, set_up,
                   test_local_destination_recreated, tear_down);
        return g_test_run();
}
