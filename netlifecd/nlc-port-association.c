/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <glib-unix.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/socket.h>

#include "nlc-error.h"
#include "nlc-netlink.h"
#include "nlc-port-association.h"

struct _NlcPortAssociation {
        NlcPortProfile profile;
        /* 802.1Qbg: the VSI, to lldpad; 802.1Qbh: the port, to the kernel.
         * The uplink's ifindex is looked up for every request. */
        NlcVdpVsi vsi;
        NlcQbhPort port;
        char *uplink, *device_id;
        GCallback changed;
        gpointer changed_data;
        GCallback lost;
        gpointer lost_data;
        GObject *owner;   /* the last request's source object (it owns @a) */
        gint64 lost_usec; /* monotonic: lldpad's last notification for it */

        NlcAssociationState state;
        gboolean asked;           /* a request was ever queued */
        NlcVdpRequest last_asked; /* the latest queued (or sent) */
        NlcVdpRequest last_sent;
        gboolean has_response;
        guint16 response;
        char *error;
        gint64 changed_usec;

        GQueue waiting; /* GTask: queued behind the one in flight */
        gboolean in_flight;
        guint watch_id; /* the periodic status read of an associated VSI */
};

/* Every association, for release(): see there. */
static GList *all_associations;

static char config_pid_file[4096] = "/var/run/lldpad.pid";
static guint config_timeout_ms = 10000;
/* 802.1Qbh's IFLA_PORT_HOST_UUID: [port-profile] host-uuid, else from
 * /etc/machine-id (libvirt: SMBIOS or its host_uuid). */
static gboolean have_host_uuid;
static guint8 config_host_uuid[16];
/* A test's responder in the kernel's place (nlc_port_association_set_qbh_port). */
static guint32 qbh_port;
/* The port of the socket lldpad's notifications come to
 * (nlc_port_association_listen): every request names it. 0: none. */
static guint32 event_port;

/* How often an associated 802.1Qbg VSI's status is read: lldpad sends
 * nothing when it gives up on a silent switch itself (README 6.4). */
static guint config_watch_ms = 10000;

/* Status reads for a VSI lldpad does not hold yet (run_next). */
#define FRESH_FIRST_POLL_MS 2
#define FRESH_POLL_MS       3

/* A VSI the switch drops again this soon after a re-association is left
 * failed: a switch that refuses it would otherwise be asked for ever. */
#define RELOST_USEC (2 * G_USEC_PER_SEC)

static const char *const state_names[] = {
        [NLC_ASSOCIATION_NONE] = "none",
        [NLC_ASSOCIATION_PREASSOCIATING] = "preassociating",
        [NLC_ASSOCIATION_PREASSOCIATED] = "preassociated",
        [NLC_ASSOCIATION_ASSOCIATING] = "associating",
        [NLC_ASSOCIATION_ASSOCIATED] = "associated",
        [NLC_ASSOCIATION_DISASSOCIATING] = "disassociating",
        [NLC_ASSOCIATION_DISASSOCIATED] = "disassociated",
        [NLC_ASSOCIATION_FAILED] = "failed",
};

const char *
nlc_association_state_to_string(NlcAssociationState state)
{
        return (guint) state < G_N_ELEMENTS(state_names) ? state_names[state] : "?";
}

/* /etc/machine-id's 32 hex digits as 16 bytes. */
static gboolean
machine_id_uuid(guint8 out[16])
{
        g_autofree char *text = NULL;

        if (!g_file_get_contents("/etc/machine-id", &text, NULL, NULL))
                return FALSE;
        g_strstrip(text);
        if (strlen(text) != 32)
                return FALSE;
        for (guint i = 0; i < 16; i++) {
                int hi = g_ascii_xdigit_value(text[2 * i]),
                    lo = g_ascii_xdigit_value(text[2 * i + 1]);

                if (hi < 0 || lo < 0)
                        return FALSE;
                out[i] = (guint8) (hi << 4 | lo);
        }
        return TRUE;
}

