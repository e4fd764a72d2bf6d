/*
 * The bridge: calls and their ids, the modes, the transport swap and the
 * teardown.  Locking: see agent-int.h.
 *
 * Why tolerance is a mode: a caller that is not moving the guest needs a
 * dead transport to be fatal at once, so that every waiter is released
 * and it can tear down (an agent that vanished is a guest that crashed or
 * was killed).  Only an orchestrator knows that a blackout is coming and
 * that a new connection will follow; it says so with set_migrating().
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "agent-int.h"

/* No cached copy: the library keeps no state outside its bridges. */
GQuark ferry_agent_error_quark(void)
{
    return g_quark_from_static_string("ferry-agent-error-quark");
}

void call_free(Call *c)
{
    g_free(c->id);
    g_bytes_unref(c->request);
    g_free(c);
}

void agent_wake(FerryAgent *a)
{
    uint64_t one = 1;

    (void)!write(a->wake_fd, &one, sizeof(one));
}

static void clear_sendq_locked(FerryAgent *a)
{
    GBytes *b;

    while ((b = g_queue_pop_head(&a->sendq))) {
        g_bytes_unref(b);
    }
}

static gint by_seq(gconstpointer pa, gconstpointer pb)
{
    const Call *x = *(Call *const *)pa, *y = *(Call *const *)pb;

    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Every outstanding call, oldest first, taken out of the table. */
static GPtrArray *steal_calls_locked(FerryAgent *a)
{
    GPtrArray *calls = g_ptr_array_new();
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init(&it, a->calls);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        g_ptr_array_add(calls, value);
        g_hash_table_iter_steal(&it);
    }
    g_ptr_array_sort(calls, by_seq);
    return calls;
}

GPtrArray *agent_close_locked(FerryAgent *a, GError *reason)
{
    if (a->state == FERRY_AGENT_STATE_CLOSED) {
        g_error_free(reason);
        return NULL;
    }
    agent_set_state_locked(a, FERRY_AGENT_STATE_CLOSED);
    a->close_reason = reason;
    clear_sendq_locked(a);
    if (a->conn) {
        conn_shutdown(a->conn);
    }
    g_cond_broadcast(&a->send_cond);
    agent_wake(a);
    return steal_calls_locked(a);
}

void agent_fail_calls(FerryAgent *a, GPtrArray *calls)
{
    if (!calls) {
        return;
    }
    g_mutex_lock(&a->lock);
    a->stats.failed += calls->len;
    g_mutex_unlock(&a->lock);
    for (guint i = 0; i < calls->len; i++) {
        Call *c = g_ptr_array_index(calls, i);

        c->done(c->opaque, NULL, a->close_reason);
        call_free(c);
    }
    g_ptr_array_free(calls, TRUE);
}

GPtrArray *agent_transport_failed_locked(FerryAgent *a, Conn *c,
                                         const char *why)
{
    if (c != a->conn || a->conn_dead) {
        return NULL;        /* an old transport, already replaced */
    }
    if (a->state == FERRY_AGENT_STATE_MIGRATING ||
        a->state == FERRY_AGENT_STATE_RESUMED) {
        a->conn_dead = true;
        a->stats.parks++;
        clear_sendq_locked(a);      /* all sent again at the resume */
        agent_set_state_locked(a, FERRY_AGENT_STATE_MIGRATING);
        return NULL;
    }
    return agent_close_locked(a, g_error_new(FERRY_AGENT_ERROR,
                                             FERRY_AGENT_ERROR_TRANSPORT,
                                             "agent connection lost: %s",
                                             why));
}

GPtrArray *agent_expire_locked(FerryAgent *a, gint64 now, gint64 *next)
{
    GHashTableIter it;
    gpointer value;

    *next = 0;
    g_hash_table_iter_init(&it, a->calls);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        Call *c = value;

        if (c->deadline && c->deadline <= now) {
            return agent_close_locked(a, g_error_new(
                FERRY_AGENT_ERROR, FERRY_AGENT_ERROR_TIMEOUT,
                "call %s timed out: bridge closed", c->id));
        }
        if (c->deadline && (!*next || c->deadline < *next)) {
            *next = c->deadline;
        }
    }
    return NULL;
}

