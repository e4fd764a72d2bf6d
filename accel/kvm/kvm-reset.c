/*
 * Machine reset under KVM: every vCPU and the VM's interrupt controllers
 * back to their power-on state.  KVM cannot re-create a vCPU, so the state
 * each one had when it was created (APs waiting for INIT, the boot
 * processor runnable, LAPICs at their reset values) is captured once,
 * before the guest first runs, and loaded again at each reset; the boot
 * processor's entry state is then set by kvm_boot() as at start-up.
 *
 * Locking: as kvm-state.h, every vCPU parked (or not yet started).
 */
#include "accel/kvm-state.h"
#include "kvm-internal.h"
#include "system/cpus.h"
#include "util/error.h"

static X86CPUState *power_on;       /* one per vCPU, by index */
static KVMVMState power_on_vm;

bool kvm_reset_capture(GError **errp)
{
    unsigned n = cpus_count();

    if (power_on) {
        return true;
    }
    power_on = g_new0(X86CPUState, n);
    for (unsigned i = 0; i < n; i++) {
        if (!kvm_cpu_state_get(cpu_get(i), &power_on[i], errp)) {
            g_clear_pointer(&power_on, g_free);
            return false;
        }
    }
    if (!kvm_vm_state_get(&power_on_vm, errp)) {
        g_clear_pointer(&power_on, g_free);
        return false;
    }
    return true;
}

bool kvm_reset(GError **errp)
{
    if (!power_on) {
        error_setg(errp, "no power-on vCPU state was captured");
        return false;
    }
    if (!kvm_vm_state_put(&power_on_vm, errp)) {
        return false;
    }
    for (unsigned i = 0; i < cpus_count(); i++) {
        if (!kvm_cpu_state_put(cpu_get(i), &power_on[i], errp)) {
            return false;
        }
    }
    return true;
}

void kvm_reset_cleanup(void)
{
    g_clear_pointer(&power_on, g_free);
}
