/*
 * Guest RAM for precopy, in QEMU's "ram" section format (see
 * include/migration/ram.h).  The source keeps one bitmap per RAM block of
 * the pages still to send: all set at setup, emptied as pages go out,
 * refilled from the dirty log at each sync.  Zero pages travel as one
 * byte; the destination leaves a page it never received (or received as
 * zero) untouched, so it never faults in memory it does not need.
 *
 * Threads: the save side runs in the migration thread only, the load side
 * in the incoming thread only; neither needs a lock.
 */
#include <errno.h>
#include <string.h>
#include "migration/ram.h"
#include "migration/vmm.h"
#include "util/bitmap.h"
#include "util/error.h"
#include "util/log.h"

#define SEND_BATCH       256            /* pages between limit checks */
#define ITERATE_SLICE_NS 50000000       /* return to the thread's checks */

typedef struct RAMBlockMig {
    MigRAMBlock blk;
    unsigned index;                     /* the VMM's block number */
    unsigned long *bmap;                /* pages still to send */
} RAMBlockMig;

typedef struct RAMState {
    RAMBlockMig *blocks;
    unsigned nr_blocks;
    unsigned cur_block;                 /* where the scan resumes */
    uint64_t cur_page;
    const RAMBlockMig *last_sent;       /* for RAM_SAVE_FLAG_CONTINUE */
    uint64_t dirty_pages;               /* bits set over all bitmaps */
    int64_t last_sync_ns;
    RAMStats stats;
} RAMState;

bool ram_page_is_zero(const uint8_t *page)
{
    const uint64_t *w = (const uint64_t *)page;

    for (unsigned i = 0; i < MIG_PAGE_SIZE / 8; i += 8) {
        if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] |
            w[i + 6] | w[i + 7]) {
            return false;
        }
    }
    return true;
}

/* The migration in progress (one at a time), from setup to cleanup. */
static RAMState *ram_state;
/* The last migration's counters, for query-migrate once it ended. */
static RAMStats final_stats;
static bool have_final_stats;

static uint64_t block_pages(const RAMBlockMig *b)
{
    return b->blk.size >> MIG_PAGE_SHIFT;
}

static RAMState *ram_state_new(void)
{
    const MigrationVMM *vmm = migration_vmm();
    RAMState *rs = g_new0(RAMState, 1);

    rs->nr_blocks = vmm->ram_block_count();
    rs->blocks = g_new0(RAMBlockMig, rs->nr_blocks);
    for (unsigned i = 0; i < rs->nr_blocks; i++) {
        RAMBlockMig *b = &rs->blocks[i];
        b->index = i;
        vmm->ram_block_get(i, &b->blk);
        b->bmap = g_new0(unsigned long, BITS_TO_LONGS(block_pages(b)));
        rs->stats.total_bytes += b->blk.size;
    }
    return rs;
}

bool ram_migration_stats(RAMStats *out)
{
    RAMState *rs = __atomic_load_n(&ram_state, __ATOMIC_ACQUIRE);

    if (!rs) {
        *out = final_stats;
        return have_final_stats;
    }
    /* Read while the migration thread updates: each field is one word. */
    *out = rs->stats;
    out->remaining_pages = rs->dirty_pages;
    return true;
}

static int ram_sync(RAMState *rs)
{
    int64_t now = g_get_monotonic_time() * 1000;
    uint64_t before = rs->dirty_pages, after = 0;

    for (unsigned i = 0; i < rs->nr_blocks; i++) {
        long n = migration_vmm()->dirty_log_sync(rs->blocks[i].index,
                                                 rs->blocks[i].bmap);
        if (n < 0) {
            return (int)n;
        }
        after += (uint64_t)n;
    }
    rs->dirty_pages = after;
    rs->stats.dirty_sync_count++;
    if (after > before) {
        rs->stats.dirty_pages_found += after - before;
    }
    if (rs->last_sync_ns && now > rs->last_sync_ns && after > before) {
        rs->stats.dirty_pages_rate = (after - before) * 1000000000ULL /
                                     (uint64_t)(now - rs->last_sync_ns);
    }
    rs->last_sync_ns = now;
    return 0;
}

