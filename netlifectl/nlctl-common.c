/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <string.h>

#include "nlctl-common.h"

#define CALL_TIMEOUT_MS 25000

G_DEFINE_QUARK(nlctl - usage - error - quark, nlctl_usage_error)

/* The names that mean "nobody to talk to" rather than "the daemon said no". */
static gboolean
is_unreachable(const char *remote, const GError *error)
{
        static const char *const names[] = {
                "org.freedesktop.DBus.Error.ServiceUnknown",
                "org.freedesktop.DBus.Error.NameHasNoOwner",
                "org.freedesktop.DBus.Error.Disconnected",
                "org.freedesktop.DBus.Error.NoServer",
                NULL,
        };

        if (remote)
                return g_strv_contains(names, remote);
        return g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CLOSED) ||
               g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_DISCONNECTED);
}

int
nlctl_fail(const GError *error)
{
        g_autoptr(GError) copy = g_error_copy(error);
        g_autofree char *remote = g_dbus_error_get_remote_error(copy);

        if (copy->domain == NLCTL_USAGE_ERROR) {
                g_printerr("netlifectl: %s (see netlifectl --help)\n", copy->message);
                return NLCTL_EXIT_USAGE;
        }
        if (remote) {
                g_dbus_error_strip_remote_error(copy);
                g_printerr("netlifectl: %s: %s\n", remote, copy->message);
        } else {
                g_printerr("netlifectl: %s\n", copy->message);
        }
        return is_unreachable(remote, copy) ? NLCTL_EXIT_CONNECT : NLCTL_EXIT_DBUS;
}

int
nlctl_die(int code, const char *fmt, ...)
{
        g_autofree char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        msg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        g_printerr("netlifectl: %s%s\n", msg,
                   code == NLCTL_EXIT_USAGE ? " (see netlifectl --help)" : "");
        return code;
}

GVariant *
nlctl_call_timeout(NlctlContext *ctx, const char *path, const char *iface, const char *method,
                   GVariant *params, const char *reply_type, int timeout_ms, GError **error)
{
        return g_dbus_connection_call_sync(ctx->conn, NLC_DBUS_SERVICE, path, iface, method, params,
                                           reply_type ? G_VARIANT_TYPE(reply_type) : NULL,
                                           G_DBUS_CALL_FLAGS_NONE, timeout_ms, NULL, error);
}

GVariant *
nlctl_call(NlctlContext *ctx, const char *path, const char *iface, const char *method,
           GVariant *params, const char *reply_type, GError **error)
{
        return nlctl_call_timeout(ctx, path, iface, method, params, reply_type, CALL_TIMEOUT_MS,
                                  error);
}

GVariant *
nlctl_get_all(NlctlContext *ctx, const char *path, const char *iface, GError **error)
{
        g_autoptr(GVariant) r = nlctl_call(ctx, path, NLCTL_PROPS_IFACE, "GetAll",
                                           g_variant_new("(s)", iface), "(a{sv})", error);

        return r ? g_variant_get_child_value(r, 0) : NULL;
}

GVariant *
nlctl_get(NlctlContext *ctx, const char *path, const char *iface, const char *name, GError **error)
{
        g_autoptr(GVariant) r = nlctl_call(ctx, path, NLCTL_PROPS_IFACE, "Get",
                                           g_variant_new("(ss)", iface, name), "(v)", error);
        GVariant *v = NULL;

        if (r)
                g_variant_get(r, "(v)", &v);
        return v;
}

GVariant *
nlctl_managed_objects(NlctlContext *ctx, GError **error)
{
        g_autoptr(GVariant) r = nlctl_call(ctx, NLC_DBUS_PATH, NLCTL_OBJMGR_IFACE,
                                           "GetManagedObjects", NULL, "(a{oa{sa{sv}}})", error);

        return r ? g_variant_get_child_value(r, 0) : NULL;
}

