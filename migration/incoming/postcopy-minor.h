/*
 * Postcopy with userfaultfd minor faults on the destination: incoming
 * pages are written through a staging mapping of each memfd and mapped
 * into the guest's mapping with UFFDIO_CONTINUE once final, so
 * POSTCOPY_RAM_DISCARD frees nothing (docs/migration.md, "Minor-fault
 * mode").  postcopy-dst.c decides the mode and drives these.
 */
#ifndef FERRY_MIGRATION_POSTCOPY_MINOR_H
#define FERRY_MIGRATION_POSTCOPY_MINOR_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include "migration/context.h"

typedef struct PostcopyMinor PostcopyMinor;

/*
 * Whether @m's capabilities and VMM allow the mode: postcopy-ram and
 * x-postcopy-minor-faults on, a ram_block_staging hook, every block in an
 * fd with a staging mapping.  The kernel is the caller's to ask.  Any
 * thread.
 */
bool postcopy_minor_wanted(FerryMig *m);
/*
 * The staging mappings of every block, taken when the RAM block list
 * arrives; the guest's mappings are emptied right away, so what a
 * pre-fault or the VMM put there before costs nothing at LISTEN.
 */
PostcopyMinor *postcopy_minor_new(FerryMig *m);
void postcopy_minor_free(PostcopyMinor *pm);
uint8_t *postcopy_minor_staging(PostcopyMinor *pm, unsigned block);

/*
 * LISTEN: empties the guest's mappings again (only what was touched since
 * has entries), registers them on @uffd for MISSING and MINOR faults, and
 * notes which pages are here (received, not discarded) for the background
 * pass.
 */
bool postcopy_minor_listen(FerryMig *m, PostcopyMinor *pm, int uffd,
                           const MigRAMBlock *blocks, GError **errp);

/*
 * A placing thread that wins the claim of a page not received yet writes
 * it (several channels may carry one page); a failed read gives the claim
 * back, so the page can come again after a recovery.
 */
bool postcopy_minor_claim(PostcopyMinor *pm, unsigned block, uint64_t page);
void postcopy_minor_unclaim(PostcopyMinor *pm, unsigned block, uint64_t page);

/*
 * Maps a page that is here into the guest's mapping at @host and wakes
 * whoever waits on it: UFFDIO_CONTINUE, or UFFDIO_ZEROPAGE for a page
 * that is a hole (it reads zeros).  0, or -errno.
 */
int postcopy_minor_map(int uffd, uint8_t *host);

/*
 * The incoming migration is over, nothing writes through the staging
 * mappings any more: on a thread of its own (mig/unstage), the VMM
 * unmaps them (ram_block_staging_done) or they lose their page-table
 * entries; the memory stays, in the memfd the guest maps.  With @fill
 * (the migration completed in precopy: the guest's mapping is empty and
 * was never registered), it then maps every page of the guest's mapping
 * while the guest runs.  postcopy_minor_free stops the fill and waits.
 * Once; main context.
 */
void postcopy_minor_finish(FerryMig *m, PostcopyMinor *pm, bool fill);

/*
 * The background pass (mig/map, after RUN): maps the next run of pages
 * that were here at LISTEN, at most a few hundred, so that stopping the
 * pass is quick.  False once every block is done.
 */
bool postcopy_minor_populate_step(PostcopyMinor *pm, int uffd,
                                  const MigRAMBlock *blocks);

#endif
