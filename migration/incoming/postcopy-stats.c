/*
 * Postcopy fault accounting: outstanding faults per page, blocked vCPUs,
 * latency samples.  See include/migration/postcopy-stats.h for what is
 * counted.
 *
 * Threads: one GMutex guards everything; each call holds it for O(1)
 * work (O(waiters) in _placed).  _report copies the samples under the
 * mutex and sorts the copy outside it, so the fault thread never waits
 * for a sort.
 */
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "migration/incoming/postcopy-stats.h"

/* One fault waiting for its page. */
typedef struct Waiter {
    int vcpu;                   /* -1: not a vCPU */
    int64_t since_ns;
} Waiter;

/* The faults outstanding on one page; almost always just one. */
typedef struct Pending {
    uint64_t page;              /* the hash key points here */
    Waiter first;
    GArray *more;               /* of Waiter; NULL until a second fault */
} Pending;

/* One vCPU's share. */
typedef struct VcpuStats {
    unsigned outstanding;       /* faults not yet resolved; >0: blocked */
    int64_t blocked_since_ns;
    uint64_t blocked_ns;        /* closed intervals */
    uint64_t latency_ns;        /* sum over resolved faults */
    uint64_t resolved;
} VcpuStats;

struct PostcopyStats {
    GMutex lock;
    GCond idle;                 /* signalled when pending becomes empty */
    unsigned nr_vcpus;
    VcpuStats *vcpu;            /* [nr_vcpus] */
    GHashTable *pending;        /* &Pending.page -> Pending */
    uint64_t requests, faults;

    int64_t last_ns;            /* the latest timestamp, in lock order */
    unsigned nr_blocked;        /* vCPUs with outstanding faults */
    int64_t all_blocked_since_ns;   /* valid while nr_blocked == nr_vcpus */
    uint64_t all_blocked_ns;        /* closed intervals */

    uint64_t latency_ns, resolved;  /* all threads */
    uint64_t non_vcpu_latency_ns, non_vcpu_resolved;
    uint64_t dist[POSTCOPY_LATENCY_BUCKETS];
    GArray *samples_us;         /* of uint32_t, one per resolved fault */
};

/*
 * Under the lock: @now_ns, but never earlier than a timestamp already
 * taken.  Callers read the clock before they take the lock, so a fault
 * stamped 5 can come in after a placement stamped 10 that unblocked the
 * same vCPU; taken as is, the vCPU's next blocked interval would start
 * before its last one ended, count those 5 twice, and its blocked time
 * could exceed the time that passed.
 */
static int64_t lock_order_ns(PostcopyStats *ps, int64_t now_ns)
{
    ps->last_ns = MAX(ps->last_ns, now_ns);
    return ps->last_ns;
}

static uint64_t interval(int64_t from_ns, int64_t to_ns)
{
    return to_ns > from_ns ? (uint64_t)(to_ns - from_ns) : 0;
}

static void pending_free(gpointer p)
{
    Pending *pd = p;

    if (pd->more) {
        g_array_free(pd->more, TRUE);
    }
    g_free(pd);
}

PostcopyStats *postcopy_stats_new(unsigned nr_vcpus)
{
    PostcopyStats *ps = g_new0(PostcopyStats, 1);

    g_mutex_init(&ps->lock);
    g_cond_init(&ps->idle);
    ps->nr_vcpus = nr_vcpus;
    ps->last_ns = INT64_MIN;
    ps->vcpu = g_new0(VcpuStats, nr_vcpus);
    ps->pending = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL,
                                        pending_free);
    ps->samples_us = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    return ps;
}

void postcopy_stats_free(PostcopyStats *ps)
{
    if (!ps) {
        return;
    }
    g_hash_table_destroy(ps->pending);
    g_array_free(ps->samples_us, TRUE);
    g_free(ps->vcpu);
    g_cond_clear(&ps->idle);
    g_mutex_clear(&ps->lock);
    g_free(ps);
}

static bool is_vcpu(PostcopyStats *ps, int vcpu)
{
    return vcpu >= 0 && (unsigned)vcpu < ps->nr_vcpus;
}

