#ifndef FERRY_UTIL_SIZE_H
#define FERRY_UTIL_SIZE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * Parses "512M", "4G", "1024k", "65536" into bytes.  A number without a
 * suffix is multiplied by @default_unit (QEMU's -m takes MiB by default).
 * Suffixes: k/K, m/M, g/G, t/T (powers of 1024), b/B for bytes.
 */
bool parse_size(const char *str, uint64_t default_unit, uint64_t *out,
                GError **errp);

#endif
