/*
 * vCPU throttling (system/cpu-throttle.c): QEMU's arithmetic for the sleep
 * and the steps auto-converge takes, and the throttle for real on the soft
 * accelerator: throttled vCPUs run less, and a sleeping vCPU still parks
 * at once when the VM is paused.
 */
#include "system/migration-vmm.h"
#include "vcpu-control.h"
#include "accel/soft.h"
#include "hw/workload.h"
#include "system/cpu-throttle.h"
#include "migration/outgoing/throttle-policy.h"
#include "system/cpus.h"
#include "system/ioport.h"
#include "system/memory.h"
#include "util/error.h"

#define MiB (1ULL << 20)
#define RAM_SIZE (16 * MiB)
#define PAGE 4096

/* --- the arithmetic ------------------------------------------------------ */

static void test_sleep_math(void)
{
    g_assert_cmpint(cpu_throttle_sleep_ns(0), ==, 0);
    /* pct / (100 - pct) timeslices of 10 ms */
    g_assert_cmpint(cpu_throttle_sleep_ns(20), ==, 2500000);
    g_assert_cmpint(cpu_throttle_sleep_ns(50), ==, 10000000);
    g_assert_cmpint(cpu_throttle_sleep_ns(75), ==, 30000000);
    g_assert_cmpint(cpu_throttle_sleep_ns(99), ==, 990000000);
    g_assert_cmpint(cpu_throttle_sleep_ns(100), ==, 990000000);
    g_assert_cmpint(cpu_throttle_period_ns(0), ==, CPU_THROTTLE_TIMESLICE_NS);
    g_assert_cmpint(cpu_throttle_period_ns(50), ==, 20000000);
    g_assert_cmpint(cpu_throttle_period_ns(99), ==, 1000000000);
    /* the guest's share of each period is 100 - pct percent */
    for (int pct = 1; pct <= 99; pct++) {
        int64_t run = CPU_THROTTLE_TIMESLICE_NS * 100;
        g_assert_cmpint(run / cpu_throttle_period_ns(pct), ==, 100 - pct);
    }
}

static void test_set_clamps(void)
{
    g_assert_false(cpu_throttle_active());
    cpu_throttle_set(0);
    g_assert_cmpint(cpu_throttle_get_percentage(), ==, CPU_THROTTLE_PCT_MIN);
    cpu_throttle_set(150);
    g_assert_cmpint(cpu_throttle_get_percentage(), ==, CPU_THROTTLE_PCT_MAX);
    cpu_throttle_set(30);
    g_assert_cmpint(cpu_throttle_get_percentage(), ==, 30);
    g_assert_true(cpu_throttle_active());
    cpu_throttle_stop();
    g_assert_cmpint(cpu_throttle_get_percentage(), ==, 0);
    g_assert_false(cpu_throttle_active());
}

static const CPUThrottlePolicy defaults = {
    .initial = 20, .increment = 10, .tailslow = false, .max = 99,
    .threshold = 50,
};

static void test_steps(void)
{
    CPUThrottlePolicy p = defaults;
    int pct = 0;
    int expect[] = { 20, 30, 40, 50, 60, 70, 80, 90, 99, 99 };

    for (size_t i = 0; i < G_N_ELEMENTS(expect); i++) {
        pct = cpu_throttle_next_pct(&p, pct, 100, 50);
        g_assert_cmpint(pct, ==, expect[i]);
    }
    p.max = 45;
    g_assert_cmpint(cpu_throttle_next_pct(&p, 40, 100, 50), ==, 45);
    /* as QEMU: the initial step is not capped by max-cpu-throttle */
    p.initial = 60;
    g_assert_cmpint(cpu_throttle_next_pct(&p, 0, 100, 50), ==, 60);
}

