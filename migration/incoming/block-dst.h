/*
 * The destination's disks during an incoming migration (see
 * migration/block-dst.c).  Not for use outside migration/.
 */
#ifndef FERRY_MIGRATION_BLOCK_DST_H
#define FERRY_MIGRATION_BLOCK_DST_H

#include <glib.h>
#include <stdbool.h>
#include "ferry/migration.h"
#include "migration/format/qemu-file.h"

/*
 * Called when the attach fails early: fail the migration unless it can
 * no longer fail (the destination acknowledged the device state).
 */
typedef void (*BlockDstFailFn)(FerryMig *m, GError *err);

/* The incoming stream was accepted: attach early if asked to. */
void block_dst_start(FerryMig *m, BlockDstFailFn on_failure);
/* The return path is open: SWITCHOVER_ACK once the disks are attached. */
void block_dst_rp_opened(FerryMig *m, QEMUFile *rp);
/* The return path is about to close: nothing more goes on it. */
void block_dst_rp_closed(FerryMig *m);
/*
 * The device state loaded and the guest may run here next: wait for the
 * early attach, then activate (attaching first if nothing attached).
 * Skipped (true) when late-block-activate defers it to `cont`.
 */
bool block_dst_activate(FerryMig *m, bool autostart, GError **errp);
/* The migration ended: joins the attach thread. */
void block_dst_finish(FerryMig *m);

#endif
