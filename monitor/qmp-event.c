/*
 * Event delivery.  qmp_event_emit() may run on any thread (vCPU threads
 * emit STOP, migration emits status changes): it serialises the event and
 * queues it under a lock.  On the main thread, inside the main loop, the
 * queue is sent at once, so an event a command causes (MIGRATION setup
 * for 'migrate', RESUME for 'cont') reaches every client before that
 * command's reply, as in QEMU: libvirt checks the job right after the
 * reply.  Events from other threads are sent by the main loop, in
 * emission order.  Events that QEMU sends after a reply ('quit' and
 * SHUTDOWN) are emitted later by their own main-loop callback.
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

/*
 * True on the thread running the main loop.  Before the loop runs (start-
 * up) no client has negotiated yet, so queuing for the loop loses nothing.
 */
static bool on_main_loop(void)
{
    return g_main_context_is_owner(g_main_context_default());
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
        if (!flush_scheduled && !on_main_loop()) {
            flush_scheduled = true;
            g_idle_add_full(G_PRIORITY_DEFAULT, flush_cb, NULL, NULL);
        }
    }
    g_mutex_unlock(&lock);
    if (on_main_loop()) {
        qmp_event_flush();
    }
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