static void test_tailslow(void)
{
    CPUThrottlePolicy p = defaults;

    p.tailslow = true;
    p.increment = 30;
    /* 80% of the CPU dirties twice the threshold: the ideal is 40%, the
     * step the increment at most */
    g_assert_cmpint(cpu_throttle_next_pct(&p, 20, 200, 100), ==, 50);
    /* near the target: cpu 50% -> ideal 50 * 100/110 = 45: +5 */
    g_assert_cmpint(cpu_throttle_next_pct(&p, 50, 110, 100), ==, 55);
    /* barely above: the ideal rounds down (as QEMU), a 1% step */
    g_assert_cmpint(cpu_throttle_next_pct(&p, 90, 1001, 1000), ==, 91);
    /* the initial step is the same as without tailslow */
    g_assert_cmpint(cpu_throttle_next_pct(&p, 0, 200, 100), ==, 20);
    p.max = 60;
    g_assert_cmpint(cpu_throttle_next_pct(&p, 50, 1000, 100), ==, 60);
}

static void test_trigger(void)
{
    CPUThrottleTrigger t;
    int64_t now = 1000;
    uint64_t xfer = 0, dirty = 0;
    int pct = 0;

    cpu_throttle_trigger_start(&t, now, xfer, dirty);
    /* A period: @sent bytes and @pages newly dirty over @ms. */
#define PERIOD(ms, sent, pages) \
    (now += (ms), xfer += (sent), dirty += (pages), \
     cpu_throttle_trigger(&t, &defaults, pct, now, xfer, dirty, PAGE))

    /* dirty == threshold: not above it */
    g_assert_cmpint(PERIOD(2000, 100 * PAGE, 50), ==, 0);
    g_assert_cmpint(PERIOD(2000, 100 * PAGE, 50), ==, 0);
    /* high once, high twice: throttle */
    g_assert_cmpint(PERIOD(2000, 100 * PAGE, 51), ==, 0);
    g_assert_cmpint(pct = PERIOD(2000, 100 * PAGE, 51), ==, 20);
    /* the count restarted */
    g_assert_cmpint(PERIOD(2000, 100 * PAGE, 90), ==, 0);
    /* as QEMU: a low period in between does not reset the count */
    g_assert_cmpint(PERIOD(2000, 100 * PAGE, 10), ==, 0);
    g_assert_cmpint(pct = PERIOD(2000, 100 * PAGE, 90), ==, 30);
    /* a period of 1 s or less is folded into the next one */
    g_assert_cmpint(PERIOD(1000, 100 * PAGE, 90), ==, 0);
    g_assert_cmpint(PERIOD(500, 0, 0), ==, 0);
    g_assert_cmpint(t.high_cnt, ==, 1);     /* counted once, both together */
    g_assert_cmpint(pct = PERIOD(1500, 100 * PAGE, 90), ==, 40);
    /* nothing sent, nothing dirtied: not high */
    g_assert_cmpint(PERIOD(2000, 0, 0), ==, 0);
    g_assert_cmpint(t.high_cnt, ==, 0);
#undef PERIOD
}

/* --- on the soft accelerator -------------------------------------------- */

static void machine_up(unsigned ncpus)
{
    g_autoptr(GError) err = NULL;
    const AccelOps *ops = accel_select("soft", &err);
    BootEntry boot = { .cmdline = "dirty-rate=max" };
    RAMBlock *rb;
    GuestRegion *r;

    g_assert_no_error(err);
    g_assert_true(ops->init(ncpus, &err));
    rb = ram_block_new("pc.ram", RAM_SIZE, &err);
    g_assert_no_error(err);
    r = guest_region_add(0, rb, 0, RAM_SIZE, &err);
    g_assert_true(r && ops->map_region(r, &err));
    g_assert_true(workload_dev_init(ncpus, &err));
    dirty_log_register(ops->dirty_log);
    g_assert_true(cpus_create(ops, ncpus, &err));
    g_assert_true(ops->boot(cpu_get(0), &boot, &err));
    g_assert_no_error(err);
}

static void machine_down(void)
{
    cpu_throttle_stop();
    cpus_destroy();
    io_regions_reset();
    ram_blocks_destroy();
}

static uint64_t rounds(void)
{
    WorkloadCounters c;

    workload_dev_query(&c);
    return c.rounds;
}

/* Workload rounds per second over @ms of running. */
static double round_rate(unsigned ms)
{
    uint64_t before = rounds();
    gint64 t0 = g_get_monotonic_time();

    g_usleep(ms * 1000);
    return (double)(rounds() - before) * G_USEC_PER_SEC /
           (double)(g_get_monotonic_time() - t0);
}

