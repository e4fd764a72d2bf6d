/*
 * -blockdev: "driver=file,node-name=f0,filename=PATH,cache.direct=on".
 * Parses the string into key -> value, validates the common keys and the
 * driver's key list, and hands the driver's own keys to bdrv_new_node().
 * As in QEMU, ",," stands for a literal comma in a value (paths, URLs).
 */
#include <errno.h>
#include <string.h>
#include "block/block_int.h"
#include "util/error.h"
#include "util/size.h"

static const char *const common_keys[] = { "driver", "node-name", "read-only" };

/* Splits at unescaped commas; ",," is a comma. */
static GPtrArray *split_items(const char *spec)
{
    GPtrArray *items = g_ptr_array_new_with_free_func(g_free);
    GString *cur = g_string_new(NULL);

    for (const char *p = spec; *p; p++) {
        if (*p != ',') {
            g_string_append_c(cur, *p);
        } else if (p[1] == ',') {
            g_string_append_c(cur, ',');
            p++;
        } else {
            g_ptr_array_add(items, g_string_free(cur, FALSE));
            cur = g_string_new(NULL);
        }
    }
    g_ptr_array_add(items, g_string_free(cur, FALSE));
    return items;
}

static GHashTable *parse_spec(const char *spec, GError **errp)
{
    g_autoptr(GPtrArray) items = split_items(spec);
    g_autoptr(GHashTable) opts =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

    for (guint i = 0; i < items->len; i++) {
        const char *item = g_ptr_array_index(items, i);
        const char *eq = strchr(item, '=');
        char *key;

        if (!*item) {
            error_setg(errp, "Empty option in '%s'", spec);
            return NULL;
        }
        if (!eq || eq == item) {
            error_setg(errp, "Option '%s' has no %s", item,
                       eq ? "name" : "value (expected KEY=VALUE)");
            return NULL;
        }
        key = g_strndup(item, eq - item);
        if (g_hash_table_contains(opts, key)) {
            error_setg(errp, "Parameter '%s' is given twice", key);
            g_free(key);
            return NULL;
        }
        g_hash_table_insert(opts, key, g_strdup(eq + 1));
    }
    return g_steal_pointer(&opts);
}

static bool key_in(const char *key, const char *const *list, gsize n)
{
    for (gsize i = 0; list && (n ? i < n : list[i] != NULL); i++) {
        if (!strcmp(key, list[i])) {
            return true;
        }
    }
    return false;
}

static bool driver_key(const BlockDriver *drv, const char *key)
{
    return key_in(key, drv->options, 0) ||
           (drv->has_child && !strcmp(key, "file"));
}

static char *accepted_keys(const BlockDriver *drv)
{
    GString *s = g_string_new("driver, node-name, read-only");

    if (drv->has_child && !key_in("file", drv->options, 0)) {
        g_string_append(s, ", file");
    }
    for (gsize i = 0; drv->options && drv->options[i]; i++) {
        g_string_append_printf(s, ", %s", drv->options[i]);
    }
    return g_string_free(s, FALSE);
}

/* Moves the driver's own keys into a table of their own. */
static GHashTable *driver_opts(const BlockDriver *drv, GHashTable *opts,
                               GError **errp)
{
    GHashTable *dopts =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    GHashTableIter it;
    gpointer k, v;

    g_hash_table_iter_init(&it, opts);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        if (key_in(k, common_keys, G_N_ELEMENTS(common_keys))) {
            continue;
        }
        if (!driver_key(drv, k)) {
            g_autofree char *ok = accepted_keys(drv);
            error_setg(errp, "Invalid parameter '%s' for driver '%s' "
                       "(accepted: %s)", (char *)k, drv->name, ok);
            g_hash_table_unref(dopts);
            return NULL;
        }
        if (drv->has_child && !strcmp(k, "file")) {
            continue;   /* the core's business: it names the child */
        }
        g_hash_table_insert(dopts, g_strdup(k), g_strdup(v));
    }
    return dopts;
}

static const BlockDriver *lookup_driver(GHashTable *opts, GError **errp)
{
    const char *name = g_hash_table_lookup(opts, "driver");
    const BlockDriver *drv;

    if (!name) {
        error_setg(errp, "Parameter 'driver' is missing");
        return NULL;
    }
    drv = bdrv_find_driver(name);
    if (!drv) {
        g_autofree char *known = bdrv_driver_names();
        error_setg(errp, "Unknown driver '%s' (known drivers: %s)", name,
                   known);
    }
    return drv;
}

