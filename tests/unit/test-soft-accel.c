/*
 * The soft accelerator for real: vCPU threads from system/cpus.c running
 * the workload over a memfd RAM block, paused and resumed the way the run
 * state does it; the workload device's counters; the contexts in guest
 * RAM; and the dirty log, whose one property migration relies on is tested
 * directly: every page that changed between two syncs is in the second.
 */
#include <string.h>
#include "system/migration-vmm.h"
#include "vcpu-control.h"
#include "accel/soft.h"
#include "hw/workload.h"
#include "system/cpus.h"
#include "system/ioport.h"
#include "system/memory.h"
#include "util/bitmap.h"
#include "util/error.h"
#include "guest/workload.h"

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define RAM_SIZE (16 * MiB)
#define PATIENCE_US (20 * G_USEC_PER_SEC)
/* A kick is seen within one workload round (~100 us); the slack is for
 * loaded CI hosts, where a runnable thread can wait a long time for a CPU. */
#define PAUSE_MAX_US (5 * G_USEC_PER_SEC)

/* Builds what pc_machine_init builds for -accel soft, minus the serial. */
static RAMBlock *machine_up(unsigned ncpus, uint64_t ram_size, bool split,
                            const char *cmdline, GError **boot_err)
{
    g_autoptr(GError) err = NULL;
    const AccelOps *ops = accel_select("soft", &err);
    BootEntry boot = { .cmdline = cmdline };
    uint64_t low = split ? ram_size / 2 : ram_size;
    RAMBlock *rb;
    GuestRegion *r;

    g_assert_no_error(err);
    g_assert_true(ops == &soft_accel_ops && ops->available());
    g_assert_true(ops->init(ncpus, &err));
    rb = ram_block_new("pc.ram", ram_size, &err);
    g_assert_no_error(err);
    r = guest_region_add(0, rb, 0, low, &err);
    g_assert_true(r && ops->map_region(r, &err));
    if (split) {
        r = guest_region_add(4 * GiB, rb, low, ram_size - low, &err);
        g_assert_true(r && ops->map_region(r, &err));
    }
    g_assert_true(workload_dev_init(ncpus, &err));
    dirty_log_register(ops->dirty_log);
    g_assert_true(cpus_create(ops, ncpus, &err));
    g_assert_no_error(err);
    if (!ops->boot(cpu_get(0), &boot, boot_err ? boot_err : &err)) {
        g_assert_nonnull(boot_err);
        return rb;
    }
    g_assert_no_error(err);
    return rb;
}

static void machine_down(void)
{
    dirty_log_stop();
    cpus_destroy();
    io_regions_reset();
    ram_blocks_destroy();
}

static void run_for_ms(unsigned ms)
{
    resume();
    g_usleep(ms * 1000);
    g_assert_cmpint(pause_all(), <, PAUSE_MAX_US);
}

/* Runs in short slices until @done or PATIENCE_US. */
static void run_until(bool (*done)(void))
{
    gint64 deadline = g_get_monotonic_time() + PATIENCE_US;

    while (!done()) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        run_for_ms(20);
    }
}

static bool verified_a_pass(void)
{
    WorkloadCounters c;

    workload_dev_query(&c);
    return c.full_verify_passes >= 1;
}

/* The layout the accelerator must have derived, computed independently. */
static struct wl_layout expected_layout(void)
{
    GPtrArray *regions = guest_regions();
    struct wl_range ram[WL_MAX_RANGES];
    struct wl_layout l;

    for (guint i = 0; i < regions->len; i++) {
        const GuestRegion *r = g_ptr_array_index(regions, i);
        ram[i] = (struct wl_range){ r->gpa, r->size / WL_PAGE_SIZE,
                                    r->block->host + r->offset };
    }
    g_assert_true(wl_layout_init(&l, ram, regions->len, SOFT_RESERVED_END));
    return l;
}

static struct wl_cpu *context(unsigned cpu)
{
    return gpa_to_hva(SOFT_CTX_GPA + cpu * SOFT_CTX_STRIDE,
                      sizeof(struct wl_cpu));
}

static uint64_t block_page(uint64_t gpa)
{
    const GuestRegion *r = guest_region_find(gpa, 1);

    g_assert_nonnull(r);
    return (r->offset + gpa - r->gpa) / FERRY_PAGE_SIZE;
}

/* --- running --------------------------------------------------------------- */

static void test_run(void)
{
    struct wl_layout l;
    WorkloadCounters c;

    machine_up(2, RAM_SIZE, false, "console=ttyS0 dirty-rate=16M", NULL);
    l = expected_layout();
    /* Booting only set the contexts up, in guest RAM. */
    for (unsigned i = 0; i < 2; i++) {
        g_assert_cmpuint(context(i)->cpu, ==, i);
        g_assert_cmpuint(context(i)->filled, ==, 0);
    }
    g_assert_cmpuint(context(0)->begin, ==, 0);
    g_assert_cmpuint(context(0)->end, ==, context(1)->begin);
    g_assert_cmpuint(context(1)->end, ==, l.total_pages);

    run_until(verified_a_pass);
    workload_dev_query(&c);
    g_assert_cmpuint(c.pages_written, >=, l.total_pages);
    g_assert_cmpuint(c.pages_verified, >=, l.total_pages);
    g_assert_cmpuint(c.rounds, >, 0);
    g_assert_cmpuint(c.corrupt_pages, ==, 0);
    for (unsigned i = 0; i < 2; i++) {
        g_assert_cmpuint(context(i)->filled, ==, 1);
    }
    g_assert_cmpuint(soft_accel_ops.tsc_khz(), ==, 0);
    machine_down();
}

