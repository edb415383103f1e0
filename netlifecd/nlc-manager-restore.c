/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A start after a crash or a restart: the journal back into objects. The
 * devices first (interrupted operations rolled forward, one holder per MAC,
 * each verified and repaired against the kernel), then the QEMUs followed
 * again, then the unfinished migrations, which resync with their QEMU.
 */
#include "nlc-backends.h"
#include "nlc-guest.h"
#include "nlc-log.h"
#include "nlc-manager-private.h"
#include "nlc-netlink.h"

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
void
nlc_manager_restore_devices(NlcManager *self)
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

                if (!nlc_device_verify(device, "restored", &error))
                        nlc_dev_warning(device, "restored with problems: %s", error->message);
                nlc_device_restore_port_profile(device);
                if (nlc_device_get_state(device) != NLC_DEVICE_STATE_FREED)
                        nlc_manager_add_device(self, device);
        }
        nlc_fdb_snapshot_end();
}

/* Unfinished migrations, from the journal, once the guests are followed
 * again: each resyncs with its QEMU. */
void
nlc_manager_restore_migrations(NlcManager *self)
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
                nlc_manager_export_skeleton(self, nlc_migration_get_object_path(migration),
                                            migration,
                                            (gpointer) nlc_dbus_object_skeleton_set_migration);
                nlc_migration_set_journal(migration, self->journal);
        }
}

void
nlc_manager_restore_attachments(NlcManager *self)
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
