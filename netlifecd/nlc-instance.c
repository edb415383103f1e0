/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "nlc-authz.h"
#include "nlc-error.h"
#include "nlc-instance.h"
#include "nlc-lazy-property.h"

struct _NlcInstance {
        NlcDbusInstanceSkeleton parent;
        char *name;
        char *object_path;
        GPtrArray *devices; /* NlcDevice, referenced */
        /* Each device → the COUNTS_* bits it counts for, so a device's
         * change costs O(1), not a walk over the instance. */
        GHashTable *counted;
        guint n_ready, n_active;
        /* MAC (lower case) → how many of its devices with it are ready:
         * ReadyMacs, what a migration's source checks its NICs against. */
        GHashTable *ready_macs;
        GList *waiters;         /* Waiter */
        NlcLazyProperties lazy; /* Devices, ReadyMacs, NotReady */
        guint32 owner_uid;      /* who allocated its first device */
        char *qemu_socket;      /* AttachQemu's, or NULL */
        /* Moves at every activation for a running guest and every
         * deactivation: an association that ends after the guest stopped
         * again does not activate its device. */
        guint run_generation;
};

enum { SIGNAL_READY_MACS_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

typedef struct {
        NlcInstance *instance;
        GDBusMethodInvocation *invocation;
        guint timeout_id;
} Waiter;

static void nlc_instance_iface_init(NlcDbusInstanceIface *iface);

G_DEFINE_TYPE_WITH_CODE(NlcInstance, nlc_instance, NLC_DBUS_TYPE_INSTANCE_SKELETON,
                        G_IMPLEMENT_INTERFACE(NLC_DBUS_TYPE_INSTANCE, nlc_instance_iface_init))

static void
finish_waiter(Waiter *w, gboolean ready)
{
        w->instance->waiters = g_list_remove(w->instance->waiters, w);
        if (w->timeout_id)
                g_source_remove(w->timeout_id);
        nlc_dbus_instance_complete_wait_ready(NLC_DBUS_INSTANCE(w->instance), w->invocation, ready);
        g_free(w);
}

enum { COUNTS_READY = 1 << 0, COUNTS_ACTIVE = 1 << 1 };

static guint
counts_of(NlcDevice *d)
{
        return (nlc_device_get_ready(d) ? COUNTS_READY : 0) |
               (nlc_device_get_state(d) == NLC_DEVICE_STATE_ACTIVE ? COUNTS_ACTIVE : 0);
}

/* One more (@delta 1) or one fewer (-1) ready device has @mac; a MAC that
 * joins or leaves the set is announced. */
static void
count_ready_mac(NlcInstance *self, NlcDevice *device, int delta)
{
        g_autofree char *mac = g_ascii_strdown(nlc_device_get_mac(device), -1);
        guint n = GPOINTER_TO_UINT(g_hash_table_lookup(self->ready_macs, mac)) + delta;

        if (n)
                g_hash_table_insert(self->ready_macs, g_steal_pointer(&mac), GUINT_TO_POINTER(n));
        else
                g_hash_table_remove(self->ready_macs, mac);
        if (n == 0 || (n == 1 && delta > 0)) {
                nlc_lazy_properties_invalidate(&self->lazy, "ReadyMacs");
                g_signal_emit(self, signals[SIGNAL_READY_MACS_CHANGED], 0);
        }
}

/* @device now counts for @counts (0 when it leaves). */
static void
count(NlcInstance *self, NlcDevice *device, guint counts)
{
        guint old = GPOINTER_TO_UINT(g_hash_table_lookup(self->counted, device));
        int ready_delta = !!(counts & COUNTS_READY) - !!(old & COUNTS_READY);

        self->n_ready += ready_delta;
        self->n_active += !!(counts & COUNTS_ACTIVE) - !!(old & COUNTS_ACTIVE);
        if (ready_delta)
                count_ready_mac(self, device, ready_delta);
}

static int
compare_strings(gconstpointer a, gconstpointer b)
{
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

GStrv
nlc_instance_dup_ready_macs(NlcInstance *self)
{
        guint n = 0;
        GStrv macs = (GStrv) g_hash_table_get_keys_as_array(self->ready_macs, &n);

        /* The table's keys, copied: the array alone was the table's. */
        for (guint i = 0; i < n; i++)
                macs[i] = g_strdup(macs[i]);
        qsort(macs, n, sizeof *macs, compare_strings);
        return macs;
}

static gboolean
all_devices(NlcInstance *self, guint n)
{
        return self->devices->len > 0 && n == self->devices->len;
}

static GVariant *
build_not_ready(NlcInstance *self)
{
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE("a(sss)"));
        for (guint i = 0; i < self->devices->len; i++) {
                NlcDevice *d = self->devices->pdata[i];
                const char *ifname = nlc_device_get_ifname(d);

                if (!nlc_device_get_ready(d))
                        g_variant_builder_add(
                                &b, "(sss)", nlc_device_get_mac(d), ifname ? ifname : "",
                                nlc_port_reason_to_string(nlc_device_get_port_reason(d)));
        }
        return g_variant_builder_end(&b);
}

GVariant *
nlc_instance_dup_not_ready(NlcInstance *self)
{
        return g_variant_ref_sink(build_not_ready(self));
}

/* Devices and ReadyMacs, built when a client reads them
 * (nlc-lazy-property.h). */
static GVariant *
build_lazy(GDBusInterfaceSkeleton *skeleton, const char *name)
{
        NlcInstance *self = NLC_INSTANCE(skeleton);
        GVariantBuilder b;

        if (g_str_equal(name, "ReadyMacs")) {
                g_auto(GStrv) macs = nlc_instance_dup_ready_macs(self);

                return g_variant_new_strv((const char *const *) macs, -1);
        }
        if (g_str_equal(name, "NotReady"))
                return build_not_ready(self);

        g_variant_builder_init(&b, G_VARIANT_TYPE_OBJECT_PATH_ARRAY);
        for (guint i = 0; i < self->devices->len; i++)
                g_variant_builder_add(&b, "o", nlc_device_get_object_path(self->devices->pdata[i]));
        return g_variant_builder_end(&b);
}

static void
recompute(NlcInstance *self)
{
        NlcDbusInstance *skel = NLC_DBUS_INSTANCE(self);
        gboolean ready = all_devices(self, self->n_ready);

        nlc_dbus_instance_set_ready(skel, ready);
        nlc_dbus_instance_set_active(skel, all_devices(self, self->n_active));
        g_dbus_interface_skeleton_flush(G_DBUS_INTERFACE_SKELETON(self));
        while (ready && self->waiters)
                finish_waiter(self->waiters->data, TRUE);
}

static gboolean
on_wait_timeout(gpointer data)
{
        Waiter *w = data;

        w->timeout_id = 0;
        finish_waiter(w, FALSE);
        return G_SOURCE_REMOVE;
}

static gboolean
handle_wait_ready(NlcDbusInstance *skel, GDBusMethodInvocation *invocation, guint timeout_ms)
{
        NlcInstance *self = NLC_INSTANCE(skel);
        Waiter *w;

        if (nlc_dbus_instance_get_ready(skel)) {
                nlc_dbus_instance_complete_wait_ready(skel, invocation, TRUE);
                return G_DBUS_METHOD_INVOCATION_HANDLED;
        }
        w = g_new0(Waiter, 1);
        w->instance = self;
        w->invocation = invocation;
        w->timeout_id = g_timeout_add(timeout_ms, on_wait_timeout, w);
        self->waiters = g_list_append(self->waiters, w);
        return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* Every device is created or already active. */
static gboolean
check_activatable(NlcInstance *self, GError **error)
{
        for (guint i = 0; i < self->devices->len; i++) {
                NlcDevice *d = self->devices->pdata[i];
                NlcDeviceState st = nlc_device_get_state(d);

                if (st != NLC_DEVICE_STATE_CREATED && st != NLC_DEVICE_STATE_ACTIVE) {
                        g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_STATE,
                                    "cannot activate instance %s: device %s is %s", self->name,
                                    nlc_device_get_id(d), nlc_device_state_to_string(st));
                        return FALSE;
                }
        }
        return TRUE;
}

/* Runs @op on every device that is not already where it leads; refuses,
 * changing nothing, when one of them cannot take it. */
static gboolean
run_on_all(NlcInstance *self, NlcOp op, NlcDeviceState ok_from, NlcDeviceState target,
           GError **error)
{
        if (op == NLC_OP_ACTIVATE && !check_activatable(self, error))
                return FALSE;
        for (guint i = 0; i < self->devices->len; i++) {
                NlcDevice *d = self->devices->pdata[i];

                if (nlc_device_get_state(d) == ok_from && !nlc_device_run(d, op, error))
                        return FALSE;
        }
        return TRUE;
}

gboolean
nlc_instance_activate(NlcInstance *self, GError **error)
{
        return run_on_all(self, NLC_OP_ACTIVATE, NLC_DEVICE_STATE_CREATED, NLC_DEVICE_STATE_ACTIVE,
                          error);
}

/* A device of a running guest whose port profile the switch had not
 * associated: associated first, then activated — unless the guest stopped
 * in the meantime. */
typedef struct {
        NlcInstance *instance; /* referenced */
        guint generation;
} PendingActivation;

static void
on_running_associated(GObject *source, GAsyncResult *result, gpointer data)
{
        PendingActivation *p = data;
        NlcDevice *d = NLC_DEVICE(source);
        g_autoptr(GError) error = NULL;

        if (!nlc_device_associate_finish(result, &error))
                g_message("instance %s: device %s not activated for the running guest: %s",
                          p->instance->name, nlc_device_get_id(d), error->message);
        else if (p->generation != p->instance->run_generation)
                g_message("instance %s: device %s associated, but the guest stopped meanwhile",
                          p->instance->name, nlc_device_get_id(d));
        else if (nlc_device_get_state(d) == NLC_DEVICE_STATE_CREATED &&
                 !nlc_device_run(d, NLC_OP_ACTIVATE, &error))
                g_message("instance %s: device %s not activated for the running guest: %s",
                          p->instance->name, nlc_device_get_id(d), error->message);
        g_object_unref(p->instance);
        g_free(p);
}

/* The guest runs here, but another instance's device still holds the MAC:
 * a localhost upgrade's new QEMU whose RESUME was read before the old
 * one's STOP (two monitors: their events come in either order). The
 * device activates as soon as the MAC is free — retried every 20 ms, for
 * 2 s at most, while the guest keeps running. */
typedef struct {
        NlcInstance *instance; /* referenced */
        NlcDevice *device;     /* referenced */
        guint generation;
        guint tries;
} RetryActivation;

#define RETRY_ACTIVATION_MS    20
#define RETRY_ACTIVATION_TRIES 100

static gboolean
on_retry_activation(gpointer data)
{
        RetryActivation *r = data;
        g_autoptr(GError) error = NULL;

        /* Not when the guest stopped again, or someone else decided. */
        if (r->generation == r->instance->run_generation &&
            nlc_device_get_state(r->device) == NLC_DEVICE_STATE_CREATED) {
                if (nlc_device_run(r->device, NLC_OP_ACTIVATE, &error))
                        g_message("instance %s: device %s activated once the MAC was free "
                                  "(after %u ms)",
                                  r->instance->name, nlc_device_get_id(r->device),
                                  (r->tries + 1) * RETRY_ACTIVATION_MS);
                else if (g_error_matches(error, NLC_ERROR, NLC_ERROR_CONFLICT) &&
                         ++r->tries < RETRY_ACTIVATION_TRIES)
                        return G_SOURCE_CONTINUE;
                else
                        g_warning("instance %s: the guest runs; device %s not activated: %s",
                                  r->instance->name, nlc_device_get_id(r->device), error->message);
        }
        g_object_unref(r->device);
        g_object_unref(r->instance);
        g_free(r);
        return G_SOURCE_REMOVE;
}

static void
retry_when_free(NlcInstance *self, NlcDevice *device, const char *why)
{
        RetryActivation *r = g_new0(RetryActivation, 1);

        g_message("instance %s: the guest runs; device %s waits for its MAC (%s)", self->name,
                  nlc_device_get_id(device), why);
        r->instance = g_object_ref(self);
        r->device = g_object_ref(device);
        r->generation = self->run_generation;
        g_timeout_add(RETRY_ACTIVATION_MS, on_retry_activation, r);
}

guint
nlc_instance_activate_available(NlcInstance *self, GString *skipped)
{
        guint activated = 0;

        self->run_generation++;
        for (guint i = 0; i < self->devices->len; i++) {
                NlcDevice *d = self->devices->pdata[i];
                NlcDeviceState st = nlc_device_get_state(d);
                g_autoptr(GError) error = NULL;

                if (st == NLC_DEVICE_STATE_ACTIVE)
                        continue;
                if (nlc_device_needs_association(d)) {
                        PendingActivation *p = g_new(PendingActivation, 1);

                        p->instance = g_object_ref(self);
                        p->generation = self->run_generation;
                        nlc_device_associate_async(d, on_running_associated, p);
                        continue;
                }
                if (st == NLC_DEVICE_STATE_CREATED && nlc_device_run(d, NLC_OP_ACTIVATE, &error)) {
                        activated++;
                        continue;
                }
                if (g_error_matches(error, NLC_ERROR, NLC_ERROR_CONFLICT)) {
                        retry_when_free(self, d, error->message);
                        continue;
                }
                g_string_append_printf(skipped, "%sdevice %s (%s)", skipped->len ? "; " : "",
                                       nlc_device_get_id(d),
                                       error ? error->message : nlc_device_state_to_string(st));
        }
        return activated;
}

gboolean
nlc_instance_get_active_ready(NlcInstance *self)
{
        guint active = 0;

        for (guint i = 0; i < self->devices->len; i++) {
                NlcDevice *d = self->devices->pdata[i];

                if (nlc_device_get_state(d) != NLC_DEVICE_STATE_ACTIVE)
                        continue;
                if (!nlc_device_get_ready(d))
                        return FALSE;
                active++;
        }
        return active > 0;
}

gboolean
nlc_instance_deactivate(NlcInstance *self, GError **error)
{
        self->run_generation++;
        return run_on_all(self, NLC_OP_DEACTIVATE, NLC_DEVICE_STATE_ACTIVE,
                          NLC_DEVICE_STATE_CREATED, error);
}

void
nlc_instance_adopt_queues(NlcInstance *self, int qemu_pid)
{
        for (guint i = 0; i < self->devices->len; i++)
                nlc_device_adopt_queues(self->devices->pdata[i], qemu_pid);
}

guint
nlc_instance_hand_over_shared(NlcInstance *self)
{
        guint handed = 0;

        for (guint i = 0; i < self->devices->len; i++) {
                NlcDevice *d = self->devices->pdata[i];
                NlcDevice *peer = nlc_device_get_peer(d);
                g_autoptr(GError) error = NULL;

                if (nlc_device_get_state(d) != NLC_DEVICE_STATE_ACTIVE || !peer ||
                    nlc_device_get_state(peer) != NLC_DEVICE_STATE_CREATED)
                        continue;
                /* The same-port handover of activate: the peer's queues take
                 * the traffic, this device drops to created. */
                if (nlc_device_run(peer, NLC_OP_ACTIVATE, &error))
                        handed++;
                else
                        g_warning("instance %s: cannot hand device %s's tap to device %s: %s",
                                  self->name, nlc_device_get_id(d), nlc_device_get_id(peer),
                                  error->message);
        }
        return handed;
}

gboolean
nlc_instance_get_ready(NlcInstance *self)
{
        return nlc_dbus_instance_get_ready(NLC_DBUS_INSTANCE(self));
}

#define TIMELINE_MAX 64

void
nlc_instance_record(NlcInstance *self, const char *what)
{
        GVariant *old = nlc_dbus_instance_get_guest_timeline(NLC_DBUS_INSTANCE(self));
        gsize n = old ? g_variant_n_children(old) : 0;
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE("a(st)"));
        for (gsize i = n >= TIMELINE_MAX ? n - TIMELINE_MAX + 1 : 0; i < n; i++) {
                g_autoptr(GVariant) entry = g_variant_get_child_value(old, i);

                g_variant_builder_add_value(&b, entry);
        }
        g_variant_builder_add(&b, "(st)", what, (guint64) g_get_real_time());
        nlc_dbus_instance_set_guest_timeline(NLC_DBUS_INSTANCE(self), g_variant_builder_end(&b));
        g_dbus_interface_skeleton_flush(G_DBUS_INTERFACE_SKELETON(self));
}

