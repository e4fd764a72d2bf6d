#include <string.h>
#include "util/qapi-enum.h"

const char *qapi_enum_str(const QEnumLookup *lookup, int value)
{
    if (value < 0 || value >= lookup->count) {
        return NULL;
    }
    return lookup->names[value];
}

int qapi_enum_lookup(const QEnumLookup *lookup, const char *name)
{
    for (int i = 0; name && i < lookup->count; i++) {
        if (!strcmp(lookup->names[i], name)) {
            return i;
        }
    }
    return -1;
}
