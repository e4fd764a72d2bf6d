/*
 * libferry-agent's bridge (agent/) against a fake guest agent on real
 * socketpairs: ids and completions, the fatal path (every waiter
 * released within 100 ms), parking and resuming across transports with
 * exactly-once answers, the fd of a resume after close, timeouts, the
 * resynchronisation, the state table, and swaps under traffic (built
 * with ThreadSanitizer too: `make check-tsan-agent`).
 *
 * The fake agent keeps what a guest keeps in its RAM across transports:
 * the id table and the counters.  "x-hold" is answered only when the
 * test releases it (a call spanning a blackout).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "ferry/agent.h"

#define N_CALLS 16
/* The promise: every waiter released within 100 ms of a lost transport
 * (a ThreadSanitizer build runs several times slower). */
#ifdef __SANITIZE_THREAD__
#define RELEASE_US (1000 * 1000)
#else
#define RELEASE_US (100 * 1000)
#endif

typedef struct Fake {
    GMutex lock;
    GCond cond;
    GHashTable *replies;        /* id -> reply line (answered ids) */
    GHashTable *running;        /* ids being held */
    GHashTable *counters;       /* key -> count */
    GPtrArray *held;            /* lines to answer on release */
    bool release;
    int fd;                     /* current transport; -1 none */
    uint64_t executed;
    GThread *thread;
    GPtrArray *old;             /* earlier transports' threads */
    GArray *old_fds;
} Fake;

/* --- the fake agent ------------------------------------------------------- */

static void fake_write(Fake *f, int fd, const char *s)
{
    if (fd >= 0) {
        (void)!send(fd, s, strlen(s), MSG_NOSIGNAL);
    }
}

static char *reply_line(const char *id, const char *ret)
{
    return g_strdup_printf("{\"return\": %s, \"id\": \"%s\"}\n", ret, id);
}

/* Runs one request; the reply, or NULL when held.  f->lock held. */
static char *fake_exec(Fake *f, const char *cmd, JsonObject *args,
                       const char *id)
{
    f->executed++;
    if (!strcmp(cmd, "x-hold")) {
        g_hash_table_add(f->running, g_strdup(id));
        return NULL;
    }
    if (!strcmp(cmd, "x-guest-incr")) {
        const char *key = json_object_get_string_member(args, "key");
        guint v = GPOINTER_TO_UINT(g_hash_table_lookup(f->counters, key)) + 1;
        g_autofree char *num = g_strdup_printf("%u", v);

        g_hash_table_insert(f->counters, g_strdup(key), GUINT_TO_POINTER(v));
        return reply_line(id, num);
    }
    if (!strcmp(cmd, "x-fail")) {
        return g_strdup_printf("{\"error\": {\"class\": \"GenericError\", "
                               "\"desc\": \"asked to\"}, \"id\": \"%s\"}\n",
                               id);
    }
    return reply_line(id, "{}");
}

static void fake_line(Fake *f, int fd, const char *line)
{
    g_autoptr(JsonParser) p = json_parser_new();
    JsonObject *o, *args;
    const char *cmd, *id;
    char *reply;

    if (!json_parser_load_from_data(p, line, -1, NULL)) {
        return;
    }
    o = json_node_get_object(json_parser_get_root(p));
    cmd = json_object_get_string_member(o, "execute");
    args = json_object_has_member(o, "arguments") ?
           json_object_get_object_member(o, "arguments") : NULL;
    if (!strcmp(cmd, "guest-sync-delimited")) {
        g_autofree char *r = g_strdup_printf("\xff{\"return\": %" G_GINT64_FORMAT
                                             "}\n", json_object_get_int_member(
                                                 args, "id"));
        fake_write(f, fd, r);
        return;
    }
    id = json_object_get_string_member(o, "id");
    g_mutex_lock(&f->lock);
    if ((reply = g_hash_table_lookup(f->replies, id))) {
        fake_write(f, fd, reply);           /* answered from the table */
    } else if (!g_hash_table_contains(f->running, id)) {
        reply = fake_exec(f, cmd, args, id);
        if (reply) {
            g_hash_table_insert(f->replies, g_strdup(id), reply);
            fake_write(f, fd, reply);
        }
    }
    g_mutex_unlock(&f->lock);
}

typedef struct Serve {
    Fake *f;
    int fd;
} Serve;

