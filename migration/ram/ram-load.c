/*
 * The destination side of guest RAM (the source is migration/ram.c).
 *
 * Precopy writes each page straight into guest RAM (in postcopy's
 * minor-fault mode through the staging mapping, which the guest does not
 * see); a zero page over a page that is still zero is skipped, so memory
 * the guest never used is never faulted in.  Every page loaded is marked
 * in a received bitmap, one per RAM block, which postcopy needs: at
 * LISTEN the pages not received become faults, and from then on pages
 * are placed atomically through userfaultfd
 * (migration/incoming/postcopy-dst.c) instead of written.
 *
 * Threads: the main stream is read by the incoming thread, the
 * postcopy-preempt channel by a thread of its own; each has its own
 * cursor (the block that RAM_SAVE_FLAG_CONTINUE refers to).  The received
 * bitmaps are changed with atomics and read by the fault thread.
 */
#include <errno.h>
#include <string.h>
#include "migration/incoming/postcopy-dst.h"
#include "migration/multifd/multifd.h"
#include "migration/ram/ram.h"
#include "migration/context.h"
#include "util/bitmap.h"
#include "util/error.h"

/* The block the last page named; every stream starts with the block
 * list, which resets it. */
typedef struct RAMLoadCursor {
    FerryMig *m;
    MigRAMBlock blk;
    uint8_t *base;              /* where its pages are written */
    unsigned index;
    bool have;
} RAMLoadCursor;

/* The destination side of RAM in a migration context. */
struct RAMLoadState {
    RAMLoadCursor main_cursor;  /* the incoming thread's */
    unsigned long **recv_bmaps; /* NULL until a block list arrived */
    unsigned recv_nr_blocks;
};

static void recv_bitmaps_free(RAMLoadState *rl)
{
    for (unsigned i = 0; i < rl->recv_nr_blocks; i++) {
        g_free(rl->recv_bmaps[i]);
    }
    g_clear_pointer(&rl->recv_bmaps, g_free);
    rl->recv_nr_blocks = 0;
}

RAMLoadState *ram_load_state_new(void)
{
    return g_new0(RAMLoadState, 1);
}

void ram_load_state_free(RAMLoadState *rl)
{
    recv_bitmaps_free(rl);
    g_free(rl);
}

static unsigned find_block(FerryMig *m, const char *name, MigRAMBlock *out)
{
    unsigned n = m->vmm.ram_block_count(m->opaque);

    for (unsigned i = 0; i < n; i++) {
        m->vmm.ram_block_get(m->opaque, i, out);
        if (!strcmp(out->name, name)) {
            return i;
        }
    }
    return UINT_MAX;
}

/* --- received bitmaps ---------------------------------------------------- */

static void recv_bitmaps_reset(FerryMig *m)
{
    RAMLoadState *rl = m->ram_load;

    recv_bitmaps_free(rl);
    rl->recv_nr_blocks = m->vmm.ram_block_count(m->opaque);
    rl->recv_bmaps = g_new0(unsigned long *, rl->recv_nr_blocks);
    for (unsigned i = 0; i < rl->recv_nr_blocks; i++) {
        MigRAMBlock blk;
        m->vmm.ram_block_get(m->opaque, i, &blk);
        rl->recv_bmaps[i] = g_new0(unsigned long,
                                   BITS_TO_LONGS(blk.size >> MIG_PAGE_SHIFT));
    }
}

const unsigned long *ram_recv_bitmap(FerryMig *m, unsigned block)
{
    return m->ram_load->recv_bmaps[block];
}

bool ram_recv_ready(FerryMig *m)
{
    return m->ram_load->recv_bmaps != NULL;
}

unsigned ram_recv_block_index(FerryMig *m, const char *name)
{
    MigRAMBlock blk;

    return find_block(m, name, &blk);
}

bool ram_recv_test(FerryMig *m, unsigned block, uint64_t page)
{
    const unsigned long *map = m->ram_load->recv_bmaps[block];

    return (__atomic_load_n(&map[page / BITS_PER_LONG], __ATOMIC_ACQUIRE) >>
            (page % BITS_PER_LONG)) & 1;
}

void ram_recv_mark(FerryMig *m, unsigned block, uint64_t page)
{
    bitmap_set_atomic(m->ram_load->recv_bmaps[block], page);
}