void
nlc_port_association_configure(const char *lldpad_pid_file, guint timeout_ms, const char *host_uuid)
{
        if (lldpad_pid_file && *lldpad_pid_file)
                g_strlcpy(config_pid_file, lldpad_pid_file, sizeof config_pid_file);
        if (timeout_ms)
                config_timeout_ms = timeout_ms;
        have_host_uuid = host_uuid && *host_uuid ? nlc_vdp_uuid_parse(host_uuid, config_host_uuid)
                                                 : machine_id_uuid(config_host_uuid);
}

void
nlc_port_association_set_qbh_port(guint32 port)
{
        qbh_port = port;
}

NlcPortAssociation *
nlc_port_association_new(const NlcPortProfile *profile, const guint8 mac[6], const char *uplink,
                         const char *device_id, GCallback changed, gpointer data)
{
        NlcPortAssociation *a = g_new0(NlcPortAssociation, 1);

        a->profile = *profile;
        a->vsi.manager_id = profile->manager_id;
        a->vsi.type_id = profile->type_id;
        a->vsi.type_id_version = profile->type_id_version;
        memcpy(a->vsi.instance_uuid, profile->instance, 16);
        memcpy(a->vsi.mac, mac, 6);
        g_strlcpy(a->vsi.uplink_name, uplink, sizeof a->vsi.uplink_name);
        /* 802.1Qbh on the device itself (a macvtap's lower); VFs are not
         * reached from here. */
        a->port.vf = NLC_QBH_SELF_VF;
        memcpy(a->port.mac, mac, 6);
        g_strlcpy(a->port.profile, profile->profile_id, sizeof a->port.profile);
        memcpy(a->port.instance_uuid, profile->instance, 16);
        g_strlcpy(a->port.ifname, uplink, sizeof a->port.ifname);
        a->uplink = g_strdup(uplink);
        a->device_id = g_strdup(device_id);
        a->changed = changed;
        a->changed_data = data;
        g_queue_init(&a->waiting);
        all_associations = g_list_prepend(all_associations, a);
        return a;
}

void
nlc_port_association_free(NlcPortAssociation *a)
{
        if (!a)
                return;
        /* Every queued task holds its source object, which owns @a: none
         * can be left here. */
        g_warn_if_fail(g_queue_is_empty(&a->waiting) && !a->in_flight);
        all_associations = g_list_remove(all_associations, a);
        if (a->watch_id)
                g_source_remove(a->watch_id);
        g_free(a->uplink);
        g_free(a->device_id);
        g_free(a->error);
        g_free(a);
}

static void follow_watch(NlcPortAssociation *a);

static void
set_state(NlcPortAssociation *a, NlcAssociationState state)
{
        a->state = state;
        a->changed_usec = g_get_real_time();
        follow_watch(a);
        if (a->changed)
                ((void (*)(gpointer)) a->changed)(a->changed_data);
}

static gboolean on_watch(gpointer data);

/* The watch runs while lldpad says the VSI is associated. */
static void
follow_watch(NlcPortAssociation *a)
{
        gboolean want = a->state == NLC_ASSOCIATION_ASSOCIATED && config_watch_ms &&
                        a->profile.kind == NLC_PORT_PROFILE_8021QBG;

        if (want && !a->watch_id)
                a->watch_id = g_timeout_add(config_watch_ms, on_watch, a);
        else if (!want && a->watch_id) {
                g_source_remove(a->watch_id);
                a->watch_id = 0;
        }
}

static NlcAssociationState
state_while(NlcVdpRequest request)
{
        switch (request) {
        case NLC_VDP_PREASSOCIATE:
        case NLC_VDP_PREASSOCIATE_RR:
                return NLC_ASSOCIATION_PREASSOCIATING;
        case NLC_VDP_ASSOCIATE:
                return NLC_ASSOCIATION_ASSOCIATING;
        case NLC_VDP_DISASSOCIATE:
        default:
                return NLC_ASSOCIATION_DISASSOCIATING;
        }
}