static void put_mem_size(QEMUFile *f, const RAMState *rs)
{
    qemu_put_be64(f, rs->stats.total_bytes | RAM_SAVE_FLAG_MEM_SIZE);
    for (unsigned i = 0; i < rs->nr_blocks; i++) {
        const MigRAMBlock *blk = &rs->blocks[i].blk;
        qemu_put_byte(f, (uint8_t)strlen(blk->name));
        qemu_put_buffer(f, (const uint8_t *)blk->name, strlen(blk->name));
        qemu_put_be64(f, blk->size);
    }
}

static int ram_save_setup(QEMUFile *f, void *opaque, GError **errp)
{
    RAMState *rs = ram_state_new();

    have_final_stats = false;
    __atomic_store_n(&ram_state, rs, __ATOMIC_RELEASE);
    for (unsigned i = 0; i < rs->nr_blocks; i++) {
        uint64_t pages = block_pages(&rs->blocks[i]);
        bitmap_set_range(rs->blocks[i].bmap, 0, pages);
        rs->dirty_pages += pages;
    }
    if (!migration_vmm()->dirty_log_start(errp)) {
        return -EIO;
    }
    /* The first sync (pass 1): every page is due anyway, this arms the log. */
    int ret = ram_sync(rs);
    if (ret < 0) {
        error_setg(errp, "ram: dirty log sync failed: %s", g_strerror(-ret));
        return ret;
    }
    put_mem_size(f, rs);
    qemu_put_be64(f, RAM_SAVE_FLAG_EOS);
    return qemu_file_get_error(f);
}

static void put_page_header(QEMUFile *f, RAMState *rs, const RAMBlockMig *b,
                            uint64_t offset, uint64_t flags)
{
    if (b == rs->last_sent) {
        flags |= RAM_SAVE_FLAG_CONTINUE;
    }
    qemu_put_be64(f, offset | flags);
    if (!(flags & RAM_SAVE_FLAG_CONTINUE)) {
        qemu_put_byte(f, (uint8_t)strlen(b->blk.name));
        qemu_put_buffer(f, (const uint8_t *)b->blk.name, strlen(b->blk.name));
        rs->last_sent = b;
    }
}

static void send_page(QEMUFile *f, RAMState *rs, const RAMBlockMig *b,
                      uint64_t page)
{
    const uint8_t *host = b->blk.host + (page << MIG_PAGE_SHIFT);

    if (ram_page_is_zero(host)) {
        put_page_header(f, rs, b, page << MIG_PAGE_SHIFT, RAM_SAVE_FLAG_ZERO);
        qemu_put_byte(f, 0);
        rs->stats.zero_pages++;
    } else {
        put_page_header(f, rs, b, page << MIG_PAGE_SHIFT, RAM_SAVE_FLAG_PAGE);
        /* No copy: guest RAM stays mapped, and a page the guest changes
         * before the flush is dirty and goes again. */
        qemu_put_buffer_async(f, host, MIG_PAGE_SIZE);
        rs->stats.normal_pages++;
    }
}

/* Sends up to @max dirty pages from the scan position; returns the count. */
static uint64_t send_dirty_pages(QEMUFile *f, RAMState *rs, uint64_t max)
{
    uint64_t sent = 0;

    for (unsigned visited = 0; sent < max && visited <= rs->nr_blocks;) {
        RAMBlockMig *b = &rs->blocks[rs->cur_block];
        uint64_t pages = block_pages(b);
        uint64_t page = bitmap_find_next(b->bmap, pages, rs->cur_page);

        if (page == pages) {
            rs->cur_block = (rs->cur_block + 1) % rs->nr_blocks;
            rs->cur_page = 0;
            visited++;
            continue;
        }
        b->bmap[page / BITS_PER_LONG] &= ~(1UL << (page % BITS_PER_LONG));
        rs->dirty_pages--;
        send_page(f, rs, b, page);
        rs->cur_page = page + 1;
        sent++;
        visited = 0;
    }
    return sent;
}

