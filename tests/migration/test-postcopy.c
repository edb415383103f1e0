/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Post-copy migration of a real Linux guest under real QEMU (TCG) from host A
 * to host B (see mig-env.h for the topology), each host with its own STP
 * bridge (forward delay 8 s, see MIG_FORWARD_DELAY_CS), private bus and
 * netlifecd. The coordinator's part is played here: devices allocated and
 * created on both hosts, QEMU started with the queue fds, AttachQemu,
 * PrepareIncoming on B, Migrate on A with readiness "destination-bus" and
 * post-copy after the first pass. A peer pings the guest every 10 ms
 * throughout (see mig-probe.h for what is measured and how).
 *
 * The first case runs the migration; the others judge what it recorded:
 *   switch-after-forwarding   migrate-start-postcopy only once B's port forwards
 *   source-deactivated        A's device deactivated within 50 ms of the STOP
 *   single-owner              never a static FDB entry for the MAC on both hosts
 *   blackout                  echo requests reaching the running instance's tap:
 *                             largest gap <= QEMU's downtime + 200 ms
 *   guest-intact              the emulator did not corrupt the guest (Oops, panic,
 *                             RAM check): an EMULATOR failure, reported as such
 *   guest-replies             the guest answers from B; not judged (TODO) when
 *                             the emulator corrupted it
 *   clean-shutdown            everything torn down, both daemons exit 0
 *
 * QEMU 10 and the guest (NLC_GUEST_DIR, from build-guest.sh) are required:
 * without them the test fails, it never skips. QEMU 7.2's TCG corrupts a
 * migrated Linux guest about half of the time (see scripts/install-qemu.sh).
 */
#include <linux/if_bridge.h>
#include <string.h>

#include "mig-env.h"
#include "mig-probe.h"

#define INSTANCE          "vm1"
#define TAP_A             "vm1a"
#define TAP_B             "vm1b"
#define MIGRATION_URI     "tcp:198.51.100.2:4444"
#define MAX_BANDWIDTH     (16ULL << 20)
#define BOOT_TIMEOUT_S    120
#define MIGRATE_TIMEOUT   300
#define DEACTIVATE_MS     50
#define BLACKOUT_SLACK_MS 200

/* What a PropertiesChanged said about B's device or instance, and when it
 * reached this process (noted in GDBus's worker thread, before any queue). */
typedef struct {
        gint64 at;
        char *what; /* "device PortState=forwarding", "instance Ready=true", ... */
} Change;

typedef struct {
        GMutex lock;
        char *device_path, *instance_path;
        GArray *changes; /* Change */
} Watch;

typedef struct {
        gboolean completed; /* the migration reached "completed" */
        char *failure;      /* why the run stopped, NULL when it completed */
        char *qemu_version;
        gint64 migrate_at;      /* just before Migrate() */
        gint64 probe_end;       /* when the last echo request went out */
        guint64 downtime_ms;    /* Migration.Downtime on A */
        GVariant *src_timeline; /* A's Migration.Timeline */
        GVariant *dst_timeline; /* B's Migration.Timeline */
        GVariant *src_guest;    /* A's Instance.GuestTimeline */
        GVariant *dst_guest;    /* B's Instance.GuestTimeline */
        GArray *sent, *replies, *captures[2], *samples;
        GArray *changes; /* Change, copied from the watch */
        int tap_ifindex[2];
        char *serial[2];
        char *phases; /* A's migration phases as seen: "setup -> precopy -> ..." */
        gboolean ran; /* the run case has run (lazily, once) */
} Run;

static MigEnv env;
static gboolean env_up;
static gboolean any_failed, logs_dumped;
static Run run;
static Watch watch;

/* ---- B's PropertiesChanged, timed on arrival ---- */

static void
watch_add(gint64 at, const char *what)
{
        Change c = { at, g_strdup(what) };

        g_mutex_lock(&watch.lock);
        g_array_append_val(watch.changes, c);
        g_mutex_unlock(&watch.lock);
}

