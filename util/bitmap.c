#include "util/bitmap.h"

void bitmap_set_range(unsigned long *map, uint64_t start, uint64_t n)
{
    for (uint64_t b = start; b < start + n; b++) {
        map[b / BITS_PER_LONG] |= 1UL << (b % BITS_PER_LONG);
    }
}

uint64_t bitmap_or_at(unsigned long *dst, uint64_t dst_off,
                      const unsigned long *src, uint64_t nbits)
{
    uint64_t count = 0;

    if (dst_off % BITS_PER_LONG == 0) {
        unsigned long *d = dst + dst_off / BITS_PER_LONG;
        uint64_t words = nbits / BITS_PER_LONG;
        for (uint64_t i = 0; i < words; i++) {
            d[i] |= src[i];
            count += (uint64_t)__builtin_popcountl(src[i]);
        }
        for (uint64_t b = words * BITS_PER_LONG; b < nbits; b++) {
            if (bitmap_test(src, b)) {
                d[b / BITS_PER_LONG] |= 1UL << (b % BITS_PER_LONG);
                count++;
            }
        }
        return count;
    }
    for (uint64_t b = 0; b < nbits; b++) {
        if (bitmap_test(src, b)) {
            uint64_t t = dst_off + b;
            dst[t / BITS_PER_LONG] |= 1UL << (t % BITS_PER_LONG);
            count++;
        }
    }
    return count;
}

uint64_t bitmap_steal_or(unsigned long *dst, unsigned long *src, uint64_t nbits)
{
    uint64_t count = 0;

    for (uint64_t i = 0; i < BITS_TO_LONGS(nbits); i++) {
        if (!__atomic_load_n(&src[i], __ATOMIC_RELAXED)) {
            continue;
        }
        unsigned long w = __atomic_exchange_n(&src[i], 0, __ATOMIC_ACQ_REL);
        dst[i] |= w;
        count += (uint64_t)__builtin_popcountl(w);
    }
    return count;
}

uint64_t bitmap_count(const unsigned long *map, uint64_t nbits)
{
    uint64_t count = 0, words = nbits / BITS_PER_LONG;

    for (uint64_t i = 0; i < words; i++) {
        count += (uint64_t)__builtin_popcountl(map[i]);
    }
    for (uint64_t b = words * BITS_PER_LONG; b < nbits; b++) {
        count += bitmap_test(map, b);
    }
    return count;
}


/* The first bit at or after @start that differs from @skip's (0 or ~0). */
static uint64_t find_next_not(const unsigned long *map, uint64_t nbits,
                              uint64_t start, unsigned long skip)
{
    uint64_t i = start / BITS_PER_LONG;
    unsigned long w;

    if (start >= nbits) {
        return nbits;
    }
    w = (map[i] ^ skip) & (~0UL << (start % BITS_PER_LONG));
    while (!w) {
        if (++i >= BITS_TO_LONGS(nbits)) {
            return nbits;
        }
        w = map[i] ^ skip;
    }
    uint64_t bit = i * BITS_PER_LONG + (uint64_t)__builtin_ctzl(w);
    return bit < nbits ? bit : nbits;
}

uint64_t bitmap_find_next(const unsigned long *map, uint64_t nbits,
                          uint64_t start)
{
    return find_next_not(map, nbits, start, 0);
}

uint64_t bitmap_find_next_zero(const unsigned long *map, uint64_t nbits,
                               uint64_t start)
{
    return find_next_not(map, nbits, start, ~0UL);
}

void bitmap_clear_range_atomic(unsigned long *map, uint64_t start, uint64_t n)
{
    while (n) {
        uint64_t i = start / BITS_PER_LONG, shift = start % BITS_PER_LONG;
        uint64_t take = n < BITS_PER_LONG - shift ? n : BITS_PER_LONG - shift;
        unsigned long mask = take == BITS_PER_LONG ? ~0UL
                             : ((1UL << take) - 1) << shift;
        __atomic_fetch_and(&map[i], ~mask, __ATOMIC_RELAXED);
        start += take;
        n -= take;
    }
}
