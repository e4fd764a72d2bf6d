/*
 * The contents the guest's disk workload writes, one 512-byte sector at a
 * time: word 0 is the sector number, word 1 the generation, the other 62
 * words derived from both, so a sector that landed at the wrong place, an
 * old write that resurfaced, or a torn sector all fail the check.
 * Generation 0 is the "formatted" disk that `ferry-img create` writes.
 *
 * Freestanding (no libc): built into the test guest and into ferry's
 * library (ferry-img, the tests).
 */
#ifndef GUEST_DISK_PATTERN_H
#define GUEST_DISK_PATTERN_H

#include <stdbool.h>
#include <stdint.h>

#define DP_SECTOR_SIZE   512u
#define DP_SECTOR_WORDS  (DP_SECTOR_SIZE / 8)

/* Writes sector @sector's contents for generation @gen into @p. */
void dp_fill_sector(uint64_t *p, uint64_t sector, uint32_t gen);
/* True if @p holds exactly sector @sector's contents for @gen. */
bool dp_sector_ok(const uint64_t *p, uint64_t sector, uint32_t gen);
/* @n consecutive sectors from @first, all of generation @gen. */
void dp_fill(uint64_t *p, uint64_t first, uint64_t n, uint32_t gen);
/* The index (0..n-1) of the first of @n sectors from @first that is not
 * generation @gen, or @n if all are. */
uint64_t dp_check(const uint64_t *p, uint64_t first, uint64_t n, uint32_t gen);

/* What a sector holds, whatever the generation table says. */
enum dp_kind {
    DP_PATTERN,     /* sector @sector's contents for some generation */
    DP_BLANK,       /* all zeros: never written, not even formatted */
    DP_OTHER,       /* neither: corrupt, or not a disk-pattern image */
};
/* Classifies @p as sector @sector; a pattern's generation goes to *@gen. */
enum dp_kind dp_classify(const uint64_t *p, uint64_t sector, uint32_t *gen);

#endif