static int ram_save_iterate(QEMUFile *f, void *opaque)
{
    RAMState *rs = ram_state;
    int64_t start = g_get_monotonic_time() * 1000;
    int done = 0;

    while (!qemu_file_rate_limit_exceeded(f) && !qemu_file_get_error(f)) {
        if (send_dirty_pages(f, rs, SEND_BATCH) == 0) {
            done = 1;
            break;
        }
        if (g_get_monotonic_time() * 1000 - start > ITERATE_SLICE_NS) {
            break;
        }
    }
    qemu_put_be64(f, RAM_SAVE_FLAG_EOS);
    return qemu_file_get_error(f) ? qemu_file_get_error(f) : done;
}

static int ram_save_complete(QEMUFile *f, void *opaque)
{
    RAMState *rs = ram_state;
    int ret = ram_sync(rs);

    if (ret < 0) {
        return ret;
    }
    while (send_dirty_pages(f, rs, SEND_BATCH) && !qemu_file_get_error(f)) {
    }
    qemu_put_be64(f, RAM_SAVE_FLAG_EOS);
    return qemu_file_get_error(f);
}

static uint64_t ram_save_pending(void *opaque, bool sync)
{
    RAMState *rs = ram_state;

    if (!rs) {
        return 0;
    }
    if (sync && ram_sync(rs) < 0) {
        ferry_log("ram: dirty log sync failed");
    }
    return rs->dirty_pages * MIG_PAGE_SIZE;
}

static void ram_save_cleanup(void *opaque)
{
    RAMState *rs = ram_state;

    if (!rs) {
        return;
    }
    final_stats = rs->stats;
    final_stats.remaining_pages = rs->dirty_pages;
    have_final_stats = true;
    __atomic_store_n(&ram_state, NULL, __ATOMIC_RELEASE);
    migration_vmm()->dirty_log_stop();
    for (unsigned i = 0; i < rs->nr_blocks; i++) {
        g_free(rs->blocks[i].bmap);
    }
    g_free(rs->blocks);
    g_free(rs);
}

/* --- destination ------------------------------------------------------- */

/*
 * The block the last page named: RAM_SAVE_FLAG_CONTINUE may refer to it
 * from a later section.  Every stream starts with the block list, which
 * resets it.
 */
static MigRAMBlock last_recv_block;
static bool have_last_recv_block;

static bool find_block(const char *name, MigRAMBlock *out)
{
    const MigrationVMM *vmm = migration_vmm();
    unsigned n = vmm->ram_block_count();

    for (unsigned i = 0; i < n; i++) {
        vmm->ram_block_get(i, out);
        if (!strcmp(out->name, name)) {
            return true;
        }
    }
    return false;
}

static bool read_block_name(QEMUFile *f, char id[256], const char *where,
                            GError **errp)
{
    uint8_t len = (uint8_t)qemu_get_byte(f);

    qemu_get_buffer(f, (uint8_t *)id, len);
    id[len] = '\0';
    if (qemu_file_get_error(f)) {
        error_setg(errp, "ram: stream ended inside %s", where);
        return false;
    }
    return true;
}

/* The block a page belongs to: named, or the last one (CONTINUE). */
static bool get_block(QEMUFile *f, uint64_t flags, GError **errp)
{
    char id[256];

    if (flags & RAM_SAVE_FLAG_CONTINUE) {
        if (!have_last_recv_block) {
            error_setg(errp, "ram: a page continues a block, but no block "
                       "was named before");
        }
        return have_last_recv_block;
    }
    if (!read_block_name(f, id, "a block name", errp)) {
        return false;
    }
    have_last_recv_block = find_block(id, &last_recv_block);
    if (!have_last_recv_block) {
        error_setg(errp, "ram: unknown RAM block '%s'", id);
    }
    return have_last_recv_block;
}

