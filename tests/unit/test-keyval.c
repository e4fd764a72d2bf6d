/*
 * The option parser (util/keyval.c and its JSON form and getters), as
 * tables: each input with the values it parses to, rendered as
 * "key='value'" in input order, or the exact error it must give.
 */
#include <string.h>
#include "util/error.h"
#include "util/keyval.h"

typedef struct ParseCase {
    const char *text;
    const char *implied;        /* NULL: no implied key */
    const char *want;           /* the parse, or NULL ... */
    const char *error;          /* ... for this exact error */
} ParseCase;

static const ParseCase parse_cases[] = {
    /* key=value, escapes, empty values, a trailing comma */
    { "", NULL, "" },
    { "a=1", NULL, "a='1'" },
    { "a=1,b=2", NULL, "a='1' b='2'" },
    { "a=1,", NULL, "a='1'" },
    { "a=", NULL, "a=''" },
    { "a=,b=", NULL, "a='' b=''" },
    { "a=x=y", NULL, "a='x=y'" },
    { "path=a,,b", NULL, "path='a,b'" },
    { "a=1,,,b=2", NULL, "a='1,' b='2'" },
    { "a=,,,,,", NULL, "a=',,'" },
    { "a=,,", NULL, "a=','" },
    { "Z_9-x=v", NULL, "Z_9-x='v'" },
    /* dotted keys */
    { "cache.direct=on,aio=threads", NULL, "cache.direct='on' aio='threads'" },
    { "a.b=1,c=2,a.d=3", NULL, "a.b='1' a.d='3' c='2'" },
    { "a.b.c=1,a.b.d=2", NULL, "a.b.c='1' a.b.d='2'" },
    /* the implied key */
    { "4G", "size", "size='4G'" },
    { "size=4G", "size", "size='4G'" },
    { "pvblk,drive=d0,id=x", "driver", "driver='pvblk' drive='d0' id='x'" },
    { "driver=pvblk,drive=d0", "driver", "driver='pvblk' drive='d0'" },
    { "pc,", "type", "type='pc'" },
    { "a,,b,x=1", "k", "k='a,b' x='1'" },
    { "unix:/tmp/s,server=on", "addr", "addr='unix:/tmp/s' server='on'" },
    { "", "size", "" },
    /* the JSON form */
    { "{\"driver\": \"file\", \"node-name\": \"d0\", \"filename\": \"x\"}",
      NULL, "driver='file' node-name='d0' filename='x'" },
    { "{\"cache\": {\"direct\": true}, \"n\": 4096, \"ro\": false}", NULL,
      "cache.direct='true' n='4096' ro='false'" },
    { "{\"a\": \"x,,y\", \"b\": -1, \"c\": \"\"}", NULL,
      "a='x,,y' b='-1' c=''" },
    { "{}", NULL, "" },
    { "{\"a\": {}}", NULL, "" },
    { "{\"driver\": \"pvblk\"}", "driver", "driver='pvblk'" },
    { "{'a': 'b'}", NULL, "a='b'" },

    /* duplicates */
    { "a=1,a=2", NULL, NULL, "Parameter 'a' is given twice" },
    { "a=1,a=1", NULL, NULL, "Parameter 'a' is given twice" },
    { "a.b=1,a.b=2", NULL, NULL, "Parameter 'a.b' is given twice" },
    { "4G,size=1G", "size", NULL, "Parameter 'size' is given twice" },
    /* a key both a value and a group */
    { "a=1,a.b=2", NULL, NULL, "Parameter 'a.b' conflicts with 'a'" },
    { "a.b=2,a=1", NULL, NULL, "Parameter 'a' conflicts with 'a.b'" },
    { "a.b.c=1,a.b=2", NULL, NULL, "Parameter 'a.b' conflicts with 'a.b.c'" },
    { "a.b.c=1,a=2", NULL, NULL, "Parameter 'a' conflicts with 'a.b.c'" },
    { "a.b=1,a.b.c=2", NULL, NULL, "Parameter 'a.b.c' conflicts with 'a.b'" },
    /* empty and malformed keys */
    { "=1", NULL, NULL, "Parameter name missing in '=1'" },
    { ",", NULL, NULL, "Parameter name missing in ','" },
    { ",a=1", "k", NULL, "Parameter name missing in ',a=1'" },
    { "a=1,=2", NULL, NULL, "Parameter name missing in 'a=1,=2'" },
    { "noval", NULL, NULL,
      "Parameter 'noval' has no value (expected KEY=VALUE)" },
    { "a=1,noval", NULL, NULL,
      "Parameter 'noval' has no value (expected KEY=VALUE)" },
    { "a,b", "k", NULL, "Parameter 'b' has no value (expected KEY=VALUE)" },
    { "1a=x", NULL, NULL, "Invalid parameter name '1a'" },
    { "a b=x", NULL, NULL, "Invalid parameter name 'a b'" },
    { "a..b=x", NULL, NULL, "Invalid parameter name 'a..b'" },
    { ".a=x", NULL, NULL, "Invalid parameter name '.a'" },
    { "a.=x", NULL, NULL, "Invalid parameter name 'a.'" },
    /* digits after the first fragment: a list index (authz-list rules) */
    { "a.0=x", NULL, "a.0='x'" },
    { "0.a=x", NULL, NULL, "Invalid parameter name '0.a'" },
    { "/tmp/a=b", "path", NULL, "Invalid parameter name '/tmp/a'" },
    { " {\"a\": 1}", NULL, NULL,
      "Parameter ' {\"a\": 1}' has no value (expected KEY=VALUE)" },
    /* nesting: 16 levels, not 17 */
    { "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p=1", NULL,
      "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p='1'" },
    { "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q=1", NULL, NULL,
      "Parameter 'a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q' is nested too deeply "
      "(at most 16 levels)" },
    { "{\"a\": {\"b\": {\"c\": {\"d\": {\"e\": {\"f\": {\"g\": {\"h\": "
      "{\"i\": {\"j\": {\"k\": {\"l\": {\"m\": {\"n\": {\"o\": {\"p\": "
      "{\"q\": 1}}}}}}}}}}}}}}}}}", NULL, NULL,
      "Parameter 'a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q' is nested too deeply "
      "(at most 16 levels)" },
    /* bad JSON */
    { "{", NULL, NULL,
      "JSON parse error, expected string as object key" },
    { "{\"a\": 1", NULL, NULL,
      "JSON parse error, expected '}' before end of input" },
    { "{\"a\": 1} x", NULL, NULL,
      "JSON parse error, unexpected data after the value" },
    { "{\"a\": 1, \"a\": 2}", NULL, NULL,
      "JSON parse error, duplicate key 'a'" },
    /* a list is a group keyed by index, as rules.0.match= */
    { "{\"a\": [1, {\"b\": 2}]}", NULL, "a.0='1' a.1.b='2'" },
    { "{\"a\": [[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}", NULL, NULL,
      "Parameter 'a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0' is nested too deeply "
      "(at most 16 levels)" },
    { "{\"a\": {\"b\": null}}", NULL, NULL, "Parameter 'a.b' is null" },
    { "{\"c\": {\"x.y\": 1}}", NULL, NULL,
      "Invalid parameter name 'c.x.y'" },
    { "{\"\": 1}", NULL, NULL, "Invalid parameter name ''" },
};