/* Serves one transport until it ends; 0xFF resets the line. */
static gpointer fake_serve(gpointer opaque)
{
    g_autofree Serve *sv = opaque;
    Fake *f = sv->f;
    g_autoptr(GString) line = g_string_new(NULL);
    int fd = sv->fd;
    char buf[4096];
    ssize_t n;

    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if ((unsigned char)buf[i] == 0xff) {
                g_string_truncate(line, 0);
            } else if (buf[i] == '\n') {
                fake_line(f, fd, line->str);
                g_string_truncate(line, 0);
            } else {
                g_string_append_c(line, buf[i]);
            }
        }
    }
    return NULL;
}

/* A new transport: the bridge's end. */
static int fake_connect(Fake *f)
{
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                    ==, 0);
    /* An old transport ends when the bridge lets go of it. */
    if (f->thread) {
        g_ptr_array_add(f->old, f->thread);
        g_array_append_val(f->old_fds, f->fd);
    }
    g_mutex_lock(&f->lock);
    f->fd = sv[1];
    g_mutex_unlock(&f->lock);
    f->thread = g_thread_new("fake-agent", fake_serve,
                             g_memdup2(&(Serve){ f, sv[1] }, sizeof(Serve)));
    return sv[0];
}

/* The transport breaks (the guest's side goes away). */
static void fake_cut(Fake *f)
{
    shutdown(f->fd, SHUT_RDWR);
}

/* Answers the held calls on the current transport. */
static void fake_release(Fake *f)
{
    GHashTableIter it;
    gpointer id;

    g_mutex_lock(&f->lock);
    g_hash_table_iter_init(&it, f->running);
    while (g_hash_table_iter_next(&it, &id, NULL)) {
        char *r = reply_line(id, "\"held\"");
        g_hash_table_insert(f->replies, g_strdup(id), r);
        fake_write(f, f->fd, r);
        g_hash_table_iter_remove(&it);
    }
    g_mutex_unlock(&f->lock);
}

static Fake *fake_new(void)
{
    Fake *f = g_new0(Fake, 1);

    g_mutex_init(&f->lock);
    f->replies = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                       g_free);
    f->running = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    f->counters = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                        NULL);
    f->fd = -1;
    f->old = g_ptr_array_new();
    f->old_fds = g_array_new(FALSE, FALSE, sizeof(int));
    return f;
}

static void fake_free(Fake *f)
{
    if (f->thread) {
        fake_cut(f);
        g_thread_join(f->thread);
        close(f->fd);
    }
    for (guint i = 0; i < f->old->len; i++) {
        int fd = g_array_index(f->old_fds, int, i);

        shutdown(fd, SHUT_RDWR);
        g_thread_join(g_ptr_array_index(f->old, i));
        close(fd);
    }
    g_ptr_array_free(f->old, TRUE);
    g_array_free(f->old_fds, TRUE);
    g_hash_table_destroy(f->replies);
    g_hash_table_destroy(f->running);
    g_hash_table_destroy(f->counters);
    g_mutex_clear(&f->lock);
    g_free(f);
}

/* --- completions ------------------------------------------------------------ */

typedef struct Results {
    GMutex lock;
    GCond cond;
    unsigned done, ok, failed;
    int last_code;
    gint64 last_at;             /* monotonic us of the last completion */
    GHashTable *values;         /* incr results seen */
    unsigned repeats;
} Results;

static void results_init(Results *r)
{
    memset(r, 0, sizeof(*r));
    g_mutex_init(&r->lock);
    g_cond_init(&r->cond);
    r->values = g_hash_table_new(g_direct_hash, g_direct_equal);
}

static void results_clear(Results *r)
{
    g_hash_table_destroy(r->values);
    g_mutex_clear(&r->lock);
    g_cond_clear(&r->cond);
}

static void on_done(void *opaque, JsonNode *ret, const GError *error)
{
    Results *r = opaque;

    g_mutex_lock(&r->lock);
    r->done++;
    r->last_at = g_get_monotonic_time();
    if (error) {
        r->failed++;
        r->last_code = error->code;
    } else {
        r->ok++;
        if (JSON_NODE_HOLDS_VALUE(ret) &&
            json_node_get_value_type(ret) == G_TYPE_INT64) {
            gpointer v = GSIZE_TO_POINTER((gsize)json_node_get_int(ret));
            if (g_hash_table_contains(r->values, v)) {
                r->repeats++;
            }
            g_hash_table_add(r->values, v);
        }
    }
    g_cond_broadcast(&r->cond);
    g_mutex_unlock(&r->lock);
}

