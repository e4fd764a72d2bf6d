/*
 * Guest RAM in QEMU's migration format: the "ram" section carries pages
 * as be64(offset | flags), a block name unless RAM_SAVE_FLAG_CONTINUE,
 * then the page (RAM_SAVE_FLAG_PAGE) or one fill byte (RAM_SAVE_FLAG_ZERO).
 */
#ifndef FERRY_MIGRATION_RAM_H
#define FERRY_MIGRATION_RAM_H

#include "migration/register.h"

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
    uint64_t dirty_pages_rate;  /* pages/s, measured between syncs */
    uint64_t dirty_pages_found; /* pages the syncs found newly dirty, total */
    uint64_t remaining_pages;
    uint64_t total_bytes;
} RAMStats;

extern const SaveVMHandlers ram_handlers;

/* Statistics of the migration in progress; false when there is none. */
bool ram_migration_stats(RAMStats *out);

/* True if the 4 KiB page is all zero bytes. */
bool ram_page_is_zero(const uint8_t *page);

#endif
