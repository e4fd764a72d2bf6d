/*
 * The migration core's only view of the VMM it migrates.
 *
 * Everything in migration/ reaches guest RAM, dirty tracking, the vCPUs and
 * the outcome of a migration through this table, so another VMM embeds the
 * core by filling in a MigrationVMM and calling migration_set_vmm() once at
 * start-up.  Devices describe their state to the core the other way round,
 * with vmstate_register() (include/migration/vmstate.h); iterative state
 * like RAM registers SaveVMHandlers with savevm_register_live().
 *
 * Threads: the RAM and dirty-log hooks are called from the migration
 * threads, the others from the migration threads or the main loop; an
 * implementation must be safe for that.  Hooks marked optional may be NULL.
 */
#ifndef FERRY_MIGRATION_VMM_H
#define FERRY_MIGRATION_VMM_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#define MIG_PAGE_SHIFT 12
#define MIG_PAGE_SIZE  (1ULL << MIG_PAGE_SHIFT)

/* A block of guest RAM, as the stream names it. */
typedef struct MigRAMBlock {
    const char *name;           /* "pc.ram" */
    uint8_t *host;              /* mapped for the whole migration */
    uint64_t size;              /* bytes, a multiple of MIG_PAGE_SIZE */
    int fd;                     /* backing descriptor, or -1 */
} MigRAMBlock;

typedef struct MigrationVMM {
    /* RAM: a fixed list of blocks for the life of a migration. */
    unsigned (*ram_block_count)(void);
    void (*ram_block_get)(unsigned index, MigRAMBlock *out);

    /*
     * Dirty tracking.  sync ORs into @bitmap (one bit per page of block
     * @index) every page written since the previous sync or start,
     * re-arms tracking for them, and returns how many bits @bitmap now
     * has set, or -errno.
     */
    bool (*dirty_log_start)(GError **errp);
    long (*dirty_log_sync)(unsigned index, unsigned long *bitmap);
    void (*dirty_log_stop)(void);

    /* vCPUs. */
    bool (*vm_running)(void);
    bool (*vm_stop)(GError **errp);         /* the source's switchover */
    bool (*vm_start)(GError **errp);        /* resume after a failure */
    void (*vm_throttle)(int percent);       /* auto-converge; 0 stops it */
    int (*vm_throttle_percent)(void);

    /*
     * Block devices around the switchover (optional; see block/block.h
     * for the lifecycle).  The source inactivates while the guest is
     * stopped (drain, flush, release the write lock) and activates again
     * if the migration fails before the destination may run.  The
     * destination attaches (open, shared lock, warm up: may be slow; the
     * core calls it on a thread of its own while precopy runs, with
     * capability early-block-attach) and activates after the device
     * state loaded (attaching first if it has not).
     */
    bool (*block_inactivate)(GError **errp);
    bool (*block_activate)(GError **errp);
    bool (*block_attach)(GError **errp);

    /* Outcomes. */
    void (*source_completed)(void);         /* the guest lives elsewhere now */
    bool (*incoming_allowed)(GError **errp);
    /* The whole stream loaded: get the guest ready to run. */
    bool (*incoming_loaded)(GError **errp);
    /* After `completed`: run the guest, or keep it paused (QEMU's -S). */
    bool (*incoming_run)(bool autostart, GError **errp);
    /* The load failed and the guest will not run; @exit asks the VMM to
     * end the process (QEMU's exit-on-error). */
    void (*incoming_failed)(const char *why, bool exit);
    /*
     * Postcopy, destination (optional).  Before guest RAM is registered
     * for missing-page faults: nothing of the VMM may populate it from
     * then on (e.g. a background pre-fault).
     */
    bool (*incoming_postcopy_listen)(GError **errp);
    /* The vCPU a host thread (gettid) runs, or -1: for blocktime. */
    int (*vcpu_index_of_thread)(uint32_t tid);
    unsigned (*vcpu_count)(void);
} MigrationVMM;

void migration_set_vmm(const MigrationVMM *vmm);
const MigrationVMM *migration_vmm(void);

#endif
