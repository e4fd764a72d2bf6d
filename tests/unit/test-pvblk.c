/*
 * pvblk (hw/block/pvblk.c) driven the way a guest drives it: registers
 * through io_dispatch, requests in a ring in guest RAM, a doorbell, and a
 * poll on used_idx.  No accelerator: the test thread is the vCPU.
 *
 * Guest RAM is one 16 MiB block at gpa 0; the ring sits at RING_GPA and
 * the data buffers from BUF_GPA on.  The image is 1 MiB in a fresh
 * g_dir_make_tmp() directory, every byte from pat() so a read of the wrong
 * sector cannot pass.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "system/migration-vmm.h"
#include "ferry/block.h"
#include "guest/pvblk-dev.h"
#include "hw/pvblk.h"
#include "system/ioport.h"
#include "mmio-test.h"
#include "system/memory.h"
#include "util/bitmap.h"

/* The block nodes under test (one graph, as one VM has). */
static BlockGraph *graph;

#define RAM_SIZE    (16ULL << 20)
#define IMG_SIZE    (1ULL << 20)
#define IMG_SECTORS (IMG_SIZE / PVBLK_SECTOR_SIZE)
#define RING_GPA    0x10000ULL
#define BUF_GPA     0x100000ULL
#define DEV         PVBLK_DEV_ADDR(0)
#define TIMEOUT_US  (5 * G_USEC_PER_SEC)

static char *tmpdir;
static char *img_path;
static RAMBlock *ram;

/* The guest driver's own view of its ring. */
static struct {
    uint64_t gpa;
    uint32_t size;
    uint32_t avail;
} ring;

/* --- the machine ----------------------------------------------------------- */

/* Distinct bytes per sector (a multiplicative hash of the offset). */
static uint8_t pat(uint64_t off)
{
    return (uint8_t)(((uint32_t)off * 2654435761u) >> 24);
}

static void make_image(void)
{
    g_autofree uint8_t *buf = g_malloc(IMG_SIZE);

    for (uint64_t i = 0; i < IMG_SIZE; i++) {
        buf[i] = pat(i);
    }
    g_assert_true(g_file_set_contents(img_path, (char *)buf, IMG_SIZE, NULL));
}

static void file_read(uint64_t off, void *buf, size_t len)
{
    int fd = open(img_path, O_RDONLY);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, buf, len, off), ==, (ssize_t)len);
    close(fd);
}

/*
 * RAM, the image, node f0 (@f0_opts appended), a blkdelay d0 over it when
 * @delay_us, and disk0 on the top node; activated when @activate.
 */
static void machine_up(const char *f0_opts, unsigned delay_us, bool activate)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *f0 = g_strdup_printf("driver=file,node-name=f0,"
                                          "filename=%s%s", img_path, f0_opts);

    ram = ram_block_new("pc.ram", RAM_SIZE, &err);
    g_assert_no_error(err);
    g_assert_nonnull(guest_region_add(0, ram, 0, RAM_SIZE, &err));
    make_image();
    g_assert_nonnull(blockdev_add(graph, f0, &err));
    if (delay_us) {
        g_autofree char *d0 = g_strdup_printf("driver=blkdelay,node-name=d0,"
                                              "file=f0,io-latency-us=%u",
                                              delay_us);
        g_assert_nonnull(blockdev_add(graph, d0, &err));
    }
    g_assert_no_error(err);
    g_assert_true(!activate || bdrv_activate_all(graph, &err));
    g_assert_no_error(err);
    g_assert_true(pvblk_create(graph, delay_us ? "pvblk,drive=d0,id=disk0" :
                               "pvblk,drive=f0,id=disk0", &err));
    g_assert_no_error(err);
    memset(&ring, 0, sizeof(ring));
}

static void machine_down(void)
{
    pvblk_destroy_all();
    blockdev_del_all(graph);
    io_regions_reset();
    ram_blocks_destroy();
    ram = NULL;
    unlink(img_path);
}

/* Also safe while a node is active: it holds the image open. */
static void rm_tmpdir(void)
{
    unlink(img_path);
    rmdir(tmpdir);
}

/* --- the guest driver ------------------------------------------------------ */

static uint64_t reg_read(uint64_t reg)
{
    return mmio_test_read(DEV + reg);
}

static void reg_write(uint64_t reg, uint64_t v)
{
    mmio_test_write(DEV + reg, v);
}

