/*
 * The JSON form of an option ("-blockdev '{"driver": "file", ...}'"), as
 * libvirt sends it.  The text goes through QMP's strict parser (exactly
 * one value, duplicate keys refused, integers exact), the one QEMU uses
 * for both, and the object becomes the same tree as the key=value form:
 * nested objects are groups, scalars keep their JSON text.
 */
#include <string.h>
#include "keyval-int.h"
#include "util/json.h"
#include "util/error.h"

static bool add_object(Keyval *kv, JsonObject *obj, GString *path,
                       GError **errp);
static bool add_array(Keyval *kv, JsonArray *arr, GString *path,
                      GError **errp);

/* Strings as they are; numbers and booleans as JSON writes them. */
static char *scalar_text(JsonNode *node)
{
    if (json_node_get_value_type(node) == G_TYPE_STRING) {
        return g_strdup(json_node_get_string(node));
    }
    return qjson_to_string(node);
}

/* @path holds the dotted key of @name (a member's, or a list index). */
static bool add_node(Keyval *kv, const char *name, JsonNode *node,
                     GString *path, GError **errp)
{
    if (!keyval_depth_ok(path->str, errp)) {
        return false;
    }
    switch (JSON_NODE_TYPE(node)) {
    case JSON_NODE_OBJECT: {
        Keyval *group = keyval_new();

        keyval_append(kv, name, NULL, group);
        return add_object(group, json_node_get_object(node), path, errp);
    }
    case JSON_NODE_VALUE:
        keyval_append(kv, name, scalar_text(node), NULL);
        return true;
    case JSON_NODE_ARRAY: {
        /* a list is a group keyed by index, as "rules.0.match=..." */
        Keyval *group = keyval_new();

        keyval_append(kv, name, NULL, group);
        return add_array(group, json_node_get_array(node), path, errp);
    }
    default:
        error_setg(errp, "Parameter '%s' is null", path->str);
        return false;
    }
}

static bool add_member(Keyval *kv, const char *name, JsonNode *node,
                       GString *path, GError **errp)
{
    if (!keyval_name_ok(name, strlen(name))) {
        error_setg(errp, "Invalid parameter name '%s'", path->str);
        return false;
    }
    return add_node(kv, name, node, path, errp);
}

static bool add_object(Keyval *kv, JsonObject *obj, GString *path,
                       GError **errp)
{
    g_autoptr(GList) names = json_object_get_members(obj);
    bool ok = true;

    for (GList *l = names; ok && l; l = l->next) {
        gsize len = path->len;

        g_string_append_printf(path, "%s%s", len ? "." : "",
                               (const char *)l->data);
        ok = add_member(kv, l->data, json_object_get_member(obj, l->data),
                        path, errp);
        g_string_truncate(path, len);
    }
    return ok;
}

static bool add_array(Keyval *kv, JsonArray *arr, GString *path,
                      GError **errp)
{
    bool ok = true;

    for (guint i = 0; ok && i < json_array_get_length(arr); i++) {
        gsize len = path->len;
        char index[16];

        g_snprintf(index, sizeof(index), "%u", i);
        g_string_append_printf(path, ".%s", index);
        ok = add_node(kv, index, json_array_get_element(arr, i), path, errp);
        g_string_truncate(path, len);
    }
    return ok;
}

Keyval *keyval_from_json(JsonObject *obj, GError **errp)
{
    g_autoptr(GString) path = g_string_new(NULL);
    g_autoptr(Keyval) kv = keyval_new();

    if (!add_object(kv, obj, path, errp)) {
        return NULL;
    }
    return g_steal_pointer(&kv);
}

Keyval *keyval_parse_json(const char *text, GError **errp)
{
    g_autoptr(JsonNode) root = qjson_parse(text, strlen(text), errp);

    if (!root) {
        return NULL;       /* text starting with '{' is an object or no JSON */
    }
    return keyval_from_json(json_node_get_object(root), errp);
}
