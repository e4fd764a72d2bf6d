/*
 * Typed reads of a parsed option (include/util/keyval.h).  Every message
 * names the key and quotes the value, so "-blockdev: " in front of it
 * is all a user needs to find the mistake.
 */
#include <string.h>
#include "keyval-int.h"
#include "util/error.h"
#include "util/size.h"

bool keyval_parse_bool(const char *key, const char *value, bool *out,
                       GError **errp)
{
    static const char *const yes[] = { "on", "yes", "true", "y", NULL };
    static const char *const no[] = { "off", "no", "false", "n", NULL };

    if (g_strv_contains(yes, value)) {
        *out = true;
    } else if (g_strv_contains(no, value)) {
        *out = false;
    } else {
        error_setg(errp, "Parameter '%s' expects 'on' or 'off', not '%s'",
                   key, value);
        return false;
    }
    return true;
}

bool keyval_get_str(const Keyval *kv, const char *key, const char **out,
                    GError **errp)
{
    const KeyvalMember *m = keyval_lookup(kv, key);

    *out = NULL;
    if (m && m->group) {
        error_setg(errp, "Parameter '%s' expects a value, not '%s.*'", key,
                   key);
        return false;
    }
    *out = m ? m->value : NULL;
    return true;
}

bool keyval_get_bool(const Keyval *kv, const char *key, bool dflt, bool *out,
                     GError **errp)
{
    const char *v;

    *out = dflt;
    if (!keyval_get_str(kv, key, &v, errp)) {
        return false;
    }
    return !v || keyval_parse_bool(key, v, out, errp);
}

bool keyval_get_u64(const Keyval *kv, const char *key, uint64_t dflt,
                    uint64_t *out, GError **errp)
{
    const char *v;
    guint64 n;

    *out = dflt;
    if (!keyval_get_str(kv, key, &v, errp)) {
        return false;
    }
    if (!v) {
        return true;
    }
    /* The digit test keeps out the sign and blanks strtoull would take. */
    if (!g_ascii_isdigit(v[0]) ||
        !g_ascii_string_to_unsigned(v, 10, 0, G_MAXUINT64, &n, NULL)) {
        error_setg(errp, "Parameter '%s' expects a non-negative integer, "
                   "not '%s'", key, v);
        return false;
    }
    *out = n;
    return true;
}

bool keyval_get_size(const Keyval *kv, const char *key, uint64_t dflt,
                     uint64_t *out, GError **errp)
{
    const char *v;

    *out = dflt;
    if (!keyval_get_str(kv, key, &v, errp)) {
        return false;
    }
    if (v && !parse_size(v, 1, out, NULL)) {
        error_setg(errp, "Parameter '%s' expects a size (bytes, or with a "
                   "K/M/G/T suffix), not '%s'", key, v);
        return false;
    }
    return true;
}

bool keyval_get_enum(const Keyval *kv, const char *key,
                     const char *const *values, int dflt, int *out,
                     GError **errp)
{
    const char *v;
    g_autoptr(GString) names = g_string_new(NULL);
    int n;

    *out = dflt;
    if (!keyval_get_str(kv, key, &v, errp)) {
        return false;
    }
    for (n = 0; v && values[n]; n++) {
        if (!strcmp(v, values[n])) {
            *out = n;
            return true;
        }
    }
    if (!v) {
        return true;
    }
    /* "'a'", "'a' or 'b'", "'a', 'b' or 'c'" */
    for (int i = 0; i < n; i++) {
        g_string_append_printf(names, "%s'%s'",
                               i == 0 ? "" : i == n - 1 ? " or " : ", ",
                               values[i]);
    }
    error_setg(errp, "Parameter '%s' expects %s, not '%s'", key, names->str,
               v);
    return false;
}

bool keyval_id_well_formed(const char *id)
{
    if (!g_ascii_isalpha(id[0])) {
        return false;
    }
    for (const char *p = id; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("-._", *p)) {
            return false;
        }
    }
    return true;
}

bool keyval_get_id(const Keyval *kv, const char *key, const char **out,
                   GError **errp)
{
    if (!keyval_get_str(kv, key, out, errp)) {
        return false;
    }
    if (*out && !keyval_id_well_formed(*out)) {
        error_setg(errp, "Parameter '%s' expects an identifier (a letter, "
                   "then letters, digits, '-', '.', '_'), not '%s'", key,
                   *out);
        *out = NULL;
        return false;
    }
    return true;
}

typedef struct KnownCtx {
    const char *const *known;
    char *unknown;
} KnownCtx;

static bool is_known(const char *key, const char *value, void *opaque)
{
    KnownCtx *ctx = opaque;

    if (g_strv_contains(ctx->known, key)) {
        return true;
    }
    ctx->unknown = g_strdup(key);
    return false;
}

bool keyval_check_known(const Keyval *kv, const char *const *known,
                        GError **errp)
{
    KnownCtx ctx = { .known = known };
    g_autofree char *names = NULL;

    if (keyval_walk(kv, is_known, &ctx)) {
        return true;
    }
    names = g_strjoinv(", ", (char **)known);
    error_setg(errp, "Unknown parameter '%s' (accepted: %s)", ctx.unknown,
               names);
    g_free(ctx.unknown);
    return false;
}
