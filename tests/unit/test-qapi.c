/*
 * The generated QAPI code (build/qapi/) and the dispatcher: argument
 * checking with QEMU's error texts, integer ranges, enums, unions, the
 * to_json/from_json round trip, boxed commands, and request validation.
 */
#include <string.h>
#include "system/migration-vmm.h"
#include "util/json.h"
#include "monitor/qmp-dispatch.h"
#include "qapi/qapi-commands.h"
#include "qapi/qapi-introspect.h"
#include "qapi/qapi-visit.h"
#include "util/error.h"

static JsonNode *parse(const char *text)
{
    g_autoptr(GError) err = NULL;
    JsonNode *node = qjson_parse(text, strlen(text), &err);

    g_assert_no_error(err);
    return node;
}

static char *to_text(JsonNode *node)
{
    char *text = qjson_to_string(node);

    json_node_unref(node);
    return text;
}

/* Parses @json as x-poke arguments; returns the error text or NULL. */
static char *poke_error(const char *json, q_obj_x_poke_arg **out)
{
    g_autoptr(JsonNode) node = parse(json);
    g_autoptr(GError) err = NULL;
    q_obj_x_poke_arg *arg = NULL;

    if (qapi_q_obj_x_poke_arg_from_json(node, &arg, &err)) {
        g_assert_no_error(err);
        g_assert_nonnull(arg);
        if (out) {
            *out = arg;
        } else {
            qapi_free_q_obj_x_poke_arg(arg);
        }
        return NULL;
    }
    g_assert_null(arg);
    g_assert_error(err, FERRY_ERROR, FERRY_ERROR_GENERIC);
    return g_strdup(err->message);
}

#define ARGS_FAIL(json, msg) do {                       \
        g_autofree char *m_ = poke_error((json), NULL); \
        g_assert_cmpstr(m_, ==, (msg));                 \
    } while (0)

static void test_args_ok(void)
{
    g_autoptr(q_obj_x_poke_arg) arg = NULL;

    g_assert_null(poke_error("{\"value\": 255, \"addr\": 4096}", &arg));
    g_assert_cmpuint(arg->addr, ==, 4096);
    g_assert_cmpuint(arg->value, ==, 255);
    qapi_free_q_obj_x_poke_arg(g_steal_pointer(&arg));
    /* above INT64_MAX the parser yields a double; exact ones are fine */
    g_assert_null(poke_error("{\"addr\": 9223372036854775808, \"value\": 0}",
                             &arg));
    g_assert_cmpuint(arg->addr, ==, 1ULL << 63);
}

static void test_args_missing_extra(void)
{
    ARGS_FAIL("{\"value\": 1}", "Parameter 'addr' is missing");
    ARGS_FAIL("{\"addr\": 1}", "Parameter 'value' is missing");
    ARGS_FAIL("{\"addr\": 1, \"value\": 1, \"foo\": 2}",
              "Parameter 'foo' is unexpected");
    /* members are checked before unexpected ones, as in QEMU */
    ARGS_FAIL("{\"foo\": 2, \"value\": 1}", "Parameter 'addr' is missing");
}

static void test_args_types(void)
{
    ARGS_FAIL("{\"addr\": \"4096\", \"value\": 1}",
              "Invalid parameter type for 'addr', expected: integer");
    ARGS_FAIL("{\"addr\": 1.5, \"value\": 1}",
              "Invalid parameter type for 'addr', expected: integer");
    ARGS_FAIL("{\"addr\": null, \"value\": 1}",
              "Invalid parameter type for 'addr', expected: integer");
    ARGS_FAIL("{\"addr\": 1, \"value\": true}",
              "Invalid parameter type for 'value', expected: integer");
    ARGS_FAIL("{\"addr\": 1, \"value\": [1]}",
              "Invalid parameter type for 'value', expected: integer");
}

static void test_args_ranges(void)
{
    ARGS_FAIL("{\"addr\": 1, \"value\": 256}",
              "Parameter 'value' expects uint8");
    ARGS_FAIL("{\"addr\": 1, \"value\": -1}",
              "Parameter 'value' expects uint8");
    ARGS_FAIL("{\"addr\": -1, \"value\": 0}",
              "Parameter 'addr' expects uint64");
    /* 2^64 does not fit */
    ARGS_FAIL("{\"addr\": 18446744073709551616, \"value\": 0}",
              "Invalid parameter type for 'addr', expected: integer");
    g_assert_null(poke_error("{\"addr\": 0, \"value\": 0}", NULL));
}

