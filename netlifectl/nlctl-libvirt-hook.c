/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * netlifectl libvirt-hook DOMAIN OPERATION SUB-OPERATION EXTRA: netlifecd as
 * libvirt's qemu hook (/etc/libvirt/hooks/qemu.d/), with the domain XML on
 * stdin. libvirt runs it synchronously at each step of a guest's life and
 * aborts the step when it exits non-zero; it must never call libvirt (the
 * domain is locked while it runs) and must print nothing on stdout (for
 * `migrate` and `restore` libvirt reads stdout as a replacement XML).
 *
 * What it does, by call (libvirt 11; see tests/libvirt/README.md for the
 * order measured on a real libvirtd):
 *
 *   migrate begin    this host is a migration's destination: remembered
 *                    (a file in the state directory), since none of the
 *                    later calls says so.
 *   start begin      libvirt has created the domain's taps and enslaved
 *                    them (no QEMU yet): each bridge NIC is adopted with
 *                    Manager.Notify (the port is hardened, STP counts from
 *                    here). A fresh start then activates the instance: the
 *                    guest runs nowhere else. An incoming guest does not:
 *                    the source still holds the MAC until the switch.
 *   started begin    on a destination, QEMU waits for the migration stream:
 *                    the hook waits until every port forwards
 *                    (Instance.WaitReady). libvirt starts the transfer only
 *                    after this call returns, so no switchover, pre-copy or
 *                    post-copy, can land on a port that does not forward;
 *                    not ready within the timeout fails the call, which
 *                    aborts the migration and leaves the guest on the
 *                    source.
 *   reconnect begin  libvirtd restarted and found the domain running: the
 *                    NICs are adopted again (Notify is idempotent).
 *   release end      the domain is gone from this host (shut down, failed,
 *                    migrated away): its devices are destroyed and freed.
 *
 * The instance is named like the domain (unique on a host, kept by
 * migration). Activation at the switch (the source's suspend, the
 * destination's resume) is the agent's (netlifecd-libvirt-agent): libvirt
 * runs no hook there.
 *
 * Environment: NETLIFECD_HOOK_STATE_DIR (default /run/netlifecd-libvirt),
 * NETLIFECD_HOOK_READY_TIMEOUT_MS (default 120000: twice STP's longest
 * forward delay, 30 s, with room), NETLIFECD_HOOK_LOG (a file that gets one
 * time-stamped line per call and action).
 */
#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <unistd.h>

#include "nlctl-common.h"
#include "nlctl-libvirt.h"

#define DEFAULT_STATE_DIR     "/run/netlifecd-libvirt"
#define DEFAULT_READY_TIMEOUT 120000
/* An incoming mark older than this is a migration libvirtd never finished
 * (it was killed): the migrate and started calls of one migration are
 * seconds apart, a minute or two with the wait for forwarding. */
#define INCOMING_MARK_STALE_SEC (30 * 60)

typedef struct {
        NlctlContext *ctx;
        const char *domain;
        const char *op;
        char *state_dir;
        FILE *log;
} Hook;

static void G_GNUC_PRINTF(2, 3) hook_log(Hook *h, const char *fmt, ...)
{
        g_autofree char *msg = NULL;
        g_autofree char *stamp = NULL;
        va_list ap;

        if (!h->log)
                return;
        va_start(ap, fmt);
        msg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        stamp = g_strdup_printf("%.6f", (double) g_get_real_time() / G_USEC_PER_SEC);
        fprintf(h->log, "%s %s %s: %s\n", stamp, h->domain, h->op, msg);
        fflush(h->log);
}

/* Prints the error for libvirt (which shows the hook's stderr when it
 * fails) and logs it; returns the exit code. */
static int
hook_fail(Hook *h, const GError *error)
{
        hook_log(h, "failed: %s", error->message);
        return nlctl_fail(error);
}

static char *
incoming_mark(Hook *h)
{
        return g_strdup_printf("%s/%s.incoming", h->state_dir, h->domain);
}

static gboolean
is_incoming(Hook *h)
{
        g_autofree char *mark = incoming_mark(h);
        GStatBuf st;

        if (g_stat(mark, &st) != 0)
                return FALSE;
        if (time(NULL) - st.st_mtime > INCOMING_MARK_STALE_SEC) {
                hook_log(h, "incoming mark from %ld s ago is stale: a fresh start",
                         (long) (time(NULL) - st.st_mtime));
                g_unlink(mark);
                return FALSE;
        }
        return TRUE;
}

static int
mark_incoming(Hook *h)
{
        g_autofree char *mark = incoming_mark(h);
        g_autoptr(GError) error = NULL;

        if (g_mkdir_with_parents(h->state_dir, 0700) != 0)
                return nlctl_die(NLCTL_EXIT_DBUS, "cannot make %s: %s", h->state_dir,
                                 g_strerror(errno));
        if (!g_file_set_contents(mark, h->domain, -1, &error))
                return hook_fail(h, error);
        hook_log(h, "incoming migration");
        return NLCTL_EXIT_OK;
}

static void
forget_incoming(Hook *h)
{
        g_autofree char *mark = incoming_mark(h);

        g_unlink(mark);
}

/* The instance's path, NULL (no error) when netlifecd has no such
 * instance: a domain without bridge NICs. */
static char *
instance_path(Hook *h, GError **error)
{
        g_autoptr(GError) local = NULL;
        char *path = nlctl_instance_path(h->ctx, h->domain, &local);
        g_autofree char *remote = local ? g_dbus_error_get_remote_error(local) : NULL;

        if (!path && g_strcmp0(remote, NLC_DBUS_ERROR_PREFIX "NotFound") != 0)
                g_propagate_error(error, g_steal_pointer(&local));
        return path;
}

static int
adopt_nics(Hook *h, const char *xml, gboolean activate)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GPtrArray) nics = nlctl_libvirt_bridge_nics(xml, NULL, &error);
        g_autofree char *path = NULL;

        if (!nics)
                return hook_fail(h, error);
        for (guint i = 0; i < nics->len; i++) {
                NlctlLibvirtNic *nic = nics->pdata[i];
                GVariantBuilder options;
                g_autoptr(GVariant) r = NULL;

                g_variant_builder_init(&options, G_VARIANT_TYPE_VARDICT);
                g_variant_builder_add(&options, "{sv}", "ifname",
                                      g_variant_new_string(nic->ifname));
                g_variant_builder_add(&options, "{sv}", "bridge",
                                      g_variant_new_string(nic->bridge));
                r = nlctl_call(
                        h->ctx, NLC_DBUS_PATH, NLC_DBUS_INTERFACE_MANAGER, "Notify",
                        g_variant_new("(sssa{sv})", h->domain, "tap-bridge", nic->mac, &options),
                        "(o)", &error);
                if (!r) {
                        /* What failed, then the error as nlctl_fail() writes
                         * it (its name decides the exit code). */
                        g_printerr("netlifectl: %s: cannot adopt %s (%s on %s):\n", h->domain,
                                   nic->ifname, nic->mac, nic->bridge);
                        hook_log(h, "cannot adopt %s", nic->ifname);
                        return hook_fail(h, error);
                }
                hook_log(h, "adopted %s (%s on %s)", nic->ifname, nic->mac, nic->bridge);
        }
        if (nics->len == 0 || !activate)
                return NLCTL_EXIT_OK;
        path = instance_path(h, &error);
        if (path) {
                g_autoptr(GVariant) r = nlctl_call(h->ctx, path, NLCTL_INSTANCE_IFACE, "Activate",
                                                   NULL, "()", &error);
                if (!r)
                        return hook_fail(h, error);
                hook_log(h, "activated");
        }
        return error ? hook_fail(h, error) : NLCTL_EXIT_OK;
}

