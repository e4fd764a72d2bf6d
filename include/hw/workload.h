/*
 * The paravirtual workload device: the test guest reports its counters
 * here.  The register layout is shared with the guest in
 * guest/include/guest/workload-dev.h.
 */
#ifndef FERRY_HW_WORKLOAD_H
#define FERRY_HW_WORKLOAD_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include "ferry/migration.h"
#include "guest/workload-dev.h"

typedef struct WorkloadCounters {
    uint64_t rounds;
    uint64_t pages_written;
    uint64_t pages_verified;
    uint64_t full_verify_passes;
    uint64_t corrupt_pages;
    uint64_t boots;
    uint64_t disk_sectors_written;
    uint64_t disk_sectors_verified;
    uint64_t corrupt_sectors;
    uint64_t disk_io_errors;
    uint64_t max_stall_ns;          /* the longest over the vCPUs */
    uint64_t max_guest_stall_ns;    /* the longest with no vCPU running */
} WorkloadCounters;

#define WL_MAX_CPUS 64

/* The device state, as migrated (hw/misc/workload-vmstate.c). */
typedef struct WorkloadCPUState {
    uint64_t rounds;
    uint64_t pages_written;
    uint64_t pages_verified;
    uint64_t passes;
    uint64_t corrupt_pages;
    uint64_t max_stall_ns;      /* a measurement: not migrated */
    uint64_t max_guest_stall_ns;    /* the same */
} WorkloadCPUState;

/* The disk workload runs on one vCPU only: its counters are global. */
typedef struct WorkloadDiskState {
    uint64_t sectors_written;
    uint64_t sectors_verified;
    uint64_t corrupt_sectors;
    uint64_t io_errors;
} WorkloadDiskState;

typedef struct WorkloadState {
    uint32_t ncpus;
    uint64_t boots;             /* reports with WL_REPORT_BOOT */
    WorkloadCPUState cpu[WL_MAX_CPUS];
    WorkloadDiskState disk;     /* a subsection, sent only when not 0 */
} WorkloadState;

/* Maps the device; @ncpus sizes its per-vCPU counters. */
bool workload_dev_init(unsigned ncpus, GError **errp);
/* Adds a report's deltas (the MMIO path, and the soft accelerator). */
void workload_dev_report(const struct wl_report *r);
void workload_dev_query(WorkloadCounters *out);
/* Starts the guest's stall measurement over (x-workload-reset-stall). */
void workload_dev_reset_stall(void);
/*
 * Registers @s as the "ferry-workload" migration section (again:
 * replaces); incoming state must have @s->ncpus, the machine's vCPUs.
 */
bool workload_vmstate_register(FerryMig *m, WorkloadState *s,
                               GError **errp);

#endif
