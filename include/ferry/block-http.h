/*
 * Counters of an http/https node, for tests and diagnostics: whether a
 * read reached the server or was served by the readahead cache.
 */
#ifndef FERRY_BLOCK_HTTP_H
#define FERRY_BLOCK_HTTP_H

#include <ferry/block.h>

/* Range requests one node runs at once, each on its own connection. */
#define BDRV_HTTP_MAX_TRANSFERS 4

typedef struct BlockHttpStats {
    uint64_t requests;          /* HTTP requests sent, attach's included */
    uint64_t reads;             /* guest reads planned */
    uint64_t cache_hits;        /* reads served entirely from the cache */
    uint64_t bytes_fetched;     /* body bytes received */
    uint64_t connects;          /* TCP connections opened: reuse keeps it
                                 * at most BDRV_HTTP_MAX_TRANSFERS */
} BlockHttpStats;

/* False when @bs is not an http/https node. */
FERRY_API bool bdrv_http_stats(BlockDriverState *bs, BlockHttpStats *st);

#endif
