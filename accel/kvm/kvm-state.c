/*
 * Capture and restore of KVM vCPU and VM state (include/accel/kvm-state.h).
 *
 * Order matters, and follows QEMU's kvm_arch_get/put_registers and the
 * kernel's checks:
 *
 * get: events, mp_state first: KVM_GET_MP_STATE first makes KVM accept
 *      pending INIT/SIPI, which can change CS and RIP, so registers are
 *      read after it.  Then regs, xsave, xcrs, sregs, MSRs, LAPIC, debug
 *      registers.
 *
 * put: sregs    first: CR0/CR4/EFER decide how everything else is read,
 *               and APIC_BASE must be in place before KVM_SET_LAPIC (which
 *               re-applies vcpu->arch.apic_base);
 *      regs, xsave (or fpu), xcrs;
 *      MSRs     TSC before the LAPIC, so a restarted LAPIC timer counts
 *               from the guest's restored TSC;
 *      LAPIC    after sregs (APIC base) and TSC;
 *      TSC_DEADLINE  after the LAPIC: KVM_SET_LAPIC cancels the timer;
 *      events   after sregs: KVM_SET_SREGS can queue an interrupt, the
 *               events say what is really pending (exception, interrupt,
 *               NMI, SMM, latched INIT);
 *      mp_state after events: KVM refuses INIT_RECEIVED/SIPI_RECEIVED
 *               when the events (SMM, latched INIT) block INIT/SIPI, and
 *               SIPI_RECEIVED sets a pending SIPI in the LAPIC, so it also
 *               comes after the LAPIC.  On a fresh VM the APs start
 *               UNINITIALIZED: without this they would never run again;
 *      debug registers last, as QEMU does.
 *
 * Capabilities are checked on each call (a few KVM_CHECK_EXTENSION): the
 * accelerator may be re-created (tests), and the cost is noise next to
 * the ioctls themselves.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include "accel/kvm-state.h"
#include "kvm-internal.h"
#include "util/error.h"
#include "util/log.h"

/* The MSRs we carry, TSC first; each only if KVM_GET_MSR_INDEX_LIST has it. */
static const uint32_t carried_msrs[] = {
    MSR_IA32_TSC, MSR_IA32_TSC_ADJUST,
    MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SFMASK, MSR_KERNEL_GS_BASE,
    MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP,
    MSR_IA32_CR_PAT, MSR_IA32_MISC_ENABLE, MSR_TSC_AUX,
    MSR_IA32_TSC_DEADLINE,
};
G_STATIC_ASSERT(G_N_ELEMENTS(carried_msrs) <= X86_CPU_MAX_MSRS);

typedef struct KVMCaps {
    bool sregs2;
    int xsave_size;             /* 0: no XSAVE */
    bool xcrs;
    bool debugregs;
} KVMCaps;

static int check_extension(int cap)
{
    int r = ioctl(kvm_state.kvm_fd, KVM_CHECK_EXTENSION, cap);

    return r > 0 ? r : 0;
}

static KVMCaps kvm_caps(void)
{
    KVMCaps c = {
        .sregs2 = check_extension(KVM_CAP_SREGS2),
        .xsave_size = check_extension(KVM_CAP_XSAVE2),
        .xcrs = check_extension(KVM_CAP_XCRS),
        .debugregs = check_extension(KVM_CAP_DEBUGREGS),
    };

    if (!c.xsave_size && check_extension(KVM_CAP_XSAVE)) {
        c.xsave_size = sizeof(struct kvm_xsave);
    }
    if (c.xsave_size && c.xsave_size < (int)sizeof(struct kvm_xsave)) {
        c.xsave_size = sizeof(struct kvm_xsave);
    }
    return c;
}

static bool vcpu_ioctl(CPUState *cpu, unsigned long req, const char *name,
                       void *arg, GError **errp)
{
    KVMCPU *kc = cpu->accel;

    if (ioctl(kc->fd, req, arg) < 0) {
        error_setg_errno(errp, errno, "%s on vCPU %u", name, cpu->index);
        return false;
    }
    return true;
}

