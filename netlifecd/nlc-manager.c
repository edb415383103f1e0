/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "nlc-backends.h"
#include "nlc-dbus-names.h"
#include "nlc-device-fallback.h"
#include "nlc-destroy-batch.h"
#include "nlc-device.h"
#include "nlc-error.h"
#include "nlc-guest.h"
#include "nlc-instance.h"
#include "nlc-journal.h"
#include "nlc-log.h"
#include "nlc-manager.h"
#include "nlc-mac-registry.h"
#include "nlc-migration.h"
#include "nlc-names.h"
#include "nlc-netlink.h"
#include "nlc-topology.h"

struct _NlcManager {
        NlcDbusManagerSkeleton parent;
        NlcJournal *journal;
        NlcConfig host;
        char *runtime_dir;
        GHashTable *devices;    /* id → NlcDevice */
        GHashTable *by_ifname;  /* interface name → NlcDevice (borrowed) */
        GHashTable *instances;  /* name → NlcInstance */
        NlcMacRegistry *macs;   /* who holds each guest MAC (nlc-mac-registry.h) */
        GHashTable *guests;     /* instance name → NlcGuest (AttachQemu) */
        GHashTable *migrations; /* id → NlcMigration (kept after they end, for their record) */
        guint64 next_migration_id;
        NlcTopology *topology;
        NlcDestroyBatch *destroy_batch;
        GDBusObjectManagerServer *object_manager;
        GDBusConnection *connection;
        guint fallback_id;
};

static void nlc_manager_iface_init(NlcDbusManagerIface *iface);

G_DEFINE_TYPE_WITH_CODE(NlcManager, nlc_manager, NLC_DBUS_TYPE_MANAGER_SKELETON,
                        G_IMPLEMENT_INTERFACE(NLC_DBUS_TYPE_MANAGER, nlc_manager_iface_init))

static void
export_device(NlcManager *self, NlcDevice *device)
{
        g_autoptr(NlcDbusObjectSkeleton) object =
                nlc_dbus_object_skeleton_new(nlc_device_get_object_path(device));

        nlc_dbus_object_skeleton_set_device(object, NLC_DBUS_DEVICE(device));
        g_dbus_object_manager_server_export(self->object_manager, G_DBUS_OBJECT_SKELETON(object));
}

static void
export_skeleton(NlcManager *self, const char *path, gpointer iface,
                void (*set)(NlcDbusObjectSkeleton *, gpointer))
{
        g_autoptr(NlcDbusObjectSkeleton) object = nlc_dbus_object_skeleton_new(path);

        set(object, iface);
        g_dbus_object_manager_server_export(self->object_manager, G_DBUS_OBJECT_SKELETON(object));
}

/* Set over the bus by the hypervisor driver: journalled by instance name. */
static void
on_allow_postcopy_changed(NlcInstance *instance, GParamSpec *pspec, NlcManager *self)
{
        gboolean allow = nlc_dbus_instance_get_allow_postcopy(NLC_DBUS_INSTANCE(instance));
        g_autoptr(GError) error = NULL;

        g_message("instance %s: post-copy %s", nlc_instance_get_name(instance),
                  allow ? "allowed" : "not allowed");
        if (!nlc_journal_set_instance_key(self->journal, nlc_instance_get_name(instance),
                                          "allow-postcopy", allow ? NULL : "false", &error))
                g_warning("instance %s: %s", nlc_instance_get_name(instance), error->message);
}

static void
join_instance(NlcManager *self, NlcDevice *device)
{
        const char *name = nlc_device_get_instance(device);
        NlcInstance *instance = g_hash_table_lookup(self->instances, name);

        if (!instance) {
                g_autofree char *allow =
                        nlc_journal_get_instance_key(self->journal, name, "allow-postcopy");

                instance = nlc_instance_new(name);
                nlc_dbus_instance_set_allow_postcopy(NLC_DBUS_INSTANCE(instance),
                                                     g_strcmp0(allow, "false") != 0);
                g_signal_connect(instance, "notify::allow-postcopy",
                                 G_CALLBACK(on_allow_postcopy_changed), self);
                g_hash_table_insert(self->instances, g_strdup(name), instance);
                export_skeleton(self, nlc_instance_get_object_path(instance), instance,
                                (gpointer) nlc_dbus_object_skeleton_set_instance);
        }
        nlc_instance_add_device(instance, device);
}

static void
leave_instance(NlcManager *self, NlcDevice *device)
{
        const char *name = nlc_device_get_instance(device);
        NlcInstance *instance = g_hash_table_lookup(self->instances, name);

        if (!instance)
                return;
        nlc_instance_remove_device(instance, device);
        if (nlc_instance_get_n_devices(instance) > 0)
                return;
        if (g_hash_table_remove(self->guests, name))
                nlc_journal_set_attachment(self->journal, name, NULL, NULL);
        g_dbus_object_manager_server_unexport(self->object_manager,
                                              nlc_instance_get_object_path(instance));
        g_hash_table_remove(self->instances, name);
}

