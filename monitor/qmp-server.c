/*
 * The QMP server: one session per connected client, each with its own
 * input splitter, request queue and capabilities state.
 *
 * Requests are handled one at a time in arrival order.  A client whose
 * replies pile up (it is not reading) stops being read until it catches
 * up, so it only ever delays itself; events, which the server cannot hold
 * back, disconnect it once MON_OUT_MAX is queued.
 */
#include <stdio.h>
#include "monitor-internal.h"
#include "util/json.h"
#include "monitor/json-stream.h"
#include "monitor/monitor.h"
#include "qapi/qapi-commands.h"
#include "qapi/qapi-visit.h"
#include "util/error.h"
#include "util/log.h"

typedef struct QmpInput {
    char *text;                 /* a complete JSON value, or NULL */
    size_t len;
    GError *err;                /* why the input could not be split */
} QmpInput;

typedef struct QmpClient {
    MonConn *conn;
    JsonStream stream;
    GQueue pending;             /* QmpInput *, oldest first */
    QmpSession session;
    bool unix_socket;           /* may pass fds */
} QmpClient;

static GPtrArray *clients;
static unsigned client_seq;

static void input_free(QmpInput *in)
{
    g_free(in->text);
    if (in->err) {
        g_error_free(in->err);
    }
    g_free(in);
}

static void send_node(QmpClient *c, JsonNode *node)
{
    g_autoptr(GString) text = g_string_new(NULL);

    qjson_write(text, node);
    /* QEMU's monitor ends every line with CR LF */
    g_string_append(text, "\r\n");
    mon_conn_write(c->conn, text->str, text->len);
}

static void handle(QmpClient *c, QmpInput *in)
{
    g_autoptr(JsonNode) rsp = NULL;
    g_autoptr(GError) err = NULL;

    if (in->err) {
        rsp = qmp_error_response(in->err, NULL);
    } else {
        g_autoptr(JsonNode) req = qjson_parse(in->text, in->len, &err);

        rsp = req ? qmp_dispatch(&c->session, req)
                  : qmp_error_response(err, NULL);
    }
    if (rsp) {
        send_node(c, rsp);
    }
}

/* Runs queued requests while the client keeps up with the replies. */
static void process(QmpClient *c)
{
    QmpInput *in;

    while (!mon_conn_is_closed(c->conn) && !mon_conn_backlogged(c->conn) &&
           (in = g_queue_pop_head(&c->pending)) != NULL) {
        handle(c, in);
        input_free(in);
    }
    if (!mon_conn_is_closed(c->conn)) {
        mon_conn_pause_input(c->conn, !g_queue_is_empty(&c->pending) ||
                             mon_conn_backlogged(c->conn));
    }
}

static void on_value(void *opaque, const char *text, size_t len, GError *err)
{
    QmpClient *c = opaque;
    QmpInput *in = g_new0(QmpInput, 1);

    in->text = text ? g_strndup(text, len) : NULL;
    in->len = len;
    in->err = err;
    g_queue_push_tail(&c->pending, in);
}

static void client_input(MonConn *conn, const char *data, size_t len)
{
    QmpClient *c = mon_conn_opaque(conn);

    json_stream_feed(&c->stream, data, len);
    process(c);
}

static void client_drained(MonConn *conn)
{
    process(mon_conn_opaque(conn));
}

static void client_free(QmpClient *c)
{
    json_stream_destroy(&c->stream);
    g_queue_clear_full(&c->pending, (GDestroyNotify)input_free);
    qmp_session_destroy(&c->session);
    mon_conn_release(c->conn);
    g_free(c);
}

static void client_closed(MonConn *conn)
{
    QmpClient *c = mon_conn_opaque(conn);

    ferry_log("qmp: %s disconnected", mon_conn_name(conn));
    g_ptr_array_remove(clients, c);
    client_free(c);
}

static const MonConnOps qmp_conn_ops = {
    .input = client_input,
    .drained = client_drained,
    .closed = client_closed,
};

static void send_greeting(QmpClient *c)
{
    g_autoptr(VersionInfo) ver = qmp_query_version(NULL);
    JsonObject *qmp = json_object_new(), *top = json_object_new();
    JsonArray *caps = json_array_new();
    g_autoptr(JsonNode) node = NULL;

    json_object_set_member(qmp, "version", qapi_VersionInfo_to_json(ver));
    if (c->session.oob_offered) {
        json_array_add_string_element(caps, "oob");
    }
    json_object_set_array_member(qmp, "capabilities", caps);
    json_object_set_object_member(top, "QMP", qmp);
    node = qapi_object_node(top);
    send_node(c, node);
}

static QmpClient *client_new(int fd, const char *name, bool unix_socket)
{
    QmpClient *c = g_new0(QmpClient, 1);

    if (!clients) {
        clients = g_ptr_array_new();
    }
    qmp_session_init(&c->session, qmp_commands());
    json_stream_init(&c->stream, on_value, c);
    g_queue_init(&c->pending);
    c->unix_socket = unix_socket;
    c->conn = mon_conn_new(fd, fd, true, name, &qmp_conn_ops, c,
                           unix_socket ? c->session.fds : NULL);
    g_ptr_array_add(clients, c);
    return c;
}

