/*
 * The QMP server in-process, without a VM: greeting and negotiation over a
 * real unix socket, events emitted from several threads at once (as vCPU
 * threads do) arriving complete and in each thread's order, and
 * monitor_cleanup() delivering what is still queued before it closes.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "io/socket.h"
#include "util/json.h"
#include "monitor/monitor.h"
#include "util/log.h"

#define THREADS 4
#define EVENTS_PER_THREAD 500

static char *tmpdir, *sock_path;
static int client_fd = -1;
static GString *inbuf;

/* Runs the main loop until a whole line arrived; returns it (or NULL). */
static char *read_line(void)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    for (;;) {
        char *nl = strstr(inbuf->str, "\r\n");
        char buf[4096];
        ssize_t n;

        if (nl) {
            char *line = g_strndup(inbuf->str, nl - inbuf->str);

            g_string_erase(inbuf, 0, nl - inbuf->str + 2);
            return line;
        }
        if (g_get_monotonic_time() > deadline) {
            return NULL;
        }
        g_main_context_iteration(NULL, FALSE);
        n = recv(client_fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0) {
            return NULL;            /* EOF */
        }
        if (n > 0) {
            g_string_append_len(inbuf, buf, n);
        } else if (errno == EAGAIN) {
            g_usleep(1000);
        }
    }
}

static JsonObject *read_msg(JsonNode **owner)
{
    g_autofree char *line = read_line();

    g_assert_nonnull(line);
    *owner = qjson_parse(line, strlen(line), NULL);
    g_assert_nonnull(*owner);
    return json_node_get_object(*owner);
}

static void test_connect(void)
{
    g_autofree char *uri = g_strdup_printf("unix:%s", sock_path);
    g_autofree char *spec = g_strdup_printf("%s,server=on,wait=off", uri);
    g_autoptr(SocketAddress) addr = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonNode) greeting = NULL, reply = NULL;
    const char *req = "{\"execute\": \"qmp_capabilities\"}";

    g_assert_true(qmp_server_add(spec, &err));
    g_assert_no_error(err);
    addr = socket_address_parse(uri, &err);
    client_fd = socket_connect(addr, &err);
    g_assert_no_error(err);
    g_assert_true(json_object_has_member(read_msg(&greeting), "QMP"));
    g_assert_cmpint(send(client_fd, req, strlen(req), 0), ==, strlen(req));
    g_assert_true(json_object_has_member(read_msg(&reply), "return"));
}

static gpointer emitter(gpointer opaque)
{
    int t = GPOINTER_TO_INT(opaque);

    for (int i = 0; i < EVENTS_PER_THREAD; i++) {
        JsonObject *data = json_object_new();
        JsonNode *node = json_node_alloc();

        json_object_set_int_member(data, "thread", t);
        json_object_set_int_member(data, "seq", i);
        json_node_init_object(node, data);
        json_object_unref(data);
        qmp_event_emit("TEST_EVENT", node);
    }
    return NULL;
}

static void test_events_from_threads(void)
{
    GThread *threads[THREADS];
    int next[THREADS] = { 0 };

    for (int t = 0; t < THREADS; t++) {
        threads[t] = g_thread_new("emitter", emitter, GINT_TO_POINTER(t));
    }
    for (int t = 0; t < THREADS; t++) {
        g_thread_join(threads[t]);
    }
    for (int i = 0; i < THREADS * EVENTS_PER_THREAD; i++) {
        g_autoptr(JsonNode) owner = NULL;
        JsonObject *ev = read_msg(&owner);
        JsonObject *data = json_object_get_object_member(ev, "data");
        JsonObject *ts = json_object_get_object_member(ev, "timestamp");
        int t = json_object_get_int_member(data, "thread");

        g_assert_cmpstr(json_object_get_string_member(ev, "event"), ==,
                        "TEST_EVENT");
        g_assert_cmpint(json_object_get_int_member(ts, "microseconds"), <,
                        1000000);
        g_assert_true(t >= 0 && t < THREADS);
        /* each thread's events arrive in the order it emitted them */
        g_assert_cmpint(json_object_get_int_member(data, "seq"), ==,
                        next[t]++);
    }
}

static void test_cleanup_flushes(void)
{
    g_autoptr(JsonNode) owner = NULL;
    struct stat st;

    /* queued but not yet delivered by the main loop */
    qmp_event_emit("LAST_WORDS", NULL);
    monitor_cleanup();
    g_assert_cmpstr(json_object_get_string_member(read_msg(&owner), "event"),
                    ==, "LAST_WORDS");
    g_assert_null(read_line());     /* then EOF */
    g_assert_cmpint(stat(sock_path, &st), ==, -1);
    /* after cleanup, emitting is harmless */
    qmp_event_emit("IGNORED", NULL);
}

int main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    log_open("/dev/null", NULL);    /* every event is logged */
    tmpdir = g_dir_make_tmp("ferry-test-XXXXXX", NULL);
    sock_path = g_build_filename(tmpdir, "qmp.sock", NULL);
    inbuf = g_string_new(NULL);
    /* order matters: they share one server */
    g_test_add_func("/qmp-server/connect", test_connect);
    g_test_add_func("/qmp-server/events-from-threads",
                    test_events_from_threads);
    g_test_add_func("/qmp-server/cleanup-flushes", test_cleanup_flushes);
    rc = g_test_run();
    if (client_fd >= 0) {
        close(client_fd);
    }
    unlink(sock_path);
    rmdir(tmpdir);
    g_free(sock_path);
    g_free(tmpdir);
    g_string_free(inbuf, TRUE);
    return rc;
}
