/*
 * auto-converge's decision, QEMU's migration_trigger_throttle and
 * mig_throttle_guest_down as pure functions of the migration counters, so
 * they can be tested without a migration.  The throttling itself is the
 * VMM's (MigrationVMM.vm_throttle).
 */
#ifndef FERRY_MIGRATION_THROTTLE_POLICY_H
#define FERRY_MIGRATION_THROTTLE_POLICY_H

#include <stdbool.h>
#include <stdint.h>

/* A sync period shorter than this is folded into the next (QEMU: 1 s). */
#define CPU_THROTTLE_PERIOD_MIN_MS  1000

/* The migration parameters that steer throttling. */
typedef struct CPUThrottlePolicy {
    int initial;                /* cpu-throttle-initial */
    int increment;              /* cpu-throttle-increment */
    bool tailslow;              /* cpu-throttle-tailslow */
    int max;                    /* max-cpu-throttle */
    int threshold;              /* throttle-trigger-threshold */
} CPUThrottlePolicy;

/* What the trigger remembers between syncs. */
typedef struct CPUThrottleTrigger {
    int64_t period_start_ms;
    uint64_t xfer_prev;         /* bytes sent when the period began */
    uint64_t dirty_prev;        /* pages found dirty when it began */
    unsigned high_cnt;          /* QEMU's dirty_rate_high_cnt */
} CPUThrottleTrigger;

/* Starts the first period (when the iterations start). */
void cpu_throttle_trigger_start(CPUThrottleTrigger *t, int64_t now_ms,
                                uint64_t xfer_bytes, uint64_t dirty_pages);
/*
 * After a dirty sync at @now_ms: @xfer_bytes is everything sent so far,
 * @dirty_pages every page the syncs so far found newly dirty.  When the
 * period is at least CPU_THROTTLE_PERIOD_MIN_MS long and the bytes
 * dirtied in it exceed threshold% of the bytes sent in it, a second time
 * since the last step, returns the next percentage (initial, then
 * + increment, or the tailslow step, capped at max); else returns 0.
 * @cur_pct is the throttle now (0: off).
 */
int cpu_throttle_trigger(CPUThrottleTrigger *t, const CPUThrottlePolicy *p,
                         int cur_pct, int64_t now_ms, uint64_t xfer_bytes,
                         uint64_t dirty_pages, uint64_t page_size);
/* Just the step: the percentage that follows @cur_pct. */
int cpu_throttle_next_pct(const CPUThrottlePolicy *p, int cur_pct,
                          uint64_t bytes_dirty, uint64_t bytes_threshold);

#endif
