/*
 * The KVM vCPU and VM state as migration sections: one "cpu" section per
 * vCPU (instance id = vCPU index, as QEMU) and one "kvm-vm" section for
 * the in-kernel PIC, IOAPIC and clock.  pre_save captures the state from
 * KVM, post_load puts it back; both run while the vCPUs are parked (the
 * source is in its downtime, the destination has not started).
 *
 * Each kernel structure travels as one buffer field: the KVM ABI fixes
 * their layout on x86, and both ends are ferry.  QEMU describes registers
 * one by one; doing the same is the step that would let ferry read a
 * QEMU stream's CPU state.
 */
#include <errno.h>
#include "accel/kvm-state.h"
#include "ferry/migration.h"
#include "system/cpus.h"
#include "util/error.h"
#include "util/log.h"

typedef struct CPUMigState {
    CPUState *cpu;
    X86CPUState state;
} CPUMigState;

static CPUMigState *cpu_states;
static unsigned nr_cpu_states;
static KVMVMState vm_state;

static int cpu_pre_save(void *opaque)
{
    CPUMigState *m = opaque;
    g_autoptr(GError) err = NULL;

    if (!kvm_cpu_state_get(m->cpu, &m->state, &err)) {
        ferry_log("cpu %u: %s", m->cpu->index, err->message);
        return -EIO;
    }
    return 0;
}

static bool cpu_post_load(void *opaque, int version_id, GError **errp)
{
    CPUMigState *m = opaque;

    return kvm_cpu_state_put(m->cpu, &m->state, errp);
}

static const VMStateDescription vmstate_kvm_cpu = {
    .name = "cpu",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = cpu_pre_save,
    .post_load = cpu_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(state.valid, CPUMigState),
        VMSTATE_RAW(state.regs, CPUMigState),
        VMSTATE_RAW(state.sregs, CPUMigState),
        VMSTATE_UINT32(state.xsave_len, CPUMigState),
        VMSTATE_RAW(state.xsave, CPUMigState),
        VMSTATE_RAW(state.fpu, CPUMigState),
        VMSTATE_RAW(state.xcrs, CPUMigState),
        VMSTATE_UINT32(state.nmsrs, CPUMigState),
        VMSTATE_RAW(state.msrs, CPUMigState),
        VMSTATE_RAW(state.lapic, CPUMigState),
        VMSTATE_RAW(state.events, CPUMigState),
        VMSTATE_RAW(state.mp_state, CPUMigState),
        VMSTATE_RAW(state.debugregs, CPUMigState),
        VMSTATE_END_OF_LIST()
    },
};

static int vm_pre_save(void *opaque)
{
    g_autoptr(GError) err = NULL;

    if (!kvm_vm_state_get(opaque, &err)) {
        ferry_log("kvm-vm: %s", err->message);
        return -EIO;
    }
    return 0;
}

static bool vm_post_load(void *opaque, int version_id, GError **errp)
{
    return kvm_vm_state_put(opaque, errp);
}

static const VMStateDescription vmstate_kvm_vm = {
    .name = "kvm-vm",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = vm_pre_save,
    .post_load = vm_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_RAW(pic_master, KVMVMState),
        VMSTATE_RAW(pic_slave, KVMVMState),
        VMSTATE_RAW(ioapic, KVMVMState),
        VMSTATE_RAW(clock, KVMVMState),
        VMSTATE_END_OF_LIST()
    },
};

bool kvm_vmstate_register(FerryMig *m, GError **errp)
{
    nr_cpu_states = cpus_count();
    cpu_states = g_new0(CPUMigState, nr_cpu_states);
    if (!ferry_mig_register_device(m, "kvm-vm", 0, &vmstate_kvm_vm, &vm_state,
                          MIG_PRI_DEFAULT, errp)) {
        return false;
    }
    for (unsigned i = 0; i < nr_cpu_states; i++) {
        cpu_states[i].cpu = cpu_get(i);
        if (!ferry_mig_register_device(m, "cpu", i, &vmstate_kvm_cpu, &cpu_states[i],
                              MIG_PRI_DEFAULT, errp)) {
            return false;
        }
    }
    return true;
}

void kvm_vmstate_unregister(FerryMig *m)
{
    ferry_mig_unregister_device(m, &vmstate_kvm_vm, &vm_state);
    for (unsigned i = 0; i < nr_cpu_states; i++) {
        ferry_mig_unregister_device(m, &vmstate_kvm_cpu, &cpu_states[i]);
    }
    g_clear_pointer(&cpu_states, g_free);
    nr_cpu_states = 0;
}