static void render_one(const char *key, const char *value, void *opaque)
{
    GString *s = opaque;

    g_string_append_printf(s, "%s%s='%s'", s->len ? " " : "", key, value);
}

static char *render(const Keyval *kv)
{
    GString *s = g_string_new(NULL);

    keyval_foreach(kv, render_one, s);
    return g_string_free(s, FALSE);
}

static void test_parse(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(parse_cases); i++) {
        const ParseCase *c = &parse_cases[i];
        g_autoptr(GError) err = NULL;
        g_autoptr(Keyval) kv = keyval_parse(c->text, c->implied, &err);
        g_autofree char *got = kv ? render(kv) : NULL;

        if (c->want && g_strcmp0(got, c->want)) {
            g_error("'%s': got %s%s%s, want %s", c->text, got ? "" : "error '",
                    got ? got : err->message, got ? "" : "'", c->want);
        }
        if (c->error && (kv || g_strcmp0(err->message, c->error))) {
            g_error("'%s': got %s%s%s, want error '%s'", c->text,
                    kv ? "the parse " : "'", kv ? got : err->message,
                    kv ? "" : "'", c->error);
        }
        g_assert_true(!kv == !!err);
    }
}

typedef enum GetType {
    GET_STR, GET_BOOL, GET_U64, GET_SIZE, GET_ENUM, GET_ID
} GetType;

typedef struct GetCase {
    const char *text;
    const char *key;
    GetType type;
    const char *want;           /* printed value ("(null)" when absent) */
    const char *error;
} GetCase;

