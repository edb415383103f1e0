/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The loader's ABI check and the option check, on fake vtables. */
#include <glib.h>

#include "nlc-backends.h"
#include "nlc-error.h"

static gboolean
fake_op(NlcBackendDevice *dev, GError **error)
{
        return TRUE;
}

static gboolean
fake_allocate(NlcBackendDevice *dev, GVariantDict *o, const NlcBackendHost *h, GError **error)
{
        return TRUE;
}

static gboolean
fake_notify(NlcBackendDevice *dev, NlcDeviceState *state, GError **error)
{
        return TRUE;
}

static const NlcBackendOption fake_options[] = {
        { "bridge", "s", "" },
        { "queues", "u", "" },
        { NULL },
};

#define FAKE_OPS                                                               \
        .options = fake_options, .allocate = fake_allocate, .create = fake_op, \
        .activate = fake_op, .deactivate = fake_op, .destroy = fake_op, .notify = fake_notify

NLC_BACKEND_DEFINE(fake_good, .name = "fake", FAKE_OPS);

static void
test_abi_check(void)
{
        NlcBackend wrong_major = fake_good, newer_minor = fake_good, no_create = fake_good;
        g_autoptr(GError) e1 = NULL, e2 = NULL, e3 = NULL;

        wrong_major.abi_major = NLC_PLUGIN_ABI_MAJOR + 1;
        newer_minor.abi_minor = NLC_PLUGIN_ABI_MINOR + 1;
        no_create.create = NULL;
        g_assert_true(nlc_backend_check(&fake_good, NULL));
        g_assert_false(nlc_backend_check(&wrong_major, &e1));
        g_assert_nonnull(strstr(e1->message, "plugin ABI"));
        g_assert_false(nlc_backend_check(&newer_minor, &e2));
        g_assert_false(nlc_backend_check(&no_create, &e3));
}

static void
test_register_and_lookup(void)
{
        g_autoptr(GError) error = NULL;
        g_autofree char *names = NULL;

        nlc_backends_init();
        g_assert_nonnull(nlc_backends_lookup("tap-bridge"));
        g_assert_null(nlc_backends_lookup("fake"));
        g_assert_true(nlc_backends_register(&fake_good, NULL));
        g_assert_true(nlc_backends_lookup("fake") == &fake_good);
        g_assert_false(nlc_backends_register(&fake_good, &error));
        g_assert_error(error, NLC_ERROR, NLC_ERROR_CONFLICT);
        names = nlc_backends_list_names();
        g_assert_cmpstr(names, ==, "tap-bridge, macvtap, direct, fake");
}

static void
test_options(void)
{
        g_autoptr(GVariant) good = g_variant_ref_sink(
                g_variant_new_parsed("{'bridge': <'br0'>, 'queues': <uint32 2>}"));
        g_autoptr(GVariant) unknown =
                g_variant_ref_sink(g_variant_new_parsed("{'brige': <'br0'>}"));
        g_autoptr(GVariant) wrong = g_variant_ref_sink(g_variant_new_parsed("{'queues': <'2'>}"));
        g_autoptr(GError) e1 = NULL, e2 = NULL;

        g_assert_true(nlc_backend_check_options(&fake_good, good, NULL));
        g_assert_false(nlc_backend_check_options(&fake_good, unknown, &e1));
        g_assert_error(e1, NLC_ERROR, NLC_ERROR_INVALID_ARGS);
        g_assert_nonnull(strstr(e1->message, "'brige'"));
        g_assert_false(nlc_backend_check_options(&fake_good, wrong, &e2));
        g_assert_error(e2, NLC_ERROR, NLC_ERROR_INVALID_ARGS);
        g_assert_nonnull(strstr(e2->message, "'queues'"));
        g_assert_nonnull(strstr(e2->message, "'u'"));
}

static void
test_describe(void)
{
        g_autoptr(GVariant) all = NULL;
        g_autoptr(GVariant) tap = NULL;
        g_autoptr(GVariant) options = NULL;
        gboolean fd_handover = FALSE;
        const char *type = NULL;

        nlc_backends_init();
        all = g_variant_ref_sink(nlc_backends_describe());
        tap = g_variant_lookup_value(all, "tap-bridge", G_VARIANT_TYPE_VARDICT);
        g_assert_nonnull(tap);
        g_assert_true(g_variant_lookup(tap, "fd-handover", "b", &fd_handover));
        g_assert_true(fd_handover);
        options = g_variant_lookup_value(tap, "options", G_VARIANT_TYPE("a{ss}"));
        g_assert_true(g_variant_lookup(options, "queues", "&s", &type));
        g_assert_cmpstr(type, ==, "u");
        g_assert_true(g_variant_lookup(options, "bridge", "&s", &type));
        g_assert_cmpstr(type, ==, "s");
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/backends/abi-check", test_abi_check);
        g_test_add_func("/backends/register-and-lookup", test_register_and_lookup);
        g_test_add_func("/backends/options", test_options);
        g_test_add_func("/backends/describe", test_describe);
        return g_test_run();
}
