/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A flush, for every device queued since the last one:
 *
 *   1. write-ahead: each device's record says "pending destroy", all made
 *      durable by one group commit — from here a crash is rolled forward at
 *      restart, as for a lone Destroy;
 *   2. the links the backends would delete get the daemon's netdev group;
 *      when the group holds nothing else, one RTM_DELLINK deletes them all
 *      (a lone link: its own RTM_DELLINK). The request runs in a worker
 *      thread: the kernel answers it only after an RCU barrier, ~20 ms
 *      here, during which the main loop goes on;
 *   3. as soon as the kernel answered or the monitor saw every link go
 *      (RTM_DELLINK event, 2–3 ms after the request), each backend's destroy
 *      runs as usual and finds its link gone (or deletes it alone when step
 *      2 could not), then the state funnel; the records are committed
 *      together, then every caller gets its answer.
 *
 * One flush is in flight at a time (the next may reuse the group); calls
 * that arrive meanwhile queue for the next, and a Destroy of a device in
 * flight waits for the same answer.
 *
 * Only the daemon's own links are ever in its group: the group number is
 * picked at random among the ones no link on the host uses, journalled, and
 * the group is listed right before the delete; a link someone else put in
 * it makes this batch fall back to one delete per device and the daemon
 * pick another number. (A link put in the group between that listing and
 * the delete, a window of one netlink round trip, is not guarded against.)
 * A device whose own delete fails is taken out of the group again, so a
 * later batch never deletes it unasked.
 */
#include <errno.h>

#include "nlc-destroy-batch.h"
#include "nlc-error.h"
#include "nlc-netlink.h"

/* Groups below this are left to administrators (ip link set group N). */
#define GROUP_MIN 0x10000u
/* Deletes in the kernel at once, each in its worker thread. */
#define WORKERS_MAX 8

typedef struct {
        NlcDestroyDone done;
        gpointer data;
} Waiter;

typedef struct {
        NlcDevice *device; /* a reference */
        GArray *waiters;   /* Waiter */
        GError *error;
        gboolean run;     /* the write-ahead record is journalled */
        int link;         /* > 0: the link the backend would delete */
        gboolean grouped; /* that link is in the daemon's group */
} Entry;

/* A flush between its write-ahead and its answers: the kernel's delete is
 * under way in a worker thread. */
typedef struct {
        NlcDestroyBatch *batch; /* NULL once it has landed */
        GPtrArray *entries;     /* Entry */
        int ifindex;            /* the request: delete this link, */
        guint32 group;          /* or (ifindex 0) this netdev group */
        guint n_links;          /* the links the request deletes, */
        GHashTable *listed;     /* those the monitor has not seen go yet */
        GMainContext *context;  /* where the worker's answer goes */
        int result;             /* the kernel's answer, once answered is set */
        gint answered;
        gint refs; /* the batch's until it lands, the worker's until it answered */
} Flight;

struct _NlcDestroyBatch {
        NlcJournal *journal;
        char *group_path;
        guint32 group;
        GPtrArray *queue;   /* Entry, in arrival order, not flushed yet */
        GHashTable *queued; /* NlcDevice → Entry, queued or in flight */
        guint idle_id;
        Flight *flight; /* at most one: the next flush may reuse the group */
        guint land_id;
        GThreadPool *workers;
};

static void run_in_worker(gpointer data, gpointer unused);
static void land(Flight *f);
static void flush(NlcDestroyBatch *b, gboolean in_worker);
static gboolean on_idle(gpointer data);

static void
entry_free(gpointer data)
{
        Entry *e = data;

        g_object_unref(e->device);
        g_array_unref(e->waiters);
        g_clear_error(&e->error);
        g_free(e);
}

