/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "nlc-backends.h"
#include "nlc-error.h"
#include "nlc-fake-backend.h"
#include "nlc-journal.h"

GString *nlc_fake_backend_calls;
gboolean nlc_fake_backend_fail_activate;
NlcDeviceState nlc_fake_backend_kernel_says = NLC_DEVICE_STATE_NONE;
GString *nlc_fake_warnings;

static gboolean
record(const char *op, NlcBackendDevice *dev)
{
        g_string_append_printf(nlc_fake_backend_calls, "%s(%s) ", op, dev->id);
        return TRUE;
}

#define FAKE(op)                                                         \
        static gboolean fake_##op(NlcBackendDevice *dev, GError **error) \
        {                                                                \
                return record(#op, dev);                                 \
        }
FAKE(create)
FAKE(deactivate)
FAKE(destroy)
FAKE(free)

static gboolean
fake_activate(NlcBackendDevice *dev, GError **error)
{
        record("activate", dev);
        if (nlc_fake_backend_fail_activate) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_FAILED, "injected failure");
                return FALSE;
        }
        return TRUE;
}

static gboolean
fake_allocate(NlcBackendDevice *dev, GVariantDict *o, const NlcBackendHost *h, GError **error)
{
        return record("allocate", dev);
}

static gboolean
fake_notify(NlcBackendDevice *dev, NlcDeviceState *state, GError **error)
{
        record("notify", dev);
        if (nlc_fake_backend_kernel_says != NLC_DEVICE_STATE_NONE)
                *state = nlc_fake_backend_kernel_says;
        return TRUE;
}

static const NlcBackendOption no_options[] = { { NULL } };

/* clang-format off */
NLC_BACKEND_DEFINE(nlc_fake_backend,
        .name = "fake",
        .description = "unit-test backend",
        .options = no_options,
        .allocate = fake_allocate,
        .create = fake_create,
        .activate = fake_activate,
        .deactivate = fake_deactivate,
        .destroy = fake_destroy,
        .free = fake_free,
        .notify = fake_notify);
/* clang-format on */

static GLogWriterOutput
capture_writer(GLogLevelFlags level, const GLogField *fields, gsize n, gpointer user_data)
{
        if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
                return g_log_writer_default(level, fields, n, user_data);
        if (!(level & G_LOG_LEVEL_WARNING))
                return G_LOG_WRITER_HANDLED; /* state-change chatter */
        for (gsize i = 0; i < n; i++)
                if (g_str_equal(fields[i].key, "MESSAGE"))
                        g_string_append_printf(nlc_fake_warnings, "%s\n",
                                               (const char *) fields[i].value);
        return G_LOG_WRITER_HANDLED;
}

void
nlc_fake_backend_init(void)
{
        nlc_fake_backend_calls = g_string_new(NULL);
        nlc_fake_warnings = g_string_new(NULL);
        /* These tests provoke warnings and assert on their text, so they are
         * captured instead of fatal; criticals stay fatal. */
        g_log_set_writer_func(capture_writer, NULL, NULL);
        g_log_set_default_handler(g_log_default_handler, NULL);
        g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL);
        nlc_error_quark();
        g_assert_true(nlc_backends_register(&nlc_fake_backend, NULL));
}

void
nlc_fake_backend_reset(void)
{
        g_string_truncate(nlc_fake_backend_calls, 0);
        g_string_truncate(nlc_fake_warnings, 0);
        nlc_fake_backend_fail_activate = FALSE;
        nlc_fake_backend_kernel_says = NLC_DEVICE_STATE_NONE;
}

void
nlc_fake_journal_device(const char *state_dir, const NlcFakeRecord *r)
{
        g_autoptr(NlcJournal) j = nlc_journal_open(state_dir, NULL);
        NlcJournalRecord rec = {
                .id = (char *) r->id,
                .instance = (char *) r->instance,
                .backend = (char *) (r->backend ? r->backend : "fake"),
                .mac = (char *) (r->mac ? r->mac : "52:54:00:00:00:01"),
                .state = r->state,
                .has_pending = r->has_pending,
                .pending = r->pending,
                .activated_usec = r->activated_usec,
                .activated_seq = r->activated_seq,
                .options = g_variant_ref_sink(g_variant_new_parsed("@a{sv} {}")),
        };

        g_assert_nonnull(j);
        g_assert_true(nlc_journal_write(j, &rec, NULL));
        g_variant_unref(rec.options);
}

void
nlc_fake_remove_dir(char *dir)
{
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);

        g_spawn_command_line_sync(cmd, NULL, NULL, NULL, NULL);
        g_free(dir);
}
