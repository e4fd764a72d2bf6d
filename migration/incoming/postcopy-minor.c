/*
 * Postcopy with userfaultfd minor faults, on the destination.
 *
 * Each RAM block's memfd is mapped twice: the guest's mapping (the one
 * KVM's memslot and the devices use) and a staging mapping the VMM hands
 * over, which only the incoming threads write.  Incoming pages go through
 * the staging mapping: the page cache holds them and the guest's mapping
 * gets no page-table entries.  POSTCOPY_RAM_DISCARD then only clears
 * received bits; the discarded pages stay in memory with stale contents
 * that nothing can see, so nothing is freed while the guest is stopped
 * (punching out 3 GiB took ~600 ms there).
 *
 * At LISTEN the guest's mapping is emptied (cheap: it has next to no
 * entries) and registered for MINOR faults (page in the page cache, not
 * mapped) and MISSING faults (a hole: RAM the pre-fault never reached).
 * From then on a page becomes visible to the guest only with
 * UFFDIO_CONTINUE, once final: a page received and not discarded at its
 * first fault, or by the background pass mig/map runs after RUN;
 * any other page after its data was written through the staging mapping
 * and its received bit set.
 *
 * A migration that completes in precopy never reaches LISTEN: the guest's
 * mapping is just empty, and no userfaultfd ever covered it.  The guest
 * runs at once and takes ordinary host faults on what it touches; a
 * low-priority thread (mig/fill) maps the rest of its RAM meanwhile.
 *
 * Threads: created and freed on the incoming thread (at the block list),
 * LISTEN on the thread loading the package; claims on the incoming and
 * preempt threads (atomic bits); the background pass and its cursor on
 * mig/map alone; release and fill on the main thread, once the
 * incoming threads are gone; the fill itself on mig/fill.
 */
#include <errno.h>
#include <sys/mman.h>
#include "migration/incoming/postcopy-minor.h"
#include "migration/log.h"
#include "migration/ram/ram.h"
#include "migration/ram/userfaultfd.h"
#include "util/bitmap.h"
#include "util/error.h"

/* Pages per UFFDIO_CONTINUE of the background pass: ~20-80 us here, how
 * long stopping the pass may wait. */
#define POPULATE_CHUNK 128
/* Bytes per MADV_POPULATE_READ of the fill after a precopy completion:
 * short enough that stopping it (the context is freed) is quick. */
#define FILL_CHUNK (2ULL << 20)

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

typedef struct StagedBlock {
    uint8_t *staging;
    uint64_t pages;
    unsigned long *claimed;     /* placers: written or being written */
    unsigned long *to_map;      /* here at LISTEN: for the background pass */
} StagedBlock;

struct PostcopyMinor {
    unsigned nr_blocks;
    StagedBlock *b;
    unsigned cur_block;         /* the background pass's cursor */
    uint64_t cur_page;
    GThread *finisher;          /* mig/unstage: release, then fill */
    FerryMig *mig;
    MigRAMBlock *fill_blocks;   /* NULL: nothing to fill */
    int fill_stop;              /* atomic */
};

bool postcopy_minor_wanted(FerryMig *m)
{
    if (!__atomic_load_n(&m->capabilities[MIGRATION_CAPABILITY_POSTCOPY_RAM],
                         __ATOMIC_RELAXED) ||
        !__atomic_load_n(&m->capabilities[
                             MIGRATION_CAPABILITY_X_POSTCOPY_MINOR_FAULTS],
                         __ATOMIC_RELAXED) ||
        !m->vmm.ram_block_staging) {
        return false;
    }
    unsigned n = m->vmm.ram_block_count(m->opaque);
    for (unsigned i = 0; i < n; i++) {
        MigRAMBlock blk;
        m->vmm.ram_block_get(m->opaque, i, &blk);
        /* anonymous RAM has no second mapping, nor minor faults */
        if (blk.fd < 0 || !m->vmm.ram_block_staging(m->opaque, i)) {
            return false;
        }
    }
    return n > 0;
}

