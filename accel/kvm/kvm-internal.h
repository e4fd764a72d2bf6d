/* State shared by the KVM accelerator's files. */
#ifndef FERRY_ACCEL_KVM_INTERNAL_H
#define FERRY_ACCEL_KVM_INTERNAL_H

#include <linux/kvm.h>
#include "accel/accel.h"

typedef struct KVMState {
    int kvm_fd;
    int vm_fd;
    int vcpu_mmap_size;
    bool manual_dirty_clear;    /* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 */
    struct kvm_cpuid2 *cpuid;   /* KVM_GET_SUPPORTED_CPUID */
    uint64_t tsc_khz;
} KVMState;

typedef struct KVMCPU {
    int fd;
    struct kvm_run *run;
} KVMCPU;

extern KVMState kvm_state;

bool kvm_vcpu_init(CPUState *cpu, GError **errp);
void kvm_vcpu_destroy(CPUState *cpu);
bool kvm_boot(CPUState *bsp, const BootEntry *boot, GError **errp);
VCPUExit kvm_vcpu_run(CPUState *cpu);
void kvm_vcpu_kick(CPUState *cpu);
void kvm_vcpu_kick_clear(CPUState *cpu);
/* kvm-reset.c: the power-on state, captured before the guest first runs. */
bool kvm_reset_capture(GError **errp);
bool kvm_reset(GError **errp);
void kvm_reset_cleanup(void);

#endif
