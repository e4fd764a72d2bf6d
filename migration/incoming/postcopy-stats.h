/*
 * Fault accounting on the postcopy destination, with QEMU 10.1's meanings
 * (query-migrate's postcopy-blocktime, postcopy-vcpu-blocktime,
 * postcopy-latency, postcopy-vcpu-latency, postcopy-non-vcpu-latency,
 * postcopy-latency-dist) plus exact percentiles.
 *
 * A page is requested from the source on its first fault; every fault on
 * it, by any thread, waits until it is placed.  A vCPU is blocked from its
 * first outstanding fault until it has none left (normally one page at a
 * time; a second fault before the first resolves keeps it blocked until
 * both do).  Blocktime is the time during which all vCPUs were blocked at
 * once.  Latency is fault seen -> page placed, one sample per fault.
 *
 * Threads: everything takes one internal mutex.  The fault thread calls
 * postcopy_stats_fault(), the threads placing pages call
 * postcopy_stats_placed(), the monitor calls postcopy_stats_report().
 * Timestamps are the caller's (any monotonic nanosecond clock), taken in
 * the order the calls get the mutex: one earlier than a timestamp already
 * taken (two threads read the clock in the other order) counts as that
 * one, so no interval is negative and a vCPU's blocked intervals never
 * overlap: its blocked time never exceeds the time that passed.
 */
#ifndef FERRY_MIGRATION_POSTCOPY_STATS_H
#define FERRY_MIGRATION_POSTCOPY_STATS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct PostcopyStats PostcopyStats;

#define POSTCOPY_LATENCY_BUCKETS 32

typedef struct PostcopyStatsReport {
    uint64_t requests;      /* pages requested (first faults), total */
    uint64_t faults;        /* faults seen, incl. several on one page */
    uint64_t blocktime_ms;  /* time during which ALL vCPUs were blocked at once */
    unsigned nr_vcpus;
    uint64_t *vcpu_blocktime_ms;    /* [nr_vcpus]: each vCPU's total blocked
                                     * time; g_free */
    uint64_t latency_ns;    /* average latency of the requested (remote)
                             * faults: fault seen -> page placed */
    uint64_t *vcpu_latency_ns;      /* [nr_vcpus]: average per vCPU; g_free */
    uint64_t non_vcpu_latency_ns;   /* average for faults of non-vCPU threads */
    /* bucket N counts faults resolved in [2^N, 2^(N+1)) microseconds (bucket
     * 0 also takes < 1 us; the last bucket takes everything above) */
    uint64_t latency_dist[POSTCOPY_LATENCY_BUCKETS];
    uint64_t p50_us, p99_us, max_us;    /* over all resolved faults (exact,
                                         * not bucketed) */
} PostcopyStatsReport;

PostcopyStats *postcopy_stats_new(unsigned nr_vcpus);
void postcopy_stats_free(PostcopyStats *ps);

/*
 * A fault on page @page (any 64-bit page id) by vCPU @vcpu (-1: a thread
 * that is not a vCPU; so is any id outside [0, nr_vcpus)) seen at @now_ns.
 * Returns true when no fault was outstanding on that page yet: the caller
 * requests it from the source (faults of several vCPUs on one page are
 * requested once).
 */
bool postcopy_stats_fault(PostcopyStats *ps, uint64_t page, int vcpu,
                          int64_t now_ns);
/* True if a fault is outstanding on @page (placing threads call _placed
 * only then). */
bool postcopy_stats_outstanding(PostcopyStats *ps, uint64_t page);
/* How many pages have faults waiting for them. */
unsigned postcopy_stats_pending(PostcopyStats *ps);
/* Waits until no fault waits for its page, at most @timeout_us; true if
 * none does. */
bool postcopy_stats_wait_idle(PostcopyStats *ps, int64_t timeout_us);
/*
 * Page @page arrived at @now_ns: resolves every fault waiting on it
 * (latency samples, per-vCPU blocked time; the all-vCPUs-blocked clock
 * stops when the count of blocked vCPUs drops below nr_vcpus).  No-op if
 * nothing waited.
 */
void postcopy_stats_placed(PostcopyStats *ps, uint64_t page, int64_t now_ns);

/*
 * A snapshot; blocked intervals still open count up to @now_ns, faults
 * still outstanding are not latency samples yet.  Averages are 0 without
 * samples.  Percentiles are nearest-rank: p50 of 1..1000 is 500, p99 990.
 */
void postcopy_stats_report(PostcopyStats *ps, int64_t now_ns,
                           PostcopyStatsReport *out);
void postcopy_stats_report_clear(PostcopyStatsReport *r); /* frees the arrays */

/* Calls @fn for every page a fault still waits on (recovery asks again). */
void postcopy_stats_foreach_outstanding(PostcopyStats *ps,
                                        void (*fn)(uint64_t page, void *opaque),
                                        void *opaque);

#endif
