/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "nlc-authz.h"
#include "nlc-device.h"
#include "nlc-error.h"
#include "nlc-journal.h"
#include "nlc-migration-gate.h"
#include "nlc-migration-options.h"
#include "nlc-migration-phase.h"
#include "nlc-migration.h"
#include "nlc-qmp-commands.h"
#include "nlc-readiness.h"
#include "nlc-remote-instance.h"

struct _NlcMigration {
        NlcDbusMigrationSkeleton parent;
        NlcMigrationRole role;
        char *id;
        char *object_path;
        GVariant *options;   /* as the caller gave them: journalled */
        NlcJournal *journal; /* NULL: not journalled (unit tests of one step) */
        gulong connected_id;
        char *uri;
        NlcInstance *instance;
        NlcQmp *qmp;
        NlcMigrationOptions opt;
        NlcMigrationPhase phase;
        guint64 refused; /* events the phase table refused, by bit: warned once */
        GCancellable *cancel;
        gulong event_id;
        /* readiness of the destination */
        NlcInstance *local_destination;
        gulong local_ready_id;
        NlcRemoteInstance *remote;
        gulong local_macs_id;
        /* The guest's NICs (lower-case MACs of its devices that existed in
         * the kernel at Migrate): the destination is ready only when it
         * holds a ready device for each. */
        GStrv guest_macs;
        gboolean destination_ready;
        /* the switch and the hold at pre-switchover (nlc-migration-gate.h) */
        NlcGateState gate;
        guint readiness_timeout_id;
        /* on-stall */
        guint64 last_remaining;
        guint stalled_passes;
        /* The devices of the running guest when the migration started: the
         * ones release-source frees (not a localhost destination's). */
        GStrv source_devices;
        /* PrepareIncoming's call, answered once QEMU listens (or fails). */
        GDBusMethodInvocation *listening_reply;
        /* The guest has a port profile: at pre-switchover the destination
         * associates it (Instance.AssociatePortProfiles) and only its
         * success lets QEMU go on; the switch itself waits for the ports
         * alone (the hold comes after migrate-start-postcopy). */
        gboolean profile_hold;
        gboolean associating, associated;
        char *association_error;
        /* Migrate or PrepareIncoming right after AttachQemu: the monitor's
         * connection may still be coming; the start waits for it. */
        guint connect_wait_id;
};

/* How long a new migration waits for the QEMU monitor's connection. */
#define CONNECT_WAIT_MS 5000

static void nlc_migration_iface_init(NlcDbusMigrationIface *iface);

G_DEFINE_TYPE_WITH_CODE(NlcMigration, nlc_migration, NLC_DBUS_TYPE_MIGRATION_SKELETON,
                        G_IMPLEMENT_INTERFACE(NLC_DBUS_TYPE_MIGRATION, nlc_migration_iface_init))

/* ---- phase funnel, timeline ----------------------------------------- */

static void persist(NlcMigration *self);

static void
record(NlcMigration *self, const char *what)
{
        GVariant *old = nlc_dbus_migration_get_timeline(NLC_DBUS_MIGRATION(self));
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE("a(st)"));
        for (gsize i = 0; old && i < g_variant_n_children(old); i++) {
                g_autoptr(GVariant) entry = g_variant_get_child_value(old, i);

                g_variant_builder_add_value(&b, entry);
        }
        g_variant_builder_add(&b, "(st)", what, (guint64) g_get_real_time());
        nlc_dbus_migration_set_timeline(NLC_DBUS_MIGRATION(self), g_variant_builder_end(&b));
        g_dbus_interface_skeleton_flush(G_DBUS_INTERFACE_SKELETON(self));
        persist(self);
}

static void stop_following(NlcMigration *self);

/* Answers a pending PrepareIncoming: the migration's path once QEMU listens
 * (migrate-incoming returns after it bound the socket), else why not. */
static void
answer_listening(NlcMigration *self)
{
        GDBusMethodInvocation *invocation = g_steal_pointer(&self->listening_reply);

        if (!invocation)
                return;
        if (self->phase == NLC_MIGRATION_PHASE_INCOMING)
                g_dbus_method_invocation_return_value(invocation,
                                                      g_variant_new("(o)", self->object_path));
        else
                g_dbus_method_invocation_return_error(
                        invocation, NLC_ERROR, NLC_ERROR_FAILED, "migration %s %s: %s",
                        self->object_path, nlc_migration_phase_to_string(self->phase),
                        nlc_dbus_migration_get_error(NLC_DBUS_MIGRATION(self)));
}

void
nlc_migration_reply_when_listening(NlcMigration *self, GDBusMethodInvocation *invocation)
{
        g_return_if_fail(self->role == NLC_MIGRATION_DESTINATION && !self->listening_reply);
        self->listening_reply = invocation; /* answering it drops the reference */
        if (self->phase == NLC_MIGRATION_PHASE_INCOMING || nlc_phase_is_final(self->phase))
                answer_listening(self);
}

/* The events the table refused are warned of once, by bit. */
G_STATIC_ASSERT(NLC_PHASE_EV_LAST < 64);

/* What @event does in the current phase (nlc-migration-phase.c), the phase
 * it leads to in *@next (may be NULL). A refusal is logged: a final phase
 * ignores late replies quietly, anything else is warned of once. */
static NlcPhaseStep
phase_step(NlcMigration *self, NlcPhaseEvent event, NlcMigrationPhase *next)
{
        NlcPhaseStep step = nlc_phase_next(self->role, self->phase, event, next);

        if (step != NLC_PHASE_REFUSE)
                return step;
        if (nlc_phase_is_final(self->phase) || (self->refused & (1ull << event)))
                g_debug("migration %s: %s ignored in %s", self->object_path,
                        nlc_phase_event_to_string(event),
                        nlc_migration_phase_to_string(self->phase));
        else
                g_warning("migration %s (%s): %s makes no sense in phase %s; ignored",
                          self->object_path, nlc_migration_role_to_string(self->role),
                          nlc_phase_event_to_string(event),
                          nlc_migration_phase_to_string(self->phase));
        self->refused |= 1ull << event;
        return step;
}

/* Method calls ask the table too; the caller's error says why, no log. */
static gboolean
phase_allows(NlcMigration *self, NlcPhaseEvent event)
{
        return nlc_phase_next(self->role, self->phase, event, NULL) != NLC_PHASE_REFUSE;
}

/* Every phase change goes through here (STYLE 4): the table's row for
 * @event, then log, property, flush, signal, journal. */
static void
set_phase(NlcMigration *self, NlcPhaseEvent event)
{
        const char *old = nlc_migration_phase_to_string(self->phase);
        const char *new;
        NlcMigrationPhase next;

        if (phase_step(self, event, &next) != NLC_PHASE_MOVE)
                return;
        new = nlc_migration_phase_to_string(next);
        g_message("migration %s (%s %s): %s -> %s (%s)", self->object_path,
                  nlc_instance_get_name(self->instance), nlc_migration_role_to_string(self->role),
                  old, new, nlc_phase_event_to_string(event));
        self->phase = next;
        nlc_dbus_migration_set_phase(NLC_DBUS_MIGRATION(self), new);
        g_dbus_interface_skeleton_flush(G_DBUS_INTERFACE_SKELETON(self));
        nlc_dbus_migration_emit_phase_changed(NLC_DBUS_MIGRATION(self), old, new);
        persist(self);
        if (next == NLC_MIGRATION_PHASE_INCOMING || nlc_phase_is_final(next))
                answer_listening(self);
        if (nlc_phase_is_final(next))
                stop_following(self);
}

