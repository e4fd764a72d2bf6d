/* Ring 3: the guest agent's JSON scanner (see guest/json-scan.h). */
#include "guest/json-scan.h"
#include "guest/kernel.h"

#define MAX_DEPTH 32

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && is_space(*p)) {
        p++;
    }
    return p;
}

static uint32_t string_len(const char *p, const char *end)
{
    const char *q = p + 1;

    while (q < end && *q != '"') {
        q += (*q == '\\') ? 2 : 1;
    }
    return q < end ? (uint32_t)(q + 1 - p) : 0;
}

/* Objects and arrays: brackets counted outside strings. */
static uint32_t nested_len(const char *p, const char *end)
{
    char stack[MAX_DEPTH];
    int depth = 0;
    const char *q = p;

    while (q < end) {
        char c = *q;

        if (c == '"') {
            uint32_t n = string_len(q, end);
            if (!n) {
                return 0;
            }
            q += n;
            continue;
        }
        if (c == '{' || c == '[') {
            if (depth == MAX_DEPTH) {
                return 0;
            }
            stack[depth++] = c == '{' ? '}' : ']';
        } else if (c == '}' || c == ']') {
            if (!depth || stack[--depth] != c) {
                return 0;
            }
            if (!depth) {
                return (uint32_t)(q + 1 - p);
            }
        }
        q++;
    }
    return 0;
}

static bool is_scalar_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-' ||
           c == '+' || c == '.' || c == 'E';
}

uint32_t json_value_len(const char *p, const char *end)
{
    const char *q = p;

    if (p >= end) {
        return 0;
    }
    if (*p == '"') {
        return string_len(p, end);
    }
    if (*p == '{' || *p == '[') {
        return nested_len(p, end);
    }
    while (q < end && is_scalar_char(*q)) {
        q++;
    }
    return (uint32_t)(q - p);
}

bool json_member(struct jtok obj, const char *key, struct jtok *val)
{
    const char *p = obj.p, *end = obj.p + obj.len;
    size_t klen = strlen(key);

    p = skip_space(p, end);
    if (p == end || *p != '{') {
        return false;
    }
    p++;
    for (;;) {
        uint32_t n;
        bool match;

        p = skip_space(p, end);
        if (p == end || *p != '"' || !(n = string_len(p, end))) {
            return false;
        }
        match = n == klen + 2 && !memcmp(p + 1, key, klen);
        p = skip_space(p + n, end);
        if (p == end || *p != ':') {
            return false;
        }
        p = skip_space(p + 1, end);
        if (!(n = json_value_len(p, end))) {
            return false;
        }
        if (match) {
            *val = (struct jtok){ p, n };
            return true;
        }
        p = skip_space(p + n, end);
        if (p == end || *p != ',') {
            return false;
        }
        p++;
    }
}

bool json_str_raw(struct jtok v, struct jtok *inner)
{
    if (v.len < 2 || v.p[0] != '"' || v.p[v.len - 1] != '"') {
        return false;
    }
    *inner = (struct jtok){ v.p + 1, v.len - 2 };
    return true;
}

bool json_str_is(struct jtok v, const char *s)
{
    size_t n = strlen(s);

    return v.len == n + 2 && v.p[0] == '"' && !memcmp(v.p + 1, s, n) &&
           v.p[n + 1] == '"';
}

bool json_u64(struct jtok v, uint64_t *out)
{
    uint64_t x = 0;

    if (!v.len || v.len > 19) {
        return false;
    }
    for (uint32_t i = 0; i < v.len; i++) {
        if (v.p[i] < '0' || v.p[i] > '9') {
            return false;
        }
        x = x * 10 + (uint64_t)(v.p[i] - '0');
    }
    *out = x;
    return true;
}

struct jtok json_trim(struct jtok t)
{
    while (t.len && is_space(t.p[0])) {
        t.p++;
        t.len--;
    }
    while (t.len && is_space(t.p[t.len - 1])) {
        t.len--;
    }
    return t;
}
