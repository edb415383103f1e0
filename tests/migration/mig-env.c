/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE /* unshare */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mig-env.h"

#define NETNS_RUN_DIR "/run/netns"

/* Children die with the test, also when it aborts. */
static void
die_with_parent(gpointer data)
{
        prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* @argv run in network namespace @ns (through `ip netns exec`, which also
 * gives it a sysfs of that namespace), or in the switch's when @ns is NULL.
 * Output goes to @log_path (appended) or /dev/null; @fds[i] is passed as
 * @target_fds[i], @n_fds of them. */
static gboolean
spawn(const char *ns, const char *const *argv, const char *log_path, const int *fds,
      const int *target_fds, guint n_fds, GPid *pid, GError **error)
{
        g_autoptr(GPtrArray) full = g_ptr_array_new();
        g_auto(GStrv) envp = g_get_environ();
        int log_fd = -1;
        gboolean ok;

        if (ns) {
                g_ptr_array_add(full, "ip");
                g_ptr_array_add(full, "netns");
                g_ptr_array_add(full, "exec");
                g_ptr_array_add(full, (gpointer) ns);
        }
        for (guint i = 0; argv[i]; i++)
                g_ptr_array_add(full, (gpointer) argv[i]);
        g_ptr_array_add(full, NULL);
        /* G_DEBUG=fatal-warnings is the test's, not its children's. */
        envp = g_environ_unsetenv(envp, "G_DEBUG");
        log_fd = g_open(log_path ? log_path : "/dev/null",
                        O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (log_fd < 0) {
                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "cannot open %s: %s",
                            log_path, g_strerror(errno));
                return FALSE;
        }
        ok = g_spawn_async_with_pipes_and_fds(
                NULL, (const char *const *) full->pdata, (const char *const *) envp,
                G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH | G_SPAWN_STDIN_FROM_DEV_NULL,
                die_with_parent, NULL, -1, log_fd, log_fd, fds, target_fds, n_fds, pid, NULL, NULL,
                NULL, error);
        close(log_fd);
        if (!ok)
                g_prefix_error(error, "cannot start %s: ", argv[0]);
        return ok;
}

/* Waits up to @timeout_ms for @pid; SIGKILL after that. Returns the status. */
static int
reap(GPid pid, guint timeout_ms, gboolean *timed_out)
{
        gint64 deadline = g_get_monotonic_time() + (gint64) timeout_ms * 1000;
        int status = 0;

        *timed_out = FALSE;
        while (waitpid(pid, &status, WNOHANG) == 0) {
                if (g_get_monotonic_time() > deadline) {
                        *timed_out = TRUE;
                        kill(pid, SIGKILL);
                        waitpid(pid, &status, 0);
                        break;
                }
                g_usleep(10000);
        }
        g_spawn_close_pid(pid);
        return status;
}

static void
stop_process(GPid *pid, int signo, guint timeout_ms)
{
        gboolean timed_out;

        if (*pid <= 0)
                return;
        kill(*pid, signo);
        reap(*pid, timeout_ms, &timed_out);
        *pid = 0;
}

static char *
vsh(const char *ns, gboolean want_out, GError **error, const char *fmt, va_list ap)
{
        g_autofree char *cmd = g_strdup_vprintf(fmt, ap);
        g_autofree char *out = NULL, *err = NULL;
        const char *argv_ns[] = { "ip", "netns", "exec", ns, "/bin/sh", "-c", cmd, NULL };
        const char *argv_here[] = { "/bin/sh", "-c", cmd, NULL };
        int status = 0;

        if (!g_spawn_sync(NULL, (char **) (ns ? argv_ns : argv_here), NULL, G_SPAWN_SEARCH_PATH,
                          NULL, NULL, &out, &err, &status, error)) {
                g_prefix_error(error, "cannot run '%s': ", cmd);
                return NULL;
        }
        if (!g_spawn_check_wait_status(status, NULL)) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "'%s'%s%s failed: %s", cmd,
                            ns ? " in " : "", ns ? ns : "", g_strstrip(err));
                return NULL;
        }
        return want_out ? g_steal_pointer(&out) : g_strdup("");
}

gboolean
mig_sh(const char *ns, GError **error, const char *fmt, ...)
{
        g_autofree char *out = NULL;
        va_list ap;

        va_start(ap, fmt);
        out = vsh(ns, FALSE, error, fmt, ap);
        va_end(ap);
        return out != NULL;
}

