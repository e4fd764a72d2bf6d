/*
 * The QMP input path below the dispatcher: the stream splitter
 * (monitor/json-stream.c), the strict parser and the QEMU-style writer.
 */
#include <string.h>
#include "util/json.h"
#include "monitor/json-stream.h"
#include "util/error.h"

/* What the splitter emitted: texts, and errors as "ERR:message". */
typedef struct Collect {
    GPtrArray *items;
} Collect;

static void collect(void *opaque, const char *text, size_t len, GError *err)
{
    Collect *c = opaque;

    if (err) {
        g_ptr_array_add(c->items, g_strdup_printf("ERR:%s", err->message));
        g_error_free(err);
    } else {
        g_ptr_array_add(c->items, g_strndup(text, len));
    }
}

/* Feeds @input in chunks of @chunk bytes (0: all at once). */
static GPtrArray *split(const char *input, size_t chunk, size_t max_bytes,
                        unsigned max_depth)
{
    Collect c = { g_ptr_array_new_with_free_func(g_free) };
    JsonStream s;
    size_t len = strlen(input);

    json_stream_init(&s, collect, &c);
    if (max_bytes) {
        json_stream_set_limits(&s, max_bytes, max_depth);
    }
    for (size_t off = 0; off < len; off += chunk ? chunk : len) {
        json_stream_feed(&s, input + off, MIN(chunk ? chunk : len, len - off));
    }
    json_stream_flush(&s);
    json_stream_destroy(&s);
    return c.items;
}

static void assert_items(GPtrArray *got, const char *const *want)
{
    guint n = g_strv_length((char **)want);

    for (guint i = 0; i < MIN(n, got->len); i++) {
        g_assert_cmpstr(got->pdata[i], ==, want[i]);
    }
    g_assert_cmpuint(got->len, ==, n);
}

#define SPLIT_IS(input, chunk, ...) do {                                    \
        g_autoptr(GPtrArray) got_ = split((input), (chunk), 0, 0);          \
        assert_items(got_, (const char *const[]){ __VA_ARGS__, NULL });     \
    } while (0)

static void test_split_values(void)
{
    SPLIT_IS("{\"a\":1}{\"b\":[2,3]}", 0, "{\"a\":1}", "{\"b\":[2,3]}");
    SPLIT_IS("  {\"a\":1}\r\n\n  [1, {}]\n", 0, "{\"a\":1}", "[1, {}]");
    /* top-level scalars end at a delimiter, strings at their quote */
    SPLIT_IS("3 true \"x\"{}", 0, "3", "true", "\"x\"", "{}");
    SPLIT_IS("", 0, NULL);
}

static void test_split_partial(void)
{
    static const char *const want[] = {
        "{\"execute\": \"qmp_capabilities\"}", "{\"execute\": \"stop\"}", NULL,
    };
    const char *input = "{\"execute\": \"qmp_capabilities\"}"
                        "{\"execute\": \"stop\"}";

    for (size_t chunk = 1; chunk < 8; chunk++) {
        g_autoptr(GPtrArray) got = split(input, chunk, 0, 0);

        assert_items(got, want);
    }
}

static void test_split_strings(void)
{
    /* brackets and quotes inside strings do not count */
    SPLIT_IS("{\"a\": \"}{][\"}{}", 0, "{\"a\": \"}{][\"}", "{}");
    SPLIT_IS("{\"a\": \"\\\"}\"}[]", 1, "{\"a\": \"\\\"}\"}", "[]");
    SPLIT_IS("{\"a\": \"\\\\\"}[]", 0, "{\"a\": \"\\\\\"}", "[]");
    /* QEMU's single-quoted strings, with double quotes inside */
    SPLIT_IS("{'a': '\"}'}{}", 0, "{'a': '\"}'}", "{}");
}

static void test_split_stray(void)
{
    SPLIT_IS("}{\"a\":1}", 0, "ERR:JSON parse error, unexpected '}'",
             "{\"a\":1}");
}