#define VCPU_IOCTL(cpu, req, arg, errp) \
    vcpu_ioctl((cpu), (req), #req, (arg), (errp))

static void warn_once(bool *warned, const char *what)
{
    if (!__atomic_exchange_n(warned, true, __ATOMIC_RELAXED)) {
        ferry_log("kvm-state: KVM lacks %s; that state is not carried", what);
    }
}

static bool warned_xcrs, warned_debugregs;

/* --- sregs: always kept in the sregs2 layout -------------------------------- */

static void sregs_to_sregs2(const struct kvm_sregs *a, struct kvm_sregs2 *b)
{
    b->cs = a->cs; b->ds = a->ds; b->es = a->es; b->fs = a->fs;
    b->gs = a->gs; b->ss = a->ss; b->tr = a->tr; b->ldt = a->ldt;
    b->gdt = a->gdt; b->idt = a->idt;
    b->cr0 = a->cr0; b->cr2 = a->cr2; b->cr3 = a->cr3; b->cr4 = a->cr4;
    b->cr8 = a->cr8; b->efer = a->efer; b->apic_base = a->apic_base;
    b->flags = 0;
}

static void sregs2_to_sregs(const struct kvm_sregs2 *b, struct kvm_sregs *a)
{
    memset(a, 0, sizeof(*a));   /* interrupt_bitmap: events carry it */
    a->cs = b->cs; a->ds = b->ds; a->es = b->es; a->fs = b->fs;
    a->gs = b->gs; a->ss = b->ss; a->tr = b->tr; a->ldt = b->ldt;
    a->gdt = b->gdt; a->idt = b->idt;
    a->cr0 = b->cr0; a->cr2 = b->cr2; a->cr3 = b->cr3; a->cr4 = b->cr4;
    a->cr8 = b->cr8; a->efer = b->efer; a->apic_base = b->apic_base;
}

static bool get_sregs(CPUState *cpu, const KVMCaps *c, X86CPUState *s,
                      GError **errp)
{
    struct kvm_sregs old;

    if (c->sregs2) {
        return VCPU_IOCTL(cpu, KVM_GET_SREGS2, &s->sregs, errp);
    }
    if (!VCPU_IOCTL(cpu, KVM_GET_SREGS, &old, errp)) {
        return false;
    }
    sregs_to_sregs2(&old, &s->sregs);
    return true;
}

static bool put_sregs(CPUState *cpu, const KVMCaps *c, const X86CPUState *s,
                      GError **errp)
{
    struct kvm_sregs old;

    if (c->sregs2) {
        struct kvm_sregs2 sr = s->sregs;
        return VCPU_IOCTL(cpu, KVM_SET_SREGS2, &sr, errp);
    }
    /* Without SREGS2 KVM reloads the PDPTRs from guest memory. */
    sregs2_to_sregs(&s->sregs, &old);
    return VCPU_IOCTL(cpu, KVM_SET_SREGS, &old, errp);
}

/* --- FPU/SSE/AVX... state --------------------------------------------------- */

static bool get_xsave(CPUState *cpu, const KVMCaps *c, X86CPUState *s,
                      GError **errp)
{
    if (!c->xsave_size) {
        s->valid |= X86_STATE_FPU;
        return VCPU_IOCTL(cpu, KVM_GET_FPU, &s->fpu, errp);
    }
    if (c->xsave_size > X86_CPU_XSAVE_MAX) {
        error_setg(errp, "vCPU %u: XSAVE state of %d bytes exceeds the %d "
                   "ferry carries", cpu->index, c->xsave_size,
                   X86_CPU_XSAVE_MAX);
        return false;
    }
    s->valid |= X86_STATE_XSAVE;
    s->xsave_len = (uint32_t)c->xsave_size;
    if (c->xsave_size > (int)sizeof(struct kvm_xsave)) {
        return VCPU_IOCTL(cpu, KVM_GET_XSAVE2, s->xsave, errp);
    }
    return VCPU_IOCTL(cpu, KVM_GET_XSAVE, s->xsave, errp);
}

static bool put_xsave(CPUState *cpu, const KVMCaps *c, const X86CPUState *s,
                      GError **errp)
{
    if (s->valid & X86_STATE_XSAVE) {
        if (!c->xsave_size) {
            error_setg(errp, "vCPU %u: the state has XSAVE data but this "
                       "KVM has no KVM_CAP_XSAVE", cpu->index);
            return false;
        }
        if (c->xsave_size > X86_CPU_XSAVE_MAX) {
            error_setg(errp, "vCPU %u: this KVM's XSAVE area (%d bytes) "
                       "exceeds the %d ferry carries", cpu->index,
                       c->xsave_size, X86_CPU_XSAVE_MAX);
            return false;
        }
        /* KVM reads its own size; bytes past xsave_len are zero. */
        return VCPU_IOCTL(cpu, KVM_SET_XSAVE, (void *)s->xsave, errp);
    }
    if (s->valid & X86_STATE_FPU) {
        return VCPU_IOCTL(cpu, KVM_SET_FPU, (void *)&s->fpu, errp);
    }
    return true;
}

/* --- MSRs ------------------------------------------------------------------- */

typedef struct MSRBuf {
    struct kvm_msrs hdr;
    struct kvm_msr_entry e[X86_CPU_MAX_MSRS];
} MSRBuf;

/* Fills @s->msrs with the carried MSRs that this KVM knows. */
static bool list_msrs(X86CPUState *s, GError **errp)
{
    struct {
        struct kvm_msr_list hdr;
        uint32_t idx[1024];
    } list = { .hdr.nmsrs = 1024 };

    if (ioctl(kvm_state.kvm_fd, KVM_GET_MSR_INDEX_LIST, &list) < 0) {
        error_setg_errno(errp, errno, "KVM_GET_MSR_INDEX_LIST");
        return false;
    }
    s->nmsrs = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(carried_msrs); i++) {
        for (uint32_t j = 0; j < list.hdr.nmsrs; j++) {
            if (list.idx[j] == carried_msrs[i]) {
                s->msrs[s->nmsrs++].index = carried_msrs[i];
                break;
            }
        }
    }
    return true;
}