static GDBusMessage *
on_message(GDBusConnection *conn, GDBusMessage *message, gboolean incoming, gpointer data)
{
        gint64 at = g_get_real_time();
        const char *path = g_dbus_message_get_path(message);
        GVariant *body = g_dbus_message_get_body(message);
        const char *kind = NULL;
        g_autoptr(GVariant) changed = NULL;
        GVariantIter iter;
        const char *name;
        GVariant *value;

        if (!incoming || g_dbus_message_get_message_type(message) != G_DBUS_MESSAGE_TYPE_SIGNAL ||
            g_strcmp0(g_dbus_message_get_member(message), "PropertiesChanged") != 0 || !path ||
            !body || !g_variant_is_of_type(body, G_VARIANT_TYPE("(sa{sv}as)")))
                return message;
        g_mutex_lock(&watch.lock);
        if (g_strcmp0(path, watch.device_path) == 0)
                kind = "device";
        else if (g_strcmp0(path, watch.instance_path) == 0)
                kind = "instance";
        g_mutex_unlock(&watch.lock);
        if (!kind)
                return message;
        changed = g_variant_get_child_value(body, 1);
        g_variant_iter_init(&iter, changed);
        while (g_variant_iter_loop(&iter, "{&sv}", &name, &value)) {
                g_autofree char *text = NULL;

                if (g_str_equal(name, "PortState") &&
                    g_variant_is_of_type(value, G_VARIANT_TYPE_STRING))
                        text = g_strdup_printf("%s PortState=%s", kind,
                                               g_variant_get_string(value, NULL));
                else if (g_str_equal(name, "Ready") &&
                         g_variant_is_of_type(value, G_VARIANT_TYPE_BOOLEAN))
                        text = g_strdup_printf("%s Ready=%s", kind,
                                               g_variant_get_boolean(value) ? "true" : "false");
                if (text)
                        watch_add(at, text);
        }
        return message;
}

static void
ignore_signal(GDBusConnection *c, const char *sender, const char *path, const char *iface,
              const char *signal, GVariant *params, gpointer data)
{
}

static gint64
change_at(GArray *changes, const char *what)
{
        for (guint i = 0; changes && i < changes->len; i++) {
                Change *c = &g_array_index(changes, Change, i);

                if (g_str_equal(c->what, what))
                        return c->at;
        }
        return 0;
}

/* ---- helpers of the run ---- */

