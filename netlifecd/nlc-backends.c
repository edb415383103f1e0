/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "nlc-backends.h"
#include "nlc-error.h"

extern const NlcBackend nlc_backend_tap_bridge;
extern const NlcBackend nlc_backend_macvtap;
extern const NlcBackend nlc_backend_direct;

static GPtrArray *registry;

gboolean
nlc_backend_check(const NlcBackend *b, GError **error)
{
        if (b->abi_major != NLC_PLUGIN_ABI_MAJOR || b->abi_minor > NLC_PLUGIN_ABI_MINOR) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_FAILED,
                            "backend %s was built for plugin ABI %u.%u; this daemon has %u.%u",
                            b->name ? b->name : "(unnamed)", b->abi_major, b->abi_minor,
                            NLC_PLUGIN_ABI_MAJOR, NLC_PLUGIN_ABI_MINOR);
                return FALSE;
        }
        if (!b->name || !*b->name || !b->options || !b->allocate || !b->create || !b->activate ||
            !b->deactivate || !b->destroy || !b->notify) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_FAILED,
                            "backend %s lacks a name, its option table or a required operation",
                            b->name ? b->name : "(unnamed)");
                return FALSE;
        }
        return TRUE;
}

gboolean
nlc_backends_register(const NlcBackend *backend, GError **error)
{
        if (!nlc_backend_check(backend, error))
                return FALSE;
        if (!registry)
                registry = g_ptr_array_new();
        if (nlc_backends_lookup(backend->name)) {
                g_set_error(error, NLC_ERROR, NLC_ERROR_CONFLICT, "backend %s is registered twice",
                            backend->name);
                return FALSE;
        }
        g_ptr_array_add(registry, (gpointer) backend);
        return TRUE;
}

void
nlc_backends_init(void)
{
        static const NlcBackend *const builtin[] = { &nlc_backend_tap_bridge, &nlc_backend_macvtap,
                                                     &nlc_backend_direct };

        for (guint i = 0; i < G_N_ELEMENTS(builtin); i++) {
                g_autoptr(GError) error = NULL;

                if (!nlc_backends_lookup(builtin[i]->name) &&
                    !nlc_backends_register(builtin[i], &error))
                        g_error("built-in %s", error->message);
        }
}

const NlcBackend *
nlc_backends_lookup(const char *name)
{
        for (guint i = 0; registry && i < registry->len; i++) {
                const NlcBackend *b = registry->pdata[i];

                if (g_strcmp0(b->name, name) == 0)
                        return b;
        }
        return NULL;
}

char *
nlc_backends_list_names(void)
{
        g_autoptr(GString) names = g_string_new(NULL);

        for (guint i = 0; registry && i < registry->len; i++)
                g_string_append_printf(names, "%s%s", i ? ", " : "",
                                       ((const NlcBackend *) registry->pdata[i])->name);
        return g_string_free(g_steal_pointer(&names), FALSE);
}

GVariant *
nlc_backends_describe(void)
{
        GVariantBuilder all;

        g_variant_builder_init(&all, G_VARIANT_TYPE("a{sa{sv}}"));
        for (guint i = 0; registry && i < registry->len; i++) {
                const NlcBackend *b = registry->pdata[i];
                GVariantBuilder one, types, docs;

                g_variant_builder_init(&types, G_VARIANT_TYPE("a{ss}"));
                g_variant_builder_init(&docs, G_VARIANT_TYPE("a{ss}"));
                for (const NlcBackendOption *o = b->options; o->name; o++) {
                        g_variant_builder_add(&types, "{ss}", o->name, o->type);
                        g_variant_builder_add(&docs, "{ss}", o->name, o->description);
                }
                g_variant_builder_init(&one, G_VARIANT_TYPE("a{sv}"));
                g_variant_builder_add(&one, "{sv}", "description",
                                      g_variant_new_string(b->description ? b->description : ""));
                g_variant_builder_add(&one, "{sv}", "fd-handover",
                                      g_variant_new_boolean(b->caps.fd_handover));
                g_variant_builder_add(&one, "{sv}", "quiet-until-activate",
                                      g_variant_new_boolean(b->caps.quiet_until_activate));
                g_variant_builder_add(&one, "{sv}", "postcopy-safe",
                                      g_variant_new_boolean(b->caps.postcopy_safe));
                g_variant_builder_add(&one, "{sv}", "options", g_variant_builder_end(&types));
                g_variant_builder_add(&one, "{sv}", "option-descriptions",
                                      g_variant_builder_end(&docs));
                g_variant_builder_add(&all, "{sa{sv}}", b->name, &one);
        }
        return g_variant_builder_end(&all);
}

static const NlcBackendOption *
find_option(const NlcBackendOption *table, const char *name)
{
        for (const NlcBackendOption *o = table; o->name; o++)
                if (g_str_equal(o->name, name))
                        return o;
        return NULL;
}

gboolean
nlc_options_check(const NlcBackendOption *table, const char *owner, GVariant *options,
                  GError **error)
{
        GVariantIter iter;
        const char *name;
        GVariant *value;

        g_variant_iter_init(&iter, options);
        while (g_variant_iter_next(&iter, "{&sv}", &name, &value)) {
                g_autoptr(GVariant) owned = value;
                const NlcBackendOption *o = find_option(table, name);

                if (!o) {
                        g_autoptr(GString) known = g_string_new(NULL);

                        for (const NlcBackendOption *k = table; k->name; k++)
                                g_string_append_printf(known, "%s%s", known->len ? ", " : "",
                                                       k->name);
                        g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                                    "option '%s' is not known to %s (it accepts: %s)", name, owner,
                                    known->str);
                        return FALSE;
                }
                if (!g_variant_is_of_type(value, G_VARIANT_TYPE(o->type))) {
                        g_set_error(error, NLC_ERROR, NLC_ERROR_INVALID_ARGS,
                                    "option '%s' of %s must be of type '%s', not '%s'", name, owner,
                                    o->type, g_variant_get_type_string(value));
                        return FALSE;
                }
        }
        return TRUE;
}

gboolean
nlc_backend_check_options(const NlcBackend *b, GVariant *options, GError **error)
{
        g_autofree char *owner = g_strdup_printf("backend %s", b->name);

        return nlc_options_check(b->options, owner, options, error);
}
