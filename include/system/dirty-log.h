/*
 * Dirty page tracking, the base of precopy.  An accelerator provides a
 * DirtyLogOps (KVM: the per-slot dirty log with manual clear; soft: bitmaps
 * written by the workload threads).  dirty_log_sync() adds the pages the
 * VMM itself wrote (RAMBlock.vmm_dirty), so callers see every write.
 */
#ifndef FERRY_SYSTEM_DIRTY_LOG_H
#define FERRY_SYSTEM_DIRTY_LOG_H

#include <glib.h>
#include <stdbool.h>
#include "system/memory.h"

typedef struct DirtyLogOps {
    bool (*start)(GError **errp);
    /*
     * ORs the pages of @rb written since the previous sync (or start) into
     * @bitmap (1 bit per page, block-relative) and re-arms tracking for
     * them.  Returns the number of pages found or -errno.
     */
    long (*sync)(RAMBlock *rb, unsigned long *bitmap);
    void (*stop)(void);
} DirtyLogOps;

/* The accelerator registers its provider at init. */
void dirty_log_register(const DirtyLogOps *ops);

bool dirty_log_start(GError **errp);
/* Returns the number of dirty pages now set in @bitmap, or -errno. */
long dirty_log_sync(RAMBlock *rb, unsigned long *bitmap);
void dirty_log_stop(void);
bool dirty_log_active(void);

#endif