/* Under the lock: @vcpu has one more outstanding fault. */
static void vcpu_block(PostcopyStats *ps, int vcpu, int64_t now_ns)
{
    VcpuStats *v = &ps->vcpu[vcpu];

    if (v->outstanding++) {
        return;                 /* blocked already */
    }
    v->blocked_since_ns = now_ns;
    if (++ps->nr_blocked == ps->nr_vcpus) {
        ps->all_blocked_since_ns = now_ns;
    }
}

/* Under the lock: one of @vcpu's faults resolved. */
static void vcpu_unblock(PostcopyStats *ps, int vcpu, int64_t now_ns)
{
    VcpuStats *v = &ps->vcpu[vcpu];

    if (--v->outstanding) {
        return;                 /* still waits for another page */
    }
    v->blocked_ns += interval(v->blocked_since_ns, now_ns);
    if (ps->nr_blocked-- == ps->nr_vcpus) {
        ps->all_blocked_ns += interval(ps->all_blocked_since_ns, now_ns);
    }
}

bool postcopy_stats_fault(PostcopyStats *ps, uint64_t page, int vcpu,
                          int64_t now_ns)
{
    Waiter w = { .vcpu = is_vcpu(ps, vcpu) ? vcpu : -1 };
    Pending *pd;
    bool first;

    g_mutex_lock(&ps->lock);
    w.since_ns = now_ns = lock_order_ns(ps, now_ns);
    ps->faults++;
    pd = g_hash_table_lookup(ps->pending, &page);
    first = !pd;
    if (first) {
        pd = g_new0(Pending, 1);
        pd->page = page;
        pd->first = w;
        g_hash_table_insert(ps->pending, &pd->page, pd);
        ps->requests++;
    } else {
        if (!pd->more) {
            pd->more = g_array_new(FALSE, FALSE, sizeof(Waiter));
        }
        g_array_append_val(pd->more, w);
    }
    if (w.vcpu >= 0) {
        vcpu_block(ps, w.vcpu, now_ns);
    }
    g_mutex_unlock(&ps->lock);
    return first;
}

bool postcopy_stats_outstanding(PostcopyStats *ps, uint64_t page)
{
    bool ret;

    g_mutex_lock(&ps->lock);
    ret = g_hash_table_contains(ps->pending, &page);
    g_mutex_unlock(&ps->lock);
    return ret;
}

unsigned postcopy_stats_pending(PostcopyStats *ps)
{
    unsigned n;

    g_mutex_lock(&ps->lock);
    n = g_hash_table_size(ps->pending);
    g_mutex_unlock(&ps->lock);
    return n;
}

bool postcopy_stats_wait_idle(PostcopyStats *ps, int64_t timeout_us)
{
    int64_t end = g_get_monotonic_time() + timeout_us;
    bool idle;

    g_mutex_lock(&ps->lock);
    while (g_hash_table_size(ps->pending) &&
           g_cond_wait_until(&ps->idle, &ps->lock, end)) {
    }
    idle = !g_hash_table_size(ps->pending);
    g_mutex_unlock(&ps->lock);
    return idle;
}

static unsigned bucket_of(uint32_t us)
{
    unsigned b = us ? g_bit_storage(us) - 1 : 0;   /* floor(log2(us)) */

    return MIN(b, POSTCOPY_LATENCY_BUCKETS - 1);
}

/* Under the lock: the fault @w is over at @now_ns. */
static void resolve(PostcopyStats *ps, const Waiter *w, int64_t now_ns)
{
    uint64_t ns = interval(w->since_ns, now_ns);
    uint32_t us = MIN(ns / 1000, (uint64_t)UINT32_MAX);

    ps->latency_ns += ns;
    ps->resolved++;
    ps->dist[bucket_of(us)]++;
    g_array_append_val(ps->samples_us, us);
    if (w->vcpu >= 0) {
        ps->vcpu[w->vcpu].latency_ns += ns;
        ps->vcpu[w->vcpu].resolved++;
        vcpu_unblock(ps, w->vcpu, now_ns);
    } else {
        ps->non_vcpu_latency_ns += ns;
        ps->non_vcpu_resolved++;
    }
}