static void test_split_reset(void)
{
    /* an unterminated string would swallow everything; 0xff resets */
    SPLIT_IS("{\"a\": \"oops\xff{\"b\": 1}", 0,
             "ERR:JSON parse error, invalid character 0xff", "{\"b\": 1}");
    SPLIT_IS("[1, \x01 2]{}", 1,
             "ERR:JSON parse error, invalid character 0x01", "2",
             "ERR:JSON parse error, unexpected ']'", "{}");
    /* tab, CR and LF are whitespace, not resets */
    SPLIT_IS("{\"a\":\t1}\r\n", 0, "{\"a\":\t1}");
}

static void test_split_oversize(void)
{
    g_autoptr(GPtrArray) got = NULL;
    g_autofree char *big = NULL;
    GString *in = g_string_new("{\"execute\": \"x\", \"arguments\": {\"s\": \"");

    /* a string full of brackets and escaped quotes must be skipped whole */
    for (int i = 0; i < 200; i++) {
        g_string_append(in, "}]{[\\\"");
    }
    g_string_append(in, "\"}}{\"ok\": 1}");
    big = g_string_free(in, FALSE);
    for (size_t chunk = 0; chunk < 3; chunk++) {
        got = split(big, chunk, 256, 8);
        g_assert_cmpuint(got->len, ==, 2);
        g_assert_cmpstr(got->pdata[0], ==,
                        "ERR:JSON parse error, message larger than 256 bytes");
        g_assert_cmpstr(got->pdata[1], ==, "{\"ok\": 1}");
        g_clear_pointer(&got, g_ptr_array_unref);
    }
    /* an oversize top-level scalar too */
    got = split("12345678901234567890 {}", 0, 8, 8);
    g_assert_cmpuint(got->len, ==, 2);
    g_assert_true(g_str_has_prefix(got->pdata[0], "ERR:"));
    g_assert_cmpstr(got->pdata[1], ==, "{}");
}

static void test_split_ten_megabytes(void)
{
    size_t n = 10 << 20;
    char *line = g_malloc(n + 64);
    g_autoptr(GPtrArray) got = NULL;

    strcpy(line, "{\"execute\": \"");
    memset(line + strlen(line), 'A', n);
    strcpy(line + strlen("{\"execute\": \"") + n,
           "\"}\n{\"execute\": \"stop\"}");
    got = split(line, 65536, 0, 0);
    g_free(line);
    g_assert_cmpuint(got->len, ==, 2);
    g_assert_true(g_str_has_prefix(got->pdata[0], "ERR:JSON parse error, "
                                   "message larger than"));
    g_assert_cmpstr(got->pdata[1], ==, "{\"execute\": \"stop\"}");
}

static void test_split_nesting(void)
{
    GString *deep = g_string_new(NULL);
    g_autoptr(GPtrArray) got = NULL;

    for (int i = 0; i < 2000; i++) {
        g_string_append_c(deep, '[');
    }
    for (int i = 0; i < 2000; i++) {
        g_string_append_c(deep, ']');
    }
    g_string_append(deep, "{\"after\": true}");
    got = split(deep->str, 0, 0, 0);
    g_string_free(deep, TRUE);
    g_assert_cmpuint(got->len, ==, 2);
    g_assert_cmpstr(got->pdata[0], ==,
                    "ERR:JSON parse error, nesting deeper than 1024 levels");
    g_assert_cmpstr(got->pdata[1], ==, "{\"after\": true}");
}

/* --- parser and writer ----------------------------------------------------- */

static char *roundtrip(const char *text, GError **errp)
{
    g_autoptr(JsonNode) node = qjson_parse(text, strlen(text), errp);

    return node ? qjson_to_string(node) : NULL;
}

#define ROUNDTRIP(in, out) do {                                 \
        g_autoptr(GError) err_ = NULL;                          \
        g_autofree char *got_ = roundtrip((in), &err_);         \
        g_assert_no_error(err_);                                \
        g_assert_cmpstr(got_, ==, (out));                       \
    } while (0)

#define PARSE_FAILS(in, msg) do {                               \
        g_autoptr(GError) err_ = NULL;                          \
        g_autofree char *got_ = roundtrip((in), &err_);         \
        g_assert_null(got_);                                    \
        g_assert_error(err_, FERRY_ERROR, FERRY_ERROR_GENERIC); \
        g_assert_cmpstr(err_->message, ==, (msg));              \
    } while (0)

