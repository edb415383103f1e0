/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * QMP from the test process, synchronously: the project's NlcQmp client
 * with the default main context iterated until each reply. For the naive
 * driver (the daemons stay out of it) and for the test's own monitor on a
 * QEMU the daemon follows (a second -qmp socket: fault injection, knobs the
 * daemon does not offer).
 */
#pragma once

#include "nlc-qmp.h"

/* Waits up to 10 s for @path to appear, then connects (greeting and
 * qmp_capabilities done). */
NlcQmp *mig_qmp_connect(const char *path, GError **error);
/* @args: a JSON object as text, or NULL. Returns QEMU's "return" value. */
JsonNode *mig_qmp_run(NlcQmp *qmp, const char *command, const char *args, GError **error);
gboolean mig_qmp_do(NlcQmp *qmp, const char *command, const char *args, GError **error);
