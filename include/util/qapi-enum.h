/*
 * The runtime of the plain C types scripts/qapi-gen.py generates
 * (build/qapi/qapi-types-*.h): enum names and their lookup.  Needs only
 * glib, so the types of a schema module build into a library without the
 * monitor; the JSON helpers are in monitor/qapi-runtime.h.
 */
#ifndef FERRY_UTIL_QAPI_ENUM_H
#define FERRY_UTIL_QAPI_ENUM_H

typedef struct QEnumLookup {
    const char *const *names;
    int count;
} QEnumLookup;

/* NULL if @value is out of range. */
const char *qapi_enum_str(const QEnumLookup *lookup, int value);
/* The value named @name, or -1. */
int qapi_enum_lookup(const QEnumLookup *lookup, const char *name);

#endif
