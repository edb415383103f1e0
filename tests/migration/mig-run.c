/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mig-naive.h"
#include "mig-qmp.h"
#include "mig-run.h"

#define BOOT_TIMEOUT_S  120
#define MIGRATE_TIMEOUT 300
/* Echo requests A's tap must see before the migration starts: the path
 * works and the probes measure. */
#define WARMUP_CAPTURES 50

/* ---- B's PropertiesChanged, timed on arrival ---- */

/* Filled from GDBus's worker thread (the message filter), read by the run.
 * One per process, not per run: a filter may still be running after
 * g_dbus_connection_remove_filter(), so what it touches must outlive it. */
typedef struct {
        GMutex lock;
        char *device_path, *device2_path, *instance_path;
        GArray *changes; /* MigChange */
} Watch;

static Watch the_watch;

static void
watch_add(Watch *w, gint64 at, const char *what)
{
        MigChange c = { at, g_strdup(what) };

        g_mutex_lock(&w->lock);
        g_array_append_val(w->changes, c);
        g_mutex_unlock(&w->lock);
}

/* Runs before any queue, in the worker thread: the arrival time is the
 * signal's, not this process's next main-loop turn. */
static GDBusMessage *
on_message(GDBusConnection *conn, GDBusMessage *message, gboolean incoming, gpointer data)
{
        Watch *w = data;
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
        g_mutex_lock(&w->lock);
        if (g_strcmp0(path, w->device_path) == 0)
                kind = "device";
        else if (g_strcmp0(path, w->device2_path) == 0)
                kind = "device2";
        else if (g_strcmp0(path, w->instance_path) == 0)
                kind = "instance";
        g_mutex_unlock(&w->lock);
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
                        watch_add(w, at, text);
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
                MigChange *c = &g_array_index(changes, MigChange, i);

                if (g_str_equal(c->what, what))
                        return c->at;
        }
        return 0;
}

gint64
mig_run_change_at(const MigRun *run, const char *what)
{
        return change_at(run->changes, what);
}

static gboolean
watch_seen(Watch *w, const char *what)
{
        gboolean seen;

        g_mutex_lock(&w->lock);
        seen = change_at(w->changes, what) != 0;
        g_mutex_unlock(&w->lock);
        return seen;
}

/* ---- the run's state and helpers ---- */

typedef struct {
        MigEnv *env;
        const MigRunConfig *config;
        MigRun *run;
        MigProbe *probe;
        Watch *watch;
        guint port_timeout_ms; /* a new port forwards within this */
        /* The destination: host B, or with config->local a second QEMU on
         * host A (ctx->local: A's bus and daemon, its own files). */
        MigHost *dst;
        MigHost local;
        const char *dst_instance, *dst_tap, *uri;
} Ctx;

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

const char *
mig_run_corruption(const char *serial)
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

                if (mig_run_corruption(serial))
                        return fail(error,
                                    "EMULATOR FAILURE: the guest broke while booting on host %c "
                                    "('%s' on its console)",
                                    h->label, mig_run_corruption(serial));
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

