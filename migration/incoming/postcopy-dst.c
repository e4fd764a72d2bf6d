/*
 * The destination side of postcopy: guest RAM under userfaultfd, the
 * fault thread that asks the source for missing pages, atomic placement,
 * and the fault statistics of query-migrate.
 *
 * Two modes, chosen when the RAM block list arrives.  Minor-fault mode
 * (postcopy-minor.c, the default where the kernel, the RAM and the VMM
 * allow it): pages are written through a staging mapping and mapped into
 * the guest's with UFFDIO_CONTINUE once final; nothing is freed.  The
 * fallback, missing-fault mode: every guest RAM block is a shared memfd
 * (or anonymous) mapping; discarded pages and, at LISTEN, every page not
 * received are punched out, and the mappings registered for missing-page
 * faults.  In both, any thread that touches a page not here (a vCPU, KVM
 * on its behalf, the VMM itself) sleeps in the kernel until the page is
 * placed (UFFDIO_COPY / UFFDIO_ZEROPAGE / UFFDIO_CONTINUE), which makes it
 * visible whole and wakes the sleepers in one step: nobody ever sees half
 * a page.
 *
 * Races: a fault may be read after its page was placed (placement wakes
 * the sleeper, the message stays queued).  The fault thread therefore
 * records the fault first and checks the received bitmap second, while a
 * placer marks the bitmap first and resolves recorded faults second:
 * whichever comes last sees the other, and resolving twice is harmless.
 *
 * Threads: commands and placement on the incoming thread, placement on
 * the preempt thread, faults on mig/fault, minor mode's background pass
 * on mig/map; query-migrate on the main thread reads the statistics
 * (locked inside PostcopyStats) and the atomics.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include "migration/context.h"
#include "migration/state.h"
#include "migration/incoming/postcopy-stats.h"
#include "migration/incoming/postcopy-dst.h"
#include "migration/incoming/postcopy-minor.h"
#include "migration/ram/ram.h"
#include "migration/format/return-path.h"
#include "migration/format/savevm.h"
#include "migration/ram/userfaultfd.h"
#include "util/error.h"
#include "migration/log.h"
#include "util/thread.h"

#define FAULT_BATCH 64
/*
 * Pages asked for per fault: the faulting one and those after it that are
 * not here yet.  A guest that walks its memory (the test guest's rounds
 * touch 64 pages in a row, and so does a memcpy) then waits one round trip
 * for a run instead of one per page; every page goes once anyway, so this
 * only orders what is left to send.  256 KiB behind a request of another
 * vCPU is ~0.2 ms here.
 */
#define PREFETCH_PAGES 64
/* How often the background pass, waiting for faults to be resolved,
 * looks whether it should stop. */
#define MAP_WAIT_US 10000

struct PostcopyDst {
    int uffd;
    int quit_fd;                /* eventfd: stops the fault thread */
    GThread *fault_thread;
    GThread *map_thread;        /* minor mode, from RUN: the background pass */
    int map_quit;               /* atomic: stops it */
    QEMUFile *rp;               /* atomic; NULL once the path broke */
    MigRAMBlock *blocks;
    unsigned nr_blocks;
    bool advised;               /* incoming thread: ADVISE seen */
    int placing;                /* atomic */
    PostcopyStats *stats;
    int64_t start_ns;
    int64_t run_ack_ns, run_ns; /* RUN_ACK sent, RUN received */
    char last_requested[256];   /* fault thread: REQ_PAGES needs no id */
    PostcopyMinor *minor;       /* NULL: missing-fault mode */
    int staged;                 /* atomic: 0 no block list yet, 1 minor
                                 * mode chosen, -1 not or over */
    int kernel_minor;           /* atomic: 0 not probed, 1 yes, -1 no */
    int listen_mode;            /* atomic: 0 before LISTEN, 1 minor, -1 not */
    uint64_t local_faults;      /* atomic: answered from pages here */
};

static void stop_faults(PostcopyDst *pc);

PostcopyDst *postcopy_dst_new(void)
{
    PostcopyDst *pc = g_new0(PostcopyDst, 1);

    pc->uffd = pc->quit_fd = -1;
    return pc;
}