static void *guest(uint64_t gpa, uint64_t len)
{
    void *p = gpa_to_hva(gpa, len);

    g_assert_nonnull(p);
    return p;
}

static struct pvblk_ring_hdr *hdr(void)
{
    return guest(ring.gpa, sizeof(struct pvblk_ring_hdr));
}

/* Size first: the device validates the ring when RING_GPA is written. */
static bool ring_setup(uint64_t gpa, uint64_t size)
{
    reg_write(PVBLK_REG_RING_SIZE, size);
    reg_write(PVBLK_REG_RING_GPA, gpa);
    ring.gpa = gpa;
    ring.size = size;
    ring.avail = 0;
    return reg_read(PVBLK_REG_RING_GPA) == gpa;
}

/* Fills the next slot, then publishes it (release), as a driver must. */
static void post(uint32_t type, uint64_t sector, uint32_t nsec, uint64_t buf,
                 uint64_t id)
{
    struct pvblk_req r = { type, nsec, sector, buf, id };

    memcpy(guest(ring.gpa + PVBLK_REQ_OFF(ring.avail % ring.size), sizeof(r)),
           &r, sizeof(r));
    ring.avail++;
    __atomic_store_n(&hdr()->avail_idx, ring.avail, __ATOMIC_RELEASE);
}

static void kick(void)
{
    reg_write(PVBLK_REG_DOORBELL, 1);
}

static uint32_t used_idx(void)
{
    return __atomic_load_n(&hdr()->used_idx, __ATOMIC_ACQUIRE);
}

/* Polls until used_idx reaches @n; false after TIMEOUT_US. */
static bool wait_used(uint32_t n)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;

    while (used_idx() != n) {
        if (g_get_monotonic_time() > deadline) {
            return false;
        }
        g_usleep(500);
    }
    return true;
}

static struct pvblk_used *used(uint32_t i)
{
    return guest(ring.gpa + PVBLK_USED_OFF(ring.size, i % ring.size),
                 sizeof(struct pvblk_used));
}

/* One request, start to finish: its status (and its id came back). */
static uint32_t do_req(uint32_t type, uint64_t sector, uint32_t nsec,
                       uint64_t buf)
{
    uint32_t n = used_idx();
    uint64_t id = 0xfeed0000ULL + ring.avail;

    post(type, sector, nsec, buf, id);
    kick();
    g_assert_true(wait_used(n + 1));
    g_assert_cmphex(used(n)->id, ==, id);
    return used(n)->status;
}

static void fill(uint64_t gpa, uint64_t len, uint8_t seed)
{
    uint8_t *p = guest(gpa, len);

    for (uint64_t i = 0; i < len; i++) {
        p[i] = (uint8_t)(seed + i * 31);
    }
}

/* Guest RAM at @gpa holds the image's bytes from @off. */
static void assert_image_in_ram(uint64_t gpa, uint64_t off, uint64_t len)
{
    const uint8_t *p = guest(gpa, len);

    for (uint64_t i = 0; i < len; i++) {
        if (p[i] != pat(off + i)) {
            g_error("gpa 0x%" G_GINT64_MODIFIER "x: 0x%02x, image byte 0x%"
                    G_GINT64_MODIFIER "x is 0x%02x", gpa + i, p[i], off + i,
                    pat(off + i));
        }
    }
}

/* --- 1. registers ----------------------------------------------------------- */

static void test_registers(void)
{
    uint64_t v;

    machine_up("", 0, true);
    g_assert_cmphex(reg_read(PVBLK_REG_ID), ==, PVBLK_DEV_MAGIC);
    g_assert_cmpuint(reg_read(PVBLK_REG_CAPACITY), ==, IMG_SECTORS);
    g_assert_cmphex(reg_read(PVBLK_REG_FLAGS), ==, 0);
    g_assert_cmphex(reg_read(PVBLK_REG_RING_GPA), ==, 0);
    g_assert_cmphex(reg_read(0x800), ==, 0);        /* a hole in the page */
    /* Only slot 0 is mapped: the next page is nobody's. */
    g_assert_false(io_dispatch(IO_SPACE_MMIO, PVBLK_DEV_ADDR(1), &v, 8,
                               false));
    g_assert_true(ring_setup(RING_GPA, 16));
    g_assert_cmpuint(reg_read(PVBLK_REG_RING_SIZE), ==, 16);
    machine_down();

    machine_up(",read-only=on", 0, true);
    g_assert_cmphex(reg_read(PVBLK_REG_FLAGS), ==, PVBLK_F_READ_ONLY);
    g_assert_cmpuint(reg_read(PVBLK_REG_CAPACITY), ==, IMG_SECTORS);
    machine_down();
}

