/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The world of a real-QEMU migration test: two "hosts" joined by an upstream
 * switch, a probing peer, and on each host a private dbus-daemon, the real
 * netlifecd ($NLC_DAEMON) and, later, a QEMU.
 *
 *   test process's own namespace (the switch):  sw0 (bridge, STP off)
 *     ├─ veth ── hostA: br0 (STP, forward_delay 8 s) 198.51.100.1/24, uplink
 *     ├─ veth ── hostB: br0 (STP, forward_delay 8 s) 198.51.100.2/24, uplink
 *     └─ veth ── peer:  eth0 192.0.2.1/24, static neighbour 192.0.2.10 → guest MAC
 *
 * The test process unshares its network and mount namespaces first and mounts
 * a tmpfs of its own on /run/netns, so the named namespaces (ip netns add)
 * exist only for it and its children: nothing outlives the test, even when it
 * aborts. Every child (bus, daemon, QEMU) gets PR_SET_PDEATHSIG. Functions
 * that can fail return FALSE with @error: the caller reports and tears down.
 */
#pragma once

#include <gio/gio.h>
#include <gio/gunixfdlist.h>

#define MIG_BUS_NAME     "org.netlifecd1"
#define MIG_MANAGER_PATH "/org/netlifecd1"
#define MIG_MANAGER      "org.netlifecd1.Manager"
#define MIG_DEVICE       "org.netlifecd1.Device"
#define MIG_INSTANCE     "org.netlifecd1.Instance"
#define MIG_MIGRATION    "org.netlifecd1.Migration"

#define MIG_GUEST_MAC "52:54:00:12:34:56"
/* The guest's second NIC, in the runs that give it one (its eth1, left down
 * by the guest: what is measured is the hosts' handling of its MAC). */
#define MIG_GUEST_MAC2 "52:54:00:12:34:57"
#define MIG_GUEST_IP   "192.0.2.10"
#define MIG_PEER_IP    "192.0.2.1"
#define MIG_BRIDGE     "br0"
#define MIG_UPLINK     "uplink"
#define MIG_PEER_NS    "peer"
#define MIG_QEMU_RAM   "256"
#define MIG_TAP_FD     10 /* where QEMU finds its tap queue */
#define MIG_TAP2_FD    11 /* and the second NIC's */
/* The hosts' STP forward delay, in centiseconds: a new port forwards after
 * two of them (16 s). Longer than the first pre-copy pass of the guest at
 * 16 MiB/s (about 10 s), so the source's switch to post-copy really has to
 * wait for the destination port. */
#define MIG_FORWARD_DELAY_CS 800

typedef struct {
        char label;    /* 'A' or 'B' */
        char *ns;      /* "hostA", "hostB" */
        char *host_ip; /* on br0 */
        char *dir;     /* this host's files */
        char *bus_address;
        GPid bus_pid;
        GPid daemon_pid;
        char *daemon_log;
        GDBusConnection *conn;
        /* The guest's device and QEMU on this host. */
        char *tap;
        char *device_path;
        char *instance_path;
        /* The guest's second NIC, when it has one: its tap, and the daemon's
         * device for it (NULL when the test made the tap itself). */
        char *tap2;
        char *device2_path;
        GPid qemu_pid;
        char *qmp_path;      /* the daemon's monitor */
        char *test_qmp_path; /* a second monitor, the test's own */
        char *serial_log;
        char *qemu_log;
} MigHost;

typedef struct {
        guint forward_delay_cs; /* the hosts' bridges; set before set-up, 0: MIG_FORWARD_DELAY_CS */
        char *dir;              /* logs, sockets, state */
        char *guest_dir;
        gboolean topology_up;
        MigHost host[2]; /* [0] = A (source), [1] = B (destination) */
} MigEnv;

/* Unshares, builds the topology, starts both buses and daemons. */
gboolean mig_env_set_up(MigEnv *env, GError **error);
/* Stops QEMUs, daemons and buses, removes namespaces and files. Safe on a
 * half-built env. Returns FALSE with @error when a daemon did not exit 0 on
 * SIGTERM (everything is removed regardless). */
