/*
 * `ferry-agent load`: keeps calls in flight for tests and benchmarks and
 * checks every answer, while whoever moves the guest drives the bridge
 * through stdin, one command a line:
 *   migrating on|off   ferry_agent_set_migrating()
 *   resume PATH        connect to PATH, ferry_agent_resume_on_conn()
 *   stats              print the statistics so far
 *   stop               stop starting calls, wait for the outstanding
 *                      ones, print the statistics, exit
 * Each command is answered with one JSON line on stdout.  When the bridge
 * closes, one line {"event": "closed", ...} says when its first and last
 * waiters were failed (CLOCK_MONOTONIC seconds, as Python's
 * time.monotonic()).
 *
 * The calls rotate: x-guest-sleep (spans a blackout), x-guest-incr on
 * --keys counters (each counter's answers must be exactly 1..n: a call
 * that ran twice shows as a gap or a repeat), x-guest-echo (checked).
 */
#include <stdio.h>
#include <string.h>
#include "ferry-agent.h"

typedef struct Load {
    FerryAgent *a;
    const LoadOptions *o;
    GMutex lock;
    GCond idle;
    bool stopping;
    unsigned outstanding;
    uint64_t started, ok, errors, echo_bad;
    GArray *latency_ms;         /* double */
    double max_quick_ms;        /* the longest call that is not a sleep */
    GHashTable **incr;          /* per key: value -> count */
    uint64_t *incr_calls;
    double first_fail, last_fail;
    char *first_error;
} Load;

typedef struct LoadCall {
    Load *l;
    unsigned kind;
    unsigned key;
    uint64_t n;
    gint64 start;
} LoadCall;

static double mono_s(void)
{
    return (double)g_get_monotonic_time() / G_USEC_PER_SEC;
}

static void start_call_locked(Load *l);

static void check_answer(Load *l, LoadCall *c, JsonNode *ret)
{
    if (c->kind == 1 || c->kind == 2) {
        gint64 v = JSON_NODE_HOLDS_VALUE(ret) ? json_node_get_int(ret) : -1;
        gpointer k = GSIZE_TO_POINTER((gsize)v);
        guint seen = GPOINTER_TO_UINT(g_hash_table_lookup(l->incr[c->key], k));

        g_hash_table_insert(l->incr[c->key], k, GUINT_TO_POINTER(seen + 1));
        l->incr_calls[c->key]++;
    } else if (c->kind == 3) {
        JsonObject *o = JSON_NODE_HOLDS_OBJECT(ret) ? json_node_get_object(ret)
                                                   : NULL;
        g_autofree char *want = g_strdup_printf("load-%" G_GUINT64_FORMAT,
                                                c->n);
        if (!o || g_strcmp0(json_object_get_string_member_with_default(
                                o, "data", ""), want)) {
            l->echo_bad++;
        }
    }
}

static void call_done(void *opaque, JsonNode *ret, const GError *error)
{
    LoadCall *c = opaque;
    Load *l = c->l;
    double ms = (double)(g_get_monotonic_time() - c->start) / 1000.0;

    g_mutex_lock(&l->lock);
    l->outstanding--;
    if (error) {
        l->errors++;
        l->last_fail = mono_s();
        if (!l->first_error) {
            l->first_error = g_strdup(error->message);
            l->first_fail = l->last_fail;
        }
    } else {
        l->ok++;
        g_array_append_val(l->latency_ms, ms);
        if (c->kind != 0) {
            l->max_quick_ms = MAX(l->max_quick_ms, ms);
        }
        check_answer(l, c, ret);
    }
    if (!l->stopping && !error) {
        start_call_locked(l);
    }
    g_cond_broadcast(&l->idle);
    g_mutex_unlock(&l->lock);
    g_free(c);
}