/* The host's instance Ready, and with @active Active too. */
static gboolean
wait_instance(MigHost *h, gboolean active, guint timeout_ms, GError **error)
{
        for (guint i = 0; i < timeout_ms / 100; i++) {
                if (get_bool(h, h->instance_path, MIG_INSTANCE, "Ready") &&
                    (!active || get_bool(h, h->instance_path, MIG_INSTANCE, "Active")))
                        return TRUE;
                g_usleep(100000);
        }
        return fail(error, "host %c: instance not ready%s within %u ms", h->label,
                    active ? " and active" : "", timeout_ms);
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

/* ---- the netlifecd driver ---- */

/* Coordinated readiness: this process is the coordinator and tells A's
 * migration once B's instance is Ready (as seen in B's signals). */
static gboolean
coordinate(Ctx *ctx, gboolean *told, GError **error)
{
        g_autoptr(GVariant) r = NULL;

        if (*told || g_strcmp0(ctx->config->readiness, "coordinated") != 0 ||
            !watch_seen(ctx->watch, "instance Ready=true"))
                return TRUE;
        *told = TRUE;
        r = mig_call(&ctx->env->host[0], ctx->run->src_path, MIG_MIGRATION, "DestinationReady",
                     NULL, "()", error);
        if (!r)
                g_prefix_error(error, "DestinationReady on A: ");
        return r != NULL;
}

static const char *
expected_final(Ctx *ctx)
{
        return ctx->config->expect_final ? ctx->config->expect_final : "completed";
}

/* Follows A's migration to its end (or until the hook says done); notes the
 * phases it went through. */
static gboolean
wait_migration(Ctx *ctx, GError **error)
{
        MigHost *a = &ctx->env->host[0], *b = ctx->dst;
        g_autoptr(GString) phases = g_string_new(NULL);
        g_autofree char *phase = NULL;
        gboolean told = FALSE, hook_done = FALSE;

        for (int i = 0; i < MIGRATE_TIMEOUT * 100 && !hook_done; i++) {
                g_free(phase);
                phase = get_string(a, ctx->run->src_path, MIG_MIGRATION, "Phase");
                if (!phases->len || !g_str_has_suffix(phases->str, phase))
                        g_string_append_printf(phases, "%s%s", phases->len ? " -> " : "", phase);
                if (phase_is_final(phase))
                        break;
                /* A fault injected on purpose may take a QEMU down. */
                if (!ctx->config->hook && (!mig_host_qemu_alive(a) || !mig_host_qemu_alive(b)))
                        return fail(error, "QEMU on host %c exited during the migration (%s)",
                                    mig_host_qemu_alive(a) ? 'B' : 'A', phases->str);
                if (!coordinate(ctx, &told, error))
                        return FALSE;
                if (ctx->config->hook) {
                        MigHookResult r = ctx->config->hook(ctx->env, ctx->run, phase,
                                                            ctx->config->hook_data, error);

                        if (r == MIG_HOOK_FAILED)
                                return FALSE;
                        hook_done = r == MIG_HOOK_DONE;
                }
                g_usleep(10000);
        }
        ctx->run->phases = g_strdup(phases->str);
        ctx->run->final_phase = g_strdup(phase);
        if (hook_done)
                return TRUE;
        if (!g_str_equal(phase, expected_final(ctx))) {
                g_autofree char *why = get_string(a, ctx->run->src_path, MIG_MIGRATION, "Error");

                return fail(error, "the migration ended '%s' (%s), not %s: %s", phase, phases->str,
                            expected_final(ctx), why);
        }
        if (!g_str_equal(phase, "completed"))
                return TRUE;
        for (int i = 0; i < 300; i++) {
                g_free(phase);
                phase = get_string(b, ctx->run->dst_path, MIG_MIGRATION, "Phase");
                if (phase_is_final(phase))
                        break;
                g_usleep(100000);
        }
        if (!g_str_equal(phase, "completed"))
                return fail(error, "the destination's migration is '%s', not completed", phase);
        return TRUE;
}

/* More Migrate() options from the configuration's text. */
static gboolean
add_options(GVariantBuilder *opts, const char *text, GError **error)
{
        g_autoptr(GVariant) extra = NULL;
        GVariantIter iter;
        const char *key;
        GVariant *value;

        if (!text)
                return TRUE;
        extra = g_variant_parse(G_VARIANT_TYPE_VARDICT, text, NULL, NULL, error);
        if (!extra)
                return FALSE;
        g_variant_iter_init(&iter, extra);
        while (g_variant_iter_loop(&iter, "{&sv}", &key, &value))
                g_variant_builder_add(opts, "{sv}", key, value);
        return TRUE;
}

/* When @wanted, @command on @h's QEMU through the test's own monitor: knobs
 * and figures the daemon does not offer. */
static JsonNode *
test_monitor_run(MigHost *h, const char *command, const char *args, GError **error)
{
        g_autoptr(NlcQmp) qmp = mig_qmp_connect(h->test_qmp_path, error);
        JsonNode *reply;

        if (!qmp)
                return NULL;
        reply = mig_qmp_run(qmp, command, args, error);
        nlc_qmp_close(qmp);
        return reply;
}

static gboolean
on_test_monitor(MigHost *h, gboolean wanted, const char *command, const char *args, GError **error)
{
        g_autoptr(JsonNode) reply = wanted ? test_monitor_run(h, command, args, error) : NULL;

        return !wanted || reply != NULL;
}

/* A migration parameter of @a's QEMU the daemon does not set (0: QEMU's
 * own), through the test's own monitor. */
static gboolean
set_parameter(MigHost *a, const char *name, guint64 value, GError **error)
{
        g_autofree char *args = g_strdup_printf("{\"%s\": %" G_GUINT64_FORMAT "}", name, value);

        return on_test_monitor(a, value != 0, "migrate-set-parameters", args, error);
}

/* B's post-copy blocktime, once its migration completed. */
static void
read_blocktime(MigHost *b, MigRun *run)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) info = test_monitor_run(b, "query-migrate", NULL, &error);
        JsonObject *o = info && JSON_NODE_HOLDS_OBJECT(info) ? json_node_get_object(info) : NULL;
        g_autoptr(GString) per_vcpu = g_string_new(NULL);

        if (!o) {
                run->vcpu_blocktime_ms = g_strdup_printf("(query-migrate on B: %s)",
                                                         error ? error->message : "no object");
                return;
        }
        run->blocktime_ms = json_object_get_int_member_with_default(o, "postcopy-blocktime", -1);
        if (json_object_has_member(o, "postcopy-vcpu-blocktime")) {
                JsonArray *a = json_object_get_array_member(o, "postcopy-vcpu-blocktime");

                for (guint i = 0; i < json_array_get_length(a); i++)
                        g_string_append_printf(per_vcpu, "%s%" G_GINT64_FORMAT, i ? " " : "",
                                               json_array_get_int_element(a, i));
        }
        run->vcpu_blocktime_ms = g_string_free(g_steal_pointer(&per_vcpu), FALSE);
}

