/*
 * A strict JSON parser producing JsonNode trees.  json-glib's own parser is
 * too lenient for QMP (comments, hex numbers, several top-level values) and
 * silently wraps integers above INT64_MAX, so QMP input goes through this.
 * Recursion is bounded by JSON_MAX_DEPTH.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include "util/json.h"
#include "util/error.h"

typedef struct Parser {
    const char *p;
    const char *end;
    unsigned depth;
    GError **errp;
    bool failed;
} Parser;

static void fail(Parser *ps, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void fail(Parser *ps, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    if (ps->failed) {
        return;
    }
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    error_setg(ps->errp, "JSON parse error, %s", msg);
    ps->failed = true;
}

static void skip_ws(Parser *ps)
{
    while (ps->p < ps->end &&
           (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' ||
            *ps->p == '\r')) {
        ps->p++;
    }
}

static JsonNode *parse_value(Parser *ps);

static int hex4(const char *p)
{
    int v = 0;

    for (int i = 0; i < 4; i++) {
        int d = g_ascii_xdigit_value(p[i]);

        if (d < 0) {
            return -1;
        }
        v = v * 16 + d;
    }
    return v;
}

/* \uXXXX, possibly a surrogate pair; ps->p points after the 'u'. */
static bool parse_unicode(Parser *ps, GString *out)
{
    int hi, lo;
    gunichar cp;

    if (ps->end - ps->p < 4 || (hi = hex4(ps->p)) < 0) {
        fail(ps, "invalid \\u escape");
        return false;
    }
    ps->p += 4;
    cp = hi;
    if (hi >= 0xd800 && hi < 0xdc00) {
        if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
            (lo = hex4(ps->p + 2)) < 0xdc00 || lo > 0xdfff) {
            fail(ps, "missing low surrogate after \\u%04X", hi);
            return false;
        }
        ps->p += 6;
        cp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
    } else if (hi >= 0xdc00 && hi < 0xe000) {
        fail(ps, "unpaired low surrogate \\u%04X", hi);
        return false;
    } else if (hi == 0) {
        fail(ps, "\\u0000 is not supported");
        return false;
    }
    g_string_append_unichar(out, cp);
    return true;
}

static bool parse_escape(Parser *ps, GString *out)
{
    static const char from[] = "\"\\/'bfnrt";
    static const char to[] = "\"\\/'\b\f\n\r\t";
    const char *hit;
    char c;

    if (ps->p >= ps->end) {
        fail(ps, "unterminated string");
        return false;
    }
    c = *ps->p++;
    if (c == 'u') {
        return parse_unicode(ps, out);
    }
    hit = c ? strchr(from, c) : NULL;
    if (!hit) {
        fail(ps, "invalid escape '\\%c'", g_ascii_isprint(c) ? c : '?');
        return false;
    }
    g_string_append_c(out, to[hit - from]);
    return true;
}

/* A "double" or QEMU-style 'single' quoted string; ps->p at the quote. */
static char *parse_string(Parser *ps)
{
    char quote = *ps->p++;
    g_autoptr(GString) out = g_string_new(NULL);

    for (;;) {
        const char *start = ps->p;

        while (ps->p < ps->end && *ps->p != quote && *ps->p != '\\' &&
               (unsigned char)*ps->p >= 0x20) {
            ps->p++;
        }
        if (!g_utf8_validate(start, ps->p - start, NULL)) {
            fail(ps, "invalid UTF-8 in string");
            return NULL;
        }
        g_string_append_len(out, start, ps->p - start);
        if (ps->p >= ps->end) {
            fail(ps, "unterminated string");
            return NULL;
        }
        if (*ps->p == quote) {
            ps->p++;
            return g_string_free(g_steal_pointer(&out), FALSE);
        }
        if (*ps->p != '\\') {
            fail(ps, "control character in string");
            return NULL;
        }
        ps->p++;
        if (!parse_escape(ps, out)) {
            return NULL;
        }
    }
}

static size_t span_digits(const char *p, const char *end)
{
    const char *q = p;

    while (q < end && g_ascii_isdigit(*q)) {
        q++;
    }
    return q - p;
}

static JsonNode *parse_number(Parser *ps)
{
    const char *start = ps->p, *q = ps->p;
    bool is_int = true;
    size_t n;
    g_autofree char *text = NULL;

    if (q < ps->end && *q == '-') {
        q++;
    }
    n = span_digits(q, ps->end);
    if (n == 0 || (n > 1 && *q == '0')) {
        fail(ps, "invalid number");
        return NULL;
    }
    q += n;
    if (q < ps->end && *q == '.') {
        is_int = false;
        n = span_digits(++q, ps->end);
        if (n == 0) {
            fail(ps, "invalid number");
            return NULL;
        }
        q += n;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        is_int = false;
        q++;
        if (q < ps->end && (*q == '+' || *q == '-')) {
            q++;
        }
        n = span_digits(q, ps->end);
        if (n == 0) {
            fail(ps, "invalid number");
            return NULL;
        }
        q += n;
    }
    ps->p = q;
    text = g_strndup(start, q - start);
    if (is_int) {
        gint64 v;

        errno = 0;
        v = g_ascii_strtoll(text, NULL, 10);
        if (errno == 0) {
            return json_node_init_int(json_node_alloc(), v);
        }
        /* out of int64 range: QEMU falls back to a double too */
    }
    return json_node_init_double(json_node_alloc(),
                                 g_ascii_strtod(text, NULL));
}

