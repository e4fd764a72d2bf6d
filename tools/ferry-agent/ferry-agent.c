/*
 * ferry-agent: talks to a guest agent over a pvchannel's socket.
 *
 *   ferry-agent -s PATH ping            guest-ping
 *   ferry-agent -s PATH info            guest-info
 *   ferry-agent -s PATH call JSON       {"execute": ..., "arguments": ...}
 *   ferry-agent -s PATH load [OPTIONS]  continuous traffic, driven from
 *                                       stdin (tools/ferry-agent/load.c)
 * Prints the "return" value as JSON; exit status 1 on an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ferry-agent.h"

static char *opt_socket;
static gint opt_timeout = 10000;
static gint opt_inflight = 8;
static gint opt_sleep = 200;
static gint opt_keys = 4;

static const GOptionEntry entries[] = {
    { "socket", 's', 0, G_OPTION_ARG_FILENAME, &opt_socket,
      "the pvchannel's chardev socket", "PATH" },
    { "timeout", 't', 0, G_OPTION_ARG_INT, &opt_timeout,
      "per-call timeout in ms (0: none)", "MS" },
    { "inflight", 0, 0, G_OPTION_ARG_INT, &opt_inflight,
      "load: calls kept in flight", "N" },
    { "sleep-ms", 0, 0, G_OPTION_ARG_INT, &opt_sleep,
      "load: x-guest-sleep length", "MS" },
    { "keys", 0, 0, G_OPTION_ARG_INT, &opt_keys,
      "load: x-guest-incr counters", "N" },
    { NULL }
};

static void print_node(JsonNode *n)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autofree char *text = NULL;

    json_generator_set_root(gen, n);
    text = json_generator_to_data(gen, NULL);
    printf("%s\n", text);
}

/* call's JSON: the command and its arguments. */
static bool parse_call(const char *json, char **cmd, JsonNode **args,
                       GError **errp)
{
    g_autoptr(JsonParser) p = json_parser_new();
    JsonNode *root, *a;
    JsonObject *o;

    if (!json_parser_load_from_data(p, json, -1, errp)) {
        return false;
    }
    root = json_parser_get_root(p);
    if (!JSON_NODE_HOLDS_OBJECT(root) ||
        !json_object_has_member(o = json_node_get_object(root), "execute")) {
        g_set_error(errp, FERRY_AGENT_ERROR, FERRY_AGENT_ERROR_INVALID,
                    "expected {\"execute\": COMMAND, \"arguments\": {...}}");
        return false;
    }
    *cmd = g_strdup(json_object_get_string_member(o, "execute"));
    a = json_object_get_member(o, "arguments");
    *args = a ? json_node_copy(a) : NULL;
    return *cmd != NULL;
}

static int run_call(FerryAgent *a, const char *cmd, JsonNode *args)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonNode) ret = ferry_agent_call(a, cmd, args,
                                               (unsigned)opt_timeout, &err);

    if (!ret) {
        fprintf(stderr, "ferry-agent: %s: %s\n", cmd, err->message);
        return 1;
    }
    print_node(ret);
    return 0;
}

static int run(FerryAgent *a, int argc, char **argv)
{
    const char *what = argv[1];

    if (!strcmp(what, "ping") && argc == 2) {
        return run_call(a, "guest-ping", NULL);
    }
    if (!strcmp(what, "info") && argc == 2) {
        return run_call(a, "guest-info", NULL);
    }
    if (!strcmp(what, "call") && argc == 3) {
        g_autoptr(GError) err = NULL;
        g_autofree char *cmd = NULL;
        g_autoptr(JsonNode) args = NULL;

        if (!parse_call(argv[2], &cmd, &args, &err)) {
            fprintf(stderr, "ferry-agent: call: %s\n", err->message);
            return 2;
        }
        return run_call(a, cmd, args);
    }
    if (!strcmp(what, "load") && argc == 2) {
        LoadOptions o = { (unsigned)opt_inflight, (unsigned)opt_sleep,
                          (unsigned)opt_keys, (unsigned)opt_timeout };
        return agent_load_run(a, &o);
    }
    fprintf(stderr, "ferry-agent: unknown command (ping, info, call JSON, "
            "load)\n");
    return 2;
}

int main(int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = g_option_context_new(
        "ping | info | call JSON | load");
    g_autoptr(GError) err = NULL;
    FerryAgent *a;
    int fd, status;

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &err) || argc < 2 ||
        !opt_socket || opt_inflight < 1 || opt_keys < 1) {
        fprintf(stderr, "ferry-agent: %s\n", err ? err->message :
                "usage: ferry-agent -s PATH ping|info|call JSON|load");
        return 2;
    }
    if ((fd = ferry_agent_connect_unix(opt_socket, &err)) < 0 ||
        !(a = ferry_agent_new(fd, &err))) {
        fprintf(stderr, "ferry-agent: %s\n", err->message);
        return 1;
    }
    status = run(a, argc, argv);
    ferry_agent_free(a);
    return status;
}
