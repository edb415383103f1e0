/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <gio/gunixfdlist.h>
#include <unistd.h>

#include "nlc-authz.h"
#include "nlc-dbus-names.h"
#include "nlc-device.h"
#include "nlc-error.h"
#include "nlc-lifecycle.h"
#include "nlc-log.h"
#include "nlc-port-association.h"

struct _NlcDevice {
        NlcDbusDeviceSkeleton parent;
        NlcJournalRecord *rec;
        NlcBackendDevice bdev;
        const NlcBackend *backend;
        NlcJournal *journal;
        char *object_path;
        NlcDeviceOwnership ownership;
        /* The port as the kernel last showed it... */
        NlcPortState port_state;
        NlcPortReason kernel_reason;
        guint64 kernel_ready_in_usec;
        /* ... and as published (a port profile may hold Ready back). */
        NlcPortState published_state;
        NlcPortReason port_reason;
        gboolean published_ready;
        guint64 ready_in_usec; /* at ready_at_usec */
        gint64 ready_at_usec;
        /* The switch's association of the device's port profile; NULL
         * without one (made when first needed: the uplink is a prop). */
        NlcPortAssociation *association;
        gboolean has_profile;
        NlcPortProfile profile;
        /* Destroy calls go through the manager's batch when set. */
        gboolean destroy_queued;
        /* The other device on the same tap (ShareQueues), borrowed: the
         * manager links and unlinks the two. */
        NlcDevice *peer;
};

enum { SIGNAL_FREED, SIGNAL_READY_CHANGED, N_SIGNALS };
/* ReadyInUsec is overridden here so it can be computed when read. */
enum { PROP_0, PROP_READY_IN_USEC };
static guint skeleton_ready_in_usec_id; /* the generated skeleton's id for it */
static GParamSpec *ready_in_usec_pspec;
static guint signals[N_SIGNALS];

static void nlc_device_iface_init(NlcDbusDeviceIface *iface);
static gboolean persist_props(NlcBackendDevice *bdev, GError **error);
static void profile_follow_state(NlcDevice *self, NlcDeviceState old_state,
                                 NlcDeviceState new_state);
static gboolean profile_allows_activation(NlcDevice *self, GError **error);

G_DEFINE_TYPE_WITH_CODE(NlcDevice, nlc_device, NLC_DBUS_TYPE_DEVICE_SKELETON,
                        G_IMPLEMENT_INTERFACE(NLC_DBUS_TYPE_DEVICE, nlc_device_iface_init))

const char *
nlc_backend_device_get_prop(const NlcBackendDevice *dev, const char *key)
{
        return g_hash_table_lookup(dev->props, key);
}

void
nlc_backend_device_set_prop(NlcBackendDevice *dev, const char *key, const char *value)
{
        if (value)
                g_hash_table_insert(dev->props, g_strdup(key), g_strdup(value));
        else
                g_hash_table_remove(dev->props, key);
}

static void
close_queues(NlcDevice *self)
{
        for (guint i = 0; i < self->bdev.queue_fds->len; i++)
                close(g_array_index(self->bdev.queue_fds, int, i));
        g_array_set_size(self->bdev.queue_fds, 0);
}

static void
sync_properties(NlcDevice *self)
{
        NlcDbusDevice *skel = NLC_DBUS_DEVICE(self);
        const char *ifname = nlc_backend_device_get_prop(&self->bdev, "ifname");
        const char *bridge = nlc_backend_device_get_prop(&self->bdev, "bridge");

        nlc_dbus_device_set_instance(skel, self->rec->instance);
        nlc_dbus_device_set_backend(skel, self->rec->backend);
        nlc_dbus_device_set_mac(skel, self->rec->mac);
        nlc_dbus_device_set_if_name(skel, ifname ? ifname : "");
        nlc_dbus_device_set_bridge(skel, bridge ? bridge : "");
        nlc_dbus_device_set_state(skel, nlc_device_state_to_string(self->rec->state));
        /* Only an active device holds its MAC: the manager's registry makes
         * sure no two active devices share one. */
        nlc_dbus_device_set_owns_mac(skel, self->rec->state == NLC_DEVICE_STATE_ACTIVE);
        nlc_dbus_device_set_shared_with(skel, self->peer ? self->peer->object_path : "/");
}

/*
 * The durability policy. A record's existence (allocate, notify) is fsynced:
 * a reservation must survive a host crash. A state change is an atomic
 * replace without fsync: a daemon crash or kill -9 loses nothing (the page
 * cache survives it), and a host crash takes the kernel objects the state
 * describes away too, which the restart reconciles from the kernel.
 */
static gboolean
write_transition(NlcDevice *self, GError **error)
{
        return nlc_journal_write_full(self->journal, self->rec, FALSE, error);
}

static gboolean
journal_record(NlcDevice *self, gboolean new_record, GError **error)
{
        if (self->rec->state == NLC_DEVICE_STATE_FREED)
                return nlc_journal_remove(self->journal, self->rec->id, error);
        return new_record ? nlc_journal_write(self->journal, self->rec, error)
                          : write_transition(self, error);
}

/*
 * The state funnel: every change of State goes through here. Refuses what the
 * transition table does not allow, logs old -> new (reason), journals, sets
 * the property, flushes, then emits StateChanged.
 */
