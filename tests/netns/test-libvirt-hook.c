/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * netlifecd's libvirt qemu hook (`netlifectl libvirt-hook`, $NLCTL) against
 * the real daemon on a private bus in a fresh network namespace, called the
 * way libvirt 11 calls it (tests/libvirt/README.md: the order and the XML
 * measured on a real libvirtd): a tap made and held open as libvirt makes
 * it (TUNSETIFF, enslaved, up, before the `start` call), the domain XML on
 * stdin, the exit code deciding whether libvirt goes on. The whole libvirt
 * stack runs in tests/libvirt (suite libvirt); this is the hook's contract
 * on its own: fresh start (with the RARP the daemon writes through a
 * borrowed queue), the destination's hold until forwarding, a
 * refusal that leaves the guest on the source, release, bad input.
 */
#include <fcntl.h>
#include <signal.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "nlc-test-kernel.h"
#include "nlc-test-packet.h"
#include "ns-env.h"

#define DOM  "vm1"
#define MAC1 "52:54:00:00:1d:01"
#define MAC2 "52:54:00:00:1d:02"

typedef struct {
        NsEnv env;
        int taps[3]; /* the queues "libvirt" holds, -1: none */
        char *state_dir;
} Fixture;

static void
set_up(Fixture *f, gconstpointer data)
{
        ns_env_set_up(&f->env, NULL);
        for (guint i = 0; i < G_N_ELEMENTS(f->taps); i++)
                f->taps[i] = -1;
        f->state_dir = g_build_filename(f->env.dir, "hook-state", NULL);
}

static void
tear_down(Fixture *f, gconstpointer data)
{
        for (guint i = 0; i < G_N_ELEMENTS(f->taps); i++)
                if (f->taps[i] >= 0)
                        close(f->taps[i]);
        g_free(f->state_dir);
        ns_env_tear_down(&f->env);
}

/* What libvirt's virNetDevTapCreateInBridgePort does: a tap that lives as
 * long as the fd (not persistent), enslaved and up; libvirt keeps the fd
 * for QEMU, so the carrier is on and STP counts from here. */
static int
open_queue(const char *ifname, gboolean multi_queue)
{
        struct ifreq ifr = { 0 };
        int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

        g_assert_cmpint(fd, >=, 0);
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (multi_queue ? IFF_MULTI_QUEUE : 0);
        g_strlcpy(ifr.ifr_name, ifname, IFNAMSIZ);
        g_assert_cmpint(ioctl(fd, TUNSETIFF, &ifr), ==, 0);
        return fd;
}

static int
libvirt_tap(const char *ifname, const char *bridge)
{
        int fd = open_queue(ifname, FALSE);

        ns_sh("ip link set %s master %s && ip link set %s up", ifname, bridge, ifname);
        return fd;
}

/* <driver queues='2'/>: libvirt opens a multiqueue tap, one fd per queue. */
static void
libvirt_tap_multiqueue(const char *ifname, const char *bridge, int *fds, guint n)
{
        for (guint i = 0; i < n; i++)
                fds[i] = open_queue(ifname, TRUE);
        ns_sh("ip link set %s master %s && ip link set %s up", ifname, bridge, ifname);
}

static void
make_bridge(const char *name, gboolean stp)
{
        /* forward_delay 2 s, the kernel's least: forwarding 4 s after the
         * port comes up. */
        ns_sh("ip link add %s type bridge stp_state %d forward_delay 200 && ip link set %s up",
              name, stp ? 1 : 0, name);
}

static char *
domain_xml(const char *nics)
{
        return g_strdup_printf("<domain type='qemu' id='3'>\n"
                               "  <name>" DOM "</name>\n"
                               "  <uuid>5a5a5a5a-1111-4000-8000-0000000000d1</uuid>\n"
                               "  <devices>\n"
                               "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
                               "%s"
                               "    <serial type='pty'><target port='0'/></serial>\n"
                               "  </devices>\n"
                               "</domain>\n",
                               nics);
}