char *
mig_sh_out(const char *ns, GError **error, const char *fmt, ...)
{
        char *out;
        va_list ap;

        va_start(ap, fmt);
        out = vsh(ns, TRUE, error, fmt, ap);
        va_end(ap);
        return out;
}

guint
mig_qemu_major(char **version_line)
{
        const char *argv[] = { "qemu-system-x86_64", "--version", NULL };
        g_autofree char *out = NULL;
        g_auto(GStrv) lines = NULL;
        int status = 0;
        guint major = 0;

        if (version_line)
                *version_line = NULL;
        if (!g_spawn_sync(NULL, (char **) argv, NULL,
                          G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL,
                          &status, NULL) ||
            !g_spawn_check_wait_status(status, NULL))
                return 0;
        lines = g_strsplit(out, "\n", 2);
        if (sscanf(lines[0], "QEMU emulator version %u.", &major) != 1)
                major = 0;
        if (version_line)
                *version_line = g_strdup(lines[0]);
        return major;
}

char *
mig_port_state(const char *ns, const char *ifname)
{
        g_autofree char *out = mig_sh_out(ns, NULL, "bridge -j link show dev %s", ifname);
        g_autoptr(JsonNode) root = out ? json_from_string(out, NULL) : NULL;
        JsonArray *a = root && JSON_NODE_HOLDS_ARRAY(root) ? json_node_get_array(root) : NULL;
        JsonObject *o = a && json_array_get_length(a) ? json_array_get_object_element(a, 0) : NULL;

        return g_strdup(o ? json_object_get_string_member_with_default(o, "state", "none")
                          : "none");
}

gboolean
mig_wait_forwarding(const char *ns, const char *ifname, guint timeout_ms, GError **error)
{
        gint64 deadline = g_get_monotonic_time() + (gint64) timeout_ms * 1000;
        g_autofree char *state = NULL;

        for (guint i = 0; i < timeout_ms / 100 + 1; i++) {
                g_free(state);
                state = mig_port_state(ns, ifname);
                if (g_str_equal(state, "forwarding"))
                        return TRUE;
                if (g_get_monotonic_time() > deadline)
                        break;
                g_usleep(100000);
        }
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%s in %s is still '%s' after %u ms",
                    ifname, ns, state, timeout_ms);
        return FALSE;
}

/* Our own mount namespace (private: nothing propagates back) with a tmpfs on
 * /run/netns: `ip netns add` names live there, seen by us and our children
 * only, and vanish with us. */
static gboolean
unshare_world(GError **error)
{
        if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0) {
                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                            "unshare(CLONE_NEWNET | CLONE_NEWNS): %s: this test needs root",
                            g_strerror(errno));
                return FALSE;
        }
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            (g_mkdir_with_parents(NETNS_RUN_DIR, 0755) < 0 && errno != EEXIST) ||
            mount("nlc-mig-netns", NETNS_RUN_DIR, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  "mode=0755") < 0) {
                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                            "cannot set up a private " NETNS_RUN_DIR ": %s", g_strerror(errno));
                return FALSE;
        }
        return TRUE;
}

static gboolean
build_topology(MigEnv *env, GError **error)
{
        if (!mig_sh(NULL, error,
                    "ip link set lo up && "
                    "ip link add sw0 type bridge stp_state 0 && ip link set sw0 up"))
                return FALSE;
        for (guint i = 0; i < 2; i++) {
                MigHost *h = &env->host[i];

                if (!mig_sh(NULL, error,
                            "ip netns add %1$s && ip -n %1$s link set lo up && "
                            "ip link add up-%1$s type veth peer name " MIG_UPLINK " netns %1$s && "
                            "ip link set up-%1$s master sw0 && ip link set up-%1$s up && "
                            "ip -n %1$s link add " MIG_BRIDGE
                            " type bridge stp_state 1 forward_delay %3$d && "
                            "ip -n %1$s link set " MIG_UPLINK " master " MIG_BRIDGE " && "
                            "ip -n %1$s link set " MIG_UPLINK " up && "
                            "ip -n %1$s link set " MIG_BRIDGE " up && "
                            "ip -n %1$s addr add %2$s/24 dev " MIG_BRIDGE,
                            h->ns, h->host_ip, env->forward_delay_cs))
                        return FALSE;
        }
        env->topology_up = TRUE;
        return mig_sh(NULL, error,
                      "ip netns add " MIG_PEER_NS " && ip -n " MIG_PEER_NS " link set lo up && "
                      "ip link add up-peer type veth peer name eth0 netns " MIG_PEER_NS " && "
                      "ip link set up-peer master sw0 && ip link set up-peer up && "
                      "ip -n " MIG_PEER_NS " addr add " MIG_PEER_IP "/24 dev eth0 && "
                      "ip -n " MIG_PEER_NS " link set eth0 up && "
                      "ip -n " MIG_PEER_NS " neigh replace " MIG_GUEST_IP " lladdr " MIG_GUEST_MAC
                      " dev eth0 nud permanent");
}