/* Writes fail with ROFS before reaching the node; reads work. */
static void test_read_only(void)
{
    uint8_t back[512];

    machine_up(",read-only=on", 0, true);
    g_assert_true(ring_setup(RING_GPA, 16));
    fill(BUF_GPA, 512, 0x11);
    g_assert_cmpuint(do_req(PVBLK_T_WRITE, 3, 1, BUF_GPA), ==, PVBLK_S_ROFS);
    file_read(3 * 512, back, sizeof(back));
    g_assert_cmphex(back[0], ==, pat(3 * 512));
    g_assert_cmpuint(do_req(PVBLK_T_READ, 3, 1, BUF_GPA), ==, PVBLK_S_OK);
    assert_image_in_ram(BUF_GPA, 3 * 512, 512);
    /* pvblk-dev.h: PVBLK_F_READ_ONLY means "writes and flushes fail". */
    g_assert_cmpuint(do_req(PVBLK_T_FLUSH, 0, 0, 0), ==, PVBLK_S_ROFS);
    machine_down();
}

/* --- 2. data round trip ------------------------------------------------------ */

static void test_roundtrip(void)
{
    const uint64_t wbuf = BUF_GPA, rbuf = BUF_GPA + 0x20000;
    const uint32_t max = PVBLK_MAX_SECTORS;
    g_autofree uint8_t *disk = g_malloc(max * 512);

    machine_up("", 0, true);
    g_assert_true(ring_setup(RING_GPA, 8));

    fill(wbuf, 8 * 512, 0x5a);
    g_assert_cmpuint(do_req(PVBLK_T_WRITE, 10, 8, wbuf), ==, PVBLK_S_OK);
    file_read(10 * 512, disk, 8 * 512);
    g_assert_cmpmem(disk, 8 * 512, guest(wbuf, 8 * 512), 8 * 512);

    memset(guest(rbuf, 8 * 512), 0, 8 * 512);
    g_assert_cmpuint(do_req(PVBLK_T_READ, 10, 8, rbuf), ==, PVBLK_S_OK);
    g_assert_cmpmem(guest(rbuf, 8 * 512), 8 * 512, guest(wbuf, 8 * 512),
                    8 * 512);
    /* The sectors around it are untouched. */
    file_read(9 * 512, disk, 512);
    g_assert_cmphex(disk[511], ==, pat(10 * 512 - 1));
    file_read(18 * 512, disk, 512);
    g_assert_cmphex(disk[0], ==, pat(18 * 512));

    /* The biggest request, ending on the last sector; an unaligned buffer. */
    g_assert_cmpuint(do_req(PVBLK_T_READ, IMG_SECTORS - max, max, rbuf + 3),
                     ==, PVBLK_S_OK);
    assert_image_in_ram(rbuf + 3, IMG_SIZE - max * 512, max * 512);
    fill(wbuf + 1, max * 512, 0x77);
    g_assert_cmpuint(do_req(PVBLK_T_WRITE, IMG_SECTORS - max, max, wbuf + 1),
                     ==, PVBLK_S_OK);
    file_read(IMG_SIZE - max * 512, disk, max * 512);
    g_assert_cmpmem(disk, max * 512, guest(wbuf + 1, max * 512), max * 512);
    g_assert_cmpuint(do_req(PVBLK_T_FLUSH, 0, 0, 0), ==, PVBLK_S_OK);
    machine_down();
}

/* --- 3. batches ------------------------------------------------------------- */

/*
 * @n requests behind one doorbell: even ids write sector 2i from their own
 * buffer, odd ids read sector 2i + 1 (untouched by the writes).  Checks
 * every id came back exactly once, OK, and the data.
 */