/* The path names another user's guest: the bus sees it only in a Get of
 * the owner or an administrator (nlc_authz_hook_private_property); what is
 * published is whether the daemon follows a QEMU. */
void
nlc_instance_set_qemu_socket(NlcInstance *self, const char *path)
{
        g_free(self->qemu_socket);
        self->qemu_socket = g_strdup(path && *path ? path : NULL);
        nlc_dbus_instance_set_follows_guest(NLC_DBUS_INSTANCE(self), self->qemu_socket != NULL);
        g_dbus_interface_skeleton_flush(G_DBUS_INTERFACE_SKELETON(self));
}

const char *
nlc_instance_get_qemu_socket(NlcInstance *self)
{
        return self->qemu_socket;
}

static guint32
owner_of(GDBusInterfaceSkeleton *skeleton)
{
        return NLC_INSTANCE(skeleton)->owner_uid;
}

static GVariant *
reveal_qemu_socket(GDBusInterfaceSkeleton *skeleton)
{
        const char *path = NLC_INSTANCE(skeleton)->qemu_socket;

        return g_variant_new_string(path ? path : "");
}

static const NlcPrivateProperty private_qemu_socket = {
        .name = "QemuSocket",
        .owner = owner_of,
        .reveal = reveal_qemu_socket,
};

