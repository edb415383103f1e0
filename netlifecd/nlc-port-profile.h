/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A NIC's port profile, from the allocate options of the backends libvirt
 * uses with a <virtualport> (macvtap, direct), named as in libvirt's domain
 * XML: virtualport (802.1Qbg or 802.1Qbh); for 802.1Qbg managerid, typeid
 * (24 bits), typeidversion, instanceid (a UUID); for 802.1Qbh profileid and
 * instanceid. Validated here, for the backends to share.
 *
 * The association with the switch (802.1Qbg VDP through lldpad, 802.1Qbh
 * through the kernel's driver) is the daemon's, before Activate
 * (nlc-port-association.h), for a macvtap; a backend refuses what it
 * cannot have associated (direct: both, for now).
 */
#pragma once

#include <glib.h>

#include "nlc-plugin.h"

G_BEGIN_DECLS

/* Spliced into a backend's options table, before its { NULL }. */
#define NLC_PORT_PROFILE_OPTIONS                                                      \
        { "virtualport", "s",                                                         \
          "Port profile the switch applies (macvtap): 802.1Qbg (VDP through lldpad) " \
          "or 802.1Qbh (the kernel's driver: Cisco enic)" },                          \
                { "managerid", "y", "802.1Qbg: VSI manager id" },                     \
                { "typeid", "u", "802.1Qbg: VSI type id, 24 bits" },                  \
                { "typeidversion", "y", "802.1Qbg: VSI type version" },               \
                { "instanceid", "s", "UUID: 802.1Qbg the VSI's, 802.1Qbh the VM's" }, \
        {                                                                             \
                "profileid", "s", "802.1Qbh: port profile name, 1-39 characters"      \
        }

typedef enum {
        NLC_PORT_PROFILE_NONE,
        NLC_PORT_PROFILE_8021QBG,
        NLC_PORT_PROFILE_8021QBH,
} NlcPortProfileKind;

typedef struct {
        NlcPortProfileKind kind;
        guint8 manager_id;
        guint32 type_id;
        guint8 type_id_version;
        gboolean has_instance;
        guint8 instance[16];
        char profile_id[40];
} NlcPortProfile;

/* Reads and checks the port-profile options of @opts into @out (kind NONE
 * when there are none). InvalidArgs naming the option and the rule when
 * they are wrong: a field without virtualport, a field of the other
 * standard, a missing required field, a type id over 24 bits, an instance
 * id that is not a UUID or is all zeros, a profile id empty or too long. */
gboolean nlc_port_profile_from_options(GVariantDict *opts, NlcPortProfile *out, GError **error);

/* The refusal a backend returns for a profile it cannot have associated
 * (NotSupported, saying which standard and why). */
void nlc_port_profile_set_not_applied(const NlcPortProfile *profile, const char *backend,
                                      GError **error);

G_END_DECLS
