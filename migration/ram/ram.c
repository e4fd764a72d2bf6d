/*
 * The source side of guest RAM, in QEMU's "ram" section format (see
 * include/migration/ram.h; the destination is migration/ram-load.c).  One
 * bitmap per RAM block of the pages still to send: all set at setup,
 * emptied as pages go out, refilled from the dirty log at each sync.
 * Zero pages travel as one byte.
 *
 * Postcopy: after the guest stopped, the pages still in the bitmaps are
 * announced as discarded, then sent in the background while the pages
 * the destination asks for jump the queue (on the preempt channel when
 * there is one).  A requested page that is no longer in the bitmap was
 * already sent: it is on its way, and is not sent twice.
 *
 * Threads: everything here runs in the migration thread, except
 * ram_postcopy_request() (the return-path thread): it queues requests
 * under req_lock, or with postcopy-preempt sends them itself on the
 * preempt channel (also under req_lock, which guards that channel).
 * Pages are claimed from the bitmaps atomically, so each goes once.
 */
#include <errno.h>
#include <string.h>
#include "migration/ram/ram.h"
#include "migration/format/savevm.h"
#include "migration/context.h"
#include "migration/multifd/multifd.h"
#include "util/bitmap.h"
#include "util/error.h"
#include "migration/log.h"

#define SEND_BATCH       256            /* pages between limit checks */
#define POSTCOPY_BATCH   32             /* pages between request checks */
#define ITERATE_SLICE_NS 50000000       /* return to the thread's checks */

typedef struct RAMBlockMig {
    MigRAMBlock blk;
    unsigned index;                     /* the VMM's block number */
    unsigned long *bmap;                /* pages still to send */
} RAMBlockMig;