static gboolean
set_state(NlcDevice *self, NlcDeviceState new_state, NlcOp op, const char *reason, GError **error)
{
        NlcDeviceState old_state = self->rec->state;
        const char *old_name = nlc_device_state_to_string(old_state);
        const char *new_name = nlc_device_state_to_string(new_state);
        g_autoptr(GError) local = NULL;

        if (!nlc_lifecycle_transition_allowed(old_state, new_state, op)) {
                g_set_error(&local, NLC_ERROR, NLC_ERROR_FAILED,
                            "internal error: %s may not move device %s from %s to %s",
                            nlc_op_to_string(op), self->rec->id, old_name, new_name);
                g_critical("%s", local->message);
                g_propagate_error(error, g_steal_pointer(&local));
                return FALSE;
        }
        self->rec->state = new_state;
        self->bdev.state = new_state;
        self->rec->has_pending = FALSE;
        if (new_state == NLC_DEVICE_STATE_ACTIVE)
                self->rec->activated_usec = g_get_real_time();
        if (!journal_record(self, old_state == NLC_DEVICE_STATE_NONE, &local)) {
                /* The kernel already changed: keep memory in line with it and
                 * let the caller see that durability failed. */
                nlc_dev_warning(self, "%s -> %s (%s) not journalled: %s", old_name, new_name,
                                reason, local->message);
        } else {
                nlc_dev_message(self, "%s -> %s (%s)", old_name, new_name, reason);
        }
        sync_properties(self);
        g_dbus_interface_skeleton_flush(G_DBUS_INTERFACE_SKELETON(self));
        /* Also the GObject signal "state-changed" the manager and instances follow. */
        nlc_dbus_device_emit_state_changed(NLC_DBUS_DEVICE(self), old_name, new_name, reason);
        profile_follow_state(self, old_state, new_state);
        if (local) {
                g_propagate_error(error, g_steal_pointer(&local));
                return FALSE;
        }
        return TRUE;
}

static gboolean
call_backend(NlcDevice *self, NlcOp op, GError **error)
{
        const NlcBackend *b = self->backend;

        switch (op) {
        case NLC_OP_CREATE:
                close_queues(self);
                if (!b->create(&self->bdev, error)) {
                        close_queues(self);
                        return FALSE;
                }
                return TRUE;
        case NLC_OP_ACTIVATE:
                return b->activate(&self->bdev, error);
        case NLC_OP_DEACTIVATE:
                return b->deactivate(&self->bdev, error);
        case NLC_OP_DESTROY:
                if (!b->destroy(&self->bdev, error))
                        return FALSE;
                close_queues(self);
                return TRUE;
        case NLC_OP_FREE:
                return b->free ? b->free(&self->bdev, error) : TRUE;
        case NLC_OP_ALLOCATE:
        case NLC_OP_NOTIFY:
        default:
                g_set_error(error, NLC_ERROR, NLC_ERROR_FAILED,
                            "internal error: %s is not run through call_backend",
                            nlc_op_to_string(op));
                return FALSE;
        }
}

/* The first half of an operation: refuse (FALSE), no-op (TRUE, *run
 * FALSE), or the write-ahead record journalled (TRUE, *run TRUE). */
static gboolean
op_begin(NlcDevice *self, NlcOp op, gboolean *run, GError **error)
{
        g_autofree char *sources = NULL;

        *run = FALSE;
        if (self->destroy_queued && op != NLC_OP_DESTROY) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_BUSY,
                            "cannot %s device %s: it is being destroyed", nlc_op_to_string(op),
                            self->rec->id);
                return FALSE;
        }
        switch (nlc_lifecycle_check(self->rec->state, op)) {
        case NLC_TRANSITION_NOOP:
                nlc_dev_debug(self, "%s: already %s", nlc_op_to_string(op),
                              nlc_device_state_to_string(self->rec->state));
                return TRUE;
        case NLC_TRANSITION_REFUSE:
                sources = nlc_lifecycle_describe_sources(op);
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_STATE,
                            "cannot %s device %s: it is %s, and %s needs it %s",
                            nlc_op_to_string(op), self->rec->id,
                            nlc_device_state_to_string(self->rec->state), nlc_op_to_string(op),
                            sources);
                return FALSE;
        case NLC_TRANSITION_RUN:
        default:
                break;
        }
        if (op == NLC_OP_ACTIVATE && !profile_allows_activation(self, error))
                return FALSE;
        /* Write-ahead: a crash from here on is rolled forward at restart. */
        self->rec->has_pending = TRUE;
        self->rec->pending = op;
        if (!write_transition(self, error)) {
                self->rec->has_pending = FALSE;
                return FALSE;
        }
        *run = TRUE;
        return TRUE;
}

/* The second half: the backend runs, then the funnel; on failure the
 * write-ahead record is withdrawn. */
static gboolean
op_finish(NlcDevice *self, NlcOp op, const char *reason, GError **error)
{
        g_autoptr(GError) local = NULL;

        if (!call_backend(self, op, &local)) {
                g_autoptr(GError) journal_error = NULL;

                nlc_dev_warning(self, "%s failed: %s", nlc_op_to_string(op), local->message);
                self->rec->has_pending = FALSE;
                if (!write_transition(self, &journal_error))
                        nlc_dev_warning(self, "%s", journal_error->message);
                g_propagate_error(error, g_steal_pointer(&local));
                return FALSE;
        }
        return set_state(self, nlc_lifecycle_target(op), op, reason, error);
}