static guint
ready_timeout_ms(void)
{
        const char *s = g_getenv("NETLIFECD_HOOK_READY_TIMEOUT_MS");
        guint64 v;

        if (s && g_ascii_string_to_unsigned(s, 10, 1, G_MAXINT32 - 60000, &v, NULL))
                return (guint) v;
        return DEFAULT_READY_TIMEOUT;
}

/* The destination's hold: libvirt sends the migration stream only after
 * this returns. */
static int
wait_until_forwarding(Hook *h)
{
        g_autoptr(GError) error = NULL;
        g_autofree char *path = instance_path(h, &error);
        g_autoptr(GVariant) r = NULL;
        guint timeout = ready_timeout_ms();
        gint64 start = g_get_monotonic_time();
        gboolean ready = FALSE;

        if (!path) {
                forget_incoming(h);
                return error ? hook_fail(h, error) : NLCTL_EXIT_OK;
        }
        hook_log(h, "holding the incoming migration until every port forwards");
        r = nlctl_call_timeout(h->ctx, path, NLCTL_INSTANCE_IFACE, "WaitReady",
                               g_variant_new("(u)", timeout), "(b)", (int) timeout + 30000, &error);
        if (!r)
                return hook_fail(h, error);
        g_variant_get(r, "(b)", &ready);
        if (!ready) {
                g_autofree char *why = nlctl_explain_not_ready(h->ctx, path);

                hook_log(h, "not ready after %u ms: migration refused", timeout);
                g_printerr("netlifectl: %s: the ports of the incoming guest do not forward after "
                           "%u ms; refusing the migration (the guest stays on the source)\n%s",
                           h->domain, timeout, why);
                return NLCTL_EXIT_NOT_READY;
        }
        hook_log(h, "ready after %.3f s: migration may go on",
                 (double) (g_get_monotonic_time() - start) / G_USEC_PER_SEC);
        forget_incoming(h);
        return NLCTL_EXIT_OK;
}

