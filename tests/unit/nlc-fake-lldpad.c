/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nlc-fake-lldpad.h"

const guint8 nlc_fake_lldpad_uuid[16] = { 0xa1, 0x41, 0x28, 0x57, 0x60, 0xf7, 0x4c, 0xe1,
                                          0xe9, 0x5a, 0x21, 0x64, 0x94, 0x3f, 0x53, 0xaa };

static void
put_attr(GByteArray *b, guint16 type, const void *data, gsize len)
{
        struct nlattr a = { .nla_len = (guint16) (NLA_HDRLEN + len), .nla_type = type };
        static const guint8 pad[4] = { 0 };

        g_byte_array_append(b, (const guint8 *) &a, sizeof a);
        g_byte_array_append(b, data, (guint) len);
        g_byte_array_append(b, pad, (guint) (NLA_ALIGN(len) - len));
}

static void
reply(Fake *f, const struct sockaddr_nl *to, GByteArray *msg)
{
        ((struct nlmsghdr *) msg->data)->nlmsg_len = msg->len;
        g_assert_cmpint(
                sendto(f->fd, msg->data, msg->len, 0, (const struct sockaddr *) to, sizeof *to), ==,
                (gssize) msg->len);
}

/* lldpad's NLMSG_ERROR for a SETLINK. */
static void
answer_setlink(Fake *f, const struct sockaddr_nl *to, const struct nlmsghdr *req, int error)
{
        g_autoptr(GByteArray) m = g_byte_array_new();
        struct nlmsghdr h = { .nlmsg_type = NLMSG_ERROR,
                              .nlmsg_seq = req->nlmsg_seq,
                              .nlmsg_pid = req->nlmsg_pid };
        struct nlmsgerr e = { .error = error, .msg = *req };

        g_byte_array_append(m, (const guint8 *) &h, sizeof h);
        g_byte_array_append(m, (const guint8 *) &e, sizeof e);
        reply(f, to, m);
}

/* lldpad's NLMSG_DONE status: one VSI entry (with a response when
 * @response >= 0), or none. */
static void
answer_status(Fake *f, const struct sockaddr_nl *to, const struct nlmsghdr *req, gboolean entry,
              int response)
{
        g_autoptr(GByteArray) m = g_byte_array_new();
        g_autoptr(GByteArray) port = g_byte_array_new();
        g_autoptr(GByteArray) ports = g_byte_array_new();
        struct nlmsghdr h = { .nlmsg_type = NLMSG_DONE,
                              .nlmsg_seq = req->nlmsg_seq,
                              .nlmsg_pid = req->nlmsg_pid };
        struct ifinfomsg ifi = { .ifi_index = 2 };
        guint32 vf = 0xffffffffu;
        guint16 r = (guint16) response;

        if (f->kernel) {
                /* The kernel: RTM_NEWLINK with the driver's IFLA_PORT_SELF,
                 * PORT_PROFILE_RESPONSE_* (0x100 + the VDP-like code). */
                h.nlmsg_type = RTM_NEWLINK;
                r = (guint16) (response < 0 ? 0x101 : 0x100 + response);
        }
        g_byte_array_append(m, (const guint8 *) &h, sizeof h);
        g_byte_array_append(m, (const guint8 *) &ifi, sizeof ifi);
        if (entry && f->kernel) {
                put_attr(port, IFLA_PORT_RESPONSE, &r, 2);
                put_attr(m, IFLA_PORT_SELF | NLA_F_NESTED, port->data, port->len);
        } else if (entry) {
                put_attr(port, IFLA_PORT_INSTANCE_UUID, nlc_fake_lldpad_uuid, 16);
                put_attr(port, IFLA_PORT_VF, &vf, 4);
                if (response >= 0)
                        put_attr(port, IFLA_PORT_RESPONSE, &r, 2);
                put_attr(ports, IFLA_VF_PORT | NLA_F_NESTED, port->data, port->len);
                put_attr(m, IFLA_VF_PORTS | NLA_F_NESTED, ports->data, ports->len);
        }
        reply(f, to, m);
}

static gboolean
on_request(int fd, GIOCondition cond, gpointer data)
{
        Fake *f = data;
        guint8 buf[4096];
        struct sockaddr_nl from = { 0 };
        socklen_t len = sizeof from;
        gssize n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *) &from, &len);
        const struct nlmsghdr *req = (const struct nlmsghdr *) buf;

        if (n < (gssize) sizeof(*req))
                return G_SOURCE_CONTINUE;
        if (req->nlmsg_type == RTM_SETLINK) {
                f->setlinks++;
                f->last_pid = req->nlmsg_pid;
                f->last_request = buf[n - 4]; /* IFLA_PORT_REQUEST is the last attribute */
                if (f->script == SCRIPT_NO_ANSWER)
                        return G_SOURCE_CONTINUE;
                answer_setlink(f, &from, req, f->script == SCRIPT_ERRNO ? -ENODEV : 0);
        } else if (req->nlmsg_type == RTM_GETLINK) {
                gboolean first = f->statuses++ == 0;

                switch (f->script) {
                case SCRIPT_SUCCESS:
                        answer_status(f, &from, req, TRUE, first ? -1 : 0);
                        break;
                case SCRIPT_REFUSE:
                        answer_status(f, &from, req, TRUE, first ? -1 : 2);
                        break;
                case SCRIPT_SILENT:
                        answer_status(f, &from, req, TRUE, -1);
                        break;
                case SCRIPT_DROP:
                        answer_status(f, &from, req, first, -1);
                        break;
                default:
                        g_assert_not_reached();
                }
        }
        return G_SOURCE_CONTINUE;
}

