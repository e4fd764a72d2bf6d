/*
 * The QMP input splitter.  QEMU's json-streamer counts brackets on lexer
 * tokens; this does the same on bytes, which is all framing needs: the
 * value itself is parsed later (monitor/json-parser.c).
 */
#include <stdarg.h>
#include <string.h>
#include "monitor/json-stream.h"
#include "util/json.h"
#include "util/error.h"

void json_stream_init(JsonStream *s, JsonStreamEmit *emit, void *opaque)
{
    *s = (JsonStream) {
        .emit = emit,
        .opaque = opaque,
        .max_bytes = JSON_STREAM_MAX_BYTES,
        .max_depth = JSON_MAX_DEPTH,
        .buf = g_string_new(NULL),
    };
}

void json_stream_set_limits(JsonStream *s, size_t max_bytes,
                            unsigned max_depth)
{
    s->max_bytes = max_bytes;
    s->max_depth = max_depth;
}

void json_stream_destroy(JsonStream *s)
{
    if (s->buf) {
        g_string_free(s->buf, TRUE);
        s->buf = NULL;
    }
}

static void reset(JsonStream *s)
{
    s->state = JSON_STREAM_TOP;
    s->depth = 0;
    s->quote = 0;
    s->escape = false;
    s->skipping = false;
    /* don't keep a megabyte around for one large message */
    if (s->buf->allocated_len > 65536) {
        g_string_free(s->buf, TRUE);
        s->buf = g_string_new(NULL);
    } else {
        g_string_truncate(s->buf, 0);
    }
}

static void emit_value(JsonStream *s)
{
    bool skipped = s->skipping;

    /* reset first: the callback may look at nothing but its arguments */
    if (!skipped) {
        s->emit(s->opaque, s->buf->str, s->buf->len, NULL);
    }
    reset(s);
}

static void emit_error(JsonStream *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void emit_error(JsonStream *s, const char *fmt, ...)
{
    GError *err = NULL;
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    error_setg(&err, "JSON parse error, %s", msg);
    s->emit(s->opaque, NULL, 0, err);
}

/* Starts skipping the current value after reporting why. */
static void over_limit(JsonStream *s, bool depth)
{
    if (depth) {
        emit_error(s, "nesting deeper than %u levels", s->max_depth);
    } else {
        emit_error(s, "message larger than %zu bytes", s->max_bytes);
    }
    s->skipping = true;
    g_string_truncate(s->buf, 0);
}

static bool is_delimiter(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
           strchr("{}[]\"',:", c) != NULL;
}

/* Inside an object, array or top-level string. */
static void feed_nested(JsonStream *s, char c)
{
    if (s->quote) {
        if (s->escape) {
            s->escape = false;
        } else if (c == '\\') {
            s->escape = true;
        } else if (c == s->quote) {
            s->quote = 0;
            if (s->depth == 0) {
                emit_value(s);
            }
        }
        return;
    }
    if (c == '"' || c == '\'') {
        s->quote = c;
    } else if (c == '{' || c == '[') {
        if (++s->depth > s->max_depth && !s->skipping) {
            over_limit(s, true);
        }
    } else if (c == '}' || c == ']') {
        if (--s->depth == 0) {
            emit_value(s);
        }
    }
}

static void append(JsonStream *s, char c)
{
    if (!s->skipping) {
        g_string_append_c(s->buf, c);
        if (s->buf->len > s->max_bytes) {
            over_limit(s, false);
        }
    }
}

/*
 * QEMU's QMP spec lets a client force the parser back to a known state by
 * sending a control character (other than tab, CR, LF) or 0xFF: a lexical
 * error anywhere, even inside a string.
 */
static bool is_reset_char(char c)
{
    unsigned char u = c;

    return (u < 0x20 && c != '\t' && c != '\n' && c != '\r') || u >= 0xfe;
}

/* Returns false if @c must be looked at again in the new state. */
static bool feed_char(JsonStream *s, char c)
{
    if (is_reset_char(c)) {
        if (!s->skipping) {
            emit_error(s, "invalid character 0x%02x", (unsigned char)c);
        }
        reset(s);
        return true;
    }
    switch (s->state) {
    case JSON_STREAM_TOP:
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            return true;
        }
        if (c == '}' || c == ']') {
            emit_error(s, "unexpected '%c'", c);
            return true;
        }
        s->state = c == '{' || c == '[' || c == '"' || c == '\'' ?
                   JSON_STREAM_NESTED : JSON_STREAM_SCALAR;
        g_string_append_c(s->buf, c);
        if (s->state == JSON_STREAM_NESTED) {
            feed_nested(s, c);
        }
        return true;
    case JSON_STREAM_SCALAR:
        if (is_delimiter(c)) {
            emit_value(s);
            return false;
        }
        append(s, c);
        return true;
    case JSON_STREAM_NESTED:
        append(s, c);
        feed_nested(s, c);
        return true;
    }
    return true;
}

void json_stream_feed(JsonStream *s, const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s->state == JSON_STREAM_NESTED && s->skipping && s->quote &&
            !s->escape) {
            /* fast path through the body of a huge string being dropped */
            while (i < len && data[i] != s->quote && data[i] != '\\' &&
                   !is_reset_char(data[i])) {
                i++;
            }
            if (i == len) {
                return;
            }
        }
        while (!feed_char(s, data[i])) {
            /* re-examine data[i] in the new state */
        }
    }
}

void json_stream_flush(JsonStream *s)
{
    if (s->state == JSON_STREAM_SCALAR) {
        emit_value(s);
    } else {
        reset(s);
    }
}
