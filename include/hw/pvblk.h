/*
 * pvblk: ferry's paravirtual block device.  A request ring in guest RAM
 * and an MMIO doorbell (register layout: guest/include/guest/pvblk-dev.h);
 * the ring indexes are device state, so requests posted before a
 * migration are served after it.
 */
#ifndef FERRY_HW_PVBLK_H
#define FERRY_HW_PVBLK_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include "ferry/block.h"

/* -device "pvblk,drive=NODE,id=ID": maps the next free pvblk slot. */
bool pvblk_create(BlockGraph *g, const char *spec, GError **errp);
/* Waits until every request a pvblk device submitted has completed and
 * its completion is in guest RAM (the source's switchover, with the vCPUs
 * stopped). */
void pvblk_drain_all(void);
/*
 * What a device's requests did, counted as they complete (QEMU's block
 * accounting, for query-blockstats): bytes and operations that
 * succeeded, and the operations that failed.
 */
typedef struct PvblkStats {
    uint64_t rd_bytes, wr_bytes;
    uint64_t rd_ops, wr_ops, flush_ops;
    uint64_t failed_rd, failed_wr, failed_flush;
} PvblkStats;

/* Calls @fn with each device's id (-device id=, or "#pvblkN"), its node
 * and a copy of its counters, in creation order. */
void pvblk_stats_foreach(void (*fn)(const char *id, BlockDriverState *bs,
                                    const PvblkStats *st, void *opaque),
                         void *opaque);
/* Forgets every device (machine cleanup, tests). */
void pvblk_destroy_all(void);

#endif
