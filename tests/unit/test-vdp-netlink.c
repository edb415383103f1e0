/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The 802.1Qbg VDP messages against the bytes verified with a real lldpad
 * (tests/lldpad/README.md 3.2-3.4): the ASSOCIATE request and the status
 * request as libvirt sends them (libnl 3.7 sets NLA_F_NESTED on nests, as
 * libmnl does here), lldpad's answers parsed (accepted, refused with an
 * errno, a VSI with a response, without one, none listed).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "nlc-fake-lldpad.h"
#include "nlc-qbh-netlink.h"
#include "nlc-vdp-netlink.h"

static const guint8 uuid_b[16] = { 0xb1, 0x41, 0x28, 0x57, 0x60, 0xf7, 0x4c, 0xe1,
                                   0xe9, 0x5a, 0x21, 0x64, 0x94, 0x3f, 0x53, 0xbb };
static const guint8 uuid_a[16] = { 0xa1, 0x41, 0x28, 0x57, 0x60, 0xf7, 0x4c, 0xe1,
                                   0xe9, 0x5a, 0x21, 0x64, 0x94, 0x3f, 0x53, 0xaa };

static void
assert_bytes(const guint8 *got, gsize got_len, const guint8 *want, gsize want_len)
{
        if (got_len != want_len || memcmp(got, want, want_len) != 0) {
                g_autoptr(GString) s = g_string_new(NULL);

                for (gsize i = 0; i < MAX(got_len, want_len); i++)
                        g_string_append_printf(
                                s, "%04zx got %02x want %02x%s\n", i, i < got_len ? got[i] : 0,
                                i < want_len ? want[i] : 0,
                                i < got_len && i < want_len && got[i] == want[i] ? "" : "  <--");
                g_test_message("%s", s->str);
                g_assert_cmpmem(got, got_len, want, want_len);
        }
}

/* README 3.2: ASSOCIATE for mvt1 (MAC 52:54:00:00:20:02) on st0 (index 2),
 * manager 1, type 2, version 3, event port 22868, seq 1: 152 bytes. */
static void
test_setlink_associate(void)
{
        static const guint8 want[152] = {
                0x98,
                0x00,
                0x00,
                0x00,
                0x13,
                0x00,
                0x01,
                0x00,
                0x01,
                0x00,
                0x00,
                0x00,
                0x54,
                0x59,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x02,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                /* IFLA_IFNAME "st0" */
                0x08,
                0x00,
                0x03,
                0x00,
                0x73,
                0x74,
                0x30,
                0x00,
                /* IFLA_VFINFO_LIST, IFLA_VF_INFO (nested) */
                0x40,
                0x00,
                0x16,
                0x80,
                0x3c,
                0x00,
                0x01,
                0x80,
                /* IFLA_VF_MAC: vf 0xffffffff, mac[32] */
                0x28,
                0x00,
                0x01,
                0x00,
                0xff,
                0xff,
                0xff,
                0xff,
                0x52,
                0x54,
                0x00,
                0x00,
                0x20,
                0x02,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                /* IFLA_VF_VLAN: vf, vlan 0, qos 0 */
                0x10,
                0x00,
                0x02,
                0x00,
                0xff,
                0xff,
                0xff,
                0xff,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                /* IFLA_VF_PORTS, IFLA_VF_PORT (nested) */
                0x30,
                0x00,
                0x18,
                0x80,
                0x2c,
                0x00,
                0x01,
                0x80,
                /* IFLA_PORT_VSI_TYPE: manager 1, type 02 00 00, version 3 */
                0x0c,
                0x00,
                0x03,
                0x00,
                0x01,
                0x02,
                0x00,
                0x00,
                0x03,
                0x00,
                0x00,
                0x00,
                /* IFLA_PORT_INSTANCE_UUID */
                0x14,
                0x00,
                0x04,
                0x00,
                0xb1,
                0x41,
                0x28,
                0x57,
                0x60,
                0xf7,
                0x4c,
                0xe1,
                0xe9,
                0x5a,
                0x21,
                0x64,
                0x94,
                0x3f,
                0x53,
                0xbb,
                /* IFLA_PORT_REQUEST 2 (associate) */
                0x05,
                0x00,
                0x06,
                0x00,
                0x02,
                0x00,
                0x00,
                0x00,
        };
        NlcVdpVsi vsi = { .manager_id = 1,
                          .type_id = 2,
                          .type_id_version = 3,
                          .mac = { 0x52, 0x54, 0x00, 0x00, 0x20, 0x02 },
                          .uplink = 2,
                          .uplink_name = "st0" };
        guint8 buf[NLC_VDP_MSG_MAX];
        gsize len;

        memcpy(vsi.instance_uuid, uuid_b, 16);
        len = nlc_vdp_build_setlink(buf, 1, 22868, &vsi, NLC_VDP_ASSOCIATE);
        assert_bytes(buf, len, want, sizeof want);
}