static gboolean
name_has_owner(GDBusConnection *conn)
{
        g_autoptr(GVariant) r = g_dbus_connection_call_sync(
                conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                "NameHasOwner", g_variant_new("(s)", MIG_BUS_NAME), G_VARIANT_TYPE("(b)"),
                G_DBUS_CALL_FLAGS_NONE, 1000, NULL, NULL);
        gboolean has = FALSE;

        if (r)
                g_variant_get(r, "(b)", &has);
        return has;
}

static gboolean start_daemon(MigHost *h, GError **error);

/* The host's private bus (in the switch's namespace: a unix:path socket is
 * reachable from every namespace) and its netlifecd (in the host's). */
static gboolean
start_host(MigHost *h, GError **error)
{
        g_autofree char *bus_path = g_build_filename(h->dir, "bus", NULL);
        g_autofree char *bus_arg = NULL;
        const char *daemon = g_getenv("NLC_DAEMON");
        g_autoptr(GError) local = NULL;

        if (!daemon) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                            "NLC_DAEMON is not set: run through meson test");
                return FALSE;
        }
        h->bus_address = g_strconcat("unix:path=", bus_path, NULL);
        bus_arg = g_strconcat("--address=", h->bus_address, NULL);
        {
                const char *argv[] = { "dbus-daemon", "--session", "--nofork", bus_arg, NULL };

                if (!spawn(NULL, argv, NULL, NULL, NULL, 0, &h->bus_pid, error))
                        return FALSE;
        }
        /* dbus-daemon makes the socket file before it listens: retry. */
        for (int i = 0; i < 500 && !h->conn; i++) {
                g_clear_error(&local);
                h->conn = g_dbus_connection_new_for_address_sync(
                        h->bus_address,
                        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                        NULL, NULL, &local);
                if (!h->conn)
                        g_usleep(10000);
        }
        if (!h->conn) {
                g_propagate_prefixed_error(error, g_steal_pointer(&local),
                                           "host %c: no private bus: ", h->label);
                return FALSE;
        }
        return start_daemon(h, error);
}

/* The host's netlifecd, on its bus, with its state; waits for its name. */
static gboolean
start_daemon(MigHost *h, GError **error)
{
        g_autofree char *addr_arg = NULL, *state_arg = NULL, *run_arg = NULL;
        const char *daemon = g_getenv("NLC_DAEMON");

        addr_arg = g_strconcat("--address=", h->bus_address, NULL);
        state_arg = g_strconcat("--state-dir=", h->dir, "/state", NULL);
        run_arg = g_strconcat("--runtime-dir=", h->dir, "/run", NULL);
        {
                const char *argv[] = { daemon, addr_arg, state_arg, run_arg, NULL };

                if (!spawn(h->ns, argv, h->daemon_log, NULL, NULL, 0, &h->daemon_pid, error))
                        return FALSE;
        }
        for (int i = 0; i < 1000 && !name_has_owner(h->conn); i++) {
                if (waitpid(h->daemon_pid, NULL, WNOHANG) == h->daemon_pid) {
                        h->daemon_pid = 0;
                        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                                    "host %c: netlifecd exited at start", h->label);
                        return FALSE;
                }
                g_usleep(10000);
        }
        if (!name_has_owner(h->conn)) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                            "host %c: netlifecd did not take its bus name within 10 s", h->label);
                return FALSE;
        }
        return TRUE;
}