static gboolean fail(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static gboolean
fail(GError **error, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        *error = g_error_new_valist(G_IO_ERROR, G_IO_ERROR_FAILED, fmt, ap);
        va_end(ap);
        return FALSE;
}

static const char *const corruption_marks[] = {
        "Oops", "Kernel panic",    "general protection fault",
        "BUG:", "DIRTIER-CORRUPT", "GUEST-ERROR",
        NULL
};

/* The first sign in @serial that the guest broke, or NULL. */
static const char *
corruption(const char *serial)
{
        for (guint i = 0; corruption_marks[i]; i++)
                if (strstr(serial, corruption_marks[i]))
                        return corruption_marks[i];
        return NULL;
}

static gboolean
wait_guest_ready(MigHost *h, GError **error)
{
        for (int i = 0; i < BOOT_TIMEOUT_S * 5; i++) {
                g_autofree char *serial = mig_host_serial(h);

                if (corruption(serial))
                        return fail(error,
                                    "EMULATOR FAILURE: the guest broke while booting on host %c "
                                    "('%s' on its console)",
                                    h->label, corruption(serial));
                if (strstr(serial, "GUEST-READY"))
                        return TRUE;
                if (!mig_host_qemu_alive(h))
                        return fail(error, "host %c: QEMU exited while the guest booted", h->label);
                g_usleep(200000);
        }
        return fail(error, "host %c: no GUEST-READY on the console within %d s", h->label,
                    BOOT_TIMEOUT_S);
}

static gboolean
get_bool(MigHost *h, const char *path, const char *iface, const char *prop)
{
        g_autoptr(GVariant) v = mig_get(h, path, iface, prop, NULL);

        return v && g_variant_get_boolean(v);
}

static char *
get_string(MigHost *h, const char *path, const char *iface, const char *prop)
{
        g_autoptr(GVariant) v = mig_get(h, path, iface, prop, NULL);

        return g_strdup(v ? g_variant_get_string(v, NULL) : "");
}

static gboolean
wait_instance(MigHost *h, guint timeout_ms, GError **error)
{
        for (guint i = 0; i < timeout_ms / 100; i++) {
                if (get_bool(h, h->instance_path, MIG_INSTANCE, "Ready") &&
                    get_bool(h, h->instance_path, MIG_INSTANCE, "Active"))
                        return TRUE;
                g_usleep(100000);
        }
        return fail(error, "host %c: instance not ready and active within %u ms", h->label,
                    timeout_ms);
}

static gboolean
wait_qmp_connected(MigHost *h, GError **error)
{
        for (int i = 0; i < 100; i++) {
                g_autoptr(GVariant) t =
                        mig_get(h, h->instance_path, MIG_INSTANCE, "GuestTimeline", NULL);

                if (mig_timeline_find(t, "qmp-connected", 0))
                        return TRUE;
                g_usleep(100000);
        }
        return fail(error, "host %c: netlifecd did not connect to QMP within 10 s", h->label);
}

static gboolean
wait_captures(MigProbe *probe, guint host, guint n, GError **error)
{
        for (int i = 0; i < 100; i++) {
                if (mig_probe_count_captures(probe, host) >= n)
                        return TRUE;
                g_usleep(100000);
        }
        return fail(error,
                    "host %c: only %u echo requests reached the guest's tap in 10 s "
                    "(capture or forwarding broken)",
                    'A' + host, mig_probe_count_captures(probe, host));
}

static gboolean
phase_is_final(const char *phase)
{
        return g_str_equal(phase, "completed") || g_str_equal(phase, "failed") ||
               g_str_equal(phase, "cancelled");
}

/* Follows A's migration to its end; notes the phases it went through. */
static gboolean
wait_migration(const char *src_path, const char *dst_path, GError **error)
{
        MigHost *a = &env.host[0], *b = &env.host[1];
        g_autoptr(GString) phases = g_string_new(NULL);
        g_autofree char *phase = NULL;

        for (int i = 0; i < MIGRATE_TIMEOUT * 20; i++) {
                g_free(phase);
                phase = get_string(a, src_path, MIG_MIGRATION, "Phase");
                if (!phases->len || !g_str_has_suffix(phases->str, phase))
                        g_string_append_printf(phases, "%s%s", phases->len ? " -> " : "", phase);
                if (phase_is_final(phase))
                        break;
                if (!mig_host_qemu_alive(a) || !mig_host_qemu_alive(b))
                        return fail(error, "QEMU on host %c exited during the migration (%s)",
                                    mig_host_qemu_alive(a) ? 'B' : 'A', phases->str);
                g_usleep(50000);
        }
        run.phases = g_strdup(phases->str);
        if (!g_str_equal(phase, "completed")) {
                g_autofree char *why = get_string(a, src_path, MIG_MIGRATION, "Error");

                return fail(error, "the migration ended '%s' (%s), not completed: %s", phase,
                            phases->str, why);
        }
        for (int i = 0; i < 300; i++) {
                g_free(phase);
                phase = get_string(b, dst_path, MIG_MIGRATION, "Phase");
                if (phase_is_final(phase))
                        break;
                g_usleep(100000);
        }
        if (!g_str_equal(phase, "completed"))
                return fail(error, "the destination's migration is '%s', not completed", phase);
        return TRUE;
}

/* Until the guest shows it runs on B (DIRTIER-ALIVE after the migration) or
 * breaks, at most 20 s; then 2 s more of echoes for the reply check. */
static void
watch_destination_guest(MigHost *b)
{
        for (int i = 0; i < 100; i++) {
                g_autofree char *serial = mig_host_serial(b);

                if (strstr(serial, "DIRTIER-ALIVE") || corruption(serial))
                        break;
                g_usleep(200000);
        }
        g_usleep(2 * G_USEC_PER_SEC);
}

static void
collect(MigProbe *probe, const char *src_path, const char *dst_path)
{
        MigHost *a = &env.host[0], *b = &env.host[1];

        if (probe) {
                mig_probe_stop(probe);
                run.sent = mig_probe_get_sent(probe);
                /* The window ends with the last request: nothing can arrive
                 * later, and stopping the threads takes its own time. */
                run.probe_end = run.sent->len
                                        ? g_array_index(run.sent, MigArrival, run.sent->len - 1).at
                                        : g_get_real_time();
                run.replies = mig_probe_get_replies(probe);
                run.captures[0] = mig_probe_get_captures(probe, 0);
                run.captures[1] = mig_probe_get_captures(probe, 1);
                run.samples = mig_probe_get_samples(probe);
                run.tap_ifindex[0] = mig_probe_tap_ifindex(probe, 0);
                run.tap_ifindex[1] = mig_probe_tap_ifindex(probe, 1);
        }
        g_mutex_lock(&watch.lock);
        run.changes = g_array_copy(watch.changes);
        g_mutex_unlock(&watch.lock);
        if (src_path) {
                g_autoptr(GVariant) d = mig_get(a, src_path, MIG_MIGRATION, "Downtime", NULL);

                run.src_timeline = mig_get(a, src_path, MIG_MIGRATION, "Timeline", NULL);
                run.downtime_ms = d ? g_variant_get_uint64(d) : 0;
        }
        if (dst_path)
                run.dst_timeline = mig_get(b, dst_path, MIG_MIGRATION, "Timeline", NULL);
        if (a->instance_path)
                run.src_guest = mig_get(a, a->instance_path, MIG_INSTANCE, "GuestTimeline", NULL);
        if (b->instance_path)
                run.dst_guest = mig_get(b, b->instance_path, MIG_INSTANCE, "GuestTimeline", NULL);
        run.serial[0] = mig_host_serial(a);
        run.serial[1] = mig_host_serial(b);
}

static gboolean
migrate(GError **error)
{
        MigHost *a = &env.host[0], *b = &env.host[1];
        g_autoptr(MigProbe) probe = NULL;
        g_autoptr(GVariant) r = NULL;
        g_autofree char *src_path = NULL, *dst_path = NULL;
        const char *ns[2];
        const char *const taps[2] = { TAP_A, TAP_B };
        GVariantBuilder opts;
        guint major;
        int fd;
        gboolean ok;

        major = mig_qemu_major(&run.qemu_version);
        if (major < 10)
                return fail(error,
                            "QEMU 10 is needed (found: %s): run scripts/install-qemu.sh "
                            "(QEMU 7.2's TCG corrupts migrated Linux guests)",
                            run.qemu_version ? run.qemu_version : "none");
        if (!g_getenv("NLC_GUEST_DIR"))
                return fail(error, "NLC_GUEST_DIR is not set: run through meson test");
        for (guint i = 0; i < 2; i++) {
                g_autofree char *f = g_build_filename(g_getenv("NLC_GUEST_DIR"),
                                                      i ? "initrd.img" : "bzImage", NULL);

                if (!g_file_test(f, G_FILE_TEST_IS_REGULAR))
                        return fail(error, "no guest (%s): run tests/migration/build-guest.sh %s",
                                    f, g_getenv("NLC_GUEST_DIR"));
        }
        g_test_message("%s", run.qemu_version);
        env_up = TRUE;
        if (!mig_env_set_up(&env, error))
                return FALSE;
        ns[0] = a->ns;
        ns[1] = b->ns;

        /* The guest boots on A; A's port starts counting at Create. */
        if (!mig_host_create_device(a, INSTANCE, TAP_A, &fd, error) ||
            !mig_host_start_qemu(&env, a, fd, FALSE, error) ||
            !mig_host_attach_qemu(a, INSTANCE, error) || !wait_guest_ready(a, error) ||
            !wait_instance(a, 30000, error) ||
            !mig_wait_forwarding(a->ns, MIG_UPLINK, 30000, error) ||
            !mig_wait_forwarding(b->ns, MIG_UPLINK, 30000, error))
                return FALSE;

        probe = mig_probe_new(MIG_GUEST_IP, MIG_GUEST_MAC);
        if (!mig_probe_start_echo(probe, MIG_PEER_NS, error) ||
            !mig_probe_start_capture(probe, 0, a->ns, TAP_A, error) ||
            !wait_captures(probe, 0, 50, error)) {
                collect(probe, NULL, NULL);
                return FALSE;
        }
        g_test_message("before the migration: %u echo requests reached A's tap, %u replies",
                       mig_probe_count_captures(probe, 0), mig_probe_count_replies(probe));

        /* B: the device first (its STP countdown starts now), then QEMU
         * waiting for the stream. */
        if (!mig_host_create_device(b, INSTANCE, TAP_B, &fd, error)) {
                collect(probe, NULL, NULL);
                return FALSE;
        }
        g_mutex_lock(&watch.lock);
        watch.device_path = g_strdup(b->device_path);
        watch.instance_path = g_strdup(b->instance_path);
        g_mutex_unlock(&watch.lock);
        g_dbus_connection_add_filter(b->conn, on_message, NULL, NULL);
        g_dbus_connection_signal_subscribe(b->conn, MIG_BUS_NAME, "org.freedesktop.DBus.Properties",
                                           "PropertiesChanged", NULL, NULL,
                                           G_DBUS_SIGNAL_FLAGS_NONE, ignore_signal, NULL, NULL);
        ok = mig_host_start_qemu(&env, b, fd, TRUE, error) &&
             mig_probe_start_capture(probe, 1, b->ns, TAP_B, error) &&
             mig_probe_start_sampler(probe, (const char *const *) ns, taps, error) &&
             mig_host_attach_qemu(b, INSTANCE, error) && wait_qmp_connected(b, error);
        if (ok) {
                r = mig_call(b, MIG_MANAGER_PATH, MIG_MANAGER, "PrepareIncoming",
                             g_variant_new("(ss@a{sv})", INSTANCE, MIGRATION_URI,
                                           g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0)),
                             "(o)", error);
                ok = r != NULL;
        }
        if (ok) {
                g_variant_get(r, "(o)", &dst_path);
                g_clear_pointer(&r, g_variant_unref);
                g_variant_builder_init(&opts, G_VARIANT_TYPE_VARDICT);
                g_variant_builder_add(&opts, "{sv}", "postcopy",
                                      g_variant_new_string("after-precopy"));
                g_variant_builder_add(&opts, "{sv}", "readiness",
                                      g_variant_new_string("destination-bus"));
                g_variant_builder_add(&opts, "{sv}", "destination-bus",
                                      g_variant_new_string(b->bus_address));
                g_variant_builder_add(&opts, "{sv}", "max-bandwidth",
                                      g_variant_new_uint64(MAX_BANDWIDTH));
                run.migrate_at = g_get_real_time();
                r = mig_call(a, MIG_MANAGER_PATH, MIG_MANAGER, "Migrate",
                             g_variant_new("(ssa{sv})", INSTANCE, MIGRATION_URI, &opts), "(o)",
                             error);
                ok = r != NULL;
        }
        if (ok) {
                g_variant_get(r, "(o)", &src_path);
                ok = wait_migration(src_path, dst_path, error);
        }
        if (ok)
                watch_destination_guest(b);
        collect(probe, src_path, dst_path);
        return ok;
}

