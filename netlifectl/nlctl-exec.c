/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * create --exec -- CMD ARGS...: the queue fds Create returned go to CMD as
 * fds 3, 4, ...; "{0}", "{1}", ... in ARGS become those numbers and "{fds}"
 * all of them joined by ':' (QEMU's -netdev tap,fd={0} or fds={fds}).
 * netlifectl waits for CMD and exits with its status.
 */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib-unix.h>

#include "nlctl-common.h"

#define FIRST_TARGET_FD 3

typedef struct {
        GMainLoop *loop;
        GPid pid;
        int status;
} Child;

static gboolean
append_placeholder(GString *s, const char *name, const int *targets, int n, GError **error)
{
        guint64 index;

        if (g_str_equal(name, "fds")) {
                for (int i = 0; i < n; i++)
                        g_string_append_printf(s, "%s%d", i ? ":" : "", targets[i]);
                return TRUE;
        }
        if (!g_ascii_string_to_unsigned(name, 10, 0, G_MAXINT, &index, NULL)) {
                g_string_append_printf(s, "{%s}", name);
                return TRUE;
        }
        if ((int) index >= n) {
                g_set_error(error, NLCTL_USAGE_ERROR, 0,
                            "{%s} in the command, but Create returned %d fd%s", name, n,
                            n == 1 ? "" : "s");
                return FALSE;
        }
        g_string_append_printf(s, "%d", targets[index]);
        return TRUE;
}

/* @arg with its placeholders replaced, or NULL with @error. */
static char *
substitute(const char *arg, const int *targets, int n, GError **error)
{
        g_autoptr(GString) s = g_string_new(NULL);
        const char *p = arg;

        while (*p) {
                const char *close = *p == '{' ? strchr(p, '}') : NULL;
                g_autofree char *name = close ? g_strndup(p + 1, (gsize) (close - p - 1)) : NULL;

                if (!close || !*name) {
                        g_string_append_c(s, *p++);
                        continue;
                }
                if (!append_placeholder(s, name, targets, n, error))
                        return NULL;
                p = close + 1;
        }
        return g_string_free(g_steal_pointer(&s), FALSE);
}

static void
on_child_exit(GPid pid, int status, gpointer data)
{
        Child *c = data;

        c->status = status;
        c->pid = 0;
        g_spawn_close_pid(pid);
        g_main_loop_quit(c->loop);
}

static gboolean
forward_signal(Child *c, int signo)
{
        if (c->pid)
                kill(c->pid, signo);
        return G_SOURCE_CONTINUE;
}

static gboolean
on_sigterm(gpointer data)
{
        return forward_signal(data, SIGTERM);
}

static gboolean
on_sighup(gpointer data)
{
        return forward_signal(data, SIGHUP);
}

/* The terminal sends SIGINT to CMD as well: netlifectl only waits on. */
static gboolean
on_sigint(gpointer data)
{
        return G_SOURCE_CONTINUE;
}

int
nlctl_exec_with_fds(NlctlContext *ctx, GUnixFDList *list)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
        g_autofree int *received = NULL;
        g_autofree int *sources = NULL;
        g_autofree int *targets = NULL;
        Child child = { .loop = loop };
        guint watches[3];
        gboolean spawned;
        int n = 0;

        received = g_unix_fd_list_steal_fds(list, &n);
        sources = g_new0(int, MAX(n, 1));
        targets = g_new0(int, MAX(n, 1));
        /* Move ours above the targets, so no mapping overwrites another. */
        for (int i = 0; i < n; i++) {
                targets[i] = FIRST_TARGET_FD + i;
                sources[i] = fcntl(received[i], F_DUPFD_CLOEXEC, FIRST_TARGET_FD + n);
                if (sources[i] < 0)
                        sources[i] = received[i]; /* out of fds: GLib copes with clashes */
                else
                        close(received[i]);
        }
        for (char **a = ctx->exec_argv; *a; a++) {
                char *word = substitute(*a, targets, n, &error);

                if (!word)
                        break;
                g_ptr_array_add(argv, word);
        }
        g_ptr_array_add(argv, NULL);
        spawned = !error &&
                  g_spawn_async_with_pipes_and_fds(NULL, (const char *const *) argv->pdata, NULL,
                                                   G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
                                                           G_SPAWN_CHILD_INHERITS_STDIN,
                                                   NULL, NULL, -1, -1, -1, sources, targets,
                                                   (gsize) n, &child.pid, NULL, NULL, NULL, &error);
        /* CMD holds them now (the daemon keeps its own). */
        for (int i = 0; i < n; i++)
                close(sources[i]);
        if (!spawned) {
                if (error->domain == NLCTL_USAGE_ERROR)
                        return nlctl_fail(error);
                return nlctl_die(127, "cannot run %s: %s", ctx->exec_argv[0], error->message);
        }
        g_child_watch_add(child.pid, on_child_exit, &child);
        watches[0] = g_unix_signal_add(SIGTERM, on_sigterm, &child);
        watches[1] = g_unix_signal_add(SIGHUP, on_sighup, &child);
        watches[2] = g_unix_signal_add(SIGINT, on_sigint, &child);
        g_main_loop_run(loop);
        for (gsize i = 0; i < G_N_ELEMENTS(watches); i++)
                g_source_remove(watches[i]);
        if (WIFEXITED(child.status))
                return WEXITSTATUS(child.status);
        if (WIFSIGNALED(child.status))
                return NLCTL_EXIT_SIGNAL + WTERMSIG(child.status);
        return NLCTL_EXIT_DBUS;
}
