/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The SR-IOV requests through a PF, byte for byte, and the parser of the VF
 * list the kernel reports. The test machines have no SR-IOV device (no VF
 * emulation in their kernels), so this is all the checking these messages
 * get before hardware: the expected bytes are written from the kernel's uapi
 * numbers, not from its headers, so a wrong constant in the builder shows.
 *
 * uapi (include/uapi/linux/{netlink,rtnetlink,if_link}.h): RTM_NEWLINK 16,
 * RTM_SETLINK 19; struct nlmsghdr 16 bytes, struct ifinfomsg 16 bytes,
 * struct nlattr 4 bytes, attributes 4-aligned, NLA_F_NESTED 0x8000;
 * IFLA_IFNAME 3, IFLA_VFINFO_LIST 22; IFLA_VF_INFO 1; IFLA_VF_MAC 1,
 * IFLA_VF_VLAN 2, IFLA_VF_LINK_STATE 5; struct ifla_vf_mac { u32 vf;
 * u8 mac[32]; }, struct ifla_vf_vlan { u32 vf, vlan, qos; }, struct
 * ifla_vf_link_state { u32 vf; u32 link_state; }; link states auto 0,
 * enable 1, disable 2. Netlink is in host byte order.
 *
 * Also a bridge's VLAN filtering read from its RTM_NEWLINK (this kernel has
 * no CONFIG_BRIDGE_VLAN_FILTERING: a bridge with it on cannot be made here):
 * IFLA_LINKINFO 18 { IFLA_INFO_KIND 1 "bridge", IFLA_INFO_DATA 2
 * { IFLA_BR_VLAN_FILTERING 7 (u8) } }.
 */
#include <errno.h>
#include <glib.h>
#include <string.h>

#include "nlc-netlink.h"

#define RTM_NEWLINK_            16
#define RTM_SETLINK_            19
#define NLA_F_NESTED_           0x8000
#define IFLA_IFNAME_            3
#define IFLA_VFINFO_LIST_       22
#define IFLA_VF_INFO_           1
#define IFLA_VF_MAC_            1
#define IFLA_VF_VLAN_           2
#define IFLA_VF_LINK_STATE_     5
#define IFLA_LINKINFO_          18
#define IFLA_INFO_KIND_         1
#define IFLA_INFO_DATA_         2
#define IFLA_BR_FORWARD_DELAY_  1
#define IFLA_BR_VLAN_FILTERING_ 7

static const guint8 mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

/* A netlink message written field by field, in host byte order. */
static void
put16(GByteArray *b, guint16 v)
{
        g_byte_array_append(b, (const guint8 *) &v, 2);
}

static void
put32(GByteArray *b, guint32 v)
{
        g_byte_array_append(b, (const guint8 *) &v, 4);
}

static void
put_zeros(GByteArray *b, guint n)
{
        static const guint8 zeros[64];

        g_byte_array_append(b, zeros, n);
}

static void
put_header(GByteArray *b, guint16 type, int ifindex)
{
        put32(b, 0); /* nlmsg_len, patched by finish() */
        put16(b, type);
        put16(b, 0); /* flags: the sender adds NLM_F_REQUEST | NLM_F_ACK */
        put32(b, 0); /* seq: the sender's */
        put32(b, 0); /* port: the sender's */
        g_byte_array_append(b, (const guint8[]){ 0 /* AF_UNSPEC */, 0 }, 2);
        put16(b, 0);                 /* ifi_type */
        put32(b, (guint32) ifindex); /* ifi_index */
        put32(b, 0);                 /* ifi_flags */
        put32(b, 0);                 /* ifi_change */
}

/* Opens an attribute; returns its offset for end_attr(). */
static guint
begin_attr(GByteArray *b, guint16 type)
{
        guint at = b->len;

        put16(b, 0);
        put16(b, type);
        return at;
}

static void
end_attr(GByteArray *b, guint at)
{
        guint16 len = (guint16) (b->len - at);

        memcpy(b->data + at, &len, 2);
        put_zeros(b, (4 - b->len % 4) % 4);
}

