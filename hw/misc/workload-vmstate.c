/*
 * The workload device's migration description: the vCPU count, then one
 * counter block per vCPU.  The VM is stopped while it is saved or loaded,
 * so no report races with it.
 */
#include "hw/workload.h"
#include "ferry/migration.h"
#include "util/error.h"

/* The machine's vCPUs, as the device was sized at init. */
static uint32_t machine_ncpus;

/* Counters of vCPUs this machine does not have would be lost in silence,
 * and the guest's share of pages per vCPU would not match. */
static bool workload_post_load(void *opaque, int version_id, GError **errp)
{
    const WorkloadState *s = opaque;

    if (s->ncpus != machine_ncpus) {
        error_setg(errp, "the incoming state is for %u vCPU(s), this "
                   "machine has %u", s->ncpus, machine_ncpus);
        return false;
    }
    return true;
}

static const VMStateDescription vmstate_workload_cpu = {
    .name = "ferry-workload/cpu",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(rounds, WorkloadCPUState),
        VMSTATE_UINT64(pages_written, WorkloadCPUState),
        VMSTATE_UINT64(pages_verified, WorkloadCPUState),
        VMSTATE_UINT64(passes, WorkloadCPUState),
        VMSTATE_UINT64(corrupt_pages, WorkloadCPUState),
        VMSTATE_END_OF_LIST()
    },
};

/* Only a guest with a disk workload has disk counters: without one the
 * stream stays what it was before disks existed. */
static bool workload_disk_needed(void *opaque)
{
    const WorkloadState *s = opaque;

    return s->disk.sectors_written || s->disk.sectors_verified ||
           s->disk.corrupt_sectors || s->disk.io_errors;
}

static const VMStateDescription vmstate_workload_disk = {
    .name = "ferry-workload/disk",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = workload_disk_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(disk.sectors_written, WorkloadState),
        VMSTATE_UINT64(disk.sectors_verified, WorkloadState),
        VMSTATE_UINT64(disk.corrupt_sectors, WorkloadState),
        VMSTATE_UINT64(disk.io_errors, WorkloadState),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_workload = {
    .name = "ferry-workload",
    .version_id = 2,
    .minimum_version_id = 2,
    .post_load = workload_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(ncpus, WorkloadState),
        VMSTATE_UINT64(boots, WorkloadState),
        VMSTATE_STRUCT_VARRAY_UINT32(cpu, WorkloadState, ncpus, 0,
                                     vmstate_workload_cpu, WorkloadCPUState),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription *const[]) {
        &vmstate_workload_disk,
        NULL
    },
};

bool workload_vmstate_register(FerryMig *m, WorkloadState *s,
                               GError **errp)
{
    machine_ncpus = s->ncpus;
    ferry_mig_unregister_device(m, &vmstate_workload, s);
    return ferry_mig_register_device(m, "ferry-workload", 0, &vmstate_workload, s,
                            MIG_PRI_DEFAULT, errp);
}