static void fail_by(NlcMigration *self, NlcPhaseEvent event, const char *fmt, ...)
        G_GNUC_PRINTF(3, 4);
/* The driver gives up: QEMU refused a step, a timeout, a lost migration. */
#define fail(self, ...) fail_by(self, NLC_PHASE_EV_ERROR, __VA_ARGS__)

/* Failed by @event, saying why: Error and the timeline first. */
static void
fail_by(NlcMigration *self, NlcPhaseEvent event, const char *fmt, ...)
{
        g_autofree char *msg = NULL;
        va_list ap;

        if (phase_step(self, event, NULL) != NLC_PHASE_MOVE)
                return;
        va_start(ap, fmt);
        msg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        g_message("migration %s: %s", self->object_path, msg);
        nlc_dbus_migration_set_error(NLC_DBUS_MIGRATION(self), msg);
        record(self, "failed");
        set_phase(self, event);
}

/* ---- the switch ------------------------------------------------------- */

static NlcGateAction gate_event(NlcMigration *self, NlcGateEvent event);

static void
on_postcopy_started(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) reply = nlc_qmp_command_finish(NLC_QMP(source), result, &error);
        NlcMigration *self;

        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                return;
        self = data;
        if (!reply) {
                /* QEMU refuses when pre-copy finished first: the events say. */
                g_message("migration %s: migrate-start-postcopy: %s", self->object_path,
                          error->message);
                gate_event(self, NLC_GATE_EV_REFUSED);
                return;
        }
        set_phase(self, NLC_PHASE_EV_SWITCH_ACCEPTED);
}

static gboolean on_readiness_timeout(gpointer data);

/* The wait for the destination is bounded: armed when the policy fires and
 * when QEMU pauses at pre-switchover, whichever comes first. */
static void
arm_readiness_timeout(NlcMigration *self)
{
        if (!self->readiness_timeout_id && !self->destination_ready &&
            self->opt.readiness_timeout_ms)
                self->readiness_timeout_id =
                        g_timeout_add(self->opt.readiness_timeout_ms, on_readiness_timeout, self);
}

static void
disarm_readiness_timeout(NlcMigration *self)
{
        if (self->readiness_timeout_id)
                g_source_remove(self->readiness_timeout_id);
        self->readiness_timeout_id = 0;
}

static void
on_cancel_sent(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) reply = nlc_qmp_command_finish(NLC_QMP(source), result, &error);

        if (!reply && !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                g_message("migrate_cancel: %s", error->message);
}

/* The reply to one step of the sequence, or NULL: then the migration has
 * failed with QEMU's error, or was cancelled (and @data may be gone). */