/* A 24-bit type id goes least significant byte first; the VLAN in its
 * field; the request byte is the only other difference. */
static void
test_setlink_fields(void)
{
        NlcVdpVsi vsi = { .manager_id = 7,
                          .type_id = 0xabcdef,
                          .type_id_version = 9,
                          .vlan = 100,
                          .uplink = 5,
                          .uplink_name = "st9" };
        guint8 a[NLC_VDP_MSG_MAX], d[NLC_VDP_MSG_MAX];
        gsize la, ld;

        memcpy(vsi.instance_uuid, uuid_a, 16);
        la = nlc_vdp_build_setlink(a, 9, 1, &vsi, NLC_VDP_PREASSOCIATE_RR);
        ld = nlc_vdp_build_setlink(d, 9, 1, &vsi, NLC_VDP_DISASSOCIATE);
        g_assert_cmpuint(la, ==, ld);
        g_assert_cmpuint(la, ==, 152);
        /* The VSI type attribute: 7, ef cd ab, 9. */
        g_assert_cmpmem(a + 0x74, 5, ((const guint8[]){ 0x07, 0xef, 0xcd, 0xab, 0x09 }), 5);
        /* VLAN 100 in IFLA_VF_VLAN's vlan field. */
        g_assert_cmpmem(a + 0x60, 4, ((const guint8[]){ 0x64, 0x00, 0x00, 0x00 }), 4);
        g_assert_cmpuint(a[0x94], ==, 1);
        g_assert_cmpuint(d[0x94], ==, 3);
        a[0x94] = d[0x94];
        g_assert_cmpmem(a, la, d, ld);
}

/* README 3.4: the status request, 40 bytes. */
static void
test_getlink(void)
{
        static const guint8 want[40] = {
                0x28, 0x00, 0x00, 0x00, 0x12, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x54, 0x59,
                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x1d, 0x00, 0x01, 0x00, 0x00, 0x00,
        };
        guint8 buf[NLC_VDP_MSG_MAX];
        gsize len = nlc_vdp_build_getlink(buf, 2, 22868, 2);

        assert_bytes(buf, len, want, sizeof want);
}

/* README 3.3: lldpad's NLMSG_ERROR answer, accepted and refused. */
static void
test_setlink_reply(void)
{
        guint8 reply[36] = {
                0x24, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
                0x54, 0x59, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x98, 0x00, 0x00, 0x00,
                0x13, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x54, 0x59, 0x00, 0x00,
        };

        g_assert_cmpint(nlc_vdp_parse_setlink_reply(reply, sizeof reply, 1), ==, 0);
        g_assert_cmpint(nlc_vdp_parse_setlink_reply(reply, sizeof reply, 2), ==, -EBADMSG);
        g_assert_cmpint(nlc_vdp_parse_setlink_reply(reply, 10, 1), ==, -EBADMSG);
        /* error = -EBUSY (a request for the VSI already in flight) */
        reply[16] = 0xf0;
        reply[17] = reply[18] = reply[19] = 0xff;
        g_assert_cmpint(nlc_vdp_parse_setlink_reply(reply, sizeof reply, 1), ==, -EBUSY);
}

