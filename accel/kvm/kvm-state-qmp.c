/*
 * x-kvm-state-reload: capture every vCPU's and the VM's KVM state and
 * load it straight back, the round trip a migration makes, for tests.
 * Runs on the main thread; a stopped VM's vCPUs stay parked until the
 * main thread resumes them, so they are parked throughout.
 */
#include "accel/kvm-state.h"
#include "qapi/qapi-commands.h"
#include "system/cpus.h"
#include "system/runstate.h"
#include "util/error.h"

static KvmCpuStateInfo *cpu_info(unsigned index, const X86CPUState *s)
{
    KvmCpuStateInfo *info = g_new0(KvmCpuStateInfo, 1);
    uint64_t tsc = 0;

    x86_cpu_state_msr(s, MSR_IA32_TSC, &tsc);
    info->cpu = index;
    info->rip = s->regs.rip;
    info->cpl = s->sregs.cs.dpl;
    info->mp_state = s->mp_state.mp_state;
    info->tsc = tsc;
    return info;
}

KvmCpuStateInfoList *qmp_x_kvm_state_reload(GError **errp)
{
    g_autofree X86CPUState *s = g_new0(X86CPUState, 1);
    KvmCpuStateInfoList *head = NULL;
    KVMVMState vm;

    if (accel_current() != &kvm_accel_ops) {
        g_set_error(errp, FERRY_ERROR, FERRY_ERROR_KVM_MISSING_CAP,
                    "x-kvm-state-reload: the VM does not run on KVM");
        return NULL;
    }
    if (runstate_is_running()) {
        error_setg(errp, "x-kvm-state-reload needs a stopped VM (run 'stop' "
                   "first)");
        return NULL;
    }
    if (!kvm_vm_state_get(&vm, errp) || !kvm_vm_state_put(&vm, errp)) {
        return NULL;
    }
    for (unsigned i = cpus_count(); i-- > 0;) {
        KvmCpuStateInfoList *l;

        if (!kvm_cpu_state_get(cpu_get(i), s, errp) ||
            !kvm_cpu_state_put(cpu_get(i), s, errp)) {
            qapi_free_KvmCpuStateInfoList(head);
            return NULL;
        }
        l = g_new0(KvmCpuStateInfoList, 1);
        l->value = cpu_info(i, s);
        l->next = head;
        head = l;
    }
    return head;
}
