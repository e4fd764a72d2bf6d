/*
 * KVM vCPU and VM state, captured and restored under a running guest, in
 * the spirit of the KVM selftests' state tests: the built-in guest keeps
 * writing and verifying its memory, so any state that is lost or restored
 * wrongly shows as a corrupt page, a stalled workload or a dead vCPU.
 *
 *   round-trip  pause, capture, put the same state back, run on;
 *   rewind      capture state and RAM, run on, then put both back: the
 *               guest continues from the earlier point (what a migration
 *               destination does);
 *   recreate    capture, destroy the VM, build a new one, copy RAM in, put
 *               the state: the guest continues in a VM that never ran it.
 */
#include <string.h>
#include <unistd.h>
#include "system/migration-vmm.h"
#include "accel/kvm-state.h"
#include "hw/pc.h"
#include "hw/workload.h"
#include "system/cpus.h"
#include "system/machine.h"
#include "system/memory.h"
#include "util/error.h"
/* Only to close the VM between two machines: AccelOps has no teardown. */
#include "../../accel/kvm/kvm-internal.h"

#define MiB (1ULL << 20)
#define RAM_SIZE (64 * MiB)
#define SMP 2
#define PATIENCE_US (20 * G_USEC_PER_SEC)

typedef struct Snapshot {
    X86CPUState cpu[SMP];
    KVMVMState vm;
    uint8_t *ram;               /* copy of pc.ram, or NULL */
} Snapshot;

static bool kvm_usable(void)
{
    if (kvm_accel_ops.available()) {
        return true;
    }
    g_test_skip("/dev/kvm is missing or not read-write for this user");
    return false;
}

static void machine_config(MachineConfig *cfg)
{
    machine_config_init(cfg);
    cfg->accel = g_strdup("kvm");
    cfg->smp = SMP;
    cfg->ram_size = RAM_SIZE;
    cfg->append = g_strdup("dirty-rate=64M");
}

static void machine_up(const MachineConfig *cfg)
{
    g_autoptr(GError) err = NULL;

    if (!pc_machine_init(cfg, &err)) {
        g_error("pc_machine_init: %s", err->message);
    }
}

static void machine_down(void)
{
    pc_machine_cleanup();
    /* The vCPU fds are closed; drop the VM before its memory goes. */
    if (kvm_state.vm_fd >= 0) {
        close(kvm_state.vm_fd);
    }
    if (kvm_state.kvm_fd >= 0) {
        close(kvm_state.kvm_fd);
    }
    g_clear_pointer(&kvm_state.cpuid, g_free);
    kvm_state.vm_fd = kvm_state.kvm_fd = -1;
    ram_blocks_destroy();
}

static void pause_all(void)
{
    bql_lock();
    cpus_pause_all();
    bql_unlock();
}

static void resume_all(void)
{
    bql_lock();
    cpus_resume_all();
    bql_unlock();
}

static void assert_all_alive(void)
{
    bql_lock();
    for (unsigned i = 0; i < cpus_count(); i++) {
        if (cpu_get(i)->halted) {
            bql_unlock();
            g_error("vCPU %u stopped for good (see the log above)", i);
        }
    }
    bql_unlock();
}

static WorkloadCounters counters(void)
{
    WorkloadCounters c;

    workload_dev_query(&c);
    return c;
}

