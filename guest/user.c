/*
 * Ring 3: the workload and its platform hooks.  Reports go to the workload
 * device by one MMIO write (the VMM reads the record during that exit);
 * without the device (under QEMU) they are summed here and printed on the
 * serial console through the system-call gate.
 */
#include "guest/agent.h"
#include "guest/disk.h"
#include "guest/kernel.h"
#include "guest/power-dev.h"

/* A poll is an MMIO exit: often enough for a prompt shutdown, no more. */
#define POWER_POLL_NS 20000000ull

static struct wl_state wl_state;
static struct wl_cpu wl_cpus[MAX_CPUS];
static volatile int workload_ready;
static struct wl_report totals[MAX_CPUS];
static uint64_t last_print_ns[MAX_CPUS];
/* The longest stall since the previous counters line, per vCPU: QEMU has no
 * x-workload-reset-stall, so a benchmark reads the blackout of a migration
 * from the line whose window spans it. */
static uint64_t window_stall_ns[MAX_CPUS];
static uint64_t window_guest_stall_ns[MAX_CPUS];
/* When any vCPU last came round (struct wl_state's any_round_ns). */
static uint64_t any_round_ns;
static uint64_t last_power_poll_ns;

static long sys(long nr, const void *arg)
{
    long ret;

    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "D"(arg) : "memory");
    return ret;
}

static uint64_t now_ns(void *opaque)
{
    unsigned __int128 p = (unsigned __int128)rdtsc() * platform.ns_mult;

    return (uint64_t)(p >> 32);
}

static void print_totals(const struct wl_report *t, uint64_t now)
{
    char line[320];

    snprintf(line, sizeof(line),
             "workload: cpu %u rounds=%lu pages-written=%lu "
             "pages-verified=%lu passes=%lu corrupt-pages=%lu "
             "max-stall-us=%lu window-stall-us=%lu window-guest-stall-us=%lu",
             t->cpu, t->rounds, t->pages_written, t->pages_verified,
             t->passes, t->corrupt_pages, t->max_stall_ns / 1000,
             window_stall_ns[t->cpu] / 1000,
             window_guest_stall_ns[t->cpu] / 1000);
    sys(SYS_LOG, line);
    last_print_ns[t->cpu] = now;
    window_stall_ns[t->cpu] = 0;
    window_guest_stall_ns[t->cpu] = 0;
}

static void report(void *opaque, struct wl_report *r)
{
    struct wl_report *t = &totals[r->cpu];
    uint64_t now;

    if (platform.have_device) {
        mmio_write64(WL_DEV_BASE + WL_REG_REPORT, (uint64_t)r);
        return;
    }
    t->cpu = r->cpu;
    t->rounds += r->rounds;
    t->pages_written += r->pages_written;
    t->pages_verified += r->pages_verified;
    t->passes += r->passes;
    t->corrupt_pages += r->corrupt_pages;
    if (r->max_stall_ns > t->max_stall_ns) {
        t->max_stall_ns = r->max_stall_ns;
    }
    if (r->max_stall_ns > window_stall_ns[r->cpu]) {
        window_stall_ns[r->cpu] = r->max_stall_ns;
    }
    if (r->max_guest_stall_ns > window_guest_stall_ns[r->cpu]) {
        window_guest_stall_ns[r->cpu] = r->max_guest_stall_ns;
    }
    now = now_ns(opaque);
    if (r->corrupt_pages || now - last_print_ns[r->cpu] > 2000000000ull) {
        print_totals(t, now);
    }
}

static void log_msg(void *opaque, const char *msg)
{
    sys(SYS_LOG, msg);
}

static void fail(const char *what, const char *arg)
{
    char msg[160];

    snprintf(msg, sizeof(msg), "%s%s", what, arg);
    sys(SYS_PANIC, msg);
}

