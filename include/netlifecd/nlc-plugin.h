/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The backend ABI. A backend is one const NlcBackend vtable, defined with
 * NLC_BACKEND_DEFINE(); the daemon refuses a vtable whose ABI major differs
 * from its own or whose minor is newer than its own.
 *
 * Error model: every operation returns FALSE and sets a GError in the
 * NLC_ERROR domain (nlc-error.h), which the daemon passes to the D-Bus caller
 * as org.netlifecd1.Error.<Name>. Operations run in the daemon's main thread.
 */
#pragma once

#include <glib.h>

#include "nlc-enums.h"

G_BEGIN_DECLS

#define NLC_PLUGIN_ABI_MAJOR 1
#define NLC_PLUGIN_ABI_MINOR 5
/* 1.1: capabilities; 1.2: persist; 1.3: destroy_link; 1.4: share_queues,
 * adopt_queues, and state and peer in NlcBackendDevice; 1.5: carrier_link,
 * and may_use in NlcBackendHost */

typedef struct _NlcBackendDevice NlcBackendDevice;

/* What a backend sees of one device. The daemon owns it. */
struct _NlcBackendDevice {
        const char *id;       /* stable for the record's life, e.g. "7" */
        const char *instance; /* validated guest instance name */
        const char *mac_str;  /* "52:54:00:12:34:56", lower case */
        guint8 mac[6];
        /*
         * The backend's persistent fields, string → string. The daemon journals
         * them after every accepted operation and restores them at start.
         * Keys the daemon itself reads: "ifname" (the kernel name, reserved
         * from allocate on) and "bridge" (empty or absent if none).
         */
        GHashTable *props;
        /* Queue fds (int) the daemon holds open; filled by create and notify,
         * closed by the daemon after destroy. */
        GArray *queue_fds;
        /* The daemon's runtime directory (--runtime-dir), for files such as
         * macvtap device nodes; it outlives daemon restarts. */
        const char *runtime_dir;
        /* Journals dev->props now, for a backend that must record something
         * (a saved MAC) before it changes the kernel. */
        gboolean (*persist)(NlcBackendDevice *dev, GError **error);
        /* ABI 1.4. The record's state, kept current by the daemon. */
        NlcDeviceState state;
        /* ABI 1.4. The device of another instance that shares this device's
         * link (Device.ShareQueues: a localhost live upgrade), or NULL. The
         * two hand the MAC to each other on the same port: activate takes
         * the link's traffic to this device's queues; deactivate and destroy
         * leave what the peer still uses. */
        NlcBackendDevice *peer;
};

/* One accepted allocate option. The daemon refuses unknown names and values
 * whose type differs from @type before the backend sees them. */
typedef struct {
        const char *name;
        const char *type; /* a GVariant type string, e.g. "s" or "u" */
        const char *description;
} NlcBackendOption;

/* What a backend promises; published in Manager.Backends. */
typedef struct {
        /* create returns queue fds for the hypervisor (Device.Create → ah). */
        gboolean fd_handover;
        /* Before activate the device neither holds the guest MAC nor sends
         * anything as the guest. */
        gboolean quiet_until_activate;
        /* activate is one step that can run at the post-copy switch: it never
         * waits on the network (no new port, no STP delay). */
        gboolean postcopy_safe;
} NlcBackendCaps;

/* Services the daemon offers to backends during allocate. */
typedef struct {
        /* TRUE when another device record already reserved @ifname. */
        gboolean (*ifname_reserved)(const char *ifname, gpointer user_data);
        gpointer user_data;
        /* TRUE for Manager.Notify(): the device named in the options must
         * already exist in the kernel; allocate records it, notify follows. */
        gboolean adopting;
        /* ABI 1.5. Whether the caller may use the host object @name of
         * @kind: "bridge" (a port goes on it), "lower" (a macvtap's lower
         * device), "device" (a host netdev the guest takes). FALSE with
         * NotAuthorized saying which configuration key refuses it. Backends
         * call nlc_backend_may_use(), which allows all when this is NULL. */
        gboolean (*may_use)(const char *kind, const char *name, gpointer user_data, GError **error);
} NlcBackendHost;

