/*
 * -blockdev: "driver=file,node-name=f0,filename=PATH,cache.direct=on", or
 * its JSON form.  QEMU's option syntax (util/keyval.h) parses it; this
 * file checks the keys every node has and the driver's key list, and
 * hands the whole option to the driver, which reads its own keys.
 */
#include <string.h>
#include "block/block_int.h"
#include "util/error.h"

/* driver, node-name, read-only, then the driver's own keys. */
static bool check_keys(const BlockDriver *drv, const Keyval *opts,
                       GError **errp)
{
    g_autoptr(GPtrArray) known = g_ptr_array_new();

    g_ptr_array_add(known, (char *)"driver");
    g_ptr_array_add(known, (char *)"node-name");
    g_ptr_array_add(known, (char *)"read-only");
    if (drv->has_child) {
        g_ptr_array_add(known, (char *)"file");
    }
    for (gsize i = 0; drv->options && drv->options[i]; i++) {
        g_ptr_array_add(known, (char *)drv->options[i]);
    }
    g_ptr_array_add(known, NULL);
    if (!keyval_check_known(opts, (const char *const *)known->pdata, errp)) {
        g_prefix_error(errp, "driver '%s': ", drv->name);
        return false;
    }
    return true;
}

static const BlockDriver *lookup_driver(const Keyval *opts, GError **errp)
{
    const char *name;
    const BlockDriver *drv;

    if (!keyval_get_str(opts, "driver", &name, errp)) {
        return NULL;
    }
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

static const char *lookup_node_name(BlockGraph *g, const Keyval *opts,
                                    GError **errp)
{
    const char *name;

    if (!keyval_get_str(opts, "node-name", &name, errp)) {
        return NULL;
    }
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
                         const Keyval *opts, BlockDriverState **child,
                         GError **errp)
{
    const char *name;

    *child = NULL;
    if (!drv->has_child) {
        return true;
    }
    if (!keyval_get_str(opts, "file", &name, errp)) {
        return false;
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

static bool lookup_read_only(const BlockDriver *drv, const Keyval *opts,
                             bool *ro, GError **errp)
{
    if (!keyval_get_bool(opts, "read-only", drv->always_read_only, ro,
                         errp)) {
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
    g_autoptr(Keyval) opts = keyval_parse(spec, NULL, errp);
    const BlockDriver *drv;
    const char *node_name;
    BlockDriverState *child = NULL;
    bool ro = false;

    if (!opts || !(drv = lookup_driver(opts, errp)) ||
        !check_keys(drv, opts, errp) ||
        !(node_name = lookup_node_name(g, opts, errp)) ||
        !lookup_read_only(drv, opts, &ro, errp) ||
        !lookup_child(g, drv, opts, &child, errp)) {
        return NULL;
    }
    return bdrv_new_node(g, drv, node_name, ro, child, opts, errp);
}
