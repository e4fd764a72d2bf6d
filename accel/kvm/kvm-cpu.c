/*
 * The KVM accelerator, per-vCPU part: creation, CPUID, the Multiboot entry
 * state of the boot processor, and the run loop.  Port I/O and MMIO exits
 * are dispatched without the BQL (devices lock themselves), so the loop
 * only returns to the generic vCPU thread when kicked or when the guest is
 * gone.  Returning only after KVM_RUN came back with EINTR means a pending
 * MMIO read has been completed by KVM: the vCPU state is consistent
 * whenever the thread parks.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "kvm-internal.h"
#include "system/cpus.h"
#include "system/ioport.h"
#include "system/runstate.h"
#include "util/error.h"
#include "util/log.h"

static void set_apic_id(struct kvm_cpuid2 *c, unsigned id)
{
    for (uint32_t i = 0; i < c->nent; i++) {
        struct kvm_cpuid_entry2 *e = &c->entries[i];
        if (e->function == 1) {
            e->ebx = (e->ebx & 0x00ffffff) | (id << 24);
        } else if (e->function == 0xb || e->function == 0x1f) {
            e->edx = id;
        }
    }
}

bool kvm_vcpu_init(CPUState *cpu, GError **errp)
{
    KVMCPU *kc = g_new0(KVMCPU, 1);
    size_t sz = sizeof(struct kvm_cpuid2) +
                kvm_state.cpuid->nent * sizeof(struct kvm_cpuid_entry2);
    g_autofree struct kvm_cpuid2 *cpuid = g_memdup2(kvm_state.cpuid, sz);

    cpu->accel = kc;
    kc->fd = ioctl(kvm_state.vm_fd, KVM_CREATE_VCPU, cpu->index);
    if (kc->fd < 0) {
        error_setg_errno(errp, errno, "KVM_CREATE_VCPU %u", cpu->index);
        return false;
    }
    kc->run = mmap(NULL, (size_t)kvm_state.vcpu_mmap_size,
                   PROT_READ | PROT_WRITE, MAP_SHARED, kc->fd, 0);
    if (kc->run == MAP_FAILED) {
        kc->run = NULL;
        error_setg_errno(errp, errno, "mmap of vCPU %u run area", cpu->index);
        return false;
    }
    set_apic_id(cpuid, cpu->index);
    if (ioctl(kc->fd, KVM_SET_CPUID2, cpuid) < 0) {
        error_setg_errno(errp, errno, "KVM_SET_CPUID2 on vCPU %u", cpu->index);
        return false;
    }
    if (cpu->index == 0) {
        int khz = ioctl(kc->fd, KVM_GET_TSC_KHZ, 0);
        kvm_state.tsc_khz = khz > 0 ? (uint64_t)khz : 0;
    }
    return true;
}

void kvm_vcpu_destroy(CPUState *cpu)
{
    KVMCPU *kc = cpu->accel;

    if (cpu->index == 0) {
        kvm_reset_cleanup();    /* the machine's vCPUs are going away */
    }
    if (!kc) {
        return;
    }
    if (kc->run) {
        munmap(kc->run, (size_t)kvm_state.vcpu_mmap_size);
    }
    if (kc->fd >= 0) {
        close(kc->fd);
    }
    g_free(kc);
    cpu->accel = NULL;
}

static struct kvm_segment flat_segment(uint16_t selector, uint8_t type)
{
    return (struct kvm_segment){
        .base = 0, .limit = 0xffffffff, .selector = selector, .type = type,
        .present = 1, .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1,
    };
}

/* The machine state Multiboot v1 promises: flat 32-bit protected mode,
 * paging off, EAX = magic, EBX = the info structure. */