static char *
bridge_nic(const char *mac, const char *bridge, const char *tap)
{
        return g_strdup_printf("    <interface type='bridge'>\n"
                               "      <mac address='%s'/>\n"
                               "      <source bridge='%s'/>\n"
                               "      <target dev='%s'/>\n"
                               "      <model type='virtio'/>\n"
                               "      <alias name='net0'/>\n"
                               "    </interface>\n",
                               mac, bridge, tap);
}

typedef struct {
        int status;
        char *out, *err;
        double seconds;
} HookRun;

static void
hook_run_clear(HookRun *r)
{
        g_free(r->out);
        g_free(r->err);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(HookRun, hook_run_clear)

/* Runs the hook as libvirt does ("/etc/libvirt/hooks/qemu.d/netlifecd DOM
 * OP SUB EXTRA", the XML on stdin), with @timeout_ms as its readiness
 * timeout (0: its default). */
static void
hook(Fixture *f, HookRun *r, const char *op, const char *sub, const char *extra, const char *xml,
     guint timeout_ms)
{
        g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(
                G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                G_SUBPROCESS_FLAGS_STDERR_PIPE);
        g_autoptr(GSubprocess) p = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *log = g_build_filename(f->env.dir, "hook.log", NULL);
        g_autofree char *timeout = g_strdup_printf("%u", timeout_ms);
        const char *exe = g_getenv("NLCTL");
        gint64 start = g_get_monotonic_time();

        if (!exe)
                g_error("NLCTL is not set: run through meson test");
        g_subprocess_launcher_setenv(l, "NETLIFECD_HOOK_STATE_DIR", f->state_dir, TRUE);
        g_subprocess_launcher_setenv(l, "NETLIFECD_HOOK_LOG", log, TRUE);
        if (timeout_ms)
                g_subprocess_launcher_setenv(l, "NETLIFECD_HOOK_READY_TIMEOUT_MS", timeout, TRUE);
        p = g_subprocess_launcher_spawn(l, &error, exe, "--address", f->env.address, "libvirt-hook",
                                        "--", DOM, op, sub, extra, NULL);
        g_assert_no_error(error);
        g_subprocess_communicate_utf8(p, xml, NULL, &r->out, &r->err, &error);
        g_assert_no_error(error);
        r->seconds = (double) (g_get_monotonic_time() - start) / G_USEC_PER_SEC;
        g_assert_true(g_subprocess_get_if_exited(p));
        r->status = g_subprocess_get_exit_status(p);
        g_test_message("hook %s %s %s: exit %d in %.2f s\nstderr: %s", op, sub, extra, r->status,
                       r->seconds, r->err);
        /* libvirt reads a hook's stdout as replacement XML (migrate, restore):
         * never a byte there. */
        g_assert_cmpstr(r->out, ==, "");
}

static void
hook_ok(Fixture *f, const char *op, const char *sub, const char *extra, const char *xml)
{
        g_auto(HookRun) r = { 0 };

        hook(f, &r, op, sub, extra, xml, 0);
        g_assert_cmpint(r.status, ==, 0);
}

static char *
instance_path(Fixture *f)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = ns_call(&f->env, "/org/netlifecd1", "org.netlifecd1.Manager",
                                        "GetInstance", g_variant_new("(s)", DOM), "(o)", &error);
        const char *path = NULL;

        if (!r) {
                g_autofree char *remote = g_dbus_error_get_remote_error(error);

                g_assert_cmpstr(remote, ==, "org.netlifecd1.Error.NotFound");
                return NULL;
        }
        g_variant_get(r, "(&o)", &path);
        return g_strdup(path);
}

static char *
device_state(Fixture *f, const char *mac)
{
        g_autoptr(GVariant) r = nlc_call(&f->env, "/org/netlifecd1", "org.netlifecd1.Manager",
                                         "GetDevice", g_variant_new("(ss)", DOM, mac), "(o)");
        const char *path = NULL;

        g_variant_get(r, "(&o)", &path);
        return ns_get_string(&f->env, path, "org.netlifecd1.Device", "State");
}

/* A fresh start: libvirt makes the taps, calls prepare, start (the hook
 * adopts and activates: the guest runs nowhere else), started (nothing to
 * wait for); at the end the taps go with QEMU and release frees the
 * records. A NIC of another type and one without a tap are left alone. */