static void test_optional_members(void)
{
    g_autoptr(JsonNode) a = parse("{\"command-line\": \"info status\"}");
    g_autoptr(JsonNode) b = parse("{\"command-line\": \"x\", "
                                  "\"cpu-index\": 3}");
    g_autoptr(q_obj_human_monitor_command_arg) arg = NULL;

    g_assert_true(qapi_q_obj_human_monitor_command_arg_from_json(a, &arg,
                                                                 NULL));
    g_assert_cmpstr(arg->command_line, ==, "info status");
    g_assert_false(arg->has_cpu_index);
    qapi_free_q_obj_human_monitor_command_arg(g_steal_pointer(&arg));
    g_assert_true(qapi_q_obj_human_monitor_command_arg_from_json(b, &arg,
                                                                 NULL));
    g_assert_true(arg->has_cpu_index);
    g_assert_cmpint(arg->cpu_index, ==, 3);
}

static void test_enum_lists(void)
{
    g_autoptr(JsonNode) ok = parse("{\"enable\": [\"oob\"]}");
    g_autoptr(JsonNode) bad = parse("{\"enable\": [\"oob\", \"foo\"]}");
    g_autoptr(JsonNode) notlist = parse("{\"enable\": \"oob\"}");
    g_autoptr(JsonNode) none = parse("{}");
    g_autoptr(q_obj_qmp_capabilities_arg) arg = NULL;
    g_autoptr(GError) err = NULL;

    g_assert_true(qapi_q_obj_qmp_capabilities_arg_from_json(ok, &arg, NULL));
    g_assert_nonnull(arg->enable);
    g_assert_cmpint(arg->enable->value, ==, QMP_CAPABILITY_OOB);
    g_assert_null(arg->enable->next);
    qapi_free_q_obj_qmp_capabilities_arg(g_steal_pointer(&arg));

    g_assert_true(qapi_q_obj_qmp_capabilities_arg_from_json(none, &arg,
                                                            NULL));
    g_assert_null(arg->enable);       /* absent optional pointer: NULL */
    qapi_free_q_obj_qmp_capabilities_arg(g_steal_pointer(&arg));

    g_assert_false(qapi_q_obj_qmp_capabilities_arg_from_json(bad, &arg,
                                                             &err));
    g_assert_cmpstr(err->message, ==,
                    "Parameter 'enable[1]' does not accept value 'foo'");
    g_clear_error(&err);
    g_assert_false(qapi_q_obj_qmp_capabilities_arg_from_json(notlist, &arg,
                                                             &err));
    g_assert_cmpstr(err->message, ==,
                    "Invalid parameter type for 'enable', expected: array");
}

static void test_enum_lookup(void)
{
    g_assert_cmpint(RunState_lookup("running"), ==, RUN_STATE_RUNNING);
    g_assert_cmpint(RunState_lookup("guest-panicked"), ==,
                    RUN_STATE_GUEST_PANICKED);
    g_assert_cmpint(RunState_lookup("Running"), ==, -1);
    g_assert_cmpint(RunState_lookup(NULL), ==, -1);
    g_assert_cmpstr(RunState_str(RUN_STATE_INMIGRATE), ==, "inmigrate");
    g_assert_null(RunState_str(RUN_STATE__MAX));
    g_assert_cmpint(RUN_STATE__MAX, ==, 16);
    g_assert_cmpint(SHUTDOWN_CAUSE__MAX, ==, 11);
    g_assert_cmpstr(ShutdownCause_str(SHUTDOWN_CAUSE_HOST_QMP_QUIT), ==,
                    "host-qmp-quit");
    g_assert_cmpint(QAPI_JSON_TYPE_VALUE, ==, 7);
}