gboolean
mig_env_set_up(MigEnv *env, GError **error)
{
        const char *guest_dir = g_getenv("NLC_GUEST_DIR");
        static const char *const ips[] = { "198.51.100.1", "198.51.100.2" };

        guint forward_delay_cs =
                env->forward_delay_cs ? env->forward_delay_cs : MIG_FORWARD_DELAY_CS;

        memset(env, 0, sizeof *env);
        env->forward_delay_cs = forward_delay_cs;
        for (guint i = 0; i < 2; i++) {
                env->host[i].label = (char) ('A' + i);
                env->host[i].ns = g_strdup_printf("host%c", 'A' + i);
                env->host[i].host_ip = g_strdup(ips[i]);
        }
        if (!guest_dir) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                            "NLC_GUEST_DIR is not set: run through meson test");
                return FALSE;
        }
        env->guest_dir = g_strdup(guest_dir);
        if (!unshare_world(error))
                return FALSE;
        env->dir = g_dir_make_tmp("nlc-migration-XXXXXX", error);
        if (!env->dir)
                return FALSE;
        for (guint i = 0; i < 2; i++) {
                MigHost *h = &env->host[i];

                h->dir = g_build_filename(env->dir, h->ns, NULL);
                g_mkdir(h->dir, 0700);
                h->daemon_log = g_build_filename(h->dir, "daemon.log", NULL);
                h->qmp_path = g_build_filename(h->dir, "qmp.sock", NULL);
                h->test_qmp_path = g_build_filename(h->dir, "test-qmp.sock", NULL);
                h->serial_log = g_build_filename(h->dir, "serial.log", NULL);
                h->qemu_log = g_build_filename(h->dir, "qemu.log", NULL);
        }
        if (!build_topology(env, error))
                return FALSE;
        for (guint i = 0; i < 2; i++)
                if (!start_host(&env->host[i], error))
                        return FALSE;
        return TRUE;
}

static void
dump_file(const char *what, const char *path, gsize tail)
{
        g_autofree char *text = NULL;
        gsize len = 0;

        if (!path || !g_file_get_contents(path, &text, &len, NULL) || len == 0)
                return;
        g_test_message("%s%s:\n%s", what, len > tail ? " (its end)" : "",
                       text + (len > tail ? len - tail : 0));
}

void
mig_env_dump_logs(MigEnv *env)
{
        for (guint i = 0; i < 2; i++) {
                MigHost *h = &env->host[i];
                g_autofree char *d = g_strdup_printf("host %c: netlifecd log", h->label);
                g_autofree char *q = g_strdup_printf("host %c: QEMU output", h->label);
                g_autofree char *s = g_strdup_printf("host %c: serial console", h->label);

                dump_file(d, h->daemon_log, 16000);
                dump_file(q, h->qemu_log, 4000);
                dump_file(s, h->serial_log, 6000);
        }
}

gboolean
mig_env_tear_down(MigEnv *env, GError **error)
{
        g_autoptr(GString) problems = g_string_new(NULL);

        for (guint i = 0; i < 2; i++) {
                MigHost *h = &env->host[i];
                gboolean timed_out = FALSE;
                int status;

                stop_process(&h->qemu_pid, SIGTERM, 5000);
                if (h->daemon_pid > 0) {
                        /* A clean shutdown is part of the daemon's contract. */
                        kill(h->daemon_pid, SIGTERM);
                        status = reap(h->daemon_pid, 10000, &timed_out);
                        h->daemon_pid = 0;
                        if (timed_out || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                                g_string_append_printf(
                                        problems,
                                        "host %c: netlifecd did not exit 0 on SIGTERM "
                                        "(%s, status %d); ",
                                        h->label, timed_out ? "killed after 10 s" : "exited",
                                        status);
                }
                g_clear_object(&h->conn);
                stop_process(&h->bus_pid, SIGTERM, 5000);
        }
        if (env->topology_up) {
                /* Deleting a namespace deletes its links (bridges, taps, veths). */
                mig_sh(NULL, NULL,
                       "ip netns del hostA; ip netns del hostB; ip netns del " MIG_PEER_NS
                       "; ip link del sw0; true");
        }
        umount2(NETNS_RUN_DIR, MNT_DETACH);
        if (env->dir)
                mig_sh(NULL, NULL, "rm -rf '%s'", env->dir);
        for (guint i = 0; i < 2; i++) {
                MigHost *h = &env->host[i];

                g_free(h->ns);
                g_free(h->host_ip);
                g_free(h->dir);
                g_free(h->bus_address);
                g_free(h->daemon_log);
                g_free(h->tap);
                g_free(h->device_path);
                g_free(h->instance_path);
                g_free(h->tap2);
                g_free(h->device2_path);
                g_free(h->qmp_path);
                g_free(h->test_qmp_path);
                g_free(h->serial_log);
                g_free(h->qemu_log);
        }
        g_free(env->dir);
        g_free(env->guest_dir);
        memset(env, 0, sizeof *env);
        if (problems->len) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", problems->str);
                return FALSE;
        }
        return TRUE;
}