static JsonNode *parse_keyword(Parser *ps)
{
    const char *start = ps->p;
    size_t len;
    g_autofree char *word = NULL;

    while (ps->p < ps->end && g_ascii_isalnum(*ps->p)) {
        ps->p++;
    }
    len = ps->p - start;
    if (len == 4 && !memcmp(start, "true", 4)) {
        return json_node_init_boolean(json_node_alloc(), TRUE);
    }
    if (len == 5 && !memcmp(start, "false", 5)) {
        return json_node_init_boolean(json_node_alloc(), FALSE);
    }
    if (len == 4 && !memcmp(start, "null", 4)) {
        return json_node_init_null(json_node_alloc());
    }
    if (len == 0) {
        fail(ps, "unexpected character '%c'",
             g_ascii_isprint(*start) ? *start : '?');
        return NULL;
    }
    word = g_strndup(start, MIN(len, 32));
    fail(ps, "invalid keyword '%s'", word);
    return NULL;
}

static bool expect(Parser *ps, char c)
{
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == c) {
        ps->p++;
        return true;
    }
    fail(ps, ps->p < ps->end ? "expected '%c'" : "expected '%c' before end "
         "of input", c);
    return false;
}

static bool parse_member(Parser *ps, JsonObject *obj)
{
    g_autofree char *key = NULL;
    JsonNode *val;

    skip_ws(ps);
    if (ps->p >= ps->end || (*ps->p != '"' && *ps->p != '\'')) {
        fail(ps, "expected string as object key");
        return false;
    }
    key = parse_string(ps);
    if (!key || !expect(ps, ':')) {
        return false;
    }
    if (json_object_has_member(obj, key)) {
        fail(ps, "duplicate key '%s'", key);
        return false;
    }
    val = parse_value(ps);
    if (!val) {
        return false;
    }
    json_object_set_member(obj, key, val);
    return true;
}

static JsonNode *parse_object(Parser *ps)
{
    JsonObject *obj = json_object_new();
    JsonNode *node = json_node_alloc();

    json_node_init_object(node, obj);
    json_object_unref(obj);
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return node;
    }
    do {
        if (!parse_member(ps, obj)) {
            json_node_unref(node);
            return NULL;
        }
        skip_ws(ps);
    } while (ps->p < ps->end && *ps->p == ',' && ps->p++);
    if (!expect(ps, '}')) {
        json_node_unref(node);
        return NULL;
    }
    return node;
}

static JsonNode *parse_array(Parser *ps)
{
    JsonArray *arr = json_array_new();
    JsonNode *node = json_node_alloc();

    json_node_init_array(node, arr);
    json_array_unref(arr);
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return node;
    }
    do {
        JsonNode *elem = parse_value(ps);

        if (!elem) {
            json_node_unref(node);
            return NULL;
        }
        json_array_add_element(arr, elem);
        skip_ws(ps);
    } while (ps->p < ps->end && *ps->p == ',' && ps->p++);
    if (!expect(ps, ']')) {
        json_node_unref(node);
        return NULL;
    }
    return node;
}

static JsonNode *parse_value(Parser *ps)
{
    JsonNode *node;
    char c;

    skip_ws(ps);
    if (ps->p >= ps->end) {
        fail(ps, "expecting value");
        return NULL;
    }
    c = *ps->p;
    if (c == '{' || c == '[') {
        if (++ps->depth > JSON_MAX_DEPTH) {
            fail(ps, "nesting deeper than %u levels", JSON_MAX_DEPTH);
            return NULL;
        }
        node = c == '{' ? parse_object(ps) : parse_array(ps);
        ps->depth--;
        return node;
    }
    if (c == '"' || c == '\'') {
        char *s = parse_string(ps);

        if (!s) {
            return NULL;
        }
        node = json_node_init_string(json_node_alloc(), s);
        g_free(s);
        return node;
    }
    if (c == '-' || g_ascii_isdigit(c)) {
        return parse_number(ps);
    }
    return parse_keyword(ps);
}

JsonNode *qjson_parse(const char *text, size_t len, GError **errp)
{
    Parser ps = { .p = text, .end = text + len, .errp = errp };
    JsonNode *node = parse_value(&ps);

    if (!node) {
        return NULL;
    }
    skip_ws(&ps);
    if (ps.p != ps.end) {
        fail(&ps, "unexpected data after the value");
        json_node_unref(node);
        return NULL;
    }
    return node;
}
