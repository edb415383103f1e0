/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a hypervisor driver does with netlifecd, in one small program to copy:
 * allocate a tap-bridge device for a guest, create it (the daemon hands back
 * the tap's queue fds), start the hypervisor with those fds, activate the
 * device once it runs, and tear everything down when it exits.
 *
 *   hypervisor-driver [--address ADDR] INSTANCE BRIDGE MAC -- COMMAND [ARG...]
 *
 * In COMMAND, "{0}", "{1}", ... become the fd numbers the child finds the
 * queues at, e.g.
 *
 *   hypervisor-driver vm1 br0 52:54:00:12:34:56 -- \
 *       qemu-system-x86_64 ... -netdev tap,id=n0,fd={0} -device virtio-net-pci,netdev=n0
 *
 * Plain GIO, nothing from netlifecd's own code: errors are printed as the
 * daemon named them (org.netlifecd1.Error.*).
 */
#include <gio/gio.h>
#include <gio/gunixfdlist.h>
#include <stdio.h>
#include <sys/wait.h>

#define BUS            "org.netlifecd1"
#define MANAGER        "org.netlifecd1.Manager"
#define DEVICE         "org.netlifecd1.Device"
#define FIRST_CHILD_FD 3 /* the child finds queue i at fd 3 + i */

static int
fail(const char *what, GError *error)
{
        g_autofree char *name = g_dbus_error_get_remote_error(error);

        g_dbus_error_strip_remote_error(error);
        fprintf(stderr, "hypervisor-driver: %s: %s%s%s\n", what, name ? name : "", name ? ": " : "",
                error->message);
        return 1;
}

/* A method of the device with no arguments and no reply. */
static gboolean
device_call(GDBusConnection *bus, const char *path, const char *method, GError **error)
{
        g_autoptr(GVariant) reply =
                g_dbus_connection_call_sync(bus, BUS, path, DEVICE, method, NULL, NULL,
                                            G_DBUS_CALL_FLAGS_NONE, -1, NULL, error);

        return reply != NULL;
}

/* COMMAND with "{i}" replaced by the fd number of queue i. */
static char **
child_argv(char **command, guint n_fds)
{
        GPtrArray *argv = g_ptr_array_new();

        for (guint a = 0; command[a]; a++) {
                g_autoptr(GString) arg = g_string_new(command[a]);

                for (guint i = 0; i < n_fds; i++) {
                        g_autofree char *from = g_strdup_printf("{%u}", i);
                        g_autofree char *to = g_strdup_printf("%u", FIRST_CHILD_FD + i);

                        g_string_replace(arg, from, to, 0);
                }
                g_ptr_array_add(argv, g_string_free(g_steal_pointer(&arg), FALSE));
        }
        g_ptr_array_add(argv, NULL);
        return (char **) g_ptr_array_free(argv, FALSE);
}

int
main(int argc, char **argv)
{
        g_autofree char *address = NULL;
        const GOptionEntry entries[] = {
                { "address", 0, 0, G_OPTION_ARG_STRING, &address,
                  "the daemon's bus (default: the system bus)", "ADDR" },
                { NULL },
        };
        g_autoptr(GOptionContext) oc =
                g_option_context_new("INSTANCE BRIDGE MAC -- COMMAND [ARG...]");
        g_autoptr(GError) error = NULL;
        g_autoptr(GDBusConnection) bus = NULL;
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GUnixFDList) fd_list = NULL;
        g_autofree char *path = NULL;
        g_auto(GStrv) child = NULL;
        g_autofree int *target_fds = NULL;
        const int *fds;
        GPid pid;
        int n_fds, status = 0;

        g_option_context_add_main_entries(oc, entries, NULL);
        if (!g_option_context_parse(oc, &argc, &argv, &error) || argc < 5 ||
            !g_str_equal(argv[4], "--") || argc < 6) {
                fprintf(stderr, "usage: hypervisor-driver [--address ADDR] INSTANCE BRIDGE MAC "
                                "-- COMMAND [ARG...]\n");
                return 2;
        }
        bus = address ? g_dbus_connection_new_for_address_sync(
                                address,
                                G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                NULL, NULL, &error)
                      : g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &error);
        if (!bus)
                return fail("no bus", error);

        /* 1. Allocate: the daemon records the device (journalled) and picks
         *    nothing in the kernel yet. */
        reply = g_dbus_connection_call_sync(
                bus, BUS, "/org/netlifecd1", MANAGER, "Allocate",
                g_variant_new_parsed("(%s, 'tap-bridge', %s, {'bridge': <%s>})", argv[1], argv[3],
                                     argv[2]),
                G_VARIANT_TYPE("(o)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
        if (!reply)
                return fail("Allocate", error);
        g_variant_get(reply, "(o)", &path);
        g_clear_pointer(&reply, g_variant_unref);
        printf("device %s\n", path);

        /* 2. Create: the tap exists, on the bridge, its port counting STP;
         *    the reply carries the queue fds (an "ah" of indexes into the
         *    message's fd list). */
        reply = g_dbus_connection_call_with_unix_fd_list_sync(
                bus, BUS, path, DEVICE, "Create", NULL, G_VARIANT_TYPE("(ah)"),
                G_DBUS_CALL_FLAGS_NONE, -1, NULL, &fd_list, NULL, &error);
        if (!reply)
                return fail("Create", error);
        fds = g_unix_fd_list_peek_fds(fd_list, &n_fds);

        /* 3. The hypervisor inherits the queues at fds 3, 4, ... */
        target_fds = g_new(int, n_fds);
        for (int i = 0; i < n_fds; i++)
                target_fds[i] = FIRST_CHILD_FD + i;
        child = child_argv(argv + 5, (guint) n_fds);
        if (!g_spawn_async_with_pipes_and_fds(NULL, (const char *const *) child, NULL,
                                              G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                              NULL, -1, -1, -1, fds, target_fds, (gsize) n_fds,
                                              &pid, NULL, NULL, NULL, &error))
                return fail(child[0], error);
        /* The child has its copies; ours would keep the queues alive. */
        g_clear_object(&fd_list);

        /* 4. Activate once the guest runs: the bridge's static entry for the
         *    MAC moves to this tap. A migration-aware driver would rather
         *    let the daemon follow QEMU (Manager.AttachQemu). */
        if (!device_call(bus, path, "Activate", &error)) {
                fail("Activate", error);
                g_clear_error(&error);
        }
        printf("running %s (pid %d)\n", child[0], pid);
        fflush(stdout);
        waitpid(pid, &status, 0);
        g_spawn_close_pid(pid);

        /* 5. Tear down in order: the MAC released first, then the tap, then
         *    the record. Each step is idempotent: a retry after a crash of
         *    this driver just repeats it. */
        if (!device_call(bus, path, "Deactivate", &error) ||
            !device_call(bus, path, "Destroy", &error) || !device_call(bus, path, "Free", &error))
                return fail("teardown", error);
        printf("%s exited with %d; device freed\n", child[0],
               WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