/* One lifecycle operation: refuse, no-op, or write-ahead + run + funnel. */
static gboolean
run_op_reason(NlcDevice *self, NlcOp op, const char *reason, GError **error)
{
        gboolean run;

        if (!op_begin(self, op, &run, error))
                return FALSE;
        return !run || op_finish(self, op, reason, error);
}

/* ---- destroy in a batch (nlc-destroy-batch.c) ------------------------- */

void
nlc_device_set_destroy_queued(NlcDevice *self, gboolean queued)
{
        self->destroy_queued = queued;
}

gboolean
nlc_device_destroy_begin(NlcDevice *self, gboolean *run, GError **error)
{
        return op_begin(self, NLC_OP_DESTROY, run, error);
}

int
nlc_device_destroy_link(NlcDevice *self, GError **error)
{
        if (self->backend->abi_minor < 3 || !self->backend->destroy_link)
                return -EOPNOTSUPP;
        return self->backend->destroy_link(&self->bdev, error);
}

void
nlc_device_destroy_abandon(NlcDevice *self)
{
        g_autoptr(GError) error = NULL;

        self->rec->has_pending = FALSE;
        if (!write_transition(self, &error))
                nlc_dev_warning(self, "%s", error->message);
}

gboolean
nlc_device_destroy_finish(NlcDevice *self, GError **error)
{
        return op_finish(self, NLC_OP_DESTROY, nlc_op_to_string(NLC_OP_DESTROY), error);
}

gboolean
nlc_device_run_transition(NlcDevice *self, NlcOp op, const char *reason, GError **error)
{
        return run_op_reason(self, op, reason, error);
}

gboolean
nlc_device_run(NlcDevice *self, NlcOp op, GError **error)
{
        /* An activation that would run is the MAC registry's: claim and
         * handover. Refusals and no-ops change no ownership. */
        if (op == NLC_OP_ACTIVATE && self->ownership.activate &&
            nlc_lifecycle_check(self->rec->state, op) == NLC_TRANSITION_RUN)
                return self->ownership.activate(self, error, self->ownership.user_data);
        return run_op_reason(self, op, nlc_op_to_string(op), error);
}

void
nlc_device_set_ownership(NlcDevice *self, const NlcDeviceOwnership *ownership)
{
        self->ownership = *ownership;
}

static guint64
ready_in_usec_now(NlcDevice *self)
{
        gint64 elapsed;

        if (self->ready_in_usec == 0 || self->ready_in_usec == G_MAXUINT64)
                return self->ready_in_usec;
        elapsed = g_get_monotonic_time() - self->ready_at_usec;
        if (elapsed <= 0)
                return self->ready_in_usec;
        /* The kernel's event is the truth; until it comes, say 1 µs rather
         * than 0, which would claim readiness. */
        return (guint64) elapsed >= self->ready_in_usec ? 1
                                                        : self->ready_in_usec - (guint64) elapsed;
}

/* An active device with a port profile carries the guest's traffic only
 * once the switch applies the profile. */
static gboolean
profile_holds_back(NlcDevice *self)
{
        return self->association && self->rec->state == NLC_DEVICE_STATE_ACTIVE &&
               nlc_port_association_get_state(self->association) != NLC_ASSOCIATION_ASSOCIATED;
}

/* Ready, PortState, PortReason and ReadyInUsec from the kernel's view and
 * the port profile; signals what changed since the last publication. */
static void
publish_readiness(NlcDevice *self)
{
        NlcDbusDevice *skel = NLC_DBUS_DEVICE(self);
        NlcPortState was = self->published_state, state = self->port_state;
        gboolean was_ready = self->published_ready;
        gboolean forwarding = state == NLC_PORT_STATE_FORWARDING;
        gboolean held = forwarding && profile_holds_back(self);
        gboolean ready = forwarding && !held;
        NlcPortReason reason =
                forwarding ? (held ? NLC_PORT_REASON_PORT_PROFILE : NLC_PORT_REASON_NONE)
                           : self->kernel_reason;
        gboolean changed = state != was || reason != self->port_reason;

        /* The kernel's own protection is news for an operator, not debug. */
        if (changed &&
            (reason == NLC_PORT_REASON_BPDU_GUARD || reason == NLC_PORT_REASON_STP_BLOCKING ||
             reason == NLC_PORT_REASON_BRIDGE_GONE || reason == NLC_PORT_REASON_PORT_PROFILE))
                nlc_dev_message(self, "port %s -> %s (%s)", nlc_port_state_to_string(was),
                                nlc_port_state_to_string(state), nlc_port_reason_to_string(reason));
        else if (changed)
                nlc_dev_debug(self, "port %s -> %s (%s)", nlc_port_state_to_string(was),
                              nlc_port_state_to_string(state), nlc_port_reason_to_string(reason));
        self->published_state = state;
        self->port_reason = reason;
        self->published_ready = ready;
        /* Held back by the profile: no timer says when the switch answers. */
        self->ready_in_usec = ready ? 0 : held ? G_MAXUINT64 : self->kernel_ready_in_usec;
        nlc_dbus_device_set_port_reason(skel, nlc_port_reason_to_string(reason));
        nlc_dbus_device_set_port_state(skel, nlc_port_state_to_string(state));
        nlc_dbus_device_set_ready(skel, ready);
        nlc_dbus_device_set_ready_in_usec(skel, self->ready_in_usec);
        g_dbus_interface_skeleton_flush(G_DBUS_INTERFACE_SKELETON(self));
        if (changed)
                nlc_dbus_device_emit_port_state_changed(skel, nlc_port_state_to_string(was),
                                                        nlc_port_state_to_string(state),
                                                        nlc_port_reason_to_string(reason));
        if (ready != was_ready)
                g_signal_emit(self, signals[SIGNAL_READY_CHANGED], 0);
}

