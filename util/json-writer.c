/*
 * JSON output in QEMU's style: ", " and ": " separators, members in
 * insertion order, everything outside printable ASCII escaped.
 */
#include <inttypes.h>
#include <math.h>
#include "util/json.h"

static void write_char(GString *out, gunichar c)
{
    switch (c) {
    case '"':  g_string_append(out, "\\\""); return;
    case '\\': g_string_append(out, "\\\\"); return;
    case '\b': g_string_append(out, "\\b"); return;
    case '\f': g_string_append(out, "\\f"); return;
    case '\n': g_string_append(out, "\\n"); return;
    case '\r': g_string_append(out, "\\r"); return;
    case '\t': g_string_append(out, "\\t"); return;
    }
    if (c >= 0x20 && c < 0x7f) {
        g_string_append_c(out, (char)c);
    } else if (c < 0x10000) {
        g_string_append_printf(out, "\\u%04X", c);
    } else {
        c -= 0x10000;
        g_string_append_printf(out, "\\u%04X\\u%04X", 0xd800 + (c >> 10),
                               0xdc00 + (c & 0x3ff));
    }
}

static void write_string(GString *out, const char *s)
{
    const char *p = s;

    g_string_append_c(out, '"');
    while (*p) {
        gunichar c = g_utf8_get_char_validated(p, -1);

        if (c == (gunichar)-1 || c == (gunichar)-2) {
            /* not UTF-8 (strings from C code): replace byte by byte */
            write_char(out, 0xfffd);
            p++;
            continue;
        }
        write_char(out, c);
        p = g_utf8_next_char(p);
    }
    g_string_append_c(out, '"');
}

/* The shortest text that reads back as the same double. */
static void write_double(GString *out, double d)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    char fmt[8];

    if (!isfinite(d)) {
        g_string_append(out, "null");
        return;
    }
    if (d == floor(d) && fabs(d) < 0x1p53) {
        g_string_append_printf(out, "%.0f", d);    /* 1500, not 1.5e+03 */
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        g_snprintf(fmt, sizeof(fmt), "%%.%dg", prec);
        g_ascii_formatd(buf, sizeof(buf), fmt, d);
        if (g_ascii_strtod(buf, NULL) == d) {
            break;
        }
    }
    g_string_append(out, buf);
}

static void write_value(GString *out, JsonNode *node)
{
    GType type = json_node_get_value_type(node);

    if (type == G_TYPE_INT64) {
        g_string_append_printf(out, "%" PRId64, json_node_get_int(node));
    } else if (type == G_TYPE_DOUBLE) {
        write_double(out, json_node_get_double(node));
    } else if (type == G_TYPE_BOOLEAN) {
        g_string_append(out, json_node_get_boolean(node) ? "true" : "false");
    } else if (type == G_TYPE_STRING) {
        write_string(out, json_node_get_string(node));
    } else {
        g_string_append(out, "null");
    }
}

void qjson_write(GString *out, JsonNode *node)
{
    if (!node) {
        g_string_append(out, "null");
        return;
    }
    switch (json_node_get_node_type(node)) {
    case JSON_NODE_OBJECT: {
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;
        bool first = true;

        g_string_append_c(out, '{');
        json_object_iter_init_ordered(&iter, json_node_get_object(node));
        while (json_object_iter_next_ordered(&iter, &name, &member)) {
            g_string_append(out, first ? "" : ", ");
            write_string(out, name);
            g_string_append(out, ": ");
            qjson_write(out, member);
            first = false;
        }
        g_string_append_c(out, '}');
        break;
    }
    case JSON_NODE_ARRAY: {
        JsonArray *arr = json_node_get_array(node);

        g_string_append_c(out, '[');
        for (guint i = 0; i < json_array_get_length(arr); i++) {
            g_string_append(out, i ? ", " : "");
            qjson_write(out, json_array_get_element(arr, i));
        }
        g_string_append_c(out, ']');
        break;
    }
    case JSON_NODE_VALUE:
        write_value(out, node);
        break;
    case JSON_NODE_NULL:
        g_string_append(out, "null");
        break;
    }
}

char *qjson_to_string(JsonNode *node)
{
    GString *out = g_string_new(NULL);

    qjson_write(out, node);
    return g_string_free(out, FALSE);
}
