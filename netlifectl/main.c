/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * netlifectl: the operator's command line for netlifecd, over D-Bus only.
 * This file reads the command line, connects to the bus and hands the
 * command its arguments; each command lives in the file of its concern.
 */
#include <locale.h>
#include <stdio.h>
#include <unistd.h>

#include "config.h"
#include "nlctl-common.h"

enum {
        OPT_COUNT = 1 << 0,
        OPT_EXEC = 1 << 1,
};

typedef struct {
        const char *name;
        const char *synopsis;
        const char *summary;
        int min_args; /* positional arguments after the command's name */
        int max_args; /* -1: any number */
        guint options;
        int (*run)(NlctlContext *ctx);
} Command;

static int
cmd_cancel(NlctlContext *ctx)
{
        return nlctl_cmd_migration_call(ctx, "Cancel");
}

static int
cmd_start_postcopy(NlctlContext *ctx)
{
        return nlctl_cmd_migration_call(ctx, "StartPostcopy");
}

static int
cmd_destination_ready(NlctlContext *ctx)
{
        return nlctl_cmd_migration_call(ctx, "DestinationReady");
}

static int
cmd_recover(NlctlContext *ctx)
{
        return nlctl_cmd_migration_call(ctx, "Recover");
}

static const Command commands[] = {
        { "status", "", "devices, instances, bridges and migrations as tables", 0, 0, 0,
          nlctl_cmd_status },
        { "explain", "DEVICE|INSTANCE", "why it is (not) ready, who owns the MAC, last announce", 1,
          1, 0, nlctl_cmd_explain },
        { "watch", "[--count N]", "print the daemon's signals as they come, time-stamped", 0, 0,
          OPT_COUNT, nlctl_cmd_watch },
        { "backends", "", "the backends, their capabilities and option types", 0, 0, 0,
          nlctl_cmd_backends },
        { "allocate", "INSTANCE BACKEND MAC [KEY=VALUE...]", "reserve a device (Manager.Allocate)",
          3, -1, 0, nlctl_cmd_allocate },
        { "notify", "INSTANCE BACKEND MAC [KEY=VALUE...]",
          "adopt a device that exists (Manager.Notify)", 3, -1, 0, nlctl_cmd_notify },
        { "get-device", "INSTANCE MAC", "the device's path (Manager.GetDevice)", 2, 2, 0,
          nlctl_cmd_get_device },
        { "get-instance", "NAME", "the instance's path (Manager.GetInstance)", 1, 1, 0,
          nlctl_cmd_get_instance },
        { "create", "DEVICE [--exec -- CMD [ARG...]]",
          "create the kernel device; with --exec run CMD holding its queue fds", 1, 1, OPT_EXEC,
          nlctl_cmd_create },
        { "share-queues", "DEVICE INSTANCE [--exec -- CMD [ARG...]]",
          "new queues of the device's tap for a second QEMU of the guest, INSTANCE "
          "(localhost upgrade); --exec as for create",
          2, 2, OPT_EXEC, nlctl_cmd_share_queues },
        { "activate", "DEVICE|INSTANCE", "make the device (or every device) hold the MAC", 1, 1, 0,
          nlctl_cmd_activate },
        { "deactivate", "DEVICE|INSTANCE", "remove the MAC's FDB entry; the port stays", 1, 1, 0,
          nlctl_cmd_deactivate },
        { "destroy", "DEVICE", "delete the kernel device", 1, 1, 0, nlctl_cmd_destroy },
        { "free", "DEVICE", "release the record; the object goes away", 1, 1, 0, nlctl_cmd_free },
        { "destroy-instances", "INSTANCE...",
          "deactivate and destroy every device of the instances, in one batch", 1, -1, 0,
          nlctl_cmd_destroy_instances },
        { "announce", "DEVICE", "send a RARP for the guest MAC", 1, 1, 0, nlctl_cmd_announce },
        { "attach-qemu", "INSTANCE SOCKET", "follow the guest's CPUs through QMP", 2, 2, 0,
          nlctl_cmd_attach_qemu },
        { "wait-ready", "INSTANCE [TIMEOUT_MS]", "wait until every port forwards (default 30000)",
          1, 2, 0, nlctl_cmd_wait_ready },
        { "allow-postcopy", "INSTANCE true|false", "set the instance's AllowPostcopy", 2, 2, 0,
          nlctl_cmd_allow_postcopy },
        { "migrate", "INSTANCE URI [KEY=VALUE...]", "migrate the guest and follow it to the end", 2,
          -1, 0, nlctl_cmd_migrate },
        { "prepare-incoming", "INSTANCE URI [KEY=VALUE...]",
          "receive the guest here and follow it to the end", 2, -1, 0, nlctl_cmd_prepare_incoming },
        { "cancel", "MIGRATION", "cancel a migration that has not switched", 1, 1, 0, cmd_cancel },
        { "start-postcopy", "MIGRATION", "ask for the post-copy switch now (still gated)", 1, 1, 0,
          cmd_start_postcopy },
        { "destination-ready", "MIGRATION", "say the destination is ready (coordinated)", 1, 1, 0,
          cmd_destination_ready },
        { "recover", "MIGRATION URI", "resume a paused post-copy migration", 2, 2, 0, cmd_recover },
        { "libvirt-hook", "DOMAIN OPERATION SUB-OPERATION EXTRA",
          "libvirt's qemu hook, the domain XML on stdin (installed in "
          "/etc/libvirt/hooks/qemu.d/)",
          4, 4, 0, nlctl_cmd_libvirt_hook },
};