static NlcAssociationState
state_after(NlcVdpRequest request)
{
        return state_while(request) + 1;
}

/* nlc-vdp's outcome as the daemon's named error. */
static int
error_code_for(const GError *vdp_error)
{
        if (vdp_error->domain != NLC_VDP_ERROR)
                return NLC_ERROR_FAILED;
        switch (vdp_error->code) {
        case NLC_VDP_ERROR_NO_LLDPAD:
                return NLC_ERROR_PORT_PROFILE_UNAVAILABLE;
        case NLC_VDP_ERROR_TIMED_OUT:
                return NLC_ERROR_PORT_PROFILE_TIMED_OUT;
        case NLC_VDP_ERROR_REJECTED:
        case NLC_VDP_ERROR_REFUSED:
        case NLC_VDP_ERROR_LOST:
        default:
                return NLC_ERROR_PORT_PROFILE_REFUSED;
        }
}

/* A queued request: the task's data. */
typedef struct {
        NlcPortAssociation *a; /* alive while the task is: its owner is the task's source */
        NlcVdpRequest request;
} Ask;

static void run_next(NlcPortAssociation *a);

static void
finish(GTask *task, NlcPortAssociation *a, GError *error)
{
        Ask *ask = g_task_get_task_data(task);
        NlcVdpRequest request = ask->request;
        /* The owner (it owns @a) may be let go by the caller's callback;
         * the next request is started before this reference goes. */
        g_autoptr(GObject) keep = g_object_ref(g_task_get_source_object(task));

        g_free(a->error);
        a->error = error ? g_strdup(error->message) : NULL;
        a->in_flight = FALSE;
        set_state(a, error ? NLC_ASSOCIATION_FAILED : state_after(request));
        /* As libvirt: an 802.1Qbh association that timed out is withdrawn
         * (the adapter may still apply it). */
        if (error && a->profile.kind == NLC_PORT_PROFILE_8021QBH && request == NLC_VDP_ASSOCIATE &&
            g_error_matches(error, NLC_ERROR, NLC_ERROR_PORT_PROFILE_TIMED_OUT))
                nlc_port_association_release(a, keep);
        if (error)
                g_task_return_error(task, error);
        else
                g_task_return_boolean(task, TRUE);
        g_object_unref(task);
        run_next(a);
}

static void
on_vdp_done(GObject *unused, GAsyncResult *result, gpointer data)
{
        GTask *task = data;
        NlcPortAssociation *a = ((Ask *) g_task_get_task_data(task))->a;
        g_autoptr(GError) local = NULL;
        guint16 response;

        if (!nlc_vdp_request_finish(result, &response, &local)) {
                g_message("device %s: %s", a->device_id, local->message);
                finish(task, a,
                       g_error_new(NLC_ERROR, error_code_for(local), "device %s: %s", a->device_id,
                                   local->message));
                return;
        }
        a->has_response = TRUE;
        a->response = response;
        g_message("device %s: %s of VSI on %s succeeded: the switch answered %u (%s)", a->device_id,
                  nlc_vdp_request_to_string(((Ask *) g_task_get_task_data(task))->request),
                  a->uplink, response, nlc_vdp_response_to_string(response));
        finish(task, a, NULL);
}