void
nlc_device_set_port_state(NlcDevice *self, NlcPortState state, NlcPortReason reason,
                          guint64 ready_in_usec, gint64 now_usec)
{
        self->port_state = state;
        self->kernel_reason = reason;
        self->kernel_ready_in_usec = ready_in_usec;
        self->ready_at_usec = now_usec;
        publish_readiness(self);
}

NlcPortReason
nlc_device_get_port_reason(NlcDevice *self)
{
        return self->port_reason;
}

gboolean
nlc_device_get_ready(NlcDevice *self)
{
        return self->published_ready;
}

NlcPortState
nlc_device_get_port_state(NlcDevice *self)
{
        return self->port_state;
}

/* ---- the port profile (nlc-port-association.h) ------------------------ */

static void
on_association_changed(NlcDevice *self)
{
        nlc_dbus_device_set_port_profile(NLC_DBUS_DEVICE(self),
                                         nlc_port_association_to_variant(self->association));
        publish_readiness(self);
}

static void
on_association_lost(NlcDevice *self, const char *why)
{
        nlc_dev_message(self, "port profile lost: %s", why);
        nlc_dbus_device_emit_port_profile_lost(NLC_DBUS_DEVICE(self), why);
}

/* The association, made on first use: its uplink is the backend's "link"
 * prop, set at allocate. NULL for a device without a profile. */
static NlcPortAssociation *
association(NlcDevice *self)
{
        const char *uplink = nlc_device_get_lower_link(self);

        if (self->association || !self->has_profile || !uplink)
                return self->association;
        self->association =
                nlc_port_association_new(&self->profile, self->bdev.mac, uplink, self->rec->id,
                                         G_CALLBACK(on_association_changed), self);
        nlc_port_association_set_lost_handler(self->association, G_CALLBACK(on_association_lost),
                                              self);
        on_association_changed(self);
        return self->association;
}

static gboolean
profile_allows_activation(NlcDevice *self, GError **error)
{
        NlcPortAssociation *a = association(self);

        if (!a || nlc_port_association_get_state(a) == NLC_ASSOCIATION_ASSOCIATED)
                return TRUE;
        g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_STATE,
                    "cannot activate device %s: the switch has not associated its port profile "
                    "(%s); Device.Activate, Instance.Activate and a followed guest's RESUME "
                    "associate it before the device holds the MAC",
                    self->rec->id,
                    nlc_association_state_to_string(nlc_port_association_get_state(a)));
        return FALSE;
}

/* What the switch is told when the device is destroyed: the profile is
 * dropped (best effort). */
static void
profile_follow_state(NlcDevice *self, NlcDeviceState old_state, NlcDeviceState new_state)
{
        NlcPortAssociation *a = association(self);

        if (!a)
                return;
        /* As libvirt: the profile stays while the NIC exists (a paused
         * guest, a migration's source until it is released), and goes
         * with it. */
        if (new_state == NLC_DEVICE_STATE_DESTROYED)
                nlc_port_association_release(a, G_OBJECT(self));
        /* Whether the profile holds Ready back depends on the state. */
        publish_readiness(self);
}

gboolean
nlc_device_needs_association(NlcDevice *self)
{
        return association(self) &&
               nlc_port_association_get_state(self->association) != NLC_ASSOCIATION_ASSOCIATED &&
               !self->destroy_queued &&
               nlc_lifecycle_check(self->rec->state, NLC_OP_ACTIVATE) == NLC_TRANSITION_RUN;
}

void
nlc_device_associate_async(NlcDevice *self, GAsyncReadyCallback callback, gpointer data)
{
        nlc_port_association_request_async(association(self), NLC_VDP_ASSOCIATE, G_OBJECT(self),
                                           callback, data);
}

gboolean
nlc_device_associate_finish(GAsyncResult *result, GError **error)
{
        return nlc_port_association_request_finish(result, error);
}

void
nlc_device_disassociate(NlcDevice *self)
{
        if (association(self))
                nlc_port_association_release(self->association, G_OBJECT(self));
}

static void
on_reassociated(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(GError) error = NULL;

        if (!nlc_port_association_request_finish(result, &error))
                nlc_dev_warning(NLC_DEVICE(source), "port profile not re-established: %s",
                                error->message);
}

/* After a restart, as libvirt does at its own: an active device's profile
 * is associated again, and the device is not Ready until lldpad says so. */