GVariant *
nlctl_objects_lookup(GVariant *objects, const char *path, const char *iface)
{
        g_autoptr(GVariant) ifaces = NULL;

        if (!objects || !path)
                return NULL;
        ifaces = g_variant_lookup_value(objects, path, G_VARIANT_TYPE("a{sa{sv}}"));
        return ifaces ? g_variant_lookup_value(ifaces, iface, G_VARIANT_TYPE_VARDICT) : NULL;
}

/* Ids that are numbers in numeric order, then the others by name. */
static int
compare_paths(gconstpointer a, gconstpointer b)
{
        const char *x = nlctl_path_id(*(const char *const *) a);
        const char *y = nlctl_path_id(*(const char *const *) b);
        guint64 nx, ny;
        gboolean is_x = g_ascii_string_to_unsigned(x, 10, 0, G_MAXUINT64, &nx, NULL);
        gboolean is_y = g_ascii_string_to_unsigned(y, 10, 0, G_MAXUINT64, &ny, NULL);

        if (is_x && is_y)
                return nx < ny ? -1 : nx > ny;
        if (is_x != is_y)
                return is_x ? -1 : 1;
        return strcmp(x, y);
}

GPtrArray *
nlctl_objects_with(GVariant *objects, const char *iface)
{
        GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);
        GVariantIter iter;
        const char *path;
        GVariant *ifaces;

        g_variant_iter_init(&iter, objects);
        while (g_variant_iter_next(&iter, "{&o@a{sa{sv}}}", &path, &ifaces)) {
                g_autoptr(GVariant) props = g_variant_lookup_value(ifaces, iface, NULL);

                if (props)
                        g_ptr_array_add(paths, g_strdup(path));
                g_variant_unref(ifaces);
        }
        g_ptr_array_sort(paths, compare_paths);
        return paths;
}

static gboolean
is_number(const char *s)
{
        return g_ascii_string_to_unsigned(s, 10, 0, G_MAXUINT64, NULL, NULL);
}

static char *
path_or_id(const char *arg, const char *prefix)
{
        if (arg[0] == '/')
                return g_variant_is_object_path(arg) ? g_strdup(arg) : NULL;
        return is_number(arg) ? g_strconcat(prefix, arg, NULL) : NULL;
}

char *
nlctl_device_path(const char *arg)
{
        return path_or_id(arg, NLC_DBUS_DEVICE_PATH_PREFIX);
}

char *
nlctl_migration_path(const char *arg)
{
        return path_or_id(arg, NLCTL_MIGRATION_PATH_PREFIX);
}

const char *
nlctl_path_id(const char *path)
{
        const char *slash = strrchr(path, '/');

        return slash ? slash + 1 : path;
}

char *
nlctl_instance_path(NlctlContext *ctx, const char *name, GError **error)
{
        g_autoptr(GVariant) r = nlctl_call(ctx, NLC_DBUS_PATH, NLC_DBUS_INTERFACE_MANAGER,
                                           "GetInstance", g_variant_new("(s)", name), "(o)", error);
        char *path = NULL;

        if (r)
                g_variant_get(r, "(o)", &path);
        return path;
}

/* ---- typed options ----------------------------------------------------- */

