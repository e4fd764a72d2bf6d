/*
 * State shared by hw/block/pvblk.c (the device) and pvblk-vmstate.c (its
 * migration description).  Locking: see the top of pvblk.c.
 */
#ifndef FERRY_HW_BLOCK_PVBLK_INTERNAL_H
#define FERRY_HW_BLOCK_PVBLK_INTERNAL_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include "ferry/migration.h"
#include "ferry/block.h"
#include "guest/pvblk-dev.h"
#include "hw/pvblk.h"

typedef struct PvblkState {
    /* Migrated (pvblk-vmstate.c) */
    uint64_t ring_gpa;          /* 0: no ring */
    uint32_t ring_size;
    uint32_t last_avail;        /* next ring entry to take */
    uint32_t used_idx;          /* completions published */
    uint64_t capacity;          /* sectors, as the guest was told */
    uint64_t flags;             /* PVBLK_F_* */

    /* Not migrated */
    unsigned index;             /* MMIO slot */
    char *id;                   /* -device id=, or "#pvblkN" */
    char *section;              /* the migration section's idstr */
    uint32_t instance;          /* and instance id */
    BlockDriverState *bs;
    GMutex lock;                /* everything in this struct */
    GCond idle;                 /* signalled when inflight drops to 0 */
    unsigned inflight;          /* submitted, used entry not yet written */
    uint32_t ring_epoch;        /* bumped when the ring is replaced */
    uint64_t nr_reads, nr_writes, nr_flushes, nr_errors;
    PvblkStats stats;           /* completed requests (query-blockstats) */
} PvblkState;

/* The node's size in sectors; updates s->capacity when the node knows it
 * (attached).  Caller holds s->lock. */
uint64_t pvblk_capacity_locked(PvblkState *s);
/* Device @index (its MMIO slot), or NULL: for tests and the fuzzer. */
PvblkState *pvblk_get(unsigned index);
/* Whether [@gpa, +ring bytes of @size) is a usable ring. */
bool pvblk_ring_valid(uint64_t gpa, uint64_t size);

bool pvblk_vmstate_register(FerryMig *m, PvblkState *s, GError **errp);
void pvblk_vmstate_unregister(FerryMig *m, PvblkState *s);

#endif