static bool get_msrs(CPUState *cpu, X86CPUState *s, GError **errp)
{
    MSRBuf buf = { .hdr.nmsrs = s->nmsrs };
    KVMCPU *kc = cpu->accel;
    int r;

    memcpy(buf.e, s->msrs, s->nmsrs * sizeof(buf.e[0]));
    r = ioctl(kc->fd, KVM_GET_MSRS, &buf);
    if (r < 0) {
        error_setg_errno(errp, errno, "KVM_GET_MSRS on vCPU %u", cpu->index);
        return false;
    }
    if ((uint32_t)r < s->nmsrs) {
        error_setg(errp, "KVM_GET_MSRS on vCPU %u: MSR 0x%x refused",
                   cpu->index, s->msrs[r].index);
        return false;
    }
    memcpy(s->msrs, buf.e, s->nmsrs * sizeof(buf.e[0]));
    return true;
}

/* Writes the MSRs of @s whose index is (@deadline) or is not TSC_DEADLINE. */
static bool put_msrs(CPUState *cpu, const X86CPUState *s, bool deadline,
                     GError **errp)
{
    MSRBuf buf = { .hdr.nmsrs = 0 };
    KVMCPU *kc = cpu->accel;
    int r;

    for (uint32_t i = 0; i < s->nmsrs && i < X86_CPU_MAX_MSRS; i++) {
        if ((s->msrs[i].index == MSR_IA32_TSC_DEADLINE) == deadline) {
            buf.e[buf.hdr.nmsrs++] = s->msrs[i];
        }
    }
    if (!buf.hdr.nmsrs) {
        return true;
    }
    r = ioctl(kc->fd, KVM_SET_MSRS, &buf);
    if (r < 0) {
        error_setg_errno(errp, errno, "KVM_SET_MSRS on vCPU %u", cpu->index);
        return false;
    }
    if ((uint32_t)r < buf.hdr.nmsrs) {
        error_setg(errp, "KVM_SET_MSRS on vCPU %u: MSR 0x%x refused "
                   "(value 0x%llx)", cpu->index, buf.e[r].index,
                   buf.e[r].data);
        return false;
    }
    return true;
}

