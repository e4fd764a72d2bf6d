/* auto-converge's decision (see include/migration/throttle-policy.h). */
#include <glib.h>
#include "migration/outgoing/throttle-policy.h"

#define CPU_THROTTLE_PCT_MAX 99

int cpu_throttle_next_pct(const CPUThrottlePolicy *p, int cur_pct,
                          uint64_t bytes_dirty, uint64_t bytes_threshold)
{
    uint64_t inc = (uint64_t)p->increment;

    /* As QEMU: the first step is cpu-throttle-initial, not capped. */
    if (cur_pct <= 0) {
        return p->initial;
    }
    if (p->tailslow && bytes_dirty) {
        /* The CPU share that would bring the dirty rate down to the
         * threshold; step towards it, never more than the increment. */
        uint64_t cpu_now = 100 - (uint64_t)cur_pct;
        uint64_t cpu_ideal = (uint64_t)((double)cpu_now *
                                        ((double)bytes_threshold /
                                         (double)bytes_dirty));
        inc = MIN(cpu_now - MIN(cpu_ideal, cpu_now), inc);
    }
    return (int)MIN((uint64_t)cur_pct + inc, (uint64_t)p->max);
}

void cpu_throttle_trigger_start(CPUThrottleTrigger *t, int64_t now_ms,
                                uint64_t xfer_bytes, uint64_t dirty_pages)
{
    *t = (CPUThrottleTrigger){
        .period_start_ms = now_ms,
        .xfer_prev = xfer_bytes,
        .dirty_prev = dirty_pages,
    };
}

int cpu_throttle_trigger(CPUThrottleTrigger *t, const CPUThrottlePolicy *p,
                         int cur_pct, int64_t now_ms, uint64_t xfer_bytes,
                         uint64_t dirty_pages, uint64_t page_size)
{
    int next = 0;

    /* A short period says little: let it run into the next sync. */
    if (now_ms - t->period_start_ms <= CPU_THROTTLE_PERIOD_MIN_MS) {
        return 0;
    }
    uint64_t bytes_xfer = xfer_bytes - t->xfer_prev;
    uint64_t bytes_dirty = (dirty_pages - t->dirty_prev) * page_size;
    uint64_t bytes_threshold = bytes_xfer * (uint64_t)p->threshold / 100;

    /* As QEMU, the count is of high periods, not of consecutive ones. */
    if (bytes_dirty > bytes_threshold && ++t->high_cnt >= 2) {
        t->high_cnt = 0;
        next = cpu_throttle_next_pct(p, cur_pct, bytes_dirty, bytes_threshold);
    }
    t->period_start_ms = now_ms;
    t->xfer_prev = xfer_bytes;
    t->dirty_prev = dirty_pages;
    return next;
}
