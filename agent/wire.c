/*
 * The guest-agent protocol on the wire: one JSON object per line.
 * A request is {"execute": CMD, "arguments": {...}, "id": ID}; a reply
 * {"return": ..., "id": ID} or {"error": {"class": ..., "desc": ...},
 * "id": ID}.
 *
 * Resynchronising a new transport (QEMU's way): the bridge sends a 0xFF
 * byte, which makes the agent drop any partial request, then
 * guest-sync-delimited with a fresh number; the agent answers with a 0xFF
 * byte and the number.  Until that answer, everything read is skipped: it
 * may start in the middle of a line the previous transport carried the
 * first half of.  A reply skipped so belongs to a call that was sent
 * again after the sync, and comes again after it.
 */
#include <string.h>
#include "agent-int.h"

static GBytes *to_line(JsonBuilder *b, bool sentinel)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    g_autofree char *text = NULL;
    GString *line = g_string_new(sentinel ? "\xff" : "");

    json_generator_set_root(gen, root);
    text = json_generator_to_data(gen, NULL);
    g_string_append(line, text);
    g_string_append_c(line, '\n');
    return g_string_free_to_bytes(line);
}

GBytes *wire_request(const char *command, JsonNode *args, const char *id)
{
    g_autoptr(JsonBuilder) b = json_builder_new();

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "execute");
    json_builder_add_string_value(b, command);
    if (args) {
        json_builder_set_member_name(b, "arguments");
        json_builder_add_value(b, json_node_copy(args));
    }
    json_builder_set_member_name(b, "id");
    json_builder_add_string_value(b, id);
    json_builder_end_object(b);
    return to_line(b, false);
}

GBytes *wire_sync(int64_t sync_id)
{
    g_autoptr(JsonBuilder) b = json_builder_new();

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "execute");
    json_builder_add_string_value(b, "guest-sync-delimited");
    json_builder_set_member_name(b, "arguments");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "id");
    json_builder_add_int_value(b, sync_id);
    json_builder_end_object(b);
    json_builder_end_object(b);
    return to_line(b, true);
}

static char *id_text(JsonObject *o)
{
    JsonNode *n = json_object_get_member(o, "id");

    if (!n || !JSON_NODE_HOLDS_VALUE(n)) {
        return NULL;
    }
    if (json_node_get_value_type(n) == G_TYPE_STRING) {
        return g_strdup(json_node_get_string(n));
    }
    if (json_node_get_value_type(n) == G_TYPE_INT64) {
        return g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(n));
    }
    return NULL;
}

static GError *guest_error(JsonNode *err)
{
    JsonObject *e = JSON_NODE_HOLDS_OBJECT(err) ? json_node_get_object(err)
                                                : NULL;
    const char *cls = e ? json_object_get_string_member_with_default(
                              e, "class", "GenericError") : "GenericError";
    const char *desc = e ? json_object_get_string_member_with_default(
                               e, "desc", "") : "";

    return g_error_new(FERRY_AGENT_ERROR, FERRY_AGENT_ERROR_GUEST, "%s: %s",
                       cls, desc);
}

bool wire_parse_reply(const char *line, size_t len, char **id,
                      JsonNode **ret, GError **error)
{
    g_autoptr(JsonParser) p = json_parser_new();
    JsonObject *o;
    JsonNode *root;

    if (!json_parser_load_from_data(p, line, (gssize)len, NULL) ||
        !(root = json_parser_get_root(p)) || !JSON_NODE_HOLDS_OBJECT(root)) {
        return false;
    }
    o = json_node_get_object(root);
    *id = id_text(o);
    *ret = NULL;
    *error = NULL;
    if (json_object_has_member(o, "return")) {
        *ret = json_node_copy(json_object_get_member(o, "return"));
        return true;
    }
    if (json_object_has_member(o, "error")) {
        *error = guest_error(json_object_get_member(o, "error"));
        return true;
    }
    g_clear_pointer(id, g_free);
    return false;
}

/* The line after a 0xFF: is it the answer to this transport's sync? */
static bool is_sync_answer(Conn *c)
{
    g_autofree char *id = NULL;
    g_autoptr(JsonNode) ret = NULL;
    g_autoptr(GError) err = NULL;

    return wire_parse_reply(c->line->str, c->line->len, &id, &ret, &err) &&
           ret && JSON_NODE_HOLDS_VALUE(ret) &&
           json_node_get_value_type(ret) == G_TYPE_INT64 &&
           json_node_get_int(ret) == c->sync_id;
}

static void end_of_line(Conn *c, void (*line_cb)(void *, const char *,
                                                 size_t), void *opaque)
{
    if (!c->awaiting_sync) {
        line_cb(opaque, c->line->str, c->line->len);
    } else if (c->after_sentinel && is_sync_answer(c)) {
        c->awaiting_sync = false;
    }
    c->after_sentinel = false;
    g_string_truncate(c->line, 0);
}

void wire_feed(Conn *c, const char *buf, size_t len,
               void (*line_cb)(void *opaque, const char *line, size_t len),
               void *opaque)
{
    for (size_t i = 0; i < len; i++) {
        char b = buf[i];

        if ((unsigned char)b == 0xff) {
            c->after_sentinel = true;
            g_string_truncate(c->line, 0);
        } else if (b == '\n') {
            end_of_line(c, line_cb, opaque);
        } else if (!c->awaiting_sync || c->after_sentinel) {
            g_string_append_c(c->line, b);
        }
    }
}