static GVariant *
parse_value(const char *key, const char *text, const char *type, GError **error)
{
        g_autoptr(GError) local = NULL;
        GVariant *v;
        guint64 n;

        if (!type || g_str_equal(type, "s") || !g_variant_type_string_is_valid(type))
                return g_variant_new_string(text);
        if (g_str_equal(type, "u") || g_str_equal(type, "t")) {
                gboolean u32 = type[0] == 'u';

                if (!g_ascii_string_to_unsigned(text, 10, 0, u32 ? G_MAXUINT32 : G_MAXUINT64, &n,
                                                NULL)) {
                        g_set_error(error, NLCTL_USAGE_ERROR, 0,
                                    "option %s takes an unsigned %s-bit integer, not '%s'", key,
                                    u32 ? "32" : "64", text);
                        return NULL;
                }
                return u32 ? g_variant_new_uint32((guint32) n) : g_variant_new_uint64(n);
        }
        if (g_str_equal(type, "b")) {
                if (g_ascii_strcasecmp(text, "true") == 0 || g_ascii_strcasecmp(text, "false") == 0)
                        return g_variant_new_boolean(g_ascii_strcasecmp(text, "true") == 0);
                g_set_error(error, NLCTL_USAGE_ERROR, 0, "option %s takes true or false, not '%s'",
                            key, text);
                return NULL;
        }
        if (g_str_equal(type, "as")) {
                g_auto(GStrv) parts = *text ? g_strsplit(text, ",", -1) : g_new0(char *, 1);

                return g_variant_new_strv((const char *const *) parts, -1);
        }
        v = g_variant_parse(G_VARIANT_TYPE(type), text, NULL, NULL, &local);
        if (!v)
                g_set_error(error, NLCTL_USAGE_ERROR, 0, "option %s takes a value of type %s: %s",
                            key, type, local->message);
        return v;
}

GVariant *
nlctl_parse_options(char **words, guint n, GVariant *types, GError **error)
{
        g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
        g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

        for (guint i = 0; i < n; i++) {
                const char *eq = strchr(words[i], '=');
                g_autofree char *key = NULL;
                const char *type = NULL;
                GVariant *value;

                if (!eq || eq == words[i]) {
                        g_set_error(error, NLCTL_USAGE_ERROR, 0, "expected KEY=VALUE, not '%s'",
                                    words[i]);
                        return NULL;
                }
                key = g_strndup(words[i], (gsize) (eq - words[i]));
                if (!g_hash_table_add(seen, g_strdup(key))) {
                        g_set_error(error, NLCTL_USAGE_ERROR, 0, "option %s is given twice", key);
                        return NULL;
                }
                if (types)
                        g_variant_lookup(types, key, "&s", &type);
                value = parse_value(key, eq + 1, type, error);
                if (!value)
                        return NULL;
                g_variant_builder_add(&b, "{sv}", key, value);
        }
        return g_variant_ref_sink(g_variant_builder_end(&b));
}

/* ---- dictionaries -------------------------------------------------------- */

const char *
nlctl_dict_str(GVariant *dict, const char *key)
{
        const char *s = NULL;

        if (!dict || !g_variant_lookup(dict, key, "&s", &s))
                return "";
        return s;
}

gboolean
nlctl_dict_bool(GVariant *dict, const char *key)
{
        gboolean b = FALSE;

        if (dict)
                g_variant_lookup(dict, key, "b", &b);
        return b;
}

guint64
nlctl_dict_u64(GVariant *dict, const char *key, guint64 fallback)
{
        guint64 t = fallback;

        if (dict)
                g_variant_lookup(dict, key, "t", &t);
        return t;
}

guint32
nlctl_dict_u32(GVariant *dict, const char *key)
{
        guint32 u = 0;

        if (dict)
                g_variant_lookup(dict, key, "u", &u);
        return u;
}

/* ---- words for times and sizes ------------------------------------------ */

char *
nlctl_format_duration(guint64 usec)
{
        guint64 s = usec / G_USEC_PER_SEC;

        if (usec < 1000 * G_USEC_PER_SEC && usec % G_USEC_PER_SEC == 0 && usec)
                return g_strdup_printf("%" G_GUINT64_FORMAT " s", s);
        if (usec < 100 * G_USEC_PER_SEC)
                return g_strdup_printf("%.1f s", (double) usec / G_USEC_PER_SEC);
        if (s < 3600)
                return g_strdup_printf("%" G_GUINT64_FORMAT " min %" G_GUINT64_FORMAT " s", s / 60,
                                       s % 60);
        return g_strdup_printf("%" G_GUINT64_FORMAT " h %" G_GUINT64_FORMAT " min", s / 3600,
                               s / 60 % 60);
}

