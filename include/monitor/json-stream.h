/*
 * Splits a byte stream (a QMP connection) into top-level JSON values
 * without parsing them: it tracks only bracket depth, strings and escapes.
 * Values need no separator ({"a":1}{"b":2} is two values).  A value larger
 * than the size limit or nested deeper than the depth limit is reported
 * once as an error and skipped up to its end, so the stream resynchronises
 * on the next value.  As in QEMU, a control character other than tab, CR
 * and LF, or a 0xFE/0xFF byte, is an error that resets the splitter even
 * inside a string: a client's way out of garbage it sent.
 */
#ifndef FERRY_MONITOR_JSON_STREAM_H
#define FERRY_MONITOR_JSON_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <glib.h>

#define JSON_STREAM_MAX_BYTES (1u << 20)

/*
 * Called once per value: either @text/@len (not NUL terminated, valid
 * until the callback returns) or @err (owned by the callee).
 */
typedef void JsonStreamEmit(void *opaque, const char *text, size_t len,
                            GError *err);

typedef enum JsonStreamState {
    JSON_STREAM_TOP,        /* between values */
    JSON_STREAM_SCALAR,     /* a top-level number or keyword */
    JSON_STREAM_NESTED,     /* inside an object/array or top-level string */
} JsonStreamState;

typedef struct JsonStream {
    JsonStreamEmit *emit;
    void *opaque;
    size_t max_bytes;
    unsigned max_depth;
    JsonStreamState state;
    unsigned depth;         /* open brackets */
    char quote;             /* inside a string: its quote char, else 0 */
    bool escape;            /* previous char was a backslash in a string */
    bool skipping;          /* over the limits: drop bytes until value ends */
    GString *buf;
} JsonStream;

void json_stream_init(JsonStream *s, JsonStreamEmit *emit, void *opaque);
void json_stream_set_limits(JsonStream *s, size_t max_bytes,
                            unsigned max_depth);
void json_stream_feed(JsonStream *s, const char *data, size_t len);
/* End of input: emits a pending top-level scalar, drops a partial value. */
void json_stream_flush(JsonStream *s);
void json_stream_destroy(JsonStream *s);

#endif
