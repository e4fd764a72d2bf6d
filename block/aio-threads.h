/*
 * The thread-pool I/O engine for the file driver: preadv/pwritev/fdatasync
 * on pool threads.  The fallback when io_uring is not available.
 */
#ifndef FERRY_BLOCK_AIO_THREADS_H
#define FERRY_BLOCK_AIO_THREADS_H

#include "block/block_int.h"

typedef struct AioThreads AioThreads;

AioThreads *aio_threads_new(int fd, GError **errp);
/* Queues @req (0), or -errno; req->complete runs on a pool thread. */
int aio_threads_submit(AioThreads *t, BlockRequest *req);
/* Waits for the queued requests, then frees. */
void aio_threads_free(AioThreads *t);

/*
 * One synchronous read or write of @req's whole range at @fd, looping over
 * short transfers; a read that meets end of file zero-fills the rest (the
 * file shrank after attach).  0 or -errno.
 */
int aio_do_rw_sync(int fd, const BlockRequest *req);

#endif
