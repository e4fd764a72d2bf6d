/*
 * Sector patterns of the disk workload (see guest/disk-pattern.h).
 * Freestanding, like the RAM workload beside it.
 */
#include "guest/disk-pattern.h"

/* Different seeds from the RAM pages', so a page of guest RAM that ends up
 * on the disk (a wrong buffer address) never passes for a sector. */
#define SEED_SECTOR  0xA0761D6478BD642Full
#define SEED_GEN     0xE7037ED1A0B428DBull
#define SEED_WORD    0x8EBC6AF09C88C6E3ull

static uint64_t sector_seed(uint64_t sector, uint32_t gen)
{
    return (sector * SEED_SECTOR) ^ ((uint64_t)gen * SEED_GEN);
}

void dp_fill_sector(uint64_t *p, uint64_t sector, uint32_t gen)
{
    uint64_t seed = sector_seed(sector, gen);

    p[0] = sector;
    p[1] = gen;
    for (unsigned i = 2; i < DP_SECTOR_WORDS; i++) {
        p[i] = seed ^ (i * SEED_WORD);
    }
}

bool dp_sector_ok(const uint64_t *p, uint64_t sector, uint32_t gen)
{
    uint64_t seed = sector_seed(sector, gen);
    uint64_t diff = (p[0] ^ sector) | (p[1] ^ gen);

    for (unsigned i = 2; i < DP_SECTOR_WORDS; i++) {
        diff |= p[i] ^ (seed ^ (i * SEED_WORD));
    }
    return diff == 0;
}

void dp_fill(uint64_t *p, uint64_t first, uint64_t n, uint32_t gen)
{
    for (uint64_t i = 0; i < n; i++) {
        dp_fill_sector(p + i * DP_SECTOR_WORDS, first + i, gen);
    }
}

uint64_t dp_check(const uint64_t *p, uint64_t first, uint64_t n, uint32_t gen)
{
    for (uint64_t i = 0; i < n; i++) {
        if (!dp_sector_ok(p + i * DP_SECTOR_WORDS, first + i, gen)) {
            return i;
        }
    }
    return n;
}

enum dp_kind dp_classify(const uint64_t *p, uint64_t sector, uint32_t *gen)
{
    uint64_t any = 0;

    if (p[1] <= UINT32_MAX && dp_sector_ok(p, sector, (uint32_t)p[1])) {
        *gen = (uint32_t)p[1];
        return DP_PATTERN;
    }
    for (unsigned i = 0; i < DP_SECTOR_WORDS; i++) {
        any |= p[i];
    }
    return any ? DP_OTHER : DP_BLANK;
}
