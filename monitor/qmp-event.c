/*
 * Event delivery.  qmp_event_emit() may run on any thread (vCPU threads
 * emit STOP, migration emits status changes): it serialises the event and
 * queues it under a lock; the main loop sends the queue to the clients in
 * emission order.  Even on the main thread delivery waits for the loop,
 * so the reply to a command always precedes the events it caused, as
 * QEMU does for 'quit' and SHUTDOWN.
 */
#include "monitor-internal.h"
#include "util/json.h"
#include "monitor/monitor.h"
#include "monitor/qapi-runtime.h"
#include "util/log.h"

static GMutex lock;
static GQueue queue = G_QUEUE_INIT;    /* GString *, lock held */
static bool flush_scheduled;            /* lock held */
static bool closed;                     /* lock held */

static void free_line(gpointer line)
{
    g_string_free(line, TRUE);
}

static gboolean flush_cb(gpointer opaque)
{
    qmp_event_flush();
    return G_SOURCE_REMOVE;
}

void qmp_event_emit(const char *name, JsonNode *data)
{
    gint64 now = g_get_real_time();
    JsonObject *ev = json_object_new(), *ts = json_object_new();
    g_autoptr(JsonNode) node = NULL;
    GString *line = g_string_new(NULL);

    json_object_set_int_member(ts, "seconds", now / G_USEC_PER_SEC);
    json_object_set_int_member(ts, "microseconds", now % G_USEC_PER_SEC);
    json_object_set_object_member(ev, "timestamp", ts);
    json_object_set_string_member(ev, "event", name);
    if (data) {
        json_object_set_member(ev, "data", data);
    }
    node = qapi_object_node(ev);
    qjson_write(line, node);
    ferry_log("qmp: event %s", line->str);
    g_string_append(line, "\r\n");

    g_mutex_lock(&lock);
    if (closed) {
        g_string_free(line, TRUE);
    } else {
        g_queue_push_tail(&queue, line);
        if (!flush_scheduled) {
            flush_scheduled = true;
            g_idle_add_full(G_PRIORITY_DEFAULT, flush_cb, NULL, NULL);
        }
    }
    g_mutex_unlock(&lock);
}

void qmp_event_flush(void)
{
    GQueue batch = G_QUEUE_INIT;
    GString *line;

    g_mutex_lock(&lock);
    batch = queue;
    g_queue_init(&queue);
    flush_scheduled = false;
    g_mutex_unlock(&lock);
    while ((line = g_queue_pop_head(&batch)) != NULL) {
        qmp_server_broadcast(line->str, line->len);
        g_string_free(line, TRUE);
    }
}

void qmp_event_cleanup(void)
{
    g_mutex_lock(&lock);
    closed = true;
    g_queue_clear_full(&queue, free_line);
    g_mutex_unlock(&lock);
}
