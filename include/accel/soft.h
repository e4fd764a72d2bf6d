/*
 * The soft accelerator's own API, beyond AccelOps: what an incoming
 * migration needs to take over a workload whose progress arrived with RAM.
 *
 * The workload's progress (one struct wl_cpu per vCPU) lives in guest RAM,
 * in the reserved first 2 MiB; its configuration and layout (host pointers)
 * live in ferry.  boot = prepare + reset; a migration destination runs only
 * prepare once RAM has arrived, so the contexts the source wrote are kept.
 *
 * Call both with every vCPU parked (after cpus_create, before resuming).
 */
#ifndef FERRY_ACCEL_SOFT_H
#define FERRY_ACCEL_SOFT_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/* Guest-physical memory below this is left to ferry (contexts live here). */
#define SOFT_RESERVED_END   ((uint64_t)2 << 20)
/* vCPU @i's struct wl_cpu is at SOFT_CTX_GPA + i * SOFT_CTX_STRIDE. */
#define SOFT_CTX_GPA        ((uint64_t)0x1000)
#define SOFT_CTX_STRIDE     256u

/*
 * Derives the workload's configuration (from the -append @cmdline, may be
 * NULL) and layout (from guest_regions()) and finds the contexts in RAM.
 * Does not touch guest RAM, so it can be re-run on a destination.
 */
bool soft_accel_prepare(const char *cmdline, GError **errp);

/* Starts every vCPU's workload from scratch (a fresh boot only). */
void soft_accel_reset_contexts(void);

#endif