/* Instance.Activate of an instance with port profiles: every profile
 * associated at once (in parallel), then the activation; a profile the
 * switch did not associate fails the call, and those this call associated
 * are disassociated again. */
typedef struct {
        NlcInstance *instance; /* referenced */
        GTask *task;           /* answered with the outcome */
        gboolean activate;     /* Activate; else the association alone */
        GPtrArray *associated; /* NlcDevice, referenced */
        GError *error;         /* the first failure, with the others appended */
        guint pending;
} Activation;

static void
activation_finish(Activation *a)
{
        NlcInstance *self = a->instance;

        if (!a->error && a->activate)
                run_on_all(self, NLC_OP_ACTIVATE, NLC_DEVICE_STATE_CREATED, NLC_DEVICE_STATE_ACTIVE,
                           &a->error);
        if (a->error) {
                for (guint i = 0; i < a->associated->len; i++) {
                        NlcDevice *d = a->associated->pdata[i];

                        if (nlc_device_get_state(d) != NLC_DEVICE_STATE_ACTIVE)
                                nlc_device_disassociate(d);
                }
                g_task_return_error(a->task, a->error);
        } else {
                g_task_return_boolean(a->task, TRUE);
        }
        g_object_unref(a->task);
        g_ptr_array_unref(a->associated);
        g_object_unref(self);
        g_free(a);
}

