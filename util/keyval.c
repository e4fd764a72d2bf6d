/*
 * The option tree and QEMU's key=value form (rules in util/keyval.h).
 *
 * The tree keeps members in input order, so the first offending key of
 * an option is the one reported.  Groups are searched linearly: options
 * have a handful of keys.
 */
#include <string.h>
#include "keyval-int.h"
#include "util/error.h"

/* --- the tree ------------------------------------------------------------ */

static void member_free(gpointer p)
{
    KeyvalMember *m = p;

    g_free(m->name);
    g_free(m->value);
    keyval_free(m->group);
    g_free(m);
}

Keyval *keyval_new(void)
{
    Keyval *kv = g_new0(Keyval, 1);

    kv->members = g_ptr_array_new_with_free_func(member_free);
    return kv;
}

void keyval_free(Keyval *kv)
{
    if (kv) {
        g_ptr_array_unref(kv->members);
        g_free(kv);
    }
}

bool keyval_name_ok(const char *name, size_t len)
{
    if (!len || !g_ascii_isalpha(name[0])) {
        return false;
    }
    for (size_t i = 1; i < len; i++) {
        if (!g_ascii_isalnum(name[i]) && name[i] != '-' && name[i] != '_') {
            return false;
        }
    }
    return true;
}

bool keyval_depth_ok(const char *key, GError **errp)
{
    unsigned parts = 1;

    for (const char *p = key; *p; p++) {
        parts += *p == '.';
    }
    if (parts > KEYVAL_MAX_DEPTH) {
        error_setg(errp, "Parameter '%s' is nested too deeply (at most %d "
                   "levels)", key, KEYVAL_MAX_DEPTH);
        return false;
    }
    return true;
}

KeyvalMember *keyval_member(const Keyval *kv, const char *name)
{
    for (guint i = 0; i < kv->members->len; i++) {
        KeyvalMember *m = g_ptr_array_index(kv->members, i);

        if (!strcmp(m->name, name)) {
            return m;
        }
    }
    return NULL;
}

KeyvalMember *keyval_append(Keyval *kv, const char *name, char *value,
                            Keyval *group)
{
    KeyvalMember *m = g_new0(KeyvalMember, 1);

    m->name = g_strdup(name);
    m->value = value;
    m->group = group;
    g_ptr_array_add(kv->members, m);
    return m;
}

const KeyvalMember *keyval_lookup(const Keyval *kv, const char *key)
{
    g_auto(GStrv) parts = g_strsplit(key, ".", -1);
    const KeyvalMember *m = NULL;

    for (guint i = 0; parts[i]; i++) {
        if (i > 0 && !(kv = m->group)) {
            return NULL;        /* a value has no members */
        }
        if (!(m = keyval_member(kv, parts[i]))) {
            return NULL;
        }
    }
    return m;
}

/* Depth first, with @path holding the dotted key of @kv itself. */
static bool walk_group(const Keyval *kv, GString *path, KeyvalWalkFn *fn,
                       void *opaque)
{
    for (guint i = 0; i < kv->members->len; i++) {
        const KeyvalMember *m = g_ptr_array_index(kv->members, i);
        gsize len = path->len;
        bool more;

        g_string_append_printf(path, "%s%s", len ? "." : "", m->name);
        more = m->group ? walk_group(m->group, path, fn, opaque)
                        : fn(path->str, m->value, opaque);
        g_string_truncate(path, len);
        if (!more) {
            return false;
        }
    }
    return true;
}

bool keyval_walk(const Keyval *kv, KeyvalWalkFn *fn, void *opaque)
{
    g_autoptr(GString) path = g_string_new(NULL);

    return walk_group(kv, path, fn, opaque);
}

typedef struct ForeachCtx {
    KeyvalFn *fn;
    void *opaque;
} ForeachCtx;

static bool foreach_one(const char *key, const char *value, void *opaque)
{
    ForeachCtx *ctx = opaque;

    ctx->fn(key, value, ctx->opaque);
    return true;
}

void keyval_foreach(const Keyval *kv, KeyvalFn *fn, void *opaque)
{
    ForeachCtx ctx = { fn, opaque };

    keyval_walk(kv, foreach_one, &ctx);
}

/* --- key=value ----------------------------------------------------------- */