void ram_recv_clear(FerryMig *m, unsigned block, uint64_t first,
                    uint64_t count)
{
    bitmap_clear_range_atomic(m->ram_load->recv_bmaps[block], first, count);
}

void ram_recv_foreach_missing(FerryMig *m, unsigned block,
                              void (*fn)(uint64_t first, uint64_t count,
                                         void *opaque), void *opaque)
{
    const unsigned long *map = m->ram_load->recv_bmaps[block];
    MigRAMBlock blk;

    m->vmm.ram_block_get(m->opaque, block, &blk);
    uint64_t pages = blk.size >> MIG_PAGE_SHIFT;
    for (uint64_t p = bitmap_find_next_zero(map, pages, 0); p < pages;) {
        uint64_t end = bitmap_find_next(map, pages, p);
        fn(p, end - p, opaque);
        p = bitmap_find_next_zero(map, pages, end);
    }
}

/* --- page records -------------------------------------------------------- */

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
static bool get_block(QEMUFile *f, RAMLoadCursor *c, uint64_t flags,
                      GError **errp)
{
    char id[256];

    if (flags & RAM_SAVE_FLAG_CONTINUE) {
        if (!c->have) {
            error_setg(errp, "ram: a page continues a block, but no block "
                       "was named before");
        }
        return c->have;
    }
    if (!read_block_name(f, id, "a block name", errp)) {
        return false;
    }
    c->index = find_block(c->m, id, &c->blk);
    c->have = c->index != UINT_MAX;
    if (!c->have) {
        error_setg(errp, "ram: unknown RAM block '%s'", id);
        return false;
    }
    c->base = postcopy_dst_staging(c->m, c->index);
    if (!c->base) {
        c->base = c->blk.host;
    }
    return true;
}

static bool load_mem_size(FerryMig *m, QEMUFile *f, uint64_t total,
                          GError **errp)
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
        if (find_block(m, id, &blk) == UINT_MAX) {
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
    recv_bitmaps_reset(m);
    postcopy_dst_ram_ready(m);
    multifd_recv_ram_ready(m);      /* after: it takes the staging mappings */
    return true;
}

static bool check_offset(const MigRAMBlock *blk, uint64_t offset,
                         GError **errp)
{
    if (offset >= blk->size) {
        error_setg(errp, "ram: page offset 0x%" G_GINT64_MODIFIER "x is beyond "
                   "RAM block '%s' (%" G_GUINT64_FORMAT " bytes)", offset,
                   blk->name, blk->size);
        return false;
    }
    return true;
}

static bool write_page(QEMUFile *f, uint64_t flags, uint8_t *host)
{
    if (flags & RAM_SAVE_FLAG_ZERO) {
        uint8_t fill = qemu_get_byte(f);
        if (fill || !ram_page_is_zero(host)) {
            memset(host, fill, MIG_PAGE_SIZE);
        }
    } else {
        qemu_get_buffer(f, host, MIG_PAGE_SIZE);
    }
    return !qemu_file_get_error(f);
}

/* Postcopy: the page lands in a buffer and is placed in one step. */
static bool place_page(QEMUFile *f, uint64_t flags, const RAMLoadCursor *c,
                       uint64_t offset, GError **errp)
{
    uint8_t buf[MIG_PAGE_SIZE] __attribute__((aligned(64)));
    bool zero = false;

    if (flags & RAM_SAVE_FLAG_ZERO) {
        uint8_t fill = qemu_get_byte(f);
        zero = fill == 0;
        memset(buf, fill, MIG_PAGE_SIZE);
    } else {
        qemu_get_buffer(f, buf, MIG_PAGE_SIZE);
    }
    if (qemu_file_get_error(f)) {
        return false;
    }
    return postcopy_dst_place(c->m, c->index, offset, zero ? NULL : buf,
                              errp);
}

/*
 * Postcopy, minor mode: the page goes straight into the staging mapping
 * and becomes visible to the guest once whole.  A page here already, or
 * claimed by the other channel, is read and dropped.
 */