/* The domain left this host: its taps are gone with QEMU (libvirt's are not
 * persistent); the records go too. */
static int
release(Hook *h)
{
        g_autoptr(GError) error = NULL;
        g_autofree char *path = instance_path(h, &error);
        g_autoptr(GVariant) devices = NULL;
        g_autoptr(GVariant) r = NULL;
        GVariantIter iter;
        const char *device;

        forget_incoming(h);
        if (!path)
                return error ? hook_fail(h, error) : NLCTL_EXIT_OK;
        devices = nlctl_get(h->ctx, path, NLCTL_INSTANCE_IFACE, "Devices", &error);
        if (!devices)
                return hook_fail(h, error);
        r = nlctl_call(h->ctx, NLC_DBUS_PATH, NLC_DBUS_INTERFACE_MANAGER, "DestroyInstances",
                       g_variant_new("(^as)", (const char *const[]){ h->domain, NULL }), "()",
                       &error);
        if (!r) {
                g_autofree char *remote = g_dbus_error_get_remote_error(error);

                /* NotFound: nothing was created (every device only allocated). */
                if (g_strcmp0(remote, NLC_DBUS_ERROR_PREFIX "NotFound") != 0)
                        return hook_fail(h, error);
                g_clear_error(&error);
        }
        g_variant_iter_init(&iter, devices);
        while (g_variant_iter_next(&iter, "&o", &device)) {
                g_autoptr(GVariant) freed = nlctl_call(h->ctx, device, NLC_DBUS_INTERFACE_DEVICE,
                                                       "Free", NULL, "()", &error);

                if (!freed)
                        return hook_fail(h, error);
        }
        hook_log(h, "released %" G_GSIZE_FORMAT " device(s)", g_variant_n_children(devices));
        return NLCTL_EXIT_OK;
}

static char *
read_stdin(GError **error)
{
        g_autoptr(GIOChannel) in = g_io_channel_unix_new(STDIN_FILENO);
        char *text = NULL;
        gsize len = 0;

        g_io_channel_set_encoding(in, NULL, NULL);
        if (g_io_channel_read_to_end(in, &text, &len, error) != G_IO_STATUS_NORMAL)
                return NULL;
        return text ? text : g_strdup("");
}

int
nlctl_cmd_libvirt_hook(NlctlContext *ctx)
{
        Hook h = { .ctx = ctx, .domain = ctx->args[0], .op = ctx->args[1] };
        const char *sub = ctx->args[2];
        const char *log_path = g_getenv("NETLIFECD_HOOK_LOG");
        g_autoptr(GError) error = NULL;
        g_autofree char *xml = NULL;
        int rc = NLCTL_EXIT_OK;

        if (!*h.domain || strchr(h.domain, '/'))
                return nlctl_die(NLCTL_EXIT_USAGE, "'%s' is not a libvirt domain name", h.domain);
        h.state_dir = g_strdup(g_getenv("NETLIFECD_HOOK_STATE_DIR") ?: DEFAULT_STATE_DIR);
        if (log_path)
                h.log = fopen(log_path, "ae");
        /* libvirt writes the XML for every call; read it all (an unread pipe
         * would make libvirt's write fail) even when the call needs none. */
        xml = read_stdin(&error);
        if (!xml)
                rc = hook_fail(&h, error);
        else if (g_str_equal(h.op, "migrate") && g_str_equal(sub, "begin"))
                rc = mark_incoming(&h);
        else if (g_str_equal(h.op, "start") && g_str_equal(sub, "begin"))
                rc = adopt_nics(&h, xml, !is_incoming(&h));
        else if (g_str_equal(h.op, "started") && g_str_equal(sub, "begin") && is_incoming(&h))
                rc = wait_until_forwarding(&h);
        else if (g_str_equal(h.op, "reconnect") && g_str_equal(sub, "begin"))
                rc = adopt_nics(&h, xml, FALSE);
        else if (g_str_equal(h.op, "release") && g_str_equal(sub, "end"))
                rc = release(&h);
        /* A release cannot be refused (the domain is gone either way), and
         * failing it would only fill libvirt's log while netlifecd is down:
         * say so and let libvirt go on. The records stay until netlifecd is
         * back (a restart destroys those whose taps are gone). */
        if (rc == NLCTL_EXIT_CONNECT && g_str_equal(h.op, "release")) {
                g_printerr("netlifectl: %s: netlifecd is not running; its records of the "
                           "domain stay until it frees them\n",
                           h.domain);
                rc = NLCTL_EXIT_OK;
        }
        if (h.log)
                fclose(h.log);
        g_free(h.state_dir);
        return rc;
}
