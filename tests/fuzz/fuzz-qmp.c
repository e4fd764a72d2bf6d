/*
 * libFuzzer target for QMP in-process: each input is what a client sends
 * on one connection, split into values as the server splits them
 * (monitor/json-stream.c), each parsed (util/json-parser.c) and dispatched
 * (monitor/qmp-dispatch.c) through the generated marshallers, against a
 * scratch machine: 64 KiB of guest RAM, a migration context, an empty
 * block graph, no vCPUs.
 *
 * What runs.  Commands that read state, or change only the scratch
 * machine's settings, run their real bodies (queries, qmp_capabilities,
 * migrate-set-capabilities/-parameters, getfd/closefd, x-poke into the
 * scratch RAM, migrate_cancel/-continue/-pause/-start-postcopy, which
 * only refuse with no migration running).  Commands that would start a
 * migration, exec a binary, stop the process or touch vCPUs (migrate,
 * migrate-incoming, migrate-recover, live-update, quit, stop, cont,
 * system_reset, system_powerdown, x-kvm-state-reload) only have their
 * arguments checked by the generated parser, as the marshaller would.
 * human-monitor-command runs the real HMP parser (monitor/hmp.c), whose
 * QMP calls come back into this same table.  The migration context is
 * made afresh for every input, so an input replays exactly.
 *
 * Besides crashes, sanitizer reports, leaks and GLib warnings (made
 * fatal), these rules abort:
 *  - every value gets exactly one reply: an object with "return" or an
 *    "error" whose class and desc are non-empty strings, with the
 *    request's "id" when it had one;
 *  - a reply is written as JSON that parses back;
 *  - no descriptor stays open after an input.
 *
 * Built and run by `make fuzz` (FUZZ_TARGET=qmp).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fuzz-outcome.h"
#include "monitor/hmp.h"
#include "monitor/json-stream.h"
#include "monitor/qapi-runtime.h"
#include "monitor/qmp-dispatch.h"
#include "qapi/qapi-commands.h"
#include "qapi/qapi-visit.h"
#include "system/memory.h"
#include "system/migration-vmm.h"
#include "util/json.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define QMP_FUZZ_RAM (64u << 10)

#define broken(...) fuzz_broken("fuzz-qmp", "(binary)", __VA_ARGS__)

static QmpCommandTable table;

/* --- commands whose arguments are checked, not acted on ------------------ */

static void ok_reply(JsonNode **ret)
{
    *ret = qapi_object_node(json_object_new());
}

#define CHECK_ONLY(name, type)                                              \
static void name(JsonObject *args, JsonNode **ret, GError **errp)           \
{                                                                           \
    g_autoptr(type) arg = NULL;                                             \
    g_autoptr(JsonNode) node = qapi_object_node(json_object_ref(args));     \
                                                                            \
    if (qapi_##type##_from_json(node, &arg, errp)) {                        \
        ok_reply(ret);                                                      \
    }                                                                       \
}

CHECK_ONLY(check_migrate, q_obj_migrate_arg)
CHECK_ONLY(check_migrate_incoming, q_obj_migrate_incoming_arg)
CHECK_ONLY(check_migrate_recover, q_obj_migrate_recover_arg)
CHECK_ONLY(check_live_update, q_obj_live_update_arg)

static void check_no_args(JsonObject *args, JsonNode **ret, GError **errp)
{
    if (qapi_check_no_args(args, errp)) {
        ok_reply(ret);
    }
}

static JsonNode *hmp_to_table(void *opaque, const char *command,
                              JsonObject *args, GError **errp)
{
    return qmp_run(&table, command, args, errp);
}

/* The HMP's own parser, its QMP calls into this table. */
static void run_hmp(JsonObject *args, JsonNode **ret, GError **errp)
{
    g_autoptr(q_obj_human_monitor_command_arg) arg = NULL;
    g_autoptr(JsonNode) node = qapi_object_node(json_object_ref(args));
    g_autoptr(GString) out = g_string_new(NULL);
    g_autoptr(GError) err = NULL;
    Hmp hmp = { .qmp = hmp_to_table, .out = out };

    if (!qapi_q_obj_human_monitor_command_arg_from_json(node, &arg, errp)) {
        return;
    }
    if (!hmp_execute_table(&hmp, hmp_commands, arg->command_line, &err)) {
        if (!err || !*err->message) {
            broken("HMP '%s' failed without a reason", arg->command_line);
        }
        g_string_append_printf(out, "Error: %s\n", err->message);
    }
    *ret = json_node_init_string(json_node_alloc(), out->str);
}