NlcDestroyBatch *
nlc_destroy_batch_new(NlcJournal *journal, const char *state_dir)
{
        NlcDestroyBatch *b = g_new0(NlcDestroyBatch, 1);
        g_autofree char *text = NULL;

        b->journal = journal;
        b->group_path = g_build_filename(state_dir, "destroy-group", NULL);
        if (g_file_get_contents(b->group_path, &text, NULL, NULL))
                b->group = (guint32) g_ascii_strtoull(text, NULL, 10);
        if (b->group < GROUP_MIN)
                b->group = 0;
        b->queue = g_ptr_array_new_with_free_func(entry_free);
        b->queued = g_hash_table_new(NULL, NULL);
        /* A worker stays in the kernel ~20 ms per delete (its RCU barrier)
         * after the links are gone; a few in parallel keep up with flushes
         * that land when the links are gone. */
        b->workers = g_thread_pool_new(run_in_worker, NULL, WORKERS_MAX, FALSE, NULL);
        return b;
}

void
nlc_destroy_batch_free(NlcDestroyBatch *b)
{
        if (!b)
                return;
        /* Before the daemon exits: every delete answered, every caller too. */
        g_thread_pool_free(b->workers, FALSE, TRUE);
        if (b->flight)
                land(b->flight);
        flush(b, FALSE);
        g_clear_handle_id(&b->idle_id, g_source_remove);
        g_clear_handle_id(&b->land_id, g_source_remove);
        g_ptr_array_unref(b->queue);
        g_hash_table_unref(b->queued);
        g_free(b->group_path);
        g_free(b);
}

/* ---- the group number -------------------------------------------------- */

static GHashTable *
groups_in_use(void)
{
        g_autoptr(GArray) links = g_array_new(FALSE, FALSE, sizeof(NlcLinkGroup));
        GHashTable *used = g_hash_table_new(NULL, NULL);

        if (nlc_link_list_groups(links) == 0)
                for (guint i = 0; i < links->len; i++)
                        g_hash_table_add(
                                used,
                                GUINT_TO_POINTER(g_array_index(links, NlcLinkGroup, i).group));
        return used;
}

/* A number no link on the host is in, journalled before any link gets it. */
static gboolean
pick_group(NlcDestroyBatch *b)
{
        g_autoptr(GHashTable) used = groups_in_use();
        g_autoptr(GError) error = NULL;
        g_autofree char *text = NULL;
        guint32 group;

        do
                group = (guint32) g_random_int_range((gint32) GROUP_MIN, G_MAXINT32);
        while (g_hash_table_contains(used, GUINT_TO_POINTER(group)));
        text = g_strdup_printf("%u\n", group);
        if (!g_file_set_contents_full(b->group_path, text, -1,
                                      G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                      0600, &error)) {
                g_warning("destroy batch: cannot journal the netdev group: %s; deleting one by "
                          "one",
                          error->message);
                return FALSE;
        }
        g_message("destroy batch: netdev group %u", group);
        b->group = group;
        return TRUE;
}

/* TRUE when a link that is not one of @ours is in the group. */
static gboolean
group_has_foreign(NlcDestroyBatch *b, GHashTable *ours)
{
        g_autoptr(GArray) links = g_array_new(FALSE, FALSE, sizeof(NlcLinkGroup));
        int r = nlc_link_list_groups(links);

        if (r < 0) {
                g_warning("destroy batch: cannot list the links: %s", g_strerror(-r));
                return TRUE; /* unknown: do not risk it */
        }
        for (guint i = 0; i < links->len; i++) {
                NlcLinkGroup *l = &g_array_index(links, NlcLinkGroup, i);

                if (l->group == b->group &&
                    !g_hash_table_contains(ours, GINT_TO_POINTER(l->ifindex))) {
                        g_warning("destroy batch: link %d is in netdev group %u and is not ours; "
                                  "deleting one by one and picking another group",
                                  l->ifindex, b->group);
                        return TRUE;
                }
        }
        return FALSE;
}

/* ---- a flush ------------------------------------------------------------ */

