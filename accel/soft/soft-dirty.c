/*
 * Software dirty tracking for the soft accelerator: the workload calls
 * mark_dirty after each write (page first, then its generation-table entry)
 * and we set the page's bit in a per-RAMBlock bitmap; sync moves the bits
 * out atomically, so a mark racing with a sync lands in this sync or the
 * next, never nowhere.
 *
 * Locking: start, sync and stop come from one control thread at a time (the
 * dirty-log front end's caller).  vCPU threads read the published log with
 * one atomic load per mark and set bits with atomic OR.  stop unpublishes
 * the log, then waits until every vCPU thread has either left vcpu_run or
 * finished a workload round (SoftCPU.quiesce_seq) before freeing it: a
 * small grace period, so marks cost no lock and no shared counter.
 */
#include <errno.h>
#include "soft-internal.h"
#include "system/memory.h"
#include "util/bitmap.h"

/* A guest RAM region flattened for the mark path: no pointer chasing. */
typedef struct SoftDirtyRegion {
    uint64_t gpa;
    uint64_t size;
    uint64_t offset;            /* of gpa in the block */
    unsigned long *map;         /* the block's bitmap */
} SoftDirtyRegion;

typedef struct SoftDirtyLog {
    guint nr_blocks;
    RAMBlock **blocks;
    unsigned long **maps;       /* one bit per block page */
    guint nr_regions;
    SoftDirtyRegion *regions;
} SoftDirtyLog;

/* NULL while logging is off, which is the whole cost of a mark then. */
static SoftDirtyLog *dirty_log;

void soft_dirty_mark(uint64_t gpa)
{
    SoftDirtyLog *log = __atomic_load_n(&dirty_log, __ATOMIC_SEQ_CST);

    if (!log) {
        return;
    }
    /* A sync that sees the bit must see the write (free on x86). */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    /* Two or three regions: a linear scan beats any cleverness. */
    for (guint i = 0; i < log->nr_regions; i++) {
        const SoftDirtyRegion *r = &log->regions[i];
        if (gpa - r->gpa < r->size) {
            bitmap_set_atomic(r->map,
                              (gpa - r->gpa + r->offset) >> FERRY_PAGE_SHIFT);
            return;
        }
    }
}

static void log_free(SoftDirtyLog *log)
{
    for (guint i = 0; i < log->nr_blocks; i++) {
        g_free(log->maps[i]);
    }
    g_free(log->maps);
    g_free(log->blocks);
    g_free(log->regions);
    g_free(log);
}

static unsigned long *block_map(const SoftDirtyLog *log, const RAMBlock *rb)
{
    for (guint i = 0; i < log->nr_blocks; i++) {
        if (log->blocks[i] == rb) {
            return log->maps[i];
        }
    }
    return NULL;
}

static SoftDirtyLog *log_new(void)
{
    GPtrArray *blocks = ram_blocks();
    GPtrArray *regions = guest_regions();
    SoftDirtyLog *log = g_new0(SoftDirtyLog, 1);

    log->nr_blocks = blocks->len;
    log->blocks = g_new0(RAMBlock *, blocks->len);
    log->maps = g_new0(unsigned long *, blocks->len);
    for (guint i = 0; i < blocks->len; i++) {
        RAMBlock *rb = g_ptr_array_index(blocks, i);
        log->blocks[i] = rb;
        log->maps[i] = g_new0(unsigned long, BITS_TO_LONGS(ram_block_pages(rb)));
    }
    log->nr_regions = regions->len;
    log->regions = g_new0(SoftDirtyRegion, regions->len);
    for (guint i = 0; i < regions->len; i++) {
        const GuestRegion *r = g_ptr_array_index(regions, i);
        log->regions[i] = (SoftDirtyRegion){
            r->gpa, r->size, r->offset, block_map(log, r->block)
        };
        g_assert(log->regions[i].map);
    }
    return log;
}

static bool soft_dirty_start(GError **errp)
{
    if (!dirty_log) {
        __atomic_store_n(&dirty_log, log_new(), __ATOMIC_SEQ_CST);
    }
    return true;
}

static long soft_dirty_sync(RAMBlock *rb, unsigned long *bitmap)
{
    SoftDirtyLog *log = dirty_log;
    unsigned long *map;

    if (!log) {
        return -EINVAL;
    }
    map = block_map(log, rb);
    if (!map) {
        return -ENOENT;
    }
    return (long)bitmap_steal_or(bitmap, map, ram_block_pages(rb));
}

/*
 * Returns once no vCPU thread can still hold the log it loaded before
 * dirty_log was cleared.  Sequentially consistent on both sides: a thread
 * seen outside vcpu_run, or seen finishing a round after we cleared the
 * pointer, loads NULL from then on.
 */
static void wait_for_vcpus(void)
{
    for (unsigned i = 0; i < soft_state.ncpus; i++) {
        SoftCPU *sc = &soft_state.cpus[i];
        uint64_t seq = __atomic_load_n(&sc->quiesce_seq, __ATOMIC_SEQ_CST);

        while (__atomic_load_n(&sc->in_run, __ATOMIC_SEQ_CST) &&
               __atomic_load_n(&sc->quiesce_seq, __ATOMIC_SEQ_CST) == seq) {
            g_usleep(50);
        }
    }
}

static void soft_dirty_stop(void)
{
    SoftDirtyLog *log = dirty_log;

    if (!log) {
        return;
    }
    __atomic_store_n(&dirty_log, NULL, __ATOMIC_SEQ_CST);
    wait_for_vcpus();
    log_free(log);
}

const DirtyLogOps soft_dirty_log_ops = {
    .start = soft_dirty_start,
    .sync = soft_dirty_sync,
    .stop = soft_dirty_stop,
};
