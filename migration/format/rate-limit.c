/*
 * The migration's rate limit, shareable between streams and threads.
 */
#include <glib.h>
#include "migration/format/rate-limit.h"

#define WINDOWS_PER_SEC (1000 / MIG_RATE_WINDOW_MS)

/* In a g_atomic_rc_box: shared by the streams that spend it. */
struct MigRateLimit {
    uint64_t max;               /* atomic: bytes per window; 0: unlimited */
    uint64_t used;              /* atomic: bytes in this window */
    int64_t window_start;       /* atomic: ms */
    int64_t (*now_ms)(void);    /* set before the limit is shared */
};

static int64_t monotonic_ms(void)
{
    return g_get_monotonic_time() / 1000;
}

MigRateLimit *mig_rate_limit_new(void)
{
    MigRateLimit *rl = g_atomic_rc_box_new0(MigRateLimit);

    rl->now_ms = monotonic_ms;
    rl->window_start = monotonic_ms();
    return rl;
}

MigRateLimit *mig_rate_limit_ref(MigRateLimit *rl)
{
    return g_atomic_rc_box_acquire(rl);
}

void mig_rate_limit_unref(MigRateLimit *rl)
{
    if (rl) {
        g_atomic_rc_box_release(rl);
    }
}

void mig_rate_limit_set(MigRateLimit *rl, uint64_t bytes_per_second)
{
    uint64_t per_window = bytes_per_second / WINDOWS_PER_SEC;

    if (bytes_per_second && !per_window) {
        per_window = 1;     /* a tiny limit still limits */
    }
    __atomic_store_n(&rl->max, per_window, __ATOMIC_RELAXED);
}

uint64_t mig_rate_limit_get(MigRateLimit *rl)
{
    return __atomic_load_n(&rl->max, __ATOMIC_RELAXED) * WINDOWS_PER_SEC;
}

void mig_rate_limit_set_clock(MigRateLimit *rl, int64_t (*now_ms)(void))
{
    rl->now_ms = now_ms ? now_ms : monotonic_ms;
    __atomic_store_n(&rl->window_start, rl->now_ms(), __ATOMIC_RELAXED);
}

/*
 * A stream overshoots a window by what it put after its last check (a
 * batch of pages, a prefetch run).  The next window pays for it, up to a
 * whole window, so a small limit holds on average and a limit lowered in
 * mid-window (precopy to postcopy) costs at most one window.
 */
static uint64_t carried(uint64_t used, uint64_t max, int64_t windows)
{
    if (windows > 1 || used <= max) {
        return 0;   /* what one window owes, the next idle one paid */
    }
    return MIN(used - max, max);
}

/*
 * Starts a new window once the current one has ended.  Of two threads
 * that see the end, the one whose exchange wins settles the count; bytes
 * the other accounts meanwhile stay in it.
 */
static void window_update(MigRateLimit *rl)
{
    int64_t now = rl->now_ms();
    int64_t start = __atomic_load_n(&rl->window_start, __ATOMIC_ACQUIRE);
    int64_t windows = (now - start) / MIG_RATE_WINDOW_MS;

    if (windows <= 0 ||
        !__atomic_compare_exchange_n(&rl->window_start, &start,
                                     start + windows * MIG_RATE_WINDOW_MS,
                                     false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        return;
    }
    uint64_t max = __atomic_load_n(&rl->max, __ATOMIC_RELAXED);
    uint64_t used = __atomic_load_n(&rl->used, __ATOMIC_RELAXED);

    while (!__atomic_compare_exchange_n(&rl->used, &used,
                                        carried(used, max, windows), false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
    }
}

void mig_rate_limit_account(MigRateLimit *rl, uint64_t bytes)
{
    if (!__atomic_load_n(&rl->max, __ATOMIC_RELAXED)) {
        return;     /* unlimited: a limit set later starts from nothing */
    }
    window_update(rl);
    __atomic_add_fetch(&rl->used, bytes, __ATOMIC_RELAXED);
}

bool mig_rate_limit_exceeded(MigRateLimit *rl)
{
    uint64_t max = __atomic_load_n(&rl->max, __ATOMIC_RELAXED);

    if (!max) {
        return false;
    }
    window_update(rl);
    return __atomic_load_n(&rl->used, __ATOMIC_RELAXED) >= max;
}

int64_t mig_rate_limit_ms_left(MigRateLimit *rl)
{
    int64_t left = __atomic_load_n(&rl->window_start, __ATOMIC_RELAXED) +
                   MIG_RATE_WINDOW_MS - rl->now_ms();

    return CLAMP(left, 0, MIG_RATE_WINDOW_MS);
}
