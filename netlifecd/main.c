/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * netlifecd: owns org.netlifecd1 on the system bus (or --session/--address),
 * restores the journalled devices, and serves the lifecycle API.
 */
#include "config.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <signal.h>
#include <sys/stat.h>

#include "nlc-backends.h"
#include "nlc-config.h"
#include "nlc-dbus-names.h"
#include "nlc-error.h"
#include "nlc-manager.h"
#include "nlc-netlink.h"
#include "nlc-port-association.h"
#include "nlc-process.h"

typedef struct {
        GMainLoop *loop;
        int exit_code;
} Daemon;

static gboolean
on_quit_signal(gpointer user_data)
{
        Daemon *d = user_data;

        g_message("shutting down on signal; devices stay as they are");
        g_main_loop_quit(d->loop);
        return G_SOURCE_REMOVE;
}

static void
on_name_acquired(GDBusConnection *connection, const char *name, gpointer user_data)
{
        g_message("ready: %s", name);
}

static void
on_name_lost(GDBusConnection *connection, const char *name, gpointer user_data)
{
        Daemon *d = user_data;

        g_printerr("netlifecd: could not own %s on the bus (another instance running?)\n", name);
        d->exit_code = 1;
        g_main_loop_quit(d->loop);
}

static void
on_connection_closed(GDBusConnection *connection, gboolean remote_peer_vanished, GError *error,
                     gpointer user_data)
{
        Daemon *d = user_data;

        g_printerr("netlifecd: lost the bus connection%s%s\n", error ? ": " : "",
                   error ? error->message : "");
        d->exit_code = 1;
        g_main_loop_quit(d->loop);
}

static GDBusConnection *
connect_bus(gboolean session, const char *address, GError **error)
{
        if (address)
                return g_dbus_connection_new_for_address_sync(
                        address,
                        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                        NULL, NULL, error);
        return g_bus_get_sync(session ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM, NULL, error);
}