static JsonNode *args_for(Load *l, LoadCall *c, const char **cmd)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autofree char *key = g_strdup_printf("k%u", c->key);
    g_autofree char *data = g_strdup_printf("load-%" G_GUINT64_FORMAT, c->n);

    json_builder_begin_object(b);
    switch (c->kind) {
    case 0:
        *cmd = "x-guest-sleep";
        json_builder_set_member_name(b, "ms");
        json_builder_add_int_value(b, l->o->sleep_ms);
        break;
    case 1:
    case 2:
        *cmd = "x-guest-incr";
        json_builder_set_member_name(b, "key");
        json_builder_add_string_value(b, key);
        break;
    default:
        *cmd = "x-guest-echo";
        json_builder_set_member_name(b, "data");
        json_builder_add_string_value(b, data);
        break;
    }
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

/* Caller holds l->lock; the completion takes it too, and runs on the
 * bridge's threads, never inside call_async. */
static void start_call_locked(Load *l)
{
    LoadCall *c = g_new0(LoadCall, 1);
    g_autoptr(JsonNode) args = NULL;
    const char *cmd;

    c->l = l;
    c->n = l->started++;
    c->kind = (unsigned)(c->n % 4);
    c->key = (unsigned)((c->n / 4) % l->o->keys);
    c->start = g_get_monotonic_time();
    args = args_for(l, c, &cmd);
    l->outstanding++;
    if (!ferry_agent_call_async(l->a, cmd, args, l->o->timeout_ms, call_done,
                                c, NULL)) {
        l->outstanding--;
        l->started--;
        g_free(c);
        l->stopping = true;
    }
}

static int cmp_double(gconstpointer a, gconstpointer b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double percentile(GArray *sorted, double p)
{
    if (!sorted->len) {
        return 0;
    }
    return g_array_index(sorted, double,
                         (guint)(p * (sorted->len - 1) + 0.5));
}

static void add_incr(Load *l, JsonBuilder *b)
{
    json_builder_set_member_name(b, "incr");
    json_builder_begin_object(b);
    for (unsigned k = 0; k < l->o->keys; k++) {
        g_autofree char *name = g_strdup_printf("k%u", k);
        GHashTableIter it;
        gpointer value, count;
        gint64 max = 0;
        uint64_t repeats = 0;

        g_hash_table_iter_init(&it, l->incr[k]);
        while (g_hash_table_iter_next(&it, &value, &count)) {
            max = MAX(max, (gint64)GPOINTER_TO_SIZE(value));
            repeats += GPOINTER_TO_UINT(count) - 1;
        }
        json_builder_set_member_name(b, name);
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "calls");
        json_builder_add_int_value(b, (gint64)l->incr_calls[k]);
        json_builder_set_member_name(b, "distinct");
        json_builder_add_int_value(b, g_hash_table_size(l->incr[k]));
        json_builder_set_member_name(b, "max");
        json_builder_add_int_value(b, max);
        json_builder_set_member_name(b, "repeats");
        json_builder_add_int_value(b, (gint64)repeats);
        json_builder_end_object(b);
    }
    json_builder_end_object(b);
}

static void add_int(JsonBuilder *b, const char *name, uint64_t v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, (gint64)v);
}

static void add_double(JsonBuilder *b, const char *name, double v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_double_value(b, v);
}

static void add_bridge(Load *l, JsonBuilder *b)
{
    FerryAgentStats st;

    ferry_agent_get_stats(l->a, &st);
    json_builder_set_member_name(b, "bridge");
    json_builder_begin_object(b);
    add_int(b, "resent", st.resent);
    add_int(b, "late_replies", st.late_replies);
    add_int(b, "resumes", st.resumes);
    add_int(b, "parks", st.parks);
    json_builder_set_member_name(b, "state");
    json_builder_add_string_value(b, ferry_agent_state_name(
        ferry_agent_state(l->a)));
    json_builder_end_object(b);
}

