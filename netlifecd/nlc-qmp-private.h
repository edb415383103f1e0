/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * For the QMP fuzzer only: a client with no socket, in the state it has after
 * the greeting, whose reader is fed bytes directly. Commands can be issued
 * (their bytes go nowhere) so replies in the input have ids to match.
 */
#pragma once

#include "nlc-qmp.h"

NlcQmp *nlc_qmp_new_detached(void);
void nlc_qmp_feed(NlcQmp *self, const guint8 *data, gsize len);
