/*
 * Accelerators: what runs guest code.  KVM runs the guest image on vCPU
 * threads; the soft accelerator runs the same workload source as host
 * threads against guest RAM.  Both expose the same hooks, so everything
 * above (run state, migration) is accelerator-neutral.
 */
#ifndef FERRY_ACCEL_ACCEL_H
#define FERRY_ACCEL_ACCEL_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include "system/dirty-log.h"
#include "system/memory.h"

typedef struct CPUState CPUState;

/* How the loaded kernel wants to be entered (Multiboot v1). */
typedef struct BootEntry {
    uint32_t entry;             /* 32-bit protected-mode entry point */
    uint32_t mbi;               /* guest-physical Multiboot info */
    const char *cmdline;        /* for accelerators that run no image */
} BootEntry;

typedef enum VCPUExit {
    VCPU_EXIT_KICKED,           /* asked to stop: the generic loop decides */
    VCPU_EXIT_HALTED,           /* the guest stopped for good (panic, hlt) */
    VCPU_EXIT_ERROR,            /* unrecoverable accelerator failure */
} VCPUExit;

typedef struct AccelOps {
    const char *name;
    bool (*available)(void);
    bool (*init)(unsigned ncpus, GError **errp);
    bool (*map_region)(GuestRegion *r, GError **errp);
    bool (*vcpu_init)(CPUState *cpu, GError **errp);
    /* Frees what vcpu_init made, once the vCPU thread has ended (optional). */
    void (*vcpu_destroy)(CPUState *cpu);
    /* Sets the boot processor's entry state (after RAM is loaded). */
    bool (*boot)(CPUState *bsp, const BootEntry *boot, GError **errp);
    /* Puts every parked vCPU back in its power-on state, before boot is
     * called again (optional: boot alone starts over). */
    bool (*reset)(GError **errp);
    /* Runs guest code until kicked or the guest halts. */
    VCPUExit (*vcpu_run)(CPUState *cpu);
    /* Makes vcpu_run return soon; called with the BQL held. */
    void (*vcpu_kick)(CPUState *cpu);
    /* Re-arms after a kick; called by the vCPU thread with the BQL held. */
    void (*vcpu_kick_clear)(CPUState *cpu);
    uint64_t (*tsc_khz)(void);
    const DirtyLogOps *dirty_log;
} AccelOps;

extern const AccelOps kvm_accel_ops;
extern const AccelOps soft_accel_ops;

/* Picks "kvm" or "soft" (@name NULL: kvm when usable, else soft), or the
 * first usable of a list "kvm:soft". */
const AccelOps *accel_select(const char *name, GError **errp);
const AccelOps *accel_current(void);

#endif
