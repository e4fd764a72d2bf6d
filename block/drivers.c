/*
 * Every block driver ferry has.  The list is explicit because a static
 * library drops self-registering constructors nobody references.
 */
#include <string.h>
#include "block/block_int.h"

static const BlockDriver *const drivers[] = {
    &bdrv_file,
    &bdrv_http,
    &bdrv_https,
    &bdrv_blkdelay,
};

const BlockDriver *bdrv_find_driver(const char *name)
{
    for (gsize i = 0; i < G_N_ELEMENTS(drivers); i++) {
        if (!strcmp(drivers[i]->name, name)) {
            return drivers[i];
        }
    }
    return NULL;
}

char *bdrv_driver_names(void)
{
    GString *s = g_string_new(NULL);

    for (gsize i = 0; i < G_N_ELEMENTS(drivers); i++) {
        g_string_append_printf(s, "%s%s", i ? ", " : "", drivers[i]->name);
    }
    return g_string_free(s, FALSE);
}