static void
test_fresh_start(Fixture *f, gconstpointer data)
{
        g_autofree char *nic1 = bridge_nic(MAC1, "br0", "vnet0");
        g_autofree char *nic2 = bridge_nic(MAC2, "br1", "vnet1");
        g_autofree char *nics =
                g_strconcat(nic1, nic2,
                            "    <interface type='user'><mac address='52:54:00:00:1d:03'/>"
                            "<model type='virtio'/></interface>\n",
                            "    <interface type='bridge'><mac address='52:54:00:00:1d:04'/>"
                            "<source bridge='br0'/></interface>\n",
                            NULL);
        g_autofree char *xml = domain_xml(nics);
        g_autofree char *fdb = NULL;
        g_autofree char *path = NULL;
        g_autofree char *state = NULL;
        guint8 guest[6], frame[128];
        int sock;

        make_bridge("br0", FALSE);
        make_bridge("br1", TRUE);
        nlc_mac_parse(MAC1, guest);
        sock = nlc_packet_open("br0");
        hook_ok(f, "prepare", "begin", "-", xml);
        g_assert_null(instance_path(f));
        f->taps[0] = libvirt_tap("vnet0", "br0");
        f->taps[1] = libvirt_tap("vnet1", "br1");
        hook_ok(f, "start", "begin", "-", xml);
        state = device_state(f, MAC1);
        g_assert_cmpstr(state, ==, "active");
        g_free(state);
        /* The daemon holds no queue of libvirt's tap: its RARP went through
         * a borrowed copy of the holder's (here, this process's) queue, into
         * the bridge from the guest's port, after the static entry let the
         * locked port pass it. */
        g_assert_cmpint(nlc_packet_wait(sock, guest, 0x8035, 2000, frame, sizeof frame), >, 0);
        close(sock);
        state = device_state(f, MAC2);
        g_assert_cmpstr(state, ==, "active");
        fdb = ns_kernel_fdb_static(MAC1);
        g_assert_cmpstr(fdb, ==, "vnet0@br0");
        g_free(fdb);
        fdb = ns_kernel_fdb_static(MAC2);
        g_assert_cmpstr(fdb, ==, "vnet1@br1");
        /* The ports are the daemon's now: hardened as its own taps are. */
        nlc_assert_port_guards("vnet0", TRUE, TRUE);
        nlc_assert_port_guards("vnet1", TRUE, TRUE);
        hook_ok(f, "started", "begin", "-", xml);

        /* Shut down: QEMU exits (the taps go), then stopped and release. */
        close(f->taps[0]);
        close(f->taps[1]);
        for (guint i = 0; i < G_N_ELEMENTS(f->taps); i++)
                f->taps[i] = -1;
        hook_ok(f, "stopped", "end", "-", xml);
        hook_ok(f, "release", "end", "shutdown", xml);
        path = instance_path(f);
        g_assert_null(path);
        g_assert_false(nlc_kernel_link_exists("vnet0"));
}

/* The daemon restarts after QEMU (and with it libvirt's tap) is gone, before
 * libvirt's release: the adopted tap is not made again (it was not
 * persistent: it lived with its holder); its device is destroyed, and
 * release frees it. */
static void
test_restart_after_qemu_exit(Fixture *f, gconstpointer data)
{
        g_autofree char *nic = bridge_nic(MAC1, "br0", "vnet0");
        g_autofree char *xml = domain_xml(nic);
        g_autofree char *state = NULL;
        g_autofree char *path = NULL;
        g_autofree char *fdb = NULL;

        make_bridge("br0", FALSE);
        f->taps[0] = libvirt_tap("vnet0", "br0");
        hook_ok(f, "start", "begin", "-", xml);
        state = device_state(f, MAC1);
        g_assert_cmpstr(state, ==, "active");
        close(f->taps[0]);
        f->taps[0] = -1;
        g_assert_false(nlc_kernel_link_exists("vnet0"));
        nlc_test_kill9_daemon(&f->env);
        nlc_test_start_daemon(&f->env);
        g_assert_false(nlc_kernel_link_exists("vnet0"));
        g_free(state);
        state = device_state(f, MAC1);
        g_assert_cmpstr(state, ==, "destroyed");
        fdb = ns_kernel_fdb_static(MAC1);
        g_assert_cmpstr(fdb, ==, "");
        hook_ok(f, "release", "end", "shutdown", xml);
        path = instance_path(f);
        g_assert_null(path);
}