bool kvm_boot(CPUState *bsp, const BootEntry *boot, GError **errp)
{
    KVMCPU *kc = bsp->accel;
    struct kvm_sregs sregs;
    struct kvm_regs regs = {
        .rax = 0x2BADB002, .rbx = boot->mbi, .rip = boot->entry, .rflags = 2,
    };

    if (!kvm_reset_capture(errp)) {
        return false;
    }

    if (ioctl(kc->fd, KVM_GET_SREGS, &sregs) < 0) {
        error_setg_errno(errp, errno, "KVM_GET_SREGS");
        return false;
    }
    sregs.cs = flat_segment(0x08, 0xb);
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = flat_segment(0x10, 0x3);
    sregs.cr0 = 0x11;           /* PE | ET */
    sregs.cr4 = 0;
    sregs.efer = 0;
    if (ioctl(kc->fd, KVM_SET_SREGS, &sregs) < 0 ||
        ioctl(kc->fd, KVM_SET_REGS, &regs) < 0) {
        error_setg_errno(errp, errno, "setting the boot vCPU's registers");
        return false;
    }
    return true;
}

static void handle_pio(struct kvm_run *run)
{
    uint8_t *data = (uint8_t *)run + run->io.data_offset;

    for (uint32_t i = 0; i < run->io.count; i++) {
        io_dispatch(IO_SPACE_PIO, run->io.port, data, run->io.size,
                    run->io.direction == KVM_EXIT_IO_OUT);
        data += run->io.size;
    }
}

static VCPUExit guest_gone(CPUState *cpu, const char *why)
{
    KVMCPU *kc = cpu->accel;
    struct kvm_regs regs = { 0 };
    struct kvm_sregs sregs = { 0 };

    ioctl(kc->fd, KVM_GET_REGS, &regs);
    ioctl(kc->fd, KVM_GET_SREGS, &sregs);
    ferry_log("vcpu%u: %s (exit reason %u, suberror %u) at rip 0x%llx "
              "cs 0x%x cr0 0x%llx cr3 0x%llx cr4 0x%llx efer 0x%llx",
              cpu->index, why, kc->run->exit_reason,
              kc->run->exit_reason == KVM_EXIT_INTERNAL_ERROR ?
              kc->run->internal.suberror : 0,
              regs.rip, sregs.cs.selector, sregs.cr0, sregs.cr3, sregs.cr4,
              sregs.efer);
    return VCPU_EXIT_HALTED;
}

VCPUExit kvm_vcpu_run(CPUState *cpu)
{
    KVMCPU *kc = cpu->accel;
    struct kvm_run *run = kc->run;

    for (;;) {
        if (ioctl(kc->fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                return VCPU_EXIT_KICKED;
            }
            ferry_log("vcpu%u: KVM_RUN: %s", cpu->index, g_strerror(errno));
            return VCPU_EXIT_ERROR;
        }
        switch (run->exit_reason) {
        case KVM_EXIT_IO:
            handle_pio(run);
            break;
        case KVM_EXIT_MMIO:
            io_dispatch(IO_SPACE_MMIO, run->mmio.phys_addr, run->mmio.data,
                        run->mmio.len, run->mmio.is_write);
            break;
        case KVM_EXIT_INTR:
            return VCPU_EXIT_KICKED;
        case KVM_EXIT_HLT:
            return guest_gone(cpu, "guest halted");
        case KVM_EXIT_SHUTDOWN:
            /* A triple fault resets a PC (or ends ferry with -no-reboot) */
            ferry_request_reset(true, "guest-reset");
            return guest_gone(cpu, "guest triple fault");
        case KVM_EXIT_FAIL_ENTRY:
            return guest_gone(cpu, "KVM entry failed");
        case KVM_EXIT_INTERNAL_ERROR:
            return guest_gone(cpu, "KVM internal error");
        default:
            return guest_gone(cpu, "unhandled exit");
        }
    }
}

void kvm_vcpu_kick(CPUState *cpu)
{
    KVMCPU *kc = cpu->accel;

    __atomic_store_n(&kc->run->immediate_exit, 1, __ATOMIC_RELEASE);
}

void kvm_vcpu_kick_clear(CPUState *cpu)
{
    KVMCPU *kc = cpu->accel;

    __atomic_store_n(&kc->run->immediate_exit, 0, __ATOMIC_RELEASE);
}
