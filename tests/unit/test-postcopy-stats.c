/*
 * migration/postcopy-stats.c with explicit timestamps: requests and
 * faults, latency averages (all, per vCPU, non-vCPU), per-vCPU and
 * all-vCPUs blocktime with overlapping and still-open intervals, the
 * log2 latency buckets, exact percentiles, and a two-thread smoke test of
 * the locking.
 */
#include <string.h>
#include <glib.h>
#include "migration/incoming/postcopy-stats.h"

#define US 1000LL
#define MS 1000000LL

/* Pending counts pages, not faults: two vCPUs waiting on one page. */
static void test_pending_pages(void)
{
    PostcopyStats *ps = postcopy_stats_new(2);

    g_assert_true(postcopy_stats_fault(ps, 7, 0, 1 * MS));
    g_assert_false(postcopy_stats_fault(ps, 7, 1, 2 * MS));
    g_assert_true(postcopy_stats_fault(ps, 9, -1, 3 * MS));
    g_assert_cmpuint(postcopy_stats_pending(ps), ==, 2);
    postcopy_stats_placed(ps, 7, 4 * MS);
    g_assert_cmpuint(postcopy_stats_pending(ps), ==, 1);
    postcopy_stats_placed(ps, 9, 5 * MS);
    g_assert_cmpuint(postcopy_stats_pending(ps), ==, 0);
    postcopy_stats_free(ps);
}

static gpointer place_later(gpointer opaque)
{
    g_usleep(5000);
    postcopy_stats_placed(opaque, 7, 10 * MS);
    return NULL;
}

/* The background pass waits on this: woken by the placement, not a poll. */
static void test_wait_idle(void)
{
    PostcopyStats *ps = postcopy_stats_new(1);

    g_assert_true(postcopy_stats_wait_idle(ps, 0));
    g_assert_true(postcopy_stats_fault(ps, 7, 0, 1 * MS));
    int64_t t0 = g_get_monotonic_time();
    g_assert_false(postcopy_stats_wait_idle(ps, 2000));
    g_assert_cmpint(g_get_monotonic_time() - t0, >=, 2000);

    GThread *placer = g_thread_new("placer", place_later, ps);
    t0 = g_get_monotonic_time();
    g_assert_true(postcopy_stats_wait_idle(ps, 60 * G_USEC_PER_SEC));
    g_assert_cmpint(g_get_monotonic_time() - t0, <, 30 * G_USEC_PER_SEC);
    g_thread_join(placer);
    postcopy_stats_free(ps);
}

static void test_single_fault(void)
{
    PostcopyStats *ps = postcopy_stats_new(2);
    PostcopyStatsReport r;

    g_assert_false(postcopy_stats_outstanding(ps, 7));
    g_assert_cmpuint(postcopy_stats_pending(ps), ==, 0);
    g_assert_true(postcopy_stats_fault(ps, 7, 0, 1 * MS));
    g_assert_true(postcopy_stats_outstanding(ps, 7));
    g_assert_false(postcopy_stats_outstanding(ps, 8));
    g_assert_cmpuint(postcopy_stats_pending(ps), ==, 1);
    postcopy_stats_placed(ps, 7, 1 * MS + 300 * US);
    g_assert_false(postcopy_stats_outstanding(ps, 7));
    g_assert_cmpuint(postcopy_stats_pending(ps), ==, 0);

    postcopy_stats_report(ps, 50 * MS, &r);
    g_assert_cmpuint(r.requests, ==, 1);
    g_assert_cmpuint(r.faults, ==, 1);
    g_assert_cmpuint(r.nr_vcpus, ==, 2);
    g_assert_cmpuint(r.latency_ns, ==, 300 * US);
    g_assert_cmpuint(r.vcpu_latency_ns[0], ==, 300 * US);
    g_assert_cmpuint(r.vcpu_latency_ns[1], ==, 0);
    g_assert_cmpuint(r.non_vcpu_latency_ns, ==, 0);
    g_assert_cmpuint(r.vcpu_blocktime_ms[0], ==, 0);   /* 0.3 ms */
    g_assert_cmpuint(r.blocktime_ms, ==, 0);    /* vCPU 1 ran all along */
    g_assert_cmpuint(r.latency_dist[8], ==, 1);
    g_assert_cmpuint(r.p50_us, ==, 300);
    g_assert_cmpuint(r.p99_us, ==, 300);
    g_assert_cmpuint(r.max_us, ==, 300);
    postcopy_stats_report_clear(&r);
    g_assert_null(r.vcpu_blocktime_ms);
    postcopy_stats_report_clear(&r);
    postcopy_stats_free(ps);
}

