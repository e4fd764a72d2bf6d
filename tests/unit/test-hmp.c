/*
 * The human monitor (monitor/hmp.c, hmp-cmds.c) against a fake QMP
 * transport: which QMP requests a command line becomes, and how replies
 * and errors are shown.
 */
#include <string.h>
#include "monitor/hmp.h"
#include "util/json.h"
#include "util/error.h"

/* The fake VMM: canned replies by command, and a log of requests. */
typedef struct Fake {
    GPtrArray *log;             /* "command {args}" */
    const char *const *replies; /* command, JSON reply or "!error", ... */
} Fake;

static JsonNode *fake_qmp(void *opaque, const char *command, JsonObject *args,
                          GError **errp)
{
    Fake *f = opaque;
    g_autoptr(JsonNode) a = json_node_alloc();
    g_autofree char *text = NULL;

    json_node_init_object(a, args ? args : json_object_new());
    if (!args) {
        json_object_unref(json_node_get_object(a));
    }
    text = qjson_to_string(a);
    g_ptr_array_add(f->log, g_strdup_printf("%s %s", command, text));
    for (const char *const *r = f->replies; r && *r; r += 2) {
        if (strcmp(r[0], command)) {
            continue;
        }
        if (r[1][0] == '!') {
            g_set_error(errp, FERRY_ERROR, FERRY_ERROR_GENERIC, "%s",
                        r[1] + 1);
            return NULL;
        }
        return qjson_parse(r[1], strlen(r[1]), errp);
    }
    return json_node_init_object(json_node_alloc(), json_object_new());
}

typedef struct Run {
    bool ok;
    char *out;
    char *error;
    GPtrArray *log;
} Run;

static void run_clear(Run *r)
{
    g_free(r->out);
    g_free(r->error);
    g_ptr_array_unref(r->log);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Run, run_clear)

static Run run_table(const HmpCommand *table, const char *line,
                     const char *const *replies)
{
    Fake f = { g_ptr_array_new_with_free_func(g_free), replies };
    GString *out = g_string_new(NULL);
    Hmp hmp = { .qmp = fake_qmp, .opaque = &f, .out = out };
    g_autoptr(GError) err = NULL;
    Run r = { .log = f.log };

    r.ok = hmp_execute_table(&hmp, table, line, &err);
    r.out = g_string_free(out, FALSE);
    r.error = err ? g_strdup(err->message) : NULL;
    g_assert_true(r.ok == !err);
    return r;
}

static Run run(const char *line, const char *const *replies)
{
    return run_table(hmp_commands, line, replies);
}

static void assert_log(GPtrArray *log, const char *const *want)
{
    guint n = g_strv_length((char **)want);

    for (guint i = 0; i < MIN(n, log->len); i++) {
        g_assert_cmpstr(log->pdata[i], ==, want[i]);
    }
    g_assert_cmpuint(log->len, ==, n);
}

#define REPLIES(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define LOG_IS(r, ...) assert_log((r).log, REPLIES(__VA_ARGS__))