/* The dotted key of the first value inside @kv, after @prefix. */
static char *first_value_key(const char *prefix, const Keyval *kv)
{
    GString *key = g_string_new(prefix);
    const KeyvalMember *m;

    while (kv && kv->members->len) {
        m = g_ptr_array_index(kv->members, 0);
        g_string_append_printf(key, ".%s", m->name);
        kv = m->group;
    }
    return g_string_free(key, FALSE);
}

static bool check_key(const char *key, const char *text, GError **errp)
{
    g_auto(GStrv) parts = NULL;

    if (!*key) {
        error_setg(errp, "Parameter name missing in '%s'", text);
        return false;
    }
    if (!keyval_depth_ok(key, errp)) {
        return false;
    }
    parts = g_strsplit(key, ".", -1);
    for (guint i = 0; parts[i]; i++) {
        /* After the first, a fragment of digits is a list index, as in
         * QEMU (authz-list's rules.0.match=...). */
        bool index = i > 0 && parts[i][0] &&
                     strspn(parts[i], "0123456789") == strlen(parts[i]);

        if (!index && !keyval_name_ok(parts[i], strlen(parts[i]))) {
            error_setg(errp, "Invalid parameter name '%s'", key);
            return false;
        }
    }
    return true;
}

/*
 * Puts @value at the dotted @key, making the groups on the way.  A key
 * seen before is refused, whether as the same value or as the other
 * kind (a value where a group is, or the reverse).
 */
static bool put(Keyval *root, const char *key, const char *value,
                GError **errp)
{
    g_auto(GStrv) parts = g_strsplit(key, ".", -1);
    guint last = g_strv_length(parts) - 1;
    const char *dot = key;
    KeyvalMember *m;

    for (guint i = 0; i < last; i++, dot++) {
        dot = strchr(dot, '.');
        m = keyval_member(root, parts[i]);
        if (m && m->value) {
            error_setg(errp, "Parameter '%s' conflicts with '%.*s'", key,
                       (int)(dot - key), key);
            return false;
        }
        if (!m) {
            m = keyval_append(root, parts[i], NULL, keyval_new());
        }
        root = m->group;
    }
    m = keyval_member(root, parts[last]);
    if (m && m->value) {
        error_setg(errp, "Parameter '%s' is given twice", key);
        return false;
    }
    if (m) {
        g_autofree char *inner = first_value_key(key, m->group);
        error_setg(errp, "Parameter '%s' conflicts with '%s'", key, inner);
        return false;
    }
    keyval_append(root, parts[last], g_strdup(value), NULL);
    return true;
}

/* A value runs to a single ',' (",," is a comma) or the end; returns
 * where the next item starts. */
static const char *read_value(const char *p, char **out)
{
    GString *s = g_string_new(NULL);

    while (*p) {
        if (*p == ',' && *++p != ',') {
            break;
        }
        g_string_append_c(s, *p++);
    }
    *out = g_string_free(s, FALSE);
    return p;
}

/* Parses the item at @p into @kv; returns where the next one starts, or
 * NULL.  @implied is the implied key, for the first item only. */
static const char *parse_item(Keyval *kv, const char *text, const char *p,
                              const char *implied, GError **errp)
{
    size_t len = strcspn(p, "=,");
    g_autofree char *key = g_strndup(p, len);
    g_autofree char *value = NULL;
    const char *next;

    if (implied && len && p[len] != '=') {
        next = read_value(p, &value);
        return put(kv, implied, value, errp) ? next : NULL;
    }
    if (p[len] != '=') {
        if (len) {
            error_setg(errp, "Parameter '%s' has no value (expected "
                       "KEY=VALUE)", key);
        } else {
            error_setg(errp, "Parameter name missing in '%s'", text);
        }
        return NULL;
    }
    if (!check_key(key, text, errp)) {
        return NULL;
    }
    next = read_value(p + len + 1, &value);
    return put(kv, key, value, errp) ? next : NULL;
}

Keyval *keyval_parse(const char *text, const char *implied_key,
                     GError **errp)
{
    g_autoptr(Keyval) kv = NULL;

    if (text[0] == '{') {
        return keyval_parse_json(text, errp);
    }
    kv = keyval_new();
    for (const char *p = text; *p; implied_key = NULL) {
        p = parse_item(kv, text, p, implied_key, errp);
        if (!p) {
            return NULL;
        }
    }
    return g_steal_pointer(&kv);
}