/* ---- the cases ---- */

static void
ensure_run(void)
{
        g_autoptr(GError) error = NULL;

        if (run.ran)
                return;
        run.ran = TRUE;
        g_mutex_init(&watch.lock);
        watch.changes = g_array_new(FALSE, FALSE, sizeof(Change));
        run.completed = migrate(&error);
        if (!run.completed)
                run.failure = g_strdup(error->message);
        /* The consoles also when the run stopped early: a guest that broke
         * while booting is the emulator's failure too. */
        for (guint i = 0; i < 2 && env_up; i++)
                if (!run.serial[i])
                        run.serial[i] = mig_host_serial(&env.host[i]);
}

static gboolean
judgeable(void)
{
        ensure_run();
        if (!run.completed) {
                g_test_skip("no completed migration to judge: see /migration/postcopy/run");
                return FALSE;
        }
        return TRUE;
}

static void
print_timeline(const char *what, GVariant *timeline)
{
        g_autofree char *text = NULL;
        gint64 origin = run.migrate_at;
        guint64 first;

        if (!timeline || !g_variant_n_children(timeline))
                return;
        if (!origin) {
                g_variant_get_child(timeline, 0, "(&st)", NULL, &first);
                origin = (gint64) first;
        }
        text = mig_timeline_format(timeline, origin);
        g_test_message("%s (ms from %s): %s", what, run.migrate_at ? "Migrate" : "its start", text);
}