/* The device of a shared tap goes: the tap is its peer's alone from now on. */
static void
unshare(NlcManager *self, NlcDevice *device)
{
        NlcDevice *peer = nlc_device_get_peer(device);
        const char *ifname = nlc_device_get_ifname(device);
        g_autoptr(GError) error = NULL;

        if (!peer)
                return;
        nlc_device_set_peer(device, NULL);
        nlc_device_set_peer(peer, NULL);
        if (!nlc_device_journal_shared(peer, &error))
                nlc_dev_warning(peer, "%s", error->message);
        if (ifname && !g_hash_table_contains(self->by_ifname, ifname))
                g_hash_table_insert(self->by_ifname, g_strdup(ifname), peer);
}

static void
on_device_freed(NlcDevice *device, NlcManager *self)
{
        g_autofree char *id = g_strdup(nlc_device_get_id(device));
        const char *ifname = nlc_device_get_ifname(device);

        g_dbus_object_manager_server_unexport(self->object_manager,
                                              nlc_device_get_object_path(device));
        g_signal_handlers_disconnect_by_data(device, self);
        nlc_mac_registry_untrack(self->macs, device);
        if (ifname && g_hash_table_lookup(self->by_ifname, ifname) == device)
                g_hash_table_remove(self->by_ifname, ifname);
        unshare(self, device);
        nlc_topology_forget_device(self->topology, device);
        leave_instance(self, device);
        g_hash_table_remove(self->devices, id);
}

static void
on_device_state_changed(NlcDevice *device, const char *old_state, const char *new_state,
                        const char *reason, NlcManager *self)
{
        nlc_topology_device_changed(self->topology, device);
}

/* A MAC's holder changed: the bridges publish it. */
static void
mac_owner_changed(NlcDevice *owner, gpointer user_data)
{
        NlcManager *self = user_data;

        if (self->topology)
                nlc_topology_ownership_changed(self->topology, owner);
}

static gboolean handle_share_queues(NlcDbusDevice *skel, GDBusMethodInvocation *invocation,
                                    GUnixFDList *in_fds, const char *instance, NlcManager *self);

static void
add_device(NlcManager *self, NlcDevice *device)
{
        const char *ifname = nlc_device_get_ifname(device);

        g_hash_table_insert(self->devices, g_strdup(nlc_device_get_id(device)),
                            g_object_ref(device));
        /* A shared tap's name stays with the device that made the tap. */
        if (ifname &&
            !(nlc_device_get_peer(device) &&
              g_hash_table_lookup(self->by_ifname, ifname) == nlc_device_get_peer(device)))
                g_hash_table_insert(self->by_ifname, g_strdup(ifname), device);
        nlc_mac_registry_track(self->macs, device);
        nlc_device_set_destroy_batch(device, self->destroy_batch);
        g_signal_connect(device, "freed", G_CALLBACK(on_device_freed), self);
        g_signal_connect(device, "handle-share-queues", G_CALLBACK(handle_share_queues), self);
        g_signal_connect(device, "state-changed", G_CALLBACK(on_device_state_changed), self);
        export_device(self, device);
        join_instance(self, device);
        nlc_topology_device_changed(self->topology, device);
}

static void
link_removed(int ifindex, gpointer user_data)
{
        NlcManager *self = user_data;

        if (self->destroy_batch)
                nlc_destroy_batch_link_removed(self->destroy_batch, ifindex);
}

static NlcDevice *
device_by_ifname(const char *ifname, gpointer user_data)
{
        NlcManager *self = user_data;

        return g_hash_table_lookup(self->by_ifname, ifname);
}

static NlcDevice *
mac_owner(const guint8 mac[6], gpointer user_data)
{
        NlcManager *self = user_data;
        char s[18];

        g_snprintf(s, sizeof s, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                   mac[4], mac[5]);
        return nlc_mac_registry_lookup(self->macs, s);
}

static gboolean
ifname_reserved(const char *ifname, gpointer user_data)
{
        NlcManager *self = user_data;

        return g_hash_table_contains(self->by_ifname, ifname);
}

static NlcDevice *
find_by_ifname(NlcManager *self, const char *backend, const char *ifname)
{
        NlcDevice *device = g_hash_table_lookup(self->by_ifname, ifname);

        return device && g_str_equal(nlc_device_get_backend_name(device), backend) ? device : NULL;
}

/* The instance's devices (a hashed lookup, then a handful), or NULL. Lookups
 * never walk every device of the host. */
static GPtrArray *
devices_of(NlcManager *self, const char *instance)
{
        NlcInstance *i = g_hash_table_lookup(self->instances, instance);

        return i ? nlc_instance_get_devices(i) : NULL;
}

/* Same instance, backend, MAC and options: a repeated Allocate. */
static NlcDevice *
find_same_allocation(NlcManager *self, const char *instance, const char *backend, const char *mac,
                     GVariant *options)
{
        GPtrArray *devices = devices_of(self, instance);

        for (guint i = 0; devices && i < devices->len; i++) {
                NlcDevice *d = devices->pdata[i];

                if (g_str_equal(nlc_device_get_backend_name(d), backend) &&
                    g_str_equal(nlc_device_get_mac(d), mac) &&
                    g_variant_equal(nlc_device_get_options(d), options))
                        return d;
        }
        return NULL;
}