static JsonNode *
finish_step(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(GError) error = NULL;
        JsonNode *reply = nlc_qmp_command_finish(NLC_QMP(source), result, &error);

        if (!reply && !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                fail(data, "%s", error->message);
        return reply;
}

static void
on_continued(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(JsonNode) reply = finish_step(source, result, data);
}

/* Cancel(): no timeout may fire after it; QEMU's "cancelled" ends it. */
static void
request_cancel(NlcMigration *self)
{
        disarm_readiness_timeout(self);
        record(self, "cancel-requested");
        nlc_qmp_migrate_cancel(self->qmp, NULL, on_cancel_sent, NULL);
}

/* Why the destination is not ready, in words, for the Error and the log:
 * which of the guest's NICs it lacks and why (a port STP blocks, a bridge
 * gone, a NIC with no device there), or why it cannot be asked. */
static char *
destination_why(NlcMigration *self)
{
        const char *const *guest = (const char *const *) self->guest_macs;
        g_auto(GStrv) ready = NULL;
        g_autoptr(GVariant) not_ready = NULL;

        if (self->association_error)
                return g_strdup(self->association_error);
        if (self->remote)
                return nlc_remote_instance_why_not_ready(self->remote, guest);
        if (!self->local_destination)
                return g_strdup(self->opt.readiness == NLC_READINESS_COORDINATED
                                        ? "the coordinator did not call DestinationReady()"
                                        : "no destination instance to read");
        ready = nlc_instance_dup_ready_macs(self->local_destination);
        not_ready = nlc_instance_dup_not_ready(self->local_destination);
        return nlc_describe_not_ready(guest, (const char *const *) ready, not_ready);
}

/* The readiness timeout before the switch: fail, or stay pre-copy (the
 * source still holds the MAC, nothing is lost). */
static void
fall_back(NlcMigration *self)
{
        g_autofree char *why = NULL;

        if (!self->opt.fallback_fail &&
            phase_step(self, NLC_PHASE_EV_FALLBACK, NULL) == NLC_PHASE_REFUSE)
                return;
        record(self, "readiness-timeout");
        why = destination_why(self);
        if (self->opt.fallback_fail) {
                nlc_qmp_migrate_cancel(self->qmp, NULL, on_cancel_sent, NULL);
                fail(self, "the destination was not ready within %u ms (%s)",
                     self->opt.readiness_timeout_ms, why);
                return;
        }
        g_message("migration %s: destination not ready within %u ms (%s); staying pre-copy",
                  self->object_path, self->opt.readiness_timeout_ms, why);
        set_phase(self, NLC_PHASE_EV_FALLBACK);
}

/* The readiness timeout while QEMU holds the guest at pre-switchover (the
 * guest stopped, its devices deactivated). Pre-copy cannot go on past this
 * point, so both fallbacks cancel: QEMU resumes the guest on the source,
 * whose devices take the MAC back at the RESUME. */
static void
give_up_at_pre_switchover(NlcMigration *self)
{
        g_autofree char *why = destination_why(self);
        g_autofree char *error = NULL;

        record(self, "readiness-timeout");
        nlc_qmp_migrate_cancel(self->qmp, NULL, on_cancel_sent, NULL);
        if (self->opt.fallback_fail) {
                fail(self,
                     "the destination was not ready within %u ms at the switchover (%s): "
                     "cancelled, the guest runs on the source again",
                     self->opt.readiness_timeout_ms, why);
                return;
        }
        /* QEMU's "cancelled" ends the migration. */
        error = g_strdup_printf("the destination was not ready at the switchover (%s): pre-copy "
                                "cannot go on past it, so the migration was cancelled and the "
                                "guest runs on the source again",
                                why);
        nlc_dbus_migration_set_error(NLC_DBUS_MIGRATION(self), error);
        g_message("migration %s: destination not ready within %u ms at pre-switchover (%s); "
                  "cancelled",
                  self->object_path, self->opt.readiness_timeout_ms, why);
}

/*
 * Every decision about the switch and the hold goes through here: the
 * gate's table (nlc-migration-gate.c) says what @event does in the current
 * state, the destination being ready or not, and this does it. The new
 * state is in place before the action runs, so the journal write the action
 * makes (record) already says, e.g., that the switch went out.
 */
static void associate_destination(NlcMigration *self);

static gboolean
is_held(NlcGateState gate)
{
        return gate == NLC_GATE_HELD || gate == NLC_GATE_HELD_SWITCHING;
}

static NlcGateAction
gate_event(NlcMigration *self, NlcGateEvent event)
{
        NlcGateState old = self->gate;
        NlcGateAction action;
        gboolean ready = self->destination_ready;

        if (self->role != NLC_MIGRATION_SOURCE || nlc_phase_is_final(self->phase))
                return NLC_GATE_DO_NOTHING;
        /* Letting QEMU go on from the hold also needs the destination's
         * port profiles associated. */
        if (self->profile_hold && (is_held(old) || event == NLC_GATE_EV_PRE_SWITCHOVER))
                ready = ready && self->associated;
        action = nlc_gate_next(old, event, ready, &self->gate);
        if (action != NLC_GATE_DO_NOTHING || self->gate != old)
                g_debug("migration %s: gate %s + %s -> %s, %s", self->object_path,
                        nlc_gate_state_to_string(old), nlc_gate_event_to_string(event),
                        nlc_gate_state_to_string(self->gate), nlc_gate_action_to_string(action));
        if ((event == NLC_GATE_EV_POLICY || event == NLC_GATE_EV_MANUAL) &&
            (action == NLC_GATE_DO_WAIT || action == NLC_GATE_DO_SWITCH))
                record(self, event == NLC_GATE_EV_MANUAL ? "postcopy-requested-by-caller"
                                                         : "policy-fired");
        switch (action) {
        case NLC_GATE_DO_WAIT:
                arm_readiness_timeout(self);
                set_phase(self, NLC_PHASE_EV_WAIT);
                break;
        case NLC_GATE_DO_SWITCH:
                disarm_readiness_timeout(self);
                record(self, "postcopy-switch");
                nlc_qmp_migrate_start_postcopy(self->qmp, self->cancel, on_postcopy_started, self);
                break;
        case NLC_GATE_DO_FALLBACK:
                fall_back(self);
                break;
        case NLC_GATE_DO_HOLD:
                arm_readiness_timeout(self);
                break;
        case NLC_GATE_DO_CONTINUE:
                /* The hard gate: the pause it costs is the time between
                 * "pre-switchover" and "switchover-continue". */
                disarm_readiness_timeout(self);
                record(self, "switchover-continue");
                nlc_qmp_migrate_continue(self->qmp, "pre-switchover", self->cancel, on_continued,
                                         self);
                break;
        case NLC_GATE_DO_GIVE_UP:
                give_up_at_pre_switchover(self);
                break;
        case NLC_GATE_DO_CANCEL:
                request_cancel(self);
                break;
        case NLC_GATE_DO_NOTHING:
        case NLC_GATE_DO_REFUSE:
        default:
                if (self->gate != old)
                        persist(self);
                break;
        }
        if (self->profile_hold && is_held(self->gate) && self->destination_ready &&
            !self->associated && !self->associating)
                associate_destination(self);
        return action;
}

static void
on_destination_associated(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(NlcMigration) self = data;
        g_autoptr(GError) error = NULL;
        gboolean ok = self->remote
                              ? nlc_remote_instance_associate_finish(result, &error)
                              : nlc_instance_associate_finish(NLC_INSTANCE(source), result, &error);

        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                return;
        self->associating = FALSE;
        if (ok) {
                self->associated = TRUE;
                record(self, "destination-associated");
                gate_event(self, NLC_GATE_EV_READY);
                return;
        }
        g_free(self->association_error);
        self->association_error =
                g_strdup_printf("its port profile was not associated: %s", error->message);
        record(self, "destination-association-failed");
        g_message("migration %s: %s", self->object_path, self->association_error);
        /* At the hold: cancel, the guest runs on the source again. */
        gate_event(self, NLC_GATE_EV_TIMEOUT);
}

/* QEMU holds the source at pre-switchover and the destination's ports are
 * ready: now, and not before, the destination's profile may take the VSI
 * from the source's port (tests/lldpad/README.md 9.1). */
static void
associate_destination(NlcMigration *self)
{
        if (!self->remote && !self->local_destination)
                return; /* coordinated: the coordinator associates, DestinationReady says so */
        self->associating = TRUE;
        record(self, "destination-associating");
        if (self->remote)
                nlc_remote_instance_associate_async(self->remote, self->cancel,
                                                    on_destination_associated, g_object_ref(self));
        else
                nlc_instance_associate_async(self->local_destination, on_destination_associated,
                                             g_object_ref(self));
}

static gboolean
on_readiness_timeout(gpointer data)
{
        NlcMigration *self = data;

        self->readiness_timeout_id = 0;
        gate_event(self, NLC_GATE_EV_TIMEOUT);
        return G_SOURCE_REMOVE;
}

/* The policy says switch (or the caller does, @manual): the gate decides. */
static void
fire_policy(NlcMigration *self, gboolean manual)
{
        if (!manual && self->opt.policy == NLC_POSTCOPY_NEVER)
                return;
        gate_event(self, manual ? NLC_GATE_EV_MANUAL : NLC_GATE_EV_POLICY);
}

/* Every readiness source ends here. Turning un-ready before the switch
 * holds the gate again: the gate's table only switches when ready. */
static void
set_destination_ready(NlcMigration *self, gboolean ready)
{
        if (ready == self->destination_ready)
                return;
        self->destination_ready = ready;
        nlc_dbus_migration_set_destination_ready(NLC_DBUS_MIGRATION(self), ready);
        g_dbus_interface_skeleton_flush(G_DBUS_INTERFACE_SKELETON(self));
        record(self, ready ? "destination-ready" : "destination-not-ready");
        gate_event(self, ready ? NLC_GATE_EV_READY : NLC_GATE_EV_UNREADY);
}

static void
on_local_changed(NlcInstance *destination, gpointer data)
{
        NlcMigration *self = data;
        g_auto(GStrv) macs = nlc_instance_dup_ready_macs(destination);

        set_destination_ready(self, nlc_destination_covers((const char *const *) self->guest_macs,
                                                           (const char *const *) macs,
                                                           nlc_instance_get_ready(destination)));
}

static void
on_local_ready(GObject *object, GParamSpec *pspec, gpointer data)
{
        on_local_changed(NLC_INSTANCE(object), data);
}

static void
on_remote_ready(gboolean ready, const char *const *ready_macs, gpointer data)
{
        NlcMigration *self = data;

        set_destination_ready(
                self, ready_macs && nlc_destination_covers((const char *const *) self->guest_macs,
                                                           ready_macs, ready));
}

/* ---- following QEMU -------------------------------------------------- */

/* The guest runs on the destination now: the source's devices go. */
static void
release_source(NlcMigration *self)
{
        GPtrArray *devices = nlc_instance_get_devices(self->instance);
        g_autoptr(GPtrArray) mine = g_ptr_array_new_with_free_func(g_object_unref);

        for (guint i = 0; i < devices->len; i++)
                if (self->source_devices &&
                    g_strv_contains((const char *const *) self->source_devices,
                                    nlc_device_get_id(devices->pdata[i])))
                        g_ptr_array_add(mine, g_object_ref(devices->pdata[i]));
        for (guint i = 0; i < mine->len; i++) {
                g_autoptr(GError) error = NULL;

                if (!nlc_device_release(mine->pdata[i], &error))
                        g_message("migration %s: cannot release source device %s: %s",
                                  self->object_path, nlc_device_get_id(mine->pdata[i]),
                                  error->message);
        }
        record(self, "source-released");
}

static guint64
remaining_bytes(JsonNode *reply)
{
        JsonObject *o = reply && JSON_NODE_HOLDS_OBJECT(reply) ? json_node_get_object(reply) : NULL;
        JsonObject *ram = o && json_object_has_member(o, "ram")
                                  ? json_object_get_object_member(o, "ram")
                                  : NULL;

        return ram ? (guint64) json_object_get_int_member_with_default(ram, "remaining", 0) : 0;
}

static void
on_pass_progress(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) reply = nlc_qmp_command_finish(NLC_QMP(source), result, &error);
        NlcMigration *self;
        guint64 remaining;

        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                return;
        self = data;
        if (!reply)
                return;
        remaining = remaining_bytes(reply);
        nlc_dbus_migration_set_remaining_bytes(NLC_DBUS_MIGRATION(self), remaining);
        g_dbus_interface_skeleton_flush(G_DBUS_INTERFACE_SKELETON(self));
        if (self->opt.policy != NLC_POSTCOPY_ON_STALL)
                return;
        /* Pre-copy converges while each pass leaves less behind. */
        if (self->last_remaining && remaining >= self->last_remaining)
                self->stalled_passes++;
        else
                self->stalled_passes = 0;
        self->last_remaining = remaining;
        if (self->stalled_passes >= self->opt.stall_passes)
                fire_policy(self, FALSE);
}