GVariant *
mig_call(MigHost *h, const char *path, const char *iface, const char *method, GVariant *params,
         const char *reply_type, GError **error)
{
        GVariant *r =
                g_dbus_connection_call_sync(h->conn, MIG_BUS_NAME, path, iface, method, params,
                                            reply_type ? G_VARIANT_TYPE(reply_type) : NULL,
                                            G_DBUS_CALL_FLAGS_NONE, 30000, NULL, error);

        if (!r)
                g_prefix_error(error, "host %c: %s.%s: ", h->label, iface, method);
        return r;
}

GVariant *
mig_get(MigHost *h, const char *path, const char *iface, const char *prop, GError **error)
{
        g_autoptr(GVariant) r = mig_call(h, path, "org.freedesktop.DBus.Properties", "Get",
                                         g_variant_new("(ss)", iface, prop), "(v)", error);
        GVariant *v = NULL;

        if (r)
                g_variant_get(r, "(v)", &v);
        return v;
}

/* The first queue of a reply's "ah" and the instance's path, for the two
 * ways a host gets a device; @ifname noted in @tap. */
static gboolean
take_device(MigHost *h, const char *instance, char **tap, const char *ifname, GVariant *handles,
            GUnixFDList *fds, const char *method, int *fd, GError **error)
{
        g_autoptr(GVariant) r = NULL;
        gint32 handle;

        if (!fds || g_variant_n_children(handles) < 1) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                            "host %c: %s returned no queue fd", h->label, method);
                return FALSE;
        }
        g_variant_get_child(handles, 0, "h", &handle);
        *fd = g_unix_fd_list_get(fds, handle, error);
        if (*fd < 0)
                return FALSE;
        *tap = g_strdup(ifname);
        /* A second NIC's device joins the instance the first one made. */
        if (h->instance_path)
                return TRUE;
        r = mig_call(h, MIG_MANAGER_PATH, MIG_MANAGER, "GetInstance",
                     g_variant_new("(s)", instance), "(o)", error);
        if (!r)
                return FALSE;
        g_variant_get(r, "(o)", &h->instance_path);
        return TRUE;
}

gboolean
mig_host_share_queues(MigHost *owner, MigHost *h, const char *instance, int *fd, GError **error)
{
        g_autoptr(GVariant) r = NULL, handles = NULL;
        g_autoptr(GUnixFDList) fds = NULL;

        *fd = -1;
        r = g_dbus_connection_call_with_unix_fd_list_sync(
                owner->conn, MIG_BUS_NAME, owner->device_path, MIG_DEVICE, "ShareQueues",
                g_variant_new("(s)", instance), G_VARIANT_TYPE("(oah)"), G_DBUS_CALL_FLAGS_NONE,
                30000, NULL, &fds, NULL, error);
        if (!r) {
                g_prefix_error(error, "host %c: Device.ShareQueues: ", owner->label);
                return FALSE;
        }
        g_variant_get(r, "(o@ah)", &h->device_path, &handles);
        return take_device(h, instance, &h->tap, owner->tap, handles, fds, "ShareQueues", fd,
                           error);
}

int
mig_qemu_queue_attached(GPid pid)
{
        struct ifreq ifr = { 0 };
        int pidfd = (int) syscall(SYS_pidfd_open, pid, 0), fd, r;

        if (pidfd < 0)
                return -errno;
        fd = (int) syscall(SYS_pidfd_getfd, pidfd, MIG_TAP_FD, 0);
        r = fd < 0 ? -errno : 0;
        close(pidfd);
        if (r < 0)
                return r;
        r = ioctl(fd, TUNGETIFF, &ifr) < 0 ? -errno : !(ifr.ifr_flags & IFF_DETACH_QUEUE);
        close(fd);
        return r;
}

/* Allocate(instance, "tap-bridge", @mac, {bridge, ifname, shareable}) and
 * Create(): the device's path in @device_path, the tap's name in @tap. */