static void
print_help(FILE *out)
{
        fprintf(out, "Usage: netlifectl [OPTION...] COMMAND [ARG...]\n\n"
                     "The operator's command line for netlifecd (org.netlifecd1).\n\n"
                     "Commands:\n");
        for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
                fprintf(out, "  %s%s%s\n        %s\n", commands[i].name,
                        *commands[i].synopsis ? " " : "", commands[i].synopsis,
                        commands[i].summary);
        fprintf(out,
                "\nDEVICE is an object path or a device id (7); INSTANCE a guest instance name;\n"
                "MIGRATION a path or a migration id. KEY=VALUE options are typed from the\n"
                "backend's table (Manager.Backends) or the migration options: integers,\n"
                "true/false, comma lists for \"as\". In --exec arguments {0}, {1}, ... become\n"
                "the queue fds' numbers in CMD, {fds} all of them joined by ':'.\n\n"
                "Options:\n"
                "  --system           the system bus (default)\n"
                "  --session          the session bus\n"
                "  --address ADDR     a D-Bus address (a private bus)\n"
                "  --json             JSON output for scripts\n"
                "  --count N          watch: stop after N lines\n"
                "  --exec -- CMD...   create: run CMD with the fds, exit with its status\n"
                "  -h, --help         this help\n"
                "  --version          netlifectl's version\n\n"
                "Exit codes: 0 ok; 1 a D-Bus error from the daemon; 2 usage; 3 cannot\n"
                "connect (no bus, or netlifecd not on it); 4 migration failed or cancelled;\n"
                "5 wait-ready timed out; 128+N migrate interrupted by signal N (the\n"
                "migration goes on); create --exec: CMD's status.\n"
                "See netlifectl(1).\n");
}

static const Command *
find_command(const char *name)
{
        for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
                if (g_str_equal(commands[i].name, name))
                        return &commands[i];
        return NULL;
}

static GDBusConnection *
connect_bus(const char *bus, const char *address, GError **error)
{
        if (address)
                return g_dbus_connection_new_for_address_sync(
                        address,
                        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                        NULL, NULL, error);
        return g_bus_get_sync(g_strcmp0(bus, "--session") == 0 ? G_BUS_TYPE_SESSION
                                                               : G_BUS_TYPE_SYSTEM,
                              NULL, error);
}

typedef struct {
        const char *bus; /* "--system", "--session", "--address" or NULL */
        const char *address;
        gboolean count_given;
        GPtrArray *pos;
} Parsed;

/* One option word at argv[*i]; FALSE (having printed why) on a usage error. */
static gboolean
parse_option(NlctlContext *ctx, Parsed *p, int argc, char **argv, int *i)
{
        const char *a = argv[*i];
        const char *value = NULL;

        if (g_str_equal(a, "--system") || g_str_equal(a, "--session") ||
            g_str_equal(a, "--address") || g_str_has_prefix(a, "--address=")) {
                const char *kind = g_str_has_prefix(a, "--address") ? "--address" : a;

                if (p->bus && !g_str_equal(p->bus, kind)) {
                        nlctl_die(NLCTL_EXIT_USAGE, "%s and %s exclude each other", p->bus, kind);
                        return FALSE;
                }
                p->bus = kind;
                if (g_str_equal(kind, "--address")) {
                        value = g_str_has_prefix(a, "--address=") ? a + 10
                                : *i + 1 < argc                   ? argv[++*i]
                                                                  : NULL;
                        if (!value || !*value) {
                                nlctl_die(NLCTL_EXIT_USAGE, "--address needs a D-Bus address");
                                return FALSE;
                        }
                        p->address = value;
                }
        } else if (g_str_equal(a, "--json")) {
                ctx->json = TRUE;
        } else if (g_str_equal(a, "--exec")) {
                ctx->exec = TRUE;
        } else if (g_str_equal(a, "--count") || g_str_has_prefix(a, "--count=")) {
                value = g_str_has_prefix(a, "--count=") ? a + 8 : *i + 1 < argc ? argv[++*i] : "";
                if (!g_ascii_string_to_unsigned(value, 10, 1, G_MAXUINT32, &ctx->count, NULL)) {
                        nlctl_die(NLCTL_EXIT_USAGE, "--count needs a number from 1, not '%s'",
                                  value);
                        return FALSE;
                }
                p->count_given = TRUE;
        } else {
                nlctl_die(NLCTL_EXIT_USAGE, "unknown option %s", a);
                return FALSE;
        }
        return TRUE;
}