static void
put_vf_mac(GByteArray *b, guint32 vf, const guint8 m[6])
{
        guint at = begin_attr(b, IFLA_VF_MAC_);

        put32(b, vf);
        g_byte_array_append(b, m, 6);
        put_zeros(b, 26); /* the rest of mac[32] */
        end_attr(b, at);
}

static void
put_vf_link_state(GByteArray *b, guint32 vf, guint32 state)
{
        guint at = begin_attr(b, IFLA_VF_LINK_STATE_);

        put32(b, vf);
        put32(b, state);
        end_attr(b, at);
}

static void
finish(GByteArray *b)
{
        guint32 len = b->len;

        memcpy(b->data, &len, 4);
}

/* What nlc_vf_msg_build() must produce: RTM_SETLINK on the PF with
 * IFLA_VFINFO_LIST { IFLA_VF_INFO { [IFLA_VF_MAC] [IFLA_VF_LINK_STATE] } }. */
static GByteArray *
expected_setlink(int pf, guint32 vf, const guint8 *m, int state)
{
        GByteArray *b = g_byte_array_new();
        guint list, info;

        put_header(b, RTM_SETLINK_, pf);
        list = begin_attr(b, IFLA_VFINFO_LIST_ | NLA_F_NESTED_);
        info = begin_attr(b, IFLA_VF_INFO_ | NLA_F_NESTED_);
        if (m)
                put_vf_mac(b, vf, m);
        if (state >= 0)
                put_vf_link_state(b, vf, (guint32) state);
        end_attr(b, info);
        end_attr(b, list);
        finish(b);
        return b;
}

static guint32
get32(const guint8 *p)
{
        guint32 v;

        memcpy(&v, p, 4);
        return v;
}

static guint16
get16(const guint8 *p)
{
        guint16 v;

        memcpy(&v, p, 2);
        return v;
}

static void
test_mac_msg(void)
{
        g_autoptr(GByteArray) want = expected_setlink(7, 5, mac, -1);
        guint8 buf[NLC_VF_MSG_MAX];
        int n = nlc_vf_msg_build(buf, sizeof buf, 7, 5, mac, -1);

        g_assert_cmpint(n, ==, 16 + 16 + 4 + 4 + 40);
        g_assert_cmpmem(buf, n, want->data, want->len);
        /* The fields that matter, read back independently of the builder. */
        g_assert_cmpuint(get16(buf + 4), ==, RTM_SETLINK_);
        g_assert_cmpuint(get32(buf + 20), ==, 7); /* ifi_index: the PF */
        g_assert_cmpuint(get16(buf + 34), ==, IFLA_VFINFO_LIST_ | NLA_F_NESTED_); /* list */
        g_assert_cmpuint(get16(buf + 32), ==, 48);
        g_assert_cmpuint(get16(buf + 38), ==, IFLA_VF_INFO_ | NLA_F_NESTED_); /* one VF */
        g_assert_cmpuint(get16(buf + 36), ==, 44);
        g_assert_cmpuint(get16(buf + 42), ==, IFLA_VF_MAC_);
        g_assert_cmpuint(get16(buf + 40), ==, 40);
        g_assert_cmpuint(get32(buf + 44), ==, 5); /* ifla_vf_mac.vf */
        g_assert_cmpmem(buf + 48, 6, mac, 6);
        for (int i = 54; i < 80; i++)
                g_assert_cmpuint(buf[i], ==, 0);
}

static void
test_link_state_msg(void)
{
        static const NlcVfLinkState states[] = { NLC_VF_LINK_STATE_AUTO, NLC_VF_LINK_STATE_ENABLE,
                                                 NLC_VF_LINK_STATE_DISABLE };

        g_assert_cmpint(NLC_VF_LINK_STATE_AUTO, ==, 0);
        g_assert_cmpint(NLC_VF_LINK_STATE_ENABLE, ==, 1);
        g_assert_cmpint(NLC_VF_LINK_STATE_DISABLE, ==, 2);
        for (guint i = 0; i < G_N_ELEMENTS(states); i++) {
                g_autoptr(GByteArray) want = expected_setlink(3, 63, NULL, (int) states[i]);
                guint8 buf[NLC_VF_MSG_MAX];
                int n = nlc_vf_msg_build(buf, sizeof buf, 3, 63, NULL, (int) states[i]);

                g_assert_cmpint(n, ==, 16 + 16 + 4 + 4 + 12);
                g_assert_cmpmem(buf, n, want->data, want->len);
                g_assert_cmpuint(get16(buf + 42), ==, IFLA_VF_LINK_STATE_);
                g_assert_cmpuint(get16(buf + 40), ==, 12);
                g_assert_cmpuint(get32(buf + 44), ==, 63);        /* ifla_vf_link_state.vf */
                g_assert_cmpuint(get32(buf + 48), ==, states[i]); /* .link_state */
        }
}

