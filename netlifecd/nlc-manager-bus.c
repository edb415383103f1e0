/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * org.netlifecd1.Manager's methods, and the Device methods the manager
 * answers (ShareQueues makes a device; Destroy goes through the destroy
 * batch): each handler checks, acts, then completes or returns a named
 * error. Also the C calls they wrap, which the unit tests use.
 */
#include "nlc-authz.h"
#include "nlc-backends.h"
#include "nlc-error.h"
#include "nlc-guest.h"
#include "nlc-log.h"
#include "nlc-manager-private.h"
#include "nlc-names.h"

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
NlcMigration *
nlc_manager_unfinished_migration(NlcManager *self, const char *name)
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
/* Who owns a new device of @instance: its instance's owner when it has
 * devices here (a caller of another uid got that far only holding
 * manage-any-instance), else the caller; root when the call was not checked
 * (the unit tests). */
static guint32
owner_for(NlcManager *self, const char *instance, GDBusMethodInvocation *invocation)
{
        NlcInstance *i = g_hash_table_lookup(self->instances, instance);
        guint32 uid = 0;

        if (i)
                return nlc_instance_get_owner_uid(i);
        nlc_authz_caller_uid(invocation, &uid);
        return uid;
}

static NlcDevice *
new_device(NlcManager *self, const char *instance, const ValidArgs *args, GVariant *options,
           gboolean adopting, GDBusMethodInvocation *invocation, GError **error)
{
        g_autoptr(NlcJournalRecord) rec = g_new0(NlcJournalRecord, 1);
        g_autoptr(NlcDevice) device = NULL;
        g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT(options);
        HostCall call;
        NlcBackendHost host = {
                .ifname_reserved = nlc_manager_ifname_reserved,
                .user_data = &call,
                .adopting = adopting,
                .may_use = nlc_manager_may_use,
        };
        NlcMigration *migrating = nlc_manager_unfinished_migration(self, instance);

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
        rec->owner_uid = owner_for(self, instance, invocation);
        nlc_manager_host_call_init(&call, self, invocation);
        device = nlc_device_new(g_steal_pointer(&rec), args->backend, self->journal,
                                self->runtime_dir);
        if (!nlc_device_allocate(device, &dict, &host, error))
                return NULL;
        return g_steal_pointer(&device);
}

/* ---- what a call needs beyond its method's action (nlc-authz.h) ---- */

static void
add_action(GArray *actions, NlcAction action)
{
        for (guint i = 0; i < actions->len; i++)
                if (g_array_index(actions, NlcAction, i) == action)
                        return;
        g_array_append_val(actions, action);
}

/* An instance another uid owns. */
static void
add_owner_action(NlcManager *self, const char *instance, guint32 caller, GArray *actions)
{
        NlcInstance *i = instance ? g_hash_table_lookup(self->instances, instance) : NULL;

        if (i && nlc_instance_get_owner_uid(i) != caller)
                add_action(actions, NLC_ACTION_MANAGE_ANY);
}

/* The instance a call on an object acts on: the object's (its skeleton is
 * the invocation's user data). */
static const char *
instance_of_object(gpointer skeleton)
{
        if (NLC_IS_DEVICE(skeleton))
                return nlc_device_get_instance(skeleton);
        if (NLC_IS_INSTANCE(skeleton))
                return nlc_instance_get_name(skeleton);
        if (NLC_IS_MIGRATION(skeleton))
                return nlc_migration_get_instance(skeleton);
        return NULL;
}

