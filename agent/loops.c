/*
 * The bridge's two threads.  Each takes a reference to the current
 * transport under the lock and does its I/O without it (agent-int.h); a
 * failure counts only if that transport is still the current one, so a
 * loop that was in the middle of using the old one when it was swapped
 * just carries on with the new one.
 *
 * The receive loop also keeps the calls' deadlines: it sleeps in poll()
 * no longer than the nearest one, parked or not.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include "agent-int.h"

#define READ_CHUNK 65536

static bool can_send_locked(FerryAgent *a)
{
    return !g_queue_is_empty(&a->sendq) && a->conn && !a->conn_dead;
}

gpointer agent_send_loop(gpointer opaque)
{
    FerryAgent *a = opaque;

    g_mutex_lock(&a->lock);
    for (;;) {
        GPtrArray *failed = NULL;
        GBytes *msg;
        Conn *c;
        gsize len;
        const void *data;
        int r;

        while (a->state != FERRY_AGENT_STATE_CLOSED && !can_send_locked(a)) {
            g_cond_wait(&a->send_cond, &a->lock);
        }
        if (a->state == FERRY_AGENT_STATE_CLOSED) {
            break;
        }
        msg = g_queue_pop_head(&a->sendq);
        c = conn_ref(a->conn);
        g_mutex_unlock(&a->lock);

        data = g_bytes_get_data(msg, &len);
        r = conn_write_all(c, data, len);
        g_bytes_unref(msg);

        g_mutex_lock(&a->lock);
        if (r < 0) {
            failed = agent_transport_failed_locked(a, c, g_strerror(-r));
        }
        conn_unref(c);
        if (failed) {
            g_mutex_unlock(&a->lock);
            agent_fail_calls(a, failed);
            g_mutex_lock(&a->lock);
        }
    }
    g_mutex_unlock(&a->lock);
    return NULL;
}

static void on_line(void *opaque, const char *line, size_t len)
{
    agent_handle_reply(opaque, line, len);
}

/* Reads what @c has; false when it failed. */
static bool read_some(FerryAgent *a, Conn *c, char *buf, const char **why)
{
    ssize_t n = read(c->fd, buf, READ_CHUNK);

    if (n > 0) {
        wire_feed(c, buf, (size_t)n, on_line, a);
        return true;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return true;
    }
    *why = n == 0 ? "end of file" : g_strerror(errno);
    return false;
}

/* One round: deadlines, then wait for bytes or a wake-up.  False once
 * the bridge is closed. */
static bool recv_round(FerryAgent *a, char *buf)
{
    struct pollfd pfd[2] = { { .fd = a->wake_fd, .events = POLLIN } };
    gint64 now = g_get_monotonic_time(), next;
    GPtrArray *failed;
    const char *why = NULL;
    Conn *c = NULL;
    uint64_t cnt;

    g_mutex_lock(&a->lock);
    if (a->state == FERRY_AGENT_STATE_CLOSED) {
        g_mutex_unlock(&a->lock);
        return false;
    }
    failed = agent_expire_locked(a, now, &next);
    if (!failed && a->conn && !a->conn_dead) {
        c = conn_ref(a->conn);
        pfd[1] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
    }
    g_mutex_unlock(&a->lock);
    if (failed) {
        agent_fail_calls(a, failed);
        return true;
    }
    poll(pfd, c ? 2 : 1, next ? (int)((next - now) / 1000 + 1) : -1);
    if (pfd[0].revents & POLLIN) {
        (void)!read(a->wake_fd, &cnt, sizeof(cnt));
    }
    if (c && pfd[1].revents && !read_some(a, c, buf, &why)) {
        g_mutex_lock(&a->lock);
        failed = agent_transport_failed_locked(a, c, why);
        g_mutex_unlock(&a->lock);
        agent_fail_calls(a, failed);
    }
    conn_unref(c);
    return true;
}

gpointer agent_recv_loop(gpointer opaque)
{
    FerryAgent *a = opaque;
    g_autofree char *buf = g_malloc(READ_CHUNK);

    while (recv_round(a, buf)) {
    }
    return NULL;
}