static const GetCase get_cases[] = {
    /* QEMU's boolean words, exactly */
    { "b=on", "b", GET_BOOL, "1" },
    { "b=yes", "b", GET_BOOL, "1" },
    { "b=true", "b", GET_BOOL, "1" },
    { "b=y", "b", GET_BOOL, "1" },
    { "b=off", "b", GET_BOOL, "0" },
    { "b=no", "b", GET_BOOL, "0" },
    { "b=false", "b", GET_BOOL, "0" },
    { "b=n", "b", GET_BOOL, "0" },
    { "{\"b\": true}", "b", GET_BOOL, "1" },
    { "{\"b\": false}", "b", GET_BOOL, "0" },
    { "x=1", "b", GET_BOOL, "0" },                  /* absent: the default */
    { "b=ON", "b", GET_BOOL, NULL,
      "Parameter 'b' expects 'on' or 'off', not 'ON'" },
    { "b=1", "b", GET_BOOL, NULL,
      "Parameter 'b' expects 'on' or 'off', not '1'" },
    { "b=", "b", GET_BOOL, NULL,
      "Parameter 'b' expects 'on' or 'off', not ''" },
    { "c.d=maybe", "c.d", GET_BOOL, NULL,
      "Parameter 'c.d' expects 'on' or 'off', not 'maybe'" },
    /* unsigned numbers */
    { "n=0", "n", GET_U64, "0" },
    { "n=18446744073709551615", "n", GET_U64, "18446744073709551615" },
    { "{\"n\": 86400}", "n", GET_U64, "86400" },
    { "x=1", "n", GET_U64, "7" },
    { "n=18446744073709551616", "n", GET_U64, NULL,
      "Parameter 'n' expects a non-negative integer, not "
      "'18446744073709551616'" },
    { "n=-1", "n", GET_U64, NULL,
      "Parameter 'n' expects a non-negative integer, not '-1'" },
    { "n=+1", "n", GET_U64, NULL,
      "Parameter 'n' expects a non-negative integer, not '+1'" },
    { "n= 1", "n", GET_U64, NULL,
      "Parameter 'n' expects a non-negative integer, not ' 1'" },
    { "n=0x10", "n", GET_U64, NULL,
      "Parameter 'n' expects a non-negative integer, not '0x10'" },
    { "n=", "n", GET_U64, NULL,
      "Parameter 'n' expects a non-negative integer, not ''" },
    { "{\"n\": -1}", "n", GET_U64, NULL,
      "Parameter 'n' expects a non-negative integer, not '-1'" },
    { "{\"n\": 1.5}", "n", GET_U64, NULL,
      "Parameter 'n' expects a non-negative integer, not '1.5'" },
    /* sizes */
    { "s=4096", "s", GET_SIZE, "4096" },
    { "s=4k", "s", GET_SIZE, "4096" },
    { "s=1M", "s", GET_SIZE, "1048576" },
    { "s=2G", "s", GET_SIZE, "2147483648" },
    { "s=1T", "s", GET_SIZE, "1099511627776" },
    { "{\"s\": 65536}", "s", GET_SIZE, "65536" },
    { "x=1", "s", GET_SIZE, "7" },
    { "s=1.5G", "s", GET_SIZE, NULL, "Parameter 's' expects a size (bytes, "
      "or with a K/M/G/T suffix), not '1.5G'" },
    { "s=-1", "s", GET_SIZE, NULL, "Parameter 's' expects a size (bytes, "
      "or with a K/M/G/T suffix), not '-1'" },
    { "s=16777216T", "s", GET_SIZE, NULL, "Parameter 's' expects a size "
      "(bytes, or with a K/M/G/T suffix), not '16777216T'" },
    { "s=", "s", GET_SIZE, NULL, "Parameter 's' expects a size (bytes, "
      "or with a K/M/G/T suffix), not ''" },
    /* enums (the words of get_one: readline, control, debug; default 7) */
    { "mode=control", "mode", GET_ENUM, "1" },
    { "{\"mode\": \"debug\"}", "mode", GET_ENUM, "2" },
    { "x=1", "mode", GET_ENUM, "7" },
    { "mode=Control", "mode", GET_ENUM, NULL, "Parameter 'mode' expects "
      "'readline', 'control' or 'debug', not 'Control'" },
    { "mode=", "mode", GET_ENUM, NULL, "Parameter 'mode' expects "
      "'readline', 'control' or 'debug', not ''" },
    /* identifiers */
    { "id=pc.ram", "id", GET_ID, "pc.ram" },
    { "id=a-b_c.9", "id", GET_ID, "a-b_c.9" },
    { "x=1", "id", GET_ID, "(null)" },
    { "id=9a", "id", GET_ID, NULL, "Parameter 'id' expects an identifier "
      "(a letter, then letters, digits, '-', '.', '_'), not '9a'" },
    { "id=a/b", "id", GET_ID, NULL, "Parameter 'id' expects an identifier "
      "(a letter, then letters, digits, '-', '.', '_'), not 'a/b'" },
    { "id=", "id", GET_ID, NULL, "Parameter 'id' expects an identifier "
      "(a letter, then letters, digits, '-', '.', '_'), not ''" },
    /* strings, groups and absent keys */
    { "a.b=x", "a.b", GET_STR, "x" },
    { "a.b=x", "a.c", GET_STR, "(null)" },
    { "a=x", "a.b", GET_STR, "(null)" },
    { "a.b=x", "a", GET_STR, NULL, "Parameter 'a' expects a value, not "
      "'a.*'" },
    { "a.b=x", "a", GET_BOOL, NULL, "Parameter 'a' expects a value, not "
      "'a.*'" },
};