static void test_to_json_roundtrip(void)
{
    StatusInfo si = { .running = false, .status = RUN_STATE_POSTMIGRATE };
    WorkloadInfo wi = { .rounds = 1, .pages_written = 1ULL << 40,
                        .corrupt_pages = 0 };
    g_autofree char *text = to_text(qapi_StatusInfo_to_json(&si));
    g_autofree char *wtext = to_text(qapi_WorkloadInfo_to_json(&wi));
    g_autoptr(JsonNode) node = parse(text);
    g_autoptr(StatusInfo) back = NULL;

    g_assert_cmpstr(text, ==, "{\"running\": false, \"status\": "
                    "\"postmigrate\"}");
    g_assert_cmpstr(wtext, ==, "{\"rounds\": 1, \"pages-written\": "
                    "1099511627776, \"pages-verified\": 0, "
                    "\"full-verify-passes\": 0, \"corrupt-pages\": 0, \"boots\": 0, "
                    "\"disk-sectors-written\": 0, \"disk-sectors-verified\": 0, "
                    "\"corrupt-sectors\": 0, \"disk-io-errors\": 0, "
                    "\"max-stall-us\": 0, \"max-guest-stall-us\": 0}");
    g_assert_true(qapi_StatusInfo_from_json(node, &back, NULL));
    g_assert_false(back->running);
    g_assert_cmpint(back->status, ==, RUN_STATE_POSTMIGRATE);
}

static void test_list_roundtrip(void)
{
    const char *text = "[{\"id\": \"pc.ram\", \"size\": 4096, \"sha256\": "
                       "\"ab\"}, {\"id\": \"x\", \"size\": 0, \"sha256\": "
                       "\"\"}]";
    g_autoptr(JsonNode) node = parse(text);
    g_autoptr(GError) err = NULL;
    RamDigestList *list = NULL;
    g_autofree char *again = NULL;

    g_assert_true(qapi_RamDigestList_from_json(node, &list, &err));
    g_assert_cmpstr(list->value->id, ==, "pc.ram");
    g_assert_cmpuint(list->next->value->size, ==, 0);
    again = to_text(qapi_RamDigestList_to_json(list));
    g_assert_cmpstr(again, ==, text);
    qapi_free_RamDigestList(list);
    /* the empty list is NULL and prints as [] */
    g_free(g_steal_pointer(&again));
    again = to_text(qapi_RamDigestList_to_json(NULL));
    g_assert_cmpstr(again, ==, "[]");
}

/* Optional members are has_* (scalars) or NULL, and printed only if set. */
static void test_optional_roundtrip(void)
{
    const char *text = "{\"downtime-limit\": 1234, \"tls-creds\": \"\"}";
    g_autoptr(JsonNode) node = parse(text);
    g_autoptr(MigrationParameters) p = NULL;
    g_autofree char *again = NULL;

    g_assert_true(qapi_MigrationParameters_from_json(node, &p, NULL));
    g_assert_true(p->has_downtime_limit);
    g_assert_cmpuint(p->downtime_limit, ==, 1234);
    g_assert_false(p->has_max_bandwidth);
    g_assert_cmpstr(p->tls_creds, ==, "");
    g_assert_null(p->tls_hostname);
    again = to_text(qapi_MigrationParameters_to_json(p));
    g_assert_cmpstr(again, ==, text);
}

static char *marshal(void (*fn)(JsonObject *, JsonNode **, GError **),
                     const char *args, GError **errp)
{
    g_autoptr(JsonNode) node = parse(args);
    JsonNode *ret = NULL;

    fn(json_node_get_object(node), &ret, errp);
    return ret ? to_text(ret) : NULL;
}

/*
 * migrate-set-parameters is boxed: its body gets the MigrationParameters
 * the marshaller parsed; query-migrate-parameters still reports every
 * member.
 */
static void test_boxed_command(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *ok = NULL, *bad = NULL, *extra = NULL, *all = NULL;
    g_autoptr(JsonNode) node = NULL;
    g_autoptr(MigrationParameters) p = NULL;

    /* The commands act on the machine's migration context. */
    g_assert_true(machine_migration_init(NULL));
    ok = marshal(qmp_marshal_migrate_set_parameters,
                 "{\"downtime-limit\": 1234, \"max-bandwidth\": 5}", &err);
    g_assert_no_error(err);
    g_assert_cmpstr(ok, ==, "{}");
    bad = marshal(qmp_marshal_migrate_set_parameters,
                  "{\"downtime-limit\": 2000001}", &err);
    g_assert_null(bad);
    g_assert_cmpstr(err->message, ==, "Parameter 'downtime-limit' expects an "
                    "integer in the range of 0 to 2000000 milliseconds");
    g_clear_error(&err);
    extra = marshal(qmp_marshal_migrate_set_parameters, "{\"bogus\": 1}",
                    &err);
    g_assert_null(extra);
    g_assert_cmpstr(err->message, ==, "Parameter 'bogus' is unexpected");
    g_clear_error(&err);

    all = marshal(qmp_marshal_query_migrate_parameters, "{}", &err);
    g_assert_no_error(err);
    node = parse(all);
    g_assert_cmpuint(json_object_get_size(json_node_get_object(node)), ==,
                     29);
    g_assert_true(qapi_MigrationParameters_from_json(node, &p, NULL));
    g_assert_true(p->has_downtime_limit && p->has_max_bandwidth &&
                  p->has_xbzrle_cache_size);
    g_assert_cmpuint(p->downtime_limit, ==, 1234);
    g_assert_cmpuint(p->max_bandwidth, ==, 5);
    g_assert_cmpuint(p->cpu_throttle_initial, ==, 20);
}