static void
run_next(NlcPortAssociation *a)
{
        GTask *task;
        NlcVdpRequest request;
        NlcVdpTimings timings = {
                .lldpad_pid_file = config_pid_file,
                .timeout_ms = config_timeout_ms,
                .event_port = event_port,
        };
        NlcLinkInfo uplink;
        int r;

        if (a->in_flight || g_queue_is_empty(&a->waiting))
                return;
        task = g_queue_pop_head(&a->waiting);
        request = ((Ask *) g_task_get_task_data(task))->request;
        a->in_flight = TRUE;
        a->last_sent = request;
        /* An ASSOCIATE of a VSI lldpad does not hold has no earlier
         * response to read back (nlc-vdp.h): read it as soon as the switch
         * can have answered (2-6 ms here) instead of waiting out the stale
         * one. What this daemon last saw decides; after a restart (state
         * none) lldpad may still hold the VSI, and the early read then
         * gives lldpad's own belief, as a re-ASSOCIATE's 20 ms read does
         * against a silent switch. */
        if (request == NLC_VDP_ASSOCIATE &&
            (a->state == NLC_ASSOCIATION_NONE || a->state == NLC_ASSOCIATION_DISASSOCIATED)) {
                timings.first_poll_ms = FRESH_FIRST_POLL_MS;
                timings.poll_ms = FRESH_POLL_MS;
        }
        set_state(a, state_while(request));
        r = nlc_link_get(a->uplink, &uplink);
        if (r < 0) {
                finish(task, a,
                       g_error_new(NLC_ERROR, r == -ENODEV ? NLC_ERROR_NOT_FOUND : NLC_ERROR_FAILED,
                                   "device %s: %s: cannot look up the uplink %s: %s", a->device_id,
                                   nlc_vdp_request_to_string(request), a->uplink, g_strerror(-r)));
                return;
        }
        if (a->profile.kind == NLC_PORT_PROFILE_8021QBH) {
                if (!have_host_uuid && request != NLC_VDP_DISASSOCIATE) {
                        finish(task, a,
                               g_error_new(NLC_ERROR, NLC_ERROR_FAILED,
                                           "device %s: 802.1Qbh needs the host's UUID: set "
                                           "[port-profile] host-uuid (no /etc/machine-id here)",
                                           a->device_id));
                        return;
                }
                a->port.ifindex = uplink.ifindex;
                memcpy(a->port.host_uuid, config_host_uuid, 16);
                timings.qbh_port = qbh_port;
                nlc_qbh_request_async(&a->port, request, &timings, NULL, on_vdp_done, task);
                return;
        }
        a->vsi.uplink = uplink.ifindex;
        nlc_vdp_request_async(&a->vsi, request, &timings, NULL, on_vdp_done, task);
}

void
nlc_port_association_request_async(NlcPortAssociation *a, NlcVdpRequest request,
                                   GObject *source_object, GAsyncReadyCallback callback,
                                   gpointer data)
{
        GTask *task = g_task_new(source_object, NULL, callback, data);
        Ask *ask = g_new(Ask, 1);

        ask->a = a;
        ask->request = request;
        a->owner = source_object;
        g_task_set_source_tag(task, nlc_port_association_request_async);
        g_task_set_task_data(task, ask, g_free);
        a->asked = TRUE;
        a->last_asked = request;
        g_queue_push_tail(&a->waiting, task);
        run_next(a);
}

gboolean
nlc_port_association_request_finish(GAsyncResult *result, GError **error)
{
        return g_task_propagate_boolean(G_TASK(result), error);
}

/* For the requests the association makes on its own (a release, a new
 * ASSOCIATE after a loss): nobody waits for them; on_vdp_done() logged a
 * failure and the state shows it. */
static void
on_own_request_done(GObject *source, GAsyncResult *result, gpointer data)
{
        g_autoptr(GError) error = NULL;

        nlc_port_association_request_finish(result, &error);
}

/* Another device that wants the same VSI (instance UUID) on the same
 * uplink: lldpad knows one VSI, so a DISASSOCIATE for this device would
 * take the profile from that one (a MAC handed between two devices of one
 * host). */
static gboolean
vsi_wanted_elsewhere(NlcPortAssociation *a)
{
        for (GList *l = all_associations; l; l = l->next) {
                NlcPortAssociation *o = l->data;

                if (o != a && o->asked && o->last_asked != NLC_VDP_DISASSOCIATE &&
                    g_str_equal(o->uplink, a->uplink) &&
                    memcmp(o->vsi.instance_uuid, a->vsi.instance_uuid, 16) == 0)
                        return TRUE;
        }
        return FALSE;
}