/* Two vCPUs on one page: requested once, both resolved by one placement. */
static void test_same_page(void)
{
    PostcopyStats *ps = postcopy_stats_new(2);
    PostcopyStatsReport r;

    g_assert_true(postcopy_stats_fault(ps, 42, 0, 0));
    g_assert_false(postcopy_stats_fault(ps, 42, 1, 2 * MS));
    postcopy_stats_placed(ps, 42, 10 * MS);
    postcopy_stats_placed(ps, 42, 20 * MS);     /* nothing waits: no-op */

    postcopy_stats_report(ps, 30 * MS, &r);
    g_assert_cmpuint(r.requests, ==, 1);
    g_assert_cmpuint(r.faults, ==, 2);
    g_assert_cmpuint(r.vcpu_latency_ns[0], ==, 10 * MS);
    g_assert_cmpuint(r.vcpu_latency_ns[1], ==, 8 * MS);
    g_assert_cmpuint(r.latency_ns, ==, 9 * MS);
    g_assert_cmpuint(r.vcpu_blocktime_ms[0], ==, 10);
    g_assert_cmpuint(r.vcpu_blocktime_ms[1], ==, 8);
    g_assert_cmpuint(r.blocktime_ms, ==, 8);
    g_assert_cmpuint(r.max_us, ==, 10000);
    postcopy_stats_report_clear(&r);

    /* the page is gone from the table: a new fault requests it again */
    g_assert_true(postcopy_stats_fault(ps, 42, 1, 40 * MS));
    postcopy_stats_free(ps);        /* with a fault outstanding */
}

/*
 * Three vCPUs (ms):  v0 [0,10] on A, then [15,25] on D
 *                    v1 [5,20] on B
 *                    v2 [8,30] on C
 * All blocked in [8,10] and [15,20]: 7 ms.
 */
static void test_overlap(void)
{
    PostcopyStats *ps = postcopy_stats_new(3);
    PostcopyStatsReport r;

    postcopy_stats_fault(ps, 0xa, 0, 0 * MS);
    postcopy_stats_fault(ps, 0xb, 1, 5 * MS);
    postcopy_stats_fault(ps, 0xc, 2, 8 * MS);
    postcopy_stats_placed(ps, 0xa, 10 * MS);
    postcopy_stats_fault(ps, 0xd, 0, 15 * MS);
    postcopy_stats_placed(ps, 0xb, 20 * MS);
    postcopy_stats_placed(ps, 0xd, 25 * MS);
    postcopy_stats_placed(ps, 0xc, 30 * MS);

    postcopy_stats_report(ps, 100 * MS, &r);
    g_assert_cmpuint(r.requests, ==, 4);
    g_assert_cmpuint(r.faults, ==, 4);
    g_assert_cmpuint(r.blocktime_ms, ==, 7);
    g_assert_cmpuint(r.vcpu_blocktime_ms[0], ==, 20);
    g_assert_cmpuint(r.vcpu_blocktime_ms[1], ==, 15);
    g_assert_cmpuint(r.vcpu_blocktime_ms[2], ==, 22);
    g_assert_cmpuint(r.vcpu_latency_ns[0], ==, 10 * MS);
    g_assert_cmpuint(r.vcpu_latency_ns[1], ==, 15 * MS);
    g_assert_cmpuint(r.vcpu_latency_ns[2], ==, 22 * MS);
    g_assert_cmpuint(r.latency_ns, ==, (10 + 10 + 15 + 22) * MS / 4);
    postcopy_stats_report_clear(&r);
    postcopy_stats_free(ps);
}