/* Migrate's options for this run (floating), the configuration's own
 * winning over the defaults here; without @readiness as a new user would
 * first try it. NULL with @error when the configuration's text is bad. */
static GVariant *
migrate_options(Ctx *ctx, gboolean readiness, GError **error)
{
        g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT(NULL);
        g_autoptr(GVariant) extra = NULL;
        GVariantIter iter;
        const char *key;
        GVariant *value;

        g_variant_dict_insert(&dict, "postcopy", "s", "after-precopy");
        if (readiness) {
                g_variant_dict_insert(&dict, "readiness", "s", ctx->config->readiness);
                if (g_str_equal(ctx->config->readiness, "destination-bus"))
                        g_variant_dict_insert(&dict, "destination-bus", "s", ctx->dst->bus_address);
                if (ctx->config->local)
                        g_variant_dict_insert(&dict, "destination-instance", "s",
                                              ctx->dst_instance);
        }
        g_variant_dict_insert(&dict, "max-bandwidth", "t", ctx->config->max_bandwidth);
        if (ctx->config->migrate_options) {
                extra = g_variant_parse(G_VARIANT_TYPE_VARDICT, ctx->config->migrate_options, NULL,
                                        NULL, error);
                if (!extra)
                        return NULL;
                g_variant_iter_init(&iter, extra);
                while (g_variant_iter_loop(&iter, "{&sv}", &key, &value))
                        g_variant_dict_insert_value(&dict, key, value);
        }
        return g_variant_dict_end(&dict);
}

/* The gate never fails open: Migrate naming no readiness (as netlifectl
 * migrate INSTANCE URI sends it) is refused, and leaves nothing behind. */
static gboolean
migrate_refused_without_readiness(Ctx *ctx, GError **error)
{
        g_autoptr(GError) refused = NULL;
        g_autoptr(GVariant) r = NULL;
        GVariant *opts = migrate_options(ctx, FALSE, error);

        if (!opts)
                return FALSE;
        r = mig_call(&ctx->env->host[0], MIG_MANAGER_PATH, MIG_MANAGER, "Migrate",
                     g_variant_new("(ss@a{sv})", MIG_INSTANCE_NAME, ctx->uri, opts), "(o)",
                     &refused);
        /* mig_call prefixes the host: the D-Bus error name is inside. */
        if (r || !strstr(refused->message, "org.netlifecd1.Error.InvalidArgs:") ||
            !strstr(refused->message, "needs option 'readiness'")) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                            "Migrate without readiness was not refused with InvalidArgs: %s",
                            r ? "it started" : refused->message);
                return FALSE;
        }
        ctx->run->refused_without_readiness = TRUE;
        return TRUE;
}