/* Runs until @passes full verify passes are counted; leaves the VM paused. */
static WorkloadCounters run_until_passes(uint64_t passes)
{
    gint64 deadline = g_get_monotonic_time() + PATIENCE_US;
    WorkloadCounters c;

    resume_all();
    for (;;) {
        g_usleep(50 * 1000);
        c = counters();
        if (c.full_verify_passes >= passes || c.corrupt_pages) {
            break;
        }
        assert_all_alive();
        if (g_get_monotonic_time() > deadline) {
            g_error("only %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                    " full verify passes within %d s (rounds %" G_GUINT64_FORMAT
                    ")", c.full_verify_passes, passes,
                    (int)(PATIENCE_US / G_USEC_PER_SEC), c.rounds);
        }
    }
    pause_all();
    assert_all_alive();
    return counters();
}

static void run_for_ms(unsigned ms)
{
    resume_all();
    g_usleep(ms * 1000);
    pause_all();
    assert_all_alive();
}

static RAMBlock *pc_ram(void)
{
    RAMBlock *rb = ram_block_find("pc.ram");

    g_assert_nonnull(rb);
    g_assert_cmpuint(rb->size, ==, RAM_SIZE);
    return rb;
}

static void snapshot_take(Snapshot *s, bool with_ram)
{
    g_autoptr(GError) err = NULL;

    g_assert_cmpuint(cpus_count(), ==, SMP);
    for (unsigned i = 0; i < SMP; i++) {
        if (!kvm_cpu_state_get(cpu_get(i), &s->cpu[i], &err)) {
            g_error("%s", err->message);
        }
    }
    if (!kvm_vm_state_get(&s->vm, &err)) {
        g_error("%s", err->message);
    }
    if (with_ram) {
        s->ram = g_memdup2(pc_ram()->host, RAM_SIZE);
    }
}

/* VM state first, as QEMU loads devices before it puts the registers. */
static void snapshot_restore(const Snapshot *s)
{
    g_autoptr(GError) err = NULL;

    if (s->ram) {
        memcpy(pc_ram()->host, s->ram, RAM_SIZE);
    }
    if (!kvm_vm_state_put(&s->vm, &err)) {
        g_error("%s", err->message);
    }
    for (unsigned i = 0; i < SMP; i++) {
        if (!kvm_cpu_state_put(cpu_get(i), &s->cpu[i], &err)) {
            g_error("%s", err->message);
        }
    }
}

static void snapshot_free(Snapshot *s)
{
    g_clear_pointer(&s->ram, g_free);
}

static uint64_t state_tsc(const X86CPUState *s)
{
    uint64_t tsc;

    g_assert_true(x86_cpu_state_msr(s, MSR_IA32_TSC, &tsc));
    return tsc;
}

/*
 * The state read back right after a put must be the state put, except
 * what moves on its own while the vCPU is stopped: the TSC (checked to
 * continue from the captured value, not from the host's) and the LAPIC
 * timer's current count.
 */
static void assert_state_loaded(const X86CPUState *want, unsigned cpu,
                                uint64_t tsc_slack)
{
    g_autoptr(GError) err = NULL;
    g_autofree X86CPUState *got = g_new0(X86CPUState, 1);
    uint64_t t0 = state_tsc(want), t1;

    if (!kvm_cpu_state_get(cpu_get(cpu), got, &err)) {
        g_error("%s", err->message);
    }
    g_assert_cmpmem(&got->regs, sizeof(got->regs),
                    &want->regs, sizeof(want->regs));
    g_assert_cmpmem(&got->sregs, sizeof(got->sregs),
                    &want->sregs, sizeof(want->sregs));
    g_assert_cmpuint(got->mp_state.mp_state, ==, want->mp_state.mp_state);
    g_assert_cmpuint(got->xsave_len, ==, want->xsave_len);
    g_assert_cmpmem(got->xsave, got->xsave_len, want->xsave, want->xsave_len);
    g_assert_cmpmem(&got->xcrs, sizeof(got->xcrs),
                    &want->xcrs, sizeof(want->xcrs));
    g_assert_cmpmem(&got->events, sizeof(got->events),
                    &want->events, sizeof(want->events));
    g_assert_cmpmem(&got->debugregs, sizeof(got->debugregs),
                    &want->debugregs, sizeof(want->debugregs));
    /* LAPIC registers but the timer's current count (0x390). */
    g_assert_cmpmem(got->lapic.regs, 0x390, want->lapic.regs, 0x390);
    g_assert_cmpmem(got->lapic.regs + 0x3a0, sizeof(got->lapic.regs) - 0x3a0,
                    want->lapic.regs + 0x3a0, sizeof(want->lapic.regs) - 0x3a0);
    g_assert_cmpuint(got->nmsrs, ==, want->nmsrs);
    for (uint32_t i = 0; i < want->nmsrs; i++) {
        g_assert_cmphex(got->msrs[i].index, ==, want->msrs[i].index);
        if (want->msrs[i].index != MSR_IA32_TSC) {
            g_assert_cmphex(got->msrs[i].data, ==, want->msrs[i].data);
        }
    }
    t1 = state_tsc(got);
    g_assert_cmpuint(t1, >=, t0);
    if (kvm_state_tsc_restorable()) {
        g_assert_cmpuint(t1 - t0, <, tsc_slack);
    }
}

static uint64_t tsc_per_second(void)
{
    uint64_t khz = kvm_accel_ops.tsc_khz();

    return khz ? khz * 1000 : 1000000000ull;
}

/* --- tests ------------------------------------------------------------------ */

static void test_capture(void)
{
    MachineConfig cfg;
    g_autofree Snapshot *s = g_new0(Snapshot, 1);

    if (!kvm_usable()) {
        return;
    }
    machine_config(&cfg);
    machine_up(&cfg);
    run_until_passes(1);
    snapshot_take(s, false);
    for (unsigned i = 0; i < SMP; i++) {
        const X86CPUState *c = &s->cpu[i];
        /* The workload runs in 64-bit ring 3 on every vCPU. */
        g_assert_cmphex(c->sregs.efer & 0x500, ==, 0x500);  /* LME | LMA */
        g_assert_cmpuint(c->sregs.cs.dpl, ==, 3);
        g_assert_cmpuint(c->sregs.cs.l, ==, 1);
        g_assert_cmpuint(c->mp_state.mp_state, ==, KVM_MP_STATE_RUNNABLE);
        g_assert_cmphex(c->sregs.apic_base & 0xfffff000, ==, 0xfee00000);
        g_assert_cmpuint(!!(c->sregs.apic_base & 0x100), ==, i == 0);
        g_assert_cmpuint(state_tsc(c), >, 0);
        g_assert_true(c->valid & (X86_STATE_XSAVE | X86_STATE_FPU));
        g_test_message("vCPU %u: rip 0x%llx, %u MSRs, xsave %u bytes, "
                       "valid 0x%x", i, c->regs.rip, c->nmsrs, c->xsave_len,
                       c->valid);
    }
    g_assert_cmpuint(s->vm.ioapic.chip_id, ==, KVM_IRQCHIP_IOAPIC);
    machine_down();
    machine_config_clear(&cfg);
}

static void test_round_trip(void)
{
    MachineConfig cfg;
    g_autofree Snapshot *s = g_new0(Snapshot, 1);
    WorkloadCounters before, after;

    if (!kvm_usable()) {
        return;
    }
    machine_config(&cfg);
    machine_up(&cfg);
    before = run_until_passes(1);
    for (int round = 0; round < 3; round++) {
        snapshot_take(s, false);
        snapshot_restore(s);
        for (unsigned i = 0; i < SMP; i++) {
            assert_state_loaded(&s->cpu[i], i, tsc_per_second() / 2);
        }
        run_for_ms(300);
    }
    after = run_until_passes(before.full_verify_passes + 2);
    g_assert_cmpuint(after.corrupt_pages, ==, 0);
    g_assert_cmpuint(after.rounds, >, before.rounds);
    machine_down();
    machine_config_clear(&cfg);
}

static void test_rewind(void)
{
    MachineConfig cfg;
    g_autofree Snapshot *s = g_new0(Snapshot, 1);
    WorkloadCounters at_capture, later, after;

    if (!kvm_usable()) {
        return;
    }
    machine_config(&cfg);
    machine_up(&cfg);
    at_capture = run_until_passes(1);
    snapshot_take(s, true);
    /* Let the guest move well past the capture: more than a second of
     * TSC, and pages rewritten with newer generations. */
    run_for_ms(1200);
    later = counters();
    g_assert_cmpuint(later.pages_written, >, at_capture.pages_written);
    snapshot_restore(s);
    for (unsigned i = 0; i < SMP; i++) {
        /* The TSC goes back to the captured value, not on with the host. */
        assert_state_loaded(&s->cpu[i], i, tsc_per_second() / 2);
    }
    after = run_until_passes(later.full_verify_passes + 2);
    g_assert_cmpuint(after.corrupt_pages, ==, 0);
    g_assert_cmpuint(after.pages_written, >, later.pages_written);
    snapshot_free(s);
    machine_down();
    machine_config_clear(&cfg);
}

static void test_recreate(void)
{
    MachineConfig cfg;
    g_autofree Snapshot *s = g_new0(Snapshot, 1);
    WorkloadCounters after;

    if (!kvm_usable()) {
        return;
    }
    machine_config(&cfg);
    machine_up(&cfg);
    run_until_passes(1);
    run_for_ms(200);
    snapshot_take(s, true);
    machine_down();

    /* A VM that never ran the guest: the loader put a fresh kernel in its
     * RAM and the BSP at the Multiboot entry, the APs wait for INIT. */
    machine_up(&cfg);
    snapshot_restore(s);
    for (unsigned i = 0; i < SMP; i++) {
        assert_state_loaded(&s->cpu[i], i, tsc_per_second() / 2);
    }
    /* The device's counters start at zero in the new VM. */
    after = run_until_passes(2);
    g_assert_cmpuint(after.corrupt_pages, ==, 0);
    g_assert_cmpuint(after.rounds, >, 0);
    g_assert_cmpuint(after.pages_verified, >, 0);
    snapshot_free(s);
    machine_down();
    machine_config_clear(&cfg);
}

/* Errors name the ioctl: a state KVM must refuse (CR0.PG without PE). */
static void test_error_names_ioctl(void)
{
    MachineConfig cfg;
    g_autofree X86CPUState *s = g_new0(X86CPUState, 1);
    g_autoptr(GError) err = NULL;

    if (!kvm_usable()) {
        return;
    }
    machine_config(&cfg);
    machine_up(&cfg);
    g_assert_true(kvm_cpu_state_get(cpu_get(0), s, &err));
    g_assert_no_error(err);
    s->sregs.cr0 = 0x80000000;      /* PG without PE: invalid */
    g_assert_false(kvm_cpu_state_put(cpu_get(0), s, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "KVM_SET_SREGS"));
    g_assert_nonnull(strstr(err->message, "vCPU 0"));
    machine_down();
    machine_config_clear(&cfg);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* ferry's devices register their state on the machine's context */
    g_assert_true(machine_migration_init(NULL));
    g_test_add_func("/kvm-state/capture", test_capture);
    g_test_add_func("/kvm-state/error-names-ioctl", test_error_names_ioctl);
    g_test_add_func("/kvm-state/round-trip", test_round_trip);
    g_test_add_func("/kvm-state/rewind", test_rewind);
    g_test_add_func("/kvm-state/recreate", test_recreate);
    return g_test_run();
}