static const struct {
    const char *name;
    QmpMarshalFn *fn;
} stand_ins[] = {
    { "migrate", check_migrate },
    { "migrate-incoming", check_migrate_incoming },
    { "migrate-recover", check_migrate_recover },
    { "live-update", check_live_update },
    { "quit", check_no_args },
    { "stop", check_no_args },
    { "cont", check_no_args },
    { "system_reset", check_no_args },
    { "system_powerdown", check_no_args },
    { "x-kvm-state-reload", check_no_args },
    { "human-monitor-command", run_hmp },
};

/* The generated table, with the stand-ins above in their places. */
static void table_init(void)
{
    QmpCommandDef *defs = g_new(QmpCommandDef, qmp_command_count);

    for (size_t i = 0; i < qmp_command_count; i++) {
        defs[i] = qmp_command_table[i];
        for (size_t j = 0; j < G_N_ELEMENTS(stand_ins); j++) {
            if (!strcmp(defs[i].name, stand_ins[j].name)) {
                defs[i].fn = stand_ins[j].fn;
            }
        }
    }
    table = (QmpCommandTable){ defs, qmp_command_count };
}

static void run(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char warm_up[] = "{\"execute\": \"qmp_capabilities\"}"
        "{\"execute\": \"query-migrate\"}";
    g_autoptr(GError) err = NULL;
    RAMBlock *ram = ram_block_new("pc.ram", QMP_FUZZ_RAM, &err);

    g_log_set_always_fatal(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL);
    if (!ram || !guest_region_add(0, ram, 0, QMP_FUZZ_RAM, &err)) {
        broken("setting up: %s", err ? err->message : "?");
    }
    table_init();
    /* What GLib and the core open once, on first use, is not a leak. */
    run((const uint8_t *)warm_up, strlen(warm_up));
    return 0;
}

/* --- one connection ------------------------------------------------------- */

typedef struct Conn {
    QmpSession session;
} Conn;

static void check_reply(JsonNode *req, JsonNode *rsp)
{
    JsonObject *o, *e;
    JsonNode *id = NULL, *rid;
    g_autofree char *text = NULL;
    g_autoptr(JsonNode) again = NULL;

    if (!rsp || !JSON_NODE_HOLDS_OBJECT(rsp)) {
        broken("a request without a reply object");
    }
    o = json_node_get_object(rsp);
    e = json_object_has_member(o, "error") ?
        json_object_get_object_member(o, "error") : NULL;
    if (json_object_has_member(o, "return") == !!e) {
        broken("a reply with neither or both of return and error");
    }
    if (e && (!json_object_get_string_member_with_default(e, "class", NULL) ||
              !*json_object_get_string_member_with_default(e, "desc", ""))) {
        broken("an error without a class or a description");
    }
    if (req && JSON_NODE_HOLDS_OBJECT(req)) {
        id = json_object_get_member(json_node_get_object(req), "id");
    }
    rid = json_object_get_member(o, "id");
    if (!!id != !!rid || (id && !json_node_equal(id, rid))) {
        broken("the reply's id is not the request's");
    }
    text = qjson_to_string(rsp);
    again = qjson_parse(text, strlen(text), NULL);
    if (!again) {
        broken("a reply that is not JSON: %s", text);
    }
}

static void on_value(void *opaque, const char *text, size_t len, GError *err)
{
    Conn *c = opaque;
    g_autoptr(GError) split_err = err;
    g_autoptr(GError) parse_err = NULL;
    g_autoptr(JsonNode) req = NULL, rsp = NULL;

    if (split_err) {
        rsp = qmp_error_response(split_err, NULL);
    } else if (!(req = qjson_parse(text, len, &parse_err))) {
        rsp = qmp_error_response(parse_err, NULL);
    } else {
        rsp = qmp_dispatch(&c->session, req);
    }
    check_reply(req, rsp);
}

/* Scanning a few descriptors costs less than the input. */
#define FD_SCAN 128

static void run(const uint8_t *data, size_t size)
{
    g_autoptr(GError) err = NULL;
    JsonStream stream;
    Conn c;

    if (!machine_migration_init(&err)) {
        broken("a migration context: %s", err->message);
    }
    qmp_session_init(&c.session, &table);
    json_stream_init(&stream, on_value, &c);
    json_stream_feed(&stream, (const char *)data, size);
    json_stream_flush(&stream);
    json_stream_destroy(&stream);
    qmp_session_destroy(&c.session);
    machine_migration_cleanup();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int before = fuzz_open_fds(FD_SCAN);

    run(data, size);
    if (fuzz_open_fds(FD_SCAN) != before) {
        broken("%d descriptors leaked", fuzz_open_fds(FD_SCAN) - before);
    }
    return 0;
}
