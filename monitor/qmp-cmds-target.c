/*
 * What management tools probe about the machine (qapi/machine.json):
 * target, KVM, machine types, vCPUs, command-line options, TPM models
 * and types.
 */
#include "accel/accel.h"
#include "qapi/qapi-commands.h"
#include "system/cpus.h"

/* -smp's limit (and the workload device's). */
#define PC_CPU_MAX 64

TargetInfo *qmp_query_target(GError **errp)
{
    TargetInfo *info = g_new0(TargetInfo, 1);

    info->arch = SYS_EMU_TARGET_X86_64;
    return info;
}

KvmInfo *qmp_query_kvm(GError **errp)
{
    KvmInfo *info = g_new0(KvmInfo, 1);

    info->present = kvm_accel_ops.available();
    info->enabled = accel_current() == &kvm_accel_ops;
    return info;
}

static MachineInfoList *machine(MachineInfoList *next, const char *name,
                                int64_t cpu_max)
{
    MachineInfoList *l = g_new0(MachineInfoList, 1);

    l->value = g_new0(MachineInfo, 1);
    l->value->name = g_strdup(name);
    l->value->cpu_max = cpu_max;
    l->next = next;
    return l;
}

MachineInfoList *qmp_query_machines(GError **errp)
{
    /* QEMU lists "none" with one vCPU and no RAM of its own */
    MachineInfoList *head = machine(NULL, "none", 1);
    MachineInfo *pc;

    head = machine(head, "pc-i440fx-7.2", PC_CPU_MAX);
    pc = head->value;
    pc->alias = g_strdup("pc");
    pc->has_is_default = true;
    pc->is_default = true;
    pc->default_ram_id = g_strdup("pc.ram");
    return head;
}

CpuInfoFastList *qmp_query_cpus_fast(GError **errp)
{
    CpuInfoFastList *head = NULL;

    for (unsigned i = cpus_count(); i-- > 0;) {
        CpuInfoFastList *l = g_new0(CpuInfoFastList, 1);

        l->value = g_new0(CpuInfoFast, 1);
        l->value->cpu_index = i;
        l->value->qom_path = g_strdup_printf("/machine/unattached/device[%u]",
                                             i);
        l->value->thread_id = cpu_get(i)->os_tid;
        l->value->target = SYS_EMU_TARGET_X86_64;
        l->next = head;
        head = l;
    }
    return head;
}

CommandLineOptionInfoList *qmp_query_command_line_options(GError **errp)
{
    return NULL;    /* none described yet (qapi/machine.json) */
}

strList *qmp_query_tpm_models(GError **errp)
{
    return NULL;    /* ferry has no TPM */
}

strList *qmp_query_tpm_types(GError **errp)
{
    return NULL;
}