static void
on_pass(NlcMigration *self, guint pass)
{
        g_autofree char *what = g_strdup_printf("pass-%u", pass);

        nlc_dbus_migration_set_pass(NLC_DBUS_MIGRATION(self), pass);
        record(self, what);
        if (self->role != NLC_MIGRATION_SOURCE)
                return;
        nlc_qmp_query_migrate(self->qmp, self->cancel, on_pass_progress, self);
        /* MIGRATION_PASS n starts pass n: pass n-1 was full. */
        if (self->opt.policy == NLC_POSTCOPY_AFTER_PRECOPY && pass > self->opt.precopy_passes)
                fire_policy(self, FALSE);
}

static void
on_final_stats(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) reply = nlc_qmp_command_finish(NLC_QMP(source), result, &error);
        JsonObject *o = reply && JSON_NODE_HOLDS_OBJECT(reply) ? json_node_get_object(reply) : NULL;
        NlcMigration *self;

        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                return;
        self = data;
        if (phase_step(self, NLC_PHASE_EV_DONE, NULL) == NLC_PHASE_REFUSE)
                return;
        if (o)
                nlc_dbus_migration_set_downtime(
                        NLC_DBUS_MIGRATION(self),
                        (guint64) json_object_get_int_member_with_default(o, "downtime", 0));
        record(self, "completed");
        if (self->opt.release_source)
                release_source(self);
        set_phase(self, NLC_PHASE_EV_DONE);
}

static void
on_failure_stats(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) reply = nlc_qmp_command_finish(NLC_QMP(source), result, &error);
        JsonObject *o = reply && JSON_NODE_HOLDS_OBJECT(reply) ? json_node_get_object(reply) : NULL;

        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                return;
        fail(data, "QEMU: %s",
             o ? json_object_get_string_member_with_default(o, "error-desc", "migration failed")
               : "migration failed");
}

static void
on_status(NlcMigration *self, const char *status)
{
        NlcPhaseEvent event;
        NlcPhaseStep step;

        if (!nlc_phase_event_from_status(status, &event)) {
                g_message("migration %s: QEMU status '%s' is newer than this daemon; ignored",
                          self->object_path, status);
                return;
        }
        step = phase_step(self, event, NULL);
        if (step == NLC_PHASE_REFUSE)
                return;
        /* QEMU left the pause on its own (cancelled, failed). */
        if (event != NLC_PHASE_EV_PRE_SWITCHOVER)
                gate_event(self, NLC_GATE_EV_RELEASED);
        switch (event) {
        case NLC_PHASE_EV_NONE:
                fail_by(self, event, "QEMU has no migration any more (was it restarted?)");
                return;
        case NLC_PHASE_EV_SETUP:
        case NLC_PHASE_EV_ACTIVE:
                /* A destination restored in setup: migrate-incoming went out
                 * before the restart. */
                if (self->role == NLC_MIGRATION_DESTINATION && step == NLC_PHASE_MOVE)
                        record(self, "incoming");
                break;
        case NLC_PHASE_EV_POSTCOPY_ACTIVE:
                if (step == NLC_PHASE_MOVE)
                        record(self, "postcopy-active");
                break;
        case NLC_PHASE_EV_POSTCOPY_PAUSED:
                record(self, "postcopy-paused");
                break;
        case NLC_PHASE_EV_PRE_SWITCHOVER:
                record(self, "pre-switchover");
                gate_event(self, NLC_GATE_EV_PRE_SWITCHOVER);
                break;
        case NLC_PHASE_EV_COMPLETED:
                if (self->role == NLC_MIGRATION_SOURCE) {
                        nlc_qmp_query_migrate(self->qmp, self->cancel, on_final_stats, self);
                        return;
                }
                record(self, "completed");
                break;
        case NLC_PHASE_EV_FAILED:
                if (self->role == NLC_MIGRATION_SOURCE)
                        nlc_qmp_query_migrate(self->qmp, self->cancel, on_failure_stats, self);
                else
                        fail_by(self, event, "QEMU reports the incoming migration failed");
                return;
        case NLC_PHASE_EV_CANCELLED:
                record(self, "cancelled");
                break;
        default:
                break;
        }
        set_phase(self, event);
}

static void
on_event(NlcQmp *qmp, const char *name, JsonObject *data, gint64 timestamp, gpointer user_data)
{
        NlcMigration *self = user_data;

        if (g_str_equal(name, "MIGRATION") && data)
                on_status(self, json_object_get_string_member_with_default(data, "status", ""));
        else if (g_str_equal(name, "MIGRATION_PASS") && data)
                on_pass(self, (guint) json_object_get_int_member_with_default(data, "pass", 0));
        else if (g_str_equal(name, "STOP") && self->role == NLC_MIGRATION_SOURCE &&
                 self->phase != NLC_MIGRATION_PHASE_SETUP)
                record(self, "source-stop");
        else if (g_str_equal(name, "RESUME") && self->role == NLC_MIGRATION_DESTINATION)
                record(self, "destination-resume");
}

static void unwatch_local_destination(NlcMigration *self);

static void
stop_following(NlcMigration *self)
{
        if (self->event_id)
                g_signal_handler_disconnect(self->qmp, self->event_id);
        self->event_id = 0;
        if (self->connected_id)
                g_signal_handler_disconnect(self->qmp, self->connected_id);
        self->connected_id = 0;
        disarm_readiness_timeout(self);
        unwatch_local_destination(self);
        g_clear_pointer(&self->remote, nlc_remote_instance_free);
        if (self->connect_wait_id)
                g_source_remove(self->connect_wait_id);
        self->connect_wait_id = 0;
}

/* ---- start: probe, capabilities, parameters, migrate ------------------ */