void
nlc_manager_more_actions(GDBusMethodInvocation *invocation, guint32 caller, GArray *actions,
                         gpointer user_data)
{
        NlcManager *self = user_data;
        const char *method = g_dbus_method_invocation_get_method_name(invocation);
        GVariant *params = g_dbus_method_invocation_get_parameters(invocation);
        gpointer skeleton = g_dbus_method_invocation_get_user_data(invocation);
        const char *instance = NULL, *backend = NULL;

        if (!NLC_IS_MANAGER(skeleton)) {
                add_owner_action(self, instance_of_object(skeleton), caller, actions);
                /* ShareQueues makes a device of a second instance. */
                if (g_str_equal(method, "ShareQueues") &&
                    g_variant_is_of_type(params, G_VARIANT_TYPE("(s)")))
                        g_variant_get(params, "(&s)", &instance);
                add_owner_action(self, instance, caller, actions);
                return;
        }
        if (g_str_equal(method, "DestroyInstances")) {
                g_autofree const char **names = NULL;

                g_variant_get(params, "(^a&s)", &names);
                for (guint i = 0; names[i]; i++)
                        add_owner_action(self, names[i], caller, actions);
                return;
        }
        /* Allocate, Notify, AttachQemu, Migrate, PrepareIncoming name the
         * instance first; Allocate and Notify the backend second. */
        if (g_variant_n_children(params) > 0) {
                g_autoptr(GVariant) first = g_variant_get_child_value(params, 0);

                if (g_variant_is_of_type(first, G_VARIANT_TYPE_STRING))
                        instance = g_variant_get_string(first, NULL);
        }
        if (!g_str_equal(method, "GetDevice") && !g_str_equal(method, "GetInstance"))
                add_owner_action(self, instance, caller, actions);
        if ((g_str_equal(method, "Allocate") || g_str_equal(method, "Notify")) &&
            g_variant_n_children(params) > 1) {
                g_variant_get_child(params, 1, "&s", &backend);
                if (g_str_equal(backend, "direct"))
                        add_action(actions, NLC_ACTION_DIRECT);
        }
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
        device = new_device(self, instance, &args, options, FALSE, invocation, &error);
        if (!device)
                return fail_call(invocation, error);
        nlc_manager_add_device(self, device);
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
        device = new_device(self, instance, &args, options, TRUE, invocation, &error);
        if (!device)
                return fail_call(invocation, error);
        nlc_manager_add_device(self, device);
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
gboolean
nlc_manager_handle_share_queues(NlcDbusDevice *skel, GDBusMethodInvocation *invocation,
                                GUnixFDList *in_fds, const char *instance, NlcManager *self)
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
        rec->owner_uid = owner_for(self, instance, invocation);
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
        nlc_manager_add_device(self, sharer);
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
        guest = nlc_guest_new(instance, qmp_socket, &self->host);
        nlc_guest_expect_peer(
                guest, nlc_instance_get_owner_uid(instance),
                nlc_manager_qmp_dir_listed(self, qmp_socket, nlc_instance_get_owner_uid(instance)));
        g_hash_table_insert(self->guests, g_strdup(name), guest);
        return TRUE;
}

static gboolean
handle_attach_qemu(NlcDbusManager *skel, GDBusMethodInvocation *invocation, const char *name,
                   const char *qmp_socket)
{
        g_autoptr(GError) error = NULL;

        if (!nlc_manager_check_qmp_socket(NLC_MANAGER(skel), invocation, qmp_socket, &error) ||
            !nlc_manager_attach_qemu(NLC_MANAGER(skel), name, qmp_socket, &error))
                return fail_call(invocation, error);
        nlc_dbus_manager_complete_attach_qemu(skel, invocation);
        return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* The destination's port profiles are associated while QEMU holds the
 * source at pre-switchover (nlc-migration.c): a migration of an instance
 * with one needs that hold (the daemon asks the destination itself for
 * readiness local and destination-bus; a coordinator does it and calls
 * DestinationReady during the hold). */
static gboolean
port_profiles_can_move(NlcInstance *instance, const NlcMigrationOptions *opt, GError **error)
{
        if (!nlc_instance_has_port_profile(instance))
                return TRUE;
        if (!opt->pause_before_switchover) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                            "instance %s has a port profile: migrate it with "
                            "pause-before-switchover=true (the destination's profile is "
                            "associated while QEMU holds the source there)",
                            nlc_instance_get_name(instance));
                return FALSE;
        }
        return TRUE;
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
        migrating = nlc_manager_unfinished_migration(self, name);
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
        nlc_manager_export_skeleton(self, nlc_migration_get_object_path(migration), migration,
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
        if (source && !port_profiles_can_move(instance, &opt, error))
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

void
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

static void
on_device_destroyed(NlcDevice *device, const GError *error, gpointer data)
{
        GDBusMethodInvocation *invocation = data;

        if (error)
                g_dbus_method_invocation_return_gerror(invocation, error);
        else
                nlc_dbus_device_complete_destroy(NLC_DBUS_DEVICE(device), invocation);
}

gboolean
nlc_manager_handle_destroy(NlcDbusDevice *skel, GDBusMethodInvocation *invocation, NlcManager *self)
{
        nlc_destroy_batch_add(self->destroy_batch, NLC_DEVICE(skel), on_device_destroyed,
                              invocation);
        return G_DBUS_METHOD_INVOCATION_HANDLED;
}
