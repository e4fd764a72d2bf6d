/*
 * Internals of the http/https drivers, shared by block/http.c (the driver,
 * the worker thread, the curl transfers) and block/http-cache.c (the
 * readahead cache and the planning of reads).
 *
 * Locking: one worker thread per node owns the curl multi handle, the easy
 * handles, every HttpFetch and the whole cache; none of it is locked.
 * Other threads touch only the submit queue and the stop flag, under
 * HttpState.lock, and wake the worker with curl_multi_wakeup().  Before
 * the worker starts, attach drives the same multi handle on its own thread.
 */
#ifndef FERRY_BLOCK_HTTP_INT_H
#define FERRY_BLOCK_HTTP_INT_H

#include <curl/curl.h>
#include <stdatomic.h>
#include "block/block_int.h"
#include "block/http-response.h"
#include "ferry/block-http.h"

/* Transfers running at once per node; later ones wait for a handle. */
#define HTTP_MAX_TRANSFERS BDRV_HTTP_MAX_TRANSFERS

typedef struct HttpState HttpState;
typedef struct HttpFetch HttpFetch;

typedef enum HttpChunkState {
    HTTP_CHUNK_LOADING,         /* a fetch is filling it; reads wait */
    HTTP_CHUNK_READY,           /* in the LRU, counted in cache_bytes */
} HttpChunkState;

/* readahead bytes of the image at index * readahead (shorter at the end). */
typedef struct HttpChunk {
    uint64_t index;
    uint64_t len;
    uint8_t *data;
    HttpChunkState state;
    GSList *waiters;            /* HttpRead waiting while LOADING */
    GList lru;                  /* link in HttpState.lru while READY */
} HttpChunk;

/* A guest read in progress on the worker. */
typedef struct HttpRead {
    BlockRequest *req;
    int pending;                /* chunks or fetches still to arrive */
    int ret;                    /* first error, or 0 */
} HttpRead;

/* Set by a fetch that someone waits for synchronously (attach). */
typedef struct HttpWait {
    bool done;
    int ret;
    long status;
    HttpResponse rsp;           /* what the server said */
    char *why;                  /* reason of a failure */
} HttpWait;

/* One range request: bytes [start, start + len) into @iov. */
struct HttpFetch {
    HttpState *s;
    CURL *easy;
    uint64_t start;
    uint64_t len;
    HttpResponse rsp;           /* what came back (got: bytes stored) */
    struct iovec *iov;
    int iovcnt;
    int cur_iov;                /* write cursor */
    size_t cur_off;
    /* Exactly one of these is the destination's owner. */
    HttpChunk **chunks;         /* a run of consecutive chunks */
    int nchunks;
    HttpRead *direct;           /* readahead=0: straight into the request */
    HttpWait *wait;
    char errbuf[CURL_ERROR_SIZE];
};

struct HttpState {
    /* configure */
    char *url;
    bool https;
    uint64_t timeout_ms;
    uint64_t readahead;
    uint64_t cache_size;

    int64_t length;
    CURLM *multi;
    CURL *idle[HTTP_MAX_TRANSFERS];
    int nidle;
    int nhandles;
    GQueue inflight;            /* HttpFetch holding a handle */
    GQueue backlog;             /* HttpFetch waiting for a handle */

    /* cache (worker only) */
    GHashTable *chunks;         /* index -> HttpChunk */
    GQueue lru;                 /* READY chunks, least recent at the head */
    uint64_t cache_bytes;

    GThread *thread;
    GMutex lock;
    GQueue submitted;           /* BlockRequest, lock */
    bool stop;                  /* lock */

    atomic_uint_fast64_t st_requests, st_reads, st_hits, st_bytes, st_connects;
};

/* http.c: starts @f now or when a handle is free. */
void http_fetch_start(HttpState *s, HttpFetch *f);
void http_log(HttpState *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* http-cache.c */
void http_cache_init(HttpState *s);
void http_cache_free(HttpState *s);
/* Plans @req (worker thread): from cache, waiting on fetches, or new ones. */
void http_read_start(HttpState *s, BlockRequest *req);
/* Fetches chunk 0 so that the first reads hit; ends in @w (attach). */
void http_cache_warm(HttpState *s, HttpWait *w);
/* A fetch of @f ended with @ret (0 / -EIO); frees @f. */
void http_fetch_done(HttpFetch *f, int ret, const char *why);
/* Fails a read before it was planned (the node is going away). */
void http_read_fail(BlockRequest *req, int ret);

#endif