MonConn *qmp_client_new(int fd, const char *name, bool unix_socket)
{
    QmpClient *c = client_new(fd, name, unix_socket);

    ferry_log("qmp: %s connected", name);
    send_greeting(c);
    return c->conn;
}

/* --- live update (monitor/qmp-handoff.c) --------------------------------- */

static GBytes *client_partial(QmpClient *c)
{
    GString *buf = c->stream.buf;

    if (c->stream.state == JSON_STREAM_TOP || c->stream.skipping || !buf) {
        return g_bytes_new(NULL, 0);
    }
    return g_bytes_new(buf->str, buf->len);
}

void qmp_server_freeze(bool frozen)
{
    for (guint i = 0; clients && i < clients->len; i++) {
        QmpClient *c = g_ptr_array_index(clients, i);

        mon_conn_freeze(c->conn, frozen);
        if (!frozen) {
            process(c);     /* input may have been paused meanwhile */
        }
    }
}

void qmp_server_foreach_client(QmpClientFn *fn, void *opaque)
{
    for (guint i = 0; clients && i < clients->len; i++) {
        QmpClient *c = g_ptr_array_index(clients, i);
        g_autoptr(GPtrArray) queued = g_ptr_array_new_with_free_func(
            (GDestroyNotify)g_bytes_unref);

        if (!mon_conn_can_hand_over(c->conn)) {
            continue;
        }
        mon_conn_flush(c->conn, 100);
        for (GList *l = c->pending.head; l; l = l->next) {
            QmpInput *in = l->data;
            if (in->text) {
                g_ptr_array_add(queued, g_bytes_new(in->text, in->len));
            }
        }
        QmpClientState st = {
            .name = mon_conn_name(c->conn),
            .negotiated = c->session.negotiated,
            .oob_enabled = c->session.oob_enabled,
            .unix_socket = c->unix_socket,
            .chardev = mon_conn_chardev(c->conn),
            .queued = queued,
            .partial = client_partial(c),
            .output = mon_conn_queued_output(c->conn),
        };
        fn(opaque, mon_conn_fd(c->conn), &st);
        g_bytes_unref(st.partial);
        g_bytes_unref(st.output);
    }
}

MonConn *qmp_client_adopt(int fd, const QmpClientState *st)
{
    QmpClient *c = client_new(fd, st->name, st->unix_socket);

    c->session.negotiated = st->negotiated;
    c->session.oob_enabled = st->oob_enabled;
    mon_conn_write(c->conn, g_bytes_get_data(st->output, NULL),
                   g_bytes_get_size(st->output));
    for (guint i = 0; i < st->queued->len; i++) {
        GBytes *b = g_ptr_array_index(st->queued, i);
        on_value(c, g_bytes_get_data(b, NULL), g_bytes_get_size(b), NULL);
    }
    json_stream_feed(&c->stream, g_bytes_get_data(st->partial, NULL),
                     g_bytes_get_size(st->partial));
    ferry_log("qmp: %s taken over from the predecessor", st->name);
    process(c);
    return c->conn;
}

static void qmp_accept(int fd, const SocketAddress *addr, void *opaque)
{
    g_autofree char *where = socket_address_to_string(addr);
    g_autofree char *name = g_strdup_printf("%s#%u", where, ++client_seq);

    qmp_client_new(fd, name, addr->type == SOCKET_ADDRESS_UNIX);
}

bool qmp_server_add(const char *spec, GError **errp)
{
    g_autoptr(SocketAddress) addr = NULL;
    bool is_stdio;

    addr = monitor_spec_parse(spec, false, &is_stdio, errp);
    if (!addr) {
        g_prefix_error(errp, "-qmp: ");
        return false;
    }
    if (!clients) {
        clients = g_ptr_array_new();
    }
    if (!mon_listen(addr, qmp_accept, NULL, errp)) {
        g_prefix_error(errp, "-qmp: ");
        return false;
    }
    ferry_log("qmp: listening on %s", spec);
    if (!socket_address_is_local(addr)) {
        /* QMP controls the VM and ferry's monitors have no TLS */
        g_autofree char *where = socket_address_to_string(addr);

        fprintf(stderr, "ferry: warning: -qmp %s is reachable from other "
                "hosts without TLS (ferry's monitor has none): anyone who "
                "connects controls the VM; use a unix socket or a loopback "
                "address\n", where);
        ferry_log("qmp: warning: %s is not a loopback address and the "
                  "monitor has no TLS", where);
    }
    return true;
}

void qmp_server_broadcast(const char *line, size_t len)
{
    for (guint i = 0; clients && i < clients->len; i++) {
        QmpClient *c = g_ptr_array_index(clients, i);

        if (c->session.negotiated) {
            mon_conn_write(c->conn, line, len);
        }
    }
}

void qmp_server_cleanup(void)
{
    for (guint i = 0; clients && i < clients->len; i++) {
        QmpClient *c = g_ptr_array_index(clients, i);

        /* the reply to 'quit' and the SHUTDOWN event must get out */
        mon_conn_shutdown(c->conn, 1000);
        client_free(c);
    }
    g_clear_pointer(&clients, g_ptr_array_unref);
}

void monitor_cleanup(void)
{
    qmp_event_flush();
    qmp_event_cleanup();
    qmp_server_cleanup();
    hmp_server_cleanup();
    monitor_mon_cleanup();
    mon_listeners_close();
}
