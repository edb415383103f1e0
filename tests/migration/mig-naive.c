/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "mig-naive.h"
#include "mig-qmp.h"

#define MIGRATE_TIMEOUT_S 300

/* ---- the tap, made by hand in the host's namespace ---- */

typedef struct {
        const char *ifname;
        int fd;
} TapJob;

/* In the host's namespace: TUNSETIFF creates the tap in the caller's. */
static gboolean
open_tap(gpointer data)
{
        TapJob *job = data;
        struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };

        job->fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        if (job->fd < 0)
                return FALSE;
        g_strlcpy(ifr.ifr_name, job->ifname, IFNAMSIZ);
        if (ioctl(job->fd, TUNSETIFF, &ifr) < 0) {
                int saved = errno;

                close(job->fd);
                job->fd = -1;
                errno = saved;
                return FALSE;
        }
        return TRUE;
}

gboolean
mig_naive_open_tap(MigHost *h, const char *ifname, int *fd, GError **error)
{
        TapJob job = { ifname, -1 };

        *fd = -1;
        if (!mig_in_netns(h->ns, open_tap, &job, error)) {
                g_prefix_error(error, "host %c: tap %s: ", h->label, ifname);
                return FALSE;
        }
        *fd = job.fd;
        return TRUE;
}

gboolean
mig_naive_create_tap(MigHost *h, const char *ifname, int *fd, GError **error)
{
        if (!mig_naive_open_tap(h, ifname, fd, error))
                return FALSE;
        if (!mig_sh(h->ns, error, "ip link set %s master " MIG_BRIDGE " && ip link set %s up",
                    ifname, ifname)) {
                close(*fd);
                *fd = -1;
                return FALSE;
        }
        h->tap = g_strdup(ifname);
        return TRUE;
}

/* ---- the migration ---- */

typedef struct {
        MigRun *run;
        NlcQmp *src;
        gboolean switched, done;
        char *failure;
} Naive;

static void
on_switch_reply(GObject *source, GAsyncResult *result, gpointer data)
{
        Naive *n = data;
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) node = nlc_qmp_execute_finish(NLC_QMP(source), result, &error);

        if (!node && !n->failure)
                n->failure = g_strdup_printf("migrate-start-postcopy: %s", error->message);
}

/* The source's events; times are their arrival here, as in the daemon's
 * timelines. Post-copy starts when the second pass begins: the first is
 * done, whatever B's port is doing. */
static void
on_src_event(NlcQmp *qmp, const char *name, JsonObject *data, gint64 timestamp, gpointer user)
{
        Naive *n = user;
        const char *status;

        if (g_str_equal(name, "STOP") && !n->run->stop_at) {
                n->run->stop_at = g_get_real_time();
        } else if (g_str_equal(name, "MIGRATION_PASS") && data && !n->switched &&
                   json_object_get_int_member_with_default(data, "pass", 0) >= 2) {
                n->switched = TRUE;
                n->run->switch_at = g_get_real_time();
                nlc_qmp_execute_async(qmp, "migrate-start-postcopy", NULL, NULL, on_switch_reply,
                                      n);
        } else if (g_str_equal(name, "MIGRATION") && data) {
                status = json_object_get_string_member_with_default(data, "status", "");
                if (g_str_equal(status, "completed")) {
                        n->run->completed_at = g_get_real_time();
                        n->done = TRUE;
                } else if ((g_str_equal(status, "failed") || g_str_equal(status, "cancelled")) &&
                           !n->failure) {
                        n->failure = g_strdup_printf("A's migration %s", status);
                }
        }
}

static void
on_dst_event(NlcQmp *qmp, const char *name, JsonObject *data, gint64 timestamp, gpointer user)
{
        Naive *n = user;

        if (g_str_equal(name, "RESUME") && !n->run->resume_at)
                n->run->resume_at = g_get_real_time();
}

static gboolean
wake(gpointer data)
{
        return G_SOURCE_CONTINUE;
}

static gboolean
follow(MigEnv *env, Naive *n, GError **error)
{
        gint64 deadline = g_get_monotonic_time() + MIGRATE_TIMEOUT_S * G_USEC_PER_SEC;
        guint tick = g_timeout_add(100, wake, NULL);

        while (!n->done && !n->failure && g_get_monotonic_time() < deadline &&
               mig_host_qemu_alive(&env->host[0]) && mig_host_qemu_alive(&env->host[1]))
                g_main_context_iteration(NULL, TRUE);
        g_source_remove(tick);
        if (n->failure) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", n->failure);
                return FALSE;
        }
        if (!n->done) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                            "the naive migration did not complete (%s)",
                            g_get_monotonic_time() >= deadline ? "timeout" : "a QEMU exited");
                return FALSE;
        }
        return TRUE;
}

gboolean
mig_naive_migrate(MigEnv *env, guint64 max_bandwidth, MigRun *run, GError **error)
{
        g_autoptr(NlcQmp) src = NULL, dst = NULL;
        g_autoptr(JsonNode) info = NULL;
        g_autofree char *params = NULL;
        Naive n = { run };
        gboolean ok;

        src = mig_qmp_connect(env->host[0].qmp_path, error);
        dst = src ? mig_qmp_connect(env->host[1].qmp_path, error) : NULL;
        if (!dst)
                return FALSE;
        n.src = src;
        g_signal_connect(src, "event", G_CALLBACK(on_src_event), &n);
        g_signal_connect(dst, "event", G_CALLBACK(on_dst_event), &n);
        params = g_strdup_printf("{\"max-bandwidth\": %" G_GUINT64_FORMAT "}", max_bandwidth);
        ok = mig_qmp_do(dst, "migrate-set-capabilities",
                        "{\"capabilities\": [{\"capability\": \"postcopy-ram\", \"state\": true}]}",
                        error) &&
             mig_qmp_do(dst, "migrate-incoming", "{\"uri\": \"" MIG_MIGRATION_URI "\"}", error) &&
             mig_qmp_do(src, "migrate-set-capabilities",
                        "{\"capabilities\": [{\"capability\": \"postcopy-ram\", \"state\": true},"
                        " {\"capability\": \"events\", \"state\": true}]}",
                        error) &&
             mig_qmp_do(src, "migrate-set-parameters", params, error);
        if (ok) {
                run->migrate_at = g_get_real_time();
                ok = mig_qmp_do(src, "migrate", "{\"uri\": \"" MIG_MIGRATION_URI "\"}", error) &&
                     follow(env, &n, error);
        }
        if (ok)
                info = mig_qmp_run(src, "query-migrate", NULL, error);
        if (info && JSON_NODE_HOLDS_OBJECT(info))
                run->downtime_ms = (guint64) json_object_get_int_member_with_default(
                        json_node_get_object(info), "downtime", 0);
        run->phases = g_strdup(n.switched ? "naive: precopy -> postcopy (ungated) -> completed"
                                          : "naive: precopy");
        g_signal_handlers_disconnect_by_data(src, &n);
        g_signal_handlers_disconnect_by_data(dst, &n);
        nlc_qmp_close(src);
        nlc_qmp_close(dst);
        /* A late migrate-start-postcopy reply must not find @n gone. */
        while (n.switched && g_main_context_iteration(NULL, FALSE))
                ;
        g_free(n.failure);
        return ok && info != NULL;
}