static gboolean
netlifecd_migrate(Ctx *ctx, GError **error)
{
        MigHost *a = &ctx->env->host[0], *b = ctx->dst;
        g_autoptr(GVariant) r = NULL;
        GVariant *options = NULL;
        GVariantBuilder opts;

        g_variant_builder_init(&opts, G_VARIANT_TYPE_VARDICT);
        if (!add_options(&opts, ctx->config->incoming_options, error) ||
            !on_test_monitor(b, ctx->config->blocktime, "migrate-set-capabilities",
                             "{\"capabilities\": [{\"capability\": \"postcopy-blocktime\", "
                             "\"state\": true}]}",
                             error)) {
                g_variant_builder_clear(&opts);
                return FALSE;
        }
        r = mig_call(b, MIG_MANAGER_PATH, MIG_MANAGER, "PrepareIncoming",
                     g_variant_new("(ssa{sv})", ctx->dst_instance, ctx->uri, &opts), "(o)", error);
        if (!r)
                return FALSE;
        g_variant_get(r, "(o)", &ctx->run->dst_path);
        g_clear_pointer(&r, g_variant_unref);
        if (!migrate_refused_without_readiness(ctx, error) ||
            !(options = migrate_options(ctx, TRUE, error)) ||
            !set_parameter(a, "max-postcopy-bandwidth", ctx->config->max_postcopy_bandwidth,
                           error) ||
            !set_parameter(a, "downtime-limit", ctx->config->downtime_limit_ms, error)) {
                if (options)
                        g_variant_unref(g_variant_ref_sink(options));
                return FALSE;
        }
        ctx->run->migrate_at = g_get_real_time();
        r = mig_call(a, MIG_MANAGER_PATH, MIG_MANAGER, "Migrate",
                     g_variant_new("(ss@a{sv})", MIG_INSTANCE_NAME, ctx->uri, options), "(o)",
                     error);
        if (!r)
                return FALSE;
        g_variant_get(r, "(o)", &ctx->run->src_path);
        if (!wait_migration(ctx, error))
                return FALSE;
        if (ctx->config->blocktime && g_strcmp0(ctx->run->final_phase, "completed") == 0)
                read_blocktime(b, ctx->run);
        return TRUE;
}

/* ---- both drivers ---- */

static gboolean
create_device(Ctx *ctx, MigHost *h, const char *instance, const char *tap, int *fd, GError **error)
{
        if (ctx->config->driver == MIG_DRIVER_NAIVE)
                return mig_naive_create_tap(h, tap, fd, error);
        if (ctx->config->share_queues && h == ctx->dst)
                return mig_host_share_queues(&ctx->env->host[0], h, instance, fd, error);
        return mig_host_create_device(h, instance, tap, ctx->config->share_queues, fd, error);
}

static guint
n_nics(Ctx *ctx)
{
        return ctx->config->second_nic ? 2 : 1;
}

/* The guest boots on A; A's ports start counting at their creation. */
static gboolean
boot_source(Ctx *ctx, GError **error)
{
        MigEnv *env = ctx->env;
        MigHost *a = &env->host[0], *b = &env->host[1];
        int fds[2] = { -1, -1 };

        if (!create_device(ctx, a, MIG_INSTANCE_NAME, MIG_TAP_A, &fds[0], error))
                return FALSE;
        if (ctx->config->second_nic &&
            !mig_host_create_second_device(a, MIG_INSTANCE_NAME, MIG_TAP2_A, &fds[1], error)) {
                close(fds[0]);
                return FALSE;
        }
        if (!mig_host_start_qemu_nics(env, a, fds, n_nics(ctx), FALSE, error))
                return FALSE;
        if (ctx->config->driver == MIG_DRIVER_NETLIFECD) {
                if (!mig_host_attach_qemu(a, MIG_INSTANCE_NAME, error) ||
                    !wait_guest_ready(a, error) ||
                    !wait_instance(a, TRUE, ctx->port_timeout_ms, error))
                        return FALSE;
        } else if (!wait_guest_ready(a, error) ||
                   !mig_wait_forwarding(a->ns, MIG_TAP_A, ctx->port_timeout_ms, error)) {
                return FALSE;
        }
        return mig_wait_forwarding(a->ns, MIG_UPLINK, ctx->port_timeout_ms, error) &&
               mig_wait_forwarding(b->ns, MIG_UPLINK, ctx->port_timeout_ms, error);
}

static void
watch_path(Ctx *ctx, char **where, const char *path)
{
        g_mutex_lock(&ctx->watch->lock);
        *where = g_strdup(path);
        g_mutex_unlock(&ctx->watch->lock);
}

/* B's second NIC, second_nic_delay_ms after its first: a device of B's
 * daemon, or a tap of the test's own on no bridge. */
