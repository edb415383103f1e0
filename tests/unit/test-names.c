/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <glib.h>
#include <string.h>

#include "nlc-error.h"
#include "nlc-names.h"

static void
test_mac(void)
{
        static const char *const bad[] = {
                "",
                "52:54:00:12:34",
                "52:54:00:12:34:567",
                "52-54-00-12-34-56",
                "52:54:00:12:34:5g",
                "52:54:00:12:34:56 ",
                "01:00:5e:00:00:01", /* multicast */
                "ff:ff:ff:ff:ff:ff",
                "00:00:00:00:00:00",
        };
        guint8 mac[6];
        g_autofree char *s = NULL;

        g_assert_true(nlc_mac_parse("52:54:00:AB:cd:0F", mac, NULL));
        s = nlc_mac_to_string(mac);
        g_assert_cmpstr(s, ==, "52:54:00:ab:cd:0f");
        for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autoptr(GError) error = NULL;

                g_assert_false(nlc_mac_parse(bad[i], mac, &error));
                g_assert_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS);
        }
}

static void
test_instance_and_ifname(void)
{
        g_autofree char *long64 = g_strnfill(64, 'a');
        g_autofree char *long65 = g_strnfill(65, 'a');
        static const char *const bad_if[] = { "",     "sixteen-chars-xx", "a/b", "a b", ".", "..",
                                              "tap:0" };

        g_assert_true(nlc_instance_name_validate("vm-1.prod_a", NULL));
        g_assert_true(nlc_instance_name_validate(long64, NULL));
        g_assert_false(nlc_instance_name_validate(long65, NULL));
        g_assert_false(nlc_instance_name_validate("", NULL));
        g_assert_false(nlc_instance_name_validate("vm/1", NULL));
        g_assert_true(nlc_ifname_validate("fifteen-chars-x", NULL));
        for (guint i = 0; i < G_N_ELEMENTS(bad_if); i++) {
                g_autoptr(GError) error = NULL;

                g_assert_false(nlc_ifname_validate(bad_if[i], &error));
                g_assert_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS);
        }
}

static void
test_errno_mapping(void)
{
        static const struct {
                int e;
                NlcError code;
        } cases[] = {
                { 19 /* ENODEV */, NLC_ERROR_NOT_FOUND },
                { 17 /* EEXIST */, NLC_ERROR_CONFLICT },
                { 16 /* EBUSY */, NLC_ERROR_BUSY },
                { 22 /* EINVAL */, NLC_ERROR_INVALID_ARGS },
                { 1 /* EPERM */, NLC_ERROR_FAILED },
        };

        for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(GError) error = NULL;

                g_assert_false(nlc_error_set_errno(&error, -cases[i].e, "doing %s", "x"));
                g_assert_error(error, NLC_ERROR, (int) cases[i].code);
                g_assert_true(g_str_has_prefix(error->message, "doing x: "));
        }
}

/* A long name of multi-byte characters is quoted cut on a character
 * boundary: the message stays valid UTF-8 (a D-Bus string). */
static void
test_excerpt(void)
{
        g_autoptr(GString) long_name = g_string_new(NULL);
        g_autoptr(GError) error = NULL;
        g_autofree char *cut = NULL, *bad = NULL, *short_one = nlc_excerpt("vm1", 80);

        for (int i = 0; i < 100; i++)
                g_string_append(long_name, "é€𝄞");
        g_assert_false(nlc_instance_name_validate(long_name->str, &error));
        g_assert_true(g_utf8_validate(error->message, -1, NULL));
        g_assert_nonnull(strstr(error->message, "…' is 900 bytes long"));
        cut = nlc_excerpt(long_name->str, 4);
        g_assert_cmpstr(cut, ==, "é€𝄞é…");
        g_assert_cmpstr(short_one, ==, "vm1");
        /* Bytes that are not UTF-8 (a configuration file) are replaced. */
        bad = nlc_excerpt("a\xff\xfe"
                          "b",
                          80);
        g_assert_true(g_utf8_validate(bad, -1, NULL));
        g_clear_error(&error);
        g_assert_false(nlc_mac_parse(long_name->str, (guint8[6]){ 0 }, &error));
        g_assert_true(g_utf8_validate(error->message, -1, NULL));
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/names/mac", test_mac);
        g_test_add_func("/names/instance-and-ifname", test_instance_and_ifname);
        g_test_add_func("/names/errno-mapping", test_errno_mapping);
        g_test_add_func("/names/excerpt", test_excerpt);
        return g_test_run();
}