static void
write_ahead(NlcDestroyBatch *b, GPtrArray *entries)
{
        g_autoptr(GError) error = NULL;

        nlc_journal_begin_batch(b->journal);
        for (guint i = 0; i < entries->len; i++) {
                Entry *e = entries->pdata[i];

                nlc_device_destroy_begin(e->device, &e->run, &e->error);
        }
        if (nlc_journal_commit_batch(b->journal, &error))
                return;
        for (guint i = 0; i < entries->len; i++) {
                Entry *e = entries->pdata[i];

                if (!e->run)
                        continue;
                e->run = FALSE;
                nlc_device_destroy_abandon(e->device);
                e->error = g_error_copy(error);
        }
}

static void
ungroup(GPtrArray *entries)
{
        for (guint i = 0; i < entries->len; i++) {
                Entry *e = entries->pdata[i];
                int r = e->grouped ? nlc_link_set_group(e->link, 0) : 0;

                if (r < 0 && r != -ENODEV)
                        g_warning("destroy batch: cannot take link %d out of the group: %s",
                                  e->link, g_strerror(-r));
                e->grouped = FALSE;
        }
}

/* Notes the link each backend would delete; returns how many there are. */
static guint
find_links(GPtrArray *entries)
{
        guint n = 0;

        for (guint i = 0; i < entries->len; i++) {
                Entry *e = entries->pdata[i];

                /* Not a link (a direct device is restored), gone, or an error
                 * its own destroy will report. */
                e->link = e->run ? nlc_device_destroy_link(e->device, NULL) : 0;
                n += e->link > 0;
        }
        return n;
}

/* Step 2: the request that deletes the links: a lone link by itself (the
 * group's check lists every link of the host, which costs more than one
 * delete when the host has thousands), more in the daemon's group once it
 * holds nothing else. FALSE: none; each backend deletes its own link. */
static gboolean
plan_delete(NlcDestroyBatch *b, Flight *f)
{
        GPtrArray *entries = f->entries;
        guint n = find_links(entries);

        f->listed = g_hash_table_new(NULL, NULL);
        for (guint i = 0; i < entries->len; i++) {
                Entry *e = entries->pdata[i];

                if (e->link <= 0)
                        continue;
                if (n == 1) {
                        f->ifindex = e->link;
                } else {
                        if (!b->group && !pick_group(b))
                                return FALSE;
                        if (nlc_link_set_group(e->link, b->group) < 0)
                                continue;
                        e->grouped = TRUE;
                }
                g_hash_table_add(f->listed, GINT_TO_POINTER(e->link));
        }
        f->n_links = g_hash_table_size(f->listed);
        if (!f->n_links)
                return FALSE;
        if (n > 1 && group_has_foreign(b, f->listed)) {
                ungroup(entries);
                pick_group(b);
                return FALSE;
        }
        f->group = f->ifindex ? 0 : b->group;
        return TRUE;
}

static void
finish(NlcDestroyBatch *b, GPtrArray *entries)
{
        g_autoptr(GError) error = NULL;

        nlc_journal_begin_batch(b->journal);
        for (guint i = 0; i < entries->len; i++) {
                Entry *e = entries->pdata[i];

                if (e->run && !nlc_device_destroy_finish(e->device, &e->error) && e->grouped)
                        nlc_link_set_group(e->link, 0);
        }
        /* Not fatal: each record still says "pending destroy" on disk, which a
         * restart rolls forward to what the kernel already did. */
        if (!nlc_journal_commit_batch(b->journal, &error))
                g_warning("destroy batch: %s", error->message);
}

static void
answer(NlcDestroyBatch *b, GPtrArray *entries)
{
        for (guint i = 0; i < entries->len; i++) {
                Entry *e = entries->pdata[i];

                g_hash_table_remove(b->queued, e->device);
                nlc_device_set_destroy_queued(e->device, FALSE);
                for (guint w = 0; w < e->waiters->len; w++) {
                        Waiter *waiter = &g_array_index(e->waiters, Waiter, w);

                        waiter->done(e->device, e->error, waiter->data);
                }
        }
}

