/*
 * KVM vCPU and VM state as plain structs: what the destination of a
 * migration needs to continue the guest exactly where the source stopped.
 * Capture (get) and restore (put) only; serialising is the VMState
 * engine's job, so every field is a fixed-size kernel ABI struct or a
 * plain integer, and the `valid` bits say which optional pieces hold data
 * (natural "needed" predicates for subsections).
 *
 * Locking: call these only while every vCPU is parked (cpus_pause_all()
 * under the BQL, or before the first resume).  KVM serialises vCPU ioctls
 * against KVM_RUN, but state read from a running vCPU is stale the moment
 * it is returned, and state written into one races with the guest.  The
 * functions take no lock themselves.
 *
 * Errors name the ioctl that failed ("KVM_SET_LAPIC on vCPU 1: ...").
 */
#ifndef FERRY_ACCEL_KVM_STATE_H
#define FERRY_ACCEL_KVM_STATE_H

#include <glib.h>
#include <stdbool.h>
#include "ferry/migration.h"
#include <stdint.h>
#include <linux/kvm.h>
#include "system/cpus.h"

/* The MSRs we carry (EFER and APIC_BASE travel in sregs). */
#define MSR_IA32_TSC            0x00000010
#define MSR_IA32_TSC_ADJUST     0x0000003b
#define MSR_IA32_SYSENTER_CS    0x00000174
#define MSR_IA32_SYSENTER_ESP   0x00000175
#define MSR_IA32_SYSENTER_EIP   0x00000176
#define MSR_IA32_MISC_ENABLE    0x000001a0
#define MSR_IA32_CR_PAT         0x00000277
#define MSR_IA32_TSC_DEADLINE   0x000006e0
#define MSR_STAR                0xc0000081
#define MSR_LSTAR               0xc0000082
#define MSR_CSTAR               0xc0000083
#define MSR_SFMASK              0xc0000084
#define MSR_KERNEL_GS_BASE      0xc0000102
#define MSR_TSC_AUX             0xc0000103

#define X86_CPU_MAX_MSRS        16
/* KVM_CAP_XSAVE2 reports the size; 12 KiB covers AMX tile data. */
#define X86_CPU_XSAVE_MAX       12288

/* X86CPUState.valid: optional pieces present in this capture. */
enum {
    X86_STATE_XSAVE     = 1u << 0,  /* xsave[] holds xsave_len bytes */
    X86_STATE_FPU       = 1u << 1,  /* no XSAVE on the host: fpu instead */
    X86_STATE_XCRS      = 1u << 2,
    X86_STATE_DEBUGREGS = 1u << 3,
};

typedef struct X86CPUState {
    uint32_t valid;                 /* X86_STATE_* */
    struct kvm_regs regs;
    /*
     * Always in the KVM_GET_SREGS2 layout, also on hosts without SREGS2
     * (converted), so that a stream does not depend on the source host.
     * sregs2 has no interrupt_bitmap: a pending interrupt travels in
     * events instead, as QEMU does it.  sregs.flags says whether the
     * PDPTRs are valid (KVM_SREGS2_FLAGS_PDPTRS_VALID).
     */
    struct kvm_sregs2 sregs;
    uint32_t xsave_len;             /* bytes of xsave[] in use */
    uint32_t xsave[X86_CPU_XSAVE_MAX / 4];  /* struct kvm_xsave image */
    struct kvm_fpu fpu;
    struct kvm_xcrs xcrs;
    uint32_t nmsrs;
    struct kvm_msr_entry msrs[X86_CPU_MAX_MSRS];    /* TSC first */
    struct kvm_lapic_state lapic;
    struct kvm_vcpu_events events;
    struct kvm_mp_state mp_state;
    struct kvm_debugregs debugregs;
} X86CPUState;

typedef struct KVMVMState {
    struct kvm_irqchip pic_master;
    struct kvm_irqchip pic_slave;
    struct kvm_irqchip ioapic;
    struct kvm_clock_data clock;    /* kvmclock; no PIT is created */
} KVMVMState;

/* Captures @cpu's whole state; @cpu must be parked. */
bool kvm_cpu_state_get(CPUState *cpu, X86CPUState *s, GError **errp);
/*
 * Loads @s into @cpu (parked), in the order KVM needs: see kvm-state.c.
 * The vCPU may be a fresh one of a new VM.
 */
bool kvm_cpu_state_put(CPUState *cpu, const X86CPUState *s, GError **errp);

/* VM-wide state: PIC, IOAPIC, kvmclock.  All vCPUs must be parked. */
bool kvm_vm_state_get(KVMVMState *s, GError **errp);
bool kvm_vm_state_put(const KVMVMState *s, GError **errp);

/*
 * False once a put found that KVM ignores guest TSC writes (kvm_pvm: its
 * guests read the host's TSC), i.e. the guest's TSC is not restored but
 * carries on with the host's; the put itself still succeeds.
 */
bool kvm_state_tsc_restorable(void);

/* Registers the "kvm-vm" and one "cpu" migration section per vCPU. */
bool kvm_vmstate_register(FerryMig *m, GError **errp);
void kvm_vmstate_unregister(FerryMig *m);

/* Value of MSR @index in @s, or false if @s does not carry it. */
bool x86_cpu_state_msr(const X86CPUState *s, uint32_t index, uint64_t *value);

#endif
