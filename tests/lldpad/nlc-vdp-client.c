/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * netlifecd's own VDP client (netlifecd/nlc-vdp.c) on the command line, for
 * lldpad-pair.sh's scenario nlc-client: each REQUEST is sent with
 * nlc_vdp_request_async() in a GLib main loop and followed to its end; one
 * line per request:
 *
 *   RESULT request=associate outcome=success response=0 after_ms=23.1
 *   RESULT request=associate outcome=error code=timed-out after_ms=3000.4 message=...
 *
 *   nlc-vdp-client -P PIDFILE -u UPLINK --mac MAC --mgr N --type N --typever N
 *                  --uuid UUID [--vlan N] [--timeout MS] REQUEST...
 *
 * REQUEST: preassociate, preassociate-rr, associate, disassociate. Runs in
 * lldpad's network namespace (netlink unicast does not cross them).
 */
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nlc-vdp.h"

static const char *const codes[] = { "no-lldpad", "rejected", "refused", "timed-out", "lost" };

typedef struct {
        GMainLoop *loop;
        gboolean ok;
        guint16 response;
        GError *error;
} Wait;

static void
on_done(GObject *source, GAsyncResult *result, gpointer data)
{
        Wait *w = data;

        w->ok = nlc_vdp_request_finish(result, &w->response, &w->error);
        g_main_loop_quit(w->loop);
}

static gboolean
parse_request(const char *s, NlcVdpRequest *out)
{
        for (NlcVdpRequest r = NLC_VDP_PREASSOCIATE; r <= NLC_VDP_DISASSOCIATE; r++)
                if (g_str_equal(s, nlc_vdp_request_to_string(r))) {
                        *out = r;
                        return TRUE;
                }
        return FALSE;
}

int
main(int argc, char **argv)
{
        g_autofree char *pid_file = NULL, *uplink = NULL, *mac = NULL, *uuid = NULL;
        int mgr = 1, type = 1, typever = 1, vlan = 0, timeout = 0;
        GOptionEntry entries[] = {
                { "pid-file", 'P', 0, G_OPTION_ARG_FILENAME, &pid_file, "lldpad's pid file", "F" },
                { "uplink", 'u', 0, G_OPTION_ARG_STRING, &uplink, "the uplink", "IF" },
                { "mac", 0, 0, G_OPTION_ARG_STRING, &mac, "the guest MAC", "MAC" },
                { "uuid", 0, 0, G_OPTION_ARG_STRING, &uuid, "the VSI instance id", "UUID" },
                { "mgr", 0, 0, G_OPTION_ARG_INT, &mgr, "manager id", "N" },
                { "type", 0, 0, G_OPTION_ARG_INT, &type, "type id", "N" },
                { "typever", 0, 0, G_OPTION_ARG_INT, &typever, "type id version", "N" },
                { "vlan", 0, 0, G_OPTION_ARG_INT, &vlan, "VLAN id (0: none)", "N" },
                { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout, "per request, ms", "MS" },
                { NULL },
        };
        g_autoptr(GOptionContext) ctx = g_option_context_new("REQUEST...");
        g_autoptr(GError) error = NULL;
        NlcVdpTimings timings = { 0 };
        NlcVdpVsi vsi = { 0 };
        int unexpected = 0;

        g_option_context_add_main_entries(ctx, entries, NULL);
        if (!g_option_context_parse(ctx, &argc, &argv, &error) || argc < 2 || !uplink || !mac ||
            !uuid || !nlc_vdp_uuid_parse(uuid, vsi.instance_uuid) ||
            sscanf(mac, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &vsi.mac[0], &vsi.mac[1], &vsi.mac[2],
                   &vsi.mac[3], &vsi.mac[4], &vsi.mac[5]) != 6) {
                fprintf(stderr,
                        "usage: %s -P PIDFILE -u UPLINK --mac MAC --uuid UUID ... REQUEST...%s%s\n",
                        argv[0], error ? ": " : "", error ? error->message : "");
                return 64;
        }
        vsi.manager_id = (guint8) mgr;
        vsi.type_id = (guint32) type;
        vsi.type_id_version = (guint8) typever;
        vsi.vlan = (guint16) vlan;
        vsi.uplink = (int) if_nametoindex(uplink);
        g_strlcpy(vsi.uplink_name, uplink, sizeof vsi.uplink_name);
        timings.lldpad_pid_file = pid_file;
        timings.timeout_ms = (guint) timeout;
        for (int i = 1; i < argc; i++) {
                Wait w = { .loop = g_main_loop_new(NULL, FALSE) };
                NlcVdpRequest request;
                gint64 start = g_get_monotonic_time();
                double ms;

                if (!parse_request(argv[i], &request)) {
                        fprintf(stderr, "unknown request %s\n", argv[i]);
                        return 64;
                }
                nlc_vdp_request_async(&vsi, request, &timings, NULL, on_done, &w);
                g_main_loop_run(w.loop);
                g_main_loop_unref(w.loop);
                ms = (double) (g_get_monotonic_time() - start) / 1000;
                if (w.ok) {
                        printf("RESULT request=%s outcome=success response=%u after_ms=%.1f\n",
                               argv[i], w.response, ms);
                } else {
                        printf("RESULT request=%s outcome=error code=%s after_ms=%.1f message=%s\n",
                               argv[i],
                               w.error->domain == NLC_VDP_ERROR &&
                                               (guint) w.error->code < G_N_ELEMENTS(codes)
                                       ? codes[w.error->code]
                                       : "other",
                               ms, w.error->message);
                        g_error_free(w.error);
                        unexpected++;
                }
                fflush(stdout);
        }
        return unexpected ? 1 : 0;
}