static void batch(uint32_t n, uint64_t id_base)
{
    g_autofree bool *seen = g_new0(bool, n);
    uint32_t start = used_idx();
    uint8_t disk[512];

    for (uint32_t i = 0; i < n; i++) {
        uint64_t buf = BUF_GPA + i * 512;
        fill(buf, 512, (uint8_t)(id_base + i));
        post(i % 2 ? PVBLK_T_READ : PVBLK_T_WRITE, 2 * i + i % 2, 1, buf,
             id_base + i);
    }
    kick();
    g_assert_true(wait_used(start + n));
    for (uint32_t k = 0; k < n; k++) {
        struct pvblk_used *u = used(start + k);
        uint64_t i = u->id - id_base;
        g_assert_cmpuint(i, <, n);
        g_assert_false(seen[i]);
        seen[i] = true;
        g_assert_cmpuint(u->status, ==, PVBLK_S_OK);
    }
    for (uint32_t i = 0; i < n; i++) {
        if (i % 2) {
            assert_image_in_ram(BUF_GPA + i * 512, (2 * i + 1) * 512, 512);
        } else {
            file_read(2 * i * 512, disk, 512);
            g_assert_cmpmem(disk, 512, guest(BUF_GPA + i * 512, 512), 512);
        }
    }
}

static void test_batch(void)
{
    machine_up("", 0, true);
    g_assert_true(ring_setup(RING_GPA, 64));
    batch(64, 1000);        /* a full ring */
    batch(37, 2000);        /* then around the end of it, twice */
    batch(64, 3000);
    g_assert_cmpuint(used_idx(), ==, 64 + 37 + 64);
    machine_down();
}

/* --- 4. guest-controlled bad input ------------------------------------------ */

typedef struct BadReq {
    const char *what;
    uint32_t type, nsec;
    uint64_t sector, buf;
    uint32_t status;
} BadReq;

static const BadReq bad_reqs[] = {
    { "nsectors 0", PVBLK_T_READ, 0, 0, BUF_GPA, PVBLK_S_INVAL },
    { "nsectors > max", PVBLK_T_READ, PVBLK_MAX_SECTORS + 1, 0, BUF_GPA,
      PVBLK_S_INVAL },
    { "nsectors 2^32-1", PVBLK_T_WRITE, UINT32_MAX, 0, BUF_GPA,
      PVBLK_S_INVAL },
    { "sector at capacity", PVBLK_T_READ, 1, IMG_SECTORS, BUF_GPA,
      PVBLK_S_INVAL },
    { "last sector + 1", PVBLK_T_WRITE, 2, IMG_SECTORS - 1, BUF_GPA,
      PVBLK_S_INVAL },
    { "sector + n wraps", PVBLK_T_READ, 8, UINT64_MAX - 3, BUF_GPA,
      PVBLK_S_INVAL },
    { "sector * 512 wraps", PVBLK_T_WRITE, 1, 1ULL << 55, BUF_GPA,
      PVBLK_S_INVAL },
    { "buf past RAM", PVBLK_T_READ, 1, 0, RAM_SIZE, PVBLK_S_INVAL },
    { "buf far away", PVBLK_T_WRITE, 1, 0, 1ULL << 40, PVBLK_S_INVAL },
    { "buf + len wraps", PVBLK_T_READ, 1, 0, UINT64_MAX - 100,
      PVBLK_S_INVAL },
    { "buf crosses RAM end", PVBLK_T_READ, 2, 0, RAM_SIZE - 512,
      PVBLK_S_INVAL },
    { "type 3", 3, 1, 0, BUF_GPA, PVBLK_S_UNSUPP },
    { "type 2^32-1", UINT32_MAX, 1, 0, BUF_GPA, PVBLK_S_UNSUPP },
    { "last sector (fine)", PVBLK_T_READ, 1, IMG_SECTORS - 1, BUF_GPA,
      PVBLK_S_OK },
    { "buf ends at RAM end (fine)", PVBLK_T_READ, 2, 0, RAM_SIZE - 1024,
      PVBLK_S_OK },
};

static void test_bad_requests(void)
{
    uint8_t end[512];

    machine_up("", 0, true);
    g_assert_true(ring_setup(RING_GPA, 4));     /* wraps a few times */
    for (gsize i = 0; i < G_N_ELEMENTS(bad_reqs); i++) {
        const BadReq *b = &bad_reqs[i];
        g_test_message("%s", b->what);
        g_assert_cmpuint(do_req(b->type, b->sector, b->nsec, b->buf), ==,
                         b->status);
    }
    /* Nothing reached the image: its last sector is as made. */
    file_read(IMG_SIZE - 512, end, 512);
    g_assert_cmphex(end[511], ==, pat(IMG_SIZE - 1));
    /* And the device still works. */
    g_assert_cmpuint(do_req(PVBLK_T_READ, 5, 1, BUF_GPA), ==, PVBLK_S_OK);
    assert_image_in_ram(BUF_GPA, 5 * 512, 512);
    machine_down();
}

