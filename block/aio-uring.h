/*
 * The io_uring I/O engine for the file driver: one ring per node, and one
 * thread per ring that submits what any thread queued and reaps the
 * completions (running req->complete).  See aio-uring.c for why the
 * submitting thread is not the caller's.
 */
#ifndef FERRY_BLOCK_AIO_URING_H
#define FERRY_BLOCK_AIO_URING_H

#include "block/block_int.h"

typedef struct AioUring AioUring;

/* NULL with @errp set when io_uring is not available here. */
AioUring *aio_uring_new(int fd, GError **errp);
/* Queues @req (0), or -errno; req->complete runs on the ring thread. */
int aio_uring_submit(AioUring *u, BlockRequest *req);
/* Call drained: stops the ring thread and frees the ring. */
void aio_uring_free(AioUring *u);

#endif
