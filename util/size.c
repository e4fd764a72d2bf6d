#include <errno.h>
#include <stdlib.h>
#include "util/error.h"
#include "util/size.h"

static bool suffix_unit(char c, uint64_t *unit)
{
    switch (c) {
    case 'b': case 'B': *unit = 1; return true;
    case 'k': case 'K': *unit = 1ULL << 10; return true;
    case 'm': case 'M': *unit = 1ULL << 20; return true;
    case 'g': case 'G': *unit = 1ULL << 30; return true;
    case 't': case 'T': *unit = 1ULL << 40; return true;
    default: return false;
    }
}

bool parse_size(const char *str, uint64_t default_unit, uint64_t *out,
                GError **errp)
{
    char *end;
    uint64_t value, unit = default_unit;

    if (!str || !g_ascii_isdigit(str[0])) {
        error_setg(errp, "invalid size '%s': expected a number with an "
                   "optional suffix (K, M, G, T)", str ? str : "");
        return false;
    }
    errno = 0;
    value = g_ascii_strtoull(str, &end, 10);
    if (errno) {
        error_setg(errp, "invalid size '%s': out of range", str);
        return false;
    }
    if (*end) {
        if (!suffix_unit(*end, &unit) || end[1]) {
            error_setg(errp, "invalid size '%s': unknown suffix '%s'", str, end);
            return false;
        }
    }
    if (unit && value > UINT64_MAX / unit) {
        error_setg(errp, "invalid size '%s': out of range", str);
        return false;
    }
    *out = value * unit;
    return true;
}