static gboolean
create_device(MigHost *h, const char *instance, const char *mac, const char *ifname,
              gboolean shareable, char **device_path, char **tap, int *fd, GError **error)
{
        g_autoptr(GVariant) r = NULL, handles = NULL;
        g_autoptr(GUnixFDList) fds = NULL;
        GVariantBuilder opts;

        *fd = -1;
        g_variant_builder_init(&opts, G_VARIANT_TYPE_VARDICT);
        g_variant_builder_add(&opts, "{sv}", "bridge", g_variant_new_string(MIG_BRIDGE));
        g_variant_builder_add(&opts, "{sv}", "ifname", g_variant_new_string(ifname));
        if (shareable)
                g_variant_builder_add(&opts, "{sv}", "shareable", g_variant_new_boolean(TRUE));
        r = mig_call(h, MIG_MANAGER_PATH, MIG_MANAGER, "Allocate",
                     g_variant_new("(sssa{sv})", instance, "tap-bridge", mac, &opts), "(o)", error);
        if (!r)
                return FALSE;
        g_variant_get(r, "(o)", device_path);
        g_clear_pointer(&r, g_variant_unref);
        r = g_dbus_connection_call_with_unix_fd_list_sync(
                h->conn, MIG_BUS_NAME, *device_path, MIG_DEVICE, "Create", NULL,
                G_VARIANT_TYPE("(ah)"), G_DBUS_CALL_FLAGS_NONE, 30000, NULL, &fds, NULL, error);
        if (!r) {
                g_prefix_error(error, "host %c: Device.Create: ", h->label);
                return FALSE;
        }
        handles = g_variant_get_child_value(r, 0);
        return take_device(h, instance, tap, ifname, handles, fds, "Create", fd, error);
}

gboolean
mig_host_create_device(MigHost *h, const char *instance, const char *ifname, gboolean shareable,
                       int *fd, GError **error)
{
        return create_device(h, instance, MIG_GUEST_MAC, ifname, shareable, &h->device_path,
                             &h->tap, fd, error);
}

gboolean
mig_host_create_second_device(MigHost *h, const char *instance, const char *ifname, int *fd,
                              GError **error)
{
        return create_device(h, instance, MIG_GUEST_MAC2, ifname, FALSE, &h->device2_path, &h->tap2,
                             fd, error);
}

/* Copies of the arguments, up to NULL, appended to @argv. */
static void G_GNUC_NULL_TERMINATED
add_args(GPtrArray *argv, ...)
{
        va_list ap;

        va_start(ap, argv);
        for (const char *arg = va_arg(ap, const char *); arg; arg = va_arg(ap, const char *))
                g_ptr_array_add(argv, g_strdup(arg));
        va_end(ap);
}

gboolean
mig_host_start_qemu(MigEnv *env, MigHost *h, int tap_fd, gboolean incoming, GError **error)
{
        return mig_host_start_qemu_nics(env, h, &tap_fd, 1, incoming, error);
}

gboolean
mig_host_start_qemu_nics(MigEnv *env, MigHost *h, const int *tap_fds, guint n_nics,
                         gboolean incoming, GError **error)
{
        static const int target_fds[] = { MIG_TAP_FD, MIG_TAP2_FD };
        static const char *const macs[] = { MIG_GUEST_MAC, MIG_GUEST_MAC2 };
        g_autofree char *kernel = g_build_filename(env->guest_dir, "bzImage", NULL);
        g_autofree char *initrd = g_build_filename(env->guest_dir, "initrd.img", NULL);
        g_autofree char *serial = g_strconcat("file:", h->serial_log, NULL);
        g_autofree char *qmp = g_strconcat("unix:", h->qmp_path, ",server=on,wait=off", NULL);
        g_autofree char *test_qmp =
                g_strconcat("unix:", h->test_qmp_path, ",server=on,wait=off", NULL);
        g_autofree char *name = g_strdup_printf("vm1-%c", h->label);
        g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
        gboolean ok;

        g_return_val_if_fail(n_nics >= 1 && n_nics <= G_N_ELEMENTS(target_fds), FALSE);
        /* The same machine on both sides; the destination only waits for
         * migrate-incoming. */
        add_args(argv, "qemu-system-x86_64", "-name", name, "-accel", "tcg", "-m", MIG_QEMU_RAM,
                 "-nodefaults", "-no-user-config", "-display", "none", "-kernel", kernel, "-initrd",
                 initrd, "-append", "console=ttyS0 quiet", NULL);
        /* In this order, the guest's eth0 and eth1 (the PCI slots follow it). */
        for (guint i = 0; i < n_nics; i++) {
                g_autofree char *netdev =
                        g_strdup_printf("tap,id=n%u,fd=%d,vhost=off", i, target_fds[i]);
                g_autofree char *nic =
                        g_strdup_printf("virtio-net-pci,netdev=n%u,mac=%s", i, macs[i]);

                add_args(argv, "-netdev", netdev, "-device", nic, NULL);
        }
        add_args(argv, "-serial", serial, "-qmp", qmp, "-qmp", test_qmp, NULL);
        if (incoming)
                add_args(argv, "-incoming", "defer", NULL);
        g_ptr_array_add(argv, NULL);
        g_close(g_open(h->serial_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), NULL);
        ok = spawn(h->ns, (const char *const *) argv->pdata, h->qemu_log, tap_fds, target_fds,
                   n_nics, &h->qemu_pid, error);
        for (guint i = 0; i < n_nics; i++)
                close(tap_fds[i]);
        return ok;
}