/* README 3.4: NLMSG_DONE with IFLA_VF_PORTS (nested flags set), one VSI. */
static const guint8 status_done[76] = {
        0x4c, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x37,
        0x59, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x18, 0x80, 0x28, 0x00, 0x01,
        0x80, 0x14, 0x00, 0x04, 0x00, 0xa1, 0x41, 0x28, 0x57, 0x60, 0xf7, 0x4c, 0xe1,
        0xe9, 0x5a, 0x21, 0x64, 0x94, 0x3f, 0x53, 0xaa, 0x08, 0x00, 0x01, 0x00, 0xff,
        0xff, 0xff, 0xff, 0x06, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static void
test_status(void)
{
        guint8 buf[76];
        guint16 response = 0xffff;

        g_assert_cmpint(nlc_vdp_parse_status(status_done, sizeof status_done, 3, uuid_a, &response),
                        ==, NLC_VDP_STATUS_DONE);
        g_assert_cmpuint(response, ==, 0);
        g_assert_true(nlc_vdp_response_is_success(response));
        /* Another VSI's entry only: ours is not listed. */
        g_assert_cmpint(nlc_vdp_parse_status(status_done, sizeof status_done, 3, uuid_b, NULL), ==,
                        NLC_VDP_STATUS_NO_ENTRY);
        g_assert_cmpint(nlc_vdp_parse_status(status_done, sizeof status_done, 4, uuid_a, NULL), ==,
                        NLC_VDP_STATUS_BAD_MESSAGE);

        /* A refusal code in the response. */
        memcpy(buf, status_done, sizeof buf);
        buf[72] = 0x02;
        g_assert_cmpint(nlc_vdp_parse_status(buf, sizeof buf, 3, uuid_a, &response), ==,
                        NLC_VDP_STATUS_DONE);
        g_assert_cmpuint(response, ==, 2);
        g_assert_false(nlc_vdp_response_is_success(response));
        g_assert_cmpstr(nlc_vdp_response_to_string(response), ==, "insufficient resources");

        /* In progress: the entry without IFLA_PORT_RESPONSE (68 bytes). */
        memcpy(buf, status_done, 68);
        buf[0] = 0x44;
        buf[32] = 0x24;
        buf[36] = 0x20;
        g_assert_cmpint(nlc_vdp_parse_status(buf, 68, 3, uuid_a, NULL), ==, NLC_VDP_STATUS_PENDING);

        /* No VSI left on the uplink: no IFLA_VF_PORTS at all (32 bytes). */
        memcpy(buf, status_done, 32);
        buf[0] = 0x20;
        g_assert_cmpint(nlc_vdp_parse_status(buf, 32, 3, uuid_a, NULL), ==,
                        NLC_VDP_STATUS_NO_ENTRY);
}

/* lldpad's notification (README 3.6, 160 bytes), as the scripted lldpad
 * sends it, read from a socket at the daemon's event port. */
static void
test_notification(void)
{
        Fake f;
        guint8 buf[512];
        gssize n;
        NlcVdpNotification note;
        int fd = nlc_vdp_socket_open_at(0x6e6c6300);
        static const guint8 not_one[] = { 0x24, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                          0,    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };

        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(nlc_vdp_socket_open_at(0x6e6c6300), ==, -EADDRINUSE);
        fake_start(&f, SCRIPT_SUCCESS);
        fake_notify(&f, 0x6e6c6300, "st0", FALSE);
        n = nlc_vdp_socket_receive(fd, buf, sizeof buf, f.port);
        g_assert_cmpint(n, ==, 160);
        g_assert_true(nlc_vdp_parse_notification(buf, (gsize) n, &note));
        g_assert_cmpstr(note.uplink_name, ==, "st0");
        g_assert_cmpmem(note.instance_uuid, 16, nlc_fake_lldpad_uuid, 16);
        g_assert_cmpint(note.request, ==, NLC_VDP_DISASSOCIATE);
        /* Cut short, or another message (an NLMSG_ERROR): not one. */
        g_assert_false(nlc_vdp_parse_notification(buf, 100, &note));
        g_assert_false(nlc_vdp_parse_notification(not_one, sizeof not_one, &note));
        fake_stop(&f);
        close(fd);
}

/* "0a 1b ..." (spaces and newlines ignored) into @out; the byte count. */
static gsize
hex_bytes(const char *hex, guint8 *out, gsize size)
{
        gsize n = 0;

        for (const char *p = hex; *p; p++) {
                if (!g_ascii_isxdigit(p[0]))
                        continue;
                g_assert_true(g_ascii_isxdigit(p[1]) && n < size);
                out[n++] = (guint8) (g_ascii_xdigit_value(p[0]) << 4 | g_ascii_xdigit_value(p[1]));
                p++;
        }
        return n;
}

static const NlcQbhPort qbh_port = {
        .ifindex = 5,
        .ifname = "enic0",
        .vf = NLC_QBH_SELF_VF,
        .mac = { 0x52, 0x54, 0x00, 0x00, 0x20, 0x01 },
        .profile = "finance",
        .instance_uuid = { 0xa1, 0x41, 0x28, 0x57, 0x60, 0xf7, 0x4c, 0xe1, 0xe9, 0x5a, 0x21, 0x64,
                           0x94, 0x3f, 0x53, 0xaa },
        .host_uuid = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
                       0xee, 0xff, 0x00 },
};

