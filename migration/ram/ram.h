/*
 * Guest RAM in QEMU's migration format: the "ram" section carries pages
 * as be64(offset | flags), a block name unless RAM_SAVE_FLAG_CONTINUE,
 * then the page (RAM_SAVE_FLAG_PAGE) or one fill byte (RAM_SAVE_FLAG_ZERO).
 */
#ifndef FERRY_MIGRATION_RAM_H
#define FERRY_MIGRATION_RAM_H

#include "ferry/migration.h"
#include "migration/format/register.h"

#define RAM_SAVE_FLAG_ZERO      0x002
#define RAM_SAVE_FLAG_MEM_SIZE  0x004
#define RAM_SAVE_FLAG_PAGE      0x008
#define RAM_SAVE_FLAG_EOS       0x010
#define RAM_SAVE_FLAG_CONTINUE  0x020
#define RAM_SAVE_FLAG_XBZRLE    0x040
#define RAM_SAVE_FLAG_COMPRESS_PAGE 0x100
#define RAM_SAVE_FLAG_MULTIFD_FLUSH 0x200

#define RAM_SECTION_VERSION 4

typedef struct RAMStats {
    uint64_t normal_pages;
    uint64_t zero_pages;
    uint64_t dirty_sync_count;
    uint64_t dirty_sync_missed_zero_copy;   /* rounds the kernel copied in */
    uint64_t dirty_pages_rate;  /* pages/s, measured between syncs */
    uint64_t dirty_pages_found; /* pages the syncs found newly dirty, total */
    uint64_t remaining_pages;
    uint64_t total_bytes;
    uint64_t postcopy_requests;     /* requests the destination sent */
    uint64_t postcopy_urgent_pages; /* pages sent because requested */
} RAMStats;

extern const SaveVMHandlers ram_handlers;
/* Destination: ram_handlers' load_state (migration/ram-load.c). */
int ram_load(QEMUFile *f, void *opaque, int version_id, GError **errp);

/* Statistics of the migration in progress, or of the last one; false
 * when there is none. */
bool ram_migration_stats(FerryMig *m, RAMStats *out);

/*
 * Source, migration thread: turns the dirty log off if this migration
 * turned it on.  Not part of the cleanup: it costs tens of ms for 4 GiB
 * (every memslot rebuilt), so the migration thread calls it after
 * reporting the outcome, and a paused postcopy leaves it on.
 */
void ram_save_stop_log(FerryMig *m);

/* True if the 4 KiB page is all zero bytes. */
bool ram_page_is_zero(const uint8_t *page);

/*
 * Source, postcopy (migration thread unless noted).  After the guest
 * stopped: a final sync, then a POSTCOPY_RAM_DISCARD for every page still
 * to send.
 */
int ram_postcopy_send_discards(FerryMig *m, QEMUFile *f);
/* From now on requested pages go first, on @urgent if not NULL. */
void ram_postcopy_start(FerryMig *m, QEMUFile *urgent);
/* The destination's request (return-path thread): queued, or sent at
 * once on the preempt channel. */
void ram_postcopy_request(FerryMig *m, const char *block, uint64_t offset,
                          uint64_t len);
/* Before the preempt channel closes: no more sends on it. */
void ram_postcopy_stop_urgent(FerryMig *m);
bool ram_postcopy_pending_requests(FerryMig *m);

/*
 * Destination (migration/ram-load.c).  One bit per page received, in
 * precopy and postcopy alike; any thread.
 */
/* UINT_MAX if there is none. */
unsigned ram_recv_block_index(FerryMig *m, const char *name);
/* False until a stream's RAM block list was loaded. */
bool ram_recv_ready(FerryMig *m);
const unsigned long *ram_recv_bitmap(FerryMig *m, unsigned block);
/*
 * Source, postcopy recovery: what the destination holds of @block, as
 * little-endian 64-bit words (MIG_RP_MSG_RECV_BITMAP); every page not in
 * it is to be sent (again).  False if the size does not match the block.
 */
bool ram_postcopy_reload_bitmap(FerryMig *m, const char *block,
                                const uint8_t *le_words, uint64_t bytes);
/* The bytes of @block's RECV_BITMAP (64-bit words), 0: no such block. */
uint64_t ram_postcopy_bitmap_bytes(FerryMig *m, const char *block);
/* A new stream after recovery: the next page names its block. */
void ram_postcopy_new_stream(FerryMig *m, QEMUFile *urgent);
/* Blocks the source must ask RECV_BITMAP for. */
unsigned ram_postcopy_block_count(FerryMig *m);
const char *ram_postcopy_block_name(FerryMig *m, unsigned i);
bool ram_recv_test(FerryMig *m, unsigned block, uint64_t page);
void ram_recv_mark(FerryMig *m, unsigned block, uint64_t page);
void ram_recv_clear(FerryMig *m, unsigned block, uint64_t first,
                    uint64_t count);
/* Pages of @block not received, as runs: calls @fn(first, count). */
void ram_recv_foreach_missing(FerryMig *m, unsigned block,
                              void (*fn)(uint64_t first, uint64_t count,
                                         void *opaque), void *opaque);
/* Reads page records from postcopy-preempt's channel until its EOS. */
int ram_load_preempt_channel(FerryMig *m, QEMUFile *f, GError **errp);

#endif
