/*
 * ferryctl: the human monitor over a QMP socket.
 *
 *   ferryctl -s /tmp/qmp.sock info status
 *   ferryctl -s tcp:localhost:4444 --json stop
 *
 * It runs the VMM's own HMP code (monitor/hmp.c), so its commands and
 * output are those of "-monitor".  Exit status: 0 success, 1 the command
 * failed (the error text goes to stderr), 2 no usable connection.
 */
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <gio/gio.h>
#include "monitor/hmp.h"
#include "util/json.h"
#include "qmp-socket.h"

typedef struct Ctl {
    QmpSocket *qmp;
    bool json;                  /* print raw replies, not human output */
    bool progress_shown;        /* a progress line awaits its newline */
} Ctl;

static JsonNode *ctl_qmp(void *opaque, const char *command, JsonObject *args,
                         GError **errp)
{
    Ctl *ctl = opaque;
    g_autoptr(JsonNode) raw = NULL;
    JsonNode *ret = qmp_socket_execute(ctl->qmp, command, args, &raw, errp);

    if (ctl->json && raw) {
        g_autofree char *text = qjson_to_string(raw);

        printf("%s\n", text);
    }
    return ret;
}

/* Rebuilds the command line, quoting words the shell had split. */
static char *join_words(int argc, char **argv)
{
    GString *line = g_string_new(NULL);

    for (int i = 0; i < argc; i++) {
        if (i) {
            g_string_append_c(line, ' ');
        }
        if (!*argv[i] || strpbrk(argv[i], " \t\"\\")) {
            g_string_append_c(line, '"');
            for (const char *p = argv[i]; *p; p++) {
                if (*p == '"' || *p == '\\') {
                    g_string_append_c(line, '\\');
                }
                g_string_append_c(line, *p);
            }
            g_string_append_c(line, '"');
        } else {
            g_string_append(line, argv[i]);
        }
    }
    return g_string_free(line, FALSE);
}

/* A progress line that rewrites itself on a terminal; silent otherwise. */
static void show_progress(void *opaque, const char *line)
{
    Ctl *ctl = opaque;

    if (!ctl->json && isatty(STDOUT_FILENO)) {
        printf("\r%s\033[K", line);
        fflush(stdout);
        ctl->progress_shown = true;
    }
}

static int run(const char *address, bool json, int timeout, int argc,
               char **argv)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *line = join_words(argc, argv);
    g_autoptr(GString) out = g_string_new(NULL);
    Ctl ctl = { .json = json };
    Hmp hmp = { .qmp = ctl_qmp, .opaque = &ctl, .out = out,
                .can_wait = true, .progress = show_progress };
    bool ok;

    ctl.qmp = qmp_socket_connect(address, timeout * 1000, &err);
    if (!ctl.qmp || !qmp_socket_negotiate(ctl.qmp, &err)) {
        fprintf(stderr, "ferryctl: %s\n", err->message);
        qmp_socket_close(ctl.qmp);
        return 2;
    }
    ok = hmp_execute(&hmp, line, &err);
    qmp_socket_close(ctl.qmp);
    if (ctl.progress_shown) {
        putchar('\n');
    }
    if (!json) {
        fputs(out->str, stdout);
    }
    if (!ok) {
        fprintf(stderr, "ferryctl: %s\n", err->message);
        return err->domain == G_IO_ERROR ? 2 : 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    g_autofree char *address = NULL;
    gboolean json = FALSE;
    int timeout = 60;
    g_auto(GStrv) rest = NULL;
    g_autoptr(GError) err = NULL;
    GOptionEntry entries[] = {
        { "socket", 's', 0, G_OPTION_ARG_STRING, &address,
          "QMP socket: a path, unix:PATH or tcp:HOST:PORT", "ADDR" },
        { "json", 'j', 0, G_OPTION_ARG_NONE, &json,
          "print the raw QMP replies instead of the human output", NULL },
        { "timeout", 't', 0, G_OPTION_ARG_INT, &timeout,
          "seconds to wait for a reply (default 60)", "SECS" },
        { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL,
          NULL },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx =
        g_option_context_new("COMMAND... - run a human monitor command");

    g_option_context_add_main_entries(ctx, entries, NULL);
    /* options end at the command: "migrate -d URI" keeps its -d */
    g_option_context_set_strict_posix(ctx, TRUE);
    g_option_context_set_description(ctx,
        "Commands are those of ferry's -monitor; try 'help'.\n"
        "Exit status: 0 success, 1 the command failed, 2 connection "
        "failure.");
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "ferryctl: %s\n", err->message);
        return 2;
    }
    if (!address || !rest || !rest[0]) {
        fprintf(stderr, "usage: ferryctl -s SOCKET [--json] COMMAND...\n"
                "(ferryctl --help for more)\n");
        return 2;
    }
    return run(address, json, timeout, g_strv_length(rest), rest);
}