static void
on_device_associated(GObject *source, GAsyncResult *result, gpointer data)
{
        Activation *a = data;
        g_autoptr(GError) error = NULL;

        if (nlc_device_associate_finish(result, &error))
                g_ptr_array_add(a->associated, g_object_ref(source));
        else if (!a->error)
                a->error = g_steal_pointer(&error);
        else
                g_prefix_error(&a->error, "%s; ", error->message);
        if (--a->pending == 0)
                activation_finish(a);
}

/* Every device's profile associated (in parallel), then, with @activate,
 * every device activated; on a failure those associated here are
 * disassociated again. */
static void
associate_all_async(NlcInstance *self, gboolean activate, GAsyncReadyCallback callback,
                    gpointer data)
{
        Activation *a = g_new0(Activation, 1);

        a->instance = g_object_ref(self);
        a->task = g_task_new(self, NULL, callback, data);
        a->activate = activate;
        a->associated = g_ptr_array_new_with_free_func(g_object_unref);
        a->pending = 1; /* this function's own, so none finishes early */
        for (guint i = 0; i < self->devices->len; i++) {
                NlcDevice *d = self->devices->pdata[i];

                if (!nlc_device_needs_association(d))
                        continue;
                a->pending++;
                nlc_device_associate_async(d, on_device_associated, a);
        }
        if (--a->pending == 0)
                activation_finish(a);
}