static void
test_run(void)
{
        ensure_run();
        if (run.phases)
                g_test_message("A's migration phases: %s", run.phases);
        print_timeline("A's migration", run.src_timeline);
        print_timeline("B's migration", run.dst_timeline);
        print_timeline("A's guest", run.src_guest);
        print_timeline("B's guest", run.dst_guest);
        if (!run.completed) {
                logs_dumped = TRUE;
                mig_env_dump_logs(&env);
                g_test_fail_printf("%s", run.failure);
                return;
        }
        g_test_message("downtime (QEMU) %" G_GUINT64_FORMAT " ms, total %.1f s", run.downtime_ms,
                       (mig_timeline_find(run.src_timeline, "completed", 0) - run.migrate_at) /
                               1e6);
}

static void
test_switch_after_forwarding(void)
{
        gint64 switch_at, ready_at, dev_fwd_at, inst_ready_at, not_yet = 0, fwd_seen = 0;
        gint64 policy_at, dst_ready_at;

        if (!judgeable())
                return;
        switch_at = mig_timeline_find(run.src_timeline, "postcopy-switch", 0);
        if (!switch_at) {
                g_test_fail_printf("no postcopy-switch in A's timeline");
                return;
        }
        /* The kernel's view: the last sample in which B's tap did not
         * forward, taken before the switch. */
        for (guint i = 0; i < run.samples->len; i++) {
                MigSample *s = &g_array_index(run.samples, MigSample, i);

                if (s->tap_state[1] < 0)
                        continue; /* the dump failed: no view */
                if (s->tap_state[1] != BR_STATE_FORWARDING)
                        not_yet = s->start;
                else if (!fwd_seen)
                        fwd_seen = s->end;
        }
        /* The daemon's view: B's PropertiesChanged, timed on arrival here. */
        dev_fwd_at = change_at(run.changes, "device PortState=forwarding");
        ready_at = change_at(run.changes, "device Ready=true");
        inst_ready_at = change_at(run.changes, "instance Ready=true");
        policy_at = mig_timeline_find(run.src_timeline, "policy-fired", 0);
        dst_ready_at = mig_timeline_find(run.src_timeline, "destination-ready", 0);
        g_test_message("B's tap: kernel last 'not forwarding' sample %+.1f ms, first "
                       "'forwarding' %+.1f ms; PortState=forwarding signal %+.1f ms, "
                       "Ready signal %+.1f ms, instance Ready %+.1f ms; policy fired %+.1f ms; "
                       "switch %+.1f ms (all from Migrate)",
                       (not_yet - run.migrate_at) / 1e3, (fwd_seen - run.migrate_at) / 1e3,
                       (dev_fwd_at - run.migrate_at) / 1e3, (ready_at - run.migrate_at) / 1e3,
                       (inst_ready_at - run.migrate_at) / 1e3, (policy_at - run.migrate_at) / 1e3,
                       (switch_at - run.migrate_at) / 1e3);
        if (policy_at && dst_ready_at && policy_at < dst_ready_at)
                g_test_message("the gate held: the policy fired %.1f ms before B was ready",
                               (dst_ready_at - policy_at) / 1e3);
        /* The forward delay outlasts the first pass (MIG_FORWARD_DELAY_CS):
         * the source must have waited for B, else the gate went untested. */
        g_assert_nonnull(strstr(run.phases, "waiting-for-destination"));
        g_assert_cmpint(policy_at, >, 0);
        g_assert_cmpint(policy_at, <, dst_ready_at);
        g_assert_cmpint(fwd_seen, >, 0);
        g_assert_cmpint(ready_at, >, 0);
        /* The kernel said "not forwarding" after not_yet: the switch must not
         * have gone out before that. */
        g_assert_cmpint(switch_at, >, not_yet);
        /* B's daemon sends Ready to the source daemon and to us at the same
         * moment; 10 ms covers this process being scheduled later than the
         * source daemon on a loaded 2-core machine. */
        g_assert_cmpint(switch_at, >=, ready_at - 10000);
        g_assert_cmpint(dst_ready_at, >, 0);
        g_assert_cmpint(switch_at, >=, dst_ready_at);
}