void postcopy_dst_free(PostcopyDst *pc)
{
    stop_faults(pc);
    postcopy_minor_free(pc->minor);
    g_free(pc->blocks);
    g_clear_pointer(&pc->stats, postcopy_stats_free);
    g_free(pc);
}

static int64_t now_ns(void)
{
    return g_get_monotonic_time() * 1000;
}

static uint64_t be64_at(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

bool postcopy_dst_advise(FerryMig *m, const uint8_t *data, uint16_t len,
                         GError **errp)
{
    if (!migrate_capability(m, MIGRATION_CAPABILITY_POSTCOPY_RAM)) {
        error_setg(errp, "postcopy: the source uses postcopy-ram, but the "
                   "capability is off here (set it on both sides)");
        return false;
    }
    if (len != 16) {
        error_setg(errp, "postcopy: ADVISE of %u bytes (expected 16)", len);
        return false;
    }
    if (be64_at(data) != MIG_PAGE_SIZE || be64_at(data + 8) != MIG_PAGE_SIZE) {
        error_setg(errp, "postcopy: the source's page sizes (%" G_GUINT64_FORMAT
                   "/%" G_GUINT64_FORMAT ") differ from ours (%llu)",
                   be64_at(data), be64_at(data + 8), MIG_PAGE_SIZE);
        return false;
    }
    m->postcopy_dst->advised = true;
    return true;
}

/* Does the kernel offer minor faults on shared memory?  Asked once. */
static bool kernel_has_minor(PostcopyDst *pc)
{
    int known = __atomic_load_n(&pc->kernel_minor, __ATOMIC_ACQUIRE);

    if (!known) {
        known = uffd_minor_supported() ? 1 : -1;
        __atomic_store_n(&pc->kernel_minor, known, __ATOMIC_RELEASE);
    }
    return known > 0;
}

void postcopy_dst_ram_ready(FerryMig *m)
{
    PostcopyDst *pc = m->postcopy_dst;

    g_clear_pointer(&pc->minor, postcopy_minor_free);
    if (postcopy_minor_wanted(m) && kernel_has_minor(pc)) {
        pc->minor = postcopy_minor_new(m);
    }
    __atomic_store_n(&pc->staged, pc->minor ? 1 : -1, __ATOMIC_RELEASE);
}

uint8_t *postcopy_dst_staging(FerryMig *m, unsigned block)
{
    PostcopyDst *pc = m->postcopy_dst;

    return pc->minor ? postcopy_minor_staging(pc->minor, block) : NULL;
}

bool ferry_mig_incoming_staged(FerryMig *m)
{
    PostcopyDst *pc = m->postcopy_dst;
    int staged = __atomic_load_n(&pc->staged, __ATOMIC_ACQUIRE);

    if (staged) {
        return staged > 0;
    }
    return postcopy_minor_wanted(m) && kernel_has_minor(pc);
}

/* Frees the pages: a later touch faults (after LISTEN) or reads zeros. */
static bool drop_range(const MigRAMBlock *blk, uint64_t offset, uint64_t len,
                       GError **errp)
{
    int ret = blk->fd >= 0 ?
        fallocate(blk->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  (off_t)offset, (off_t)len) :
        madvise(blk->host + offset, len, MADV_DONTNEED);

    if (ret < 0) {
        error_setg_errno(errp, errno, "postcopy: cannot drop %" G_GUINT64_FORMAT
                         " bytes at 0x%" G_GINT64_MODIFIER "x of '%s'", len,
                         offset, blk->name);
        return false;
    }
    return true;
}

/* The header of a RAM_DISCARD: version, name, NUL; false if malformed. */
static bool parse_discard_header(const uint8_t *data, uint16_t len,
                                 char name[256], GError **errp)
{
    if (len < 3) {
        error_setg(errp, "postcopy: RAM_DISCARD of %u bytes is too short",
                   len);
        return false;
    }
    if (data[0] != POSTCOPY_RAM_DISCARD_VERSION) {
        error_setg(errp, "postcopy: RAM_DISCARD version %u (expected %u)",
                   data[0], POSTCOPY_RAM_DISCARD_VERSION);
        return false;
    }
    uint8_t n = data[1];
    if (len < 3 + n || data[2 + n] != 0 || memchr(data + 2, 0, n)) {
        error_setg(errp, "postcopy: RAM_DISCARD block name of %u bytes is "
                   "cut short or not NUL-terminated", n);
        return false;
    }
    if ((len - 3 - n) % 16) {
        error_setg(errp, "postcopy: RAM_DISCARD ranges of %u bytes are not "
                   "pairs of be64", len - 3 - n);
        return false;
    }
    memcpy(name, data + 2, n);
    name[n] = '\0';
    return true;
}

bool postcopy_dst_discard(FerryMig *m, const uint8_t *data, uint16_t len,
                          GError **errp)
{
    PostcopyDst *pc = m->postcopy_dst;
    char name[256];

    if (!pc->advised || postcopy_dst_placing(m)) {
        error_setg(errp, "postcopy: RAM_DISCARD %s", pc->advised ?
                   "after LISTEN" : "without POSTCOPY_ADVISE");
        return false;
    }
    if (!parse_discard_header(data, len, name, errp)) {
        return false;
    }
    unsigned index = ram_recv_block_index(m, name);
    if (index == UINT_MAX) {
        error_setg(errp, "postcopy: RAM_DISCARD of unknown block '%s'", name);
        return false;
    }
    if (!ram_recv_ready(m)) {
        error_setg(errp, "postcopy: RAM_DISCARD before the RAM block list");
        return false;
    }
    MigRAMBlock blk;
    m->vmm.ram_block_get(m->opaque, index, &blk);
    for (const uint8_t *p = data + 3 + data[1]; p < data + len; p += 16) {
        uint64_t start = be64_at(p), size = be64_at(p + 8);
        if ((start | size) & (MIG_PAGE_SIZE - 1) || !size) {
            error_setg(errp, "postcopy: RAM_DISCARD range 0x%" G_GINT64_MODIFIER
                       "x+0x%" G_GINT64_MODIFIER "x of '%s' is empty or not "
                       "page aligned", start, size, name);
            return false;
        }
        if (start >= blk.size || size > blk.size - start) {
            error_setg(errp, "postcopy: RAM_DISCARD range 0x%" G_GINT64_MODIFIER
                       "x+0x%" G_GINT64_MODIFIER "x is outside '%s'", start,
                       size, name);
            return false;
        }
        ram_recv_clear(m, index, start >> MIG_PAGE_SHIFT,
                       size >> MIG_PAGE_SHIFT);
        /* Minor mode: the stale page stays, unmapped, until it comes
         * again; the received bit was all there was to change. */
        if (!pc->minor && !drop_range(&blk, start, size, errp)) {
            return false;
        }
    }
    return true;
}

/* --- faults -------------------------------------------------------------- */

static bool find_page(PostcopyDst *pc, uint64_t addr, unsigned *block,
                      uint64_t *offset)
{
    for (unsigned i = 0; i < pc->nr_blocks; i++) {
        const MigRAMBlock *b = &pc->blocks[i];
        if (addr >= (uint64_t)(uintptr_t)b->host &&
            addr < (uint64_t)(uintptr_t)b->host + b->size) {
            *block = i;
            *offset = addr - (uint64_t)(uintptr_t)b->host;
            return true;
        }
    }
    return false;
}

static uint64_t page_key(unsigned block, uint64_t offset)
{
    return (uint64_t)block << 48 | offset >> MIG_PAGE_SHIFT;
}

/* REQ_PAGES(_ID) for @pages pages from @offset of @block. */
static void request_pages(PostcopyDst *pc, unsigned block, uint64_t offset,
                          uint32_t pages)
{
    QEMUFile *rp = __atomic_load_n(&pc->rp, __ATOMIC_ACQUIRE);
    const char *name = pc->blocks[block].name;
    uint32_t len = pages << MIG_PAGE_SHIFT;
    uint8_t msg[13 + 255];
    size_t n = strlen(name);

    if (!rp) {
        return;     /* paused: the request goes again after recovery */
    }
    for (int i = 0; i < 8; i++) {
        msg[i] = (uint8_t)(offset >> (56 - 8 * i));
    }
    for (int i = 0; i < 4; i++) {
        msg[8 + i] = (uint8_t)(len >> (24 - 8 * i));
    }
    if (strcmp(pc->last_requested, name)) {
        msg[12] = (uint8_t)n;
        memcpy(msg + 13, name, n);
        g_strlcpy(pc->last_requested, name, sizeof(pc->last_requested));
        rp_send(rp, MIG_RP_MSG_REQ_PAGES_ID, (uint16_t)(13 + n), msg);
    } else {
        rp_send(rp, MIG_RP_MSG_REQ_PAGES, 12, msg);
    }
}

static void request_page(PostcopyDst *pc, unsigned block, uint64_t offset)
{
    request_pages(pc, block, offset, 1);
}

/* How many pages from @page on (at most PREFETCH_PAGES) are not here. */
static uint32_t missing_run(FerryMig *m, unsigned block, uint64_t page)
{
    uint64_t end = MIN(page + PREFETCH_PAGES,
                       m->postcopy_dst->blocks[block].size >> MIG_PAGE_SHIFT);
    uint64_t p = page + 1;

    while (p < end && !ram_recv_test(m, block, p)) {
        p++;
    }
    return (uint32_t)(p - page);
}

/* A page that is here: missing mode placed it already, so the faulting
 * thread only needs waking; minor mode maps it into the guest first. */
static void resolve_here(PostcopyDst *pc, unsigned block, uint64_t offset)
{
    uint8_t *host = pc->blocks[block].host + offset;
    int ret = pc->minor ? postcopy_minor_map(pc->uffd, host)
                        : uffd_wake(pc->uffd, host, MIG_PAGE_SIZE);

    if (ret < 0) {
        mig_log("postcopy: resolving the fault at 0x%" G_GINT64_MODIFIER
                "x of '%s' failed: %s", offset, pc->blocks[block].name,
                g_strerror(-ret));
    }
}

static void handle_fault(FerryMig *m, const UffdFault *flt)
{
    PostcopyDst *pc = m->postcopy_dst;
    unsigned block;
    uint64_t offset;

    if (!find_page(pc, flt->addr, &block, &offset)) {
        mig_log("postcopy: fault at 0x%" G_GINT64_MODIFIER "x outside guest "
                "RAM", flt->addr);
        return;
    }
    /* Minor mode: a page received before the switchover that the
     * background pass has not mapped yet; no wait for the network, so
     * not a latency sample. */
    if (pc->minor && ram_recv_test(m, block, offset >> MIG_PAGE_SHIFT)) {
        __atomic_fetch_add(&pc->local_faults, 1, __ATOMIC_RELAXED);
        resolve_here(pc, block, offset);
        return;
    }
    int vcpu = m->vmm.vcpu_index_of_thread ?
               m->vmm.vcpu_index_of_thread(m->opaque, flt->tid) : -1;
    uint64_t key = page_key(block, offset);
    bool first = postcopy_stats_fault(pc->stats, key, vcpu, now_ns());
    if (ram_recv_test(m, block, offset >> MIG_PAGE_SHIFT)) {
        postcopy_stats_placed(pc->stats, key, now_ns());
        resolve_here(pc, block, offset);
        return;
    }
    if (first) {
        request_pages(pc, block, offset,
                      missing_run(m, block, offset >> MIG_PAGE_SHIFT));
    }
}

/* Every fault queued now; false if the descriptor failed. */
static bool handle_faults(FerryMig *m)
{
    PostcopyDst *pc = m->postcopy_dst;
    UffdFault faults[FAULT_BATCH];
    int n = uffd_read_faults(pc->uffd, faults, FAULT_BATCH);

    if (n < 0) {
        mig_log("postcopy: reading faults failed: %s", g_strerror(-n));
        return false;
    }
    for (int i = 0; i < n; i++) {
        handle_fault(m, &faults[i]);
    }
    return true;
}

/*
 * Only faults: a vCPU that faults must not wait for this thread to finish
 * other work, and the latency priority it runs at must not let other work
 * crowd out the threads that bring the pages in.
 */
static gpointer fault_thread(gpointer opaque)
{
    FerryMig *m = opaque;
    PostcopyDst *pc = m->postcopy_dst;
    struct pollfd fds[2] = {
        { .fd = pc->uffd, .events = POLLIN },
        { .fd = pc->quit_fd, .events = POLLIN },
    };

    /* With preempt every thread a faulting vCPU waits on is realtime;
     * without it the pages come on the main stream, whose normal-priority
     * threads a realtime fault thread would take cores from. */
    if (migrate_capability(m, MIGRATION_CAPABILITY_POSTCOPY_PREEMPT)) {
        thread_prefer_realtime();
    } else {
        thread_prefer_latency();
    }

    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            mig_log("postcopy: fault thread: poll: %s", g_strerror(errno));
            return NULL;
        }
        if (fds[1].revents) {
            return NULL;
        }
        if ((fds[0].revents & POLLIN) && !handle_faults(m)) {
            return NULL;
        }
    }
}