static char *
format_local(gint64 realtime_usec, gboolean with_date)
{
        g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local(realtime_usec / G_USEC_PER_SEC);
        g_autofree char *hms = NULL;

        if (!dt)
                return g_strdup("?");
        hms = g_date_time_format(dt, with_date ? "%Y-%m-%d %H:%M:%S" : "%H:%M:%S");
        return g_strdup_printf("%s.%03d", hms, (int) (realtime_usec % G_USEC_PER_SEC / 1000));
}

char *
nlctl_format_time(guint64 realtime_usec)
{
        gint64 now = g_get_real_time();
        gint64 at = (gint64) MIN(realtime_usec, (guint64) G_MAXINT64);
        g_autoptr(GDateTime) a = g_date_time_new_from_unix_local(at / G_USEC_PER_SEC);
        g_autoptr(GDateTime) b = g_date_time_new_from_unix_local(now / G_USEC_PER_SEC);
        gboolean same_day = a && b &&
                            g_date_time_get_day_of_year(a) == g_date_time_get_day_of_year(b) &&
                            g_date_time_get_year(a) == g_date_time_get_year(b);

        return format_local(at, !same_day);
}

char *
nlctl_format_bytes(guint64 bytes)
{
        return g_format_size_full(bytes, G_FORMAT_SIZE_IEC_UNITS);
}

char *
nlctl_now_stamp(void)
{
        return format_local(g_get_real_time(), FALSE);
}

/* ---- JSON ----------------------------------------------------------------- */

static gboolean
is_string_dict(GVariant *v)
{
        const GVariantType *t = g_variant_get_type(v);

        return g_variant_type_is_array(t) &&
               g_variant_type_is_dict_entry(g_variant_type_element(t)) &&
               g_variant_type_equal(g_variant_type_key(g_variant_type_element(t)),
                                    G_VARIANT_TYPE_STRING);
}

static JsonNode *
container_to_json(GVariant *v)
{
        GVariantIter iter;
        GVariant *child;

        if (is_string_dict(v)) {
                JsonObject *o = json_object_new();
                JsonNode *node = json_node_init_object(json_node_alloc(), o);
                const char *key;

                g_variant_iter_init(&iter, v);
                while (g_variant_iter_next(&iter, "{&s@*}", &key, &child)) {
                        json_object_set_member(o, key, nlctl_variant_to_json(child));
                        g_variant_unref(child);
                }
                json_object_unref(o);
                return node;
        } else {
                JsonArray *a = json_array_new();
                JsonNode *node = json_node_init_array(json_node_alloc(), a);

                g_variant_iter_init(&iter, v);
                while ((child = g_variant_iter_next_value(&iter))) {
                        json_array_add_element(a, nlctl_variant_to_json(child));
                        g_variant_unref(child);
                }
                json_array_unref(a);
                return node;
        }
}

JsonNode *
nlctl_variant_to_json(GVariant *v)
{
        JsonNode *node = json_node_alloc();
        g_autoptr(GVariant) inner = NULL;

        switch (g_variant_classify(v)) {
        case G_VARIANT_CLASS_BOOLEAN:
                return json_node_init_boolean(node, g_variant_get_boolean(v));
        case G_VARIANT_CLASS_BYTE:
                return json_node_init_int(node, g_variant_get_byte(v));
        case G_VARIANT_CLASS_INT16:
                return json_node_init_int(node, g_variant_get_int16(v));
        case G_VARIANT_CLASS_UINT16:
                return json_node_init_int(node, g_variant_get_uint16(v));
        case G_VARIANT_CLASS_INT32:
                return json_node_init_int(node, g_variant_get_int32(v));
        case G_VARIANT_CLASS_UINT32:
                return json_node_init_int(node, g_variant_get_uint32(v));
        case G_VARIANT_CLASS_HANDLE:
                return json_node_init_int(node, g_variant_get_handle(v));
        case G_VARIANT_CLASS_INT64:
                return json_node_init_int(node, g_variant_get_int64(v));
        case G_VARIANT_CLASS_UINT64:
                if (g_variant_get_uint64(v) > G_MAXINT64)
                        return json_node_init_null(node);
                return json_node_init_int(node, (gint64) g_variant_get_uint64(v));
        case G_VARIANT_CLASS_DOUBLE:
                return json_node_init_double(node, g_variant_get_double(v));
        case G_VARIANT_CLASS_STRING:
        case G_VARIANT_CLASS_OBJECT_PATH:
        case G_VARIANT_CLASS_SIGNATURE:
                return json_node_init_string(node, g_variant_get_string(v, NULL));
        case G_VARIANT_CLASS_VARIANT:
                json_node_free(node);
                inner = g_variant_get_variant(v);
                return nlctl_variant_to_json(inner);
        case G_VARIANT_CLASS_MAYBE:
                inner = g_variant_get_maybe(v);
                if (!inner)
                        return json_node_init_null(node);
                json_node_free(node);
                return nlctl_variant_to_json(inner);
        default:
                json_node_free(node);
                return container_to_json(v);
        }
}