void
fake_start(Fake *f, Script script)
{
        struct sockaddr_nl addr = { .nl_family = AF_NETLINK };
        socklen_t len = sizeof addr;
        g_autofree char *pid = NULL;

        memset(f, 0, sizeof(*f));
        f->script = script;
        f->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
        g_assert_cmpint(f->fd, >=, 0);
        g_assert_cmpint(bind(f->fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
        g_assert_cmpint(getsockname(f->fd, (struct sockaddr *) &addr, &len), ==, 0);
        f->port = addr.nl_pid;
        f->dir = g_dir_make_tmp("test-vdp-XXXXXX", NULL);
        f->pid_file = g_build_filename(f->dir, "lldpad.pid", NULL);
        pid = g_strdup_printf("%u\n", f->port);
        g_assert_true(g_file_set_contents(f->pid_file, pid, -1, NULL));
        g_unix_fd_add(f->fd, G_IO_IN, on_request, f);
        f->loop = g_main_loop_new(NULL, FALSE);
}

void
fake_stop(Fake *f)
{
        g_source_remove_by_user_data(f);
        close(f->fd);
        g_unlink(f->pid_file);
        g_rmdir(f->dir);
        g_free(f->pid_file);
        g_free(f->dir);
        g_main_loop_unref(f->loop);
        g_clear_error(&f->error);
}

/* The message of tests/lldpad/README.md 3.6: ifi_index 0, the uplink by
 * name, the VSI's MAC and VLAN, its type, UUID, vf -1 and request 3 as a
 * u16. */
void
fake_notify(Fake *f, guint32 to_port, const char *uplink, gboolean from_other)
{
        g_autoptr(GByteArray) m = g_byte_array_new();
        g_autoptr(GByteArray) info = g_byte_array_new();
        g_autoptr(GByteArray) infos = g_byte_array_new();
        g_autoptr(GByteArray) port = g_byte_array_new();
        g_autoptr(GByteArray) ports = g_byte_array_new();
        struct nlmsghdr h = { .nlmsg_type = RTM_SETLINK, .nlmsg_seq = 1, .nlmsg_pid = f->port };
        struct ifinfomsg ifi = { 0 };
        struct ifla_vf_mac mac = { .vf = 0xffffffffu, .mac = { 0x52, 0x54, 0, 0, 0x20, 0x01 } };
        struct ifla_vf_vlan vlan = { .vf = 0xffffffffu };
        struct ifla_port_vsi vsi = { .vsi_mgr_id = 1, .vsi_type_id = { 2 }, .vsi_type_version = 3 };
        guint32 vf = 0xffffffffu;
        guint16 request = 3;
        struct sockaddr_nl to = { .nl_family = AF_NETLINK, .nl_pid = to_port };
        int fd = from_other ? socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE) : f->fd;

        g_byte_array_append(m, (const guint8 *) &h, sizeof h);
        g_byte_array_append(m, (const guint8 *) &ifi, sizeof ifi);
        put_attr(m, IFLA_IFNAME, uplink, strlen(uplink) + 1);
        put_attr(info, IFLA_VF_MAC, &mac, sizeof mac);
        put_attr(info, IFLA_VF_VLAN, &vlan, sizeof vlan);
        put_attr(infos, IFLA_VF_INFO | NLA_F_NESTED, info->data, info->len);
        put_attr(m, IFLA_VFINFO_LIST | NLA_F_NESTED, infos->data, infos->len);
        put_attr(port, IFLA_PORT_VSI_TYPE, &vsi, sizeof vsi);
        put_attr(port, IFLA_PORT_INSTANCE_UUID, nlc_fake_lldpad_uuid, 16);
        put_attr(port, IFLA_PORT_VF, &vf, 4);
        put_attr(port, IFLA_PORT_REQUEST, &request, 2);
        put_attr(ports, IFLA_VF_PORT | NLA_F_NESTED, port->data, port->len);
        put_attr(m, IFLA_VF_PORTS | NLA_F_NESTED, ports->data, ports->len);
        ((struct nlmsghdr *) m->data)->nlmsg_len = m->len;
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(sendto(fd, m->data, m->len, 0, (const struct sockaddr *) &to, sizeof to),
                        ==, (gssize) m->len);
        if (from_other)
                close(fd);
}