static void
test_both_msg(void)
{
        g_autoptr(GByteArray) want = expected_setlink(12, 0, mac, NLC_VF_LINK_STATE_DISABLE);
        guint8 buf[NLC_VF_MSG_MAX];
        int n = nlc_vf_msg_build(buf, sizeof buf, 12, 0, mac, NLC_VF_LINK_STATE_DISABLE);

        g_assert_cmpint(n, ==, 16 + 16 + 4 + 4 + 40 + 12);
        g_assert_cmpmem(buf, n, want->data, want->len);
        g_assert_cmpuint(get32(buf), ==, (guint32) n); /* nlmsg_len */
}

static void
test_small_buffer(void)
{
        guint8 buf[60];

        memset(buf, 0xaa, sizeof buf);
        g_assert_cmpint(nlc_vf_msg_build(buf, sizeof buf, 1, 0, mac, 2), ==, -EMSGSIZE);
        g_assert_cmpuint(buf[0], ==, 0xaa); /* nothing written */
}

/* An RTM_NEWLINK of a PF as the kernel reports it with RTEXT_FILTER_VF:
 * a name, then one IFLA_VF_INFO per VF with more attributes than we read. */
static GByteArray *
pf_report(gboolean with_list, gboolean vf3_without_mac)
{
        static const guint8 mac0[6] = { 0x02, 0, 0, 0, 0, 0x10 };
        GByteArray *b = g_byte_array_new();
        guint at, list, info;

        put_header(b, RTM_NEWLINK_, 4);
        at = begin_attr(b, IFLA_IFNAME_);
        g_byte_array_append(b, (const guint8 *) "pf0", 4);
        end_attr(b, at);
        if (with_list) {
                list = begin_attr(b, IFLA_VFINFO_LIST_); /* the kernel sets no NLA_F_NESTED */
                info = begin_attr(b, IFLA_VF_INFO_);
                put_vf_mac(b, 0, mac0);
                at = begin_attr(b, IFLA_VF_VLAN_);
                put32(b, 0), put32(b, 0), put32(b, 0);
                end_attr(b, at);
                put_vf_link_state(b, 0, NLC_VF_LINK_STATE_AUTO);
                end_attr(b, info);
                info = begin_attr(b, IFLA_VF_INFO_);
                if (!vf3_without_mac)
                        put_vf_mac(b, 3, mac);
                put_vf_link_state(b, 3, NLC_VF_LINK_STATE_DISABLE);
                end_attr(b, info);
                end_attr(b, list);
        }
        finish(b);
        return b;
}

static void
test_parse(void)
{
        g_autoptr(GByteArray) report = pf_report(TRUE, FALSE);
        g_autoptr(GByteArray) no_list = pf_report(FALSE, FALSE);
        g_autoptr(GByteArray) no_mac = pf_report(TRUE, TRUE);
        NlcVfLinkState state = NLC_VF_LINK_STATE_ENABLE;
        guint8 got[6] = { 0 };

        g_assert_cmpint(nlc_vf_info_parse(report->data, report->len, 3, got, &state), ==, 0);
        g_assert_cmpmem(got, 6, mac, 6);
        g_assert_cmpint(state, ==, NLC_VF_LINK_STATE_DISABLE);
        g_assert_cmpint(nlc_vf_info_parse(report->data, report->len, 0, got, &state), ==, 0);
        g_assert_cmpuint(got[5], ==, 0x10);
        g_assert_cmpint(state, ==, NLC_VF_LINK_STATE_AUTO);
        g_assert_cmpint(nlc_vf_info_parse(report->data, report->len, 7, got, &state), ==, -ENOENT);
        g_assert_cmpint(nlc_vf_info_parse(no_list->data, no_list->len, 0, got, &state), ==,
                        -ENOENT);
        g_assert_cmpint(nlc_vf_info_parse(no_mac->data, no_mac->len, 3, got, &state), ==, -EINVAL);
        /* Shorter than its nlmsg_len says. */
        g_assert_cmpint(nlc_vf_info_parse(report->data, report->len - 4, 3, got, &state), ==,
                        -EINVAL);
}