static void
on_started(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(JsonNode) reply = finish_step(source, result, data);
        NlcMigration *self = data;
        NlcPhaseStep step;

        if (!reply || (step = phase_step(self, NLC_PHASE_EV_STARTED, NULL)) == NLC_PHASE_REFUSE)
                return;
        if (self->role == NLC_MIGRATION_SOURCE)
                record(self, "migrate");
        else if (step == NLC_PHASE_MOVE) /* QEMU's "setup" event may have said so already */
                record(self, "incoming");
        set_phase(self, NLC_PHASE_EV_STARTED);
        if (self->role == NLC_MIGRATION_SOURCE && self->opt.policy == NLC_POSTCOPY_IMMEDIATE)
                fire_policy(self, FALSE);
}

static void
run_migrate(NlcMigration *self)
{
        if (self->role == NLC_MIGRATION_SOURCE)
                nlc_qmp_migrate(self->qmp, self->uri, self->cancel, on_started, self);
        else
                nlc_qmp_migrate_incoming(self->qmp, self->uri, self->cancel, on_started, self);
}

static void
on_parameters(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(JsonNode) reply = finish_step(source, result, data);

        if (reply)
                run_migrate(data);
}

static void
on_capabilities(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(JsonNode) reply = finish_step(source, result, data);
        NlcMigration *self = data;

        if (!reply)
                return;
        if (self->role == NLC_MIGRATION_SOURCE && self->opt.max_bandwidth) {
                JsonObject *params = json_object_new();

                json_object_set_int_member(params, "max-bandwidth",
                                           (gint64) self->opt.max_bandwidth);
                nlc_qmp_migrate_set_parameters(self->qmp, params, self->cancel, on_parameters,
                                               self);
                return;
        }
        run_migrate(self);
}

static gboolean
wants_postcopy(NlcMigration *self)
{
        return self->role == NLC_MIGRATION_SOURCE ? self->opt.policy != NLC_POSTCOPY_NEVER
                                                  : self->opt.allow_postcopy;
}

static void
on_probed(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(NlcQmpProbe) probe = nlc_qmp_probe_finish(NLC_QMP(source), result, &error);
        NlcMigration *self;
        NlcQmpCapability caps[4];
        guint n = 0;

        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                return;
        self = data;
        if (!probe) {
                fail(self, "cannot probe QEMU: %s", error->message);
                return;
        }
        /* Both exist since QEMU 2.x; probed, not assumed. */
        if (!nlc_qmp_probe_has(probe, "events") ||
            (wants_postcopy(self) && !nlc_qmp_probe_has(probe, "postcopy-ram"))) {
                fail(self, "QEMU %u.%u does not offer the migration capabilities %s",
                     probe->version / 10000, probe->version / 100 % 100,
                     wants_postcopy(self) ? "events and postcopy-ram" : "events");
                return;
        }
        if (self->role == NLC_MIGRATION_SOURCE && self->opt.pause_before_switchover &&
            !nlc_qmp_probe_has(probe, "pause-before-switchover")) {
                fail(self, "QEMU %u.%u does not offer pause-before-switchover",
                     probe->version / 10000, probe->version / 100 % 100);
                return;
        }
        caps[n++] = (NlcQmpCapability){ "events", TRUE };
        caps[n++] = (NlcQmpCapability){ "postcopy-ram", wants_postcopy(self) };
        /* A separate channel for page faults, so they do not queue behind the
         * bulk stream (QEMU 8.0+). Both sides must agree: each daemon enables
         * it where its QEMU offers it, which holds when both run one version. */
        /* Set either way where QEMU offers them: a QEMU that was an earlier
         * migration's destination (or a cancelled source) still has them as
         * that one left them, and QEMU refuses preempt without postcopy-ram. */
        if (nlc_qmp_probe_has(probe, "postcopy-preempt")) {
                gboolean preempt = wants_postcopy(self) && self->opt.preempt;

                caps[n++] = (NlcQmpCapability){ "postcopy-preempt", preempt };
                if (preempt)
                        record(self, "preempt-enabled");
        }
        if (nlc_qmp_probe_has(probe, "pause-before-switchover"))
                caps[n++] = (NlcQmpCapability){ "pause-before-switchover",
                                                self->role == NLC_MIGRATION_SOURCE &&
                                                        self->opt.pause_before_switchover };
        nlc_qmp_migrate_set_capabilities(self->qmp, caps, n, self->cancel, on_capabilities, self);
}

static gboolean
on_connect_wait_over(gpointer data)
{
        NlcMigration *self = data;

        self->connect_wait_id = 0;
        fail(self, "QEMU's monitor did not connect within %u ms of the call (AttachQemu first)",
             CONNECT_WAIT_MS);
        return G_SOURCE_REMOVE;
}

/* Journals the URI first: a daemon restarted before migrate went out starts
 * the (idempotent) sequence again from it. */
void
nlc_migration_start(NlcMigration *self, const char *uri)
{
        if (self->uri != uri) {
                g_free(self->uri);
                self->uri = g_strdup(uri);
        }
        persist(self);
        if (!nlc_qmp_is_connected(self->qmp)) {
                self->connect_wait_id = g_timeout_add(CONNECT_WAIT_MS, on_connect_wait_over, self);
                return;
        }
        nlc_qmp_probe_async(self->qmp, self->cancel, on_probed, self);
}

/* ---- journal and resync ---------------------------------------------- */

#define GROUP "migration"

/*
 * Written on every timeline entry and phase change. The switch is journalled
 * before migrate-start-postcopy goes out; a restart that finds it recorded
 * while QEMU still runs pre-copy sends it again.
 */
static void
persist(NlcMigration *self)
{
        g_autoptr(GKeyFile) kf = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *options = NULL, *timeline = NULL;
        NlcDbusMigration *skel = NLC_DBUS_MIGRATION(self);

        if (!self->journal)
                return;
        if (nlc_phase_is_final(self->phase)) {
                if (!nlc_journal_remove_migration(self->journal, self->id, &error))
                        g_warning("%s", error->message);
                return;
        }
        kf = g_key_file_new();
        options = g_variant_print(self->options, TRUE);
        timeline = g_variant_print(nlc_dbus_migration_get_timeline(skel), TRUE);
        g_key_file_set_string(kf, GROUP, "id", self->id);
        g_key_file_set_string(kf, GROUP, "role", nlc_migration_role_to_string(self->role));
        g_key_file_set_string(kf, GROUP, "instance", nlc_instance_get_name(self->instance));
        g_key_file_set_string(kf, GROUP, "uri", self->uri ? self->uri : "");
        g_key_file_set_string(kf, GROUP, "options", options);
        g_key_file_set_string(kf, GROUP, "phase", nlc_migration_phase_to_string(self->phase));
        g_key_file_set_string(kf, GROUP, "gate",
                              nlc_gate_state_to_string(nlc_gate_decision(self->gate)));
        g_key_file_set_boolean(kf, GROUP, "destination-ready", self->destination_ready);
        g_key_file_set_uint64(kf, GROUP, "pass", nlc_dbus_migration_get_pass(skel));
        g_key_file_set_string(kf, GROUP, "timeline", timeline);
        if (self->guest_macs)
                g_key_file_set_string_list(kf, GROUP, "guest-macs",
                                           (const char *const *) self->guest_macs,
                                           g_strv_length(self->guest_macs));
        if (self->source_devices)
                g_key_file_set_string_list(kf, GROUP, "source-devices",
                                           (const char *const *) self->source_devices,
                                           g_strv_length(self->source_devices));
        if (!nlc_journal_write_migration(self->journal, self->id, kf, &error))
                g_warning("migration %s: not journalled: %s", self->object_path, error->message);
}