static void
test_source_deactivated(void)
{
        gint64 stop_at, deactivated_at, last_owned = 0;
        int owner_before = 0;

        if (!judgeable())
                return;
        stop_at = mig_timeline_find(run.src_guest, "stop", run.migrate_at);
        deactivated_at = stop_at ? mig_timeline_find(run.src_guest, "deactivated", stop_at) : 0;
        if (!stop_at || !deactivated_at) {
                g_test_fail_printf("A's guest timeline has no stop -> deactivated: %s",
                                   mig_timeline_format(run.src_guest, run.migrate_at));
                return;
        }
        for (guint i = 0; i < run.samples->len; i++) {
                MigSample *s = &g_array_index(run.samples, MigSample, i);

                if (s->owner[0] > 0) {
                        last_owned = s->start;
                        owner_before = s->owner[0];
                }
        }
        g_test_message("A: STOP -> deactivated %.1f ms; the kernel last showed A's entry in a "
                       "sample started %+.1f ms from the STOP",
                       (deactivated_at - stop_at) / 1e3, (last_owned - stop_at) / 1e3);
        g_assert_cmpint(owner_before, >, 0);
        g_assert_cmpint(deactivated_at - stop_at, <=, DEACTIVATE_MS * 1000);
        /* No sample begun more than 50 ms after the STOP still saw the entry. */
        g_assert_cmpint(last_owned, <, stop_at + DEACTIVATE_MS * 1000);
}

static void
test_single_owner(void)
{
        MigSample *last;
        guint both = 0, owned[2] = { 0, 0 }, misplaced[2] = { 0, 0 }, failed = 0;

        if (!judgeable())
                return;
        g_assert_cmpuint(run.samples->len, >, 0);
        for (guint i = 0; i < run.samples->len; i++) {
                MigSample *s = &g_array_index(run.samples, MigSample, i);

                if (s->owner[0] < 0 || s->owner[1] < 0) {
                        failed++;
                        continue;
                }
                for (guint h = 0; h < 2; h++) {
                        owned[h] += s->owner[h] > 0;
                        /* The Linux bridge moves a static, non-sticky entry
                         * to whichever port learns the MAC: an entry on a
                         * port other than the tap is one nobody owns. */
                        if (s->owner[h] > 0 && s->owner[h] != run.tap_ifindex[h] && !misplaced[h]++)
                                g_test_message("host %c: the guest MAC's static entry is on "
                                               "port ifindex %d, not on the tap (%d), in the "
                                               "sample at %+.1f ms from Migrate",
                                               'A' + h, s->owner[h], run.tap_ifindex[h],
                                               (s->start - run.migrate_at) / 1e3);
                }
                if (s->owner[0] > 0 && s->owner[1] > 0 && !both++)
                        g_test_message("both hosts hold the MAC in the sample at %+.1f ms from "
                                       "Migrate",
                                       (s->start - run.migrate_at) / 1e3);
                g_assert_cmpuint(s->owners[0], <=, 1);
                g_assert_cmpuint(s->owners[1], <=, 1);
        }
        last = &g_array_index(run.samples, MigSample, run.samples->len - 1);
        g_test_message("%u FDB samples: A owned in %u, B in %u, both in %u; entries off the tap: "
                       "A %u, B %u; %u failed dumps",
                       run.samples->len, owned[0], owned[1], both, misplaced[0], misplaced[1],
                       failed);
        g_assert_cmpuint(both, ==, 0);
        g_assert_cmpuint(misplaced[0], ==, 0);
        g_assert_cmpuint(misplaced[1], ==, 0);
        g_assert_cmpuint(failed, ==, 0);
        g_assert_cmpuint(owned[0], >, 0);
        g_assert_cmpint(last->owner[0], ==, 0);
        g_assert_cmpint(last->owner[1], ==, run.tap_ifindex[1]);
}

static gint
by_time(gconstpointer x, gconstpointer y)
{
        gint64 a = ((const MigArrival *) x)->at, b = ((const MigArrival *) y)->at;

        return a < b ? -1 : a > b;
}

