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
 * When to throttle, and how much, is the migration core's decision:
 * include/migration/throttle-policy.h.
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

#endif