static gboolean
second_destination_nic(Ctx *ctx, MigHost *b, int *fd, GError **error)
{
        g_usleep((gulong) ctx->config->second_nic_delay_ms * 1000);
        if (ctx->config->second_nic_unmanaged) {
                if (!mig_naive_open_tap(b, MIG_TAP2_B, fd, error))
                        return FALSE;
                b->tap2 = g_strdup(MIG_TAP2_B);
                return TRUE;
        }
        if (!mig_host_create_second_device(b, ctx->dst_instance, MIG_TAP2_B, fd, error))
                return FALSE;
        ctx->run->dst_created_at[1] = g_get_real_time();
        watch_path(ctx, &ctx->watch->device2_path, b->device2_path);
        return TRUE;
}

/* B: the devices first (their STP countdown starts now), then QEMU waiting
 * for the stream, then the probes on B's tap. */
static gboolean
start_destination(Ctx *ctx, GError **error)
{
        MigEnv *env = ctx->env;
        MigHost *b = ctx->dst;
        const char *const ns[2] = { env->host[0].ns, b->ns };
        const char *const taps[2] = { MIG_TAP_A, ctx->dst_tap };
        const char *const taps2[2] = { MIG_TAP2_A, MIG_TAP2_B };
        int fds[2] = { -1, -1 };

        if (!create_device(ctx, b, ctx->dst_instance, ctx->dst_tap, &fds[0], error))
                return FALSE;
        if (ctx->config->driver == MIG_DRIVER_NETLIFECD) {
                ctx->run->dst_created_at[0] = g_get_real_time();
                watch_path(ctx, &ctx->watch->device_path, b->device_path);
                watch_path(ctx, &ctx->watch->instance_path, b->instance_path);
                g_dbus_connection_add_filter(b->conn, on_message, ctx->watch, NULL);
                /* A match rule, so B's bus sends us the signals at all. */
                g_dbus_connection_signal_subscribe(
                        b->conn, MIG_BUS_NAME, "org.freedesktop.DBus.Properties",
                        "PropertiesChanged", NULL, NULL, G_DBUS_SIGNAL_FLAGS_NONE, ignore_signal,
                        NULL, NULL);
        }
        if (ctx->config->second_nic && !second_destination_nic(ctx, b, &fds[1], error)) {
                close(fds[0]);
                return FALSE;
        }
        if (ctx->config->second_nic)
                mig_probe_add_second_nic(ctx->probe, MIG_GUEST_MAC2, taps2);
        if (!mig_host_start_qemu_nics(env, b, fds, n_nics(ctx), TRUE, error) ||
            !mig_probe_start_capture(ctx->probe, 1, b->ns, ctx->dst_tap, error) ||
            !mig_probe_start_sampler(ctx->probe, ns, taps, error))
                return FALSE;
        if (ctx->config->driver == MIG_DRIVER_NETLIFECD)
                return mig_host_attach_qemu(b, ctx->dst_instance, error) &&
                       wait_qmp_connected(b, error) &&
                       (!ctx->config->wait_destination_ready ||
                        wait_instance(b, FALSE, ctx->port_timeout_ms, error));
        return TRUE;
}

/* Until the echo requests reach B's tap (at most settle_ms), then until the
 * guest shows it runs on B (DIRTIER-ALIVE) or breaks (at most 20 s), then 2 s
 * more of echoes for the reply check. */
static void
watch_destination(Ctx *ctx)
{
        MigHost *b = ctx->dst;
        guint at_completion = mig_probe_count_captures(ctx->probe, 1);

        for (guint waited = 0; waited < ctx->config->settle_ms; waited += 100) {
                if (mig_probe_count_captures(ctx->probe, 1) > at_completion + 10)
                        break;
                g_usleep(100000);
        }
        for (int i = 0; i < 100; i++) {
                g_autofree char *serial = mig_host_serial(b);

                if (strstr(serial, "DIRTIER-ALIVE") || mig_run_corruption(serial))
                        break;
                g_usleep(200000);
        }
        g_usleep(2 * G_USEC_PER_SEC);
}