void
nlc_migration_set_journal(NlcMigration *self, NlcJournal *journal)
{
        self->journal = journal;
        persist(self);
}

/* Restarted in setup and QEMU has no migration: the old daemon died before
 * migrate (or migrate-incoming) reached QEMU. Every step is idempotent, so
 * run the sequence again; without a journalled URI there is nothing to run. */
static void
restart_setup(NlcMigration *self)
{
        if (!self->uri) {
                fail(self, "the daemon stopped before the migration started (no URI journalled)");
                return;
        }
        g_message("migration %s: QEMU has no migration yet; starting it again", self->object_path);
        record(self, "setup-restarted");
        nlc_migration_start(self, self->uri);
}

static void
on_resync(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) reply = nlc_qmp_command_finish(NLC_QMP(source), result, &error);
        JsonObject *o = reply && JSON_NODE_HOLDS_OBJECT(reply) ? json_node_get_object(reply) : NULL;
        NlcMigration *self;
        const char *status;

        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                return;
        self = data;
        if (!o)
                return; /* the next connection tries again */
        status = json_object_get_string_member_with_default(o, "status", "none");
        if (g_str_equal(status, "none") && self->phase == NLC_MIGRATION_PHASE_SETUP) {
                restart_setup(self);
                return;
        }
        on_status(self, status);
        if (self->role != NLC_MIGRATION_SOURCE || !g_str_equal(status, "active"))
                return;
        /* Restarted between migrate and its reply: "immediate" fires here. */
        if (self->opt.policy == NLC_POSTCOPY_IMMEDIATE && self->gate == NLC_GATE_IDLE)
                fire_policy(self, FALSE);
        /* The switch journalled while QEMU still runs pre-copy: maybe never
         * sent. Back to waiting, and through the gate again; not once QEMU
         * took it (postcopy-requested): it switches whatever the gate says. */
        if (self->gate == NLC_GATE_SENT && phase_allows(self, NLC_PHASE_EV_WAIT)) {
                self->gate = NLC_GATE_WAITING;
                g_message("migration %s: the switch was journalled but QEMU is still in "
                          "pre-copy: sending it again when the destination is ready",
                          self->object_path);
        }
        if (self->gate == NLC_GATE_WAITING) {
                arm_readiness_timeout(self);
                if (self->destination_ready)
                        gate_event(self, NLC_GATE_EV_READY);
                else
                        set_phase(self, NLC_PHASE_EV_WAIT);
        }
}

/* Events may have been missed while QEMU or the daemon was away: ask. */
static void
on_qmp_connected(NlcQmp *qmp, gpointer data)
{
        NlcMigration *self = data;

        if (self->connect_wait_id) {
                /* The start was waiting for this connection. */
                g_source_remove(self->connect_wait_id);
                self->connect_wait_id = 0;
                nlc_qmp_probe_async(self->qmp, self->cancel, on_probed, self);
                return;
        }
        if (!nlc_phase_is_final(self->phase))
                nlc_qmp_query_migrate(self->qmp, self->cancel, on_resync, self);
}

/* ---- D-Bus methods ---------------------------------------------------- */

gboolean
nlc_migration_start_postcopy(NlcMigration *self, GError **error)
{
        if (!phase_allows(self, NLC_PHASE_EV_START_POSTCOPY)) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_STATE,
                            "StartPostcopy needs a source migration in pre-copy (it is %s)",
                            nlc_migration_phase_to_string(self->phase));
                return FALSE;
        }
        if (self->opt.policy == NLC_POSTCOPY_NEVER) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_STATE,
                            "this migration runs with postcopy 'never': post-copy is off in QEMU");
                return FALSE;
        }
        fire_policy(self, TRUE);
        return TRUE;
}

gboolean
nlc_migration_destination_ready(NlcMigration *self, GError **error)
{
        if (self->role != NLC_MIGRATION_SOURCE ||
            self->opt.readiness != NLC_READINESS_COORDINATED) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_STATE,
                            "DestinationReady is for a source migration with readiness "
                            "'coordinated'");
                return FALSE;
        }
        /* With a port profile the coordinator has the destination associate
         * once QEMU holds here (Instance.AssociatePortProfiles), then says
         * so: a DestinationReady during the hold is that word. */
        if (self->profile_hold && is_held(self->gate) && !self->associated) {
                self->associated = TRUE;
                record(self, "destination-associated");
                if (self->destination_ready) {
                        gate_event(self, NLC_GATE_EV_READY);
                        return TRUE;
                }
        }
        set_destination_ready(self, TRUE);
        return TRUE;
}

gboolean
nlc_migration_cancel(NlcMigration *self, GError **error)
{
        if (nlc_phase_is_final(self->phase)) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_STATE, "the migration is over (%s)",
                            nlc_migration_phase_to_string(self->phase));
                return FALSE;
        }
        /* Once post-copy runs the guest may run on the destination; after
         * the switch went out the gate refuses too, except while QEMU holds
         * the guest at pre-switchover, where cancelling resumes it here. */
        if (!phase_allows(self, NLC_PHASE_EV_CANCEL) ||
            (self->role == NLC_MIGRATION_SOURCE &&
             gate_event(self, NLC_GATE_EV_CANCEL) != NLC_GATE_DO_CANCEL)) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_STATE,
                            "the guest already runs on the destination (post-copy): it cannot "
                            "come back");
                return FALSE;
        }
        /* The destination has no gate: its QEMU is told directly. */
        if (self->role == NLC_MIGRATION_DESTINATION)
                request_cancel(self);
        return TRUE;
}

#define DEFINE_ACTION_HANDLER(name)                                                              \
        static gboolean handle_##name(NlcDbusMigration *skel, GDBusMethodInvocation *invocation) \
        {                                                                                        \
                g_autoptr(GError) error = NULL;                                                  \
                if (!nlc_migration_##name(NLC_MIGRATION(skel), &error)) {                        \
                        g_dbus_method_invocation_return_gerror(invocation, error);               \
                        return G_DBUS_METHOD_INVOCATION_HANDLED;                                 \
                }                                                                                \
                nlc_dbus_migration_complete_##name(skel, invocation);                            \
                return G_DBUS_METHOD_INVOCATION_HANDLED;                                         \
        }

DEFINE_ACTION_HANDLER(start_postcopy)
DEFINE_ACTION_HANDLER(destination_ready)
DEFINE_ACTION_HANDLER(cancel)

static gboolean
refuse(GDBusMethodInvocation *invocation, NlcError code, const char *message)
{
        g_dbus_method_invocation_return_error_literal(invocation, NLC_ERROR, code, message);
        return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
on_recover_sent(GObject *source, GAsyncResult *result, gpointer data)
{
        GDBusMethodInvocation *invocation = data; /* answering it drops the reference */
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) reply = nlc_qmp_command_finish(NLC_QMP(source), result, &error);

        if (!reply) {
                g_dbus_method_invocation_return_error(invocation, NLC_ERROR, NLC_ERROR_FAILED, "%s",
                                                      error->message);
                return;
        }
        /* Recover() has no out arguments. */
        g_dbus_method_invocation_return_value(invocation, NULL);
}

