/* ferryctl's QMP client: blocking I/O with a per-read timeout. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <gio/gio.h>
#include <sys/socket.h>
#include "qmp-socket.h"
#include "io/socket.h"
#include "util/json.h"
#include "monitor/json-stream.h"
#include "util/error.h"

struct QmpSocket {
    int fd;
    int timeout_ms;
    JsonStream stream;
    GQueue values;              /* char * texts split from the stream */
    GError *stream_err;
    unsigned next_id;
};

static void on_value(void *opaque, const char *text, size_t len, GError *err)
{
    QmpSocket *s = opaque;

    if (err) {
        if (!s->stream_err) {
            s->stream_err = err;
        } else {
            g_error_free(err);
        }
        return;
    }
    g_queue_push_tail(&s->values, g_strndup(text, len));
}

QmpSocket *qmp_socket_connect(const char *address, int timeout_ms,
                              GError **errp)
{
    g_autoptr(SocketAddress) addr = NULL;
    QmpSocket *s;
    int fd;

    if (g_str_has_prefix(address, "unix:") ||
        g_str_has_prefix(address, "tcp:")) {
        addr = socket_address_parse(address, errp);
    } else {
        g_autofree char *uri = g_strdup_printf("unix:%s", address);

        addr = socket_address_parse(uri, errp);
    }
    if (!addr) {
        return NULL;
    }
    fd = socket_connect(addr, errp);
    if (fd < 0) {
        return NULL;
    }
    s = g_new0(QmpSocket, 1);
    s->fd = fd;
    s->timeout_ms = timeout_ms;
    json_stream_init(&s->stream, on_value, s);
    g_queue_init(&s->values);
    return s;
}

void qmp_socket_close(QmpSocket *s)
{
    if (s) {
        close(s->fd);
        json_stream_destroy(&s->stream);
        g_queue_clear_full(&s->values, g_free);
        g_clear_error(&s->stream_err);
        g_free(s);
    }
}

static bool fill(QmpSocket *s, GError **errp)
{
    struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
    char buf[16384];
    ssize_t n;
    int rc;

    do {
        rc = poll(&pfd, 1, s->timeout_ms);
    } while (rc < 0 && errno == EINTR);
    if (rc == 0) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                    "no reply from the VMM within %d ms", s->timeout_ms);
        return false;
    }
    n = rc < 0 ? -1 : recv(s->fd, buf, sizeof(buf), 0);
    if (n <= 0) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                    "the VMM closed the connection%s%s", n < 0 ? ": " : "",
                    n < 0 ? g_strerror(errno) : "");
        return false;
    }
    json_stream_feed(&s->stream, buf, n);
    return true;
}

/* The next message from the server. */
static JsonNode *recv_msg(QmpSocket *s, GError **errp)
{
    g_autofree char *text = NULL;
    GError *err = NULL;
    JsonNode *node;

    while (g_queue_is_empty(&s->values)) {
        if (s->stream_err) {
            g_propagate_error(errp, g_steal_pointer(&s->stream_err));
            g_prefix_error(errp, "bad data from the VMM: ");
            return NULL;
        }
        if (!fill(s, errp)) {
            return NULL;
        }
    }
    text = g_queue_pop_head(&s->values);
    node = qjson_parse(text, strlen(text), &err);
    if (!node || !JSON_NODE_HOLDS_OBJECT(node)) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                    "bad data from the VMM: %s",
                    err ? err->message : "not an object");
        g_clear_error(&err);
        if (node) {
            json_node_unref(node);
        }
        return NULL;
    }
    return node;
}

static bool send_all(QmpSocket *s, const char *data, size_t len,
                     GError **errp)
{
    while (len) {
        ssize_t n = send(s->fd, data, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            g_set_error(errp, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE,
                        "cannot send to the VMM: %s", g_strerror(errno));
            return false;
        }
        data += n;
        len -= n;
    }
    return true;
}

bool qmp_socket_negotiate(QmpSocket *s, GError **errp)
{
    g_autoptr(JsonNode) greeting = recv_msg(s, errp);
    g_autoptr(JsonNode) ret = NULL;

    if (!greeting) {
        return false;
    }
    if (!json_object_has_member(json_node_get_object(greeting), "QMP")) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                    "this is not a QMP server (no greeting)");
        return false;
    }
    ret = qmp_socket_execute(s, "qmp_capabilities", NULL, NULL, errp);
    return ret != NULL;
}

static FerryErrorCode error_code(const char *class)
{
    static const char *const classes[] = {
        [FERRY_ERROR_GENERIC] = "GenericError",
        [FERRY_ERROR_COMMAND_NOT_FOUND] = "CommandNotFound",
        [FERRY_ERROR_DEVICE_NOT_ACTIVE] = "DeviceNotActive",
        [FERRY_ERROR_DEVICE_NOT_FOUND] = "DeviceNotFound",
        [FERRY_ERROR_KVM_MISSING_CAP] = "KVMMissingCap",
    };

    for (size_t i = 0; class && i < G_N_ELEMENTS(classes); i++) {
        if (!strcmp(classes[i], class)) {
            return i;
        }
    }
    return FERRY_ERROR_GENERIC;
}

/* Converts a reply into the return value or a FERRY_ERROR. */
static JsonNode *unpack(JsonObject *rsp, GError **errp)
{
    JsonObject *error;

    if (json_object_has_member(rsp, "return")) {
        return json_node_copy(json_object_get_member(rsp, "return"));
    }
    error = json_object_get_object_member(rsp, "error");
    g_set_error(errp, FERRY_ERROR, error_code(
                    json_object_get_string_member_with_default(error, "class",
                                                               NULL)),
                "%s", json_object_get_string_member_with_default(
                    error, "desc", "(no description)"));
    return NULL;
}

static bool is_reply_to(JsonObject *msg, unsigned id)
{
    JsonNode *rid = json_object_get_member(msg, "id");

    return (json_object_has_member(msg, "return") ||
            (json_object_has_member(msg, "error") &&
             JSON_NODE_HOLDS_OBJECT(json_object_get_member(msg, "error")))) &&
           rid && JSON_NODE_HOLDS_VALUE(rid) &&
           json_node_get_value_type(rid) == G_TYPE_INT64 &&
           json_node_get_int(rid) == id;
}

JsonNode *qmp_socket_execute(QmpSocket *s, const char *command,
                             JsonObject *args, JsonNode **raw, GError **errp)
{
    g_autoptr(JsonObject) req = json_object_new();
    g_autoptr(JsonNode) node = json_node_alloc();
    g_autoptr(GString) text = g_string_new(NULL);
    unsigned id = ++s->next_id;

    if (raw) {
        *raw = NULL;
    }
    json_object_set_string_member(req, "execute", command);
    if (args) {
        json_object_set_object_member(req, "arguments", json_object_ref(args));
    }
    json_object_set_int_member(req, "id", id);
    json_node_init_object(node, req);
    qjson_write(text, node);
    g_string_append_c(text, '\n');
    if (!send_all(s, text->str, text->len, errp)) {
        return NULL;
    }
    for (;;) {
        g_autoptr(JsonNode) msg = recv_msg(s, errp);

        if (!msg) {
            return NULL;
        }
        if (is_reply_to(json_node_get_object(msg), id)) {
            if (raw) {
                *raw = json_node_ref(msg);
            }
            return unpack(json_node_get_object(msg), errp);
        }
        /* an event, or a stray reply: not ours */
    }
}