void
nlc_port_association_release(NlcPortAssociation *a, GObject *source_object)
{
        if (!a->asked || a->last_asked == NLC_VDP_DISASSOCIATE)
                return;
        if (vsi_wanted_elsewhere(a)) {
                g_message("device %s: port profile left to the other device with VSI on %s",
                          a->device_id, a->uplink);
                a->last_asked = NLC_VDP_DISASSOCIATE;
                set_state(a, NLC_ASSOCIATION_DISASSOCIATED);
                return;
        }
        nlc_port_association_request_async(a, NLC_VDP_DISASSOCIATE, source_object,
                                           on_own_request_done, NULL);
}

static void association_lost(NlcPortAssociation *a, const char *why);

static void
on_watched(GObject *unused, GAsyncResult *result, gpointer data)
{
        NlcPortAssociation *a = data;
        /* The owner kept @a alive through the read. */
        g_autoptr(GObject) owner = a->owner;
        g_autoptr(GError) error = NULL;
        NlcVdpStatus st = nlc_vdp_status_finish(result, NULL, &error);

        a->in_flight = FALSE;
        if (st == NLC_VDP_STATUS_NO_ENTRY && a->state == NLC_ASSOCIATION_ASSOCIATED)
                association_lost(a, "lldpad no longer lists the VSI: it ended it (no answer from "
                                    "the switch to its keep-alives)");
        else if (error)
                g_debug("device %s: status read: %s", a->device_id, error->message);
        run_next(a);
}

/* An associated VSI's periodic status read, between the device's
 * requests (lldpad answers one at a time per VSI). */
static gboolean
on_watch(gpointer data)
{
        NlcPortAssociation *a = data;
        NlcVdpTimings timings = {
                .lldpad_pid_file = config_pid_file,
                .timeout_ms = config_timeout_ms,
        };
        NlcLinkInfo uplink;

        if (a->in_flight || !g_queue_is_empty(&a->waiting) || !a->owner ||
            nlc_link_get(a->uplink, &uplink) < 0)
                return G_SOURCE_CONTINUE;
        a->vsi.uplink = uplink.ifindex;
        a->in_flight = TRUE;
        g_object_ref(a->owner);
        nlc_vdp_status_async(&a->vsi, &timings, NULL, on_watched, a);
        return G_SOURCE_CONTINUE;
}

void
nlc_port_association_set_watch(guint interval_ms)
{
        config_watch_ms = interval_ms;
}

void
nlc_port_association_set_lost_handler(NlcPortAssociation *a, GCallback lost, gpointer data)
{
        a->lost = lost;
        a->lost_data = data;
}

/* lldpad says the VSI ended. After a DISASSOCIATE of ours that is the echo
 * of it; otherwise the switch dropped it (or another process here
 * disassociated it: lldpad does not tell which), and a device that wants
 * it associated asks again, as libvirt does — once per RELOST_USEC. */
static void
association_lost(NlcPortAssociation *a, const char *why)
{
        gint64 now = g_get_monotonic_time();
        gboolean again = a->lost_usec && now - a->lost_usec < RELOST_USEC;

        if (!a->asked || a->last_asked != NLC_VDP_ASSOCIATE || !a->owner)
                return;
        a->lost_usec = now;
        g_free(a->error);
        a->error = g_strdup_printf(
                "%s%s", why,
                again ? "; dropped again within 2 s of the last re-association, so not asked "
                        "again"
                      : "");
        g_message("device %s: %s", a->device_id, a->error);
        set_state(a, again ? NLC_ASSOCIATION_FAILED : NLC_ASSOCIATION_DISASSOCIATED);
        if (a->lost)
                ((void (*)(gpointer, const char *)) a->lost)(a->lost_data, a->error);
        if (!again)
                nlc_port_association_request_async(a, NLC_VDP_ASSOCIATE, a->owner,
                                                   on_own_request_done, NULL);
}

