/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The port-profile allocate options (nlc-port-profile.c): every rule, each
 * refusal naming the option, and the refusal backends give until the
 * lifecycle applies profiles.
 */
#include <string.h>

#include "nlc-error.h"
#include "nlc-port-profile.h"

/* Options from GVariant text, e.g. "{'virtualport': <'802.1Qbg'>}". */
static GVariantDict *
options(const char *text)
{
        g_autoptr(GVariant) v = g_variant_parse(G_VARIANT_TYPE_VARDICT, text, NULL, NULL, NULL);

        g_assert_nonnull(v);
        return g_variant_dict_new(v);
}

static const char qbg[] = "'virtualport': <'802.1Qbg'>, 'managerid': <byte 1>, "
                          "'typeid': <uint32 2>, 'typeidversion': <byte 3>";

static void
test_none(void)
{
        g_autoptr(GVariantDict) o = options("{'link': <'eth0'>}");
        NlcPortProfile p;

        g_assert_true(nlc_port_profile_from_options(o, &p, NULL));
        g_assert_cmpint(p.kind, ==, NLC_PORT_PROFILE_NONE);
}

static void
test_qbg(void)
{
        g_autofree char *text = g_strdup_printf(
                "{%s, 'instanceid': <'a1412857-60f7-4ce1-e95a-2164943f53aa'>}", qbg);
        g_autoptr(GVariantDict) o = options(text);
        g_autoptr(GError) error = NULL;
        NlcPortProfile p;

        g_assert_true(nlc_port_profile_from_options(o, &p, &error));
        g_assert_no_error(error);
        g_assert_cmpint(p.kind, ==, NLC_PORT_PROFILE_8021QBG);
        g_assert_cmpuint(p.manager_id, ==, 1);
        g_assert_cmpuint(p.type_id, ==, 2);
        g_assert_cmpuint(p.type_id_version, ==, 3);
        g_assert_true(p.has_instance);
        g_assert_cmpuint(p.instance[0], ==, 0xa1);
        g_assert_cmpuint(p.instance[15], ==, 0xaa);
}

static void
test_qbh(void)
{
        g_autoptr(GVariantDict) o =
                options("{'virtualport': <'802.1Qbh'>, 'profileid': <'finance'>, "
                        "'instanceid': <'a1412857-60f7-4ce1-e95a-2164943f53aa'>}");
        NlcPortProfile p;

        g_assert_true(nlc_port_profile_from_options(o, &p, NULL));
        g_assert_cmpint(p.kind, ==, NLC_PORT_PROFILE_8021QBH);
        g_assert_cmpstr(p.profile_id, ==, "finance");
        g_assert_true(p.has_instance);
}

/* Each wrong combination: InvalidArgs whose message holds @needle. */
static void
assert_invalid(const char *text, const char *needle)
{
        g_autoptr(GVariantDict) o = options(text);
        g_autoptr(GError) error = NULL;
        NlcPortProfile p;

        g_assert_false(nlc_port_profile_from_options(o, &p, &error));
        g_assert_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS);
        if (!strstr(error->message, needle))
                g_error("'%s': message '%s' lacks '%s'", text, error->message, needle);
}

static void
test_refusals(void)
{
        g_autofree char *big_type =
                g_strdup_printf("{%s}", "'virtualport': <'802.1Qbg'>, 'managerid': <byte 1>, "
                                        "'typeid': <uint32 16777216>, 'typeidversion': <byte 3>");
        g_autofree char *with_profile = g_strdup_printf("{%s, 'profileid': <'x'>}", qbg);
        g_autofree char *no_instance = g_strdup_printf("{%s}", qbg);
        g_autofree char *bad_uuid = g_strdup_printf("{%s, 'instanceid': <'not-a-uuid'>}", qbg);
        g_autofree char *zero_uuid = g_strdup_printf(
                "{%s, 'instanceid': <'00000000-0000-0000-0000-000000000000'>}", qbg);
        g_autofree char *long_profile =
                g_strdup_printf("{'virtualport': <'802.1Qbh'>, 'profileid': <'%s'>}",
                                "0123456789012345678901234567890123456789");

        assert_invalid("{'typeid': <uint32 1>}", "option 'typeid' needs option 'virtualport'");
        assert_invalid("{'instanceid': <'a1412857-60f7-4ce1-e95a-2164943f53aa'>}",
                       "needs option 'virtualport'");
        assert_invalid("{'virtualport': <'802.1Qbz'>}", "must be 802.1Qbg or 802.1Qbh");
        assert_invalid("{'virtualport': <'802.1Qbg'>, 'typeid': <uint32 1>, "
                       "'typeidversion': <byte 1>}",
                       "needs option 'managerid'");
        assert_invalid("{'virtualport': <'802.1Qbg'>, 'managerid': <byte 1>, "
                       "'typeidversion': <byte 1>}",
                       "needs option 'typeid'");
        assert_invalid(big_type, "24 bits");
        assert_invalid(with_profile, "'profileid' is 802.1Qbh's");
        assert_invalid(bad_uuid, "must be a UUID");
        assert_invalid(zero_uuid, "all zeros");
        assert_invalid("{'virtualport': <'802.1Qbh'>}", "needs option 'profileid'");
        assert_invalid("{'virtualport': <'802.1Qbh'>, 'profileid': <'p'>, 'managerid': <byte 1>}",
                       "'managerid' is 802.1Qbg's");
        assert_invalid("{'virtualport': <'802.1Qbh'>, 'profileid': <''>}", "1 to 39");
        assert_invalid(long_profile, "1 to 39");
        /* The instance is required (libvirt would make one up). */
        assert_invalid(no_instance, "virtualport 802.1Qbg needs option 'instanceid' (the VSI's");
        assert_invalid("{'virtualport': <'802.1Qbh'>, 'profileid': <'p'>}",
                       "virtualport 802.1Qbh needs option 'instanceid' (the VM's");
}

/* What a backend says for a valid profile it cannot have associated (an
 * assigned device, either standard). */
static void
test_not_applied(void)
{
        NlcPortProfile qbh = { .kind = NLC_PORT_PROFILE_8021QBH };
        NlcPortProfile qbg_profile = { .kind = NLC_PORT_PROFILE_8021QBG };
        g_autoptr(GError) error = NULL, direct_error = NULL;

        nlc_port_profile_set_not_applied(&qbh, "direct", &error);
        g_assert_error(error, NLC_ERROR, NLC_ERROR_NOT_SUPPORTED);
        g_assert_nonnull(strstr(error->message, "backend direct: virtualport 802.1Qbh"));
        nlc_port_profile_set_not_applied(&qbg_profile, "direct", &direct_error);
        g_assert_error(direct_error, NLC_ERROR, NLC_ERROR_NOT_SUPPORTED);
        g_assert_nonnull(strstr(direct_error->message, "backend direct: virtualport 802.1Qbg"));
        g_assert_nonnull(strstr(direct_error->message, "use backend macvtap"));
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/port-profile/none", test_none);
        g_test_add_func("/port-profile/802.1Qbg", test_qbg);
        g_test_add_func("/port-profile/802.1Qbh", test_qbh);
        g_test_add_func("/port-profile/refusals", test_refusals);
        g_test_add_func("/port-profile/not-applied", test_not_applied);
        return g_test_run();
}