/* A refused ring reads back 0 and leaves the device without a ring. */
static void test_bad_ring(void)
{
    static const struct { uint64_t gpa, size; } bad[] = {
        { RAM_SIZE, 16 },                   /* outside RAM */
        { RAM_SIZE - 64, 16 },              /* crosses the end of RAM */
        { 1ULL << 40, 16 },
        { UINT64_MAX - 7, 16 },             /* gpa + bytes wraps */
        { RING_GPA + 4, 16 },               /* not 8-byte aligned */
        { RING_GPA, 0 },
        { RING_GPA, 12 },                   /* not a power of 2 */
        { RING_GPA, 512 },                  /* > PVBLK_RING_MAX */
        { RING_GPA, 1ULL << 32 },           /* clamped, not cut to 0 */
    };

    machine_up("", 0, true);
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_true(ring_setup(RING_GPA, 16));     /* a good one first */
        g_test_message("ring 0x%" G_GINT64_MODIFIER "x size %" G_GUINT64_FORMAT,
                       bad[i].gpa, bad[i].size);
        g_assert_false(ring_setup(bad[i].gpa, bad[i].size));
        g_assert_cmphex(reg_read(PVBLK_REG_RING_GPA), ==, 0);
    }
    /* The extremes that are fine: 1 and 256 entries, ending at RAM's end. */
    g_assert_true(ring_setup(RING_GPA, 1));
    g_assert_true(ring_setup(RAM_SIZE - PVBLK_RING_BYTES(256), 256));
    g_assert_cmpuint(do_req(PVBLK_T_READ, 1, 1, BUF_GPA), ==, PVBLK_S_OK);

    /* Doorbell without a ring: a request sits at RING_GPA, nothing runs. */
    reg_write(PVBLK_REG_RING_GPA, 0);
    ring.gpa = RING_GPA;
    ring.size = 16;
    ring.avail = 0;
    post(PVBLK_T_READ, 0, 1, BUF_GPA, 1);
    kick();
    g_usleep(50000);
    g_assert_cmpuint(used_idx(), ==, 0);
    machine_down();
}

/*
 * A guest lying about avail_idx (more than a ring ahead of what the device
 * took, or behind it) gets its doorbell ignored, with a log line: nothing
 * is taken, nothing completes, the device's position does not move, so a
 * guest that puts the right index back is served from where it was.
 */
static void test_avail_lies(void)
{
    machine_up("", 0, true);
    g_assert_true(ring_setup(RING_GPA, 16));
    g_assert_cmpuint(do_req(PVBLK_T_READ, 0, 1, BUF_GPA), ==, PVBLK_S_OK);

    post(PVBLK_T_READ, 1, 1, BUF_GPA, 42);     /* slot 1, honest */
    hdr()->avail_idx = 1 + 17;
    kick();
    g_usleep(50000);
    g_assert_cmpuint(used_idx(), ==, 1);
    hdr()->avail_idx = 0;                      /* behind: wraps to 2^32-1 */
    kick();
    g_usleep(50000);
    g_assert_cmpuint(used_idx(), ==, 1);

    hdr()->avail_idx = ring.avail;             /* the truth: 2 */
    kick();
    g_assert_true(wait_used(2));
    g_assert_cmpuint(used(1)->id, ==, 42);
    g_assert_cmpuint(used(1)->status, ==, PVBLK_S_OK);
    machine_down();
}

/*
 * RING_SIZE written while a ring is live disables the ring: size 0 with a
 * request in flight once made the completion thread compute used_idx % 0.
 * Run in a subprocess, so a regression (SIGFPE) fails the test, not the run.
 */