static void wait_done(Results *r, unsigned n)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    g_mutex_lock(&r->lock);
    while (r->done < n) {
        g_assert_true(g_cond_wait_until(&r->cond, &r->lock, deadline));
    }
    g_mutex_unlock(&r->lock);
}

static JsonNode *key_args(const char *key)
{
    g_autoptr(JsonBuilder) b = json_builder_new();

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "key");
    json_builder_add_string_value(b, key);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

static void call(FerryAgent *a, const char *cmd, const char *key,
                 unsigned timeout_ms, Results *r)
{
    g_autoptr(JsonNode) args = key ? key_args(key) : NULL;
    g_autoptr(GError) err = NULL;

    g_assert_true(ferry_agent_call_async(a, cmd, args, timeout_ms, on_done, r,
                                         &err));
    g_assert_no_error(err);
}

/* --- the fixture: a fake agent, a bridge on it, its completions --------- */

typedef struct Bridge {
    Fake *f;
    FerryAgent *a;
    Results r;
} Bridge;

static void bridge_setup(Bridge *b, gconstpointer data)
{
    b->f = fake_new();
    b->a = ferry_agent_new(fake_connect(b->f), NULL);
    results_init(&b->r);
}

static void bridge_teardown(Bridge *b, gconstpointer data)
{
    ferry_agent_free(b->a);
    results_clear(&b->r);
    fake_free(b->f);
}

/* The bridge noticed its transport failed and parked. */
static void wait_parked(FerryAgent *a)
{
    FerryAgentStats st;

    while (ferry_agent_get_stats(a, &st), !st.parks) {
        g_usleep(1000);
    }
}

/* --- tests ---------------------------------------------------------------- */

static void test_calls(Bridge *b, gconstpointer data)
{
    FerryAgent *a = b->a;
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonNode) ret = NULL;

    for (int i = 0; i < N_CALLS; i++) {
        call(a, "x-guest-incr", "k", 0, &b->r);
    }
    wait_done(&b->r, N_CALLS);
    g_assert_cmpuint(b->r.ok, ==, N_CALLS);
    g_assert_cmpuint(g_hash_table_size(b->r.values), ==, N_CALLS);
    g_assert_null(ferry_agent_call(a, "x-fail", NULL, 0, &err));
    g_assert_error(err, FERRY_AGENT_ERROR, FERRY_AGENT_ERROR_GUEST);
    g_clear_error(&err);
    ret = ferry_agent_call(a, "guest-ping", NULL, 0, &err);
    g_assert_no_error(err);
    g_assert_true(JSON_NODE_HOLDS_OBJECT(ret));
}

/* Outside a migration a lost transport releases every waiter at once. */
static void test_fatal(Bridge *b, gconstpointer data)
{
    Fake *f = b->f;
    FerryAgent *a = b->a;
    gint64 cut;

    for (int i = 0; i < N_CALLS; i++) {
        call(a, "x-hold", NULL, 0, &b->r);
    }
    while (g_hash_table_size(f->running) < N_CALLS) {
        g_usleep(1000);
    }
    cut = g_get_monotonic_time();
    fake_cut(f);
    wait_done(&b->r, N_CALLS);
    g_assert_cmpuint(b->r.failed, ==, N_CALLS);
    g_assert_cmpint(b->r.last_code, ==, FERRY_AGENT_ERROR_TRANSPORT);
    g_assert_cmpint(b->r.last_at - cut, <, RELEASE_US);
    g_assert_cmpint(ferry_agent_state(a), ==, FERRY_AGENT_STATE_CLOSED);
    g_assert_false(ferry_agent_call_async(a, "guest-ping", NULL, 0, on_done,
                                          &b->r, NULL));
}