static bool valid_node_name(const char *name)
{
    if (!g_ascii_isalpha(name[0]) || strlen(name) > 31) {
        return false;
    }
    for (const char *p = name; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("-._", *p)) {
            return false;
        }
    }
    return true;
}

static const char *lookup_node_name(BlockGraph *g, GHashTable *opts,
                                    GError **errp)
{
    const char *name = g_hash_table_lookup(opts, "node-name");

    if (!name) {
        error_setg(errp, "Parameter 'node-name' is missing");
        return NULL;
    }
    if (!valid_node_name(name)) {
        error_setg(errp, "Invalid node-name '%s': it must start with a letter "
                   "and hold at most 31 letters, digits, '-', '.' or '_'",
                   name);
        return NULL;
    }
    if (bdrv_find(g, name)) {
        error_setg(errp, "Duplicate node name '%s'", name);
        return NULL;
    }
    return name;
}

static bool lookup_child(BlockGraph *g, const BlockDriver *drv,
                         GHashTable *opts, BlockDriverState **child,
                         GError **errp)
{
    const char *name = g_hash_table_lookup(opts, "file");

    *child = NULL;
    if (!drv->has_child) {
        return true;
    }
    if (!name) {
        error_setg(errp, "Parameter 'file' is missing (driver '%s' needs the "
                   "node-name of its child)", drv->name);
        return false;
    }
    *child = bdrv_find(g, name);
    if (!*child) {
        error_setg(errp, "Parameter 'file': no block node named '%s'", name);
        return false;
    }
    return true;
}

static bool lookup_read_only(const BlockDriver *drv, GHashTable *opts,
                             bool *ro, GError **errp)
{
    if (!bdrv_opt_bool(opts, "read-only", drv->always_read_only, ro, errp)) {
        return false;
    }
    if (drv->always_read_only && !*ro) {
        error_setg(errp, "Driver '%s' is read-only: read-only=off is not "
                   "supported", drv->name);
        return false;
    }
    return true;
}

BlockDriverState *blockdev_add(BlockGraph *g, const char *spec,
                               GError **errp)
{
    g_autoptr(GHashTable) opts = parse_spec(spec, errp);
    g_autoptr(GHashTable) dopts = NULL;
    const BlockDriver *drv;
    const char *node_name;
    BlockDriverState *child = NULL;
    bool ro = false;

    if (!opts || !(drv = lookup_driver(opts, errp)) ||
        !(dopts = driver_opts(drv, opts, errp)) ||
        !(node_name = lookup_node_name(g, opts, errp)) ||
        !lookup_read_only(drv, opts, &ro, errp) ||
        !lookup_child(g, drv, opts, &child, errp)) {
        return NULL;
    }
    return bdrv_new_node(g, drv, node_name, ro, child, dopts, errp);
}

/* --- option helpers ------------------------------------------------------- */

bool bdrv_opt_bool(GHashTable *opts, const char *key, bool dflt,
                   bool *out, GError **errp)
{
    static const char *const on[] = { "on", "yes", "true" };
    static const char *const off[] = { "off", "no", "false" };
    const char *v = g_hash_table_lookup(opts, key);

    *out = dflt;
    if (!v) {
        return true;
    }
    if (key_in(v, on, G_N_ELEMENTS(on))) {
        *out = true;
    } else if (key_in(v, off, G_N_ELEMENTS(off))) {
        *out = false;
    } else {
        error_setg(errp, "Parameter '%s' expects 'on' or 'off', not '%s'",
                   key, v);
        return false;
    }
    return true;
}

bool bdrv_opt_size(GHashTable *opts, const char *key, uint64_t dflt,
                   uint64_t *out, GError **errp)
{
    const char *v = g_hash_table_lookup(opts, key);
    g_autoptr(GError) err = NULL;

    *out = dflt;
    if (v && !parse_size(v, 1, out, &err)) {
        error_setg(errp, "Parameter '%s' expects a size (bytes, or with a "
                   "K/M/G suffix), not '%s'", key, v);
        return false;
    }
    return true;
}

bool bdrv_opt_u64(GHashTable *opts, const char *key, uint64_t dflt,
                  uint64_t *out, GError **errp)
{
    const char *v = g_hash_table_lookup(opts, key);
    guint64 n;

    *out = dflt;
    if (!v) {
        return true;
    }
    if (!g_ascii_string_to_unsigned(v, 10, 0, G_MAXUINT64, &n, NULL)) {
        error_setg(errp, "Parameter '%s' expects a non-negative integer, "
                   "not '%s'", key, v);
        return false;
    }
    *out = n;
    return true;
}