int
main(int argc, char **argv)
{
        gboolean session = FALSE, verbose = FALSE, version = FALSE;
        int monitor_rcvbuf = 0;
        g_autofree char *address = NULL;
        g_autofree char *state_dir = NULL;
        g_autofree char *runtime_dir = NULL;
        g_autofree char *config_path = NULL;
        NlcConfig host;
        const GOptionEntry entries[] = {
                { "session", 0, 0, G_OPTION_ARG_NONE, &session, "Use the session bus", NULL },
                { "address", 0, 0, G_OPTION_ARG_STRING, &address,
                  "Use the message bus at this D-Bus address", "ADDR" },
                { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
                  "Journal directory (default " NLC_DEFAULT_STATE_DIR ")", "DIR" },
                { "config", 0, 0, G_OPTION_ARG_FILENAME, &config_path,
                  "Host configuration (default " NLC_DEFAULT_CONFIG ")", "FILE" },
                { "runtime-dir", 0, 0, G_OPTION_ARG_FILENAME, &runtime_dir,
                  "Runtime directory (default " NLC_DEFAULT_RUNTIME_DIR ")", "DIR" },
                { "monitor-rcvbuf", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &monitor_rcvbuf,
                  "Kernel event socket buffer in bytes (tests use a tiny one to force overruns)",
                  "BYTES" },
                { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log debug messages", NULL },
                { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL },
                { NULL },
        };
        g_autoptr(GOptionContext) context =
                g_option_context_new("- network-device lifecycle service");
        g_autoptr(GError) error = NULL;
        g_autoptr(GDBusConnection) connection = NULL;
        g_autoptr(NlcManager) manager = NULL;
        g_autoptr(GMainLoop) loop = NULL;
        Daemon d = { 0 };
        guint owner_id;
        int r;

        g_option_context_add_main_entries(context, entries, NULL);
        if (!g_option_context_parse(context, &argc, &argv, &error)) {
                g_printerr("netlifecd: %s\n", error->message);
                return 2;
        }
        if (version) {
                g_print("netlifecd %s\n", NLC_VERSION);
                return 0;
        }
        if (session && address) {
                g_printerr("netlifecd: --session and --address exclude each other\n");
                return 2;
        }
        if (verbose)
                g_setenv("G_MESSAGES_DEBUG", "all", TRUE);
        /* Refused at start, naming the line: better than a surprise later. */
        if (!nlc_config_load(&host, config_path ? config_path : NLC_DEFAULT_CONFIG,
                             config_path != NULL, &error)) {
                g_printerr("netlifecd: %s\n", error->message);
                return 2;
        }
        nlc_port_association_configure(host.lldpad_pid_file, host.port_profile_timeout_ms,
                                       host.port_profile_host_uuid);
        nlc_port_association_set_watch(host.port_profile_watch_ms);
        if (!state_dir)
                state_dir = g_strdup(NLC_DEFAULT_STATE_DIR);
        if (!runtime_dir)
                runtime_dir = g_strdup(NLC_DEFAULT_RUNTIME_DIR);
        /* A peer that goes away while we write into a queue must not kill us. */
        signal(SIGPIPE, SIG_IGN);
        umask(0077);

        /* Alone on the state directory, before anything is read from it. */
        if (nlc_state_dir_lock(state_dir, &error) < 0) {
                g_printerr("netlifecd: %s\n", error->message);
                return 1;
        }
        g_debug("file descriptors: up to %" G_GUINT64_FORMAT, nlc_raise_fd_limit());
        if (g_mkdir_with_parents(runtime_dir, 0755) < 0) {
                g_printerr("netlifecd: cannot create %s: %s\n", runtime_dir, g_strerror(errno));
                return 1;
        }
        r = nlc_netlink_init();
        if (r < 0) {
                g_printerr("netlifecd: cannot open rtnetlink: %s\n", g_strerror(-r));
                return 1;
        }
        nlc_error_quark(); /* register org.netlifecd1.Error.* before any call */
        nlc_backends_init();
        /* Before the restore: its re-associations name the event port. */
        nlc_port_association_listen(host.port_profile_event_port);

        if (monitor_rcvbuf < 0) {
                g_printerr("netlifecd: --monitor-rcvbuf must not be negative\n");
                return 2;
        }
        manager = nlc_manager_new(&(NlcManagerConfig){ .host = &host,
                                                       .state_dir = state_dir,
                                                       .runtime_dir = runtime_dir,
                                                       .monitor_rcvbuf = (guint) monitor_rcvbuf,
                                                       .system_bus = !session && !address },
                                  &error);
        if (!manager) {
                g_printerr("netlifecd: %s\n", error->message);
                return 1;
        }
        connection = connect_bus(session, address, &error);
        if (!connection) {
                g_printerr("netlifecd: cannot connect to the bus: %s\n", error->message);
                return 1;
        }
        loop = g_main_loop_new(NULL, FALSE);
        d.loop = loop;
        g_dbus_connection_set_exit_on_close(connection, FALSE);
        g_signal_connect(connection, "closed", G_CALLBACK(on_connection_closed), &d);
        /* Everything is exported before the name is owned: a client that sees
         * the name sees every restored device. */
        if (!nlc_manager_export(manager, connection, &error)) {
                g_printerr("netlifecd: cannot export objects: %s\n", error->message);
                return 1;
        }
        owner_id = g_bus_own_name_on_connection(connection, NLC_DBUS_SERVICE,
                                                G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
                                                on_name_acquired, on_name_lost, &d, NULL);
        g_unix_signal_add(SIGTERM, on_quit_signal, &d);
        g_unix_signal_add(SIGINT, on_quit_signal, &d);

        g_main_loop_run(loop);

        g_bus_unown_name(owner_id);
        nlc_manager_unexport(manager);
        g_dbus_connection_flush_sync(connection, NULL, NULL);
        g_clear_object(&manager);
        nlc_netlink_close();
        return d.exit_code;
}