/* Migrating: the cut parks, the resume re-sends, each call runs once. */
static void test_resume(Bridge *b, gconstpointer data)
{
    Fake *f = b->f;
    FerryAgent *a = b->a;
    FerryAgentStats st;

    ferry_agent_set_migrating(a, true);
    for (int i = 0; i < N_CALLS; i++) {
        call(a, i % 2 ? "x-hold" : "x-guest-incr", "k", 0, &b->r);
    }
    wait_done(&b->r, N_CALLS / 2);
    fake_cut(f);
    wait_parked(a);
    g_assert_cmpint(ferry_agent_state(a), ==, FERRY_AGENT_STATE_MIGRATING);
    for (int i = 0; i < 4; i++) {       /* calls made while parked */
        call(a, "x-guest-incr", "k", 0, &b->r);
    }
    g_usleep(20000);
    g_assert_cmpuint(b->r.done, ==, N_CALLS / 2);
    g_assert_true(ferry_agent_resume_on_conn(a, fake_connect(f), NULL));
    g_assert_cmpint(ferry_agent_state(a), ==, FERRY_AGENT_STATE_RESUMED);
    wait_done(&b->r, N_CALLS / 2 + 4);
    fake_release(f);
    wait_done(&b->r, N_CALLS + 4);
    g_assert_cmpuint(b->r.failed, ==, 0);
    g_assert_cmpuint(GPOINTER_TO_UINT(g_hash_table_lookup(f->counters, "k")),
                     ==, N_CALLS / 2 + 4);
    g_assert_cmpuint(b->r.repeats, ==, 0);
    ferry_agent_set_migrating(a, false);
    g_assert_cmpint(ferry_agent_state(a), ==, FERRY_AGENT_STATE_NORMAL);
    ferry_agent_get_stats(a, &st);
    g_assert_cmpuint(st.resent, ==, N_CALLS / 2 + 4);
}

/* Parked at the end of the migration with no new transport: fatal. */
static void test_parked_then_normal(Bridge *b, gconstpointer data)
{
    Fake *f = b->f;
    FerryAgent *a = b->a;

    ferry_agent_set_migrating(a, true);
    call(a, "x-hold", NULL, 0, &b->r);
    fake_cut(f);
    wait_parked(a);
    ferry_agent_set_migrating(a, false);
    wait_done(&b->r, 1);
    g_assert_cmpint(b->r.last_code, ==, FERRY_AGENT_ERROR_TRANSPORT);
    g_assert_cmpint(ferry_agent_state(a), ==, FERRY_AGENT_STATE_CLOSED);
}

/* A bridge closed between accept and swap closes the new fd too. */
static void test_resume_after_close(Bridge *b, gconstpointer data)
{
    Fake *f = b->f;
    FerryAgent *a = b->a;
    g_autoptr(GError) err = NULL;
    int sv[2];
    char c;

    ferry_agent_set_migrating(a, true);
    ferry_agent_close(a);
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    g_assert_false(ferry_agent_resume_on_conn(a, sv[0], &err));
    g_assert_error(err, FERRY_AGENT_ERROR, FERRY_AGENT_ERROR_CLOSED);
    g_assert_cmpint(read(sv[1], &c, 1), ==, 0);     /* the peer sees EOF */
    close(sv[1]);
    /* and outside a migration a resume is refused, its fd closed too */
    ferry_agent_free(a);
    a = b->a = ferry_agent_new(fake_connect(f), NULL);
    g_clear_error(&err);
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    g_assert_false(ferry_agent_resume_on_conn(a, sv[0], &err));
    g_assert_error(err, FERRY_AGENT_ERROR, FERRY_AGENT_ERROR_INVALID);
    g_assert_cmpint(read(sv[1], &c, 1), ==, 0);
    close(sv[1]);
}

/* A per-call timeout tears the bridge down, migrating or not. */
static void test_timeout(Bridge *b, gconstpointer data)
{
    FerryAgent *a = b->a;

    ferry_agent_set_migrating(a, true);
    call(a, "x-hold", NULL, 0, &b->r);
    call(a, "x-hold", NULL, 50, &b->r);
    wait_done(&b->r, 2);
    g_assert_cmpuint(b->r.failed, ==, 2);
    g_assert_cmpint(b->r.last_code, ==, FERRY_AGENT_ERROR_TIMEOUT);
    g_assert_cmpint(ferry_agent_state(a), ==, FERRY_AGENT_STATE_CLOSED);
}

/* A new transport that starts mid-line, with a stale reply before the
 * sync's sentinel: both skipped, the re-sent call answered once. */
