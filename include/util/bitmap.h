/* Bitmaps of unsigned long words, one bit per guest page. */
#ifndef FERRY_UTIL_BITMAP_H
#define FERRY_UTIL_BITMAP_H

#include <stdbool.h>
#include <stdint.h>
#include <limits.h>

#define BITS_PER_LONG (sizeof(unsigned long) * CHAR_BIT)
#define BITS_TO_LONGS(n) (((n) + BITS_PER_LONG - 1) / BITS_PER_LONG)

static inline void bitmap_set_atomic(unsigned long *map, uint64_t bit)
{
    __atomic_fetch_or(&map[bit / BITS_PER_LONG], 1UL << (bit % BITS_PER_LONG),
                      __ATOMIC_RELAXED);
}

/* Sets @bit; true if it was clear (this caller set it). */
static inline bool bitmap_test_and_set_atomic(unsigned long *map,
                                              uint64_t bit)
{
    unsigned long mask = 1UL << (bit % BITS_PER_LONG);

    return !(__atomic_fetch_or(&map[bit / BITS_PER_LONG], mask,
                               __ATOMIC_ACQ_REL) & mask);
}

static inline void bitmap_clear_atomic(unsigned long *map, uint64_t bit)
{
    __atomic_fetch_and(&map[bit / BITS_PER_LONG],
                       ~(1UL << (bit % BITS_PER_LONG)), __ATOMIC_RELEASE);
}

static inline bool bitmap_test(const unsigned long *map, uint64_t bit)
{
    return (map[bit / BITS_PER_LONG] >> (bit % BITS_PER_LONG)) & 1;
}

/* Sets bits [start, start + n). */
void bitmap_set_range(unsigned long *map, uint64_t start, uint64_t n);
/* ORs @nbits bits of @src into @dst starting at bit @dst_off; counts them. */
uint64_t bitmap_or_at(unsigned long *dst, uint64_t dst_off,
                      const unsigned long *src, uint64_t nbits);
/* Atomically moves every set bit of @src into @dst (src cleared). */
uint64_t bitmap_steal_or(unsigned long *dst, unsigned long *src, uint64_t nbits);
uint64_t bitmap_count(const unsigned long *map, uint64_t nbits);
/* The first set bit at or after @start, or @nbits if there is none. */
uint64_t bitmap_find_next(const unsigned long *map, uint64_t nbits,
                          uint64_t start);
/* The first clear bit at or after @start, or @nbits if there is none. */
uint64_t bitmap_find_next_zero(const unsigned long *map, uint64_t nbits,
                               uint64_t start);
/* Clears bits [start, start + n), atomically word by word. */
void bitmap_clear_range_atomic(unsigned long *map, uint64_t start, uint64_t n);

#endif