/* The introspection data must be valid against its own schema (a union). */
static void test_schema_is_schemainfo(void)
{
    g_autoptr(JsonNode) node = parse(qmp_schema_json);
    g_autoptr(GError) err = NULL;
    SchemaInfoList *list = NULL;
    g_autoptr(JsonNode) again = NULL;
    bool saw_status = false;

    g_assert_true(qapi_SchemaInfoList_from_json(node, &list, &err));
    g_assert_no_error(err);
    for (SchemaInfoList *l = list; l; l = l->next) {
        if (!strcmp(l->value->name, "query-status")) {
            g_assert_cmpint(l->value->meta_type, ==, SCHEMA_META_TYPE_COMMAND);
            g_assert_nonnull(l->value->u.command.ret_type);
            saw_status = true;
        }
    }
    g_assert_true(saw_status);
    again = qapi_SchemaInfoList_to_json(list);
    g_assert_true(json_node_equal(node, again));
    qapi_free_SchemaInfoList(list);
}

static void test_union_errors(void)
{
    g_autoptr(JsonNode) bad_tag = parse("{\"name\": \"x\", \"meta-type\": "
                                        "\"bogus\"}");
    g_autoptr(JsonNode) extra = parse("{\"name\": \"x\", \"meta-type\": "
                                      "\"array\", \"element-type\": \"int\", "
                                      "\"json-type\": \"int\"}");
    g_autoptr(JsonNode) missing = parse("{\"name\": \"x\", \"meta-type\": "
                                        "\"builtin\"}");
    g_autoptr(GError) err = NULL;
    SchemaInfo *info = NULL;

    g_assert_false(qapi_SchemaInfo_from_json(bad_tag, &info, &err));
    g_assert_cmpstr(err->message, ==,
                    "Parameter 'meta-type' does not accept value 'bogus'");
    g_clear_error(&err);
    /* a member of another variant is unexpected */
    g_assert_false(qapi_SchemaInfo_from_json(extra, &info, &err));
    g_assert_cmpstr(err->message, ==, "Parameter 'json-type' is unexpected");
    g_clear_error(&err);
    g_assert_false(qapi_SchemaInfo_from_json(missing, &info, &err));
    g_assert_cmpstr(err->message, ==, "Parameter 'json-type' is missing");
    g_assert_null(info);
}

/* --- dispatch ---------------------------------------------------------------- */

static void m_capabilities(JsonObject *args, JsonNode **ret, GError **errp)
{
    qmp_session_current()->negotiated = true;
}

static void m_echo(JsonObject *args, JsonNode **ret, GError **errp)
{
    *ret = json_node_init_object(json_node_alloc(), args);
}

static void m_fail(JsonObject *args, JsonNode **ret, GError **errp)
{
    g_set_error(errp, FERRY_ERROR, FERRY_ERROR_DEVICE_NOT_ACTIVE, "nope");
}

static const QmpCommandDef test_defs[] = {
    { "qmp_capabilities", m_capabilities, 0 },
    { "echo", m_echo, 0 },
    { "fail", m_fail, 0 },
};
static const QmpCommandTable test_table = { test_defs, 3 };

static char *dispatch(QmpSession *s, const char *request)
{
    g_autoptr(JsonNode) req = parse(request);

    return to_text(qmp_dispatch(s, req));
}

#define DISPATCH_IS(s, req, rsp) do {                   \
        g_autofree char *got_ = dispatch((s), (req));   \
        g_assert_cmpstr(got_, ==, (rsp));               \
    } while (0)

#define GENERIC(desc) \
    "{\"error\": {\"class\": \"GenericError\", \"desc\": \"" desc "\"}}"