/* Largest gap between consecutive arrivals of @a within [from, to]. */
static gint64
largest_gap(GArray *a, gint64 from, gint64 to, gint64 *gap_start)
{
        gint64 prev = from, gap = 0;

        for (guint i = 0; i < a->len; i++) {
                gint64 t = g_array_index(a, MigArrival, i).at;

                if (t < from || t > to)
                        continue;
                if (t - prev > gap) {
                        gap = t - prev;
                        *gap_start = prev;
                }
                prev = t;
        }
        if (to - prev > gap) {
                gap = to - prev;
                *gap_start = prev;
        }
        return gap;
}

/* The gap in @a (sorted) that holds @t: from the last arrival before @t to
 * the first at or after it; 0 when @t is not between two arrivals. */
static gint64
gap_across(GArray *a, gint64 t)
{
        for (guint i = 0; i + 1 < a->len; i++) {
                gint64 x = g_array_index(a, MigArrival, i).at;
                gint64 y = g_array_index(a, MigArrival, i + 1).at;

                if (x < t && t <= y)
                        return y - x;
        }
        return 0;
}

static void
test_blackout(void)
{
        g_autoptr(GArray) running = g_array_new(FALSE, FALSE, sizeof(MigArrival));
        g_autoptr(GHashTable) reached = g_hash_table_new(NULL, NULL);
        gint64 stop_at, resume_at, completed_at, activated_at, gap_start = 0, send_gap_start = 0;
        gint64 blackout, switch_gap, send_gap, b_owns_at = 0;
        guint after_resume = 0, lost = 0, sent = 0;

        if (!judgeable())
                return;
        stop_at = mig_timeline_find(run.src_guest, "stop", run.migrate_at);
        resume_at = mig_timeline_find(run.dst_guest, "resume", run.migrate_at);
        activated_at = mig_timeline_find(run.dst_guest, "activated", resume_at);
        completed_at = mig_timeline_find(run.src_timeline, "completed", 0);
        if (!stop_at || !resume_at) {
                g_test_fail_printf("no STOP on A or RESUME on B in the guest timelines");
                return;
        }
        /* Echo requests that reached the tap of the instance that ran: A's
         * before its STOP, B's from its RESUME. */
        for (guint i = 0; i < run.captures[0]->len; i++)
                if (g_array_index(run.captures[0], MigArrival, i).at < stop_at)
                        g_array_append_val(running, g_array_index(run.captures[0], MigArrival, i));
        for (guint i = 0; i < run.captures[1]->len; i++)
                if (g_array_index(run.captures[1], MigArrival, i).at >= resume_at) {
                        g_array_append_val(running, g_array_index(run.captures[1], MigArrival, i));
                        after_resume++;
                }
        g_array_sort(running, by_time);
        for (guint i = 0; i < running->len; i++)
                g_hash_table_add(reached,
                                 GUINT_TO_POINTER(g_array_index(running, MigArrival, i).seq + 1));
        /* Requests sent from Migrate until shortly before the probes ended
         * that never reached a running instance. */
        for (guint i = 0; i < run.sent->len; i++) {
                MigArrival *x = &g_array_index(run.sent, MigArrival, i);

                if (x->at < run.migrate_at || x->at > run.probe_end - 50000)
                        continue;
                sent++;
                lost += !g_hash_table_contains(reached, GUINT_TO_POINTER(x->seq + 1));
        }
        /* The asserted figure: the largest gap anywhere from Migrate on. The
         * gap across the switch and the sender's own largest gap tell whether
         * it was the migration or this process being scheduled late. */
        blackout = largest_gap(running, run.migrate_at, run.probe_end, &gap_start);
        switch_gap = gap_across(running, stop_at);
        send_gap = largest_gap(run.sent, run.migrate_at, run.probe_end, &send_gap_start);
        for (guint i = 0; i < run.samples->len && !b_owns_at; i++) {
                MigSample *s = &g_array_index(run.samples, MigSample, i);

                if (s->owner[1] > 0)
                        b_owns_at = s->end;
        }
        g_test_message("network-plane blackout %.1f ms (largest gap, at %+.1f ms from Migrate; "
                       "across the switch %.1f ms; the sender's own largest gap %.1f ms), QEMU "
                       "downtime %" G_GUINT64_FORMAT " ms, total migration time %.1f s",
                       blackout / 1e3, (gap_start - run.migrate_at) / 1e3, switch_gap / 1e3,
                       send_gap / 1e3, run.downtime_ms, (completed_at - run.migrate_at) / 1e6);
        g_test_message("A's STOP %+.1f ms, B's RESUME %+.1f ms, B activated %+.1f ms, B's FDB "
                       "entry first seen by %+.1f ms (from Migrate); %u of %u echo requests "
                       "reached no running instance; %u reached B's tap after its RESUME",
                       (stop_at - run.migrate_at) / 1e3, (resume_at - run.migrate_at) / 1e3,
                       (activated_at - run.migrate_at) / 1e3, (b_owns_at - run.migrate_at) / 1e3,
                       lost, sent, after_resume);
        g_assert_cmpuint(after_resume, >, 0);
        g_assert_cmpint(switch_gap, >, 0);
        g_assert_cmpint(blackout, <=, ((gint64) run.downtime_ms + BLACKOUT_SLACK_MS) * 1000);
}