static gboolean
handle_recover(NlcDbusMigration *skel, GDBusMethodInvocation *invocation, const char *uri)
{
        NlcMigration *self = NLC_MIGRATION(skel);

        if (!phase_allows(self, NLC_PHASE_EV_RECOVER))
                return refuse(invocation, NLC_ERROR_INVALID_STATE,
                              "Recover is for a post-copy migration that paused");
        record(self, "recover");
        if (self->role == NLC_MIGRATION_SOURCE)
                nlc_qmp_migrate_resume(self->qmp, uri, NULL, on_recover_sent, invocation);
        else
                nlc_qmp_migrate_recover(self->qmp, uri, NULL, on_recover_sent, invocation);
        return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
nlc_migration_iface_init(NlcDbusMigrationIface *iface)
{
        iface->handle_start_postcopy = handle_start_postcopy;
        iface->handle_destination_ready = handle_destination_ready;
        iface->handle_cancel = handle_cancel;
        iface->handle_recover = handle_recover;
}

/* ---- construction ---------------------------------------------------- */

static NlcMigration *
new_migration(const char *id, NlcMigrationRole role, NlcInstance *instance, NlcQmp *qmp,
              NlcMigrationOptions *options, GVariant *options_variant)
{
        NlcMigration *self = g_object_new(NLC_TYPE_MIGRATION, NULL);
        NlcDbusMigration *skel = NLC_DBUS_MIGRATION(self);

        self->role = role;
        self->id = g_strdup(id);
        self->options = g_variant_ref_sink(g_variant_ref(options_variant));
        self->object_path = g_strconcat("/org/netlifecd1/migration/", id, NULL);
        self->instance = g_object_ref(instance);
        self->qmp = g_object_ref(qmp);
        self->opt = *options;
        memset(options, 0, sizeof *options); /* taken */
        self->cancel = g_cancellable_new();
        self->event_id = g_signal_connect(qmp, "event", G_CALLBACK(on_event), self);
        self->connected_id = g_signal_connect(qmp, "connected", G_CALLBACK(on_qmp_connected), self);
        nlc_dbus_migration_set_instance(skel, nlc_instance_get_name(instance));
        nlc_dbus_migration_set_role(skel, nlc_migration_role_to_string(role));
        nlc_dbus_migration_set_phase(skel, nlc_migration_phase_to_string(self->phase));
        nlc_dbus_migration_set_policy(
                skel, role == NLC_MIGRATION_SOURCE ? nlc_postcopy_policy_to_string(self->opt.policy)
                                                   : "");
        nlc_dbus_migration_set_readiness(
                skel, role == NLC_MIGRATION_SOURCE && self->opt.has_readiness
                              ? nlc_readiness_source_to_string(self->opt.readiness)
                              : "");
        nlc_dbus_migration_set_timeline(skel, g_variant_new_array(G_VARIANT_TYPE("(st)"), NULL, 0));
        nlc_dbus_migration_set_error(skel, "");
        return self;
}

static void
unwatch_local_destination(NlcMigration *self)
{
        if (self->local_ready_id)
                g_signal_handler_disconnect(self->local_destination, self->local_ready_id);
        if (self->local_macs_id)
                g_signal_handler_disconnect(self->local_destination, self->local_macs_id);
        self->local_ready_id = self->local_macs_id = 0;
        g_clear_object(&self->local_destination);
}

static void
watch_local_destination(NlcMigration *self, NlcInstance *destination)
{
        unwatch_local_destination(self);
        self->local_destination = g_object_ref(destination);
        self->local_ready_id =
                g_signal_connect(destination, "notify::ready", G_CALLBACK(on_local_ready), self);
        self->local_macs_id = g_signal_connect(destination, "ready-macs-changed",
                                               G_CALLBACK(on_local_changed), self);
        on_local_changed(destination, self);
}

/* @destination: readiness "local"'s instance, or NULL (none here: then
 * it is never ready until one of that name appears). */
static void
follow_readiness(NlcMigration *self, NlcInstance *destination)
{
        if (self->role == NLC_MIGRATION_DESTINATION) {
                /* The destination's own readiness, for whoever watches it here. */
                destination = self->instance;
        } else if (!self->opt.has_readiness) {
                return; /* nothing gated: postcopy never, no pause */
        } else if (self->opt.readiness == NLC_READINESS_DESTINATION_BUS) {
                self->remote = nlc_remote_instance_new(self->opt.destination_bus,
                                                       self->opt.destination_instance,
                                                       on_remote_ready, self);
                return;
        } else if (self->opt.readiness != NLC_READINESS_LOCAL) {
                return; /* coordinated: DestinationReady() */
        }
        if (!destination) {
                g_message("migration %s: destination instance %s has no device here: not ready",
                          self->object_path, self->opt.destination_instance);
                return;
        }
        watch_local_destination(self, destination);
}

void
nlc_migration_follow_destination(NlcMigration *self, NlcInstance *destination)
{
        if (self->role != NLC_MIGRATION_SOURCE || !self->opt.has_readiness ||
            self->opt.readiness != NLC_READINESS_LOCAL || nlc_phase_is_final(self->phase) ||
            g_strcmp0(self->opt.destination_instance, nlc_instance_get_name(destination)) != 0 ||
            self->local_destination == destination)
                return;
        g_message("migration %s: destination instance %s is back; following it", self->object_path,
                  nlc_instance_get_name(destination));
        watch_local_destination(self, destination);
}

/* The lower-case MACs of @instance's devices that exist in the kernel. */
static GStrv
guest_macs_of(NlcInstance *instance)
{
        GPtrArray *devices = nlc_instance_get_devices(instance);
        g_autoptr(GStrvBuilder) macs = g_strv_builder_new();
        g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

        for (guint i = 0; i < devices->len; i++) {
                NlcDeviceState st = nlc_device_get_state(devices->pdata[i]);
                g_autofree char *mac = NULL;

                if (st != NLC_DEVICE_STATE_CREATED && st != NLC_DEVICE_STATE_ACTIVE)
                        continue;
                mac = g_ascii_strdown(nlc_device_get_mac(devices->pdata[i]), -1);
                if (!g_hash_table_contains(seen, mac)) {
                        g_strv_builder_add(macs, mac);
                        g_hash_table_add(seen, g_steal_pointer(&mac));
                }
        }
        return g_strv_builder_end(macs);
}

NlcMigration *
nlc_migration_new_source(const char *id, NlcInstance *instance, NlcQmp *qmp,
                         NlcInstance *destination, NlcMigrationOptions *options,
                         GVariant *options_variant)
{
        NlcMigration *self =
                new_migration(id, NLC_MIGRATION_SOURCE, instance, qmp, options, options_variant);
        GPtrArray *devices = nlc_instance_get_devices(instance);
        g_autoptr(GStrvBuilder) ids = g_strv_builder_new();

        for (guint i = 0; i < devices->len; i++)
                if (nlc_device_get_state(devices->pdata[i]) == NLC_DEVICE_STATE_ACTIVE)
                        g_strv_builder_add(ids, nlc_device_get_id(devices->pdata[i]));
        self->source_devices = g_strv_builder_end(ids);
        self->guest_macs = guest_macs_of(instance);
        self->profile_hold = nlc_instance_has_port_profile(instance);
        follow_readiness(self, destination);
        return self;
}

NlcMigration *
nlc_migration_new_destination(const char *id, NlcInstance *instance, NlcQmp *qmp,
                              NlcMigrationOptions *options, GVariant *options_variant)
{
        NlcMigration *self = new_migration(id, NLC_MIGRATION_DESTINATION, instance, qmp, options,
                                           options_variant);

        follow_readiness(self, NULL);
        return self;
}

/* The gate as journalled; a record of before the table has three flags. */
static NlcGateState
restored_gate(GKeyFile *kf)
{
        g_autofree char *text = g_key_file_get_string(kf, GROUP, "gate", NULL);
        NlcGateState gate = NLC_GATE_IDLE;

        if (text && nlc_gate_state_from_string(text, &gate))
                return gate;
        if (g_key_file_get_boolean(kf, GROUP, "switch-sent", NULL))
                return NLC_GATE_SENT;
        if (g_key_file_get_boolean(kf, GROUP, "postcopy-given-up", NULL))
                return NLC_GATE_GIVEN_UP;
        if (g_key_file_get_boolean(kf, GROUP, "policy-fired", NULL))
                return NLC_GATE_WAITING;
        return NLC_GATE_IDLE;
}

NlcMigration *
nlc_migration_restore(GKeyFile *kf, NlcInstance *instance, NlcQmp *qmp, NlcInstance *destination,
                      const NlcConfig *defaults, GError **error)
{
        g_autofree char *id = g_key_file_get_string(kf, GROUP, "id", error);
        g_autofree char *role = id ? g_key_file_get_string(kf, GROUP, "role", error) : NULL;
        g_autofree char *options_text =
                role ? g_key_file_get_string(kf, GROUP, "options", error) : NULL;
        g_autofree char *phase = NULL, *timeline_text = NULL;
        g_autoptr(GVariant) options = NULL, timeline = NULL;
        g_auto(NlcMigrationOptions) opt = { 0 };
        gboolean source;
        NlcMigration *self;

        if (!options_text)
                return NULL;
        source = g_str_equal(role, "source");
        options = g_variant_parse(G_VARIANT_TYPE_VARDICT, options_text, NULL, NULL, error);
        if (!options || !nlc_migration_options_parse_journalled(options, source,
                                                                nlc_instance_get_name(instance),
                                                                defaults, &opt, error))
                return NULL;
        self = new_migration(id, source ? NLC_MIGRATION_SOURCE : NLC_MIGRATION_DESTINATION,
                             instance, qmp, &opt, options);
        self->uri = g_key_file_get_string(kf, GROUP, "uri", NULL);
        phase = g_key_file_get_string(kf, GROUP, "phase", NULL);
        for (guint p = 0; phase && p <= NLC_MIGRATION_PHASE_LAST; p++)
                if (g_str_equal(phase, nlc_migration_phase_to_string(p)))
                        self->phase = p;
        nlc_dbus_migration_set_phase(NLC_DBUS_MIGRATION(self),
                                     nlc_migration_phase_to_string(self->phase));
        self->gate = restored_gate(kf);
        self->source_devices = g_key_file_get_string_list(kf, GROUP, "source-devices", NULL, NULL);
        /* Journalled since the gate counts every NIC; before, read them now. */
        self->guest_macs = g_key_file_get_string_list(kf, GROUP, "guest-macs", NULL, NULL);
        if (source && !self->guest_macs)
                self->guest_macs = guest_macs_of(instance);
        nlc_dbus_migration_set_pass(NLC_DBUS_MIGRATION(self),
                                    (guint) g_key_file_get_uint64(kf, GROUP, "pass", NULL));
        timeline_text = g_key_file_get_string(kf, GROUP, "timeline", NULL);
        timeline = timeline_text ? g_variant_parse(G_VARIANT_TYPE("a(st)"), timeline_text, NULL,
                                                   NULL, NULL)
                                 : NULL;
        if (timeline)
                nlc_dbus_migration_set_timeline(NLC_DBUS_MIGRATION(self), timeline);
        /* coordinated: the coordinator already said so before the crash. */
        if (source && self->opt.readiness == NLC_READINESS_COORDINATED)
                self->destination_ready =
                        g_key_file_get_boolean(kf, GROUP, "destination-ready", NULL);
        nlc_dbus_migration_set_destination_ready(NLC_DBUS_MIGRATION(self), self->destination_ready);
        g_message("migration %s (%s): restored in phase %s", self->object_path,
                  nlc_instance_get_name(instance), nlc_migration_phase_to_string(self->phase));
        follow_readiness(self, destination);
        if (nlc_qmp_is_connected(qmp))
                on_qmp_connected(qmp, self);
        return self;
}

const char *
nlc_migration_get_id(NlcMigration *self)
{
        return self->id;
}

const char *
nlc_migration_get_object_path(NlcMigration *self)
{
        return self->object_path;
}

const char *
nlc_migration_get_instance(NlcMigration *self)
{
        return nlc_instance_get_name(self->instance);
}

NlcMigrationPhase
nlc_migration_get_phase(NlcMigration *self)
{
        return self->phase;
}

gboolean
nlc_migration_is_finished(NlcMigration *self)
{
        return nlc_phase_is_final(self->phase);
}

static void
nlc_migration_init(NlcMigration *self)
{
        self->phase = NLC_MIGRATION_PHASE_SETUP;
}

static void
nlc_migration_dispose(GObject *object)
{
        NlcMigration *self = NLC_MIGRATION(object);

        if (self->cancel)
                g_cancellable_cancel(self->cancel);
        if (self->qmp)
                stop_following(self);
        if (self->listening_reply)
                g_dbus_method_invocation_return_error(g_steal_pointer(&self->listening_reply),
                                                      NLC_ERROR, NLC_ERROR_FAILED,
                                                      "the migration was dropped before QEMU "
                                                      "listened");
        g_clear_object(&self->cancel);
        g_clear_object(&self->local_destination);
        g_clear_object(&self->qmp);
        g_clear_object(&self->instance);
        G_OBJECT_CLASS(nlc_migration_parent_class)->dispose(object);
}

static void
nlc_migration_finalize(GObject *object)
{
        NlcMigration *self = NLC_MIGRATION(object);

        nlc_migration_options_clear(&self->opt);
        g_clear_pointer(&self->options, g_variant_unref);
        g_strfreev(self->source_devices);
        g_strfreev(self->guest_macs);
        g_free(self->association_error);
        g_free(self->id);
        g_free(self->object_path);
        g_free(self->uri);
        G_OBJECT_CLASS(nlc_migration_parent_class)->finalize(object);
}

static void
nlc_migration_class_init(NlcMigrationClass *klass)
{
        G_OBJECT_CLASS(klass)->dispose = nlc_migration_dispose;
        G_OBJECT_CLASS(klass)->finalize = nlc_migration_finalize;
        nlc_authz_hook_class(G_DBUS_INTERFACE_SKELETON_CLASS(klass));
}
