/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A fake backend for unit tests: no kernel; every operation is logged as
 * "op(id) " in nlc_fake_backend_calls, and a few knobs inject behaviour.
 * Its devices have no bridge, so the daemon treats them as ready once
 * created. Also: a log writer that keeps warnings for assertions.
 */
#pragma once

#include "nlc-plugin.h"

extern const NlcBackend nlc_fake_backend;
extern GString *nlc_fake_backend_calls;
/* activate fails with "injected failure" while set. */
extern gboolean nlc_fake_backend_fail_activate;
/* What notify reports as the kernel's state; NONE: agree with the journal. */
extern NlcDeviceState nlc_fake_backend_kernel_says;
/* Warnings logged since the last reset, one per line. */
extern GString *nlc_fake_warnings;

/* Registers the backend, captures the log (warnings into nlc_fake_warnings,
 * not fatal; criticals stay fatal). Call once, after g_test_init(). */
void nlc_fake_backend_init(void);
/* Clears the call log, the warnings and the knobs. */
void nlc_fake_backend_reset(void);

/* A device record as a crash would leave it, written into @state_dir's
 * journal: backend @backend, MAC @mac (NULL: 52:54:00:00:00:01), no options. */
typedef struct {
        const char *id, *instance, *backend, *mac;
        NlcDeviceState state;
        gboolean has_pending;
        NlcOp pending;
        gint64 activated_usec;
        guint64 activated_seq;
} NlcFakeRecord;
void nlc_fake_journal_device(const char *state_dir, const NlcFakeRecord *record);
/* Removes a test's temporary directory and frees the string. */
void nlc_fake_remove_dir(char *dir);