typedef struct {
        const NlcBackend *backend;
        char *mac; /* normalized */
} ValidArgs;

static void
valid_args_clear(ValidArgs *args)
{
        g_clear_pointer(&args->mac, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ValidArgs, valid_args_clear)

static gboolean
validate_args(const char *instance, const char *backend, const char *mac, GVariant *options,
              ValidArgs *out, GError **error)
{
        guint8 bytes[6];

        if (!nlc_instance_name_validate(instance, error) || !nlc_mac_parse(mac, bytes, error))
                return FALSE;
        out->backend = nlc_backends_lookup(backend);
        if (!out->backend) {
                g_autofree char *names = nlc_backends_list_names();

                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                            "unknown backend '%s' (available: %s)", backend, names);
                return FALSE;
        }
        if (!nlc_backend_check_options(out->backend, options, error))
                return FALSE;
        out->mac = nlc_mac_to_string(bytes);
        return TRUE;
}

/* The migration of @name that is not over yet, or NULL. */
static NlcMigration *
unfinished_migration(NlcManager *self, const char *name)
{
        GHashTableIter iter;
        gpointer value;

        g_hash_table_iter_init(&iter, self->migrations);
        while (g_hash_table_iter_next(&iter, NULL, &value))
                if (g_str_equal(nlc_migration_get_instance(value), name) &&
                    !nlc_migration_is_finished(value))
                        return value;
        return NULL;
}

/* A new device record, allocated (or adopted) by its backend. Not for an
 * instance that is migrating, on either side: the source's gate counts the
 * guest's NICs as they were at Migrate, so a NIC added now would not be
 * waited for on the destination, or would never be known to the source. */
static NlcDevice *
new_device(NlcManager *self, const char *instance, const ValidArgs *args, GVariant *options,
           gboolean adopting, GError **error)
{
        g_autoptr(NlcJournalRecord) rec = g_new0(NlcJournalRecord, 1);
        g_autoptr(NlcDevice) device = NULL;
        g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT(options);
        NlcBackendHost host = {
                .ifname_reserved = ifname_reserved,
                .user_data = self,
                .adopting = adopting,
        };
        NlcMigration *migrating = unfinished_migration(self, instance);

        if (migrating) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_BUSY,
                            "instance %s is migrating (%s): add its NIC once the migration is "
                            "over",
                            instance, nlc_migration_get_object_path(migrating));
                return NULL;
        }
        rec->id = nlc_journal_next_id(self->journal, error);
        if (!rec->id)
                return NULL;
        rec->instance = g_strdup(instance);
        rec->backend = g_strdup(args->backend->name);
        rec->mac = g_strdup(args->mac);
        rec->options = g_variant_ref_sink(g_variant_ref(options));
        rec->state = NLC_DEVICE_STATE_NONE;
        rec->allocated_usec = g_get_real_time();
        device = nlc_device_new(g_steal_pointer(&rec), args->backend, self->journal,
                                self->runtime_dir);
        if (!nlc_device_allocate(device, &dict, &host, error))
                return NULL;
        return g_steal_pointer(&device);
}