void postcopy_stats_placed(PostcopyStats *ps, uint64_t page, int64_t now_ns)
{
    Pending *pd;

    g_mutex_lock(&ps->lock);
    now_ns = lock_order_ns(ps, now_ns);
    pd = g_hash_table_lookup(ps->pending, &page);
    if (pd) {
        resolve(ps, &pd->first, now_ns);
        for (guint i = 0; pd->more && i < pd->more->len; i++) {
            resolve(ps, &g_array_index(pd->more, Waiter, i), now_ns);
        }
        g_hash_table_remove(ps->pending, &page);
        if (!g_hash_table_size(ps->pending)) {
            g_cond_broadcast(&ps->idle);
        }
    }
    g_mutex_unlock(&ps->lock);
}

static uint64_t average(uint64_t total, uint64_t n)
{
    return n ? total / n : 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least @pct % at or below. */
static uint64_t percentile(const uint32_t *sorted, guint n, unsigned pct)
{
    guint rank = ((uint64_t)n * pct + 99) / 100;

    return n ? sorted[MAX(rank, 1u) - 1] : 0;
}

void postcopy_stats_report(PostcopyStats *ps, int64_t now_ns,
                           PostcopyStatsReport *out)
{
    uint64_t all_ns;
    uint32_t *sorted;
    guint n;

    memset(out, 0, sizeof(*out));
    out->nr_vcpus = ps->nr_vcpus;
    out->vcpu_blocktime_ms = g_new0(uint64_t, ps->nr_vcpus);
    out->vcpu_latency_ns = g_new0(uint64_t, ps->nr_vcpus);

    g_mutex_lock(&ps->lock);
    now_ns = lock_order_ns(ps, now_ns);
    out->requests = ps->requests;
    out->faults = ps->faults;
    all_ns = ps->all_blocked_ns;
    if (ps->nr_vcpus && ps->nr_blocked == ps->nr_vcpus) {
        all_ns += interval(ps->all_blocked_since_ns, now_ns);
    }
    out->blocktime_ms = all_ns / 1000000;
    for (unsigned i = 0; i < ps->nr_vcpus; i++) {
        const VcpuStats *v = &ps->vcpu[i];
        uint64_t ns = v->blocked_ns;

        if (v->outstanding) {
            ns += interval(v->blocked_since_ns, now_ns);
        }
        out->vcpu_blocktime_ms[i] = ns / 1000000;
        out->vcpu_latency_ns[i] = average(v->latency_ns, v->resolved);
    }
    out->latency_ns = average(ps->latency_ns, ps->resolved);
    out->non_vcpu_latency_ns = average(ps->non_vcpu_latency_ns,
                                       ps->non_vcpu_resolved);
    memcpy(out->latency_dist, ps->dist, sizeof(out->latency_dist));
    n = ps->samples_us->len;
    sorted = g_memdup2(ps->samples_us->data, (gsize)n * sizeof(uint32_t));
    g_mutex_unlock(&ps->lock);

    if (n) {
        qsort(sorted, n, sizeof(uint32_t), cmp_u32);
        out->p50_us = percentile(sorted, n, 50);
        out->p99_us = percentile(sorted, n, 99);
        out->max_us = sorted[n - 1];
    }
    g_free(sorted);
}

void postcopy_stats_report_clear(PostcopyStatsReport *r)
{
    g_clear_pointer(&r->vcpu_blocktime_ms, g_free);
    g_clear_pointer(&r->vcpu_latency_ns, g_free);
}

void postcopy_stats_foreach_outstanding(PostcopyStats *ps,
                                        void (*fn)(uint64_t page, void *opaque),
                                        void *opaque)
{
    g_mutex_lock(&ps->lock);
    GList *keys = g_hash_table_get_values(ps->pending);
    GArray *pages = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    for (GList *l = keys; l; l = l->next) {
        g_array_append_val(pages, ((Pending *)l->data)->page);
    }
    g_list_free(keys);
    g_mutex_unlock(&ps->lock);
    /* without the lock: @fn may take a while (it sends) */
    for (guint i = 0; i < pages->len; i++) {
        fn(g_array_index(pages, uint64_t, i), opaque);
    }
    g_array_free(pages, TRUE);
}
