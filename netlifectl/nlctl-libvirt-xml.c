/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bridge NICs of a libvirt domain, read from the XML libvirt hands its
 * qemu hook on stdin. Only what the hook needs: for each <interface> under
 * <devices> whose <source> names a bridge (type='bridge', and
 * type='network' on a bridged network, whose live XML carries the bridge
 * too), the tap libvirt opened (<target dev>), the guest MAC and the
 * bridge. A NIC without <target dev> (the XML of the `prepare` call, before
 * libvirt made the tap) is skipped: there is nothing to adopt yet.
 */
#include "nlctl-libvirt.h"

void
nlctl_libvirt_nic_free(NlctlLibvirtNic *nic)
{
        if (!nic)
                return;
        g_free(nic->ifname);
        g_free(nic->mac);
        g_free(nic->bridge);
        g_free(nic->type);
        g_free(nic);
}

typedef struct {
        GPtrArray *nics;
        NlctlLibvirtNic *current; /* inside a NIC <interface> */
        guint depth;              /* element depth */
        guint interface_depth;    /* depth of the open <interface>, 0 when none */
        gboolean in_devices;
        char *name; /* <domain><name> */
        gboolean in_name;
} Reader;

static const char *
attr(const char **names, const char **values, const char *wanted)
{
        for (guint i = 0; names[i]; i++)
                if (g_str_equal(names[i], wanted))
                        return values[i];
        return NULL;
}

static void
set_str(char **slot, const char *value)
{
        g_free(*slot);
        *slot = g_strdup(value);
}

static void
on_start(GMarkupParseContext *context, const char *element, const char **names, const char **values,
         gpointer data, GError **error)
{
        Reader *r = data;

        r->depth++;
        if (r->depth == 2 && g_str_equal(element, "devices"))
                r->in_devices = TRUE;
        else if (r->depth == 2 && g_str_equal(element, "name"))
                r->in_name = TRUE;
        else if (r->in_devices && r->depth == 3 && g_str_equal(element, "interface")) {
                r->current = g_new0(NlctlLibvirtNic, 1);
                r->current->type = g_strdup(attr(names, values, "type"));
                r->interface_depth = r->depth;
        } else if (r->current && r->depth == r->interface_depth + 1) {
                const char *v = NULL;

                if (g_str_equal(element, "source") && (v = attr(names, values, "bridge")))
                        set_str(&r->current->bridge, v);
                else if (g_str_equal(element, "mac") && (v = attr(names, values, "address")))
                        set_str(&r->current->mac, v);
                else if (g_str_equal(element, "target") && (v = attr(names, values, "dev")))
                        set_str(&r->current->ifname, v);
        }
}

static void
on_end(GMarkupParseContext *context, const char *element, gpointer data, GError **error)
{
        Reader *r = data;

        if (r->current && r->depth == r->interface_depth) {
                NlctlLibvirtNic *nic = g_steal_pointer(&r->current);

                if (nic->bridge && nic->mac && nic->ifname)
                        g_ptr_array_add(r->nics, nic);
                else
                        nlctl_libvirt_nic_free(nic);
                r->interface_depth = 0;
        }
        if (r->depth == 2) {
                r->in_devices = FALSE;
                r->in_name = FALSE;
        }
        r->depth--;
}

static void
on_text(GMarkupParseContext *context, const char *text, gsize len, gpointer data, GError **error)
{
        Reader *r = data;

        if (r->in_name && r->depth == 2) {
                g_free(r->name);
                r->name = g_strstrip(g_strndup(text, len));
        }
}

GPtrArray *
nlctl_libvirt_bridge_nics(const char *xml, char **domain_name, GError **error)
{
        static const GMarkupParser parser = { on_start, on_end, on_text, NULL, NULL };
        Reader r = { .nics = g_ptr_array_new_with_free_func(
                             (GDestroyNotify) nlctl_libvirt_nic_free) };
        g_autoptr(GMarkupParseContext) context =
                g_markup_parse_context_new(&parser, G_MARKUP_PREFIX_ERROR_POSITION, &r, NULL);
        gboolean ok = g_markup_parse_context_parse(context, xml, -1, error) &&
                      g_markup_parse_context_end_parse(context, error);

        nlctl_libvirt_nic_free(r.current);
        if (!ok) {
                g_prefix_error(error, "cannot read the domain XML: ");
                g_free(r.name);
                g_ptr_array_unref(r.nics);
                return NULL;
        }
        if (domain_name)
                *domain_name = g_steal_pointer(&r.name);
        g_free(r.name);
        return r.nics;
}