typedef struct {
        guint16 abi_major;
        guint16 abi_minor;
        const char *name;                /* "tap-bridge": the Allocate() backend argument */
        const char *description;         /* one line, for operators */
        const NlcBackendOption *options; /* terminated by a { NULL } entry */
        NlcBackendCaps caps;

        /* Validates the options, reserves what the device will need (name,
         * lower device, ...) and records it in dev->props. Reads the kernel,
         * changes nothing in it. Required. */
        gboolean (*allocate)(NlcBackendDevice *dev, GVariantDict *options,
                             const NlcBackendHost *host, GError **error);
        /* Creates the kernel device inactive (no FDB entry, no announce) and
         * appends its queue fds to dev->queue_fds. Must accept a device that
         * already exists with this record's name (a retry after a crash).
         * Required. */
        gboolean (*create)(NlcBackendDevice *dev, GError **error);
        /* Makes the device the location of the guest MAC, then announces.
         * Required. */
        gboolean (*activate)(NlcBackendDevice *dev, GError **error);
        /* Stops the device holding the guest MAC. Required. */
        gboolean (*deactivate)(NlcBackendDevice *dev, GError **error);
        /* Removes or restores the kernel device. Succeeds when it is gone
         * already. Required. */
        gboolean (*destroy)(NlcBackendDevice *dev, GError **error);
        /* Releases what allocate reserved outside dev->props. NULL: nothing. */
        gboolean (*free)(NlcBackendDevice *dev, GError **error);
        /*
         * Verifies the device against the kernel and repairs drift without
         * disturbing a running guest; reopens queues nobody holds.
         * On entry *state is the journalled state, or NLC_DEVICE_STATE_NONE
         * when a client adopts a device with Notify(); on success *state is
         * the state the device is really in. Required.
         */
        gboolean (*notify)(NlcBackendDevice *dev, NlcDeviceState *state, GError **error);
        /* Sends a RARP for the guest MAC through the device. NULL: the backend
         * cannot announce and Announce() fails with Failed. */
        gboolean (*announce)(NlcBackendDevice *dev, GError **error);
        /* ABI 1.3. The ifindex of the link destroy would delete, 0 when it is
         * gone already, a negative errno on error; changes nothing. The
         * daemon deletes the links of many devices in one request, then
         * calls destroy, which must then accept its link gone. NULL: the
         * device is not a link of its own (a direct device is restored). */
        int (*destroy_link)(NlcBackendDevice *dev, GError **error);
        /* ABI 1.4. Opens a second set of the link's queues for @sharer, a new
         * record of another instance with the same MAC: appends them to
         * sharer->queue_fds detached (the kernel steers nothing to them until
         * the sharer activates) and copies into sharer->props what names the
         * link. NULL: Device.ShareQueues is NotSupported. */
        gboolean (*share_queues)(NlcBackendDevice *dev, NlcBackendDevice *sharer, GError **error);
        /* ABI 1.4. After a restart the daemon holds none of the queues a
         * hypervisor still holds (a shared tap's handover needs them, and
         * announce writes through one). When the instance's QEMU connects,
         * its QMP socket names the process: take duplicates of the queues
         * of this device that process @pid holds into dev->queue_fds.
         * Returns how many, or a negative errno. NULL: never. */
        int (*adopt_queues)(NlcBackendDevice *dev, int pid);
        /* ABI 1.5. For a device without a bridge: the name of the link whose
         * carrier says whether the device can carry traffic (macvtap: its
         * lower device; direct: the PF of a VF), which the daemon follows for
         * Ready. NULL member or NULL result: the device's own link ("ifname";
         * a device with none is ready as soon as it is created). */
        const char *(*carrier_link)(const NlcBackendDevice *dev);
} NlcBackend;

#define NLC_BACKEND_DEFINE(symbol, ...)                                \
        const NlcBackend symbol = { .abi_major = NLC_PLUGIN_ABI_MAJOR, \
                                    .abi_minor = NLC_PLUGIN_ABI_MINOR, \
                                    __VA_ARGS__ }

/* Helpers for backends, implemented by the daemon. */
const char *nlc_backend_device_get_prop(const NlcBackendDevice *dev, const char *key);
void nlc_backend_device_set_prop(NlcBackendDevice *dev, const char *key, const char *value);

G_END_DECLS
