/*
 * The VMM's doors to the human monitor: "-monitor stdio", "-monitor
 * unix:PATH,server=on,wait=off" (any number of clients), and
 * human-monitor-command.  All run HMP in-process through the QMP
 * dispatcher, so they behave exactly like the QMP commands they use.
 */
#include <string.h>
#include "monitor-internal.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "util/error.h"
#include "util/log.h"

#define HMP_MAX_LINE 4096
#define HMP_PROMPT "(qemu) "

typedef struct HmpClient {
    MonConn *conn;
    GString *line;
    bool discarding;            /* the current line is too long */
} HmpClient;

static GPtrArray *hmp_clients;
static unsigned hmp_seq;

static JsonNode *local_qmp(void *opaque, const char *command,
                           JsonObject *args, GError **errp)
{
    return qmp_run(qmp_commands(), command, args, errp);
}

/* QEMU's monitor turns "\n" into "\r\n". */
static char *to_crlf(const char *text)
{
    GString *out = g_string_new(NULL);

    for (const char *p = text; *p; p++) {
        if (*p == '\n' && (p == text || p[-1] != '\r')) {
            g_string_append_c(out, '\r');
        }
        g_string_append_c(out, *p);
    }
    return g_string_free(out, FALSE);
}

char *hmp_run_local(const char *line)
{
    g_autoptr(GString) out = g_string_new(NULL);
    g_autoptr(GError) err = NULL;
    Hmp hmp = { .qmp = local_qmp, .out = out };

    if (!hmp_execute(&hmp, line, &err)) {
        /* like QEMU: unknown commands are reported without "Error: " */
        hmp_printf(&hmp, "%s%s\n",
                   g_error_matches(err, FERRY_ERROR,
                                   FERRY_ERROR_COMMAND_NOT_FOUND) ?
                   "" : "Error: ", err->message);
    }
    return to_crlf(out->str);
}

static void run_line(HmpClient *c, const char *line)
{
    g_autofree char *out = hmp_run_local(line);

    mon_conn_write(c->conn, out, strlen(out));
    mon_conn_write(c->conn, HMP_PROMPT, strlen(HMP_PROMPT));
}

static void client_input(MonConn *conn, const char *data, size_t len)
{
    HmpClient *c = mon_conn_opaque(conn);

    for (size_t i = 0; i < len && !mon_conn_is_closed(conn); i++) {
        if (data[i] != '\n') {
            if (c->line->len >= HMP_MAX_LINE) {
                c->discarding = true;
            } else if (data[i] != '\r') {
                g_string_append_c(c->line, data[i]);
            }
            continue;
        }
        if (c->discarding) {
            static const char msg[] = "Error: line too long\r\n" HMP_PROMPT;

            mon_conn_write(conn, msg, strlen(msg));
        } else {
            run_line(c, c->line->str);
        }
        g_string_truncate(c->line, 0);
        c->discarding = false;
    }
}

static void client_free(HmpClient *c)
{
    g_string_free(c->line, TRUE);
    mon_conn_release(c->conn);
    g_free(c);
}

static void client_closed(MonConn *conn)
{
    HmpClient *c = mon_conn_opaque(conn);

    ferry_log("hmp: %s closed", mon_conn_name(conn));
    g_ptr_array_remove(hmp_clients, c);
    client_free(c);
}

static const MonConnOps hmp_conn_ops = {
    .input = client_input,
    .closed = client_closed,
};

static HmpClient *client_add(int in_fd, int out_fd, bool own,
                             const char *name)
{
    HmpClient *c = g_new0(HmpClient, 1);

    c->line = g_string_new(NULL);
    c->conn = mon_conn_new(in_fd, out_fd, own, name, &hmp_conn_ops, c, NULL);
    if (!hmp_clients) {
        hmp_clients = g_ptr_array_new();
    }
    g_ptr_array_add(hmp_clients, c);
    return c;
}

static MonConn *client_new(int in_fd, int out_fd, bool own, const char *name)
{
    HmpClient *c = client_add(in_fd, out_fd, own, name);
    g_autofree char *banner = g_strdup_printf(
        "ferry %s monitor - type 'help' for more information\r\n" HMP_PROMPT,
        FERRY_VERSION);

    ferry_log("hmp: %s opened", name);
    mon_conn_write(c->conn, banner, strlen(banner));
    return c->conn;
}

/* --- live update (monitor/qmp-handoff.c) --------------------------------- */

void hmp_server_freeze(bool frozen)
{
    for (guint i = 0; hmp_clients && i < hmp_clients->len; i++) {
        HmpClient *c = g_ptr_array_index(hmp_clients, i);

        mon_conn_freeze(c->conn, frozen);
    }
}

void hmp_server_foreach_client(HmpClientFn *fn, void *opaque)
{
    for (guint i = 0; hmp_clients && i < hmp_clients->len; i++) {
        HmpClient *c = g_ptr_array_index(hmp_clients, i);

        if (!mon_conn_can_hand_over(c->conn)) {
            continue;       /* stdio stays with the terminal */
        }
        mon_conn_flush(c->conn, 100);
        HmpClientState st = {
            .name = mon_conn_name(c->conn),
            .chardev = mon_conn_chardev(c->conn),
            .line = c->line->str,
            .discarding = c->discarding,
            .output = mon_conn_queued_output(c->conn),
        };
        fn(opaque, mon_conn_fd(c->conn), &st);
        g_bytes_unref(st.output);
    }
}

MonConn *hmp_client_adopt(int fd, const HmpClientState *st)
{
    HmpClient *c = client_add(fd, fd, true, st->name);

    g_string_assign(c->line, st->line);
    c->discarding = st->discarding;
    mon_conn_write(c->conn, g_bytes_get_data(st->output, NULL),
                   g_bytes_get_size(st->output));
    ferry_log("hmp: %s taken over from the predecessor", st->name);
    return c->conn;
}

MonConn *hmp_client_new(int fd, const char *name)
{
    return client_new(fd, fd, true, name);
}

static void hmp_accept(int fd, const SocketAddress *addr, void *opaque)
{
    g_autofree char *where = socket_address_to_string(addr);
    g_autofree char *name = g_strdup_printf("%s#%u", where, ++hmp_seq);

    hmp_client_new(fd, name);
}

bool hmp_server_add(const char *spec, GError **errp)
{
    g_autoptr(SocketAddress) addr = NULL;
    bool is_stdio;

    addr = monitor_spec_parse(spec, true, &is_stdio, errp);
    if (is_stdio) {
        client_new(0, 1, false, "stdio");
        return true;
    }
    if (!addr || !mon_listen(addr, hmp_accept, NULL, errp)) {
        g_prefix_error(errp, "-monitor: ");
        return false;
    }
    return true;
}

void hmp_server_cleanup(void)
{
    for (guint i = 0; hmp_clients && i < hmp_clients->len; i++) {
        HmpClient *c = g_ptr_array_index(hmp_clients, i);

        mon_conn_shutdown(c->conn, 1000);
        client_free(c);
    }
    g_clear_pointer(&hmp_clients, g_ptr_array_unref);
}