/*
 * Minor mode's background pass, from RUN on (not LISTEN: until then the
 * CPU is the switchover's): maps the pages received before the switchover
 * a chunk at a time, so the guest need not fault on each.  At normal
 * priority, next to the vCPUs: on the fault thread it kept a core for
 * ~150 ms of a 4 GiB guest, at the latency priority the fault thread
 * needs, and the thread placing requested pages waited for the other one.
 *
 * It waits while a fault waits for its page: with the pass mapping,
 * a requested page took 1-3 ms longer from the source's socket to the
 * placing thread (docs/performance.md, "The postcopy fault tail").  At
 * nice 19 the pass made that worse, not better, so it is not the CPU it
 * takes but something in the kernel it holds.
 */
static gpointer map_thread(gpointer opaque)
{
    FerryMig *m = opaque;
    PostcopyDst *pc = m->postcopy_dst;
    int64_t t0 = now_ns();

    while (!__atomic_load_n(&pc->map_quit, __ATOMIC_ACQUIRE)) {
        if (!postcopy_stats_wait_idle(pc->stats, MAP_WAIT_US)) {
            continue;   /* a paused postcopy waits here */
        }
        if (!postcopy_minor_populate_step(pc->minor, pc->uffd, pc->blocks)) {
            break;
        }
    }
    mig_log("postcopy: background mapping ended after %" G_GINT64_FORMAT
            " ms", (now_ns() - t0) / 1000000);
    return NULL;
}