static bool load_mem_size(QEMUFile *f, uint64_t total, GError **errp)
{
    uint64_t seen = 0;

    while (seen < total) {
        char id[256];
        MigRAMBlock blk;
        if (!read_block_name(f, id, "the RAM block list", errp)) {
            return false;
        }
        uint64_t size = qemu_get_be64(f);
        if (qemu_file_get_error(f)) {
            error_setg(errp, "ram: stream ended inside the RAM block list");
            return false;
        }
        if (!find_block(id, &blk)) {
            error_setg(errp, "ram: the stream has RAM block '%s', this VM "
                       "has none", id);
            return false;
        }
        if (blk.size != size) {
            error_setg(errp, "ram: RAM block '%s' is %" G_GUINT64_FORMAT
                       " bytes in the stream but %" G_GUINT64_FORMAT
                       " here (use the same -m)", id, size, blk.size);
            return false;
        }
        seen += size;
    }
    if (seen != total) {
        error_setg(errp, "ram: RAM block sizes add up to %" G_GUINT64_FORMAT
                   ", the stream announced %" G_GUINT64_FORMAT, seen, total);
        return false;
    }
    return true;
}

static uint8_t *page_host(const MigRAMBlock *blk, uint64_t offset,
                          GError **errp)
{
    if (offset >= blk->size) {
        error_setg(errp, "ram: page offset 0x%" G_GINT64_MODIFIER "x is beyond "
                   "RAM block '%s' (%" G_GUINT64_FORMAT " bytes)", offset,
                   blk->name, blk->size);
        return NULL;
    }
    return blk->host + offset;
}

static bool load_page(QEMUFile *f, uint64_t flags, uint8_t *host, GError **errp)
{
    if (flags & RAM_SAVE_FLAG_ZERO) {
        uint8_t fill = qemu_get_byte(f);
        if (fill || !ram_page_is_zero(host)) {
            memset(host, fill, MIG_PAGE_SIZE);
        }
    } else {
        qemu_get_buffer(f, host, MIG_PAGE_SIZE);
    }
    if (qemu_file_get_error(f)) {
        error_setg(errp, "ram: stream ended inside a page");
        return false;
    }
    return true;
}

static int ram_load(QEMUFile *f, void *opaque, int version_id, GError **errp)
{
    if (version_id != RAM_SECTION_VERSION) {
        error_setg(errp, "ram: section version %d is not supported (%d)",
                   version_id, RAM_SECTION_VERSION);
        return -EINVAL;
    }
    for (;;) {
        uint64_t word = qemu_get_be64(f);
        uint64_t flags = word & (MIG_PAGE_SIZE - 1);
        uint64_t addr = word & ~(MIG_PAGE_SIZE - 1);

        if (qemu_file_get_error(f)) {
            error_setg(errp, "ram: stream ended before the end of section");
            return -EIO;
        }
        switch (flags & ~RAM_SAVE_FLAG_CONTINUE) {
        case RAM_SAVE_FLAG_MEM_SIZE:
            have_last_recv_block = false;
            if (!load_mem_size(f, addr, errp)) {
                return -EINVAL;
            }
            break;
        case RAM_SAVE_FLAG_ZERO:
        case RAM_SAVE_FLAG_PAGE: {
            uint8_t *host;
            if (!get_block(f, flags, errp) ||
                !(host = page_host(&last_recv_block, addr, errp)) ||
                !load_page(f, flags, host, errp)) {
                return -EINVAL;
            }
            break;
        }
        case RAM_SAVE_FLAG_EOS:
            return 0;
        default:
            error_setg(errp, "ram: unknown page flags 0x%" G_GINT64_MODIFIER "x",
                       flags);
            return -EINVAL;
        }
    }
}

const SaveVMHandlers ram_handlers = {
    .save_setup = ram_save_setup,
    .save_live_iterate = ram_save_iterate,
    .save_live_complete_precopy = ram_save_complete,
    .save_pending = ram_save_pending,
    .save_cleanup = ram_save_cleanup,
    .load_state = ram_load,
};