static void
collect(Ctx *ctx)
{
        MigRun *run = ctx->run;
        MigHost *a = &ctx->env->host[0], *b = ctx->dst;

        if (ctx->probe) {
                mig_probe_stop(ctx->probe);
                run->sent = mig_probe_get_sent(ctx->probe);
                /* The window ends with the last request: nothing can arrive
                 * later, and stopping the threads takes its own time. */
                run->probe_end =
                        run->sent->len ? g_array_index(run->sent, MigArrival, run->sent->len - 1).at
                                       : g_get_real_time();
                run->replies = mig_probe_get_replies(ctx->probe);
                run->captures[0] = mig_probe_get_captures(ctx->probe, 0);
                run->captures[1] = mig_probe_get_captures(ctx->probe, 1);
                run->samples = mig_probe_get_samples(ctx->probe);
                run->tap_ifindex[0] = mig_probe_tap_ifindex(ctx->probe, 0);
                run->tap_ifindex[1] = mig_probe_tap_ifindex(ctx->probe, 1);
                run->tap2_ifindex[0] = mig_probe_tap2_ifindex(ctx->probe, 0);
                run->tap2_ifindex[1] = mig_probe_tap2_ifindex(ctx->probe, 1);
        }
        run->changes = g_array_new(FALSE, FALSE, sizeof(MigChange));
        g_mutex_lock(&ctx->watch->lock);
        for (guint i = 0; i < ctx->watch->changes->len; i++) {
                MigChange c = g_array_index(ctx->watch->changes, MigChange, i);

                c.what = g_strdup(c.what);
                g_array_append_val(run->changes, c);
        }
        g_mutex_unlock(&ctx->watch->lock);
        if (ctx->run->src_path) {
                g_autoptr(GVariant) d =
                        mig_get(a, ctx->run->src_path, MIG_MIGRATION, "Downtime", NULL);

                run->src_timeline = mig_get(a, ctx->run->src_path, MIG_MIGRATION, "Timeline", NULL);
                run->downtime_ms = d ? g_variant_get_uint64(d) : 0;
                run->switch_at = mig_timeline_find(run->src_timeline, "postcopy-switch", 0);
                run->completed_at = mig_timeline_find(run->src_timeline, "completed", 0);
        }
        if (ctx->run->dst_path)
                run->dst_timeline = mig_get(b, ctx->run->dst_path, MIG_MIGRATION, "Timeline", NULL);
        if (ctx->config->driver == MIG_DRIVER_NETLIFECD && a->instance_path) {
                run->src_guest = mig_get(a, a->instance_path, MIG_INSTANCE, "GuestTimeline", NULL);
                /* A daemon restarted since (a fault test) starts its guest
                 * timeline afresh; the migration's is journalled. */
                run->stop_at = mig_timeline_find(run->src_guest, "stop", run->migrate_at);
                if (!run->stop_at)
                        run->stop_at = mig_timeline_find(run->src_timeline, "source-stop",
                                                         run->migrate_at);
        }
        if (ctx->config->driver == MIG_DRIVER_NETLIFECD && b->instance_path) {
                run->dst_guest = mig_get(b, b->instance_path, MIG_INSTANCE, "GuestTimeline", NULL);
                run->resume_at = mig_timeline_find(run->dst_guest, "resume", run->migrate_at);
                if (!run->resume_at)
                        run->resume_at = mig_timeline_find(run->dst_timeline, "destination-resume",
                                                           run->migrate_at);
        }
        run->serial[0] = mig_host_serial(a);
        run->serial[1] = mig_host_serial(b);
}

static gboolean
check_prerequisites(MigEnv *env, const MigRunConfig *config, MigRun *run, GError **error)
{
        guint major = mig_qemu_major(&run->qemu_version);

        if (config->second_nic && (config->driver != MIG_DRIVER_NETLIFECD || config->local))
                return fail(error, "a second NIC is for netlifecd between hosts A and B only");
        if (major < 10)
                return fail(error,
                            "QEMU 10 is needed (found: %s): run scripts/install-qemu.sh "
                            "(QEMU 7.2's TCG corrupts migrated Linux guests)",
                            run->qemu_version ? run->qemu_version : "none");
        for (guint i = 0; i < 2; i++) {
                g_autofree char *f =
                        g_build_filename(env->guest_dir, i ? "initrd.img" : "bzImage", NULL);

                if (!g_file_test(f, G_FILE_TEST_IS_REGULAR))
                        return fail(error, "no guest (%s): run tests/migration/build-guest.sh %s",
                                    f, env->guest_dir);
        }
        return TRUE;
}