/* --- LISTEN, placement, end ---------------------------------------------- */

typedef struct DropCtx {
    const MigRAMBlock *blk;
    GError **errp;
    bool ok;
} DropCtx;

static void drop_missing(uint64_t first, uint64_t count, void *opaque)
{
    DropCtx *c = opaque;

    if (c->ok) {
        c->ok = drop_range(c->blk, first << MIG_PAGE_SHIFT,
                           count << MIG_PAGE_SHIFT, c->errp);
    }
}

static bool register_ram(FerryMig *m, GError **errp)
{
    PostcopyDst *pc = m->postcopy_dst;

    pc->nr_blocks = m->vmm.ram_block_count(m->opaque);
    g_free(pc->blocks);
    pc->blocks = g_new0(MigRAMBlock, pc->nr_blocks);
    for (unsigned i = 0; i < pc->nr_blocks; i++) {
        m->vmm.ram_block_get(m->opaque, i, &pc->blocks[i]);
    }
    if (pc->minor) {
        return postcopy_minor_listen(m, pc->minor, pc->uffd, pc->blocks,
                                     errp);
    }
    for (unsigned i = 0; i < pc->nr_blocks; i++) {
        DropCtx c = { &pc->blocks[i], errp, true };
        ram_recv_foreach_missing(m, i, drop_missing, &c);
        if (!c.ok || !uffd_register_missing(pc->uffd, pc->blocks[i].host,
                                            pc->blocks[i].size, errp)) {
            return false;
        }
    }
    return true;
}

