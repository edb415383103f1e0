/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What every netlifectl command shares: the bus connection and the parsed
 * command line, calls with errors turned into exit codes, the one
 * GetManagedObjects snapshot, typed key=value options, tables, JSON and the
 * way times and sizes are written.
 */
#pragma once

#include <gio/gio.h>
#include <gio/gunixfdlist.h>
#include <json-glib/json-glib.h>

#include "nlc-dbus-names.h"

#define NLCTL_INSTANCE_IFACE  "org.netlifecd1.Instance"
#define NLCTL_BRIDGE_IFACE    "org.netlifecd1.Bridge"
#define NLCTL_MIGRATION_IFACE "org.netlifecd1.Migration"
#define NLCTL_PROPS_IFACE     "org.freedesktop.DBus.Properties"
#define NLCTL_OBJMGR_IFACE    "org.freedesktop.DBus.ObjectManager"

#define NLCTL_INSTANCE_PATH_PREFIX  NLC_DBUS_PATH "/instance/"
#define NLCTL_BRIDGE_PATH_PREFIX    NLC_DBUS_PATH "/bridge/"
#define NLCTL_MIGRATION_PATH_PREFIX NLC_DBUS_PATH "/migration/"

/* ReadyInUsec when the port is not counting towards forwarding. */
#define NLCTL_NOT_COUNTING G_MAXUINT64

/* Exit codes; netlifectl.1 documents them. */
enum {
        NLCTL_EXIT_OK = 0,
        NLCTL_EXIT_DBUS = 1,      /* the daemon (or the bus) answered with an error */
        NLCTL_EXIT_USAGE = 2,     /* the command line is wrong */
        NLCTL_EXIT_CONNECT = 3,   /* no bus, or org.netlifecd1 is not on it */
        NLCTL_EXIT_MIGRATION = 4, /* the migration ended failed or cancelled */
        NLCTL_EXIT_NOT_READY = 5, /* wait-ready: not ready within the timeout */
        NLCTL_EXIT_SIGNAL = 128,  /* + signal number: migrate interrupted */
};

/* Errors of the command line (exit code 2). */
#define NLCTL_USAGE_ERROR (nlctl_usage_error_quark())
GQuark nlctl_usage_error_quark(void);

typedef struct {
        GDBusConnection *conn;
        gboolean json; /* --json */
        gboolean tty;  /* stdout is a terminal */
        char **args;   /* the command's positional arguments */
        guint n_args;
        guint64 count;    /* watch --count; 0: until interrupted */
        gboolean exec;    /* create --exec */
        char **exec_argv; /* after "--" */
} NlctlContext;