/* A vCPU that owns no page must still idle until kicked, not spin or halt. */
static void test_idle_vcpu(void)
{
    WorkloadCounters c;

    /* Four pages above the reserved area: one table, three under test. */
    machine_up(4, SOFT_RESERVED_END + 4 * FERRY_PAGE_SIZE, false, NULL, NULL);
    g_assert_cmpuint(context(0)->begin, ==, context(0)->end);
    for (int i = 0; i < 3; i++) {
        run_for_ms(30);
    }
    workload_dev_query(&c);
    g_assert_cmpuint(c.pages_written, ==, 3);
    g_assert_cmpuint(c.corrupt_pages, ==, 0);
    for (unsigned i = 0; i < 4; i++) {
        g_assert_false(cpu_get(i)->halted);
    }
    machine_down();
}

/*
 * Migration in miniature: all the workload's progress is in RAM, so RAM
 * copied while paused and put back later, followed by prepare alone (what
 * a destination does), carries on without a single corrupt page.
 */
static void test_state_lives_in_ram(void)
{
    const char *cmdline = "dirty-rate=max";
    RAMBlock *rb = machine_up(2, RAM_SIZE, true, cmdline, NULL);
    g_autofree uint8_t *saved = NULL;
    g_autoptr(GError) err = NULL;
    struct wl_cpu ctx0;
    WorkloadCounters c, c0;

    run_until(verified_a_pass);
    saved = g_memdup2(rb->host, rb->size);
    ctx0 = *context(0);
    g_assert_true(soft_accel_prepare(cmdline, &err));
    g_assert_true(memcmp(&ctx0, context(0), sizeof(ctx0)) == 0);

    run_for_ms(50);
    g_assert_true(memcmp(&ctx0, context(0), sizeof(ctx0)) != 0);
    memcpy(rb->host, saved, rb->size);
    g_assert_true(soft_accel_prepare(cmdline, &err));
    g_assert_true(memcmp(&ctx0, context(0), sizeof(ctx0)) == 0);
    workload_dev_query(&c0);
    run_for_ms(100);
    workload_dev_query(&c);
    g_assert_cmpuint(c.corrupt_pages, ==, 0);
    g_assert_cmpuint(c.pages_verified, >, c0.pages_verified);
    machine_down();
}

/* --- boot errors ------------------------------------------------------------ */

static void test_boot_malformed(void)
{
    g_autoptr(GError) err = NULL;

    machine_up(1, RAM_SIZE, false, "quiet dirty-rate=12X console=ttyS0", &err);
    g_assert_error(err, FERRY_ERROR, FERRY_ERROR_GENERIC);
    g_assert_nonnull(strstr(err->message, "'dirty-rate=12X'"));
    g_assert_null(strstr(err->message, "console"));
    machine_down();
}

static void test_boot_small_ram(void)
{
    g_autoptr(GError) err = NULL;

    machine_up(1, SOFT_RESERVED_END, false, NULL, &err);
    g_assert_error(err, FERRY_ERROR, FERRY_ERROR_GENERIC);
    g_assert_nonnull(strstr(err->message, "no guest RAM"));
    machine_down();
}

static void test_init_cpus(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GError) err2 = NULL;

    g_assert_false(soft_accel_ops.init(0, &err));
    g_assert_nonnull(err);
    g_assert_false(soft_accel_ops.init(WL_MAX_CPUS + 1, &err2));
    g_assert_nonnull(err2);
}

/* --- dirty log -------------------------------------------------------------- */

static unsigned long *new_bitmap(const RAMBlock *rb)
{
    return g_new0(unsigned long, BITS_TO_LONGS(ram_block_pages(rb)));
}

static long sync_into(RAMBlock *rb, unsigned long *bitmap)
{
    long n = dirty_log_sync(rb, bitmap);

    g_assert_cmpint(n, >=, 0);
    return n;
}