bool postcopy_dst_listen(FerryMig *m, QEMUFile *rp, GError **errp)
{
    PostcopyDst *pc = m->postcopy_dst;

    if (!rp) {
        error_setg(errp, "postcopy: LISTEN without a return path");
        return false;
    }
    if (m->vmm.incoming_postcopy_listen &&
        !m->vmm.incoming_postcopy_listen(m->opaque, errp)) {
        return false;
    }
    int64_t t0 = now_ns();
    pc->uffd = pc->minor ? uffd_open_minor(errp) : uffd_open(errp);
    if (pc->uffd < 0 || !register_ram(m, errp)) {
        g_prefix_error(errp, "postcopy: ");
        return false;
    }
    __atomic_store_n(&pc->listen_mode, pc->minor ? 1 : -1, __ATOMIC_RELEASE);
    mig_log("postcopy: listening after %" G_GINT64_FORMAT " us, %s",
            (now_ns() - t0) / 1000, pc->minor ?
            "minor faults (nothing freed)" : "missing faults, holes punched");
    pc->quit_fd = eventfd(0, EFD_CLOEXEC);
    g_clear_pointer(&pc->stats, postcopy_stats_free);
    pc->stats = postcopy_stats_new(m->vmm.vcpu_count ?
                                   m->vmm.vcpu_count(m->opaque) : 0);
    pc->start_ns = now_ns();
    pc->last_requested[0] = '\0';
    __atomic_store_n(&pc->rp, rp, __ATOMIC_RELEASE);
    __atomic_store_n(&pc->placing, 1, __ATOMIC_RELEASE);
    pc->fault_thread = g_thread_new("mig/fault", fault_thread, m);
    return true;
}