static const char *
emulator_failure(const char **where)
{
        for (guint i = 0; i < 2; i++) {
                const char *mark = run.serial[i] ? corruption(run.serial[i]) : NULL;

                if (mark) {
                        *where = i ? "B (destination)" : "A (source)";
                        return mark;
                }
        }
        return NULL;
}

static void
test_guest_intact(void)
{
        const char *where = NULL, *mark;

        ensure_run();
        mark = emulator_failure(&where);
        if (mark) {
                g_test_message("host %s serial console:\n%s", where, run.serial[where[0] == 'B']);
                g_test_fail_printf("EMULATOR FAILURE, not a netlifecd failure: '%s' on the "
                                   "console of host %s (%s)",
                                   mark, where, run.qemu_version);
                return;
        }
        if (!run.completed) {
                g_test_skip("no completed migration: see /migration/postcopy/run");
                return;
        }
        /* The guest's workload runs on B: its heartbeat reached B's console. */
        if (!run.serial[1] || !strstr(run.serial[1], "DIRTIER-ALIVE"))
                g_test_fail_printf("EMULATOR FAILURE, not a netlifecd failure: the guest shows "
                                   "no life on B's console after the migration (%s)",
                                   run.qemu_version);
}

static void
test_guest_replies(void)
{
        g_autoptr(GHashTable) after_resume = g_hash_table_new(NULL, NULL);
        const char *where = NULL;
        gint64 resume_at, gap_start = 0, gap;
        guint answered = 0;

        if (emulator_failure(&where)) {
                g_test_incomplete_printf("not judged: the emulator corrupted the guest on host %s "
                                         "(see guest-intact)",
                                         where);
                return;
        }
        if (!judgeable())
                return;
        resume_at = mig_timeline_find(run.dst_guest, "resume", run.migrate_at);
        for (guint i = 0; i < run.sent->len; i++) {
                MigArrival *x = &g_array_index(run.sent, MigArrival, i);

                /* The last 50 ms of requests may still be on their way. */
                if (x->at > resume_at && x->at <= run.probe_end - 50000)
                        g_hash_table_add(after_resume, GUINT_TO_POINTER(x->seq + 1));
        }
        for (guint i = 0; i < run.replies->len; i++)
                answered += g_hash_table_contains(
                        after_resume,
                        GUINT_TO_POINTER(g_array_index(run.replies, MigArrival, i).seq + 1));
        gap = largest_gap(run.replies, run.migrate_at, run.probe_end, &gap_start);
        g_test_message("guest replies: %u to %u requests in all; %u of the %u sent after B's "
                       "RESUME answered; largest gap between replies %.1f ms at %+.1f ms from "
                       "Migrate",
                       run.replies->len, run.sent->len, answered, g_hash_table_size(after_resume),
                       gap / 1e3, (gap_start - run.migrate_at) / 1e3);
        g_assert_cmpuint(answered, >, 0);
        /* Replies are the guest's (a TCG guest under a memory-dirtying load):
         * a weaker signal than the tap captures, so only most are needed. */
        g_assert_cmpuint(answered * 2, >, g_hash_table_size(after_resume));
}

static void
test_clean_shutdown(void)
{
        g_autoptr(GError) error = NULL;

        if (!env_up) {
                g_test_skip("nothing was set up");
                return;
        }
        /* The daemons' logs and consoles once, when any case failed. */
        if (any_failed && !logs_dumped)
                mig_env_dump_logs(&env);
        env_up = FALSE;
        if (!mig_env_tear_down(&env, &error))
                g_test_fail_printf("%s", error->message);
}

typedef struct {
        const char *name;
        void (*func)(void);
} Case;

/* In this order: the first runs the migration, the last tears down. */
static const Case cases[] = {
        { "run", test_run },
        { "switch-after-forwarding", test_switch_after_forwarding },
        { "source-deactivated", test_source_deactivated },
        { "single-owner", test_single_owner },
        { "blackout", test_blackout },
        { "guest-intact", test_guest_intact },
        { "guest-replies", test_guest_replies },
        { "clean-shutdown", test_clean_shutdown },
};

/* Runs a case and notes whether it failed (assertions are not fatal). */
static void
run_case(gconstpointer data)
{
        const Case *c = data;

        c->func();
        any_failed |= g_test_failed();
}

int
main(int argc, char **argv)
{
        int status;

        g_test_init(&argc, &argv, NULL);
        /* A failed check ends its case, not the process: the other checks
         * still judge the run and the teardown still runs. */
        g_test_set_nonfatal_assertions();
        for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *path = g_strconcat("/migration/postcopy/", cases[i].name, NULL);

                g_test_add_data_func(path, &cases[i], run_case);
        }
        status = g_test_run();
        if (env_up)
                mig_env_tear_down(&env, NULL);
        return status;
}