/* ---- the kernel's delete, in a worker ----------------------------------- */

static void
flight_unref(gpointer data)
{
        Flight *f = data;

        if (!g_atomic_int_dec_and_test(&f->refs))
                return;
        g_clear_pointer(&f->entries, g_ptr_array_unref);
        g_clear_pointer(&f->listed, g_hash_table_unref);
        g_main_context_unref(f->context);
        g_free(f);
}

static gboolean
delete_failed(Flight *f)
{
        return g_atomic_int_get(&f->answered) && f->result < 0 && f->result != -ENODEV;
}

/* Step 3, once the kernel answered the delete or the monitor saw every link
 * of it go, whichever comes first: the links are unlisted then (their names
 * free, nothing left to see of them), and what the kernel still does — its
 * RCU barrier, ~20 ms per request here — needs nothing from the daemon or
 * its callers. */
static void
land(Flight *f)
{
        NlcDestroyBatch *b = f->batch;

        f->batch = NULL;
        b->flight = NULL;
        g_clear_handle_id(&b->land_id, g_source_remove);
        if (delete_failed(f) && f->group) {
                g_warning("destroy batch: deleting netdev group %u: %s; one by one instead",
                          f->group, g_strerror(-f->result));
                ungroup(f->entries);
        } else if (f->group) {
                g_message("destroy batch: %u links deleted in one request (netdev group %u)",
                          f->n_links, f->group);
        }
        if (!g_atomic_int_get(&f->answered))
                g_debug("destroy batch: %u link%s gone before the kernel answered", f->n_links,
                        f->n_links == 1 ? "" : "s");
        /* A lone link whose delete failed is deleted again by its backend,
         * which reports the error. */
        finish(b, f->entries);
        answer(b, f->entries);
        if (b->queue->len && !b->idle_id)
                b->idle_id = g_idle_add_full(G_PRIORITY_DEFAULT_IDLE, on_idle, b, NULL);
        flight_unref(f);
}

static gboolean
on_answered(gpointer data)
{
        Flight *f = data;

        if (f->batch)
                land(f);
        else if (delete_failed(f))
                g_warning("destroy batch: the kernel refused a delete whose links were already "
                          "gone: %s",
                          g_strerror(-f->result));
        return G_SOURCE_REMOVE;
}

/* The request itself: from a worker, or at exit from the main thread. */
static void
send_delete(Flight *f)
{
        f->result = nlc_link_delete_on_own_socket(f->ifindex, f->group);
        g_atomic_int_set(&f->answered, TRUE);
}

static void
run_in_worker(gpointer data, gpointer unused)
{
        Flight *f = data;

        send_delete(f);
        g_main_context_invoke_full(f->context, G_PRIORITY_DEFAULT, on_answered, f, flight_unref);
}

static gboolean
on_all_gone(gpointer data)
{
        NlcDestroyBatch *b = data;

        b->land_id = 0;
        land(b->flight);
        return G_SOURCE_REMOVE;
}

void
nlc_destroy_batch_link_removed(NlcDestroyBatch *b, int ifindex)
{
        Flight *f = b->flight;

        if (!f || !g_hash_table_remove(f->listed, GINT_TO_POINTER(ifindex)) ||
            g_hash_table_size(f->listed) || b->land_id)
                return;
        /* Not from inside the monitor's callback: landing destroys devices. */
        b->land_id = g_idle_add_full(G_PRIORITY_DEFAULT, on_all_gone, b, NULL);
}

/* ---- a flush ------------------------------------------------------------ */

/* Runs what is queued; with @in_worker, the kernel's delete goes to a worker
 * and the flush lands later, else it lands before this returns. */
