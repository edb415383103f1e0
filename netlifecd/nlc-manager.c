/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The manager object: its devices, instances and exports, and the hooks the
 * kernel monitor calls. The D-Bus handlers are in nlc-manager-bus.c, the
 * restore at start in nlc-manager-restore.c.
 */
#include "config.h"

#include "nlc-authz.h"
#include "nlc-backends.h"
#include "nlc-dbus-names.h"
#include "nlc-device-fallback.h"
#include "nlc-guest.h"
#include "nlc-log.h"
#include "nlc-manager-private.h"

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

void
nlc_manager_export_skeleton(NlcManager *self, const char *path, gpointer iface,
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

/* A local migration's destination may come (back) only now. */
static void
follow_new_instance(NlcManager *self, NlcInstance *instance)
{
        GHashTableIter iter;
        gpointer value;

        if (!self->migrations)
                return;
        g_hash_table_iter_init(&iter, self->migrations);
        while (g_hash_table_iter_next(&iter, NULL, &value))
                nlc_migration_follow_destination(value, instance);
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
                /* Its first device's owner (after a restart, any: they
                 * agree, new_device() makes sure). */
                nlc_instance_set_owner_uid(instance, nlc_device_get_owner_uid(device));
                nlc_dbus_instance_set_allow_postcopy(NLC_DBUS_INSTANCE(instance),
                                                     g_strcmp0(allow, "false") != 0);
                g_signal_connect(instance, "notify::allow-postcopy",
                                 G_CALLBACK(on_allow_postcopy_changed), self);
                g_hash_table_insert(self->instances, g_strdup(name), instance);
                nlc_manager_export_skeleton(self, nlc_instance_get_object_path(instance), instance,
                                            (gpointer) nlc_dbus_object_skeleton_set_instance);
                follow_new_instance(self, instance);
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

void
nlc_manager_add_device(NlcManager *self, NlcDevice *device)
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
        g_signal_connect(device, "freed", G_CALLBACK(on_device_freed), self);
        g_signal_connect(device, "handle-share-queues", G_CALLBACK(nlc_manager_handle_share_queues),
                         self);
        g_signal_connect(device, "handle-destroy", G_CALLBACK(nlc_manager_handle_destroy), self);
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

/* A bridge deleted under its devices and made again: each device with a
 * link goes back on it as the restart would put it (notify: port, flags, the
 * active device's FDB entry), without disturbing the guest. */
static void
bridge_appeared(const char *name, gpointer user_data)
{
        NlcManager *self = user_data;
        GHashTableIter iter;
        gpointer value;

        g_hash_table_iter_init(&iter, self->devices);
        while (g_hash_table_iter_next(&iter, NULL, &value)) {
                NlcDevice *device = value;
                NlcDeviceState st = nlc_device_get_state(device);
                g_autoptr(GError) error = NULL;

                if (g_strcmp0(nlc_device_get_bridge(device), name) != 0 ||
                    (st != NLC_DEVICE_STATE_CREATED && st != NLC_DEVICE_STATE_ACTIVE))
                        continue;
                if (!nlc_device_verify(device, "bridge-returned", &error))
                        nlc_dev_warning(device, "cannot put it back on bridge %s: %s", name,
                                        error->message);
        }
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
                .bridge_appeared = bridge_appeared,
                .user_data = self,
        };

        self->runtime_dir = g_strdup(config->runtime_dir);
        self->system_bus = config->system_bus;
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
        nlc_manager_restore_devices(self);
        nlc_topology_sync(self->topology);
        nlc_manager_restore_attachments(self);
        nlc_manager_restore_migrations(self);
        return g_steal_pointer(&self);
}

gboolean
nlc_manager_export(NlcManager *self, GDBusConnection *connection, GError **error)
{
        const NlcAuthzHooks hooks = { .more_actions = nlc_manager_more_actions, .user_data = self };
        NlcAuthzBackend backend = self->host.has_authz_backend ? self->host.authz_backend
                                  : self->system_bus           ? NLC_AUTHZ_POLKIT
                                                               : NLC_AUTHZ_CONFIG;
        const char *rules[NLC_ACTION_LAST + 1];

        for (guint i = 0; i <= NLC_ACTION_LAST; i++)
                rules[i] = self->host.authz_rules[i];
        self->connection = g_object_ref(connection);
        self->authz = nlc_authz_new(backend, rules, &hooks);
        nlc_authz_set_connection(self->authz, connection, self->system_bus);
        nlc_authz_install(self->authz);
        g_message("authorization: %s", backend == NLC_AUTHZ_POLKIT
                                               ? "polkit"
                                               : "the configuration's [authorization] lists");
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
        g_clear_pointer(&self->authz, nlc_authz_free);
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
        nlc_authz_hook_class(G_DBUS_INTERFACE_SKELETON_CLASS(klass));
}