/* Resolves the faults recorded on a page that just became visible. */
static void note_placed(PostcopyDst *pc, unsigned block, uint64_t offset)
{
    uint64_t key = page_key(block, offset);

    if (postcopy_stats_outstanding(pc->stats, key)) {
        postcopy_stats_placed(pc->stats, key, now_ns());
    }
}

bool postcopy_dst_placing(FerryMig *m)
{
    return __atomic_load_n(&m->postcopy_dst->placing, __ATOMIC_ACQUIRE);
}

bool postcopy_dst_place(FerryMig *m, unsigned block, uint64_t offset,
                        const uint8_t *page, GError **errp)
{
    PostcopyDst *pc = m->postcopy_dst;
    uint8_t *host = pc->blocks[block].host + offset;
    int ret = page ? uffd_copy(pc->uffd, host, page, MIG_PAGE_SIZE, false)
                   : uffd_zeropage(pc->uffd, host, MIG_PAGE_SIZE, false);

    if (ret < 0 && ret != -EEXIST) {
        error_setg(errp, "postcopy: placing page 0x%" G_GINT64_MODIFIER "x of "
                   "'%s' failed: %s", offset, pc->blocks[block].name,
                   g_strerror(-ret));
        return false;
    }
    ram_recv_mark(m, block, offset >> MIG_PAGE_SHIFT);
    note_placed(pc, block, offset);
    return true;
}

bool postcopy_dst_minor(FerryMig *m)
{
    return m->postcopy_dst->minor != NULL;
}

uint8_t *postcopy_dst_claim(FerryMig *m, unsigned block, uint64_t offset)
{
    PostcopyDst *pc = m->postcopy_dst;
    uint64_t page = offset >> MIG_PAGE_SHIFT;

    if (ram_recv_test(m, block, page) ||
        !postcopy_minor_claim(pc->minor, block, page)) {
        return NULL;
    }
    return postcopy_minor_staging(pc->minor, block) + offset;
}

void postcopy_dst_unclaim(FerryMig *m, unsigned block, uint64_t offset)
{
    postcopy_minor_unclaim(m->postcopy_dst->minor, block,
                           offset >> MIG_PAGE_SHIFT);
}

bool postcopy_dst_publish(FerryMig *m, unsigned block, uint64_t offset,
                          GError **errp)
{
    PostcopyDst *pc = m->postcopy_dst;
    /* The bit first: a fault read from now on maps the page itself. */
    ram_recv_mark(m, block, offset >> MIG_PAGE_SHIFT);
    int ret = postcopy_minor_map(pc->uffd, pc->blocks[block].host + offset);

    if (ret < 0) {
        error_setg(errp, "postcopy: mapping page 0x%" G_GINT64_MODIFIER "x of "
                   "'%s' failed: %s", offset, pc->blocks[block].name,
                   g_strerror(-ret));
        return false;
    }
    note_placed(pc, block, offset);
    return true;
}