static void test_parse_values(void)
{
    ROUNDTRIP("{\"b\":1,\"a\":[true,false,null],\"c\":{}}",
              "{\"b\": 1, \"a\": [true, false, null], \"c\": {}}");
    ROUNDTRIP("-9223372036854775808", "-9223372036854775808");
    ROUNDTRIP("9223372036854775807", "9223372036854775807");
    /* beyond int64: a double, as in QEMU */
    ROUNDTRIP("9223372036854775808", "9.223372036854776e+18");
    ROUNDTRIP("1.5e3", "1500");
    ROUNDTRIP("0.1", "0.1");
    ROUNDTRIP("'single \"quoted\"'", "\"single \\\"quoted\\\"\"");
    ROUNDTRIP("\"\\u00e9\\ud83d\\ude00\\n\"", "\"\\u00E9\\uD83D\\uDE00\\n\"");
    ROUNDTRIP("\"caf\xc3\xa9\"", "\"caf\\u00E9\"");
    ROUNDTRIP("  [ ]  ", "[]");
}

static void test_parse_errors(void)
{
    PARSE_FAILS("{\"a\":1,\"a\":2}", "JSON parse error, duplicate key 'a'");
    PARSE_FAILS("[1,]", "JSON parse error, unexpected character ']'");
    PARSE_FAILS("{\"a\" 1}", "JSON parse error, expected ':'");
    PARSE_FAILS("nul", "JSON parse error, invalid keyword 'nul'");
    PARSE_FAILS("0x10", "JSON parse error, unexpected data after the value");
    PARSE_FAILS("01", "JSON parse error, invalid number");
    PARSE_FAILS("\"a\nb\"", "JSON parse error, control character in string");
    PARSE_FAILS("\"\\x\"", "JSON parse error, invalid escape '\\x'");
    PARSE_FAILS("\"\\u0000\"", "JSON parse error, \\u0000 is not supported");
    PARSE_FAILS("\"\\udc00\"",
                "JSON parse error, unpaired low surrogate \\uDC00");
    PARSE_FAILS("\"\xff\"", "JSON parse error, invalid UTF-8 in string");
    PARSE_FAILS("{\"a\": 1", "JSON parse error, expected '}' before end of "
                "input");
    PARSE_FAILS("/* c */ 1", "JSON parse error, unexpected character '/'");
    PARSE_FAILS("", "JSON parse error, expecting value");
    PARSE_FAILS("{} {}", "JSON parse error, unexpected data after the value");
}

static void test_parse_depth(void)
{
    GString *deep = g_string_new(NULL);
    g_autoptr(GError) err = NULL;
    JsonNode *node;

    for (int i = 0; i < JSON_MAX_DEPTH + 1; i++) {
        g_string_append_c(deep, '[');
    }
    for (int i = 0; i < JSON_MAX_DEPTH + 1; i++) {
        g_string_append_c(deep, ']');
    }
    node = qjson_parse(deep->str, deep->len, &err);
    g_assert_null(node);
    g_assert_cmpstr(err->message, ==,
                    "JSON parse error, nesting deeper than 1024 levels");
    /* one level less is fine */
    node = qjson_parse(deep->str + 1, deep->len - 2, NULL);
    g_assert_nonnull(node);
    json_node_unref(node);
    g_string_free(deep, TRUE);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qmp-stream/split/values", test_split_values);
    g_test_add_func("/qmp-stream/split/partial", test_split_partial);
    g_test_add_func("/qmp-stream/split/strings", test_split_strings);
    g_test_add_func("/qmp-stream/split/stray", test_split_stray);
    g_test_add_func("/qmp-stream/split/reset", test_split_reset);
    g_test_add_func("/qmp-stream/split/oversize", test_split_oversize);
    g_test_add_func("/qmp-stream/split/ten-megabytes",
                    test_split_ten_megabytes);
    g_test_add_func("/qmp-stream/split/nesting", test_split_nesting);
    g_test_add_func("/qmp-stream/parse/values", test_parse_values);
    g_test_add_func("/qmp-stream/parse/errors", test_parse_errors);
    g_test_add_func("/qmp-stream/parse/depth", test_parse_depth);
    return g_test_run();
}