void agent_handle_reply(FerryAgent *a, const char *line, size_t len)
{
    g_autofree char *id = NULL;
    g_autoptr(JsonNode) ret = NULL;
    g_autoptr(GError) err = NULL;
    Call *c = NULL;

    if (!wire_parse_reply(line, len, &id, &ret, &err)) {
        return;             /* not a reply: nothing waits for it */
    }
    g_mutex_lock(&a->lock);
    if (id && (c = g_hash_table_lookup(a->calls, id))) {
        g_hash_table_steal(a->calls, id);
        *(err ? &a->stats.failed : &a->stats.completed) += 1;
    } else {
        a->stats.late_replies++;
    }
    g_mutex_unlock(&a->lock);
    if (c) {
        c->done(c->opaque, ret, err);
        call_free(c);
    }
}

/* --- public API ------------------------------------------------------------ */

static bool fd_blocking(int fd, GError **errp)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        g_set_error(errp, FERRY_AGENT_ERROR, FERRY_AGENT_ERROR_INVALID,
                    "descriptor %d: %s", fd, g_strerror(errno));
        return false;
    }
    return true;
}

FerryAgent *ferry_agent_new(int fd, GError **errp)
{
    FerryAgent *a;

    if (!fd_blocking(fd, errp)) {
        close(fd);
        return NULL;
    }
    a = g_new0(FerryAgent, 1);
    g_mutex_init(&a->lock);
    g_cond_init(&a->send_cond);
    a->state = FERRY_AGENT_STATE_NORMAL;
    a->conn = conn_new(fd);
    a->calls = g_hash_table_new(g_str_hash, g_str_equal);
    g_queue_init(&a->sendq);
    /* Ids unique across bridges: the agent's table outlives any one. */
    a->token = g_strdup_printf("%08x%08x", g_random_int(), g_random_int());
    a->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    a->sender = g_thread_new("agent-send", agent_send_loop, a);
    a->receiver = g_thread_new("agent-recv", agent_recv_loop, a);
    return a;
}

int ferry_agent_connect_unix(const char *path, GError **errp)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        g_set_error(errp, FERRY_AGENT_ERROR, FERRY_AGENT_ERROR_INVALID,
                    "socket path too long: %s", path);
        return -1;
    }
    strcpy(sun.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        g_set_error(errp, FERRY_AGENT_ERROR, FERRY_AGENT_ERROR_TRANSPORT,
                    "connect %s: %s", path, g_strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    return fd;
}

bool ferry_agent_call_async(FerryAgent *a, const char *command,
                            JsonNode *args, unsigned timeout_ms,
                            FerryAgentDone done, void *opaque, GError **errp)
{
    Call *c;

    g_mutex_lock(&a->lock);
    if (a->state == FERRY_AGENT_STATE_CLOSED) {
        g_mutex_unlock(&a->lock);
        g_set_error(errp, FERRY_AGENT_ERROR, FERRY_AGENT_ERROR_CLOSED,
                    "the agent bridge is closed");
        return false;
    }
    c = g_new0(Call, 1);
    c->seq = ++a->next_seq;
    c->id = g_strdup_printf("%s-%" G_GUINT64_FORMAT, a->token, c->seq);
    c->request = wire_request(command, args, c->id);
    c->deadline = timeout_ms ? g_get_monotonic_time() +
                               (gint64)timeout_ms * 1000 : 0;
    c->done = done;
    c->opaque = opaque;
    g_hash_table_insert(a->calls, c->id, c);
    g_queue_push_tail(&a->sendq, g_bytes_ref(c->request));
    a->stats.calls++;
    g_cond_broadcast(&a->send_cond);
    g_mutex_unlock(&a->lock);
    if (timeout_ms) {
        agent_wake(a);      /* the receive loop keeps the deadlines */
    }
    return true;
}

void ferry_agent_set_migrating(FerryAgent *a, bool migrating)
{
    GPtrArray *failed = NULL;

    g_mutex_lock(&a->lock);
    if (migrating) {
        agent_set_state_locked(a, FERRY_AGENT_STATE_MIGRATING);
    } else if (a->state != FERRY_AGENT_STATE_CLOSED && a->conn_dead) {
        failed = agent_close_locked(a, g_error_new(
            FERRY_AGENT_ERROR, FERRY_AGENT_ERROR_TRANSPORT,
            "agent connection lost during the migration and not resumed"));
    } else {
        agent_set_state_locked(a, FERRY_AGENT_STATE_NORMAL);
    }
    g_mutex_unlock(&a->lock);
    agent_fail_calls(a, failed);
}

/* The new transport starts with the resynchronisation (wire.c), then
 * every call still waiting, in the order they were made. */
static void requeue_locked(FerryAgent *a, Conn *c)
{
    g_autoptr(GPtrArray) calls = g_ptr_array_new();
    GHashTableIter it;
    gpointer value;

    clear_sendq_locked(a);
    c->awaiting_sync = true;
    c->sync_id = (int64_t)++a->next_seq;
    g_queue_push_tail(&a->sendq, wire_sync(c->sync_id));
    g_hash_table_iter_init(&it, a->calls);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        g_ptr_array_add(calls, value);
    }
    g_ptr_array_sort(calls, by_seq);
    for (guint i = 0; i < calls->len; i++) {
        Call *call = g_ptr_array_index(calls, i);
        g_queue_push_tail(&a->sendq, g_bytes_ref(call->request));
    }
    a->stats.resent += calls->len;
}

