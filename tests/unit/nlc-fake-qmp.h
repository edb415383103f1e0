/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A scripted fake QMP server for unit tests. It greets like QEMU (with the
 * version given), then follows a script step by step: expect a command (and
 * answer it), or send an event or raw bytes. A command that is not the next
 * expected step is recorded as an error, answered with a QMP error, and fails
 * the test at nlc_fake_qmp_assert_done().
 */
#pragma once

#include <gio/gio.h>

typedef struct _NlcFakeQmp NlcFakeQmp;

/* Listens on a fresh unix socket in a temporary directory. */
NlcFakeQmp *nlc_fake_qmp_new(int major, int minor, int micro);
void nlc_fake_qmp_free(NlcFakeQmp *fake);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlcFakeQmp, nlc_fake_qmp_free)
const char *nlc_fake_qmp_get_path(NlcFakeQmp *fake);

/* Script steps, run in order. @reply_json is the "return" value as JSON text
 * ("{}" when NULL). @args_json, when not NULL, must equal the command's
 * arguments (compared as JSON values). */
void nlc_fake_qmp_expect(NlcFakeQmp *fake, const char *command, const char *args_json,
                         const char *reply_json);
/* Like nlc_fake_qmp_expect(), for a command that must come out of band
 * ("exec-oob", after qmp_capabilities enabled "oob": the greeting offers it). */
void nlc_fake_qmp_expect_oob(NlcFakeQmp *fake, const char *command, const char *args_json,
                             const char *reply_json);
/* Answers the command with {"error": {"class": @cls, "desc": @desc}}. */
void nlc_fake_qmp_expect_error(NlcFakeQmp *fake, const char *command, const char *cls,
                               const char *desc);
/* Swallows the command without answering (for timeouts). */
void nlc_fake_qmp_expect_silence(NlcFakeQmp *fake, const char *command);
/* Sends {"event": @name, "data": @data_json, "timestamp": ...} when reached. */
void nlc_fake_qmp_event(NlcFakeQmp *fake, const char *name, const char *data_json);
/* Sends @bytes as they are (garbage, partial lines). */
void nlc_fake_qmp_raw(NlcFakeQmp *fake, const char *bytes);
/* Closes the client's connection when reached; the next client is greeted
 * again and the script goes on. */
void nlc_fake_qmp_hang_up(NlcFakeQmp *fake);

/* What the daemon asks a QEMU 7.2 before a migration starts: query-version,
 * query-migrate-capabilities (events and postcopy-ram, both off), then
 * migrate-set-capabilities. */
void nlc_fake_qmp_expect_migration_start(NlcFakeQmp *fake);

/* Iterates the main context until the script is done or @timeout_ms passed. */
gboolean nlc_fake_qmp_run_until_done(NlcFakeQmp *fake, guint timeout_ms);
/* Asserts the whole script ran (waiting up to 2 s for it) and nothing
 * unscripted came. */
void nlc_fake_qmp_assert_done(NlcFakeQmp *fake);
/* How many clients connected so far. */
guint nlc_fake_qmp_get_connections(NlcFakeQmp *fake);