/* Caller holds l->lock. */
static void print_stats_locked(Load *l, const char *event)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(GArray) sorted = g_array_copy(l->latency_ms);
    g_autoptr(JsonNode) root = NULL;
    g_autofree char *text = NULL;

    g_array_sort(sorted, cmp_double);
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "event");
    json_builder_add_string_value(b, event);
    add_int(b, "calls", l->started);
    add_int(b, "ok", l->ok);
    add_int(b, "errors", l->errors);
    add_int(b, "outstanding", l->outstanding);
    add_int(b, "echo_bad", l->echo_bad);
    add_double(b, "p50_ms", percentile(sorted, 0.50));
    add_double(b, "p99_ms", percentile(sorted, 0.99));
    add_double(b, "max_ms", percentile(sorted, 1.0));
    add_double(b, "max_quick_ms", l->max_quick_ms);
    add_double(b, "first_fail", l->first_fail);
    add_double(b, "last_fail", l->last_fail);
    json_builder_set_member_name(b, "error");
    json_builder_add_string_value(b, l->first_error ? l->first_error : "");
    add_incr(l, b);
    add_bridge(l, b);
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    text = json_generator_to_data(gen, NULL);
    printf("%s\n", text);
    fflush(stdout);
}

static void reply(const char *cmd, bool ok, const char *error)
{
    printf("{\"event\": \"%s\", \"cmd\": \"%s\"%s%s%s}\n",
           ok ? "ok" : "error", cmd, error ? ", \"error\": \"" : "",
           error ? error : "", error ? "\"" : "");
    fflush(stdout);
}

static void resume(Load *l, const char *path)
{
    g_autoptr(GError) err = NULL;
    int fd = ferry_agent_connect_unix(path, &err);

    if (fd < 0 || !ferry_agent_resume_on_conn(l->a, fd, &err)) {
        reply("resume", false, err->message);
        return;
    }
    reply("resume", true, NULL);
}

/* Stops starting calls and waits until none is outstanding. */
static void drain(Load *l)
{
    g_mutex_lock(&l->lock);
    l->stopping = true;
    while (l->outstanding) {
        g_cond_wait(&l->idle, &l->lock);
    }
    print_stats_locked(l, "stats");
    g_mutex_unlock(&l->lock);
}

/* One stdin command; false to end. */
static bool command(Load *l, char *line)
{
    g_strstrip(line);
    if (!strcmp(line, "migrating on") || !strcmp(line, "migrating off")) {
        ferry_agent_set_migrating(l->a, !strcmp(line, "migrating on"));
        reply("migrating", true, NULL);
    } else if (g_str_has_prefix(line, "resume ")) {
        resume(l, line + strlen("resume "));
    } else if (!strcmp(line, "stats")) {
        g_mutex_lock(&l->lock);
        print_stats_locked(l, "stats");
        g_mutex_unlock(&l->lock);
    } else if (!strcmp(line, "stop")) {
        drain(l);
        return false;
    } else if (*line) {
        reply(line, false, "unknown command");
    }
    return true;
}

/* The closed event: printed once every waiter got its error. */
static gpointer watch_close(gpointer opaque)
{
    Load *l = opaque;

    g_mutex_lock(&l->lock);
    while (!(l->errors && !l->outstanding)) {
        g_cond_wait(&l->idle, &l->lock);
    }
    print_stats_locked(l, "closed");
    g_mutex_unlock(&l->lock);
    return NULL;
}

int agent_load_run(FerryAgent *a, const LoadOptions *o)
{
    Load l = { .a = a, .o = o };
    char line[4096];

    g_mutex_init(&l.lock);
    g_cond_init(&l.idle);
    l.latency_ms = g_array_new(FALSE, FALSE, sizeof(double));
    l.incr = g_new0(GHashTable *, o->keys);
    l.incr_calls = g_new0(uint64_t, o->keys);
    for (unsigned k = 0; k < o->keys; k++) {
        l.incr[k] = g_hash_table_new(g_direct_hash, g_direct_equal);
    }
    g_thread_unref(g_thread_new("load-watch", watch_close, &l));
    g_mutex_lock(&l.lock);
    for (unsigned i = 0; i < o->inflight; i++) {
        start_call_locked(&l);
    }
    g_mutex_unlock(&l.lock);
    reply("started", true, NULL);
    while (fgets(line, sizeof(line), stdin) && command(&l, line)) {
    }
    ferry_agent_close(a);
    return l.errors || l.echo_bad ? 1 : 0;
}