void
nlc_device_restore_port_profile(NlcDevice *self)
{
        NlcPortAssociation *a = association(self);

        if (a && self->rec->state == NLC_DEVICE_STATE_ACTIVE)
                nlc_port_association_request_async(a, NLC_VDP_ASSOCIATE, G_OBJECT(self),
                                                   on_reassociated, NULL);
}

gboolean
nlc_device_has_port_profile(NlcDevice *self)
{
        return self->has_profile;
}

static gboolean
fail_call(GDBusMethodInvocation *invocation, GError *error)
{
        g_dbus_method_invocation_return_gerror(invocation, error);
        return G_DBUS_METHOD_INVOCATION_HANDLED;
}

GVariant *
nlc_device_queue_handles(NlcDevice *self, GUnixFDList *fds, GError **error)
{
        GVariantBuilder handles;

        g_variant_builder_init(&handles, G_VARIANT_TYPE("ah"));
        for (guint i = 0; i < self->bdev.queue_fds->len; i++) {
                /* The list dups the fd: the caller gets the same open queue
                 * the daemon keeps, not a new one. */
                g_autoptr(GError) local = NULL;
                int idx = g_unix_fd_list_append(fds, g_array_index(self->bdev.queue_fds, int, i),
                                                &local);

                if (idx < 0) {
                        /* A named error, not GIO's (EMFILE at the fd limit). */
                        g_set_error(error, NLC_ERROR, NLC_ERROR_FAILED,
                                    "cannot pass the queues of %s: %s", nlc_device_get_ifname(self),
                                    local->message);
                        g_variant_builder_clear(&handles);
                        return NULL;
                }
                g_variant_builder_add(&handles, "h", idx);
        }
        return g_variant_builder_end(&handles);
}

static gboolean
run_create(NlcDevice *self, GDBusMethodInvocation *invocation)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
        GVariant *handles;

        if (!nlc_device_run(self, NLC_OP_CREATE, &error))
                return fail_call(invocation, error);
        handles = nlc_device_queue_handles(self, fds, &error);
        if (!handles)
                return fail_call(invocation, error);
        nlc_dbus_device_complete_create(NLC_DBUS_DEVICE(self), invocation, fds, handles);
        return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