/*
 * The power button was pressed: a clean shutdown.  The disk's writes are
 * completed and flushed and the last counters reported before the machine
 * is told to power off; the other vCPUs' unreported rounds are lost with
 * the machine, as any work a powered-off computer did not save.
 */
static __attribute__((noreturn)) void power_off(struct wl_report *pending)
{
    sys(SYS_LOG, "ferry-guest: power button pressed, shutting down");
    disk_quiesce(pending);
    report(0, pending);
    mmio_write64(POWER_DEV_BASE + POWER_REG_CONTROL, POWER_CTL_OFF);
    for (;;) {
        cpu_relax();    /* the machine goes away (or pauses) under us */
    }
}

/* cpu 0, once per round: the disk workload, the agent, then the power
 * button. */
static void tick(void *opaque, struct wl_report *pending, uint64_t now)
{
    if (disk_enabled()) {
        disk_tick(opaque, pending, now);
    }
    if (agent_enabled()) {
        agent_tick(now);
    }
    if (platform.have_power_button &&
        now - last_power_poll_ns >= POWER_POLL_NS) {
        last_power_poll_ns = now;
        if (mmio_read64(POWER_DEV_BASE + POWER_REG_STATUS) &
            POWER_STATUS_PRESSED) {
            power_off(pending);
        }
    }
}

/* cpu 0 lays the workload out while the others wait for it. */
static void setup_workload(void)
{
    const char *bad = 0;
    uint64_t ram_bytes = 0, reserved_end = boot_info.reserved_end;
    char line[200];

    wl_state.cfg.ncpus = boot_info.ncpus;
    wl_state.any_round_ns = &any_round_ns;
    if (!wl_parse_cmdline(boot_info.cmdline, &wl_state.cfg, &bad)) {
        fail("malformed dirty-rate or fill in the command line: ", bad);
    }
    /* The disk workload's memory comes first, above the kernel. */
    if (!disk_setup(boot_info.cmdline, boot_info.ram, boot_info.nr_ram,
                    &reserved_end, log_msg, 0, &bad)) {
        fail("malformed disk-rate in the command line: ", bad);
    }
    /* Then the agent's, when there is a channel for it. */
    agent_setup(boot_info.ram, boot_info.nr_ram, &reserved_end, log_msg, 0);
    if (!wl_layout_init(&wl_state.layout, boot_info.ram, boot_info.nr_ram,
                        reserved_end)) {
        fail("no RAM left for the workload", "");
    }
    for (unsigned i = 0; i < boot_info.nr_ram; i++) {
        ram_bytes += boot_info.ram[i].npages * WL_PAGE_SIZE;
    }
    for (unsigned c = 0; c < wl_state.cfg.ncpus; c++) {
        wl_cpu_init(&wl_state, &wl_cpus[c], c);
    }
    wl_state.ops = (struct wl_ops){
        .now_ns = now_ns,
        .report = report,
        .log = log_msg,
        .tick = tick,
    };
    snprintf(line, sizeof(line),
             "ferry-guest: %u cpus, %lu MiB RAM, %lu pages under test, "
             "dirty-rate %s, tsc %lu kHz, reporting to the %s",
             wl_state.cfg.ncpus, ram_bytes >> 20, wl_state.layout.total_pages,
             boot_info.cmdline[0] ? boot_info.cmdline : "0",
             platform.tsc_khz,
             platform.have_device ? "workload device" : "serial console");
    sys(SYS_LOG, line);
}

void user_main(unsigned cpu)
{
    if (cpu == 0) {
        static struct wl_report hello = { .flags = WL_REPORT_BOOT };
        setup_workload();
        report(0, &hello);
        __atomic_store_n(&workload_ready, 1, __ATOMIC_RELEASE);
    }
    while (!__atomic_load_n(&workload_ready, __ATOMIC_ACQUIRE)) {
        cpu_relax();
    }
    wl_run(&wl_state, &wl_cpus[cpu]);
    sys(SYS_PANIC, "workload returned");
}
