/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * netlifectl libvirt-hook: netlifecd as libvirt's qemu hook
 * (nlctl-libvirt-hook.c), and the domain XML it reads (nlctl-libvirt-xml.c).
 */
#pragma once

#include <glib.h>

/* One bridge NIC of a domain, as the hook's XML shows it. */
typedef struct {
        char *ifname; /* the tap libvirt made: <target dev> */
        char *mac;    /* the guest MAC: <mac address> */
        char *bridge; /* <source bridge> */
        char *type;   /* <interface type>: "bridge" or "network" */
} NlctlLibvirtNic;

void nlctl_libvirt_nic_free(NlctlLibvirtNic *nic);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlctlLibvirtNic, nlctl_libvirt_nic_free)

/* The bridge NICs of @xml that have a tap, in document order; the domain's
 * <name> in @domain_name when asked. NULL with @error when @xml is not
 * well-formed. */
GPtrArray *nlctl_libvirt_bridge_nics(const char *xml, char **domain_name, GError **error);