/* The command, its arguments and its options, or a usage error. */
static int
check_command(NlctlContext *ctx, Parsed *p, const Command **out)
{
        const Command *cmd = find_command(p->pos->pdata[0]);
        int n;

        if (!cmd)
                return nlctl_die(NLCTL_EXIT_USAGE, "unknown command '%s'",
                                 (const char *) p->pos->pdata[0]);
        n = (int) p->pos->len - 1;
        if (n < cmd->min_args || (cmd->max_args >= 0 && n > cmd->max_args))
                return nlctl_die(NLCTL_EXIT_USAGE, "usage: netlifectl %s %s", cmd->name,
                                 cmd->synopsis);
        if (p->count_given && !(cmd->options & OPT_COUNT))
                return nlctl_die(NLCTL_EXIT_USAGE, "--count is an option of watch only");
        if (ctx->exec && !(cmd->options & OPT_EXEC))
                return nlctl_die(NLCTL_EXIT_USAGE, "--exec is an option of create only");
        if (ctx->exec && (!ctx->exec_argv || !ctx->exec_argv[0]))
                return nlctl_die(NLCTL_EXIT_USAGE, "--exec needs a command after --");
        *out = cmd;
        return NLCTL_EXIT_OK;
}

int
main(int argc, char **argv)
{
        g_autoptr(GPtrArray) pos = g_ptr_array_new();
        g_autoptr(GError) error = NULL;
        NlctlContext ctx = { 0 };
        Parsed p = { .pos = pos };
        const Command *cmd = NULL;
        int i, code;

        setlocale(LC_ALL, "");
        for (i = 1; i < argc; i++) {
                const char *a = argv[i];

                if (g_str_equal(a, "--")) {
                        i++;
                        break;
                }
                if (g_str_equal(a, "--help") || g_str_equal(a, "-h")) {
                        print_help(stdout);
                        return NLCTL_EXIT_OK;
                }
                if (g_str_equal(a, "--version")) {
                        g_print("netlifectl %s\n", NLC_VERSION);
                        return NLCTL_EXIT_OK;
                }
                if (a[0] == '-' && a[1] && !parse_option(&ctx, &p, argc, argv, &i))
                        return NLCTL_EXIT_USAGE;
                if (a[0] != '-' || !a[1])
                        g_ptr_array_add(pos, argv[i]);
        }
        /* After "--": the command --exec runs, or plain arguments. */
        if (ctx.exec)
                ctx.exec_argv = argv + i;
        else
                for (; i < argc; i++)
                        g_ptr_array_add(pos, argv[i]);
        if (pos->len == 0) {
                print_help(stderr);
                return NLCTL_EXIT_USAGE;
        }
        if (g_str_equal(pos->pdata[0], "help")) {
                print_help(stdout);
                return NLCTL_EXIT_OK;
        }
        code = check_command(&ctx, &p, &cmd);
        if (code != NLCTL_EXIT_OK)
                return code;
        ctx.args = (char **) pos->pdata + 1;
        ctx.n_args = pos->len - 1;
        ctx.tty = isatty(STDOUT_FILENO);
        ctx.conn = connect_bus(p.bus, p.address, &error);
        if (!ctx.conn)
                return nlctl_die(NLCTL_EXIT_CONNECT, "cannot connect to %s: %s",
                                 p.address                            ? p.address
                                 : g_strcmp0(p.bus, "--session") == 0 ? "the session bus"
                                                                      : "the system bus",
                                 error->message);
        g_dbus_connection_set_exit_on_close(ctx.conn, FALSE);
        code = cmd->run(&ctx);
        g_object_unref(ctx.conn);
        return code;
}