gboolean
nlc_instance_has_port_profile(NlcInstance *self)
{
        for (guint i = 0; i < self->devices->len; i++)
                if (nlc_device_has_port_profile(self->devices->pdata[i]))
                        return TRUE;
        return FALSE;
}

void
nlc_instance_associate_async(NlcInstance *self, GAsyncReadyCallback callback, gpointer data)
{
        associate_all_async(self, FALSE, callback, data);
}

gboolean
nlc_instance_associate_finish(NlcInstance *self, GAsyncResult *result, GError **error)
{
        return g_task_propagate_boolean(G_TASK(result), error);
}

static void
on_activated(GObject *source, GAsyncResult *result, gpointer data)
{
        GDBusMethodInvocation *invocation = data;
        g_autoptr(GError) error = NULL;

        if (!g_task_propagate_boolean(G_TASK(result), &error))
                g_dbus_method_invocation_return_gerror(invocation, error);
        else if (g_str_equal(g_dbus_method_invocation_get_method_name(invocation), "Activate"))
                nlc_dbus_instance_complete_activate(NLC_DBUS_INSTANCE(source), invocation);
        else
                nlc_dbus_instance_complete_associate_port_profiles(NLC_DBUS_INSTANCE(source),
                                                                   invocation);
}

static gboolean
handle_activate(NlcDbusInstance *skel, GDBusMethodInvocation *invocation)
{
        NlcInstance *self = NLC_INSTANCE(skel);
        g_autoptr(GError) error = NULL;

        if (!check_activatable(self, &error)) {
                g_dbus_method_invocation_return_gerror(invocation, error);
                return G_DBUS_METHOD_INVOCATION_HANDLED;
        }
        associate_all_async(self, TRUE, on_activated, invocation);
        return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_associate_port_profiles(NlcDbusInstance *skel, GDBusMethodInvocation *invocation)
{
        associate_all_async(NLC_INSTANCE(skel), FALSE, on_activated, invocation);
        return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_deactivate(NlcDbusInstance *skel, GDBusMethodInvocation *invocation)
{
        g_autoptr(GError) error = NULL;

        if (!run_on_all(NLC_INSTANCE(skel), NLC_OP_DEACTIVATE, NLC_DEVICE_STATE_ACTIVE,
                        NLC_DEVICE_STATE_CREATED, &error)) {
                g_dbus_method_invocation_return_gerror(invocation, error);
                return G_DBUS_METHOD_INVOCATION_HANDLED;
        }
        nlc_dbus_instance_complete_deactivate(skel, invocation);
        return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
nlc_instance_iface_init(NlcDbusInstanceIface *iface)
{
        iface->handle_wait_ready = handle_wait_ready;
        iface->handle_activate = handle_activate;
        iface->handle_associate_port_profiles = handle_associate_port_profiles;
        iface->handle_deactivate = handle_deactivate;
}

static void
device_changed(NlcInstance *self, NlcDevice *device)
{
        guint counts = counts_of(device);

        count(self, device, counts);
        g_hash_table_insert(self->counted, device, GUINT_TO_POINTER(counts));
        recompute(self);
}

static void
on_ready_changed(NlcDevice *device, NlcInstance *self)
{
        device_changed(self, device);
}

static void
on_state_changed(NlcDevice *device, const char *old_state, const char *new_state,
                 const char *reason, NlcInstance *self)
{
        device_changed(self, device);
}

/* A port's state or reason changed: NotReady may say otherwise now. */
static void
on_port_state_changed(NlcDevice *device, const char *old_state, const char *new_state,
                      const char *reason, NlcInstance *self)
{
        nlc_lazy_properties_invalidate(&self->lazy, "NotReady");
}

void
nlc_instance_add_device(NlcInstance *self, NlcDevice *device)
{
        if (g_hash_table_contains(self->counted, device))
                return;
        g_ptr_array_add(self->devices, g_object_ref(device));
        g_signal_connect(device, "ready-changed", G_CALLBACK(on_ready_changed), self);
        g_signal_connect(device, "state-changed", G_CALLBACK(on_state_changed), self);
        g_signal_connect(device, "port-state-changed", G_CALLBACK(on_port_state_changed), self);
        nlc_lazy_properties_invalidate(&self->lazy, "Devices");
        nlc_lazy_properties_invalidate(&self->lazy, "NotReady");
        device_changed(self, device);
}

void
nlc_instance_remove_device(NlcInstance *self, NlcDevice *device)
{
        if (!g_hash_table_contains(self->counted, device))
                return;
        g_signal_handlers_disconnect_by_data(device, self);
        count(self, device, 0);
        g_hash_table_remove(self->counted, device);
        g_ptr_array_remove(self->devices, device);
        nlc_lazy_properties_invalidate(&self->lazy, "Devices");
        nlc_lazy_properties_invalidate(&self->lazy, "NotReady");
        recompute(self);
}

GPtrArray *
nlc_instance_get_devices(NlcInstance *self)
{
        return self->devices;
}

guint
nlc_instance_get_n_devices(NlcInstance *self)
{
        return self->devices->len;
}

const char *
nlc_instance_get_name(NlcInstance *self)
{
        return self->name;
}

const char *
nlc_instance_get_object_path(NlcInstance *self)
{
        return self->object_path;
}

NlcInstance *
nlc_instance_new(const char *name)
{
        NlcInstance *self = g_object_new(NLC_TYPE_INSTANCE, NULL);
        g_autofree char *escaped = g_dbus_escape_object_path(name);

        self->name = g_strdup(name);
        self->object_path = g_strconcat("/org/netlifecd1/instance/", escaped, NULL);
        nlc_dbus_instance_set_name(NLC_DBUS_INSTANCE(self), name);
        nlc_dbus_instance_set_qemu_socket(NLC_DBUS_INSTANCE(self), "");
        nlc_dbus_instance_set_guest_timeline(NLC_DBUS_INSTANCE(self),
                                             g_variant_new_array(G_VARIANT_TYPE("(st)"), NULL, 0));
        recompute(self);
        return self;
}

static void
nlc_instance_init(NlcInstance *self)
{
        self->devices = g_ptr_array_new_with_free_func(g_object_unref);
        self->counted = g_hash_table_new(NULL, NULL);
        self->ready_macs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        nlc_lazy_properties_init(&self->lazy, G_DBUS_INTERFACE_SKELETON(self));
}

static void
nlc_instance_dispose(GObject *object)
{
        NlcInstance *self = NLC_INSTANCE(object);

        while (self->waiters)
                finish_waiter(self->waiters->data, FALSE);
        for (guint i = 0; self->devices && i < self->devices->len; i++)
                g_signal_handlers_disconnect_by_data(self->devices->pdata[i], self);
        g_clear_pointer(&self->devices, g_ptr_array_unref);
        g_clear_pointer(&self->counted, g_hash_table_unref);
        g_clear_pointer(&self->ready_macs, g_hash_table_unref);
        nlc_lazy_properties_clear(&self->lazy);
        G_OBJECT_CLASS(nlc_instance_parent_class)->dispose(object);
}

static void
nlc_instance_finalize(GObject *object)
{
        NlcInstance *self = NLC_INSTANCE(object);

        g_free(self->name);
        g_free(self->object_path);
        g_free(self->qemu_socket);
        G_OBJECT_CLASS(nlc_instance_parent_class)->finalize(object);
}

static void
nlc_instance_class_init(NlcInstanceClass *klass)
{
        GObjectClass *object_class = G_OBJECT_CLASS(klass);
        static const char *const lazy[] = { "Devices", "ReadyMacs", "NotReady", NULL };

        object_class->dispose = nlc_instance_dispose;
        object_class->finalize = nlc_instance_finalize;
        nlc_lazy_properties_install(G_DBUS_INTERFACE_SKELETON_CLASS(klass), lazy, build_lazy);
        /* The set of ReadyMacs changed (a MAC joined or left it). */
        signals[SIGNAL_READY_MACS_CHANGED] =
                g_signal_new("ready-macs-changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
                             NULL, NULL, NULL, G_TYPE_NONE, 0);
        nlc_authz_hook_class(G_DBUS_INTERFACE_SKELETON_CLASS(klass));
        nlc_authz_hook_private_property(G_DBUS_INTERFACE_SKELETON_CLASS(klass),
                                        &private_qemu_socket);
}

void
nlc_instance_set_owner_uid(NlcInstance *self, guint32 uid)
{
        self->owner_uid = uid;
}

guint32
nlc_instance_get_owner_uid(NlcInstance *self)
{
        return self->owner_uid;
}