static gboolean
run_steps(Ctx *ctx, GError **error)
{
        MigEnv *env = ctx->env;
        gboolean ok;

        if (!boot_source(ctx, error))
                return FALSE;
        ctx->probe = mig_probe_new(MIG_GUEST_IP, MIG_GUEST_MAC);
        if (!mig_probe_start_echo(ctx->probe, MIG_PEER_NS, error) ||
            !mig_probe_start_capture(ctx->probe, 0, env->host[0].ns, MIG_TAP_A, error) ||
            !wait_captures(ctx->probe, 0, WARMUP_CAPTURES, error))
                return FALSE;
        ctx->run->warmup_captures = mig_probe_count_captures(ctx->probe, 0);
        ctx->run->warmup_replies = mig_probe_count_replies(ctx->probe);
        if (!start_destination(ctx, error))
                return FALSE;
        if (ctx->config->driver == MIG_DRIVER_NAIVE)
                ok = mig_naive_migrate(env, ctx->config->max_bandwidth, ctx->run, error);
        else
                ok = netlifecd_migrate(ctx, error);
        /* The guest on B, or still on A after a cancel or a fault: either
         * way the probes keep measuring a while. */
        if (ok && (ctx->config->driver == MIG_DRIVER_NAIVE ||
                   g_strcmp0(ctx->run->final_phase, "completed") == 0))
                watch_destination(ctx);
        else if (ok)
                g_usleep(2 * G_USEC_PER_SEC);
        return ok;
}

/* The second QEMU of a localhost upgrade: host A's namespace, bus and
 * daemon (borrowed), files of its own. */
static void
local_destination(MigEnv *env, MigHost *h)
{
        MigHost *a = &env->host[0];

        memset(h, 0, sizeof *h);
        h->label = 'N';
        h->ns = a->ns;
        h->host_ip = a->host_ip;
        h->bus_address = a->bus_address;
        h->conn = a->conn;
        h->daemon_log = a->daemon_log;
        h->dir = g_build_filename(a->dir, "new", NULL);
        g_mkdir_with_parents(h->dir, 0700);
        h->qmp_path = g_build_filename(h->dir, "qmp.sock", NULL);
        h->test_qmp_path = g_build_filename(h->dir, "test-qmp.sock", NULL);
        h->serial_log = g_build_filename(h->dir, "serial.log", NULL);
        h->qemu_log = g_build_filename(h->dir, "qemu.log", NULL);
}

/* Stops its QEMU (the environment's teardown knows only hosts A and B) and
 * frees what it owns. */
static void
local_destination_clear(MigHost *h)
{
        if (h->qemu_pid > 0) {
                kill(h->qemu_pid, SIGTERM);
                for (int i = 0; i < 500 && mig_host_qemu_alive(h); i++)
                        g_usleep(10000);
                if (mig_host_qemu_alive(h)) {
                        kill(h->qemu_pid, SIGKILL);
                        waitpid(h->qemu_pid, NULL, 0);
                }
        }
        g_free(h->dir);
        g_free(h->qmp_path);
        g_free(h->test_qmp_path);
        g_free(h->serial_log);
        g_free(h->qemu_log);
        g_free(h->tap);
        g_free(h->device_path);
        g_free(h->instance_path);
        memset(h, 0, sizeof *h);
}

gboolean
mig_run(MigEnv *env, const MigRunConfig *config, MigRun *run, GError **error)
{
        Ctx ctx = { env, config, run, NULL, &the_watch };
        g_autoptr(GError) local = NULL;
        gboolean ok;

        g_mutex_lock(&the_watch.lock);
        g_clear_pointer(&the_watch.device_path, g_free);
        g_clear_pointer(&the_watch.device2_path, g_free);
        g_clear_pointer(&the_watch.instance_path, g_free);
        for (guint i = 0; the_watch.changes && i < the_watch.changes->len; i++)
                g_free(g_array_index(the_watch.changes, MigChange, i).what);
        g_clear_pointer(&the_watch.changes, g_array_unref);
        the_watch.changes = g_array_new(FALSE, FALSE, sizeof(MigChange));
        g_mutex_unlock(&the_watch.lock);
        /* Two forward delays, twice over for a loaded machine, plus slack. */
        ctx.port_timeout_ms = env->forward_delay_cs * 40 + 10000;
        ctx.dst = &env->host[1];
        ctx.dst_instance = MIG_INSTANCE_NAME;
        ctx.dst_tap = MIG_TAP_B;
        ctx.uri = MIG_MIGRATION_URI;
        if (config->local) {
                local_destination(env, &ctx.local);
                ctx.dst = &ctx.local;
                ctx.dst_instance = MIG_LOCAL_INSTANCE;
                ctx.dst_tap = config->share_queues ? MIG_TAP_A : MIG_TAP_LOCAL;
                ctx.uri = MIG_LOCAL_URI;
        }
        ok = check_prerequisites(env, config, run, &local) && run_steps(&ctx, &local);
        if (config->share_queues) {
                run->old_queue_attached = mig_qemu_queue_attached(env->host[0].qemu_pid);
                run->new_queue_attached = mig_qemu_queue_attached(ctx.dst->qemu_pid);
        }
        collect(&ctx);
        /* Before the local destination's QEMU is stopped: once it is gone,
         * the daemon deactivates its devices (the MAC must not stay with a
         * QEMU that ended). */
        if (ctx.dst->device_path) {
                g_autoptr(GVariant) state =
                        mig_get(ctx.dst, ctx.dst->device_path, MIG_DEVICE, "State", NULL);

                run->dst_final_state = g_strdup(state ? g_variant_get_string(state, NULL) : "");
        }
        if (config->local)
                local_destination_clear(&ctx.local);
        run->completed = ok;
        if (!ok) {
                run->failure = g_strdup(local->message);
                g_propagate_error(error, g_steal_pointer(&local));
        }
        if (ctx.probe)
                mig_probe_free(ctx.probe);
        return ok;
}