static void test_info_status(void)
{
    static const struct {
        const char *reply, *out;
    } cases[] = {
        { "{\"running\": true, \"status\": \"running\"}",
          "VM status: running\n" },
        { "{\"running\": false, \"status\": \"paused\"}",
          "VM status: paused\n" },
        { "{\"running\": false, \"status\": \"prelaunch\"}",
          "VM status: paused (prelaunch)\n" },
        { "{\"running\": false, \"status\": \"inmigrate\"}",
          "VM status: paused (inmigrate)\n" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_auto(Run) r = run("info status",
                            REPLIES("query-status", cases[i].reply));

        g_assert_true(r.ok);
        g_assert_cmpstr(r.out, ==, cases[i].out);
        LOG_IS(r, "query-status {}");
    }
}

static void test_simple_commands(void)
{
    static const char *const lines[][2] = {
        { "stop", "stop {}" }, { "s", "stop {}" },
        { "  cont  ", "cont {}" }, { "c", "cont {}" },
        { "quit", "quit {}" }, { "q", "quit {}" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(lines); i++) {
        g_auto(Run) r = run(lines[i][0], NULL);

        g_assert_true(r.ok);
        g_assert_cmpstr(r.out, ==, "");
        LOG_IS(r, lines[i][1]);
    }
}

static void test_info_version(void)
{
    g_auto(Run) r = run("info version", REPLIES("query-version",
        "{\"qemu\": {\"major\": 0, \"minor\": 1, \"micro\": 0}, "
        "\"package\": \"ferry\"}"));

    g_assert_cmpstr(r.out, ==, "0.1.0 (ferry)\n");
    LOG_IS(r, "query-version {}");
}

static void test_info_block(void)
{
    g_auto(Run) r = run("info block", REPLIES("query-block",
        "[{\"device\": \"\", \"qdev\": \"disk0\", \"type\": \"unknown\", "
        "\"locked\": false, \"removable\": false, \"inserted\": "
        "{\"file\": \"/img\", \"node-name\": \"f0\", \"ro\": false, "
        "\"drv\": \"file\", \"encrypted\": false, \"detect_zeroes\": \"off\", "
        "\"image\": {\"filename\": \"/img\", \"format\": \"raw\", "
        "\"virtual-size\": 512}, \"cache\": {\"writeback\": true, "
        "\"direct\": true, \"no-flush\": false}, \"x-state\": \"attached\", "
        "\"x-attach-time-ms\": 0.1, \"x-activate-time-ms\": 0}}]"));

    g_assert_true(r.ok);
    g_assert_cmpstr(r.out, ==,
                    "disk0 (f0): /img (raw, attached)\n"
                    "    Attached to:      disk0\n"
                    "    Cache mode:       writeback, direct\n"
                    "    Driver:           file, 512 bytes\n");
    LOG_IS(r, "query-block {}");
}

static void test_help(void)
{
    g_auto(Run) all = run("help", NULL);
    g_auto(Run) one = run("help cont", NULL);
    g_auto(Run) info = run("info", NULL);

    g_assert_nonnull(strstr(all.out, "cont|c -- resume emulation\n"));
    g_assert_nonnull(strstr(all.out, "info [subcommand] -- "));
    g_assert_cmpstr(one.out, ==, "cont|c -- resume emulation\n");
    g_assert_nonnull(strstr(info.out, "info status -- "));
    g_assert_cmpuint(all.log->len + one.log->len + info.log->len, ==, 0);
}

static void test_errors(void)
{
    g_auto(Run) unknown = run("frobnicate now", NULL);
    g_auto(Run) unknown_info = run("info frob", NULL);
    g_auto(Run) extra = run("stop now", NULL);
    g_auto(Run) qmp_err = run("cont", REPLIES("cont", "!An incoming "
        "migration is expected before this command can be executed"));
    g_auto(Run) bad_reply = run("info status",
                                REPLIES("query-status", "{\"running\": 1}"));
    g_auto(Run) quote = run("help \"cont", NULL);
    g_auto(Run) empty = run("   ", NULL);

    g_assert_cmpstr(unknown.error, ==, "unknown command: 'frobnicate'");
    g_assert_cmpstr(unknown_info.error, ==, "unknown command: 'info frob'");
    g_assert_cmpstr(extra.error, ==, "unexpected argument 'now'");
    g_assert_cmpuint(extra.log->len, ==, 0);
    g_assert_cmpstr(qmp_err.error, ==, "An incoming migration is expected "
                    "before this command can be executed");
    g_assert_cmpstr(bad_reply.error, ==,
                    "Invalid parameter type for 'running', expected: boolean");
    g_assert_cmpstr(quote.error, ==, "unterminated string");
    g_assert_true(empty.ok);
    g_assert_cmpuint(empty.log->len, ==, 0);
}

/* The argument grammar, through a table shaped like the future migrate. */
static bool forward(Hmp *hmp, JsonObject *args, GError **errp)
{
    g_autoptr(JsonNode) ret = hmp_qmp(hmp, "migrate", args, errp);

    return ret != NULL;
}

static const HmpCommand test_table[] = {
    { "migrate", "detach:-d,resume:-r,uri:s", "[-d] [-r] uri", "migrate",
      forward },
    { "set", "capability:s,state:b", "capability state", "set", forward },
    { "limit", "value:i,unit:s?", "value [unit]", "limit", forward },
    { "say", "text:S", "text", "say", forward },
    { NULL },
};

static void test_arguments(void)
{
    static const char *const cases[][2] = {
        { "migrate tcp:host:4444", "migrate {\"uri\": \"tcp:host:4444\"}" },
        { "migrate -d tcp:h:1",
          "migrate {\"detach\": true, \"uri\": \"tcp:h:1\"}" },
        { "migrate -r -d unix:/x",
          "migrate {\"resume\": true, \"detach\": true, \"uri\": \"unix:/x\"}" },
        { "set postcopy-ram on",
          "migrate {\"capability\": \"postcopy-ram\", \"state\": true}" },
        /* QEMU's boolean words, as the command-line options take them */
        { "set x no", "migrate {\"capability\": \"x\", \"state\": false}" },
        { "set x true", "migrate {\"capability\": \"x\", \"state\": true}" },
        { "limit 0x10", "migrate {\"value\": 16}" },
        { "limit -5 MB", "migrate {\"value\": -5, \"unit\": \"MB\"}" },
        { "say hello   wide world", "migrate {\"text\": \"hello   wide world\"}" },
        { "migrate \"unix:/a b\"", "migrate {\"uri\": \"unix:/a b\"}" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_auto(Run) r = run_table(test_table, cases[i][0], NULL);

        if (!r.ok) {
            g_error("'%s': %s", cases[i][0], r.error);
        }
        LOG_IS(r, cases[i][1]);
    }
}

static void test_argument_errors(void)
{
    static const char *const cases[][2] = {
        { "migrate", "missing argument 'uri'" },
        { "migrate -x tcp:h:1", "unexpected argument 'tcp:h:1'" },
        { "set x maybe", "Parameter 'state' expects 'on' or 'off', not "
          "'maybe'" },
        { "limit 12abc", "'12abc' is not an integer (argument 'value')" },
        { "limit 1 MB extra", "unexpected argument 'extra'" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_auto(Run) r = run_table(test_table, cases[i][0], NULL);

        g_assert_false(r.ok);
        g_assert_cmpstr(r.error, ==, cases[i][1]);
        g_assert_cmpuint(r.log->len, ==, 0);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/hmp/info-status", test_info_status);
    g_test_add_func("/hmp/simple", test_simple_commands);
    g_test_add_func("/hmp/info-version", test_info_version);
    g_test_add_func("/hmp/info-block", test_info_block);
    g_test_add_func("/hmp/help", test_help);
    g_test_add_func("/hmp/errors", test_errors);
    g_test_add_func("/hmp/arguments", test_arguments);
    g_test_add_func("/hmp/argument-errors", test_argument_errors);
    return g_test_run();
}