/* Throttled vCPUs run less: at 90% they get a tenth of the time.  A busy
 * host gives unthrottled vCPUs less than a whole CPU while a throttled one
 * runs its timeslice at full speed, so the ratio measured is higher. */
static void test_throttle_slows_guest(void)
{
    double full, throttled;

    machine_up(2);
    resume();
    g_usleep(300 * 1000);       /* past the fill */
    full = round_rate(500);
    cpu_throttle_set(90);
    g_usleep(100 * 1000);
    throttled = round_rate(1000);
    cpu_throttle_stop();
    g_usleep(100 * 1000);
    g_test_message("rounds/s: %.0f unthrottled, %.0f at 90%%, %.0f after",
                   full, throttled, round_rate(500));
    g_assert_cmpfloat(throttled, <, full / 2);
    g_assert_cmpint(pause_all(), <, 200 * 1000);
    machine_down();
}

/* At 99% a vCPU sleeps 990 ms per 10 ms run: a pause must not wait for
 * the sleep to end, and the vCPU must not run while it should sleep. */
static void test_sleep_parks_promptly(void)
{
    machine_up(2);
    resume();
    g_usleep(300 * 1000);
    cpu_throttle_set(99);       /* off -> on: ticks at once */
    g_usleep(50 * 1000);        /* both kicked into their first sleep */
    uint64_t before = rounds();
    g_usleep(300 * 1000);
    /* asleep all along, or at most one report still in flight */
    g_assert_cmpuint(rounds() - before, <, 2000);
    gint64 took = pause_all();
    g_test_message("pause during a 990 ms sleep took %" G_GINT64_FORMAT " us",
                   took);
    g_assert_cmpint(took, <, 200 * 1000);
    for (unsigned i = 0; i < cpus_count(); i++) {
        g_assert_true(cpu_get(i)->stopped);
    }
    /* Paused while throttled: nothing ticks a parked vCPU awake. */
    before = rounds();
    g_usleep(100 * 1000);
    g_assert_cmpuint(rounds(), ==, before);
    /* Resumed, still throttled, then stopped: runs flat out again. */
    resume();
    cpu_throttle_stop();
    g_usleep(1100 * 1000);      /* a sleep taken before stop ends */
    g_assert_cmpfloat(round_rate(200), >, 0);
    g_assert_cmpint(pause_all(), <, 200 * 1000);
    machine_down();
}

/* Pause and resume in a loop at every kind of throttle: no deadlock, and
 * every pause returns promptly. */
static void test_pause_resume_storm(void)
{
    static const int pcts[] = { 10, 50, 90, 99, 0 };

    machine_up(2);
    for (unsigned i = 0; i < 40; i++) {
        int pct = pcts[i % G_N_ELEMENTS(pcts)];

        if (pct) {
            cpu_throttle_set(pct);
        } else {
            cpu_throttle_stop();
        }
        resume();
        g_usleep(g_random_int_range(0, 30) * 1000);
        g_assert_cmpint(pause_all(), <, 500 * 1000);
    }
    /* a destroy while throttled and running leaves no thread behind */
    cpu_throttle_set(99);
    resume();
    g_usleep(30 * 1000);
    machine_down();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* ferry's devices register their state on the machine's context */
    g_assert_true(machine_migration_init(NULL));
    g_test_add_func("/cpu-throttle/math/sleep", test_sleep_math);
    g_test_add_func("/cpu-throttle/math/set-clamps", test_set_clamps);
    g_test_add_func("/cpu-throttle/math/steps", test_steps);
    g_test_add_func("/cpu-throttle/math/tailslow", test_tailslow);
    g_test_add_func("/cpu-throttle/math/trigger", test_trigger);
    g_test_add_func("/cpu-throttle/soft/slows-guest", test_throttle_slows_guest);
    g_test_add_func("/cpu-throttle/soft/sleep-parks-promptly",
                    test_sleep_parks_promptly);
    g_test_add_func("/cpu-throttle/soft/pause-resume-storm",
                    test_pause_resume_storm);
    return g_test_run();
}