static void test_dispatch_negotiation(void)
{
    QmpSession s;

    qmp_session_init(&s, &test_table);
    DISPATCH_IS(&s, "{\"execute\": \"echo\"}",
                "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": "
                "\"Expecting capabilities negotiation with "
                "'qmp_capabilities'\"}}");
    DISPATCH_IS(&s, "{\"execute\": \"qmp_capabilities\", \"id\": 1}",
                "{\"return\": {}, \"id\": 1}");
    DISPATCH_IS(&s, "{\"execute\": \"echo\", \"arguments\": {\"a\": [1]}, "
                "\"id\": {\"x\": [null, \"y\"]}}",
                "{\"return\": {\"a\": [1]}, \"id\": {\"x\": [null, \"y\"]}}");
    qmp_session_destroy(&s);
}

static void test_dispatch_bad_requests(void)
{
    QmpSession s;

    qmp_session_init(&s, &test_table);
    s.negotiated = true;
    DISPATCH_IS(&s, "[1]", GENERIC("QMP input must be a JSON object"));
    DISPATCH_IS(&s, "\"execute\"", GENERIC("QMP input must be a JSON object"));
    DISPATCH_IS(&s, "{}", GENERIC("QMP input lacks member 'execute'"));
    DISPATCH_IS(&s, "{\"id\": 7}",
                "{\"error\": {\"class\": \"GenericError\", \"desc\": "
                "\"QMP input lacks member 'execute'\"}, \"id\": 7}");
    DISPATCH_IS(&s, "{\"execute\": 1}",
                GENERIC("QMP input member 'execute' must be a string"));
    DISPATCH_IS(&s, "{\"execute\": \"echo\", \"foo\": 1}",
                GENERIC("QMP input member 'foo' is unexpected"));
    DISPATCH_IS(&s, "{\"execute\": \"echo\", \"arguments\": []}",
                GENERIC("QMP input member 'arguments' must be an object"));
    DISPATCH_IS(&s, "{\"execute\": \"nosuch\"}",
                "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": "
                "\"The command nosuch has not been found\"}}");
    DISPATCH_IS(&s, "{\"execute\": \"fail\"}",
                "{\"error\": {\"class\": \"DeviceNotActive\", \"desc\": "
                "\"nope\"}}");
    /* exec-oob is only a member once 'oob' is enabled */
    DISPATCH_IS(&s, "{\"exec-oob\": \"echo\"}",
                GENERIC("QMP input member 'exec-oob' is unexpected"));
    s.oob_enabled = true;
    DISPATCH_IS(&s, "{\"exec-oob\": \"echo\"}",
                GENERIC("The command echo does not support OOB"));
    DISPATCH_IS(&s, "{\"exec-oob\": \"echo\", \"execute\": \"echo\"}",
                GENERIC("QMP input member 'execute' clashes with "
                        "'exec-oob'"));
    qmp_session_destroy(&s);
}

static void test_qmp_run(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonNode) ret = qmp_run(&test_table, "echo", NULL, &err);
    JsonNode *none;

    g_assert_no_error(err);
    g_assert_true(JSON_NODE_HOLDS_OBJECT(ret));
    none = qmp_run(&test_table, "fail", NULL, &err);
    g_assert_null(none);
    g_assert_error(err, FERRY_ERROR, FERRY_ERROR_DEVICE_NOT_ACTIVE);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qapi/args/ok", test_args_ok);
    g_test_add_func("/qapi/args/missing-extra", test_args_missing_extra);
    g_test_add_func("/qapi/args/types", test_args_types);
    g_test_add_func("/qapi/args/ranges", test_args_ranges);
    g_test_add_func("/qapi/args/optional", test_optional_members);
    g_test_add_func("/qapi/enum/lists", test_enum_lists);
    g_test_add_func("/qapi/enum/lookup", test_enum_lookup);
    g_test_add_func("/qapi/json/roundtrip", test_to_json_roundtrip);
    g_test_add_func("/qapi/json/list", test_list_roundtrip);
    g_test_add_func("/qapi/json/optional", test_optional_roundtrip);
    g_test_add_func("/qapi/boxed/command", test_boxed_command);
    g_test_add_func("/qapi/union/schema", test_schema_is_schemainfo);
    g_test_add_func("/qapi/union/errors", test_union_errors);
    g_test_add_func("/qapi/dispatch/negotiation", test_dispatch_negotiation);
    g_test_add_func("/qapi/dispatch/bad-requests",
                    test_dispatch_bad_requests);
    g_test_add_func("/qapi/dispatch/run", test_qmp_run);
    return g_test_run();
}