/* A second fault of a blocked vCPU keeps it blocked until both resolve. */
static void test_vcpu_two_faults(void)
{
    PostcopyStats *ps = postcopy_stats_new(1);
    PostcopyStatsReport r;

    g_assert_true(postcopy_stats_fault(ps, 1, 0, 0));
    g_assert_true(postcopy_stats_fault(ps, 2, 0, 4 * MS));
    postcopy_stats_placed(ps, 1, 6 * MS);
    postcopy_stats_report(ps, 8 * MS, &r);
    g_assert_cmpuint(r.vcpu_blocktime_ms[0], ==, 8);    /* still open */
    g_assert_cmpuint(r.blocktime_ms, ==, 8);
    postcopy_stats_report_clear(&r);

    postcopy_stats_placed(ps, 2, 10 * MS);
    postcopy_stats_report(ps, 50 * MS, &r);
    g_assert_cmpuint(r.vcpu_blocktime_ms[0], ==, 10);
    g_assert_cmpuint(r.blocktime_ms, ==, 10);
    g_assert_cmpuint(r.vcpu_latency_ns[0], ==, 6 * MS);
    g_assert_cmpuint(r.requests, ==, 2);
    postcopy_stats_report_clear(&r);
    postcopy_stats_free(ps);
}

/* Faults of other threads have latency but block no vCPU. */
static void test_non_vcpu(void)
{
    PostcopyStats *ps = postcopy_stats_new(2);
    PostcopyStatsReport r;

    g_assert_true(postcopy_stats_fault(ps, 5, -1, 0));
    g_assert_true(postcopy_stats_fault(ps, 6, 2, 0));   /* no vCPU 2 */
    postcopy_stats_placed(ps, 5, 2 * MS);
    postcopy_stats_placed(ps, 6, 4 * MS);
    g_assert_true(postcopy_stats_fault(ps, 9, 1, 10 * MS));
    postcopy_stats_placed(ps, 9, 16 * MS);

    postcopy_stats_report(ps, 20 * MS, &r);
    g_assert_cmpuint(r.non_vcpu_latency_ns, ==, 3 * MS);
    g_assert_cmpuint(r.vcpu_latency_ns[0], ==, 0);
    g_assert_cmpuint(r.vcpu_latency_ns[1], ==, 6 * MS);
    g_assert_cmpuint(r.latency_ns, ==, 4 * MS);     /* (2 + 4 + 6) / 3 */
    g_assert_cmpuint(r.vcpu_blocktime_ms[0], ==, 0);
    g_assert_cmpuint(r.vcpu_blocktime_ms[1], ==, 6);
    g_assert_cmpuint(r.blocktime_ms, ==, 0);
    postcopy_stats_report_clear(&r);
    postcopy_stats_free(ps);
}

static void test_buckets(void)
{
    static const struct { int64_t ns; unsigned bucket; } cases[] = {
        { 0, 0 }, { 500, 0 }, { 1 * US, 0 }, { 1999, 0 },
        { 2 * US, 1 }, { 3 * US, 1 }, { 4 * US, 2 },
        { 300 * US, 8 }, { 1023 * US, 9 }, { 1024 * US, 10 },
        { (1LL << 31) * US - 1, 30 }, { (1LL << 31) * US, 31 },
        { (1LL << 40) * US, 31 },
    };
    PostcopyStats *ps = postcopy_stats_new(0);
    uint64_t want[POSTCOPY_LATENCY_BUCKETS] = { 0 };
    PostcopyStatsReport r;
    int64_t t = 1000;           /* one clock: each fault after the last */

    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_assert_true(postcopy_stats_fault(ps, i, -1, t));
        postcopy_stats_placed(ps, i, t + cases[i].ns);
        t += cases[i].ns;
        want[cases[i].bucket]++;
    }
    postcopy_stats_report(ps, t, &r);
    g_assert_cmpmem(r.latency_dist, sizeof(r.latency_dist),
                    want, sizeof(want));
    g_assert_cmpuint(r.max_us, ==, UINT32_MAX);     /* saturated */
    g_assert_cmpuint(r.blocktime_ms, ==, 0);        /* no vCPUs at all */
    postcopy_stats_report_clear(&r);
    postcopy_stats_free(ps);
}