void postcopy_dst_note_run_ack(FerryMig *m)
{
    __atomic_store_n(&m->postcopy_dst->run_ack_ns, now_ns(), __ATOMIC_RELEASE);
}

void postcopy_dst_note_run(FerryMig *m)
{
    PostcopyDst *pc = m->postcopy_dst;

    __atomic_store_n(&pc->run_ns, now_ns(), __ATOMIC_RELEASE);
    if (pc->minor && pc->uffd >= 0 && !pc->map_thread) {
        pc->map_thread = g_thread_new("mig/map", map_thread, m);
    }
}

void postcopy_dst_detach_rp(FerryMig *m)
{
    __atomic_store_n(&m->postcopy_dst->rp, NULL, __ATOMIC_RELEASE);
}

static void request_again(uint64_t key, void *opaque)
{
    FerryMig *m = opaque;
    PostcopyDst *pc = m->postcopy_dst;
    unsigned block = (unsigned)(key >> 48);
    uint64_t page = key & ((1ULL << 48) - 1);

    if (block < pc->nr_blocks && !ram_recv_test(m, block, page)) {
        request_page(pc, block, page << MIG_PAGE_SHIFT);
    }
}

void postcopy_dst_resume(FerryMig *m, QEMUFile *rp)
{
    PostcopyDst *pc = m->postcopy_dst;

    pc->last_requested[0] = '\0';   /* the first request names its block */
    __atomic_store_n(&pc->rp, rp, __ATOMIC_RELEASE);
    postcopy_stats_foreach_outstanding(pc->stats, request_again, m);
}

bool postcopy_dst_send_recv_bitmap(FerryMig *m, QEMUFile *rp,
                                   const uint8_t *data, uint16_t len,
                                   GError **errp)
{
    char name[256];

    if (len < 1 || len != 1 + data[0] || memchr(data + 1, 0, data[0])) {
        error_setg(errp, "postcopy: malformed RECV_BITMAP command (%u bytes)",
                   len);
        return false;
    }
    memcpy(name, data + 1, data[0]);
    name[data[0]] = '\0';
    unsigned index = ram_recv_block_index(m, name);
    if (index == UINT_MAX || !ram_recv_ready(m)) {
        error_setg(errp, "postcopy: RECV_BITMAP of unknown block '%s'", name);
        return false;
    }
    MigRAMBlock blk;
    m->vmm.ram_block_get(m->opaque, index, &blk);
    rp_send_recv_bitmap(rp, name, ram_recv_bitmap(m, index),
                        blk.size >> MIG_PAGE_SHIFT);
    return true;
}

static void count_missing(uint64_t first, uint64_t count, void *opaque)
{
    *(uint64_t *)opaque += count;
}

/* Stops the fault thread and unregisters guest RAM (idempotent). */
static void stop_faults(PostcopyDst *pc)
{
    if (pc->fault_thread) {
        (void)!eventfd_write(pc->quit_fd, 1);
        g_thread_join(pc->fault_thread);
        pc->fault_thread = NULL;
    }
    if (pc->map_thread) {
        __atomic_store_n(&pc->map_quit, 1, __ATOMIC_RELEASE);
        g_thread_join(pc->map_thread);
        pc->map_thread = NULL;
        pc->map_quit = 0;
    }
    for (unsigned i = 0; pc->uffd >= 0 && i < pc->nr_blocks; i++) {
        uffd_unregister(pc->uffd, pc->blocks[i].host, pc->blocks[i].size, NULL);
    }
    __atomic_store_n(&pc->placing, 0, __ATOMIC_RELEASE);
    if (pc->uffd >= 0) {
        close(pc->uffd);
    }
    if (pc->quit_fd >= 0) {
        close(pc->quit_fd);
    }
    pc->uffd = pc->quit_fd = -1;
    __atomic_store_n(&pc->rp, NULL, __ATOMIC_RELEASE);
}