static void
flush(NlcDestroyBatch *b, gboolean in_worker)
{
        g_autoptr(GPtrArray) entries = g_steal_pointer(&b->queue);
        Flight *f;

        b->queue = g_ptr_array_new_with_free_func(entry_free);
        if (!entries->len)
                return;
        write_ahead(b, entries);
        f = g_new0(Flight, 1);
        f->batch = b;
        f->entries = g_steal_pointer(&entries);
        f->context = g_main_context_ref_thread_default();
        f->refs = 1;
        b->flight = f;
        if (!plan_delete(b, f)) {
                land(f);
        } else if (in_worker) {
                g_atomic_int_inc(&f->refs);
                g_thread_pool_push(b->workers, f, NULL);
        } else {
                send_delete(f);
                land(f);
        }
}

static gboolean
on_idle(gpointer data)
{
        NlcDestroyBatch *b = data;

        b->idle_id = 0;
        /* One flight at a time: its landing calls again. */
        if (!b->flight)
                flush(b, TRUE);
        return G_SOURCE_REMOVE;
}

void
nlc_destroy_batch_add(NlcDestroyBatch *b, NlcDevice *device, NlcDestroyDone done, gpointer data)
{
        Entry *e = g_hash_table_lookup(b->queued, device);
        Waiter waiter = { done, data };

        if (!e) {
                e = g_new0(Entry, 1);
                e->device = g_object_ref(device);
                e->waiters = g_array_new(FALSE, FALSE, sizeof(Waiter));
                g_ptr_array_add(b->queue, e);
                g_hash_table_insert(b->queued, device, e);
                nlc_device_set_destroy_queued(device, TRUE);
        }
        g_array_append_val(e->waiters, waiter);
        /* Below GDBus's dispatch priority: the calls already received are
         * queued before the flush runs. */
        if (!b->idle_id && !b->flight)
                b->idle_id = g_idle_add_full(G_PRIORITY_DEFAULT_IDLE, on_idle, b, NULL);
}

/* ---- many devices, one answer ------------------------------------------- */

typedef struct {
        NlcDestroyAllDone done;
        gpointer data;
        guint pending; /* + 1 while devices are still being added */
        guint failed;
        GString *failures;
        GError *first;
} AllRequest;

static void
note_failure(AllRequest *r, NlcDevice *device, const GError *error)
{
        g_string_append_printf(r->failures, "%sdevice %s: %s", r->failed++ ? "; " : "",
                               nlc_device_get_id(device), error->message);
        if (!r->first)
                r->first = g_error_copy(error);
}

static void
settle(AllRequest *r)
{
        g_autoptr(GError) error = NULL;

        if (--r->pending)
                return;
        if (r->first)
                error = g_error_new(r->first->domain, r->first->code,
                                    "%u device%s not destroyed: %s", r->failed,
                                    r->failed == 1 ? "" : "s", r->failures->str);
        r->done(error, r->data);
        g_string_free(r->failures, TRUE);
        g_clear_error(&r->first);
        g_free(r);
}

static void
on_one_destroyed(NlcDevice *device, const GError *error, gpointer data)
{
        if (error)
                note_failure(data, device, error);
        settle(data);
}

void
nlc_destroy_batch_add_all(NlcDestroyBatch *b, GPtrArray *devices, NlcDestroyAllDone done,
                          gpointer data)
{
        AllRequest *r = g_new0(AllRequest, 1);

        r->done = done;
        r->data = data;
        r->pending = 1;
        r->failures = g_string_new(NULL);
        for (guint i = 0; i < devices->len; i++) {
                NlcDevice *device = devices->pdata[i];
                g_autoptr(GError) error = NULL;

                if (nlc_device_get_state(device) == NLC_DEVICE_STATE_ACTIVE &&
                    !nlc_device_run(device, NLC_OP_DEACTIVATE, &error)) {
                        note_failure(r, device, error);
                        continue;
                }
                if (nlc_device_get_state(device) != NLC_DEVICE_STATE_CREATED)
                        continue;
                r->pending++;
                nlc_destroy_batch_add(b, device, on_one_destroyed, r);
        }
        settle(r);
}