/* 1000 faults of 1..1000 us, resolved in a scrambled order. */
static void test_percentiles(void)
{
    PostcopyStats *ps = postcopy_stats_new(4);
    PostcopyStatsReport r;
    unsigned order[1000];
    int64_t t = 0;

    for (unsigned i = 0; i < 1000; i++) {
        order[i] = (i * 7919) % 1000;       /* 7919 is prime: a permutation */
    }
    for (unsigned i = 0; i < 1000; i++) {
        unsigned lat = order[i] + 1;

        postcopy_stats_fault(ps, i, i % 4, t);
        postcopy_stats_placed(ps, i, t + lat * US);
        t += lat * US;
    }
    postcopy_stats_report(ps, t, &r);
    g_assert_cmpuint(r.p50_us, ==, 500);
    g_assert_cmpuint(r.p99_us, ==, 990);
    g_assert_cmpuint(r.max_us, ==, 1000);
    g_assert_cmpuint(r.latency_ns, ==, 500500);     /* mean of 1..1000 us */
    g_assert_cmpuint(r.latency_dist[0], ==, 1);     /* 1 */
    g_assert_cmpuint(r.latency_dist[1], ==, 2);     /* 2, 3 */
    g_assert_cmpuint(r.latency_dist[9], ==, 1000 - 511);    /* 512.. */
    postcopy_stats_report_clear(&r);
    postcopy_stats_free(ps);
}

/* The vCPUs' open intervals count up to the report's time, then close. */
static void test_open_interval(void)
{
    PostcopyStats *ps = postcopy_stats_new(2);
    PostcopyStatsReport r;

    postcopy_stats_fault(ps, 100, 0, 10 * MS);
    postcopy_stats_fault(ps, 200, 1, 12 * MS);
    postcopy_stats_report(ps, 25 * MS, &r);
    g_assert_cmpuint(r.vcpu_blocktime_ms[0], ==, 15);
    g_assert_cmpuint(r.vcpu_blocktime_ms[1], ==, 13);
    g_assert_cmpuint(r.blocktime_ms, ==, 13);
    g_assert_cmpuint(r.faults, ==, 2);
    g_assert_cmpuint(r.latency_ns, ==, 0);      /* nothing resolved yet */
    g_assert_cmpuint(r.p50_us, ==, 0);
    postcopy_stats_report_clear(&r);

    postcopy_stats_placed(ps, 100, 30 * MS);
    postcopy_stats_placed(ps, 200, 30 * MS);
    postcopy_stats_report(ps, 100 * MS, &r);
    g_assert_cmpuint(r.vcpu_blocktime_ms[0], ==, 20);
    g_assert_cmpuint(r.vcpu_blocktime_ms[1], ==, 18);
    g_assert_cmpuint(r.blocktime_ms, ==, 18);
    postcopy_stats_report_clear(&r);

    /* a clock read out of order counts as no time */
    postcopy_stats_fault(ps, 300, 0, 200 * MS);
    postcopy_stats_placed(ps, 300, 199 * MS);
    postcopy_stats_report(ps, 150 * MS, &r);
    g_assert_cmpuint(r.vcpu_blocktime_ms[0], ==, 20);
    g_assert_cmpuint(r.latency_dist[0], ==, 1);
    postcopy_stats_report_clear(&r);
    postcopy_stats_free(ps);
}

/*
 * The placing thread read 10 ms and unblocked vCPU 0; the fault thread had
 * read 5 ms for the vCPU's next fault but got the mutex after it.  The
 * next blocked interval starts at 10 ms: counted from 5 ms, the vCPU would
 * be blocked 25 ms in 20.
 */
static void test_clock_order(void)
{
    PostcopyStats *ps = postcopy_stats_new(1);
    PostcopyStatsReport r;

    postcopy_stats_fault(ps, 1, 0, 0 * MS);
    postcopy_stats_placed(ps, 1, 10 * MS);
    postcopy_stats_fault(ps, 2, 0, 5 * MS);
    postcopy_stats_placed(ps, 2, 20 * MS);
    postcopy_stats_report(ps, 20 * MS, &r);
    g_assert_cmpuint(r.vcpu_blocktime_ms[0], ==, 20);
    g_assert_cmpuint(r.blocktime_ms, ==, 20);
    g_assert_cmpuint(r.latency_ns, ==, 10 * MS);
    postcopy_stats_report_clear(&r);
    postcopy_stats_free(ps);
}

/* --- two threads ---------------------------------------------------------- */

#define SMOKE_PAGES 100000
#define SMOKE_END G_MAXSIZE     /* a queue takes no NULL */