static void
dispatch(const NlcVdpNotification *n)
{
        /* Copied: a handler may free an association. */
        g_autoptr(GList) all = g_list_copy(all_associations);

        for (GList *l = all; l; l = l->next) {
                NlcPortAssociation *a = l->data;

                if (g_list_find(all_associations, a) && g_str_equal(a->uplink, n->uplink_name) &&
                    memcmp(a->vsi.instance_uuid, n->instance_uuid, 16) == 0)
                        association_lost(a, "lldpad reported the association ended (an "
                                            "unsolicited DISASSOCIATE: the switch dropped the "
                                            "VSI, or a process on this host disassociated it)");
        }
}

static gboolean
on_event(int fd, GIOCondition condition, gpointer data)
{
        guint8 buf[8192];

        for (;;) {
                struct sockaddr_nl from = { 0 };
                socklen_t len = sizeof from;
                gssize n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *) &from, &len);
                NlcVdpNotification note;
                guint32 lldpad = 0;

                if (n < 0)
                        return G_SOURCE_CONTINUE; /* EAGAIN: all read */
                /* Only lldpad speaks for its VSIs (libvirt checks the same). */
                if (!nlc_vdp_read_lldpad_pid(config_pid_file, &lldpad, NULL) ||
                    from.nl_pid != lldpad || !nlc_vdp_parse_notification(buf, (gsize) n, &note) ||
                    note.request != NLC_VDP_DISASSOCIATE) {
                        g_debug("port profiles: ignored a message from netlink port %u",
                                from.nl_pid);
                        continue;
                }
                dispatch(&note);
        }
}

gboolean
nlc_port_association_listen(guint32 port)
{
        int fd = nlc_vdp_socket_open_at(port);

        if (fd < 0) {
                /* Not fatal: requests then name their own sockets, and
                 * lldpad's notifications are lost. */
                g_message("port profiles: cannot bind netlink port %u for lldpad's notifications "
                          "(%s); a VSI the switch drops will not be associated again",
                          port, g_strerror(-fd));
                return FALSE;
        }
        event_port = port;
        g_unix_fd_add(fd, G_IO_IN, on_event, NULL);
        return TRUE;
}

NlcAssociationState
nlc_port_association_get_state(NlcPortAssociation *a)
{
        return a->state;
}

GVariant *
nlc_port_association_to_variant(NlcPortAssociation *a)
{
        g_autofree char *uuid = nlc_vdp_uuid_to_string(a->profile.instance);
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&b, "{sv}", "Kind",
                              g_variant_new_string(a->profile.kind == NLC_PORT_PROFILE_8021QBH
                                                           ? "802.1Qbh"
                                                           : "802.1Qbg"));
        if (a->profile.kind == NLC_PORT_PROFILE_8021QBH)
                g_variant_builder_add(&b, "{sv}", "ProfileId",
                                      g_variant_new_string(a->profile.profile_id));
        g_variant_builder_add(&b, "{sv}", "InstanceId", g_variant_new_string(uuid));
        g_variant_builder_add(&b, "{sv}", "Uplink", g_variant_new_string(a->uplink));
        g_variant_builder_add(&b, "{sv}", "State",
                              g_variant_new_string(nlc_association_state_to_string(a->state)));
        g_variant_builder_add(
                &b, "{sv}", "Request",
                g_variant_new_string(a->asked ? nlc_vdp_request_to_string(a->last_sent) : ""));
        if (a->has_response) {
                g_variant_builder_add(&b, "{sv}", "Response", g_variant_new_uint16(a->response));
                g_variant_builder_add(
                        &b, "{sv}", "ResponseText",
                        g_variant_new_string(nlc_vdp_response_to_string(a->response)));
        }
        g_variant_builder_add(&b, "{sv}", "Error", g_variant_new_string(a->error ? a->error : ""));
        g_variant_builder_add(&b, "{sv}", "ChangedUsec", g_variant_new_uint64(a->changed_usec));
        return g_variant_builder_end(&b);
}
