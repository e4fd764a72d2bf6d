/*
 * Ring 3: the disk workload and its pvblk driver (see guest/disk.h and
 * guest/pvblk-dev.h).
 *
 * A generation table (one u32 per sector under test) says what is on the
 * disk: it changes only when a write *completed*, so a completion lost in a
 * migration, a write that never reached the image, or an old one replayed
 * shows up as a sector whose contents are not its table's generation.
 * Writes sweep the disk with a write cursor (every sweep is one generation
 * higher); reads sweep it with a verify cursor, half a disk ahead at
 * first, and check each sector against the table.  No request is posted over a range a write in flight
 * covers (nor a write over a read in flight): the result would be either
 * generation and the check would be meaningless.
 *
 * Up to DISK_SLOTS requests of 4-32 KiB are in flight, each with its own
 * buffer, so a migration's switchover finds I/O in flight.  The doorbell
 * for a batch is rung at the start of the next tick, one RAM round later:
 * a vCPU stop can then also land between "posted" and "rung", the other
 * case the device's migration must get right.
 *
 * All of it (struct disk, ring, buffers, table) lives in RAM taken above
 * the kernel at setup, not in .bss, so a guest without disk-rate= keeps
 * exactly its old layout; it is guest RAM, so it moves with the VM.
 */
#include "guest/disk.h"
#include "guest/disk-pattern.h"
#include "guest/kernel.h"
#include "guest/pvblk-dev.h"

#define DISK_RING_SIZE   64u
#define DISK_SLOTS       16u
#define DISK_BUF_BYTES   (32u << 10)
#define DISK_MIN_SECTORS 8u                 /* 4 KiB */
#define DISK_BUF_SECTORS (DISK_BUF_BYTES / DP_SECTOR_SIZE)
#define DISK_MAX_TESTED  (512u << 10)       /* sectors: the first 256 MiB */
#define DISK_FLUSH_EVERY 64u                /* writes between two flushes */
#define DISK_CREDIT_CAP  (4ull << 20)
#define GEN_UNKNOWN      0xffffffffu        /* skip until rewritten */
#define PAGE             4096ull
#define PROBE_TIMEOUT_MS 10000ull

enum slot_op { SLOT_FREE, SLOT_READ, SLOT_WRITE, SLOT_FLUSH };

struct disk_slot {
    uint32_t op;
    uint32_t nsectors;
    uint64_t sector;
    uint64_t *buf;
};

struct disk {
    uint64_t mmio;
    struct pvblk_ring_hdr *hdr;
    struct pvblk_req *req;
    struct pvblk_used *used;
    uint32_t avail;             /* our copy of hdr->avail_idx */
    uint32_t used_seen;         /* completions consumed */
    uint32_t unrung;            /* posted since the last doorbell */
    uint32_t inflight;
    uint32_t *gen;              /* the table: what each sector holds */
    uint64_t nsectors;          /* sectors under test */
    uint64_t capacity;
    int read_only;
    uint32_t write_gen;         /* generation of the current write sweep */
    uint32_t writes_since_flush;
    uint64_t write_cursor, verify_cursor;
    uint64_t rate, last_ns, credit;
    uint64_t rng;
    uint64_t errors;
    int next_is_write;
    disk_log_fn log;
    void *log_opaque;
    struct disk_slot slot[DISK_SLOTS];
};

static struct disk *dk;

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