/* The destination of a migration: migrate (remembered), prepare, the tap,
 * start (adopted, not activated: the source holds the MAC), started holds
 * until the port forwards, and only then lets libvirt send the stream. */
static void
test_incoming_holds_until_forwarding(Fixture *f, gconstpointer data)
{
        g_autofree char *nic = bridge_nic(MAC1, "br0", "vnet0");
        g_autofree char *xml = domain_xml(nic);
        g_autofree char *port = NULL;
        g_autofree char *fdb = NULL;
        g_autofree char *state = NULL;
        g_autofree char *path = NULL;
        g_auto(HookRun) r = { 0 };

        make_bridge("br0", TRUE);
        hook_ok(f, "migrate", "begin", "-", xml);
        hook_ok(f, "prepare", "begin", "-", xml);
        f->taps[0] = libvirt_tap("vnet0", "br0");
        hook_ok(f, "start", "begin", "-", xml);
        state = device_state(f, MAC1);
        g_assert_cmpstr(state, ==, "created");
        fdb = ns_kernel_fdb_static(MAC1);
        g_assert_cmpstr(fdb, ==, "");
        port = ns_kernel_port_state("vnet0");
        g_assert_cmpstr(port, !=, "forwarding");
        g_free(port);

        hook(f, &r, "started", "begin", "-", xml, 0);
        g_assert_cmpint(r.status, ==, 0);
        /* Right after it returned, the kernel shows the port forwarding;
         * STP needed 2 x 2 s from the tap's start, so the hook waited. */
        port = ns_kernel_port_state("vnet0");
        g_assert_cmpstr(port, ==, "forwarding");
        g_assert_cmpfloat(r.seconds, >, 1.0);
        /* Still not active: the agent activates at the guest's resume. */
        g_free(state);
        state = device_state(f, MAC1);
        g_assert_cmpstr(state, ==, "created");
        path = instance_path(f);
        g_assert_nonnull(path);
}

/* A port that does not forward in time: started fails (exit 5), saying
 * which port and why, so libvirt aborts the incoming migration and the
 * guest stays on the source; release (reason failed) cleans up. */
static void
test_incoming_not_ready_refuses(Fixture *f, gconstpointer data)
{
        g_autofree char *nic = bridge_nic(MAC1, "br0", "vnet0");
        g_autofree char *xml = domain_xml(nic);
        g_autofree char *path = NULL;
        g_autofree char *state = NULL;
        g_auto(HookRun) r = { 0 };

        make_bridge("br0", TRUE);
        hook_ok(f, "migrate", "begin", "-", xml);
        f->taps[0] = libvirt_tap("vnet0", "br0");
        hook_ok(f, "start", "begin", "-", xml);
        hook(f, &r, "started", "begin", "-", xml, 300);
        g_assert_cmpint(r.status, ==, 5);
        g_assert_nonnull(strstr(r.err, "refusing the migration"));
        g_assert_nonnull(strstr(r.err, "vnet0"));
        g_assert_cmpfloat(r.seconds, <, 3.0);

        close(f->taps[0]);
        f->taps[0] = -1;
        hook_ok(f, "stopped", "end", "-", xml);
        hook_ok(f, "release", "end", "failed", xml);
        path = instance_path(f);
        g_assert_null(path);
        /* The mark is gone: a fresh start of the same domain activates. */
        f->taps[0] = libvirt_tap("vnet0", "br0");
        hook_ok(f, "start", "begin", "-", xml);
        state = device_state(f, MAC1);
        g_assert_cmpstr(state, ==, "active");
}

/* A multiqueue NIC (<driver queues='2'/>): libvirt's tap has two queues,
 * both held by "QEMU"; adopted and activated the same way, the RARP written
 * through one of them. */
