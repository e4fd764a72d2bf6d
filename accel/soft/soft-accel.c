/*
 * The soft accelerator: where /dev/kvm is missing, each vCPU thread runs
 * the test guest's workload (guest/workload/workload.c, the same source
 * the guest image runs in ring 3) directly against guest RAM.
 *
 * Who touches what:
 * - soft_state.ncpus, .wl, .prepared and each SoftCPU's ctx are written by
 *   init, vcpu_init and boot/prepare while every vCPU is parked; a vCPU
 *   thread reads them at vcpu_run entry, after taking and dropping the BQL,
 *   which orders it after those writes.  Each vCPU copies wl into its own
 *   SoftCPU so the hot loop reads nothing shared.
 * - the struct wl_cpu contexts (guest RAM) are written only by their own
 *   vCPU thread inside vcpu_run, and by boot while parked.
 * - SoftCPU.kicked: set by vcpu_kick (BQL held, any thread), cleared by
 *   vcpu_kick_clear (the vCPU thread, BQL held), polled without lock once
 *   per workload round.
 * - SoftCPU.in_run / quiesce_seq: written by the vCPU thread, read by
 *   dirty-log stop to know when no thread can still touch the bitmaps it
 *   frees (see soft-dirty.c).
 */
#include <string.h>
#include <time.h>
#include "soft-internal.h"
#include "hw/workload.h"
#include "system/cpus.h"
#include "util/error.h"
#include "util/log.h"

SoftState soft_state;

static bool soft_available(void)
{
    return true;
}

static bool soft_init(unsigned ncpus, GError **errp)
{
    if (ncpus == 0 || ncpus > WL_MAX_CPUS) {
        error_setg(errp, "-accel soft: %u vCPUs (1 to %d)", ncpus,
                   WL_MAX_CPUS);
        return false;
    }
    memset(&soft_state, 0, sizeof(soft_state));
    soft_state.ncpus = ncpus;
    return true;
}

/* RAM is host memory already; the workload finds it via guest_regions(). */
static bool soft_map_region(GuestRegion *r, GError **errp)
{
    return true;
}

/* The SoftCPUs are a static array, so nothing needs freeing at exit. */
static bool soft_vcpu_init(CPUState *cpu, GError **errp)
{
    SoftCPU *sc;

    if (cpu->index >= soft_state.ncpus) {
        error_setg(errp, "-accel soft: vCPU %u beyond the %u configured",
                   cpu->index, soft_state.ncpus);
        return false;
    }
    sc = &soft_state.cpus[cpu->index];
    memset(sc, 0, sizeof(*sc));
    sc->index = cpu->index;
    cpu->accel = sc;
    return true;
}

static bool soft_boot(CPUState *bsp, const BootEntry *boot, GError **errp)
{
    const struct wl_state *wl = &soft_state.wl;
    g_autofree char *rate = NULL;

    if (!soft_accel_prepare(boot->cmdline, errp)) {
        return false;
    }
    soft_accel_reset_contexts();
    rate = wl->cfg.dirty_rate == WL_RATE_MAX ? g_strdup("max") :
           g_strdup_printf("%" G_GUINT64_FORMAT " B/s", wl->cfg.dirty_rate);
    ferry_log("soft: %u vCPUs, %" G_GUINT64_FORMAT " pages under test, "
              "dirty-rate %s", wl->cfg.ncpus, wl->layout.total_pages, rate);
    return true;
}

static uint64_t soft_now_ns(void *opaque)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void soft_report(void *opaque, struct wl_report *r)
{
    workload_dev_report(r);
}

static void soft_mark_dirty(void *opaque, uint64_t gpa)
{
    soft_dirty_mark(gpa);
}

static bool soft_should_yield(void *opaque)
{
    SoftCPU *sc = opaque;

    /* Between rounds this thread holds no dirty bitmap: tell stop so.
     * Only this thread writes the counter, so no read-modify-write. */
    __atomic_store_n(&sc->quiesce_seq, sc->quiesce_seq + 1, __ATOMIC_SEQ_CST);
    return __atomic_load_n(&sc->kicked, __ATOMIC_ACQUIRE);
}

static void soft_log(void *opaque, const char *msg)
{
    ferry_log("soft: %s", msg);
}

static void soft_cpu_load(SoftCPU *sc)
{
    sc->wl = soft_state.wl;
    sc->wl.any_round_ns = &soft_state.any_round_ns;
    sc->wl.ops = (struct wl_ops){
        .now_ns = soft_now_ns,
        .report = soft_report,
        .mark_dirty = soft_mark_dirty,
        .should_yield = soft_should_yield,
        .log = soft_log,
        .opaque = sc,
    };
}

static VCPUExit soft_vcpu_run(CPUState *cpu)
{
    SoftCPU *sc = cpu->accel;

    if (!soft_state.prepared) {
        ferry_log("soft: vCPU %u resumed before the workload was set up",
                  sc->index);
        return VCPU_EXIT_ERROR;
    }
    soft_cpu_load(sc);
    __atomic_store_n(&sc->in_run, 1, __ATOMIC_SEQ_CST);
    wl_run(&sc->wl, sc->ctx);
    /* The context is written with plain stores all along; log its page
     * after the last one, so a sync once we are parked sends it. */
    soft_dirty_mark(sc->ctx_gpa);
    __atomic_store_n(&sc->in_run, 0, __ATOMIC_SEQ_CST);
    /* Counters not yet reported stay in the context, as under KVM: they
     * go out within WL_REPORT_NS of resuming, here or after migration.
     * wl_run returns unasked only for a vCPU that owns no page: idle. */
    while (!__atomic_load_n(&sc->kicked, __ATOMIC_ACQUIRE)) {
        g_usleep(1000);
    }
    return VCPU_EXIT_KICKED;
}

static void soft_vcpu_kick(CPUState *cpu)
{
    SoftCPU *sc = cpu->accel;

    __atomic_store_n(&sc->kicked, 1, __ATOMIC_RELEASE);
}

static void soft_vcpu_kick_clear(CPUState *cpu)
{
    SoftCPU *sc = cpu->accel;

    __atomic_store_n(&sc->kicked, 0, __ATOMIC_RELEASE);
}

/* The soft guest has no TSC; the workload uses CLOCK_MONOTONIC. */
static uint64_t soft_tsc_khz(void)
{
    return 0;
}

const AccelOps soft_accel_ops = {
    .name = "soft",
    .available = soft_available,
    .init = soft_init,
    .map_region = soft_map_region,
    .vcpu_init = soft_vcpu_init,
    .boot = soft_boot,
    .vcpu_run = soft_vcpu_run,
    .vcpu_kick = soft_vcpu_kick,
    .vcpu_kick_clear = soft_vcpu_kick_clear,
    .tsc_khz = soft_tsc_khz,
    .dirty_log = &soft_dirty_log_ops,
};