void
mig_host_kill_daemon(MigHost *h)
{
        if (h->daemon_pid > 0) {
                kill(h->daemon_pid, SIGKILL);
                waitpid(h->daemon_pid, NULL, 0);
                g_spawn_close_pid(h->daemon_pid);
                h->daemon_pid = 0;
        }
        /* Its bus name must be free before a new one can take it. */
        for (int i = 0; i < 500 && name_has_owner(h->conn); i++)
                g_usleep(10000);
}

gboolean
mig_host_start_daemon(MigHost *h, GError **error)
{
        return start_daemon(h, error);
}

gboolean
mig_host_restart_daemon(MigHost *h, GError **error)
{
        mig_host_kill_daemon(h);
        return start_daemon(h, error);
}

gboolean
mig_host_qemu_alive(MigHost *h)
{
        int status;

        if (h->qemu_pid <= 0)
                return FALSE;
        if (waitpid(h->qemu_pid, &status, WNOHANG) == h->qemu_pid) {
                g_spawn_close_pid(h->qemu_pid);
                h->qemu_pid = 0;
                return FALSE;
        }
        return TRUE;
}

gboolean
mig_host_attach_qemu(MigHost *h, const char *instance, GError **error)
{
        g_autoptr(GVariant) r = NULL;

        for (int i = 0; i < 1000 && !g_file_test(h->qmp_path, G_FILE_TEST_EXISTS); i++) {
                if (!mig_host_qemu_alive(h))
                        break;
                g_usleep(10000);
        }
        if (!g_file_test(h->qmp_path, G_FILE_TEST_EXISTS)) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                            "host %c: QEMU made no QMP socket (%s)", h->label,
                            mig_host_qemu_alive(h) ? "within 10 s" : "it exited");
                return FALSE;
        }
        r = mig_call(h, MIG_MANAGER_PATH, MIG_MANAGER, "AttachQemu",
                     g_variant_new("(ss)", instance, h->qmp_path), "()", error);
        return r != NULL;
}

char *
mig_host_serial(MigHost *h)
{
        char *text = NULL;

        if (!h->serial_log || !g_file_get_contents(h->serial_log, &text, NULL, NULL))
                return g_strdup("");
        return text;
}

gint64
mig_timeline_find(GVariant *timeline, const char *what, gint64 after)
{
        for (gsize i = 0; timeline && i < g_variant_n_children(timeline); i++) {
                const char *name;
                guint64 at;

                g_variant_get_child(timeline, i, "(&st)", &name, &at);
                if (g_str_equal(name, what) && (gint64) at >= after)
                        return (gint64) at;
        }
        return 0;
}

char *
mig_timeline_format(GVariant *timeline, gint64 origin)
{
        g_autoptr(GString) s = g_string_new(NULL);

        for (gsize i = 0; timeline && i < g_variant_n_children(timeline); i++) {
                const char *name;
                guint64 at;

                g_variant_get_child(timeline, i, "(&st)", &name, &at);
                g_string_append_printf(s, "%s%s@%+.1fms", s->len ? " " : "", name,
                                       ((gint64) at - origin) / 1000.0);
        }
        return g_string_free(g_steal_pointer(&s), FALSE);
}