static bool place_staged(QEMUFile *f, uint64_t flags, const RAMLoadCursor *c,
                         uint64_t offset, GError **errp)
{
    uint8_t *dst = postcopy_dst_claim(c->m, c->index, offset);

    if (!dst) {
        uint8_t scratch[MIG_PAGE_SIZE] = { 0 };
        return write_page(f, flags, scratch);
    }
    if (!write_page(f, flags, dst)) {
        postcopy_dst_unclaim(c->m, c->index, offset);
        return false;
    }
    return postcopy_dst_publish(c->m, c->index, offset, errp);
}

/* "ended" at the end of the stream, else why reading failed (TLS). */
static void stream_error(QEMUFile *f, const char *where, GError **errp)
{
    int err = qemu_file_get_error(f);

    if (err && err != -EIO) {
        error_setg_errno(errp, -err, "ram: stream failed %s", where);
    } else {
        error_setg(errp, "ram: stream ended %s", where);
    }
}

static bool load_page(QEMUFile *f, uint64_t flags, RAMLoadCursor *c,
                      uint64_t offset, GError **errp)
{
    /* The received bitmaps come with the block list: a page before it
     * would be marked in none (fuzz-stream-load found the NULL). */
    if (!ram_recv_ready(c->m)) {
        error_setg(errp, "ram: a page before the RAM block list");
        return false;
    }
    if (!get_block(f, c, flags, errp) || !check_offset(&c->blk, offset, errp)) {
        return false;
    }
    if (postcopy_dst_placing(c->m)) {
        bool ok = postcopy_dst_minor(c->m) ?
                  place_staged(f, flags, c, offset, errp) :
                  place_page(f, flags, c, offset, errp);
        if (!ok) {
            if (!*errp) {
                stream_error(f, "inside a page", errp);
            }
            return false;
        }
        return true;
    }
    if (!write_page(f, flags, c->base + offset)) {
        stream_error(f, "inside a page", errp);
        return false;
    }
    ram_recv_mark(c->m, c->index, offset >> MIG_PAGE_SHIFT);
    return true;
}

/* Page records until EOS: 0, or -errno with @errp set. */
static int load_records(QEMUFile *f, RAMLoadCursor *c, bool allow_mem_size,
                        GError **errp)
{
    for (;;) {
        uint64_t word = qemu_get_be64(f);
        uint64_t flags = word & (MIG_PAGE_SIZE - 1);
        uint64_t addr = word & ~(MIG_PAGE_SIZE - 1);

        if (qemu_file_get_error(f)) {
            stream_error(f, "before the end of section", errp);
            return -EIO;
        }
        switch (flags & ~RAM_SAVE_FLAG_CONTINUE) {
        case RAM_SAVE_FLAG_MEM_SIZE:
            if (!allow_mem_size) {
                error_setg(errp, "ram: a block list on the preempt channel");
                return -EINVAL;
            }
            c->have = false;
            if (!load_mem_size(c->m, f, addr, errp)) {
                return -EINVAL;
            }
            break;
        case RAM_SAVE_FLAG_ZERO:
        case RAM_SAVE_FLAG_PAGE:
            if (!load_page(f, flags, c, addr, errp)) {
                return -EINVAL;
            }
            break;
        case RAM_SAVE_FLAG_MULTIFD_FLUSH:
            if (!allow_mem_size) {
                error_setg(errp, "ram: a multifd flush on the preempt channel");
                return -EINVAL;
            }
            if (!multifd_recv_sync(c->m, errp)) {
                return -EIO;
            }
            break;
        case RAM_SAVE_FLAG_EOS:
            return 0;
        default:
            error_setg(errp, "ram: unknown page flags 0x%" G_GINT64_MODIFIER "x",
                       flags);
            return -EINVAL;
        }
    }
}

int ram_load(QEMUFile *f, void *opaque, int version_id, GError **errp)
{
    if (version_id != RAM_SECTION_VERSION) {
        error_setg(errp, "ram: section version %d is not supported (%d)",
                   version_id, RAM_SECTION_VERSION);
        return -EINVAL;
    }
    FerryMig *m = opaque;

    m->ram_load->main_cursor.m = m;
    return load_records(f, &m->ram_load->main_cursor, true, errp);
}

int ram_load_preempt_channel(FerryMig *m, QEMUFile *f, GError **errp)
{
    RAMLoadCursor c = { .m = m, .have = false };

    return load_records(f, &c, false, errp);
}