static void test_ring_resize_live(void)
{
    if (g_test_subprocess()) {
        machine_up("", 50000, true);
        rm_tmpdir();        /* a crash here must not leave it behind */
        g_assert_true(ring_setup(RING_GPA, 16));
        post(PVBLK_T_READ, 0, 1, BUF_GPA, 1);
        kick();
        reg_write(PVBLK_REG_RING_SIZE, 0);
        g_assert_cmpuint(reg_read(PVBLK_REG_RING_GPA), ==, 0);  /* dropped */
        pvblk_drain_all();
        machine_down();
        return;
    }
    g_test_trap_subprocess(NULL, TIMEOUT_US, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
}

/* --- 5. node states ----------------------------------------------------------- */

/* Attached, not active (a migration source after switchover, a destination
 * before it): writes and flushes are NOTREADY, reads work. */
static void test_not_ready(void)
{
    g_autoptr(GError) err = NULL;
    uint8_t disk[512];

    machine_up("", 0, true);
    g_assert_true(ring_setup(RING_GPA, 16));
    g_assert_true(bdrv_inactivate_all(graph, &err));
    fill(BUF_GPA, 512, 0x33);
    g_assert_cmpuint(do_req(PVBLK_T_WRITE, 7, 1, BUF_GPA), ==,
                     PVBLK_S_NOTREADY);
    g_assert_cmpuint(do_req(PVBLK_T_FLUSH, 0, 0, 0), ==, PVBLK_S_NOTREADY);
    file_read(7 * 512, disk, 512);
    g_assert_cmphex(disk[0], ==, pat(7 * 512));
    g_assert_cmpuint(do_req(PVBLK_T_READ, 7, 1, BUF_GPA), ==, PVBLK_S_OK);
    assert_image_in_ram(BUF_GPA, 7 * 512, 512);

    g_assert_true(bdrv_activate_all(graph, &err));
    fill(BUF_GPA, 512, 0x33);
    g_assert_cmpuint(do_req(PVBLK_T_WRITE, 7, 1, BUF_GPA), ==, PVBLK_S_OK);
    file_read(7 * 512, disk, 512);
    g_assert_cmpmem(disk, 512, guest(BUF_GPA, 512), 512);
    machine_down();
}

/*
 * Never attached (a destination before its disks attach): CAPACITY reads
 * 0 since the length is unknown, and every request is NOTREADY.
 */
static void test_configured(void)
{
    machine_up("", 0, false);
    g_assert_cmpuint(reg_read(PVBLK_REG_CAPACITY), ==, 0);
    g_assert_true(ring_setup(RING_GPA, 16));
    g_assert_cmpuint(do_req(PVBLK_T_READ, 0, 1, BUF_GPA), ==,
                     PVBLK_S_NOTREADY);
    g_assert_cmpuint(do_req(PVBLK_T_FLUSH, 0, 0, 0), ==, PVBLK_S_NOTREADY);
    machine_down();
}

/* --- 6. drain ------------------------------------------------------------------ */

static void test_drain(void)
{
    const uint32_t n = 8;
    gint64 t0, took;

    machine_up("", 50000, true);
    g_assert_true(ring_setup(RING_GPA, 16));
    for (uint32_t i = 0; i < n; i++) {
        fill(BUF_GPA + i * 4096, 4096, (uint8_t)i);
        post(i % 2 ? PVBLK_T_READ : PVBLK_T_WRITE, 8 * i, 8,
             BUF_GPA + i * 4096, i);
    }
    t0 = g_get_monotonic_time();
    kick();
    g_assert_cmpuint(used_idx(), <, n);    /* 50 ms is far from over */
    pvblk_drain_all();
    took = g_get_monotonic_time() - t0;
    /* No polling: drain returning means the completions are in RAM. */
    g_assert_cmpuint(used_idx(), ==, n);
    for (uint32_t k = 0; k < n; k++) {
        g_assert_cmpuint(used(k)->status, ==, PVBLK_S_OK);
    }
    for (uint32_t i = 1; i < n; i += 2) {
        assert_image_in_ram(BUF_GPA + i * 4096, 8 * i * 512, 4096);
    }
    g_assert_cmpint(took, >=, 50000);
    g_assert_cmpint(took, <, 8 * 50000);   /* overlapped, not in series */
    g_test_message("drain took %.1f ms", took / 1000.0);
    machine_down();
}

/* --- 7. posted but not rung ----------------------------------------------------- */

static void test_no_doorbell(void)
{
    uint8_t disk[512];

    machine_up("", 0, true);
    g_assert_true(ring_setup(RING_GPA, 16));
    fill(BUF_GPA, 512, 0x99);
    post(PVBLK_T_WRITE, 20, 1, BUF_GPA, 1);
    post(PVBLK_T_READ, 21, 1, BUF_GPA + 4096, 2);
    post(PVBLK_T_FLUSH, 0, 0, 0, 3);
    g_usleep(100000);
    g_assert_cmpuint(used_idx(), ==, 0);
    file_read(20 * 512, disk, 512);
    g_assert_cmphex(disk[0], ==, pat(20 * 512));

    kick();
    g_assert_true(wait_used(3));
    for (uint32_t k = 0; k < 3; k++) {
        g_assert_cmpuint(used(k)->status, ==, PVBLK_S_OK);
    }
    file_read(20 * 512, disk, 512);
    g_assert_cmpmem(disk, 512, guest(BUF_GPA, 512), 512);
    assert_image_in_ram(BUF_GPA + 4096, 21 * 512, 512);
    machine_down();
}

/* --- 8. dirty tracking ------------------------------------------------------------ */

static bool page_dirty(uint64_t gpa)
{
    return bitmap_test(ram->vmm_dirty, gpa >> FERRY_PAGE_SHIFT);
}

/*
 * What the device writes into guest RAM must reach migration: KVM's dirty
 * log never sees it.  A read into a buffer spanning three pages, and a
 * write whose buffer the device only reads.
 */
static void test_dirty(void)
{
    const uint64_t rbuf = BUF_GPA + 0x800, wbuf = BUF_GPA + 0x10000;

    machine_up("", 0, true);
    g_assert_true(ring_setup(RING_GPA, 256));  /* used[] spans pages */
    memset(ram->vmm_dirty, 0,
           BITS_TO_LONGS(ram_block_pages(ram)) * sizeof(unsigned long));

    g_assert_cmpuint(do_req(PVBLK_T_READ, 0, 16, rbuf), ==, PVBLK_S_OK);
    for (uint64_t gpa = BUF_GPA; gpa < rbuf + 16 * 512; gpa += 4096) {
        g_assert_true(page_dirty(gpa));
    }
    g_assert_false(page_dirty(BUF_GPA - 4096));
    g_assert_false(page_dirty(BUF_GPA + 3 * 4096));
    g_assert_true(page_dirty(ring.gpa));                /* used_idx */
    g_assert_true(page_dirty(ring.gpa + PVBLK_USED_OFF(256, 0)));
    g_assert_false(page_dirty(ring.gpa + PVBLK_USED_OFF(256, 255)));

    fill(wbuf, 512, 1);
    g_assert_cmpuint(do_req(PVBLK_T_WRITE, 0, 1, wbuf), ==, PVBLK_S_OK);
    g_assert_false(page_dirty(wbuf));
    /* Nothing else: 3 buffer pages, the header's and used[0..1]'s. */
    g_assert_cmpuint(bitmap_count(ram->vmm_dirty, ram_block_pages(ram)), ==,
                     5);
    machine_down();
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    graph = bdrv_graph_new();
    /* ferry's devices register their state on the machine's context */
    g_assert_true(machine_migration_init(NULL));
    tmpdir = g_dir_make_tmp("ferry-test-pvblk-XXXXXX", NULL);
    g_assert_nonnull(tmpdir);
    img_path = g_build_filename(tmpdir, "disk.img", NULL);

    g_test_add_func("/pvblk/registers", test_registers);
    g_test_add_func("/pvblk/read-only", test_read_only);
    g_test_add_func("/pvblk/roundtrip", test_roundtrip);
    g_test_add_func("/pvblk/batch", test_batch);
    g_test_add_func("/pvblk/bad/requests", test_bad_requests);
    g_test_add_func("/pvblk/bad/ring", test_bad_ring);
    g_test_add_func("/pvblk/bad/avail", test_avail_lies);
    g_test_add_func("/pvblk/bad/ring-resize-live", test_ring_resize_live);
    g_test_add_func("/pvblk/state/not-ready", test_not_ready);
    g_test_add_func("/pvblk/state/configured", test_configured);
    g_test_add_func("/pvblk/drain", test_drain);
    g_test_add_func("/pvblk/no-doorbell", test_no_doorbell);
    g_test_add_func("/pvblk/dirty", test_dirty);
    ret = g_test_run();
    rm_tmpdir();
    g_free(img_path);
    g_free(tmpdir);
    return ret;
}