bool x86_cpu_state_msr(const X86CPUState *s, uint32_t index, uint64_t *value)
{
    for (uint32_t i = 0; i < s->nmsrs && i < X86_CPU_MAX_MSRS; i++) {
        if (s->msrs[i].index == index) {
            *value = s->msrs[i].data;
            return true;
        }
    }
    return false;
}

/*
 * kvm_pvm accepts TSC writes and ignores them: its guests read the host's
 * TSC (offset 0) in user mode, where they run natively.  Check after each
 * put, so callers and tests know whether the guest's TSC went back to the
 * captured value or just carries on with the host's.
 */
static bool tsc_ignored;

static void check_tsc(CPUState *cpu, const X86CPUState *s)
{
    MSRBuf buf = { .hdr.nmsrs = 1, .e[0].index = MSR_IA32_TSC };
    uint64_t khz = kvm_state.tsc_khz ? kvm_state.tsc_khz : 1000000;
    KVMCPU *kc = cpu->accel;
    uint64_t want;

    if (!x86_cpu_state_msr(s, MSR_IA32_TSC, &want) ||
        ioctl(kc->fd, KVM_GET_MSRS, &buf) != 1) {
        return;
    }
    /* A second of slack: the TSC runs on between the two ioctls. */
    if (buf.e[0].data - want > khz * 1000 &&
        !__atomic_exchange_n(&tsc_ignored, true, __ATOMIC_RELAXED)) {
        ferry_log("kvm-state: this KVM ignored the TSC write on vCPU %u "
                  "(0x%" G_GINT64_MODIFIER "x, reads 0x%llx): the guest TSC "
                  "follows the host's and is not restored",
                  cpu->index, want, buf.e[0].data);
    }
}

bool kvm_state_tsc_restorable(void)
{
    return !__atomic_load_n(&tsc_ignored, __ATOMIC_RELAXED);
}

/* --- the whole vCPU --------------------------------------------------------- */

bool kvm_cpu_state_get(CPUState *cpu, X86CPUState *s, GError **errp)
{
    KVMCaps c = kvm_caps();

    memset(s, 0, sizeof(*s));
    if (!VCPU_IOCTL(cpu, KVM_GET_VCPU_EVENTS, &s->events, errp) ||
        !VCPU_IOCTL(cpu, KVM_GET_MP_STATE, &s->mp_state, errp) ||
        !VCPU_IOCTL(cpu, KVM_GET_REGS, &s->regs, errp) ||
        !get_xsave(cpu, &c, s, errp)) {
        return false;
    }
    if (c.xcrs) {
        if (!VCPU_IOCTL(cpu, KVM_GET_XCRS, &s->xcrs, errp)) {
            return false;
        }
        s->valid |= X86_STATE_XCRS;
    } else {
        warn_once(&warned_xcrs, "KVM_CAP_XCRS");
    }
    if (!get_sregs(cpu, &c, s, errp) ||
        !list_msrs(s, errp) ||
        !get_msrs(cpu, s, errp) ||
        !VCPU_IOCTL(cpu, KVM_GET_LAPIC, &s->lapic, errp)) {
        return false;
    }
    if (c.debugregs) {
        if (!VCPU_IOCTL(cpu, KVM_GET_DEBUGREGS, &s->debugregs, errp)) {
            return false;
        }
        s->valid |= X86_STATE_DEBUGREGS;
    } else {
        warn_once(&warned_debugregs, "KVM_CAP_DEBUGREGS");
    }
    return true;
}