static gboolean
fail_call(GDBusMethodInvocation *invocation, GError *error)
{
        g_dbus_method_invocation_return_gerror(invocation, error);
        return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_allocate(NlcDbusManager *skel, GDBusMethodInvocation *invocation, const char *instance,
                const char *backend, const char *mac, GVariant *options)
{
        NlcManager *self = NLC_MANAGER(skel);
        g_auto(ValidArgs) args = { 0 };
        g_autoptr(GError) error = NULL;
        g_autoptr(NlcDevice) device = NULL;
        NlcDevice *existing;

        if (!validate_args(instance, backend, mac, options, &args, &error))
                return fail_call(invocation, error);
        existing = find_same_allocation(self, instance, backend, args.mac, options);
        if (existing) {
                nlc_dbus_manager_complete_allocate(skel, invocation,
                                                   nlc_device_get_object_path(existing));
                return G_DBUS_METHOD_INVOCATION_HANDLED;
        }
        device = new_device(self, instance, &args, options, FALSE, &error);
        if (!device)
                return fail_call(invocation, error);
        add_device(self, device);
        nlc_dbus_manager_complete_allocate(skel, invocation, nlc_device_get_object_path(device));
        return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_notify(NlcDbusManager *skel, GDBusMethodInvocation *invocation, const char *instance,
              const char *backend, const char *mac, GVariant *options)
{
        NlcManager *self = NLC_MANAGER(skel);
        g_auto(ValidArgs) args = { 0 };
        g_autoptr(GError) error = NULL;
        g_autoptr(NlcDevice) device = NULL;
        const char *ifname = NULL;
        NlcDevice *existing;

        if (!validate_args(instance, backend, mac, options, &args, &error))
                return fail_call(invocation, error);
        /* The kernel device to adopt: "ifname", or "device" for direct. */
        if (!g_variant_lookup(options, "ifname", "&s", &ifname) &&
            !g_variant_lookup(options, "device", "&s", &ifname)) {
                g_set_error(&error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                            "Notify needs option 'ifname' (or 'device') naming the existing "
                            "device");
                return fail_call(invocation, error);
        }
        existing = find_by_ifname(self, backend, ifname);
        if (existing) {
                if (!g_str_equal(nlc_device_get_instance(existing), instance) ||
                    !g_str_equal(nlc_device_get_mac(existing), args.mac)) {
                        g_set_error(&error, NLC_ERROR, NLC_ERROR_CONFLICT,
                                    "%s is already device %s of instance %s with MAC %s", ifname,
                                    nlc_device_get_id(existing), nlc_device_get_instance(existing),
                                    nlc_device_get_mac(existing));
                        return fail_call(invocation, error);
                }
                if (!nlc_device_adopt(existing, &error))
                        return fail_call(invocation, error);
                nlc_dbus_manager_complete_notify(skel, invocation,
                                                 nlc_device_get_object_path(existing));
                return G_DBUS_METHOD_INVOCATION_HANDLED;
        }
        device = new_device(self, instance, &args, options, TRUE, &error);
        if (!device)
                return fail_call(invocation, error);
        add_device(self, device);
        nlc_dbus_manager_complete_notify(skel, invocation, nlc_device_get_object_path(device));
        return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
complete_share_queues(NlcDbusDevice *skel, GDBusMethodInvocation *invocation, NlcDevice *sharer)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
        GVariant *handles = nlc_device_queue_handles(sharer, fds, &error);

        if (!handles)
                return fail_call(invocation, error);
        nlc_dbus_device_complete_share_queues(skel, invocation, fds,
                                              nlc_device_get_object_path(sharer), handles);
        return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* Device.ShareQueues: a new record of @instance on @source's tap. The sharer
 * is journalled first, then the source's link to it; a restart links the two
 * from either side. */
static gboolean
handle_share_queues(NlcDbusDevice *skel, GDBusMethodInvocation *invocation, GUnixFDList *in_fds,
                    const char *instance, NlcManager *self)
{
        NlcDevice *source = NLC_DEVICE(skel);
        g_autoptr(NlcJournalRecord) rec = g_new0(NlcJournalRecord, 1);
        g_autoptr(GError) error = NULL;
        g_autoptr(NlcDevice) sharer = NULL;
        NlcDevice *peer = nlc_device_get_peer(source);

        if (!nlc_instance_name_validate(instance, &error))
                return fail_call(invocation, error);
        /* A repeated call gets the same device and the same open queues. */
        if (peer && g_str_equal(nlc_device_get_instance(peer), instance))
                return complete_share_queues(skel, invocation, peer);
        if (g_str_equal(instance, nlc_device_get_instance(source))) {
                g_set_error(&error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                            "the second QEMU needs an instance of its own, not %s", instance);
                return fail_call(invocation, error);
        }
        if (!nlc_device_check_shareable(source, &error))
                return fail_call(invocation, error);
        rec->id = nlc_journal_next_id(self->journal, &error);
        if (!rec->id)
                return fail_call(invocation, error);
        rec->instance = g_strdup(instance);
        rec->backend = g_strdup(nlc_device_get_backend_name(source));
        rec->mac = g_strdup(nlc_device_get_mac(source));
        rec->options = g_variant_ref(nlc_device_get_options(source));
        rec->state = NLC_DEVICE_STATE_NONE;
        rec->allocated_usec = g_get_real_time();
        sharer = nlc_device_new(g_steal_pointer(&rec), nlc_device_get_backend(source),
                                self->journal, self->runtime_dir);
        if (!nlc_device_share_queues(source, sharer, &error))
                return fail_call(invocation, error);
        nlc_device_set_peer(sharer, source);
        nlc_device_set_peer(source, sharer);
        if (!nlc_device_journal_shared(sharer, &error))
                return fail_call(invocation, error);
        if (!nlc_device_journal_shared(source, &error)) {
                /* Nothing half done on disk either. */
                nlc_device_set_peer(source, NULL);
                nlc_journal_remove(self->journal, nlc_device_get_id(sharer), NULL);
                return fail_call(invocation, error);
        }
        add_device(self, sharer);
        return complete_share_queues(skel, invocation, sharer);
}

static gboolean
handle_get_device(NlcDbusManager *skel, GDBusMethodInvocation *invocation, const char *instance,
                  const char *mac)
{
        NlcManager *self = NLC_MANAGER(skel);
        g_autoptr(GError) error = NULL;
        g_autofree char *normalized = NULL;
        NlcDevice *best = NULL;
        GPtrArray *devices;
        guint8 bytes[6];

        if (!nlc_instance_name_validate(instance, &error) || !nlc_mac_parse(mac, bytes, &error))
                return fail_call(invocation, error);
        normalized = nlc_mac_to_string(bytes);
        /* Where several devices share the MAC: the active one, else the newest. */
        devices = devices_of(self, instance);
        for (guint i = 0; devices && i < devices->len; i++) {
                NlcDevice *d = devices->pdata[i];

                if (!g_str_equal(nlc_device_get_mac(d), normalized))
                        continue;
                if (!best ||
                    (nlc_device_get_state(d) == NLC_DEVICE_STATE_ACTIVE) >
                            (nlc_device_get_state(best) == NLC_DEVICE_STATE_ACTIVE) ||
                    ((nlc_device_get_state(d) == NLC_DEVICE_STATE_ACTIVE) ==
                             (nlc_device_get_state(best) == NLC_DEVICE_STATE_ACTIVE) &&
                     nlc_device_get_allocated_usec(d) > nlc_device_get_allocated_usec(best)))
                        best = d;
        }
        if (!best) {
                g_set_error(&error, NLC_ERROR, NLC_ERROR_NOT_FOUND,
                            "instance %s has no device with MAC %s", instance, normalized);
                return fail_call(invocation, error);
        }
        nlc_dbus_manager_complete_get_device(skel, invocation, nlc_device_get_object_path(best));
        return G_DBUS_METHOD_INVOCATION_HANDLED;
}

NlcMigration *
nlc_manager_lookup_migration(NlcManager *self, const char *id)
{
        return g_hash_table_lookup(self->migrations, id);
}

NlcInstance *
nlc_manager_lookup_instance(NlcManager *self, const char *name)
{
        return g_hash_table_lookup(self->instances, name);
}

gboolean
nlc_manager_attach_qemu(NlcManager *self, const char *name, const char *qmp_socket, GError **error)
{
        NlcInstance *instance;
        NlcGuest *guest;

        if (!nlc_instance_name_validate(name, error))
                return FALSE;
        if (!qmp_socket || !g_path_is_absolute(qmp_socket)) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                            "the QMP socket must be an absolute path, not '%s'",
                            qmp_socket ? qmp_socket : "");
                return FALSE;
        }
        instance = g_hash_table_lookup(self->instances, name);
        if (!instance) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_NOT_FOUND,
                            "instance %s has no device on this host", name);
                return FALSE;
        }
        guest = g_hash_table_lookup(self->guests, name);
        if (guest && g_str_equal(nlc_guest_get_qmp_path(guest), qmp_socket))
                return TRUE;
        if (!nlc_journal_set_attachment(self->journal, name, qmp_socket, error))
                return FALSE;
        g_message("instance %s: following the guest through %s", name, qmp_socket);
        g_hash_table_insert(self->guests, g_strdup(name),
                            nlc_guest_new(instance, qmp_socket, &self->host));
        return TRUE;
}