/* Reads @c and prints the value, or returns NULL with @errp set. */
static char *get_one(const Keyval *kv, const GetCase *c, GError **errp)
{
    static const char *const words[] = {
        "readline", "control", "debug", NULL
    };
    const char *s;
    uint64_t n;
    bool b;
    int e;

    switch (c->type) {
    case GET_ENUM:
        return keyval_get_enum(kv, c->key, words, 7, &e, errp) ?
               g_strdup_printf("%d", e) : NULL;
    case GET_ID:
        return keyval_get_id(kv, c->key, &s, errp) ?
               g_strdup(s ? s : "(null)") : NULL;
    case GET_STR:
        return keyval_get_str(kv, c->key, &s, errp) ?
               g_strdup(s ? s : "(null)") : NULL;
    case GET_BOOL:
        return keyval_get_bool(kv, c->key, false, &b, errp) ?
               g_strdup(b ? "1" : "0") : NULL;
    case GET_U64:
        return keyval_get_u64(kv, c->key, 7, &n, errp) ?
               g_strdup_printf("%" G_GUINT64_FORMAT, n) : NULL;
    default:
        return keyval_get_size(kv, c->key, 7, &n, errp) ?
               g_strdup_printf("%" G_GUINT64_FORMAT, n) : NULL;
    }
}

static void test_get(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(get_cases); i++) {
        const GetCase *c = &get_cases[i];
        g_autoptr(GError) err = NULL;
        g_autoptr(Keyval) kv = keyval_parse(c->text, NULL, &err);
        g_autofree char *got = NULL;

        g_assert_no_error(err);
        got = get_one(kv, c, &err);
        if (c->want && g_strcmp0(got, c->want)) {
            g_error("'%s' %s: got '%s', want '%s'", c->text, c->key,
                    got ? got : err->message, c->want);
        }
        if (c->error && (got || g_strcmp0(err->message, c->error))) {
            g_error("'%s' %s: got '%s', want error '%s'", c->text, c->key,
                    got ? got : err->message, c->error);
        }
    }
}

static void test_bool_words(void)
{
    g_autoptr(GError) err = NULL;
    bool b = true;

    g_assert_true(keyval_parse_bool("k", "n", &b, &err));
    g_assert_false(b);
    g_assert_false(keyval_parse_bool("k", "On", &b, &err));
    g_assert_cmpstr(err->message, ==, "Parameter 'k' expects 'on' or 'off', "
                    "not 'On'");
    g_assert_false(b);          /* untouched on error */
}

typedef struct KnownCase {
    const char *text;
    const char *error;          /* NULL: accepted */
} KnownCase;

static void test_check_known(void)
{
    static const char *const known[] = { "driver", "cache.direct", NULL };
    static const KnownCase cases[] = {
        { "driver=file,cache.direct=on" },
        { "" },
        { "{\"cache\": {\"direct\": true}}" },
        { "driver=file,foo=1,bar=2",
          "Unknown parameter 'foo' (accepted: driver, cache.direct)" },
        { "cache=on", "Unknown parameter 'cache' (accepted: driver, "
          "cache.direct)" },
        { "cache.direct.x=on", "Unknown parameter 'cache.direct.x' "
          "(accepted: driver, cache.direct)" },
        { "cache.writeback=on,driver=x", "Unknown parameter "
          "'cache.writeback' (accepted: driver, cache.direct)" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(Keyval) kv = keyval_parse(cases[i].text, NULL, &err);
        bool ok;

        g_assert_no_error(err);
        ok = keyval_check_known(kv, known, &err);
        g_assert_cmpstr(err ? err->message : NULL, ==, cases[i].error);
        g_assert_true(ok == !cases[i].error);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/keyval/parse", test_parse);
    g_test_add_func("/keyval/get", test_get);
    g_test_add_func("/keyval/bool-words", test_bool_words);
    g_test_add_func("/keyval/check-known", test_check_known);
    return g_test_run();
}