JsonObject *
nlctl_props_to_json(const char *path, GVariant *props)
{
        JsonObject *o = json_object_new();
        GVariantIter iter;
        const char *key;
        GVariant *value;

        json_object_set_string_member(o, "path", path);
        if (!props)
                return o;
        g_variant_iter_init(&iter, props);
        while (g_variant_iter_next(&iter, "{&sv}", &key, &value)) {
                json_object_set_member(o, key, nlctl_variant_to_json(value));
                g_variant_unref(value);
        }
        return o;
}

void
nlctl_print_json(JsonNode *node, gboolean one_line)
{
        g_autoptr(JsonGenerator) gen = json_generator_new();
        g_autofree char *text = NULL;

        json_generator_set_pretty(gen, !one_line);
        json_generator_set_root(gen, node);
        text = json_generator_to_data(gen, NULL);
        g_print("%s\n", text);
        fflush(stdout);
}

void
nlctl_print_json_object(JsonObject *object)
{
        g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), object);

        json_object_unref(object);
        nlctl_print_json(node, FALSE);
}

/* ---- tables --------------------------------------------------------------- */

struct _NlctlTable {
        guint cols;
        GPtrArray *rows; /* GStrv, the first the headers */
};

NlctlTable *
nlctl_table_new(const char *const *headers)
{
        NlctlTable *t = g_new0(NlctlTable, 1);

        t->cols = g_strv_length((char **) headers);
        t->rows = g_ptr_array_new_with_free_func((GDestroyNotify) g_strfreev);
        g_ptr_array_add(t->rows, g_strdupv((char **) headers));
        return t;
}

void
nlctl_table_add(NlctlTable *table, const char *const *cells)
{
        char **row = g_new0(char *, table->cols + 1);

        for (guint i = 0; i < table->cols; i++)
                row[i] = g_strdup(cells[i] && *cells[i] ? cells[i] : "-");
        g_ptr_array_add(table->rows, row);
}

void
nlctl_table_print(NlctlTable *table)
{
        g_autofree glong *width = g_new0(glong, table->cols);

        for (guint r = 0; r < table->rows->len; r++) {
                char **row = table->rows->pdata[r];

                for (guint c = 0; c < table->cols; c++)
                        width[c] = MAX(width[c], g_utf8_strlen(row[c], -1));
        }
        for (guint r = 0; r < table->rows->len; r++) {
                char **row = table->rows->pdata[r];
                g_autoptr(GString) line = g_string_new(NULL);

                for (guint c = 0; c < table->cols; c++) {
                        g_string_append(line, row[c]);
                        if (c + 1 == table->cols)
                                break;
                        for (glong pad = g_utf8_strlen(row[c], -1); pad < width[c] + 2; pad++)
                                g_string_append_c(line, ' ');
                }
                g_print("%s\n", line->str);
        }
}

void
nlctl_table_free(NlctlTable *table)
{
        if (!table)
                return;
        g_ptr_array_unref(table->rows);
        g_free(table);
}