static gboolean
handle_attach_qemu(NlcDbusManager *skel, GDBusMethodInvocation *invocation, const char *name,
                   const char *qmp_socket)
{
        g_autoptr(GError) error = NULL;

        if (!nlc_manager_attach_qemu(NLC_MANAGER(skel), name, qmp_socket, &error))
                return fail_call(invocation, error);
        nlc_dbus_manager_complete_attach_qemu(skel, invocation);
        return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* The guest and instance a migration needs, or an error saying why not. */
static gboolean
migration_preconditions(NlcManager *self, const char *name, NlcInstance **instance,
                        NlcGuest **guest, GError **error)
{
        NlcMigration *migrating;

        if (!nlc_instance_name_validate(name, error))
                return FALSE;
        *instance = g_hash_table_lookup(self->instances, name);
        if (!*instance) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_NOT_FOUND,
                            "instance %s has no device on this host", name);
                return FALSE;
        }
        *guest = g_hash_table_lookup(self->guests, name);
        if (!*guest) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_STATE,
                            "instance %s: call AttachQemu first, so the daemon follows its guest",
                            name);
                return FALSE;
        }
        migrating = unfinished_migration(self, name);
        if (migrating) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_BUSY,
                            "instance %s is already migrating (%s)", name,
                            nlc_migration_get_object_path(migrating));
                return FALSE;
        }
        return TRUE;
}

static const char *
add_migration(NlcManager *self, NlcMigration *migration, const char *id, const char *uri)
{
        g_hash_table_insert(self->migrations, g_strdup(id), migration);
        export_skeleton(self, nlc_migration_get_object_path(migration), migration,
                        (gpointer) nlc_dbus_object_skeleton_set_migration);
        nlc_migration_start(migration, uri);
        return nlc_migration_get_object_path(migration);
}

NlcMigration *
nlc_manager_start_migration(NlcManager *self, const char *name, const char *uri, GVariant *options,
                            gboolean source, GError **error)
{
        g_auto(NlcMigrationOptions) opt = { 0 };
        g_autofree char *id = NULL;
        NlcInstance *instance, *destination = NULL;
        NlcMigration *migration;
        NlcGuest *guest;

        if (!migration_preconditions(self, name, &instance, &guest, error) ||
            !nlc_migration_options_parse(options, source, name, &self->host, &opt, error))
                return NULL;
        if (opt.policy != NLC_POSTCOPY_NEVER && source && !self->host.postcopy_allowed) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_STATE,
                            "post-copy is off on this host ([postcopy] allowed=false in the "
                            "configuration); migrate with postcopy 'never'");
                return NULL;
        }
        if (source && opt.policy != NLC_POSTCOPY_NEVER &&
            !nlc_dbus_instance_get_allow_postcopy(NLC_DBUS_INSTANCE(instance))) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_STATE,
                            "instance %s does not allow post-copy (its AllowPostcopy is false); "
                            "migrate with postcopy 'never'",
                            name);
                return NULL;
        }
        if (source && opt.has_readiness && opt.readiness == NLC_READINESS_LOCAL) {
                destination = g_hash_table_lookup(self->instances, opt.destination_instance);
                if (!destination) {
                        g_set_error(error, NLC_ERROR, NLC_ERROR_NOT_FOUND,
                                    "readiness 'local': destination instance %s has no device here",
                                    opt.destination_instance);
                        return NULL;
                }
        }
        id = g_strdup_printf("%" G_GUINT64_FORMAT, ++self->next_migration_id);
        migration = source ? nlc_migration_new_source(id, instance, nlc_guest_get_qmp(guest),
                                                      destination, &opt, options)
                           : nlc_migration_new_destination(id, instance, nlc_guest_get_qmp(guest),
                                                           &opt, options);
        nlc_migration_set_journal(migration, self->journal);
        add_migration(self, migration, id, uri);
        return migration;
}