void postcopy_dst_release_staging(FerryMig *m, bool precopy_completed)
{
    PostcopyDst *pc = m->postcopy_dst;

    if (!pc->minor) {
        /* Never written (the other mode ran): nothing to wait for, but
         * the VMM need not keep it either. */
        for (unsigned i = 0; m->vmm.ram_block_staging_done &&
                             i < m->vmm.ram_block_count(m->opaque); i++) {
            m->vmm.ram_block_staging_done(m->opaque, i);
        }
        return;
    }
    /* A pre-fault asking from now on must not pick the staging view. */
    __atomic_store_n(&pc->staged, -1, __ATOMIC_RELEASE);
    postcopy_minor_finish(m, pc->minor, precopy_completed);
}

void postcopy_dst_shutdown(FerryMig *m)
{
    stop_faults(m->postcopy_dst);
}

bool postcopy_dst_finish(FerryMig *m, GError **errp)
{
    PostcopyDst *pc = m->postcopy_dst;
    uint64_t missing = 0;

    for (unsigned i = 0; i < pc->nr_blocks; i++) {
        ram_recv_foreach_missing(m, i, count_missing, &missing);
    }
    if (missing) {
        error_setg(errp, "postcopy: the stream ended with %" G_GUINT64_FORMAT
                   " pages never received", missing);
        return false;
    }
    stop_faults(pc);
    return true;
}

static uint64List *u64_list(const uint64_t *v, unsigned n)
{
    uint64List *head = NULL;

    for (unsigned i = n; i-- > 0;) {
        uint64List *l = g_new0(uint64List, 1);
        l->value = v[i];
        l->next = head;
        head = l;
    }
    return head;
}

void postcopy_dst_fill_info(FerryMig *m, MigrationInfo *info)
{
    PostcopyDst *pc = m->postcopy_dst;
    PostcopyStatsReport r;
    int64_t acked = __atomic_load_n(&pc->run_ack_ns, __ATOMIC_ACQUIRE);
    int64_t ran = __atomic_load_n(&pc->run_ns, __ATOMIC_ACQUIRE);

    int mode = __atomic_load_n(&pc->listen_mode, __ATOMIC_ACQUIRE);

    if (acked && ran >= acked) {
        info->has_x_postcopy_run_wait = true;
        info->x_postcopy_run_wait = (uint64_t)(ran - acked) / 1000;
    }
    if (mode) {
        info->has_x_postcopy_minor_faults = true;
        info->x_postcopy_minor_faults = mode > 0;
        info->has_x_postcopy_local_faults = mode > 0;
        info->x_postcopy_local_faults =
            __atomic_load_n(&pc->local_faults, __ATOMIC_RELAXED);
    }
    if (!pc->stats ||
        !migrate_capability(m, MIGRATION_CAPABILITY_POSTCOPY_BLOCKTIME)) {
        return;
    }
    postcopy_stats_report(pc->stats, now_ns(), &r);
    info->has_postcopy_blocktime = true;
    info->postcopy_blocktime = (uint32_t)MIN(r.blocktime_ms, UINT32_MAX);
    for (unsigned i = r.nr_vcpus; i-- > 0;) {
        uint32List *l = g_new0(uint32List, 1);
        l->value = (uint32_t)MIN(r.vcpu_blocktime_ms[i], UINT32_MAX);
        l->next = info->postcopy_vcpu_blocktime;
        info->postcopy_vcpu_blocktime = l;
    }
    info->has_postcopy_latency = true;
    info->postcopy_latency = r.latency_ns;
    info->postcopy_latency_dist = u64_list(r.latency_dist,
                                           POSTCOPY_LATENCY_BUCKETS);
    info->postcopy_vcpu_latency = u64_list(r.vcpu_latency_ns, r.nr_vcpus);
    info->has_postcopy_non_vcpu_latency = true;
    info->postcopy_non_vcpu_latency = r.non_vcpu_latency_ns;
    info->has_postcopy_requests = true;
    info->postcopy_requests = r.requests;
    info->x_postcopy_latency_percentiles = g_new0(PostcopyLatencyPercentiles, 1);
    info->x_postcopy_latency_percentiles->p50 = r.p50_us;
    info->x_postcopy_latency_percentiles->p99 = r.p99_us;
    info->x_postcopy_latency_percentiles->max = r.max_us;
    postcopy_stats_report_clear(&r);
}
