/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Coalesced destroys. Unregistering a netdev waits for an RCU grace period;
 * one RTM_DELLINK for a whole netdev group waits once for all of them. Every
 * Destroy goes through a queue that is flushed when the main loop is idle —
 * no timer: a lone Destroy runs on the next iteration, and calls that arrive
 * while a flush runs are taken together by the next one. The kernel's delete
 * runs in a worker thread, so the main loop never waits for it.
 */
#pragma once

#include "nlc-device.h"
#include "nlc-journal.h"

G_BEGIN_DECLS

typedef struct _NlcDestroyBatch NlcDestroyBatch;

/* @error is NULL on success. */
typedef void (*NlcDestroyDone)(NlcDevice *device, const GError *error, gpointer data);

/* The group number is journalled in @state_dir/destroy-group. */
NlcDestroyBatch *nlc_destroy_batch_new(NlcJournal *journal, const char *state_dir);
void nlc_destroy_batch_free(NlcDestroyBatch *batch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlcDestroyBatch, nlc_destroy_batch_free)

/* Queues a Destroy of @device; @done runs once it is destroyed or failed.
 * A device already queued gets one more @done for the same result. Other
 * operations on a queued device fail with Busy until it is done. */
void nlc_destroy_batch_add(NlcDestroyBatch *batch, NlcDevice *device, NlcDestroyDone done,
                           gpointer data);

/* Tears down @devices together (Manager.DestroyInstances): active ones are
 * deactivated first, created ones queued, others left alone. @done runs
 * once, with NULL or an error naming every device that failed and why. */
typedef void (*NlcDestroyAllDone)(const GError *error, gpointer data);
void nlc_destroy_batch_add_all(NlcDestroyBatch *batch, GPtrArray *devices, NlcDestroyAllDone done,
                               gpointer data);

/* The monitor saw link @ifindex go (RTM_DELLINK): a flush waiting for the
 * kernel's answer to its delete may land before it. */
void nlc_destroy_batch_link_removed(NlcDestroyBatch *batch, int ifindex);

G_END_DECLS