static gboolean
handle_migrate(NlcDbusManager *skel, GDBusMethodInvocation *invocation, const char *name,
               const char *uri, GVariant *options)
{
        g_autoptr(GError) error = NULL;
        NlcMigration *m =
                nlc_manager_start_migration(NLC_MANAGER(skel), name, uri, options, TRUE, &error);

        if (!m)
                return fail_call(invocation, error);
        nlc_dbus_manager_complete_migrate(skel, invocation, nlc_migration_get_object_path(m));
        return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_prepare_incoming(NlcDbusManager *skel, GDBusMethodInvocation *invocation, const char *name,
                        const char *uri, GVariant *options)
{
        g_autoptr(GError) error = NULL;
        NlcMigration *m =
                nlc_manager_start_migration(NLC_MANAGER(skel), name, uri, options, FALSE, &error);

        if (!m)
                return fail_call(invocation, error);
        /* Not before QEMU listens: the coordinator's next call is Migrate on
         * the source, which would otherwise race migrate-incoming. */
        nlc_migration_reply_when_listening(m, invocation);
        return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
on_instances_destroyed(const GError *error, gpointer data)
{
        GDBusMethodInvocation *invocation = data;

        if (error)
                g_dbus_method_invocation_return_gerror(invocation, error);
        else
                g_dbus_method_invocation_return_value(invocation, NULL);
}

static gboolean
handle_destroy_instances(NlcDbusManager *skel, GDBusMethodInvocation *invocation,
                         const char *const *names)
{
        NlcManager *self = NLC_MANAGER(skel);
        g_autoptr(GPtrArray) devices = g_ptr_array_new_with_free_func(g_object_unref);

        for (guint i = 0; names[i]; i++) {
                NlcInstance *instance = g_hash_table_lookup(self->instances, names[i]);
                GPtrArray *own = instance ? nlc_instance_get_devices(instance) : NULL;

                if (!instance) {
                        g_dbus_method_invocation_return_error(
                                invocation, NLC_ERROR, NLC_ERROR_NOT_FOUND,
                                "instance %s has no device here (nothing was destroyed)", names[i]);
                        return G_DBUS_METHOD_INVOCATION_HANDLED;
                }
                for (guint d = 0; d < own->len; d++)
                        g_ptr_array_add(devices, g_object_ref(own->pdata[d]));
        }
        nlc_destroy_batch_add_all(self->destroy_batch, devices, on_instances_destroyed, invocation);
        return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_instance(NlcDbusManager *skel, GDBusMethodInvocation *invocation, const char *name)
{
        NlcManager *self = NLC_MANAGER(skel);
        g_autoptr(GError) error = NULL;
        NlcInstance *instance;

        if (!nlc_instance_name_validate(name, &error))
                return fail_call(invocation, error);
        instance = g_hash_table_lookup(self->instances, name);
        if (!instance) {
                g_set_error(&error, NLC_ERROR, NLC_ERROR_NOT_FOUND,
                            "instance %s has no device on this host", name);
                return fail_call(invocation, error);
        }
        nlc_dbus_manager_complete_get_instance(skel, invocation,
                                               nlc_instance_get_object_path(instance));
        return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
nlc_manager_iface_init(NlcDbusManagerIface *iface)
{
        iface->handle_get_instance = handle_get_instance;
        iface->handle_destroy_instances = handle_destroy_instances;
        iface->handle_attach_qemu = handle_attach_qemu;
        iface->handle_migrate = handle_migrate;
        iface->handle_prepare_incoming = handle_prepare_incoming;
        iface->handle_allocate = handle_allocate;
        iface->handle_notify = handle_notify;
        iface->handle_get_device = handle_get_device;
}

/* The devices that share a tap (ShareQueues), from the "shared-with" either
 * side journalled; a side whose peer is gone is unlinked. */
static void
link_shared(GPtrArray *devices)
{
        g_autoptr(GHashTable) by_id = g_hash_table_new(g_str_hash, g_str_equal);

        for (guint i = 0; i < devices->len; i++)
                g_hash_table_insert(by_id, (gpointer) nlc_device_get_id(devices->pdata[i]),
                                    devices->pdata[i]);
        for (guint i = 0; i < devices->len; i++) {
                NlcDevice *d = devices->pdata[i];
                const char *peer_id = nlc_device_get_peer_id(d);
                NlcDevice *peer = peer_id ? g_hash_table_lookup(by_id, peer_id) : NULL;
                g_autoptr(GError) error = NULL;

                if (peer && peer != d) {
                        nlc_device_set_peer(d, peer);
                        nlc_device_set_peer(peer, d);
                } else if (peer_id) {
                        nlc_dev_warning(d, "the device %s it shared its tap with is gone", peer_id);
                        nlc_device_set_peer(d, NULL);
                        if (!nlc_device_journal_shared(d, &error))
                                nlc_dev_warning(d, "%s", error->message);
                }
        }
}

/* Three passes: roll interrupted operations forward, settle who holds each
 * MAC, then verify every device against the kernel. */
static void
restore_devices(NlcManager *self)
{
        g_autoptr(GPtrArray) records = nlc_journal_load(self->journal);
        g_autoptr(GPtrArray) devices = g_ptr_array_new_with_free_func(g_object_unref);

        while (records->len > 0) {
                NlcJournalRecord *rec = g_ptr_array_steal_index_fast(records, records->len - 1);
                const NlcBackend *backend = nlc_backends_lookup(rec->backend);
                NlcDevice *device;

                if (!backend) {
                        /* Keep the record on disk: a later daemon with the
                         * backend built in takes it back. */
                        g_warning("journal: device %s uses unknown backend %s; left as is", rec->id,
                                  rec->backend);
                        nlc_journal_record_free(rec);
                        continue;
                }
                device = nlc_device_new(rec, backend, self->journal, self->runtime_dir);
                g_ptr_array_add(devices, device);
        }
        link_shared(devices);
        for (guint i = 0; i < devices->len; i++) {
                g_autoptr(GError) error = NULL;

                if (!nlc_device_roll_forward(devices->pdata[i], &error))
                        nlc_dev_warning(devices->pdata[i], "restored with problems: %s",
                                        error->message);
        }
        /* A crash in the middle of a handover leaves two active records. */
        nlc_mac_registry_restore(self->macs, devices);
        /* Each device's check reads its FDB entry: one dump for them all
         * (without it, N walks of the kernel's whole FDB). A failed dump
         * only means each check asks the kernel itself. */
        if (devices->len > 1)
                nlc_fdb_snapshot_begin();
        for (guint i = 0; i < devices->len; i++) {
                NlcDevice *device = devices->pdata[i];
                g_autoptr(GError) error = NULL;

                if (!nlc_device_verify(device, &error))
                        nlc_dev_warning(device, "restored with problems: %s", error->message);
                if (nlc_device_get_state(device) != NLC_DEVICE_STATE_FREED)
                        add_device(self, device);
        }
        nlc_fdb_snapshot_end();
}

/* Unfinished migrations, from the journal, once the guests are followed
 * again: each resyncs with its QEMU. */
static void
restore_migrations(NlcManager *self)
{
        g_autoptr(GPtrArray) all = nlc_journal_load_migrations(self->journal);

        for (guint i = 0; i < all->len; i++) {
                GKeyFile *kf = all->pdata[i];
                g_autofree char *id = g_key_file_get_string(kf, "migration", "id", NULL);
                g_autofree char *name = g_key_file_get_string(kf, "migration", "instance", NULL);
                g_autofree char *opts = g_key_file_get_string(kf, "migration", "options", NULL);
                g_autoptr(GVariant) options =
                        opts ? g_variant_parse(G_VARIANT_TYPE_VARDICT, opts, NULL, NULL, NULL)
                             : NULL;
                g_autoptr(GError) error = NULL;
                NlcInstance *instance = name ? g_hash_table_lookup(self->instances, name) : NULL;
                NlcGuest *guest = name ? g_hash_table_lookup(self->guests, name) : NULL;
                NlcInstance *destination = NULL;
                const char *dest_name = NULL;
                NlcMigration *migration;

                if (!id || !instance || !guest) {
                        g_warning("journal: migration %s of %s cannot be followed again (no "
                                  "such instance or guest); its record is kept",
                                  id ? id : "?", name ? name : "?");
                        continue;
                }
                /* Never the migrating instance itself: that one is ready
                 * because the guest runs there. Missing: never ready. */
                if (options &&
                    g_variant_lookup(options, "destination-instance", "&s", &dest_name) &&
                    !g_str_equal(dest_name, name))
                        destination = g_hash_table_lookup(self->instances, dest_name);
                migration = nlc_migration_restore(kf, instance, nlc_guest_get_qmp(guest),
                                                  destination, &self->host, &error);
                if (!migration) {
                        g_warning("journal: migration %s: %s", id, error->message);
                        continue;
                }
                self->next_migration_id =
                        MAX(self->next_migration_id, g_ascii_strtoull(id, NULL, 10));
                g_hash_table_insert(self->migrations, g_strdup(id), migration);
                export_skeleton(self, nlc_migration_get_object_path(migration), migration,
                                (gpointer) nlc_dbus_object_skeleton_set_migration);
                nlc_migration_set_journal(migration, self->journal);
        }
}

static void
restore_attachments(NlcManager *self)
{
        g_autoptr(GHashTable) all = nlc_journal_load_attachments(self->journal);
        GHashTableIter iter;
        gpointer name, path;

        g_hash_table_iter_init(&iter, all);
        while (g_hash_table_iter_next(&iter, &name, &path)) {
                g_autoptr(GError) error = NULL;

                if (!nlc_manager_attach_qemu(self, name, path, &error))
                        g_warning("instance %s: cannot follow its guest again: %s",
                                  (const char *) name, error->message);
        }
}

static char **
list_device_ids(gpointer user_data)
{
        NlcManager *self = user_data;

        g_autofree gpointer *keys = g_hash_table_get_keys_as_array(self->devices, NULL);

        /* GDBus frees what enumerate returns: copies, not our keys. */
        return g_strdupv((char **) keys);
}

NlcManager *
nlc_manager_new(const NlcManagerConfig *config, GError **error)
{
        g_autoptr(NlcManager) self = g_object_new(NLC_TYPE_MANAGER, NULL);
        const NlcTopologyHooks hooks = {
                .device_by_ifname = device_by_ifname,
                .mac_owner = mac_owner,
                .link_removed = link_removed,
                .user_data = self,
        };

        self->runtime_dir = g_strdup(config->runtime_dir);
        if (config->host)
                self->host = *config->host;
        else
                nlc_config_init_defaults(&self->host);
        self->journal = nlc_journal_open(config->state_dir, error);
        if (!self->journal)
                return NULL;
        nlc_journal_set_fsync(self->journal, self->host.journal_fsync);
        self->destroy_batch = nlc_destroy_batch_new(self->journal, config->state_dir);
        /* The monitor listens before anything is read, so no event between
         * the restore and the first dump is lost. */
        self->topology =
                nlc_topology_new(self->object_manager, &hooks, config->monitor_rcvbuf, error);
        if (!self->topology)
                return NULL;
        restore_devices(self);
        nlc_topology_sync(self->topology);
        restore_attachments(self);
        restore_migrations(self);
        return g_steal_pointer(&self);
}

gboolean
nlc_manager_export(NlcManager *self, GDBusConnection *connection, GError **error)
{
        self->connection = g_object_ref(connection);
        if (!g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(self), connection,
                                              NLC_DBUS_PATH, error))
                return FALSE;
        self->fallback_id = nlc_device_fallback_register(connection, list_device_ids, self, error);
        if (!self->fallback_id)
                return FALSE;
        g_dbus_object_manager_server_set_connection(self->object_manager, connection);
        return TRUE;
}

void
nlc_manager_unexport(NlcManager *self)
{
        if (!self->connection)
                return;
        g_dbus_object_manager_server_set_connection(self->object_manager, NULL);
        if (self->fallback_id)
                g_dbus_connection_unregister_subtree(self->connection, self->fallback_id);
        self->fallback_id = 0;
        g_dbus_interface_skeleton_unexport(G_DBUS_INTERFACE_SKELETON(self));
        g_clear_object(&self->connection);
}

static void
nlc_manager_init(NlcManager *self)
{
        self->devices = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
        self->by_ifname = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        self->instances = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
        self->macs = nlc_mac_registry_new(mac_owner_changed, self);
        self->guests = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                             (GDestroyNotify) nlc_guest_free);
        self->migrations = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
        self->object_manager = g_dbus_object_manager_server_new(NLC_DBUS_PATH);
        nlc_dbus_manager_set_version(NLC_DBUS_MANAGER(self), NLC_VERSION);
        nlc_dbus_manager_set_backends(NLC_DBUS_MANAGER(self), nlc_backends_describe());
}

static void
nlc_manager_dispose(GObject *object)
{
        NlcManager *self = NLC_MANAGER(object);
        GHashTableIter iter;
        gpointer value;

        /* Queued destroys run and are answered while everything still stands. */
        g_clear_pointer(&self->destroy_batch, nlc_destroy_batch_free);
        nlc_manager_unexport(self);
        if (self->devices) {
                g_hash_table_iter_init(&iter, self->devices);
                while (g_hash_table_iter_next(&iter, NULL, &value)) {
                        g_signal_handlers_disconnect_by_data(value, self);
                        nlc_mac_registry_untrack(self->macs, value);
                }
        }
        g_clear_pointer(&self->migrations, g_hash_table_unref);
        g_clear_pointer(&self->guests, g_hash_table_unref);
        g_clear_pointer(&self->topology, nlc_topology_free);
        g_clear_pointer(&self->macs, nlc_mac_registry_free);
        g_clear_pointer(&self->instances, g_hash_table_unref);
        g_clear_pointer(&self->by_ifname, g_hash_table_unref);
        g_clear_pointer(&self->devices, g_hash_table_unref);
        g_clear_object(&self->object_manager);
        g_clear_pointer(&self->journal, nlc_journal_free);
        g_clear_pointer(&self->runtime_dir, g_free);
        G_OBJECT_CLASS(nlc_manager_parent_class)->dispose(object);
}

static void
nlc_manager_class_init(NlcManagerClass *klass)
{
        G_OBJECT_CLASS(klass)->dispose = nlc_manager_dispose;
}