static void
test_multiqueue(Fixture *f, gconstpointer data)
{
        g_autofree char *xml = domain_xml("    <interface type='bridge'>\n"
                                          "      <mac address='" MAC1 "'/>\n"
                                          "      <source bridge='br0'/>\n"
                                          "      <target dev='vnet0'/>\n"
                                          "      <model type='virtio'/>\n"
                                          "      <driver name='vhost' queues='2'/>\n"
                                          "    </interface>\n");
        g_autofree char *state = NULL;
        g_autofree char *fdb = NULL;
        guint8 guest[6], frame[128];
        int sock;

        make_bridge("br0", FALSE);
        nlc_mac_parse(MAC1, guest);
        sock = nlc_packet_open("br0");
        libvirt_tap_multiqueue("vnet0", "br0", f->taps, 2);
        hook_ok(f, "start", "begin", "-", xml);
        state = device_state(f, MAC1);
        g_assert_cmpstr(state, ==, "active");
        fdb = ns_kernel_fdb_static(MAC1);
        g_assert_cmpstr(fdb, ==, "vnet0@br0");
        g_assert_cmpint(nlc_packet_wait(sock, guest, 0x8035, 2000, frame, sizeof frame), >, 0);
        close(sock);
        /* The daemon kept no queue: with QEMU's gone, so is the tap. */
        close(f->taps[0]);
        close(f->taps[1]);
        f->taps[0] = f->taps[1] = -1;
        g_assert_false(nlc_kernel_link_exists("vnet0"));
        hook_ok(f, "release", "end", "shutdown", xml);
}

/* What must stop a start: XML that is not XML, a bridge that is not there
 * (the daemon's named error reaches libvirt's message), no daemon (no
 * guarantee can be given: the guest does not start). */
static void
test_refusals(Fixture *f, gconstpointer data)
{
        g_autofree char *nic = bridge_nic(MAC1, "br9", "vnet0");
        g_autofree char *xml = domain_xml(nic);
        g_auto(HookRun) bad = { 0 };
        g_auto(HookRun) nobridge = { 0 };
        g_auto(HookRun) nodaemon = { 0 };
        g_auto(HookRun) norelease = { 0 };

        make_bridge("br0", FALSE);
        hook(f, &bad, "start", "begin", "-", "<domain><devices>", 0);
        g_assert_cmpint(bad.status, ==, 1);
        g_assert_nonnull(strstr(bad.err, "cannot read the domain XML"));

        f->taps[0] = libvirt_tap("vnet0", "br0");
        hook(f, &nobridge, "start", "begin", "-", xml, 0);
        g_assert_cmpint(nobridge.status, ==, 1);
        g_assert_nonnull(strstr(nobridge.err, "org.netlifecd1.Error."));
        g_assert_nonnull(strstr(nobridge.err, "cannot adopt vnet0"));
        g_assert_nonnull(strstr(nobridge.err, "br9"));

        nlc_test_stop_daemon(&f->env, SIGTERM);
        hook(f, &nodaemon, "start", "begin", "-", xml, 0);
        g_assert_cmpint(nodaemon.status, !=, 0);
        /* A release cannot be refused: without the daemon it says so and
         * lets libvirt go on. */
        hook(f, &norelease, "release", "end", "shutdown", xml, 0);
        g_assert_cmpint(norelease.status, ==, 0);
        g_assert_nonnull(strstr(norelease.err, "netlifecd is not running"));
        nlc_test_start_daemon(&f->env);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add("/libvirt-hook/fresh-start", Fixture, NULL, set_up, test_fresh_start, tear_down);
        g_test_add("/libvirt-hook/incoming-holds-until-forwarding", Fixture, NULL, set_up,
                   test_incoming_holds_until_forwarding, tear_down);
        g_test_add("/libvirt-hook/incoming-not-ready-refuses", Fixture, NULL, set_up,
                   test_incoming_not_ready_refuses, tear_down);
        g_test_add("/libvirt-hook/restart-after-qemu-exit", Fixture, NULL, set_up,
                   test_restart_after_qemu_exit, tear_down);
        g_test_add("/libvirt-hook/multiqueue", Fixture, NULL, set_up, test_multiqueue, tear_down);
        g_test_add("/libvirt-hook/refusals", Fixture, NULL, set_up, test_refusals, tear_down);
        return g_test_run();
}
