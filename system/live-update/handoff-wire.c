/*
 * Handoff messages (handoff-wire.h).  SOCK_SEQPACKET keeps message
 * boundaries and delivers descriptors with the packet they came with, so
 * a packet is read whole with one recvmsg and never mixed with the next.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include "io/socket.h"
#include "system/live-update/handoff-wire.h"
#include "util/error.h"
#include "util/json.h"

typedef struct HandoffHeader {
    uint32_t magic;
    uint16_t version;
    uint16_t type;
    uint32_t json_len;
} HandoffHeader;

static const char *const type_names[HANDOFF_TYPE_MAX] = {
    [HANDOFF_HELLO] = "HELLO", [HANDOFF_FDS] = "FDS",
    [HANDOFF_WELCOME] = "WELCOME", [HANDOFF_READY] = "READY",
    [HANDOFF_CUTOVER] = "CUTOVER", [HANDOFF_ALIVE] = "ALIVE",
    [HANDOFF_COMMIT] = "COMMIT", [HANDOFF_ABORT] = "ABORT",
};

const char *handoff_type_name(HandoffType type)
{
    return type > 0 && type < HANDOFF_TYPE_MAX ? type_names[type] : "?";
}

static bool send_packet(int sock, HandoffType type, uint16_t version,
                        JsonObject *body, const int *fds, unsigned nfds,
                        GError **errp)
{
    g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
    g_autoptr(GString) packet = g_string_new(NULL);
    HandoffHeader h = { HANDOFF_MAGIC, version, type, 0 };

    json_node_set_object(node, body ? body : json_object_new());
    if (!body) {
        json_object_unref(json_node_get_object(node));
    }
    g_autofree char *json = qjson_to_string(node);
    h.json_len = (uint32_t)strlen(json);
    if (h.json_len > HANDOFF_MAX_JSON || nfds > HANDOFF_MAX_FDS) {
        error_setg(errp, "handoff: %s message too large (%u bytes, %u fds)",
                   handoff_type_name(type), h.json_len, nfds);
        return false;
    }
    g_string_append_len(packet, (const char *)&h, sizeof(h));
    g_string_append_len(packet, json, h.json_len);
    if (socket_send_fds(sock, packet->str, packet->len, fds, nfds) !=
        (ssize_t)packet->len) {
        error_setg_errno(errp, errno, "handoff: sending %s",
                         handoff_type_name(type));
        return false;
    }
    return true;
}

bool handoff_send(int sock, HandoffType type, JsonObject *body,
                  const int *fds, unsigned nfds, GError **errp)
{
    return send_packet(sock, type, HANDOFF_VERSION, body, fds, nfds, errp);
}

bool handoff_send_version(int sock, HandoffType type, uint16_t version,
                          JsonObject *body, GError **errp)
{
    return send_packet(sock, type, version, body, NULL, 0, errp);
}

static bool wait_readable(int sock, int timeout_ms, GError **errp)
{
    struct pollfd p = { .fd = sock, .events = POLLIN };
    int n;

    do {
        n = poll(&p, 1, timeout_ms);
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
        error_setg(errp, "handoff: no message from the peer within %d ms",
                   timeout_ms);
    } else if (n < 0) {
        error_setg_errno(errp, errno, "handoff: poll");
    }
    return n > 0;
}

static JsonObject *parse_body(const char *text, size_t len, GError **errp)
{
    g_autoptr(JsonNode) node = qjson_parse(text, len, errp);

    if (!node) {
        g_prefix_error(errp, "handoff: ");
        return NULL;
    }
    if (!JSON_NODE_HOLDS_OBJECT(node)) {
        error_setg(errp, "handoff: the message body is not a JSON object");
        return NULL;
    }
    return json_object_ref(json_node_get_object(node));
}

static bool check_header(const HandoffHeader *h, ssize_t n, GError **errp)
{
    if (n < (ssize_t)sizeof(*h) || h->magic != HANDOFF_MAGIC) {
        error_setg(errp, "handoff: a packet of %zd bytes that is not a "
                   "handoff message", n);
        return false;
    }
    if (h->type == 0 || h->type >= HANDOFF_TYPE_MAX) {
        error_setg(errp, "handoff: unknown message type %u", h->type);
        return false;
    }
    if (h->json_len != (size_t)n - sizeof(*h)) {
        error_setg(errp, "handoff: %s message says %u bytes of JSON, "
                   "carries %zu", handoff_type_name(h->type), h->json_len,
                   (size_t)n - sizeof(*h));
        return false;
    }
    return true;
}

HandoffMsg *handoff_recv(int sock, int timeout_ms, GError **errp)
{
    g_autofree char *buf = g_malloc(sizeof(HandoffHeader) + HANDOFF_MAX_JSON);
    g_autoptr(HandoffMsg) msg = g_new0(HandoffMsg, 1);
    HandoffHeader h;
    ssize_t n;

    msg->fds = g_array_new(FALSE, FALSE, sizeof(int));
    if (!wait_readable(sock, timeout_ms, errp)) {
        return NULL;
    }
    n = socket_recv_fds(sock, buf, sizeof(HandoffHeader) + HANDOFF_MAX_JSON,
                        msg->fds);
    if (n <= 0) {
        if (n == 0) {
            error_setg(errp, "handoff: the peer closed the connection");
        } else {
            error_setg_errno(errp, errno, "handoff: receiving");
        }
        return NULL;
    }
    memcpy(&h, buf, MIN((size_t)n, sizeof(h)));
    if (!check_header(&h, n, errp)) {
        return NULL;
    }
    msg->type = h.type;
    msg->version = h.version;
    msg->body = parse_body(buf + sizeof(h), h.json_len, errp);
    return msg->body ? g_steal_pointer(&msg) : NULL;
}

int handoff_msg_steal_fd(HandoffMsg *msg, guint i)
{
    int fd;

    if (i >= msg->fds->len) {
        return -1;
    }
    fd = g_array_index(msg->fds, int, i);
    g_array_index(msg->fds, int, i) = -1;
    return fd;
}

void handoff_msg_free(HandoffMsg *msg)
{
    if (!msg) {
        return;
    }
    for (guint i = 0; msg->fds && i < msg->fds->len; i++) {
        int fd = g_array_index(msg->fds, int, i);
        if (fd >= 0) {
            close(fd);
        }
    }
    if (msg->fds) {
        g_array_free(msg->fds, TRUE);
    }
    if (msg->body) {
        json_object_unref(msg->body);
    }
    g_free(msg);
}