run_activate(NlcDevice *self, GDBusMethodInvocation *invocation)
{
        g_autoptr(GError) error = NULL;

        if (!nlc_device_run(self, NLC_OP_ACTIVATE, &error)) {
                /* Associated by this call (the profile allowed it), then
                 * the activation failed: the switch lets go again. */
                if (self->association &&
                    nlc_port_association_get_state(self->association) ==
                            NLC_ASSOCIATION_ASSOCIATED &&
                    self->rec->state != NLC_DEVICE_STATE_ACTIVE)
                        nlc_device_disassociate(self);
                return fail_call(invocation, error);
        }
        nlc_dbus_device_complete_activate(NLC_DBUS_DEVICE(self), invocation);
        return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* Activate of a device with a port profile: the switch first (ASSOCIATE),
 * then the activation itself, which checks the state again (a call may
 * have come in meanwhile). */
static void
on_associated(GObject *source, GAsyncResult *result, gpointer data)
{
        GDBusMethodInvocation *invocation = data;
        g_autoptr(GError) error = NULL;

        if (!nlc_device_associate_finish(result, &error))
                fail_call(invocation, error);
        else
                run_activate(NLC_DEVICE(source), invocation);
}

static gboolean
handle_create(NlcDbusDevice *skel, GDBusMethodInvocation *invocation, GUnixFDList *in_fds)
{
        return run_create(NLC_DEVICE(skel), invocation);
}

static gboolean
handle_activate(NlcDbusDevice *skel, GDBusMethodInvocation *invocation)
{
        NlcDevice *self = NLC_DEVICE(skel);

        if (nlc_device_needs_association(self)) {
                nlc_device_associate_async(self, on_associated, invocation);
                return G_DBUS_METHOD_INVOCATION_HANDLED;
        }
        return run_activate(self, invocation);
}

static gboolean
handle_deactivate(NlcDbusDevice *skel, GDBusMethodInvocation *invocation)
{
        g_autoptr(GError) error = NULL;

        if (!nlc_device_run(NLC_DEVICE(skel), NLC_OP_DEACTIVATE, &error))
                return fail_call(invocation, error);
        nlc_dbus_device_complete_deactivate(skel, invocation);
        return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_free(NlcDbusDevice *skel, GDBusMethodInvocation *invocation)
{
        NlcDevice *self = NLC_DEVICE(skel);
        g_autoptr(GError) error = NULL;

        if (!nlc_device_run(self, NLC_OP_FREE, &error))
                return fail_call(invocation, error);
        /* Unexport before replying: a caller's next Free must find the path
         * gone (the fallback answers it), never a half-removed object. The
         * manager drops its reference on "freed", hence ours. */
        g_object_ref(self);
        g_signal_emit(self, signals[SIGNAL_FREED], 0);
        nlc_dbus_device_complete_free(skel, invocation);
        g_object_unref(self);
        return G_DBUS_METHOD_INVOCATION_HANDLED;
}

gboolean
nlc_device_release(NlcDevice *self, GError **error)
{
        g_autoptr(NlcDevice) keep = g_object_ref(self); /* the manager drops its own */

        if (nlc_device_get_state(self) == NLC_DEVICE_STATE_ACTIVE &&
            !nlc_device_run(self, NLC_OP_DEACTIVATE, error))
                return FALSE;
        if (nlc_device_get_state(self) == NLC_DEVICE_STATE_CREATED &&
            !nlc_device_run(self, NLC_OP_DESTROY, error))
                return FALSE;
        if (!nlc_device_run(self, NLC_OP_FREE, error))
                return FALSE;
        g_signal_emit(self, signals[SIGNAL_FREED], 0);
        return TRUE;
}

static gboolean
handle_announce(NlcDbusDevice *skel, GDBusMethodInvocation *invocation)
{
        NlcDevice *self = NLC_DEVICE(skel);
        g_autoptr(GError) error = NULL;

        if (self->rec->state != NLC_DEVICE_STATE_ACTIVE) {
                g_set_error(&error, NLC_ERROR, NLC_ERROR_INVALID_STATE,
                            "cannot announce device %s: it is %s; only an active device holds "
                            "the guest MAC",
                            self->rec->id, nlc_device_state_to_string(self->rec->state));
                return fail_call(invocation, error);
        }
        if (!self->backend->announce) {
                g_set_error(&error, NLC_ERROR, NLC_ERROR_FAILED, "backend %s cannot announce",
                            self->backend->name);
                return fail_call(invocation, error);
        }
        if (!self->backend->announce(&self->bdev, &error))
                return fail_call(invocation, error);
        nlc_dbus_device_complete_announce(skel, invocation);
        return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
nlc_device_iface_init(NlcDbusDeviceIface *iface)
{
        iface->handle_create = handle_create;
        iface->handle_activate = handle_activate;
        iface->handle_deactivate = handle_deactivate;
        iface->handle_free = handle_free;
        iface->handle_announce = handle_announce;
}

static gboolean verify_with_kernel(NlcDevice *self, const char *reason, GError **error);

gboolean
nlc_device_allocate(NlcDevice *self, GVariantDict *options, const NlcBackendHost *host,
                    GError **error)
{
        if (!self->backend->allocate(&self->bdev, options, host, error))
                return FALSE;
        if (host->adopting)
                return verify_with_kernel(self, "adopted", error);
        return set_state(self, NLC_DEVICE_STATE_ALLOCATED, NLC_OP_ALLOCATE, "allocate", error);
}

/* Lets the backend compare the device with the kernel; moves the state to
 * what the kernel shows. */
static gboolean
verify_with_kernel(NlcDevice *self, const char *reason, GError **error)
{
        NlcDeviceState state = self->rec->state;

        if (!self->backend->notify(&self->bdev, &state, error))
                return FALSE;
        if (state != self->rec->state)
                return set_state(self, state, NLC_OP_NOTIFY, reason, error);
        /* Same state; the backend may have updated its fields. */
        sync_properties(self);
        return journal_record(self, FALSE, error);
}

gboolean
nlc_device_adopt(NlcDevice *self, GError **error)
{
        return verify_with_kernel(self, "adopted", error);
}

gboolean
nlc_device_roll_forward(NlcDevice *self, GError **error)
{
        g_autoptr(GError) local = NULL;
        NlcOp op = self->rec->pending;

        if (!self->rec->has_pending)
                return TRUE;
        nlc_dev_message(self, "completing %s interrupted by a restart", nlc_op_to_string(op));
        if (call_backend(self, op, &local))
                return set_state(self, nlc_lifecycle_target(op), op, "restored", error);
        nlc_dev_warning(self, "could not complete %s (%s); staying %s", nlc_op_to_string(op),
                        local->message, nlc_device_state_to_string(self->rec->state));
        self->rec->has_pending = FALSE;
        return journal_record(self, FALSE, error);
}

gboolean
nlc_device_yield_mac(NlcDevice *self, NlcDevice *holder, GError **error)
{
        g_autofree char *reason =
                g_strdup_printf("restored: device %s holds the MAC", nlc_device_get_id(holder));
        g_autoptr(GError) local = NULL;

        /* Removes only this port's entry: on the holder's bridge the entry
         * already points at the holder. */
        if (!self->backend->deactivate(&self->bdev, &local))
                nlc_dev_warning(self, "%s", local->message);
        return set_state(self, NLC_DEVICE_STATE_CREATED, NLC_OP_NOTIFY, reason, error);
}

/* ---- a tap shared by two QEMUs (ShareQueues) ------------------------- */

void
nlc_device_set_peer(NlcDevice *self, NlcDevice *peer)
{
        self->peer = peer;
        self->bdev.peer = peer ? &peer->bdev : NULL;
        nlc_backend_device_set_prop(&self->bdev, "shared-with",
                                    peer ? nlc_device_get_id(peer) : NULL);
        sync_properties(self);
}

const NlcBackend *
nlc_device_get_backend(NlcDevice *self)
{
        return self->backend;
}

NlcDevice *
nlc_device_get_peer(NlcDevice *self)
{
        return self->peer;
}

const char *
nlc_device_get_peer_id(NlcDevice *self)
{
        return nlc_backend_device_get_prop(&self->bdev, "shared-with");
}

gboolean
nlc_device_check_shareable(NlcDevice *self, GError **error)
{
        const NlcBackend *b = self->backend;
        NlcDeviceState s = self->rec->state;

        if (b->abi_minor < 4 || !b->share_queues) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_NOT_SUPPORTED,
                            "backend %s cannot share a device's queues", b->name);
                return FALSE;
        }
        if (self->destroy_queued || self->peer) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_BUSY, "device %s %s", self->rec->id,
                            self->peer ? "already shares its queues" : "is being destroyed");
                return FALSE;
        }
        if (s != NLC_DEVICE_STATE_CREATED && s != NLC_DEVICE_STATE_ACTIVE) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_STATE,
                            "cannot share the queues of device %s: it is %s, and sharing needs "
                            "it created or active",
                            self->rec->id, nlc_device_state_to_string(s));
                return FALSE;
        }
        return TRUE;
}

