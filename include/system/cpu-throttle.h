/*
 * vCPU throttling for auto-converge, with QEMU's semantics: at @pct
 * percent, every vCPU runs CPU_THROTTLE_TIMESLICE_NS of guest time, then
 * sleeps pct / (100 - pct) timeslices.
 *
 * A "cpu-throttle" thread ticks once per run + sleep period: for each
 * running vCPU it marks a sleep as scheduled and kicks the vCPU (BQL held,
 * as every kick).  The vCPU thread, back in the generic loop of
 * system/cpus.c, sleeps on the vCPUs' condition variable, so the BQL is
 * dropped while it sleeps and a stop request (cpus_pause_all) ends the
 * sleep at once.
 *
 * Locking: the percentage is an atomic; the ticker's own state is under
 * its own mutex; the per-vCPU "scheduled" marks are under the BQL.
 * cpu_throttle_stop() must run before cpus_destroy().
 *
 * cpu_throttle_trigger() is the migration side (QEMU's
 * migration_trigger_throttle and mig_throttle_guest_down) as a pure
 * function of the counters, so it can be tested without a migration.
 */
#ifndef FERRY_SYSTEM_CPU_THROTTLE_H
#define FERRY_SYSTEM_CPU_THROTTLE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct CPUState CPUState;

#define CPU_THROTTLE_PCT_MIN        1
#define CPU_THROTTLE_PCT_MAX        99
#define CPU_THROTTLE_TIMESLICE_NS   10000000LL
/* A sync period shorter than this is folded into the next (QEMU: 1 s). */
#define CPU_THROTTLE_PERIOD_MIN_MS  1000

/* Sets the throttle (clamped to 1..99) and starts ticking if it was off. */
void cpu_throttle_set(int percent);
/* Turns throttling off; vCPUs that are sleeping finish their sleep. */
void cpu_throttle_stop(void);
/* 0 when off. */
int cpu_throttle_get_percentage(void);
bool cpu_throttle_active(void);

/* How long a vCPU sleeps after each timeslice at @percent (0 when off). */
int64_t cpu_throttle_sleep_ns(int percent);
/* One tick period (timeslice + sleep) at @percent. */
int64_t cpu_throttle_period_ns(int percent);

/*
 * For the vCPU thread, in the generic loop after guest code returned, with
 * the BQL (@bql) held: if a tick scheduled a sleep, sleeps on @wake (so
 * the BQL is free meanwhile) until the sleep is over or the vCPU is asked
 * to stop or exit.  @wake must be broadcast whenever cpu->stop or
 * cpu->exit_thread is set.
 */
void cpu_throttle_vcpu_sleep(CPUState *cpu, GMutex *bql, GCond *wake);

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