/* Drops the guest mapping's page-table entries; the page cache stays. */
static bool empty_guest_mapping(const MigRAMBlock *blk, GError **errp)
{
    if (madvise(blk->host, blk->size, MADV_DONTNEED) < 0) {
        error_setg_errno(errp, errno, "postcopy: cannot unmap the guest's "
                         "view of '%s'", blk->name);
        return false;
    }
    return true;
}

PostcopyMinor *postcopy_minor_new(FerryMig *m)
{
    PostcopyMinor *pm = g_new0(PostcopyMinor, 1);
    g_autoptr(GError) err = NULL;

    pm->nr_blocks = m->vmm.ram_block_count(m->opaque);
    pm->b = g_new0(StagedBlock, pm->nr_blocks);
    for (unsigned i = 0; i < pm->nr_blocks; i++) {
        MigRAMBlock blk;
        m->vmm.ram_block_get(m->opaque, i, &blk);
        pm->b[i].staging = m->vmm.ram_block_staging(m->opaque, i);
        pm->b[i].pages = blk.size >> MIG_PAGE_SHIFT;
        if (!pm->b[i].staging || !empty_guest_mapping(&blk, &err)) {
            mig_log("postcopy: minor faults not used: %s", err ?
                    err->message : "a RAM block has no staging mapping");
            postcopy_minor_free(pm);
            return NULL;
        }
    }
    return pm;
}

void postcopy_minor_free(PostcopyMinor *pm)
{
    if (!pm) {
        return;
    }
    if (pm->finisher) {
        __atomic_store_n(&pm->fill_stop, 1, __ATOMIC_RELEASE);
        g_thread_join(pm->finisher);
    }
    g_free(pm->fill_blocks);
    for (unsigned i = 0; i < pm->nr_blocks; i++) {
        g_free(pm->b[i].claimed);
        g_free(pm->b[i].to_map);
    }
    g_free(pm->b);
    g_free(pm);
}

/* The VMM unmaps the staging mappings, or they lose their entries. */
static void release_staging(FerryMig *m, PostcopyMinor *pm)
{
    for (unsigned i = 0; i < pm->nr_blocks; i++) {
        StagedBlock *b = &pm->b[i];

        if (m->vmm.ram_block_staging_done) {
            m->vmm.ram_block_staging_done(m->opaque, i);
        } else {
            /* The VMA stays the VMM's; its entries are what RSS counts. */
            (void)madvise(b->staging, b->pages << MIG_PAGE_SHIFT,
                          MADV_DONTNEED);
        }
        b->staging = NULL;
    }
}

/*
 * A read fault maps a shmem page writable in a shared mapping, 16 at a
 * time (fault-around): 2.5 times as fast as MADV_POPULATE_WRITE here,
 * and the guest's writes take no fault afterwards either.
 */
static void fill_guest_mappings(PostcopyMinor *pm)
{
    for (unsigned i = 0; i < pm->nr_blocks; i++) {
        const MigRAMBlock *blk = &pm->fill_blocks[i];

        for (uint64_t off = 0; off < blk->size; off += FILL_CHUNK) {
            if (__atomic_load_n(&pm->fill_stop, __ATOMIC_ACQUIRE)) {
                return;
            }
            if (madvise(blk->host + off, MIN(FILL_CHUNK, blk->size - off),
                        MADV_POPULATE_READ) < 0) {
                /* EINVAL: a kernel before 5.14; the guest faults them in */
                mig_log("postcopy: mapping guest RAM after precopy stopped: "
                        "%s", g_strerror(errno));
                return;
            }
        }
    }
}

/*
 * Off the main thread: unmapping gigabytes takes ~30 ms a GiB here, and
 * after a precopy completion the guest already runs, faulting in what it
 * touches, while this maps the rest (what a destination that wrote
 * through the guest's mapping never had to).
 */
static gpointer finish_thread(gpointer opaque)
{
    PostcopyMinor *pm = opaque;

    release_staging(pm->mig, pm);
    if (pm->fill_blocks) {
        fill_guest_mappings(pm);
    }
    return NULL;
}