/* 802.1Qbh ASSOCIATE for the device itself, in the order libvirt's
 * virNetDevVPortProfileOpSetLink puts it (read from its source): the MAC
 * in IFLA_VFINFO_LIST (no VLAN: libvirt passes none for 802.1Qbh), then
 * IFLA_PORT_SELF with the profile, instance, host UUID and request; to
 * the kernel (pid 0), NLM_F_ACK so that the kernel answers. */
static void
test_qbh_associate(void)
{
        static const char want_hex[] =
                "90 00 00 00 13 00 05 00 07 00 00 00 00 00 00 00" /* len 144, SETLINK, REQUEST|ACK */
                "00 00 00 00 05 00 00 00 00 00 00 00 00 00 00 00" /* ifinfomsg, ifindex 5 */
                "30 00 16 80 2c 00 01 80 28 00 01 00" /* VFINFO_LIST, VF_INFO (NLA_F_NESTED), VF_MAC */
                "ff ff ff ff 52 54 00 00 20 01 00 00 00 00 00 00" /* vf -1, the MAC ... */
                "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
                "00 00 00 00" /* ... mac[32] */
                "40 00 19 80" /* IFLA_PORT_SELF (25), 64, NLA_F_NESTED (libnl sets it too) */
                "0c 00 02 00 66 69 6e 61 6e 63 65 00" /* IFLA_PORT_PROFILE "finance" */
                "14 00 04 00 a1 41 28 57 60 f7 4c e1 e9 5a 21 64 94 3f 53 aa" /* INSTANCE_UUID */
                "14 00 05 00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff 00" /* HOST_UUID */
                "05 00 06 00 02 00 00 00"; /* IFLA_PORT_REQUEST 2 (ASSOCIATE) */
        guint8 want[256], buf[NLC_VDP_MSG_MAX];
        gsize n = hex_bytes(want_hex, want, sizeof want);
        gsize len = nlc_qbh_build_setlink(buf, 7, &qbh_port, NLC_VDP_ASSOCIATE);

        g_assert_cmpmem(buf, len, want, n);
}

/* DISASSOCIATE carries the request alone; a VF's goes in IFLA_VF_PORTS
 * with IFLA_PORT_VF after the UUIDs. */
static void
test_qbh_disassociate_and_vf(void)
{
        static const char disassoc_hex[] = "2c 00 00 00 13 00 05 00 08 00 00 00 00 00 00 00"
                                           "00 00 00 00 05 00 00 00 00 00 00 00 00 00 00 00"
                                           "0c 00 19 80 05 00 06 00 03 00 00 00";
        NlcQbhPort vf = qbh_port;
        guint8 want[64], buf[NLC_VDP_MSG_MAX];
        gsize n = hex_bytes(disassoc_hex, want, sizeof want);
        gsize len = nlc_qbh_build_setlink(buf, 8, &qbh_port, NLC_VDP_DISASSOCIATE);

        g_assert_cmpmem(buf, len, want, n);
        vf.vf = 3;
        len = nlc_qbh_build_setlink(buf, 9, &vf, NLC_VDP_ASSOCIATE);
        g_assert_cmpuint(len, ==, 156); /* + VF_PORTS/VF_PORT nests and IFLA_PORT_VF */
        /* IFLA_VF_MAC's vf is 3; then VF_PORTS (24, 76) { VF_PORT (1, 72) { profile,
         * instance, host, VF 3, request } }. */
        g_assert_cmpuint(buf[44], ==, 3);
        g_assert_cmpmem(buf + 80, 8, ((const guint8[]){ 0x4c, 0, 24, 0x80, 0x48, 0, 1, 0x80 }), 8);
        g_assert_cmpmem(buf + 140, 8, ((const guint8[]){ 8, 0, 1, 0, 3, 0, 0, 0 }), 8);
        g_assert_cmpuint(buf[len - 4], ==, NLC_VDP_ASSOCIATE);
}