gboolean
nlc_device_share_queues(NlcDevice *self, NlcDevice *sharer, GError **error)
{
        return self->backend->share_queues(&self->bdev, &sharer->bdev, error);
}

void
nlc_device_adopt_queues(NlcDevice *self, int pid)
{
        const NlcBackend *b = self->backend;
        NlcDeviceState s = self->rec->state;
        int r;

        if (self->bdev.queue_fds->len > 0 || b->abi_minor < 4 || !b->adopt_queues ||
            (s != NLC_DEVICE_STATE_CREATED && s != NLC_DEVICE_STATE_ACTIVE))
                return;
        r = b->adopt_queues(&self->bdev, pid);
        if (r < 0)
                nlc_dev_warning(self, "cannot take the queues QEMU (pid %d) holds: %s", pid,
                                g_strerror(-r));
        else if (r > 0)
                nlc_dev_message(self, "took %d queue%s from QEMU (pid %d)", r, r == 1 ? "" : "s",
                                pid);
}

gboolean
nlc_device_journal_shared(NlcDevice *self, GError **error)
{
        g_autofree char *reason =
                g_strdup_printf("shares the tap of device %s", nlc_device_get_peer_id(self));

        if (self->rec->state == NLC_DEVICE_STATE_NONE)
                return set_state(self, NLC_DEVICE_STATE_CREATED, NLC_OP_NOTIFY, reason, error);
        return persist_props(&self->bdev, error);
}

gint64
nlc_device_get_activated_usec(NlcDevice *self)
{
        return self->rec->activated_usec;
}

void
nlc_device_set_activation_seq(NlcDevice *self, guint64 seq)
{
        self->rec->activated_seq = seq;
}

guint64
nlc_device_get_activation_seq(NlcDevice *self)
{
        return self->rec->activated_seq;
}

gboolean
nlc_device_verify(NlcDevice *self, const char *reason, GError **error)
{
        if (self->rec->state == NLC_DEVICE_STATE_FREED)
                return TRUE;
        sync_properties(self);
        return verify_with_kernel(self, reason, error);
}

gboolean
nlc_device_restore(NlcDevice *self, GError **error)
{
        return nlc_device_roll_forward(self, error) && nlc_device_verify(self, "restored", error);
}

static gboolean
persist_props(NlcBackendDevice *bdev, GError **error)
{
        NlcDevice *self = (NlcDevice *) ((char *) bdev - G_STRUCT_OFFSET(NlcDevice, bdev));

        return nlc_journal_write(self->journal, self->rec, error);
}

/* The profile the backend accepted at allocate, from the journalled
 * options. */
static void
read_profile(NlcDevice *self)
{
        g_auto(GVariantDict) opts = G_VARIANT_DICT_INIT(self->rec->options);
        g_autoptr(GError) error = NULL;

        if (!self->rec->options)
                return;
        if (!nlc_port_profile_from_options(&opts, &self->profile, &error)) {
                nlc_dev_warning(self, "journalled port profile unreadable: %s", error->message);
                return;
        }
        self->has_profile = self->profile.kind != NLC_PORT_PROFILE_NONE;
}

NlcDevice *
nlc_device_new(NlcJournalRecord *record, const NlcBackend *backend, NlcJournal *journal,
               const char *runtime_dir)
{
        NlcDevice *self = g_object_new(NLC_TYPE_DEVICE, NULL);

        self->rec = record;
        if (!self->rec->props)
                self->rec->props = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        self->backend = backend;
        self->journal = journal;
        self->object_path = g_strconcat(NLC_DBUS_DEVICE_PATH_PREFIX, record->id, NULL);
        self->bdev.id = record->id;
        self->bdev.instance = record->instance;
        self->bdev.mac_str = record->mac;
        for (int i = 0; i < 6; i++)
                self->bdev.mac[i] = (guint8) g_ascii_strtoull(record->mac + i * 3, NULL, 16);
        self->bdev.props = record->props;
        self->bdev.runtime_dir = runtime_dir;
        self->bdev.persist = persist_props;
        self->bdev.state = record->state;
        read_profile(self);
        sync_properties(self);
        return self;
}

static void
nlc_device_init(NlcDevice *self)
{
        self->bdev.queue_fds = g_array_new(FALSE, FALSE, sizeof(int));
        self->port_state = self->published_state = NLC_PORT_STATE_DISABLED;
        self->port_reason = self->kernel_reason = NLC_PORT_REASON_NO_PORT;
        self->ready_in_usec = self->kernel_ready_in_usec = G_MAXUINT64;
        nlc_dbus_device_set_port_state(NLC_DBUS_DEVICE(self), "disabled");
        nlc_dbus_device_set_port_reason(NLC_DBUS_DEVICE(self),
                                        nlc_port_reason_to_string(NLC_PORT_REASON_NO_PORT));
        nlc_dbus_device_set_ready_in_usec(NLC_DBUS_DEVICE(self), G_MAXUINT64);
}

