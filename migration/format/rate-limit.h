/*
 * The migration's rate limit (max-bandwidth, max-postcopy-bandwidth):
 * bytes per window of MIG_RATE_WINDOW_MS, each window allowed a tenth of
 * the per-second figure; a new window starts when the previous one has
 * ended, and pays for what the previous one overshot.
 *
 * One limit may be shared by several streams on several threads (the
 * main stream and postcopy-preempt's channel): the counters are atomic
 * and a window's start is claimed by one thread.
 */
#ifndef FERRY_MIGRATION_RATE_LIMIT_H
#define FERRY_MIGRATION_RATE_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

/* QEMU's BUFFER_DELAY. */
#define MIG_RATE_WINDOW_MS 100

typedef struct MigRateLimit MigRateLimit;

MigRateLimit *mig_rate_limit_new(void);
MigRateLimit *mig_rate_limit_ref(MigRateLimit *rl);
void mig_rate_limit_unref(MigRateLimit *rl);

/* Any thread; 0: unlimited. */
void mig_rate_limit_set(MigRateLimit *rl, uint64_t bytes_per_second);
uint64_t mig_rate_limit_get(MigRateLimit *rl);
void mig_rate_limit_account(MigRateLimit *rl, uint64_t bytes);
bool mig_rate_limit_exceeded(MigRateLimit *rl);
/* Milliseconds until the current window ends. */
int64_t mig_rate_limit_ms_left(MigRateLimit *rl);
/* For tests: the clock the windows are measured with (NULL: monotonic). */
void mig_rate_limit_set_clock(MigRateLimit *rl, int64_t (*now_ms)(void));

#endif