static void test_resync(Bridge *b, gconstpointer data)
{
    Fake *f = b->f;
    FerryAgent *a = b->a;
    FerryAgentStats st;
    int fd;

    ferry_agent_set_migrating(a, true);
    call(a, "x-hold", NULL, 0, &b->r);
    while (g_hash_table_size(f->running) < 1) {
        g_usleep(1000);
    }
    fake_cut(f);
    wait_parked(a);
    fd = fake_connect(f);
    fake_write(f, f->fd, "urn\": {}, \"id\": \"nobody\"}\n"
               "{\"return\": 1, \"id\": \"stale\"}\n");
    g_assert_true(ferry_agent_resume_on_conn(a, fd, NULL));
    fake_release(f);
    wait_done(&b->r, 1);
    g_assert_cmpuint(b->r.ok, ==, 1);
    ferry_agent_get_stats(a, &st);
    g_assert_cmpuint(st.late_replies, ==, 0);
}

/* Every state is reachable through the public API. */
static void test_states(Bridge *b, gconstpointer data)
{
    Fake *f = b->f;
    FerryAgent *a = b->a;
    bool seen[FERRY_AGENT_STATE__MAX] = { false };

    seen[ferry_agent_state(a)] = true;
    ferry_agent_set_migrating(a, true);
    seen[ferry_agent_state(a)] = true;
    g_assert_true(ferry_agent_resume_on_conn(a, fake_connect(f), NULL));
    seen[ferry_agent_state(a)] = true;
    ferry_agent_close(a);
    seen[ferry_agent_state(a)] = true;
    for (int s = 0; s < FERRY_AGENT_STATE__MAX; s++) {
        g_assert_true(seen[s]);
        g_assert_cmpstr(ferry_agent_state_name(s), !=, "invalid");
    }
}

typedef struct Caller {
    FerryAgent *a;
    Results *r;
    unsigned n;
} Caller;

/* Requests of 16 KiB: the socket fills, so the send loop is often in
 * the middle of a write when the transport is swapped. */
static gpointer caller_thread(gpointer opaque)
{
    Caller *c = opaque;
    g_autofree char *pad = g_strnfill(16 << 10, 'x');
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) args = NULL;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "key");
    json_builder_add_string_value(b, "k");
    json_builder_set_member_name(b, "pad");
    json_builder_add_string_value(b, pad);
    json_builder_end_object(b);
    args = json_builder_get_root(b);
    for (unsigned i = 0; i < c->n; i++) {
        g_assert_true(ferry_agent_call_async(c->a, "x-guest-incr", args, 0,
                                             on_done, c->r, NULL));
        if (i % 8 == 0) {
            g_usleep(100);
        }
    }
    return NULL;
}

/* Swaps while another thread keeps calling and both loops are busy (the
 * race the seed's review found); half the swaps follow a cut. */
static void test_swap_under_traffic(Bridge *b, gconstpointer data)
{
    Fake *f = b->f;
    FerryAgent *a = b->a;
    const unsigned swaps = 40, calls = 600;
    Caller c = { a, &b->r, calls };
    GThread *t;

    ferry_agent_set_migrating(a, true);
    t = g_thread_new("caller", caller_thread, &c);
    for (unsigned i = 0; i < swaps; i++) {
        if (i % 2) {
            fake_cut(f);
        }
        g_assert_true(ferry_agent_resume_on_conn(a, fake_connect(f), NULL));
        g_usleep(2000);
    }
    g_thread_join(t);
    wait_done(&b->r, calls);
    g_assert_cmpuint(b->r.failed, ==, 0);
    g_assert_cmpuint(b->r.repeats, ==, 0);
    g_assert_cmpuint(GPOINTER_TO_UINT(g_hash_table_lookup(f->counters, "k")),
                     ==, calls);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) \
    g_test_add(path, Bridge, NULL, bridge_setup, fn, bridge_teardown)
    ADD("/agent-bridge/calls", test_calls);
    ADD("/agent-bridge/fatal", test_fatal);
    ADD("/agent-bridge/resume", test_resume);
    ADD("/agent-bridge/parked-then-normal", test_parked_then_normal);
    ADD("/agent-bridge/resume-after-close", test_resume_after_close);
    ADD("/agent-bridge/timeout", test_timeout);
    ADD("/agent-bridge/resync", test_resync);
    ADD("/agent-bridge/states", test_states);
    ADD("/agent-bridge/swap-under-traffic", test_swap_under_traffic);
    return g_test_run();
}