bool kvm_cpu_state_put(CPUState *cpu, const X86CPUState *s, GError **errp)
{
    KVMCaps c = kvm_caps();
    struct kvm_regs regs = s->regs;
    struct kvm_xcrs xcrs = s->xcrs;
    struct kvm_lapic_state lapic = s->lapic;
    struct kvm_vcpu_events events = s->events;
    struct kvm_mp_state mp_state = s->mp_state;
    struct kvm_debugregs debugregs = s->debugregs;

    /* Input-only flags: apply the captured NMI and SIPI state too. */
    events.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING |
                    KVM_VCPUEVENT_VALID_SIPI_VECTOR;
    debugregs.flags = 0;
    xcrs.flags = 0;

    if (!put_sregs(cpu, &c, s, errp) ||
        !VCPU_IOCTL(cpu, KVM_SET_REGS, &regs, errp) ||
        !put_xsave(cpu, &c, s, errp)) {
        return false;
    }
    if ((s->valid & X86_STATE_XCRS) && !c.xcrs) {
        warn_once(&warned_xcrs, "KVM_CAP_XCRS");
    } else if ((s->valid & X86_STATE_XCRS) &&
               !VCPU_IOCTL(cpu, KVM_SET_XCRS, &xcrs, errp)) {
        return false;
    }
    if (!put_msrs(cpu, s, false, errp)) {
        return false;
    }
    check_tsc(cpu, s);
    if (!VCPU_IOCTL(cpu, KVM_SET_LAPIC, &lapic, errp) ||
        !put_msrs(cpu, s, true, errp) ||
        !VCPU_IOCTL(cpu, KVM_SET_VCPU_EVENTS, &events, errp) ||
        !VCPU_IOCTL(cpu, KVM_SET_MP_STATE, &mp_state, errp)) {
        return false;
    }
    if ((s->valid & X86_STATE_DEBUGREGS) && !c.debugregs) {
        warn_once(&warned_debugregs, "KVM_CAP_DEBUGREGS");
    } else if ((s->valid & X86_STATE_DEBUGREGS) &&
               !VCPU_IOCTL(cpu, KVM_SET_DEBUGREGS, &debugregs, errp)) {
        return false;
    }
    return true;
}

/* --- VM-wide state ---------------------------------------------------------- */

static bool vm_ioctl(unsigned long req, const char *name, void *arg,
                     const char *what, GError **errp)
{
    if (ioctl(kvm_state.vm_fd, req, arg) < 0) {
        error_setg_errno(errp, errno, "%s%s", name, what);
        return false;
    }
    return true;
}

#define VM_IOCTL(req, arg, what, errp) vm_ioctl((req), #req, (arg), (what), (errp))

bool kvm_vm_state_get(KVMVMState *s, GError **errp)
{
    memset(s, 0, sizeof(*s));
    s->pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
    s->pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
    s->ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
    return VM_IOCTL(KVM_GET_IRQCHIP, &s->pic_master, " (PIC master)", errp) &&
           VM_IOCTL(KVM_GET_IRQCHIP, &s->pic_slave, " (PIC slave)", errp) &&
           VM_IOCTL(KVM_GET_IRQCHIP, &s->ioapic, " (IOAPIC)", errp) &&
           VM_IOCTL(KVM_GET_CLOCK, &s->clock, "", errp);
}

bool kvm_vm_state_put(const KVMVMState *s, GError **errp)
{
    struct kvm_irqchip chips[3] = { s->pic_master, s->pic_slave, s->ioapic };
    /* flags 0: the clock resumes at exactly the captured value (no
     * KVM_CLOCK_REALTIME catch-up for the time the VM was stopped). */
    struct kvm_clock_data clock = { .clock = s->clock.clock };

    chips[0].chip_id = KVM_IRQCHIP_PIC_MASTER;
    chips[1].chip_id = KVM_IRQCHIP_PIC_SLAVE;
    chips[2].chip_id = KVM_IRQCHIP_IOAPIC;
    return VM_IOCTL(KVM_SET_IRQCHIP, &chips[0], " (PIC master)", errp) &&
           VM_IOCTL(KVM_SET_IRQCHIP, &chips[1], " (PIC slave)", errp) &&
           VM_IOCTL(KVM_SET_IRQCHIP, &chips[2], " (IOAPIC)", errp) &&
           VM_IOCTL(KVM_SET_CLOCK, &clock, "", errp);
}