void
mig_run_clear(MigRun *run)
{
        g_free(run->failure);
        g_free(run->vcpu_blocktime_ms);
        g_free(run->final_phase);
        g_free(run->src_path);
        g_free(run->dst_path);
        g_free(run->qemu_version);
        g_free(run->phases);
        g_clear_pointer(&run->src_timeline, g_variant_unref);
        g_clear_pointer(&run->dst_timeline, g_variant_unref);
        g_clear_pointer(&run->src_guest, g_variant_unref);
        g_clear_pointer(&run->dst_guest, g_variant_unref);
        g_clear_pointer(&run->sent, g_array_unref);
        g_clear_pointer(&run->replies, g_array_unref);
        g_clear_pointer(&run->captures[0], g_array_unref);
        g_clear_pointer(&run->captures[1], g_array_unref);
        g_clear_pointer(&run->samples, g_array_unref);
        for (guint i = 0; run->changes && i < run->changes->len; i++)
                g_free(g_array_index(run->changes, MigChange, i).what);
        g_clear_pointer(&run->changes, g_array_unref);
        g_free(run->dst_final_state);
        g_free(run->serial[0]);
        g_free(run->serial[1]);
        memset(run, 0, sizeof *run);
}

/* ---- the network plane ---- */

static gint
by_time(gconstpointer x, gconstpointer y)
{
        gint64 a = ((const MigArrival *) x)->at, b = ((const MigArrival *) y)->at;

        return a < b ? -1 : a > b;
}

gint64
mig_largest_gap(GArray *a, gint64 from, gint64 to, gint64 *gap_start)
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

void
mig_run_blackout(const MigRun *run, MigBlackout *b)
{
        g_autoptr(GArray) running = g_array_new(FALSE, FALSE, sizeof(MigArrival));
        g_autoptr(GHashTable) reached = g_hash_table_new(NULL, NULL);
        gint64 send_gap_start = 0;

        memset(b, 0, sizeof *b);
        for (guint i = 0; i < run->captures[0]->len; i++)
                if (g_array_index(run->captures[0], MigArrival, i).at < run->stop_at)
                        g_array_append_val(running, g_array_index(run->captures[0], MigArrival, i));
        for (guint i = 0; i < run->captures[1]->len; i++)
                if (g_array_index(run->captures[1], MigArrival, i).at >= run->resume_at) {
                        g_array_append_val(running, g_array_index(run->captures[1], MigArrival, i));
                        b->after_resume++;
                }
        g_array_sort(running, by_time);
        for (guint i = 0; i < running->len; i++)
                g_hash_table_add(reached,
                                 GUINT_TO_POINTER(g_array_index(running, MigArrival, i).seq + 1));
        /* Requests sent from the start until shortly before the probes ended
         * (the last 50 ms may still be on their way). */
        for (guint i = 0; i < run->sent->len; i++) {
                MigArrival *x = &g_array_index(run->sent, MigArrival, i);

                if (x->at < run->migrate_at || x->at > run->probe_end - 50000)
                        continue;
                b->sent++;
                b->lost += !g_hash_table_contains(reached, GUINT_TO_POINTER(x->seq + 1));
        }
        b->blackout = mig_largest_gap(running, run->migrate_at, run->probe_end, &b->gap_start);
        b->switch_gap = gap_across(running, run->stop_at);
        b->send_gap = mig_largest_gap(run->sent, run->migrate_at, run->probe_end, &send_gap_start);
}