bool ferry_agent_resume_on_conn(FerryAgent *a, int fd, GError **errp)
{
    Conn *c, *old;

    if (!fd_blocking(fd, errp)) {
        close(fd);
        return false;
    }
    g_mutex_lock(&a->lock);
    if (a->state != FERRY_AGENT_STATE_MIGRATING &&
        a->state != FERRY_AGENT_STATE_RESUMED) {
        bool closed = a->state == FERRY_AGENT_STATE_CLOSED;

        g_mutex_unlock(&a->lock);
        close(fd);      /* ours now: a bridge closed after the accept */
        g_set_error(errp, FERRY_AGENT_ERROR, closed ?
                    FERRY_AGENT_ERROR_CLOSED : FERRY_AGENT_ERROR_INVALID,
                    closed ? "the agent bridge is closed" :
                    "resume_on_conn outside a migration");
        return false;
    }
    c = conn_new(fd);
    requeue_locked(a, c);
    old = a->conn;
    a->conn = c;
    a->conn_dead = false;
    a->stats.resumes++;
    agent_set_state_locked(a, FERRY_AGENT_STATE_RESUMED);
    if (old) {
        conn_shutdown(old);     /* the loops let go of it */
        conn_unref(old);
    }
    g_cond_broadcast(&a->send_cond);
    g_mutex_unlock(&a->lock);
    agent_wake(a);
    return true;
}

FerryAgentState ferry_agent_state(FerryAgent *a)
{
    FerryAgentState s;

    g_mutex_lock(&a->lock);
    s = a->state;
    g_mutex_unlock(&a->lock);
    return s;
}

void ferry_agent_get_stats(FerryAgent *a, FerryAgentStats *out)
{
    g_mutex_lock(&a->lock);
    *out = a->stats;
    g_mutex_unlock(&a->lock);
}

void ferry_agent_close(FerryAgent *a)
{
    GPtrArray *failed;

    g_mutex_lock(&a->lock);
    failed = agent_close_locked(a, g_error_new(FERRY_AGENT_ERROR,
                                               FERRY_AGENT_ERROR_CLOSED,
                                               "the agent bridge was "
                                               "closed"));
    g_mutex_unlock(&a->lock);
    agent_fail_calls(a, failed);
}

void ferry_agent_free(FerryAgent *a)
{
    if (!a) {
        return;
    }
    ferry_agent_close(a);
    g_thread_join(a->sender);
    g_thread_join(a->receiver);
    conn_unref(a->conn);
    g_hash_table_destroy(a->calls);
    g_clear_error(&a->close_reason);
    close(a->wake_fd);
    g_mutex_clear(&a->lock);
    g_cond_clear(&a->send_cond);
    g_free(a->token);
    g_free(a);
}
