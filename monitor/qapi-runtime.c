/*
 * JSON runtime of the generated QAPI code.  Error texts are QEMU's (see
 * qapi/qobject-input-visitor.c there), because QMP clients match on them.
 */
#include <math.h>
#include <string.h>
#include "monitor/qapi-runtime.h"
#include "util/error.h"

char *qapi_member_path(const char *path, const char *name)
{
    return path ? g_strdup_printf("%s.%s", path, name) : g_strdup(name);
}

char *qapi_index_path(const char *path, unsigned index)
{
    return g_strdup_printf("%s[%u]", path ? path : "", index);
}

static const char *show(const char *path)
{
    return path ? path : "<anonymous>";
}

static void type_error(GError **errp, const char *path, const char *expected)
{
    error_setg(errp, "Invalid parameter type for '%s', expected: %s",
               show(path), expected);
}

bool qapi_get_member(JsonObject *obj, const char *path, const char *name,
                     bool optional, JsonNode **node, GError **errp)
{
    *node = json_object_get_member(obj, name);
    if (!*node && !optional) {
        g_autofree char *full = qapi_member_path(path, name);

        error_setg(errp, "Parameter '%s' is missing", full);
        return false;
    }
    return true;
}

static bool in_list(const char *const *names, const char *name)
{
    for (; names && *names; names++) {
        if (!strcmp(*names, name)) {
            return true;
        }
    }
    return false;
}

bool qapi_check_members(JsonObject *obj, const char *path,
                        const char *const *names, const char *const *more,
                        GError **errp)
{
    JsonObjectIter iter;
    const char *name;

    /* ordered, so that the first unexpected member is the one reported */
    json_object_iter_init_ordered(&iter, obj);
    while (json_object_iter_next_ordered(&iter, &name, NULL)) {
        if (!in_list(names, name) && !in_list(more, name)) {
            g_autofree char *full = qapi_member_path(path, name);

            error_setg(errp, "Parameter '%s' is unexpected", full);
            return false;
        }
    }
    return true;
}

bool qapi_check_no_args(JsonObject *args, GError **errp)
{
    return !args || qapi_check_members(args, NULL, NULL, NULL, errp);
}

JsonObject *qapi_in_object(JsonNode *node, const char *path, GError **errp)
{
    if (!JSON_NODE_HOLDS_OBJECT(node)) {
        type_error(errp, path, "object");
        return NULL;
    }
    return json_node_get_object(node);
}

JsonArray *qapi_in_array(JsonNode *node, const char *path, GError **errp)
{
    if (!JSON_NODE_HOLDS_ARRAY(node)) {
        type_error(errp, path, "array");
        return NULL;
    }
    return json_node_get_array(node);
}

static bool is_type(JsonNode *node, GType type)
{
    return JSON_NODE_HOLDS_VALUE(node) &&
           json_node_get_value_type(node) == type;
}

bool qapi_in_int(JsonNode *node, const char *path, int64_t min, int64_t max,
                 const char *type, int64_t *out, GError **errp)
{
    int64_t v;

    if (!is_type(node, G_TYPE_INT64)) {
        type_error(errp, path, "integer");
        return false;
    }
    v = json_node_get_int(node);
    if (v < min || v > max) {
        error_setg(errp, "Parameter '%s' expects %s", show(path), type);
        return false;
    }
    *out = v;
    return true;
}

/*
 * The JSON parser keeps integers above INT64_MAX as doubles (JsonNode has
 * no unsigned type), so an integral double in range is a valid uint64.
 * Unlike QEMU, negative numbers are rejected rather than wrapped.
 */
bool qapi_in_uint(JsonNode *node, const char *path, uint64_t max,
                  const char *type, uint64_t *out, GError **errp)
{
    uint64_t v;

    if (is_type(node, G_TYPE_INT64) && json_node_get_int(node) >= 0) {
        v = json_node_get_int(node);
    } else if (is_type(node, G_TYPE_INT64)) {
        error_setg(errp, "Parameter '%s' expects %s", show(path), type);
        return false;
    } else if (is_type(node, G_TYPE_DOUBLE) &&
               json_node_get_double(node) >= 0x1p63 &&
               json_node_get_double(node) < 0x1p64 &&
               json_node_get_double(node) == floor(json_node_get_double(node))) {
        v = (uint64_t)json_node_get_double(node);
    } else {
        type_error(errp, path, "integer");
        return false;
    }
    if (v > max) {
        error_setg(errp, "Parameter '%s' expects %s", show(path), type);
        return false;
    }
    *out = v;
    return true;
}

bool qapi_in_number(JsonNode *node, const char *path, double *out,
                    GError **errp)
{
    if (is_type(node, G_TYPE_DOUBLE)) {
        *out = json_node_get_double(node);
    } else if (is_type(node, G_TYPE_INT64)) {
        *out = json_node_get_int(node);
    } else {
        type_error(errp, path, "number");
        return false;
    }
    return true;
}

bool qapi_in_bool(JsonNode *node, const char *path, bool *out, GError **errp)
{
    if (!is_type(node, G_TYPE_BOOLEAN)) {
        type_error(errp, path, "boolean");
        return false;
    }
    *out = json_node_get_boolean(node);
    return true;
}

bool qapi_in_str(JsonNode *node, const char *path, char **out, GError **errp)
{
    if (!is_type(node, G_TYPE_STRING)) {
        type_error(errp, path, "string");
        return false;
    }
    *out = g_strdup(json_node_get_string(node));
    return true;
}

bool qapi_in_enum(JsonNode *node, const char *path, const QEnumLookup *lookup,
                  int *out, GError **errp)
{
    const char *s;
    int v;

    if (!is_type(node, G_TYPE_STRING)) {
        type_error(errp, path, "string");
        return false;
    }
    s = json_node_get_string(node);
    v = qapi_enum_lookup(lookup, s);
    if (v < 0) {
        error_setg(errp, "Parameter '%s' does not accept value '%s'",
                   show(path), s);
        return false;
    }
    *out = v;
    return true;
}

JsonNode *qapi_out_int(int64_t value)
{
    return json_node_init_int(json_node_alloc(), value);
}

JsonNode *qapi_out_uint(uint64_t value)
{
    if (value > INT64_MAX) {
        return json_node_init_double(json_node_alloc(), (double)value);
    }
    return json_node_init_int(json_node_alloc(), (int64_t)value);
}

JsonNode *qapi_out_number(double value)
{
    return json_node_init_double(json_node_alloc(), value);
}

JsonNode *qapi_out_bool(bool value)
{
    return json_node_init_boolean(json_node_alloc(), value);
}

JsonNode *qapi_out_str(const char *value)
{
    return json_node_init_string(json_node_alloc(), value ? value : "");
}

JsonNode *qapi_out_any(const JsonNode *value)
{
    if (!value) {
        return json_node_init_null(json_node_alloc());
    }
    return json_node_copy((JsonNode *)value);
}

JsonNode *qapi_object_node(JsonObject *obj)
{
    JsonNode *node = json_node_alloc();

    json_node_init_object(node, obj);
    json_object_unref(obj);
    return node;
}

JsonNode *qapi_array_node(JsonArray *arr)
{
    JsonNode *node = json_node_alloc();

    json_node_init_array(node, arr);
    json_array_unref(arr);
    return node;
}

void qapi_free_any(JsonNode *node)
{
    if (node) {
        json_node_unref(node);
    }
}
