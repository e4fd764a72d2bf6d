/*
 * JSON helpers for the code scripts/qapi-gen.py generates (build/qapi/
 * qapi-visit.c, qapi-commands.c): checked conversion of JSON input into C
 * values with QEMU's error messages, and construction of JSON output.  The
 * plain types need only util/qapi-enum.h.  No VM code here: ferryctl
 * links it.
 *
 * @path names the value being converted the way QEMU's input visitor does
 * ("addr", "caps[0].state"); NULL is the top-level value.
 */
#ifndef FERRY_MONITOR_QAPI_RUNTIME_H
#define FERRY_MONITOR_QAPI_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include "util/qapi-enum.h"

/* "path.name" (or "name" at the top); "path[index]". */
char *qapi_member_path(const char *path, const char *name);
char *qapi_index_path(const char *path, unsigned index);

/*
 * Finds member @name of @obj.  A missing member sets *node to NULL and is
 * an error ("Parameter 'x' is missing") unless @optional.
 */
bool qapi_get_member(JsonObject *obj, const char *path, const char *name,
                     bool optional, JsonNode **node, GError **errp);
/* Fails on the first member of @obj in neither NULL-terminated list. */
bool qapi_check_members(JsonObject *obj, const char *path,
                        const char *const *names, const char *const *more,
                        GError **errp);
/* The check for commands without arguments. */
bool qapi_check_no_args(JsonObject *args, GError **errp);

JsonObject *qapi_in_object(JsonNode *node, const char *path, GError **errp);
JsonArray *qapi_in_array(JsonNode *node, const char *path, GError **errp);
/* Integers outside [min, max] fail with "Parameter 'x' expects @type". */
bool qapi_in_int(JsonNode *node, const char *path, int64_t min, int64_t max,
                 const char *type, int64_t *out, GError **errp);
bool qapi_in_uint(JsonNode *node, const char *path, uint64_t max,
                  const char *type, uint64_t *out, GError **errp);
bool qapi_in_number(JsonNode *node, const char *path, double *out,
                    GError **errp);
bool qapi_in_bool(JsonNode *node, const char *path, bool *out, GError **errp);
bool qapi_in_str(JsonNode *node, const char *path, char **out, GError **errp);
bool qapi_in_enum(JsonNode *node, const char *path, const QEnumLookup *lookup,
                  int *out, GError **errp);

JsonNode *qapi_out_int(int64_t value);
/* Values above INT64_MAX become JSON numbers with a fraction-free double. */
JsonNode *qapi_out_uint(uint64_t value);
JsonNode *qapi_out_number(double value);
JsonNode *qapi_out_bool(bool value);
/* NULL becomes "" so the reply keeps its documented type. */
JsonNode *qapi_out_str(const char *value);
/* A copy of @value; NULL becomes JSON null. */
JsonNode *qapi_out_any(const JsonNode *value);
/* Wrap (and take ownership of) a container. */
JsonNode *qapi_object_node(JsonObject *obj);
JsonNode *qapi_array_node(JsonArray *arr);

/* Frees an 'any' value: the plain types call it for 'any' members. */
void qapi_free_any(JsonNode *node);

#endif