/* What the builder writes, reported back as the kernel would, reads back. */
static void
test_round_trip(void)
{
        guint8 buf[NLC_VF_MSG_MAX], got[6] = { 0 };
        NlcVfLinkState state = NLC_VF_LINK_STATE_AUTO;
        int n = nlc_vf_msg_build(buf, sizeof buf, 9, 2, mac, NLC_VF_LINK_STATE_ENABLE);
        guint16 type = RTM_NEWLINK_;

        g_assert_cmpint(n, >, 0);
        memcpy(buf + 4, &type, 2);
        g_assert_cmpint(nlc_vf_info_parse(buf, (gsize) n, 2, got, &state), ==, 0);
        g_assert_cmpmem(got, 6, mac, 6);
        g_assert_cmpint(state, ==, NLC_VF_LINK_STATE_ENABLE);
}

/* A bridge's RTM_NEWLINK as the kernel reports it: the link info with
 * @kind and, when @vlan_filtering >= 0, IFLA_BR_VLAN_FILTERING among other
 * bridge attributes. */
static GByteArray *
bridge_newlink(const char *kind, int vlan_filtering)
{
        GByteArray *b = g_byte_array_new();
        guint linkinfo, data, attr;

        put_header(b, RTM_NEWLINK_, 7);
        linkinfo = begin_attr(b, IFLA_LINKINFO_ | NLA_F_NESTED_);
        attr = begin_attr(b, IFLA_INFO_KIND_);
        g_byte_array_append(b, (const guint8 *) kind, (guint) strlen(kind) + 1);
        end_attr(b, attr);
        data = begin_attr(b, IFLA_INFO_DATA_ | NLA_F_NESTED_);
        attr = begin_attr(b, IFLA_BR_FORWARD_DELAY_);
        put32(b, 1500);
        end_attr(b, attr);
        if (vlan_filtering >= 0) {
                attr = begin_attr(b, IFLA_BR_VLAN_FILTERING_);
                g_byte_array_append(b, (const guint8[]){ (guint8) vlan_filtering }, 1);
                end_attr(b, attr);
        }
        end_attr(b, data);
        end_attr(b, linkinfo);
        finish(b);
        return b;
}

static void
test_bridge_vlan_filtering(void)
{
        g_autoptr(GByteArray) on = bridge_newlink("bridge", 1);
        g_autoptr(GByteArray) off = bridge_newlink("bridge", 0);
        g_autoptr(GByteArray) unsaid = bridge_newlink("bridge", -1);
        g_autoptr(GByteArray) veth = bridge_newlink("veth", 1);

        g_assert_cmpint(nlc_bridge_vlan_filtering_parse(on->data, on->len), ==, 1);
        g_assert_cmpint(nlc_bridge_vlan_filtering_parse(off->data, off->len), ==, 0);
        g_assert_cmpint(nlc_bridge_vlan_filtering_parse(unsaid->data, unsaid->len), ==, -ENOENT);
        g_assert_cmpint(nlc_bridge_vlan_filtering_parse(veth->data, veth->len), ==, -ENOENT);
        /* Cut short: not a message to trust. */
        g_assert_cmpint(nlc_bridge_vlan_filtering_parse(on->data, on->len - 8), ==, -EINVAL);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/vf-msg/mac", test_mac_msg);
        g_test_add_func("/vf-msg/link-state", test_link_state_msg);
        g_test_add_func("/vf-msg/mac-and-link-state", test_both_msg);
        g_test_add_func("/vf-msg/small-buffer", test_small_buffer);
        g_test_add_func("/vf-msg/parse", test_parse);
        g_test_add_func("/vf-msg/round-trip", test_round_trip);
        g_test_add_func("/vf-msg/bridge-vlan-filtering", test_bridge_vlan_filtering);
        return g_test_run();
}