typedef struct Smoke {
    PostcopyStats *ps;
    GAsyncQueue *requested;     /* page + 1; SMOKE_END ends */
    uint64_t requests;
} Smoke;

static int64_t now_ns(void)
{
    return g_get_monotonic_time() * 1000;
}

/* The fault thread: both vCPUs fault on every page. */
static gpointer smoke_faulter(gpointer opaque)
{
    Smoke *s = opaque;

    for (uint64_t p = 0; p < SMOKE_PAGES; p++) {
        for (int vcpu = 0; vcpu < 2; vcpu++) {
            if (postcopy_stats_fault(s->ps, p, vcpu, now_ns())) {
                s->requests++;
                g_async_queue_push(s->requested, GSIZE_TO_POINTER(p + 1));
            }
        }
    }
    g_async_queue_push(s->requested, GSIZE_TO_POINTER(SMOKE_END));
    return NULL;
}

/* The placing thread: the pages arrive in request order. */
static gpointer smoke_placer(gpointer opaque)
{
    Smoke *s = opaque;
    gsize p;

    while ((p = GPOINTER_TO_SIZE(g_async_queue_pop(s->requested))) !=
           SMOKE_END) {
        if (postcopy_stats_outstanding(s->ps, p - 1)) {
            postcopy_stats_placed(s->ps, p - 1, now_ns());
        }
    }
    return NULL;
}

static void test_threads(void)
{
    Smoke s = { .ps = postcopy_stats_new(2),
                .requested = g_async_queue_new() };
    GThread *f, *p;
    PostcopyStatsReport r;
    uint64_t sum = 0;
    int64_t start = now_ns(), end;

    f = g_thread_new("faulter", smoke_faulter, &s);
    p = g_thread_new("placer", smoke_placer, &s);
    g_thread_join(f);
    g_thread_join(p);

    end = now_ns();
    postcopy_stats_report(s.ps, end, &r);
    g_assert_cmpuint(r.faults, ==, 2 * SMOKE_PAGES);
    g_assert_cmpuint(r.requests, ==, s.requests);
    g_assert_cmpuint(r.requests, >=, SMOKE_PAGES);
    for (unsigned i = 0; i < POSTCOPY_LATENCY_BUCKETS; i++) {
        sum += r.latency_dist[i];
    }
    g_assert_cmpuint(sum, ==, r.faults);        /* every fault resolved */
    for (uint64_t pg = 0; pg < SMOKE_PAGES; pg += 997) {
        g_assert_false(postcopy_stats_outstanding(s.ps, pg));
    }
    /* Every stamp lies in [start, end], on one clock, and both sides are
     * rounded down to ms alike: blocked time cannot exceed it. */
    for (unsigned i = 0; i < 2; i++) {
        g_assert_cmpuint(r.vcpu_blocktime_ms[i], <=, (end - start) / MS);
    }
    g_assert_cmpuint(r.blocktime_ms, <=, r.vcpu_blocktime_ms[0]);
    g_assert_cmpuint(r.p50_us, <=, r.p99_us);
    g_assert_cmpuint(r.p99_us, <=, r.max_us);
    postcopy_stats_report_clear(&r);
    g_async_queue_unref(s.requested);
    postcopy_stats_free(s.ps);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/postcopy-stats/pending-pages", test_pending_pages);
    g_test_add_func("/postcopy-stats/wait-idle", test_wait_idle);
    g_test_add_func("/postcopy-stats/single-fault", test_single_fault);
    g_test_add_func("/postcopy-stats/same-page", test_same_page);
    g_test_add_func("/postcopy-stats/blocktime/overlap", test_overlap);
    g_test_add_func("/postcopy-stats/blocktime/vcpu-two-faults",
                    test_vcpu_two_faults);
    g_test_add_func("/postcopy-stats/blocktime/open-interval",
                    test_open_interval);
    g_test_add_func("/postcopy-stats/blocktime/clock-order",
                    test_clock_order);
    g_test_add_func("/postcopy-stats/non-vcpu", test_non_vcpu);
    g_test_add_func("/postcopy-stats/latency/buckets", test_buckets);
    g_test_add_func("/postcopy-stats/latency/percentiles", test_percentiles);
    g_test_add_func("/postcopy-stats/threads", test_threads);
    postcopy_stats_free(NULL);
    return g_test_run();
}