static void dlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void dlog(const char *fmt, ...)
{
    char line[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    dk->log(dk->log_opaque, line);
}

static uint64_t reg_read(unsigned reg)
{
    return mmio_read64(dk->mmio + reg);
}

static void reg_write(unsigned reg, uint64_t v)
{
    mmio_write64(dk->mmio + reg, v);
}

/* The RAM range holding @gpa, or 0. */
static const struct wl_range *ram_at(const struct wl_range *ram,
                                     unsigned nr_ram, uint64_t gpa)
{
    for (unsigned i = 0; i < nr_ram; i++) {
        if (gpa >= ram[i].gpa && gpa - ram[i].gpa < ram[i].npages * PAGE) {
            return &ram[i];
        }
    }
    return 0;
}

/* Bytes for: struct disk, ring, buffers, table (each page aligned). */
static uint64_t area_bytes(uint64_t nsectors)
{
    return align_up(sizeof(struct disk), PAGE) +
           align_up(PVBLK_RING_BYTES(DISK_RING_SIZE), PAGE) +
           (uint64_t)DISK_SLOTS * DISK_BUF_BYTES +
           align_up(nsectors * sizeof(uint32_t), PAGE);
}

static void carve(uint8_t *p, uint64_t nsectors)
{
    dk = (struct disk *)p;
    memset(dk, 0, sizeof(*dk));
    p += align_up(sizeof(struct disk), PAGE);
    dk->hdr = (struct pvblk_ring_hdr *)p;
    dk->req = (struct pvblk_req *)(p + PVBLK_REQ_OFF(0));
    dk->used = (struct pvblk_used *)(p + PVBLK_USED_OFF(DISK_RING_SIZE, 0));
    memset(p, 0, PVBLK_RING_BYTES(DISK_RING_SIZE));
    p += align_up(PVBLK_RING_BYTES(DISK_RING_SIZE), PAGE);
    for (unsigned i = 0; i < DISK_SLOTS; i++) {
        dk->slot[i].buf = (uint64_t *)p;
        p += DISK_BUF_BYTES;
    }
    dk->gen = (uint32_t *)p;
    memset(dk->gen, 0, nsectors * sizeof(uint32_t));    /* formatted */
    dk->nsectors = nsectors;
}

/* Hands the ring to the device; false if it refused it. */
static bool start_ring(void)
{
    reg_write(PVBLK_REG_RING_SIZE, DISK_RING_SIZE);
    reg_write(PVBLK_REG_RING_GPA, (uint64_t)dk->hdr);
    return reg_read(PVBLK_REG_RING_GPA) == (uint64_t)dk->hdr;
}

static void post(int id, uint32_t op, uint32_t type, uint64_t sector,
                 uint32_t n);

/* Waits for the first completion of the ring; false after the timeout. */
static bool wait_first_used(void)
{
    uint64_t start = rdtsc(), limit = platform.tsc_khz * PROBE_TIMEOUT_MS;

    while (__atomic_load_n(&dk->hdr->used_idx, __ATOMIC_ACQUIRE) == 0) {
        if (platform.tsc_khz && rdtsc() - start > limit) {
            return false;
        }
        cpu_relax();
    }
    return true;
}

/*
 * The generation table starts with every sector at generation 0, as
 * `ferry-img create` formats a disk, and the first reads check exactly
 * that.  So before anything is written, sector 0 is read: a blank image
 * (all zeros), one an earlier run wrote, or someone else's data would
 * otherwise read as corrupt sector after sector.  Such a disk is refused
 * in one line instead, and the disk workload stays off; a zero-filled
 * sector of a formatted disk still counts as corrupt, as a lost write or
 * a missing page must.
 */
static bool disk_formatted(void)
{
    uint32_t gen = 0, status;

    post(0, SLOT_READ, PVBLK_T_READ, 0, 1);
    reg_write(PVBLK_REG_DOORBELL, 1);
    if (!wait_first_used()) {
        dlog("disk: sector 0 was not read within %lu s, disk workload off",
             (uint64_t)(PROBE_TIMEOUT_MS / 1000));
        return false;
    }
    status = dk->used[0].status;
    dk->slot[0].op = SLOT_FREE;
    dk->inflight = dk->unrung = 0;
    dk->used_seen = 1;
    if (status != PVBLK_S_OK) {
        dlog("disk: reading sector 0 failed (status %u), disk workload off",
             status);
        return false;
    }
    switch (dp_classify(dk->slot[0].buf, 0, &gen)) {
    case DP_PATTERN:
        if (gen == 0) {
            return true;
        }
        dlog("disk: pvblk 0 holds generation %u of an earlier run, not a "
             "fresh image (make one with ferry-img create); disk workload "
             "off", gen);
        return false;
    case DP_BLANK:
        dlog("disk: pvblk 0 is blank (sector 0 is all zeros), not formatted "
             "(ferry-img create formats an image); disk workload off");
        return false;
    default:
        dlog("disk: pvblk 0 is not a ferry-img image (sector 0 holds other "
             "data); disk workload off");
        return false;
    }
}

bool disk_setup(const char *cmdline, const struct wl_range *ram,
                unsigned nr_ram, uint64_t *reserved_end, disk_log_fn log,
                void *log_opaque, const char **bad)
{
    uint64_t rate = 0, base = align_up(*reserved_end, PAGE);
    uint64_t capacity, nsectors, len;
    const struct wl_range *r = ram_at(ram, nr_ram, base);

    if (!wl_parse_rate_arg(cmdline, "disk-rate=", &rate, bad)) {
        return false;
    }
    if (rate == 0 || !platform.have_device ||
        mmio_read64(PVBLK_DEV_ADDR(0) + PVBLK_REG_ID) != PVBLK_DEV_MAGIC) {
        return true;    /* off: QEMU, no disk, or not asked for */
    }
    capacity = mmio_read64(PVBLK_DEV_ADDR(0) + PVBLK_REG_CAPACITY);
    nsectors = capacity < DISK_MAX_TESTED ? capacity : DISK_MAX_TESTED;
    len = area_bytes(nsectors);
    if (nsectors == 0 || !r || base + len > r->gpa + r->npages * PAGE) {
        log(log_opaque, "disk: no room for the disk workload, it is off");
        return true;
    }
    carve((uint8_t *)base, nsectors);
    dk->mmio = PVBLK_DEV_ADDR(0);
    dk->capacity = capacity;
    dk->read_only = (reg_read(PVBLK_REG_FLAGS) & PVBLK_F_READ_ONLY) != 0;
    dk->rate = rate;
    dk->write_gen = 1;
    /* Reads start half a disk ahead of the writes: the first half-sweep
     * checks the image as formatted, not just what this boot wrote. */
    dk->verify_cursor = nsectors / 2;
    dk->next_is_write = !dk->read_only;
    dk->rng = 0x9E3779B97F4A7C15ull;
    dk->log = log;
    dk->log_opaque = log_opaque;
    if (!start_ring()) {
        dlog("disk: the device refused the ring, disk workload off");
        dk = 0;
        return true;
    }
    if (!disk_formatted()) {
        reg_write(PVBLK_REG_RING_GPA, 0);   /* the device lets go of it */
        dk = 0;
        return true;
    }
    *reserved_end = base + len;
    dlog("disk: pvblk 0, %lu sectors, %lu under test, %s, disk-rate %lu",
         capacity, nsectors, dk->read_only ? "read-only" : "read-write",
         rate);
    return true;
}

bool disk_enabled(void)
{
    return dk != 0;
}

/* --- completions ---------------------------------------------------------- */

static void note_error(struct wl_report *r, const struct disk_slot *s,
                       uint32_t status)
{
    r->disk_io_errors++;
    if (dk->errors++ < 8) {
        dlog("disk: request op %u sector %lu x%u failed, status %u",
             s->op, s->sector, s->nsectors, status);
    }
}

static void reap_read(struct wl_report *r, const struct disk_slot *s)
{
    for (uint32_t i = 0; i < s->nsectors; i++) {
        uint64_t sector = s->sector + i;
        uint32_t gen = dk->gen[sector];

        if (gen == GEN_UNKNOWN) {
            continue;
        }
        r->disk_sectors_verified++;
        if (!dp_sector_ok(s->buf + i * DP_SECTOR_WORDS, sector, gen)) {
            r->corrupt_sectors++;
            r->last_corrupt_sector = sector;
            /* Counted once: not checked again until rewritten. */
            dk->gen[sector] = GEN_UNKNOWN;
        }
    }
}

/* The table follows what the disk holds, so only now does it change. */
static void reap_write(struct wl_report *r, const struct disk_slot *s,
                       uint32_t status)
{
    for (uint32_t i = 0; i < s->nsectors; i++) {
        /* A failed write may have landed in part: unknown contents. */
        dk->gen[s->sector + i] = status == PVBLK_S_OK ?
            (uint32_t)s->buf[i * DP_SECTOR_WORDS + 1] : GEN_UNKNOWN;
    }
    if (status == PVBLK_S_OK) {
        r->disk_sectors_written += s->nsectors;
    }
}

static void reap_one(struct wl_report *r, const struct pvblk_used *u)
{
    struct disk_slot *s;

    if (u->id >= DISK_SLOTS || dk->slot[u->id].op == SLOT_FREE) {
        dlog("disk: completion for unknown request %lu", u->id);
        return;
    }
    s = &dk->slot[u->id];
    if (u->status != PVBLK_S_OK) {
        note_error(r, s, u->status);
    }
    if (s->op == SLOT_READ && u->status == PVBLK_S_OK) {
        reap_read(r, s);
    } else if (s->op == SLOT_WRITE) {
        reap_write(r, s, u->status);
    }
    s->op = SLOT_FREE;
    dk->inflight--;
}

static void reap(struct wl_report *r)
{
    uint32_t used = __atomic_load_n(&dk->hdr->used_idx, __ATOMIC_ACQUIRE);

    while (dk->used_seen != used) {
        reap_one(r, &dk->used[dk->used_seen % DISK_RING_SIZE]);
        dk->used_seen++;
    }
}

/* --- new requests --------------------------------------------------------- */

static uint32_t random_len(void)
{
    dk->rng ^= dk->rng << 13;
    dk->rng ^= dk->rng >> 7;
    dk->rng ^= dk->rng << 17;
    return DISK_MIN_SECTORS +
           (uint32_t)(dk->rng % (DISK_BUF_SECTORS - DISK_MIN_SECTORS + 1));
}

static uint32_t clamp_len(uint64_t cursor, uint32_t n)
{
    return dk->nsectors - cursor < n ? (uint32_t)(dk->nsectors - cursor) : n;
}

/* Does [sector, +n) meet a request in flight that @mask's ops name? */
static bool busy(uint64_t sector, uint32_t n, unsigned mask)
{
    for (unsigned i = 0; i < DISK_SLOTS; i++) {
        const struct disk_slot *s = &dk->slot[i];
        if ((mask & (1u << s->op)) && sector < s->sector + s->nsectors &&
            s->sector < sector + n) {
            return true;
        }
    }
    return false;
}

static int free_slot(void)
{
    for (unsigned i = 0; i < DISK_SLOTS; i++) {
        if (dk->slot[i].op == SLOT_FREE) {
            return (int)i;
        }
    }
    return -1;
}

/* Fills the next ring entry and publishes it; the doorbell comes later. */
static void post(int id, uint32_t op, uint32_t type, uint64_t sector,
                 uint32_t n)
{
    struct disk_slot *s = &dk->slot[id];
    struct pvblk_req *q = &dk->req[dk->avail % DISK_RING_SIZE];

    s->op = op;
    s->sector = sector;
    s->nsectors = n;
    q->type = type;
    q->nsectors = n;
    q->sector = sector;
    q->buf_gpa = (uint64_t)s->buf;      /* identity mapped */
    q->id = (uint64_t)id;
    __atomic_store_n(&dk->hdr->avail_idx, ++dk->avail, __ATOMIC_RELEASE);
    dk->inflight++;
    dk->unrung++;
}

/* Returns the bytes posted, 0 if the range is busy. */
static uint64_t post_write(int id)
{
    uint64_t sector = dk->write_cursor;
    uint32_t n = clamp_len(sector, random_len());

    if (busy(sector, n, (1u << SLOT_READ) | (1u << SLOT_WRITE))) {
        return 0;
    }
    dp_fill(dk->slot[id].buf, sector, n, dk->write_gen);
    post(id, SLOT_WRITE, PVBLK_T_WRITE, sector, n);
    dk->write_cursor += n;
    if (dk->write_cursor == dk->nsectors) {
        dk->write_cursor = 0;
        dk->write_gen++;
    }
    dk->writes_since_flush++;
    dk->next_is_write = 0;
    return (uint64_t)n * DP_SECTOR_SIZE;
}

static uint64_t post_read(int id)
{
    uint64_t sector = dk->verify_cursor;
    uint32_t n = clamp_len(sector, random_len());

    if (busy(sector, n, 1u << SLOT_WRITE)) {
        return 0;
    }
    post(id, SLOT_READ, PVBLK_T_READ, sector, n);
    dk->verify_cursor += n;
    if (dk->verify_cursor == dk->nsectors) {
        dk->verify_cursor = 0;
    }
    dk->next_is_write = !dk->read_only;
    return (uint64_t)n * DP_SECTOR_SIZE;
}

static void update_credit(uint64_t now)
{
    uint64_t dt_us = now > dk->last_ns ? (now - dk->last_ns) / 1000 : 0;

    if (dk->rate == WL_RATE_MAX) {
        dk->credit = DISK_CREDIT_CAP;
        return;
    }
    /* A pause (stop, migration) must not turn into a burst. */
    dk->credit += (dt_us < 100000 ? dt_us : 100000) * dk->rate / 1000000;
    if (dk->credit > DISK_CREDIT_CAP) {
        dk->credit = DISK_CREDIT_CAP;
    }
    dk->last_ns = now;
}

/* Whichever's turn it is, else the other if that one's range is busy. */
static uint64_t post_next(int id)
{
    if (dk->next_is_write) {
        uint64_t bytes = post_write(id);
        return bytes ? bytes : post_read(id);
    }
    uint64_t bytes = post_read(id);
    return bytes || dk->read_only ? bytes : post_write(id);
}

/* Alternates writes and reads; read-only disks only read. */
static void issue(void)
{
    int id;

    while (dk->credit >= DISK_BUF_BYTES && (id = free_slot()) >= 0) {
        uint64_t bytes;
        if (dk->writes_since_flush >= DISK_FLUSH_EVERY) {
            post(id, SLOT_FLUSH, PVBLK_T_FLUSH, 0, 0);
            dk->writes_since_flush = 0;
            continue;
        }
        bytes = post_next(id);
        if (!bytes) {
            break;      /* both cursors wait on requests in flight */
        }
        dk->credit -= bytes;
    }
}

void disk_tick(void *opaque, struct wl_report *pending, uint64_t now_ns)
{
    if (!dk) {
        return;
    }
    if (dk->unrung) {
        reg_write(PVBLK_REG_DOORBELL, 1);
        dk->unrung = 0;
    }
    reap(pending);
    update_credit(now_ns);
    issue();
}

/* Rings for what is posted and reaps until nothing is in flight. */
static void drain(struct wl_report *pending)
{
    if (dk->unrung) {
        reg_write(PVBLK_REG_DOORBELL, 1);
        dk->unrung = 0;
    }
    while (dk->inflight) {
        reap(pending);
        cpu_relax();
    }
}

void disk_quiesce(struct wl_report *pending)
{
    if (!dk) {
        return;
    }
    drain(pending);
    if (!dk->read_only) {
        post(0, SLOT_FLUSH, PVBLK_T_FLUSH, 0, 0);   /* every slot is free */
        drain(pending);
    }
}