void postcopy_minor_finish(FerryMig *m, PostcopyMinor *pm, bool fill)
{
    if (pm->finisher) {
        return;
    }
    if (fill) {
        pm->fill_blocks = g_new0(MigRAMBlock, pm->nr_blocks);
        for (unsigned i = 0; i < pm->nr_blocks; i++) {
            m->vmm.ram_block_get(m->opaque, i, &pm->fill_blocks[i]);
        }
    }
    pm->mig = m;
    pm->finisher = g_thread_new("mig/unstage", finish_thread, pm);
}

uint8_t *postcopy_minor_staging(PostcopyMinor *pm, unsigned block)
{
    return pm->b[block].staging;
}

bool postcopy_minor_listen(FerryMig *m, PostcopyMinor *pm, int uffd,
                           const MigRAMBlock *blocks, GError **errp)
{
    for (unsigned i = 0; i < pm->nr_blocks; i++) {
        StagedBlock *b = &pm->b[i];
        size_t words = BITS_TO_LONGS(b->pages);

        if (!empty_guest_mapping(&blocks[i], errp) ||
            !uffd_register_minor(uffd, blocks[i].host, blocks[i].size,
                                 errp)) {
            return false;
        }
        g_free(b->claimed);
        b->claimed = g_new0(unsigned long, words);
        g_free(b->to_map);
        b->to_map = g_memdup2(ram_recv_bitmap(m, i),
                              words * sizeof(unsigned long));
    }
    pm->cur_block = 0;
    pm->cur_page = 0;
    return true;
}

bool postcopy_minor_claim(PostcopyMinor *pm, unsigned block, uint64_t page)
{
    return bitmap_test_and_set_atomic(pm->b[block].claimed, page);
}

void postcopy_minor_unclaim(PostcopyMinor *pm, unsigned block, uint64_t page)
{
    bitmap_clear_atomic(pm->b[block].claimed, page);
}

int postcopy_minor_map(int uffd, uint8_t *host)
{
    int ret = uffd_continue(uffd, host, MIG_PAGE_SIZE, false);

    if (ret == -EFAULT) {
        /* Never written nor pre-faulted: its contents are zeros. */
        ret = uffd_zeropage(uffd, host, MIG_PAGE_SIZE, false);
    }
    return ret == -EEXIST ? 0 : ret;
}

/* Maps pages [@first, @end) of a run that is here; false on an error
 * that will not go away (unregistered: the migration ended). */
static bool map_run(int uffd, uint8_t *host, uint64_t first, uint64_t end)
{
    int ret = uffd_continue(uffd, host + (first << MIG_PAGE_SHIFT),
                            (end - first) << MIG_PAGE_SHIFT, false);

    if (ret == -EFAULT) {
        /* A hole inside: page by page; a hole is left to its fault. */
        ret = 0;
        for (uint64_t p = first; p < end && (ret == 0 || ret == -EEXIST ||
                                             ret == -EFAULT); p++) {
            ret = uffd_continue(uffd, host + (p << MIG_PAGE_SHIFT),
                                MIG_PAGE_SIZE, false);
        }
    }
    if (ret < 0 && ret != -EEXIST && ret != -EFAULT) {
        mig_log("postcopy: background mapping stopped: %s", g_strerror(-ret));
        return false;
    }
    return true;
}

bool postcopy_minor_populate_step(PostcopyMinor *pm, int uffd,
                                  const MigRAMBlock *blocks)
{
    while (pm->cur_block < pm->nr_blocks) {
        StagedBlock *b = &pm->b[pm->cur_block];
        uint64_t first = bitmap_find_next(b->to_map, b->pages, pm->cur_page);

        if (first >= b->pages) {
            pm->cur_block++;
            pm->cur_page = 0;
            continue;
        }
        uint64_t end = MIN(bitmap_find_next_zero(b->to_map, b->pages, first),
                           first + POPULATE_CHUNK);
        pm->cur_page = end;
        if (!map_run(uffd, blocks[pm->cur_block].host, first, end)) {
            pm->cur_block = pm->nr_blocks;
            return false;
        }
        return true;
    }
    return false;
}