/* Prints @error as one line naming the D-Bus error; returns the exit code. */
int nlctl_fail(const GError *error);
/* Prints "netlifectl: <message>" and returns @code. */
int nlctl_die(int code, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Calls a method of org.netlifecd1 (25 s timeout, or @timeout_ms). */
GVariant *nlctl_call(NlctlContext *ctx, const char *path, const char *iface, const char *method,
                     GVariant *params, const char *reply_type, GError **error);
GVariant *nlctl_call_timeout(NlctlContext *ctx, const char *path, const char *iface,
                             const char *method, GVariant *params, const char *reply_type,
                             int timeout_ms, GError **error);
/* Properties.GetAll → a{sv}; Properties.Get → the value. */
GVariant *nlctl_get_all(NlctlContext *ctx, const char *path, const char *iface, GError **error);
GVariant *nlctl_get(NlctlContext *ctx, const char *path, const char *iface, const char *name,
                    GError **error);
/* ObjectManager.GetManagedObjects → a{oa{sa{sv}}}. */
GVariant *nlctl_managed_objects(NlctlContext *ctx, GError **error);
/* The a{sv} of @iface on @path in a GetManagedObjects reply, or NULL. */
GVariant *nlctl_objects_lookup(GVariant *objects, const char *path, const char *iface);
/* Every object of @iface in @objects: a sorted array of paths (ids
 * compared as numbers where they are numbers). */
GPtrArray *nlctl_objects_with(GVariant *objects, const char *iface);

/* A device given as a path or an id ("7"); NULL when @arg is neither. */
char *nlctl_device_path(const char *arg);
/* A migration given as a path or an id; NULL when @arg is neither. */
char *nlctl_migration_path(const char *arg);
/* The last element of an object path ("7" of .../device/7). */
const char *nlctl_path_id(const char *path);
/* GetInstance(@name) → the instance's path. */
char *nlctl_instance_path(NlctlContext *ctx, const char *name, GError **error);

/* "key=value" words into an a{sv}; @types (a{ss}: option → GVariant type,
 * or NULL) says how to read each value: "u"/"t" integers, "as" a comma
 * list, "b" true/false, other basic types in GVariant text, strings as
 * they are (also for options @types does not know: the daemon names them
 * in its refusal). Errors are NLCTL_USAGE_ERROR. */
GVariant *nlctl_parse_options(char **words, guint n, GVariant *types, GError **error);

/* Typed look-ups in an a{sv}, with a default. */
const char *nlctl_dict_str(GVariant *dict, const char *key);
gboolean nlctl_dict_bool(GVariant *dict, const char *key);
guint64 nlctl_dict_u64(GVariant *dict, const char *key, guint64 fallback);
guint32 nlctl_dict_u32(GVariant *dict, const char *key);

/* "1.6 s", "250 ms", "3 min 5 s". */
char *nlctl_format_duration(guint64 usec);
/* A CLOCK_REALTIME µs as local "HH:MM:SS.mmm" (with the date when not today). */
char *nlctl_format_time(guint64 realtime_usec);
/* "1.5 GiB" */
char *nlctl_format_bytes(guint64 bytes);
/* The current local time, "HH:MM:SS.mmm". */
char *nlctl_now_stamp(void);

/* GVariant → JSON: integers above G_MAXINT64 (ReadyInUsec when not
 * counting) become null; dictionaries with string keys become objects. */
JsonNode *nlctl_variant_to_json(GVariant *v);
/* {"path": @path, <every property of @props>} */
JsonObject *nlctl_props_to_json(const char *path, GVariant *props);
/* Prints @node on stdout, indented unless @one_line. */
void nlctl_print_json(JsonNode *node, gboolean one_line);
/* Convenience: prints an object, taking it. */
void nlctl_print_json_object(JsonObject *object);

/* Aligned text tables. */
typedef struct _NlctlTable NlctlTable;
NlctlTable *nlctl_table_new(const char *const *headers);
/* Adds a row of as many cells as there are headers. */
void nlctl_table_add(NlctlTable *table, const char *const *cells);
void nlctl_table_print(NlctlTable *table);
void nlctl_table_free(NlctlTable *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlctlTable, nlctl_table_free)

/* Words about the daemon's objects (nlctl-describe.c), shared by status,
 * explain and watch. */
/* Ready as a word: "yes", "in 1.6 s", "not counting", "no port". */
char *nlctl_ready_words(GVariant *device);
/* The device holding @device's MAC (OwnsMac), itself included, or NULL. */
char *nlctl_mac_owner(GVariant *objects, const char *path, GVariant *device);
/* The Instance object named @name in @objects, or NULL. */
const char *nlctl_instance_named(GVariant *objects, GPtrArray *instances, const char *name);
/* When the GuestTimeline last says "announced" (CLOCK_REALTIME µs), or 0. */
guint64 nlctl_last_announced(GVariant *instance);
/* "device 7 (vm1 nlc7)", "instance vm1", "bridge br0", "migration 2 (vm1)". */
char *nlctl_object_label(const char *path, GVariant *props);

/* The commands (main.c dispatches). */
int nlctl_cmd_status(NlctlContext *ctx);
int nlctl_cmd_backends(NlctlContext *ctx);
int nlctl_cmd_explain(NlctlContext *ctx);
int nlctl_cmd_watch(NlctlContext *ctx);
int nlctl_cmd_allocate(NlctlContext *ctx);
int nlctl_cmd_notify(NlctlContext *ctx);
int nlctl_cmd_get_device(NlctlContext *ctx);
int nlctl_cmd_get_instance(NlctlContext *ctx);
int nlctl_cmd_create(NlctlContext *ctx);
int nlctl_cmd_share_queues(NlctlContext *ctx);
int nlctl_cmd_activate(NlctlContext *ctx);
int nlctl_cmd_deactivate(NlctlContext *ctx);
int nlctl_cmd_destroy(NlctlContext *ctx);
int nlctl_cmd_free(NlctlContext *ctx);
int nlctl_cmd_announce(NlctlContext *ctx);
int nlctl_cmd_attach_qemu(NlctlContext *ctx);
int nlctl_cmd_destroy_instances(NlctlContext *ctx);
int nlctl_cmd_wait_ready(NlctlContext *ctx);
int nlctl_cmd_allow_postcopy(NlctlContext *ctx);
int nlctl_cmd_migrate(NlctlContext *ctx);
int nlctl_cmd_prepare_incoming(NlctlContext *ctx);
int nlctl_cmd_migration_call(NlctlContext *ctx, const char *method);
int nlctl_cmd_libvirt_hook(NlctlContext *ctx);

/* create --exec (nlctl-exec.c): runs the command with @fds as {0}, {1}, ... */
int nlctl_exec_with_fds(NlctlContext *ctx, GUnixFDList *fds);

/* explain's words for why an instance is not ready (nlctl-explain.c), for
 * wait-ready's timeout message: one line per device that is not ready. */
char *nlctl_explain_not_ready(NlctlContext *ctx, const char *instance_path);
