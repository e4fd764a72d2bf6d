/*
 * JSON text <-> JsonNode, with QMP's rules rather than json-glib's: strict
 * RFC 8259 plus QEMU's single-quoted strings, duplicate keys rejected,
 * integers kept exact (JsonNode int) unless they exceed int64 (then double),
 * and QEMU's output style ({"a": 1, "b": [2, 3]}, non-ASCII as \uXXXX).
 */
#ifndef FERRY_UTIL_JSON_H
#define FERRY_UTIL_JSON_H

#include <stdbool.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#define JSON_MAX_DEPTH 1024

/*
 * Parses exactly one JSON value from @text (@len bytes, need not be NUL
 * terminated).  Errors read "JSON parse error, ..." like QEMU's.
 */
JsonNode *qjson_parse(const char *text, size_t len, GError **errp);

/* Appends the compact QEMU-style text of @node to @out. */
void qjson_write(GString *out, JsonNode *node);
char *qjson_to_string(JsonNode *node);

#endif