static void
nlc_device_finalize(GObject *object)
{
        NlcDevice *self = NLC_DEVICE(object);

        close_queues(self);
        g_array_unref(self->bdev.queue_fds);
        nlc_port_association_free(self->association);
        nlc_journal_record_free(self->rec);
        g_free(self->object_path);
        G_OBJECT_CLASS(nlc_device_parent_class)->finalize(object);
}

/* ReadyInUsec is computed when read, so a client polling it sees it count
 * down. GObject routes a property to the class that installed it, hence the
 * override; stores still go to the skeleton, which emits PropertiesChanged. */
static void
nlc_device_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
        if (prop_id == PROP_READY_IN_USEC)
                g_value_set_uint64(value, ready_in_usec_now(NLC_DEVICE(object)));
        else
                G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
}

static void
nlc_device_set_property(GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
        if (prop_id == PROP_READY_IN_USEC)
                G_OBJECT_CLASS(nlc_device_parent_class)
                        ->set_property(object, skeleton_ready_in_usec_id, value,
                                       ready_in_usec_pspec);
        else
                G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
}

/* gdbus-codegen numbers the skeleton's properties 1..N in the order of the
 * XML (its set_property indexes by that); GObject hides the override's id
 * behind the interface's pspec, so it is derived from the interface info. */
static guint
skeleton_property_id(const char *dbus_name)
{
        GDBusInterfaceInfo *info = nlc_dbus_device_interface_info();

        for (guint i = 0; info->properties && info->properties[i]; i++)
                if (g_str_equal(info->properties[i]->name, dbus_name))
                        return i + 1;
        g_error("org.netlifecd1.Device has no property %s", dbus_name);
}

static void
nlc_device_class_init(NlcDeviceClass *klass)
{
        GObjectClass *object_class = G_OBJECT_CLASS(klass);

        object_class->finalize = nlc_device_finalize;
        skeleton_ready_in_usec_id = skeleton_property_id("ReadyInUsec");
        ready_in_usec_pspec = g_object_class_find_property(object_class, "ready-in-usec");
        object_class->get_property = nlc_device_get_property;
        object_class->set_property = nlc_device_set_property;
        g_object_class_override_property(object_class, PROP_READY_IN_USEC, "ready-in-usec");
        signals[SIGNAL_FREED] = g_signal_new("freed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST,
                                             0, NULL, NULL, NULL, G_TYPE_NONE, 0);
        signals[SIGNAL_READY_CHANGED] =
                g_signal_new("ready-changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
                             NULL, NULL, G_TYPE_NONE, 0);
        nlc_authz_hook_class(G_DBUS_INTERFACE_SKELETON_CLASS(klass));
}

const char *
nlc_device_get_id(NlcDevice *self)
{
        return self->rec->id;
}

const char *
nlc_device_get_object_path(NlcDevice *self)
{
        return self->object_path;
}

const char *
nlc_device_get_instance(NlcDevice *self)
{
        return self->rec->instance;
}

const char *
nlc_device_get_mac(NlcDevice *self)
{
        return self->rec->mac;
}

const char *
nlc_device_get_backend_name(NlcDevice *self)
{
        return self->rec->backend;
}

const char *
nlc_device_get_ifname(NlcDevice *self)
{
        const char *ifname = nlc_backend_device_get_prop(&self->bdev, "ifname");

        return ifname && *ifname ? ifname : NULL;
}

const char *
nlc_device_get_bridge(NlcDevice *self)
{
        const char *bridge = nlc_backend_device_get_prop(&self->bdev, "bridge");

        return bridge && *bridge ? bridge : NULL;
}

const char *
nlc_device_get_lower_link(NlcDevice *self)
{
        const char *link = nlc_backend_device_get_prop(&self->bdev, "link");

        return link && *link ? link : NULL;
}

guint32
nlc_device_get_owner_uid(NlcDevice *self)
{
        return self->rec->owner_uid;
}

const char *
nlc_device_get_carrier_link(NlcDevice *self)
{
        const NlcBackend *b = self->backend;
        const char *link = NULL;

        if (nlc_device_get_bridge(self))
                return NULL;
        if (b->abi_minor >= 5 && b->carrier_link)
                link = b->carrier_link(&self->bdev);
        return link && *link ? link : nlc_device_get_ifname(self);
}

const guint8 *
nlc_device_get_mac_bytes(NlcDevice *self)
{
        return self->bdev.mac;
}

const char *
nlc_device_get_ifname_or_dash(NlcDevice *self)
{
        const char *ifname = nlc_backend_device_get_prop(&self->bdev, "ifname");

        return ifname && *ifname ? ifname : "-";
}

GVariant *
nlc_device_get_options(NlcDevice *self)
{
        return self->rec->options;
}

NlcDeviceState
nlc_device_get_state(NlcDevice *self)
{
        return self->rec->state;
}

gint64
nlc_device_get_allocated_usec(NlcDevice *self)
{
        return self->rec->allocated_usec;
}
