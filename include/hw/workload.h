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
#include "guest/workload-dev.h"

typedef struct WorkloadCounters {
    uint64_t rounds;
    uint64_t pages_written;
    uint64_t pages_verified;
    uint64_t full_verify_passes;
    uint64_t corrupt_pages;
} WorkloadCounters;

/* Maps the device; @ncpus sizes its per-vCPU counters. */
bool workload_dev_init(unsigned ncpus, GError **errp);
/* Adds a report's deltas (the MMIO path, and the soft accelerator). */
void workload_dev_report(const struct wl_report *r);
void workload_dev_query(WorkloadCounters *out);

#endif