static void test_dirty_sync(void)
{
    RAMBlock *rb = machine_up(2, RAM_SIZE, false, "dirty-rate=max", NULL);
    struct wl_layout l = expected_layout();
    g_autofree unsigned long *map = new_bitmap(rb);
    g_autoptr(GError) err = NULL;

    g_assert_true(dirty_log_start(&err));
    run_for_ms(50);
    g_assert_cmpint(sync_into(rb, map), >, 0);
    g_assert_true(bitmap_test(map, block_page(l.gen_gpa)));
    g_assert_true(bitmap_test(map, block_page(SOFT_CTX_GPA)));

    /* Paused: nothing new. */
    memset(map, 0, BITS_TO_LONGS(ram_block_pages(rb)) * sizeof(*map));
    g_assert_cmpint(sync_into(rb, map), ==, 0);
    g_assert_cmpint(sync_into(rb, map), ==, 0);

    run_for_ms(30);
    g_assert_cmpint(sync_into(rb, map), >, 0);
    dirty_log_stop();
    g_assert_false(dirty_log_active());

    /* Writes while logging is off are not logged; a restart starts clean. */
    run_for_ms(30);
    g_assert_true(dirty_log_start(&err));
    memset(map, 0, BITS_TO_LONGS(ram_block_pages(rb)) * sizeof(*map));
    g_assert_cmpint(sync_into(rb, map), ==, 0);
    machine_down();
}

typedef struct CoverCase {
    const char *cmdline;
    unsigned ncpus;
    bool split;                 /* RAM in two regions, the second at 4 GiB */
    bool live_sync;             /* also sync while the vCPUs run */
} CoverCase;

/* Asserts every page of @rb that differs from @before is set in @map. */
static uint64_t check_covered(const RAMBlock *rb, const uint8_t *before,
                              const unsigned long *map)
{
    uint64_t changed = 0;

    for (uint64_t p = 0; p < ram_block_pages(rb); p++) {
        uint64_t off = p * FERRY_PAGE_SIZE;
        if (memcmp(before + off, rb->host + off, FERRY_PAGE_SIZE) == 0) {
            continue;
        }
        changed++;
        if (!bitmap_test(map, p)) {
            g_error("page %" G_GUINT64_FORMAT " of %s changed but is not in "
                    "the dirty bitmap", p, rb->idstr);
        }
    }
    return changed;
}

/*
 * Snapshot RAM at a paused sync, run, pause, sync again: each page that
 * changed must be in the second bitmap.  With live_sync a sync also
 * happens mid-run, as in precopy's iterations: the bits it took plus the
 * final sync's must still cover every change.
 */
static void test_dirty_covers_changes(gconstpointer data)
{
    const CoverCase *cc = data;
    RAMBlock *rb = machine_up(cc->ncpus, RAM_SIZE, cc->split, cc->cmdline,
                              NULL);
    size_t words = BITS_TO_LONGS(ram_block_pages(rb));
    g_autofree unsigned long *map = new_bitmap(rb);
    g_autofree uint8_t *before = g_malloc(rb->size);
    g_autoptr(GError) err = NULL;
    uint64_t changed = 0;

    run_for_ms(20);                     /* part-filled: fill writes too */
    g_assert_true(dirty_log_start(&err));
    sync_into(rb, map);
    for (int round = 0; round < 6; round++) {
        memcpy(before, rb->host, rb->size);
        memset(map, 0, words * sizeof(*map));
        resume();
        g_usleep(15000);
        if (cc->live_sync) {
            sync_into(rb, map);
            g_usleep(15000);
        }
        pause_all();
        sync_into(rb, map);
        changed += check_covered(rb, before, map);
    }
    g_assert_cmpuint(changed, >, 0);
    machine_down();
}

/* vCPUs mark pages while the log is started and stopped under them. */
static void test_dirty_start_stop_running(void)
{
    RAMBlock *rb = machine_up(2, RAM_SIZE, true, "dirty-rate=max", NULL);
    g_autofree unsigned long *map = new_bitmap(rb);
    long found = 0;

    resume();
    for (int i = 0; i < 200; i++) {
        g_autoptr(GError) err = NULL;
        g_assert_true(dirty_log_start(&err));
        g_usleep(200);
        found += sync_into(rb, map);
        dirty_log_stop();
    }
    pause_all();
    g_assert_cmpint(found, >, 0);
    machine_down();
}

static const CoverCase cover_cases[] = {
    { "dirty-rate=max", 2, false, false },
    { "dirty-rate=max", 2, true, true },
    { "dirty-rate=8M", 3, true, false },
    { NULL, 1, false, true },           /* verify only, after the fill */
};

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* ferry's devices register their state on the machine's context */
    g_assert_true(machine_migration_init(NULL));
    g_test_add_func("/soft/run", test_run);
    g_test_add_func("/soft/idle-vcpu", test_idle_vcpu);
    g_test_add_func("/soft/state-lives-in-ram", test_state_lives_in_ram);
    g_test_add_func("/soft/boot/malformed", test_boot_malformed);
    g_test_add_func("/soft/boot/small-ram", test_boot_small_ram);
    g_test_add_func("/soft/init/cpus", test_init_cpus);
    g_test_add_func("/soft/dirty/sync", test_dirty_sync);
    for (size_t i = 0; i < G_N_ELEMENTS(cover_cases); i++) {
        g_autofree char *name = g_strdup_printf("/soft/dirty/covers-changes/%zu",
                                                i);
        g_test_add_data_func(name, &cover_cases[i], test_dirty_covers_changes);
    }
    g_test_add_func("/soft/dirty/start-stop-running",
                    test_dirty_start_stop_running);
    return g_test_run();
}