gboolean mig_env_tear_down(MigEnv *env, GError **error);
/* Prints the daemons' logs and the serial consoles with g_test_message. */
void mig_env_dump_logs(MigEnv *env);

/* "QEMU emulator version 10.0.2 ..." → 10; 0 when there is no QEMU. */
guint mig_qemu_major(char **version_line);

/* A shell command in network namespace @ns (NULL: the switch's). */
gboolean mig_sh(const char *ns, GError **error, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
char *mig_sh_out(const char *ns, GError **error, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* The bridge port's STP state from the kernel (iproute2), "none" if absent. */
char *mig_port_state(const char *ns, const char *ifname);
/* Waits until @ifname forwards in @ns. */
gboolean mig_wait_forwarding(const char *ns, const char *ifname, guint timeout_ms, GError **error);

/* D-Bus on host @h's bus. */
GVariant *mig_call(MigHost *h, const char *path, const char *iface, const char *method,
                   GVariant *params, const char *reply_type, GError **error);
GVariant *mig_get(MigHost *h, const char *path, const char *iface, const char *prop,
                  GError **error);
/* Allocate(instance, "tap-bridge", MIG_GUEST_MAC, {bridge, ifname,
 * shareable}) and Create(): sets h->tap, h->device_path, h->instance_path;
 * @fd the first queue (the caller owns it). */
gboolean mig_host_create_device(MigHost *h, const char *instance, const char *ifname,
                                gboolean shareable, int *fd, GError **error);
/* The same for the guest's second NIC (MIG_GUEST_MAC2): sets h->tap2 and
 * h->device2_path. */
gboolean mig_host_create_second_device(MigHost *h, const char *instance, const char *ifname,
                                       int *fd, GError **error);
/* Device.ShareQueues(@instance) on @owner's device: @h gets the new device
 * on the same tap (h->tap, h->device_path, h->instance_path) and @fd its
 * queue (detached until the device activates). */
gboolean mig_host_share_queues(MigHost *owner, MigHost *h, const char *instance, int *fd,
                               GError **error);
/* The flags of QEMU's tap queue (MIG_TAP_FD in process @pid, taken with
 * pidfd_getfd): 1 attached, 0 detached (the kernel steers nothing to it), or
 * a negative errno. */
int mig_qemu_queue_attached(GPid pid);
/* QEMU in the host's namespace with @tap_fd as its NIC (closed here); with
 * @incoming "-incoming defer". */
gboolean mig_host_start_qemu(MigEnv *env, MigHost *h, int tap_fd, gboolean incoming,
                             GError **error);
/* The same with a guest of @n_nics NICs (1 or 2): @tap_fds[0] is its eth0
 * (MIG_GUEST_MAC), @tap_fds[1] its eth1 (MIG_GUEST_MAC2); all closed here. */
gboolean mig_host_start_qemu_nics(MigEnv *env, MigHost *h, const int *tap_fds, guint n_nics,
                                  gboolean incoming, GError **error);
/* kill -9 of the host's netlifecd, then a new one on the same bus, state
 * and runtime directories, as after a crash; waits for its bus name. The
 * two halves: the kill (returns once its bus name is gone) and the start. */
gboolean mig_host_restart_daemon(MigHost *h, GError **error);
void mig_host_kill_daemon(MigHost *h);
gboolean mig_host_start_daemon(MigHost *h, GError **error);
/* TRUE while the host's QEMU process lives. */
gboolean mig_host_qemu_alive(MigHost *h);
/* Manager.AttachQemu(instance, h->qmp_path) once the socket exists. */
gboolean mig_host_attach_qemu(MigHost *h, const char *instance, GError **error);
/* The serial console so far ("" when none). */
char *mig_host_serial(MigHost *h);

/* Timelines "a(st)": the time of the first @what at or after @after
 * (CLOCK_REALTIME µs), 0 when there is none. */
gint64 mig_timeline_find(GVariant *timeline, const char *what, gint64 after);
/* "what@+ms what@+ms ..." relative to @origin, for messages. */
char *mig_timeline_format(GVariant *timeline, gint64 origin);
