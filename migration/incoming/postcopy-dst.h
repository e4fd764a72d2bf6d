/*
 * Postcopy: the destination runs the guest before all of its RAM arrived
 * and pulls missing pages on demand (docs/migration.md, "Postcopy").
 *
 * Destination (migration/postcopy-dst.c): the incoming thread calls the
 * command handlers in stream order; placing happens on the incoming and
 * preempt threads; a fault thread of its own asks the source for pages.
 */
#ifndef FERRY_MIGRATION_POSTCOPY_H
#define FERRY_MIGRATION_POSTCOPY_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include "migration/format/qemu-file.h"
#include "ferry/migration.h"

/* MIG_CMD_POSTCOPY_ADVISE: be64 host page size, be64 target page size. */
bool postcopy_dst_advise(FerryMig *m, const uint8_t *data, uint16_t len,
                         GError **errp);
/* MIG_CMD_POSTCOPY_RAM_DISCARD: drops ranges the source will send again. */
bool postcopy_dst_discard(FerryMig *m, const uint8_t *data, uint16_t len,
                          GError **errp);
/*
 * MIG_CMD_POSTCOPY_LISTEN: drops every page not received, registers guest
 * RAM with userfaultfd and starts the fault thread, which asks for pages
 * on @rp.
 */
bool postcopy_dst_listen(FerryMig *m, QEMUFile *rp, GError **errp);
/* True from LISTEN on: pages must be placed, not written. */
bool postcopy_dst_placing(FerryMig *m);
/*
 * The RAM block list arrived (incoming thread): chooses minor-fault or
 * missing-fault mode for this migration.
 */
void postcopy_dst_ram_ready(FerryMig *m);
/* Minor mode: where incoming pages of @block are written; else NULL. */
uint8_t *postcopy_dst_staging(FerryMig *m, unsigned block);
/* True in minor-fault mode (after the block list). */
bool postcopy_dst_minor(FerryMig *m);
/*
 * Minor mode, from LISTEN on: the staging address to write the page at
 * @offset of @block into, or NULL when it is here already or another
 * thread writes it (read it and drop it).  Then publish it, or unclaim it
 * if the read failed.
 */
uint8_t *postcopy_dst_claim(FerryMig *m, unsigned block, uint64_t offset);
void postcopy_dst_unclaim(FerryMig *m, unsigned block, uint64_t offset);
/* Marks the claimed page received and maps it into the guest. */
bool postcopy_dst_publish(FerryMig *m, unsigned block, uint64_t offset,
                          GError **errp);
/* Missing mode: places one page (@page NULL: a zero page) at @offset of
 * @block. */
bool postcopy_dst_place(FerryMig *m, unsigned block, uint64_t offset,
                        const uint8_t *page, GError **errp);
/* For x-postcopy-run-wait: RUN_ACK went out, RUN came in. */
void postcopy_dst_note_run_ack(FerryMig *m);
void postcopy_dst_note_run(FerryMig *m);
/* The return path broke: stop asking (vCPUs that fault keep waiting). */
void postcopy_dst_detach_rp(FerryMig *m);
/* Recovery done: ask on @rp from now on, and again for what waits. */
void postcopy_dst_resume(FerryMig *m, QEMUFile *rp);
/* MIG_CMD_RECV_BITMAP (u8 len, block name): answers on @rp. */
bool postcopy_dst_send_recv_bitmap(FerryMig *m, QEMUFile *rp,
                                   const uint8_t *data, uint16_t len,
                                   GError **errp);
/*
 * The stream ended: checks that every page arrived, then stops the fault
 * thread and unregisters.  False (@errp) if pages are missing.
 */
bool postcopy_dst_finish(FerryMig *m, GError **errp);
/*
 * Minor mode, the incoming migration is over on any path (completed in
 * precopy or postcopy, failed, paused with no recovery left): the staging
 * mappings are released in the background (postcopy_minor_finish), so
 * the process's RSS counts guest RAM once again.  @precopy_completed: the
 * guest's mapping is still empty, and is mapped in the background too.
 * Main context, once no incoming thread runs and the guest may run.  In
 * the other modes the VMM is told at once that its staging mappings
 * (never written) are not needed.
 */
void postcopy_dst_release_staging(FerryMig *m, bool precopy_completed);
/* The context is freed: stop the fault thread, unregister guest RAM. */
void postcopy_dst_shutdown(FerryMig *m);
/* Fills the destination's postcopy members of query-migrate. */
void postcopy_dst_fill_info(FerryMig *m, MigrationInfo *info);

#endif