typedef struct RAMState {
    FerryMig *m;
    RAMBlockMig *blocks;
    unsigned nr_blocks;
    unsigned cur_block;                 /* where the scan resumes */
    uint64_t cur_page;
    const RAMBlockMig *last_sent;       /* for RAM_SAVE_FLAG_CONTINUE */
    const RAMBlockMig *last_urgent;     /* the same, on the preempt channel */
    bool postcopy;                      /* the guest stopped for postcopy */
    bool multifd;                       /* precopy pages go to multifd */
    QEMUFile *urgent_file;              /* postcopy-preempt's, or NULL */
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

/* Postcopy: the destination's requests, queued by the return-path thread. */
typedef struct PageRequest {
    unsigned block;
    uint64_t first, count;      /* pages */
} PageRequest;

/* The source side of RAM in a migration context. */
struct RAMSaveState {
    RAMState *active;           /* atomic: from setup to cleanup */
    RAMStats final_stats;       /* the last migration's, once it ended */
    bool have_final_stats;
    bool log_on;                /* migration thread: we started the log */
    GMutex req_lock;
    GQueue requests;            /* req_lock: PageRequest */
};

RAMSaveState *ram_save_state_new(void)
{
    RAMSaveState *rss = g_new0(RAMSaveState, 1);

    g_mutex_init(&rss->req_lock);
    g_queue_init(&rss->requests);
    return rss;
}

void ram_save_state_free(RAMSaveState *rss)
{
    g_queue_clear_full(&rss->requests, g_free);
    g_mutex_clear(&rss->req_lock);
    g_free(rss);
}

static uint64_t block_pages(const RAMBlockMig *b)
{
    return b->blk.size >> MIG_PAGE_SHIFT;
}

static RAMState *ram_state_new(FerryMig *m)
{
    RAMState *rs = g_new0(RAMState, 1);

    rs->m = m;
    rs->nr_blocks = m->vmm.ram_block_count(m->opaque);
    rs->blocks = g_new0(RAMBlockMig, rs->nr_blocks);
    for (unsigned i = 0; i < rs->nr_blocks; i++) {
        RAMBlockMig *b = &rs->blocks[i];
        b->index = i;
        m->vmm.ram_block_get(m->opaque, i, &b->blk);
        b->bmap = g_new0(unsigned long, BITS_TO_LONGS(block_pages(b)));
        rs->stats.total_bytes += b->blk.size;
    }
    return rs;
}

bool ram_migration_stats(FerryMig *m, RAMStats *out)
{
    RAMState *rs = __atomic_load_n(&m->ram->active, __ATOMIC_ACQUIRE);

    if (!rs) {
        *out = m->ram->final_stats;
        return m->ram->have_final_stats;
    }
    /* Read while the migration thread updates: each field is one word. */
    *out = rs->stats;
    out->remaining_pages = rs->dirty_pages;
    return true;
}

static int ram_sync(FerryMig *m, RAMState *rs)
{
    int64_t now = g_get_monotonic_time() * 1000;
    uint64_t before = rs->dirty_pages, after = 0;

    for (unsigned i = 0; i < rs->nr_blocks; i++) {
        long n = m->vmm.dirty_log_sync(m->opaque, rs->blocks[i].index,
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
    FerryMig *m = opaque;
    RAMState *rs = ram_state_new(m);

    m->ram->have_final_stats = false;
    __atomic_store_n(&m->ram->active, rs, __ATOMIC_RELEASE);
    for (unsigned i = 0; i < rs->nr_blocks; i++) {
        uint64_t pages = block_pages(&rs->blocks[i]);
        bitmap_set_range(rs->blocks[i].bmap, 0, pages);
        rs->dirty_pages += pages;
    }
    if (!m->vmm.dirty_log_start(m->opaque, errp)) {
        return -EIO;
    }
    m->ram->log_on = true;
    /* The first sync (pass 1): every page is due anyway, this arms the log. */
    int ret = ram_sync(m, rs);
    if (ret < 0) {
        error_setg(errp, "ram: dirty log sync failed: %s", g_strerror(-ret));
        return ret;
    }
    if (!multifd_send_setup(m, qemu_file_get_channel(f),
                            &rs->stats.normal_pages, &rs->stats.zero_pages,
                            errp)) {
        return -EIO;
    }
    rs->multifd = multifd_send_active(m);
    put_mem_size(f, rs);
    qemu_put_be64(f, RAM_SAVE_FLAG_EOS);
    return qemu_file_get_error(f);
}

/* @last: the block the previous page on @f named (CONTINUE). */
static void put_page_header(QEMUFile *f, const RAMBlockMig **last,
                            const RAMBlockMig *b, uint64_t offset,
                            uint64_t flags)
{
    if (b == *last) {
        flags |= RAM_SAVE_FLAG_CONTINUE;
    }
    qemu_put_be64(f, offset | flags);
    if (!(flags & RAM_SAVE_FLAG_CONTINUE)) {
        qemu_put_byte(f, (uint8_t)strlen(b->blk.name));
        qemu_put_buffer(f, (const uint8_t *)b->blk.name, strlen(b->blk.name));
        *last = b;
    }
}

static void send_page_on(QEMUFile *f, const RAMBlockMig **last, RAMState *rs,
                         const RAMBlockMig *b, uint64_t page)
{
    const uint8_t *host = b->blk.host + (page << MIG_PAGE_SHIFT);

    if (ram_page_is_zero(host)) {
        put_page_header(f, last, b, page << MIG_PAGE_SHIFT, RAM_SAVE_FLAG_ZERO);
        qemu_put_byte(f, 0);
        __atomic_add_fetch(&rs->stats.zero_pages, 1, __ATOMIC_RELAXED);
    } else {
        put_page_header(f, last, b, page << MIG_PAGE_SHIFT, RAM_SAVE_FLAG_PAGE);
        /* No copy: guest RAM stays mapped, and a page the guest changes
         * before the flush is dirty and goes again. */
        qemu_put_buffer_async(f, host, MIG_PAGE_SIZE);
        __atomic_add_fetch(&rs->stats.normal_pages, 1, __ATOMIC_RELAXED);
    }
}

static void send_page(QEMUFile *f, RAMState *rs, const RAMBlockMig *b,
                      uint64_t page)
{
    if (rs->multifd) {
        /* the sending threads tell zero pages apart and count both */
        int ret = multifd_queue_page(rs->m, &b->blk, page << MIG_PAGE_SHIFT);
        if (ret < 0) {
            qemu_file_set_error(f, ret);
        }
        return;
    }
    send_page_on(f, &rs->last_sent, rs, b, page);
}

/*
 * A dirty-bitmap round ends: every page handed to multifd goes out, then
 * a SYNC on every channel and MULTIFD_FLUSH here, so the destination
 * holds the round's pages before it reads on.  Else only hands out the
 * pages still batched.
 */
static void multifd_round_end(QEMUFile *f, RAMState *rs, bool sync)
{
    int ret;

    if (!rs->multifd || qemu_file_get_error(f)) {
        return;
    }
    ret = sync ? multifd_send_sync(rs->m) : multifd_send_flush(rs->m);
    if (ret < 0) {
        qemu_file_set_error(f, ret);
    } else if (sync) {
        rs->stats.dirty_sync_missed_zero_copy += (unsigned)ret;
        /* out now: the destination's channels wait for it before they
         * read the next round, which the channels send at once */
        qemu_put_be64(f, RAM_SAVE_FLAG_MULTIFD_FLUSH);
        qemu_fflush(f);
    }
}

/*
 * Claims a page to send.  Atomic: with postcopy-preempt the return-path
 * thread sends requested pages while the migration thread scans.
 */
static bool take_page(RAMState *rs, RAMBlockMig *b, uint64_t page)
{
    unsigned long mask = 1UL << (page % BITS_PER_LONG);
    unsigned long *word = &b->bmap[page / BITS_PER_LONG];

    if (!(__atomic_load_n(word, __ATOMIC_RELAXED) & mask) ||
        !(__atomic_fetch_and(word, ~mask, __ATOMIC_ACQ_REL) & mask)) {
        return false;
    }
    __atomic_sub_fetch(&rs->dirty_pages, 1, __ATOMIC_RELAXED);
    return true;
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
        rs->cur_page = page + 1;
        visited = 0;
        if (take_page(rs, b, page)) {  /* else a request took it */
            send_page(f, rs, b, page);
            sent++;
        }
    }
    return sent;
}

static void send_requested_pages(FerryMig *m, QEMUFile *f, RAMState *rs);

/*
 * max-bandwidth counts what multifd's channels wrote, as it went on the
 * wire (compressed; a zero page as its offset), once they wrote it: the
 * batches they hold bound how far the count lags.
 */
static void multifd_rate_account(QEMUFile *f, RAMState *rs)
{
    if (rs->multifd) {
        qemu_file_rate_account(f, multifd_send_take_bytes(rs->m));
    }
}

static bool rate_limited(QEMUFile *f, RAMState *rs)
{
    multifd_rate_account(f, rs);
    return qemu_file_rate_limit_exceeded(f);
}

static int ram_save_iterate(QEMUFile *f, void *opaque)
{
    FerryMig *m = opaque;
    RAMState *rs = m->ram->active;
    int64_t start = g_get_monotonic_time() * 1000;
    uint64_t batch = rs->postcopy ? POSTCOPY_BATCH : SEND_BATCH;
    int done = 0;

    while (!rate_limited(f, rs) && !qemu_file_get_error(f)) {
        if (rs->postcopy) {
            send_requested_pages(m, f, rs);
        }
        if (send_dirty_pages(f, rs, batch) == 0) {
            done = 1;
            break;
        }
        if (g_get_monotonic_time() * 1000 - start > ITERATE_SLICE_NS) {
            break;
        }
    }
    multifd_round_end(f, rs, done);
    multifd_rate_account(f, rs);    /* for the migration thread's check */
    qemu_put_be64(f, RAM_SAVE_FLAG_EOS);
    return qemu_file_get_error(f) ? qemu_file_get_error(f) : done;
}

static int ram_save_complete(QEMUFile *f, void *opaque)
{
    FerryMig *m = opaque;
    RAMState *rs = m->ram->active;
    int ret = ram_sync(m, rs);

    if (ret < 0) {
        return ret;
    }
    while (send_dirty_pages(f, rs, SEND_BATCH) && !qemu_file_get_error(f)) {
    }
    multifd_round_end(f, rs, true);
    qemu_put_be64(f, RAM_SAVE_FLAG_EOS);
    return qemu_file_get_error(f);
}

/* Before the postcopy switchover: multifd's last round, then no more. */
static int ram_save_sync(QEMUFile *f, void *opaque)
{
    FerryMig *m = opaque;
    RAMState *rs = m->ram->active;

    multifd_round_end(f, rs, true);
    rs->multifd = false;
    multifd_send_cleanup(m);
    qemu_put_be64(f, RAM_SAVE_FLAG_EOS);
    return qemu_file_get_error(f);
}

static int ram_save_complete_postcopy(QEMUFile *f, void *opaque)
{
    FerryMig *m = opaque;
    RAMState *rs = m->ram->active;

    while (send_dirty_pages(f, rs, SEND_BATCH) && !qemu_file_get_error(f)) {
    }
    qemu_put_be64(f, RAM_SAVE_FLAG_EOS);
    return qemu_file_get_error(f);
}

static uint64_t ram_save_pending(void *opaque, bool sync)
{
    FerryMig *m = opaque;
    RAMState *rs = m->ram->active;

    if (!rs) {
        return 0;
    }
    if (sync && ram_sync(m, rs) < 0) {
        mig_log("ram: dirty log sync failed");
    }
    return rs->dirty_pages * MIG_PAGE_SIZE;
}

static void ram_save_cleanup(void *opaque)
{
    FerryMig *m = opaque;
    RAMSaveState *rss = m->ram;
    RAMState *rs = rss->active;

    multifd_send_cleanup(m);    /* its threads count into rs->stats */
    if (!rs) {
        return;
    }
    g_mutex_lock(&rss->req_lock);
    rss->final_stats = rs->stats;
    rss->final_stats.remaining_pages = rs->dirty_pages;
    rss->have_final_stats = true;
    __atomic_store_n(&rss->active, NULL, __ATOMIC_RELEASE);
    g_queue_clear_full(&rss->requests, g_free);
    g_mutex_unlock(&rss->req_lock);
    for (unsigned i = 0; i < rs->nr_blocks; i++) {
        g_free(rs->blocks[i].bmap);
    }
    g_free(rs->blocks);
    g_free(rs);
}

void ram_save_stop_log(FerryMig *m)
{
    if (m->ram->log_on) {
        int64_t t0 = g_get_monotonic_time();
        m->vmm.dirty_log_stop(m->opaque);
        m->ram->log_on = false;
        mig_log("ram: dirty log off in %" G_GINT64_FORMAT " us",
                g_get_monotonic_time() - t0);
    }
}

/* --- postcopy ---------------------------------------------------------- */

/*
 * The discard list: every page still to send, as byte ranges of its
 * block, at most MAX_DISCARDS_PER_COMMAND per command (QEMU's layout:
 * u8 version, u8 name length, name, NUL, then be64 start, be64 length).
 */
typedef struct DiscardCmd {
    uint8_t buf[3 + 255 + 16 * MAX_DISCARDS_PER_COMMAND];
    size_t head, len;
    unsigned ranges;
} DiscardCmd;

static void discard_begin(DiscardCmd *c, const char *name)
{
    size_t n = strlen(name);

    c->buf[0] = POSTCOPY_RAM_DISCARD_VERSION;
    c->buf[1] = (uint8_t)n;
    memcpy(c->buf + 2, name, n);
    c->buf[2 + n] = 0;
    c->head = c->len = 3 + n;
    c->ranges = 0;
}

static void put_be64_at(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8) {
        p[i] = (uint8_t)v;
    }
}

static void discard_flush(QEMUFile *f, DiscardCmd *c)
{
    if (c->ranges) {
        savevm_put_command(f, MIG_CMD_POSTCOPY_RAM_DISCARD, (uint16_t)c->len,
                           c->buf);
        c->len = c->head;
        c->ranges = 0;
    }
}

static void discard_add(QEMUFile *f, DiscardCmd *c, uint64_t first,
                        uint64_t count)
{
    put_be64_at(c->buf + c->len, first << MIG_PAGE_SHIFT);
    put_be64_at(c->buf + c->len + 8, count << MIG_PAGE_SHIFT);
    c->len += 16;
    if (++c->ranges == MAX_DISCARDS_PER_COMMAND) {
        discard_flush(f, c);
    }
}

int ram_postcopy_send_discards(FerryMig *m, QEMUFile *f)
{
    RAMState *rs = m->ram->active;
    int64_t t0 = g_get_monotonic_time();
    int ret = ram_sync(m, rs);

    if (ret < 0) {
        return ret;
    }
    mig_log("ram: the final sync took %" G_GINT64_FORMAT " us",
            g_get_monotonic_time() - t0);
    for (unsigned i = 0; i < rs->nr_blocks; i++) {
        RAMBlockMig *b = &rs->blocks[i];
        uint64_t pages = block_pages(b);
        DiscardCmd cmd;

        discard_begin(&cmd, b->blk.name);
        for (uint64_t p = bitmap_find_next(b->bmap, pages, 0); p < pages;) {
            uint64_t end = bitmap_find_next_zero(b->bmap, pages, p);
            discard_add(f, &cmd, p, end - p);
            p = bitmap_find_next(b->bmap, pages, end);
        }
        discard_flush(f, &cmd);
    }
    return qemu_file_get_error(f);
}

void ram_postcopy_start(FerryMig *m, QEMUFile *urgent)
{
    RAMState *rs = m->ram->active;

    rs->postcopy = true;
    g_mutex_lock(&m->ram->req_lock);
    rs->urgent_file = urgent;
    rs->last_urgent = NULL;
    g_mutex_unlock(&m->ram->req_lock);
}


void ram_postcopy_stop_urgent(FerryMig *m)
{
    g_mutex_lock(&m->ram->req_lock);
    if (m->ram->active) {
        m->ram->active->urgent_file = NULL;
    }
    g_mutex_unlock(&m->ram->req_lock);
}

static void send_request(RAMState *rs, QEMUFile *f, const RAMBlockMig **last,
                         const PageRequest *r)
{
    RAMBlockMig *b = &rs->blocks[r->block];

    /* The first page is the one a vCPU waits for: it goes whatever the
     * rate limit says.  The rest of the run is prefetch, background data
     * that goes while the window has room; the scan sends what is left. */
    for (uint64_t p = r->first; p < r->first + r->count; p++) {
        if (p > r->first && qemu_file_rate_limit_exceeded(f)) {
            break;
        }
        if (take_page(rs, b, p)) {
            send_page_on(f, last, rs, b, p);
            __atomic_add_fetch(&rs->stats.postcopy_urgent_pages, 1,
                               __ATOMIC_RELAXED);
        }
    }
}

/*
 * With a preempt channel the page goes out at once, from the return-path
 * thread: the migration thread may be blocked writing background pages.
 */
void ram_postcopy_request(FerryMig *m, const char *block, uint64_t offset,
                          uint64_t len)
{
    RAMSaveState *rss = m->ram;

    g_mutex_lock(&rss->req_lock);
    RAMState *rs = rss->active;
    for (unsigned i = 0; rs && i < rs->nr_blocks; i++) {
        const RAMBlockMig *b = &rs->blocks[i];
        if (strcmp(b->blk.name, block)) {
            continue;
        }
        if (offset >= b->blk.size || len > b->blk.size - offset || !len) {
            break;
        }
        PageRequest r = { i, offset >> MIG_PAGE_SHIFT, 0 };
        r.count = ((offset + len - 1) >> MIG_PAGE_SHIFT) - r.first + 1;
        __atomic_add_fetch(&rs->stats.postcopy_requests, 1, __ATOMIC_RELAXED);
        if (rs->postcopy && rs->urgent_file) {
            send_request(rs, rs->urgent_file, &rs->last_urgent, &r);
            qemu_fflush(rs->urgent_file);
        } else {
            g_queue_push_tail(&rss->requests, g_memdup2(&r, sizeof(r)));
        }
        g_mutex_unlock(&rss->req_lock);
        return;
    }
    g_mutex_unlock(&rss->req_lock);
    mig_log("ram: ignoring a request for %" G_GUINT64_FORMAT " bytes at "
            "0x%" G_GINT64_MODIFIER "x of '%s'", len, offset, block);
}

/* Queued requests (no preempt channel): ahead of the background scan. */
static void send_requested_pages(FerryMig *m, QEMUFile *f, RAMState *rs)
{
    for (;;) {
        g_mutex_lock(&m->ram->req_lock);
        PageRequest *r = g_queue_pop_head(&m->ram->requests);
        g_mutex_unlock(&m->ram->req_lock);
        if (!r) {
            break;
        }
        send_request(rs, f, &rs->last_sent, r);
        g_free(r);
    }
}

/* --- postcopy recovery ---------------------------------------------------- */

unsigned ram_postcopy_block_count(FerryMig *m)
{
    return m->ram->active ? m->ram->active->nr_blocks : 0;
}

const char *ram_postcopy_block_name(FerryMig *m, unsigned i)
{
    return m->ram->active->blocks[i].blk.name;
}

uint64_t ram_postcopy_bitmap_bytes(FerryMig *m, const char *block)
{
    RAMState *rs = m->ram->active;

    for (unsigned i = 0; rs && i < rs->nr_blocks; i++) {
        if (!strcmp(rs->blocks[i].blk.name, block)) {
            return (block_pages(&rs->blocks[i]) + 63) / 64 * 8;
        }
    }
    return 0;
}

bool ram_postcopy_reload_bitmap(FerryMig *m, const char *block,
                                const uint8_t *le_words, uint64_t bytes)
{
    RAMState *rs = m->ram->active;

    for (unsigned i = 0; rs && i < rs->nr_blocks; i++) {
        RAMBlockMig *b = &rs->blocks[i];
        uint64_t pages = block_pages(b);
        if (strcmp(b->blk.name, block)) {
            continue;
        }
        if (bytes != (pages + 63) / 64 * 8) {
            return false;
        }
        /* To send: every page the destination does not hold. */
        uint64_t todo = 0;
        for (uint64_t w = 0; w < BITS_TO_LONGS(pages); w++) {
            uint64_t held;
            memcpy(&held, le_words + w * 8, 8);
            unsigned long want = ~(unsigned long)GUINT64_FROM_LE(held);
            if ((w + 1) * BITS_PER_LONG > pages) {
                want &= (1UL << (pages % BITS_PER_LONG)) - 1;
            }
            unsigned long old = __atomic_exchange_n(&b->bmap[w], want,
                                                    __ATOMIC_ACQ_REL);
            todo += (uint64_t)__builtin_popcountl(want);
            todo -= (uint64_t)__builtin_popcountl(old);
        }
        __atomic_add_fetch(&rs->dirty_pages, todo, __ATOMIC_RELAXED);
        return true;
    }
    return false;
}

void ram_postcopy_new_stream(FerryMig *m, QEMUFile *urgent)
{
    RAMState *rs = m->ram->active;

    g_mutex_lock(&m->ram->req_lock);
    g_queue_clear_full(&m->ram->requests, g_free);
    rs->last_sent = NULL;
    rs->last_urgent = NULL;
    rs->urgent_file = urgent;
    rs->cur_block = 0;
    rs->cur_page = 0;
    g_mutex_unlock(&m->ram->req_lock);
}

static int ram_save_urgent(QEMUFile *f, void *opaque)
{
    FerryMig *m = opaque;

    send_requested_pages(m, f, m->ram->active);
    qemu_put_be64(f, RAM_SAVE_FLAG_EOS);
    return qemu_file_get_error(f);
}

bool ram_postcopy_pending_requests(FerryMig *m)
{
    g_mutex_lock(&m->ram->req_lock);
    bool any = !g_queue_is_empty(&m->ram->requests);
    g_mutex_unlock(&m->ram->req_lock);
    return any;
}

const SaveVMHandlers ram_handlers = {
    .save_setup = ram_save_setup,
    .save_live_iterate = ram_save_iterate,
    .save_live_complete_precopy = ram_save_complete,
    .save_live_complete_postcopy = ram_save_complete_postcopy,
    .save_postcopy_urgent = ram_save_urgent,
    .save_live_sync = ram_save_sync,
    .save_pending = ram_save_pending,
    .save_cleanup = ram_save_cleanup,
    .load_state = ram_load,
};
