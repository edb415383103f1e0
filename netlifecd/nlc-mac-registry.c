/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "nlc-error.h"
#include "nlc-log.h"
#include "nlc-mac-registry.h"

struct _NlcMacRegistry {
        GHashTable *owner; /* MAC → the tracked NlcDevice holding it (borrowed) */
        guint64 seq;       /* the latest activation's number */
        NlcMacOwnerChanged changed;
        gpointer user_data;
};

NlcDevice *
nlc_mac_registry_lookup(NlcMacRegistry *self, const char *mac)
{
        return g_hash_table_lookup(self->owner, mac);
}

static void
set_owner(NlcMacRegistry *self, NlcDevice *device)
{
        const char *mac = nlc_device_get_mac(device);

        if (g_hash_table_lookup(self->owner, mac) == device)
                return;
        g_hash_table_insert(self->owner, g_strdup(mac), device);
        if (self->changed)
                self->changed(device, self->user_data);
}

static void
drop(NlcMacRegistry *self, NlcDevice *device)
{
        const char *mac = nlc_device_get_mac(device);

        if (g_hash_table_lookup(self->owner, mac) == device)
                g_hash_table_remove(self->owner, mac);
}

/* Another device of the same guest: the same instance, or the guest's
 * other QEMU on a shared tap. */
static gboolean
may_hand_over(NlcDevice *holder, NlcDevice *device)
{
        return holder == nlc_device_get_peer(device) ||
               g_str_equal(nlc_device_get_instance(holder), nlc_device_get_instance(device));
}

/* Two macvtaps up with one MAC on one lower device: EADDRINUSE. */
static gboolean
cannot_hold_both(NlcDevice *a, NlcDevice *b)
{
        const char *la = nlc_device_get_lower_link(a), *lb = nlc_device_get_lower_link(b);

        return la && lb && g_str_equal(la, lb);
}

/* The new holder failed after @previous let go: give the MAC back rather
 * than leave it without a home, and registered again, so that another
 * instance's claim still meets Conflict. */
static void
take_back(NlcMacRegistry *self, NlcDevice *previous)
{
        g_autoptr(GError) error = NULL;

        nlc_device_set_activation_seq(previous, ++self->seq);
        if (nlc_device_run_transition(previous, NLC_OP_ACTIVATE, "handover failed", &error)) {
                set_owner(self, previous);
                return;
        }
        nlc_dev_warning(previous, "could not take the MAC back: %s; no device holds it",
                        error->message);
}

/* NlcDeviceOwnership.activate: the claim and the handover. */
static gboolean
activate(NlcDevice *device, GError **error, gpointer user_data)
{
        NlcMacRegistry *self = user_data;
        NlcDevice *holder = nlc_mac_registry_lookup(self, nlc_device_get_mac(device));
        g_autoptr(NlcDevice) previous = NULL;
        g_autoptr(GError) local = NULL;
        gboolean release_first;

        if (holder && holder != device && !may_hand_over(holder, device)) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_CONFLICT,
                            "MAC %s is held by device %s of instance %s",
                            nlc_device_get_mac(device), nlc_device_get_id(holder),
                            nlc_device_get_instance(holder));
                return FALSE;
        }
        if (holder && holder != device)
                previous = g_object_ref(holder);
        /* Journalled with the write-ahead record: a crash from here on is
         * settled in favour of this activation. */
        nlc_device_set_activation_seq(device, ++self->seq);
        release_first = previous && cannot_hold_both(previous, device);
        if (release_first &&
            !nlc_device_run_transition(previous, NLC_OP_DEACTIVATE, "handover", &local)) {
                g_propagate_prefixed_error(
                        error, g_steal_pointer(&local),
                        "cannot take the MAC from device %s: ", nlc_device_get_id(previous));
                return FALSE;
        }
        if (!nlc_device_run_transition(device, NLC_OP_ACTIVATE, "activate", error)) {
                if (release_first)
                        take_back(self, previous);
                return FALSE;
        }
        set_owner(self, device);
        if (previous && !release_first &&
            !nlc_device_run_transition(previous, NLC_OP_DEACTIVATE, "handover", &local))
                nlc_dev_warning(previous, "handover: %s", local->message);
        return TRUE;
}

static void
on_state_changed(NlcDevice *device, const char *old_state, const char *new_state,
                 const char *reason, NlcMacRegistry *self)
{
        if (nlc_device_get_state(device) != NLC_DEVICE_STATE_ACTIVE)
                drop(self, device);
        /* Active without an activation here (adopted as the kernel shows
         * it): it holds the MAC if nobody does. */
        else if (!nlc_mac_registry_lookup(self, nlc_device_get_mac(device)))
                set_owner(self, device);
}

void
nlc_mac_registry_track(NlcMacRegistry *self, NlcDevice *device)
{
        const NlcDeviceOwnership ownership = { .activate = activate, .user_data = self };

        nlc_device_set_ownership(device, &ownership);
        g_signal_connect(device, "state-changed", G_CALLBACK(on_state_changed), self);
        if (nlc_device_get_state(device) == NLC_DEVICE_STATE_ACTIVE)
                set_owner(self, device);
}

void
nlc_mac_registry_untrack(NlcMacRegistry *self, NlcDevice *device)
{
        g_signal_handlers_disconnect_by_func(device, on_state_changed, self);
        nlc_device_set_ownership(device, &(NlcDeviceOwnership){ 0 });
        drop(self, device);
}

/* @a activated after @b: the journalled sequence, then (records of before
 * the sequence) the time. */
static gboolean
activated_later(NlcDevice *a, NlcDevice *b)
{
        guint64 sa = nlc_device_get_activation_seq(a), sb = nlc_device_get_activation_seq(b);

        if (sa != sb)
                return sa > sb;
        return nlc_device_get_activated_usec(a) > nlc_device_get_activated_usec(b);
}

void
nlc_mac_registry_restore(NlcMacRegistry *self, GPtrArray *devices)
{
        g_autoptr(GHashTable) latest = g_hash_table_new(g_str_hash, g_str_equal);

        for (guint i = 0; i < devices->len; i++)
                self->seq = MAX(self->seq, nlc_device_get_activation_seq(devices->pdata[i]));
        for (guint i = 0; i < devices->len; i++) {
                NlcDevice *d = devices->pdata[i];
                NlcDevice *other, *winner, *loser;
                g_autoptr(GError) error = NULL;

                if (nlc_device_get_state(d) != NLC_DEVICE_STATE_ACTIVE)
                        continue;
                other = g_hash_table_lookup(latest, nlc_device_get_mac(d));
                if (!other) {
                        g_hash_table_insert(latest, (gpointer) nlc_device_get_mac(d), d);
                        continue;
                }
                winner = activated_later(d, other) ? d : other;
                loser = winner == d ? other : d;
                if (!nlc_device_yield_mac(loser, winner, &error))
                        nlc_dev_warning(loser, "%s", error->message);
                g_hash_table_insert(latest, (gpointer) nlc_device_get_mac(winner), winner);
        }
}

NlcMacRegistry *
nlc_mac_registry_new(NlcMacOwnerChanged changed, gpointer user_data)
{
        NlcMacRegistry *self = g_new0(NlcMacRegistry, 1);

        self->owner = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        self->changed = changed;
        self->user_data = user_data;
        return self;
}

void
nlc_mac_registry_free(NlcMacRegistry *self)
{
        if (!self)
                return;
        g_hash_table_unref(self->owner);
        g_free(self);
}