/* The driver's status as the kernel reports it (RTM_NEWLINK with
 * IFLA_PORT_SELF), built here as a responder would. */
static gsize
qbh_status(guint8 *buf, guint32 seq, gboolean with_port, int response)
{
        g_autoptr(GByteArray) m = g_byte_array_new();
        guint8 hdr[32] = { 0 };
        guint16 r = (guint16) response;
        guint8 attr[12] = { 0 };

        hdr[4] = 16; /* RTM_NEWLINK */
        memcpy(hdr + 8, &seq, 4);
        hdr[20] = 5;
        g_byte_array_append(m, hdr, 32);
        if (with_port) {
                guint16 nest_len = response >= 0 ? 12 : 4, resp_len = 6;

                memcpy(attr, &nest_len, 2);
                attr[2] = 25; /* IFLA_PORT_SELF */
                memcpy(attr + 4, &resp_len, 2);
                attr[6] = 7; /* IFLA_PORT_RESPONSE */
                memcpy(attr + 8, &r, 2);
                g_byte_array_append(m, attr, nest_len);
        }
        memcpy(m->data, &m->len, 4);
        memcpy(buf, m->data, m->len);
        return m->len;
}

static void
test_qbh_status(void)
{
        guint8 buf[128];
        guint16 response = 0;
        gsize n;

        n = qbh_status(buf, 4, TRUE, 0x100);
        g_assert_cmpint(nlc_qbh_parse_status(buf, n, 4, &qbh_port, &response), ==,
                        NLC_VDP_STATUS_DONE);
        g_assert_cmpuint(response, ==, 0x100);
        g_assert_true(nlc_vdp_response_is_success(response));
        n = qbh_status(buf, 4, TRUE, 0x101);
        g_assert_cmpint(nlc_qbh_parse_status(buf, n, 4, &qbh_port, &response), ==,
                        NLC_VDP_STATUS_DONE);
        g_assert_true(nlc_vdp_response_is_pending(response));
        n = qbh_status(buf, 4, TRUE, -1);
        g_assert_cmpint(nlc_qbh_parse_status(buf, n, 4, &qbh_port, &response), ==,
                        NLC_VDP_STATUS_PENDING);
        /* A driver without port profiles reports none. */
        n = qbh_status(buf, 4, FALSE, 0);
        g_assert_cmpint(nlc_qbh_parse_status(buf, n, 4, &qbh_port, &response), ==,
                        NLC_VDP_STATUS_NO_ENTRY);
        g_assert_cmpint(nlc_qbh_parse_status(buf, n, 5, &qbh_port, &response), ==,
                        NLC_VDP_STATUS_BAD_MESSAGE);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/vdp-netlink/setlink-associate", test_setlink_associate);
        g_test_add_func("/vdp-netlink/setlink-fields", test_setlink_fields);
        g_test_add_func("/vdp-netlink/getlink", test_getlink);
        g_test_add_func("/vdp-netlink/setlink-reply", test_setlink_reply);
        g_test_add_func("/vdp-netlink/status", test_status);
        g_test_add_func("/vdp-netlink/notification", test_notification);
        g_test_add_func("/vdp-netlink/qbh-associate", test_qbh_associate);
        g_test_add_func("/vdp-netlink/qbh-disassociate-and-vf", test_qbh_disassociate_and_vf);
        g_test_add_func("/vdp-netlink/qbh-status", test_qbh_status);
        return g_test_run();
}
