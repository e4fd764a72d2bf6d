/*
 * The "blkdelay" filter: a slow backend in miniature, for tests and
 * migration-downtime experiments.
 *
 *   file=NODE               the child, required
 *   attach-latency-ms=N     attach sleeps N ms (a slow connect)
 *   io-latency-us=N         each request reaches the child N us late
 *
 * The I/O delay is a delay line: submit stamps the request with its due
 * time and queues it; one thread per node forwards requests in order as
 * they fall due.  All requests of a node have the same delay, so FIFO
 * order is due order, and requests overlap as with a real slow disk: the
 * delay adds latency, not serialisation.  The submitting thread never
 * waits.
 */
#include <errno.h>
#include "block/block_int.h"

typedef struct DelayItem {
    BlockRequest *req;          /* NULL: the thread exits */
    gint64 due_us;              /* monotonic */
} DelayItem;

typedef struct BDRVDelayState {
    uint64_t attach_latency_ms;
    uint64_t io_latency_us;
    GAsyncQueue *queue;
    GThread *thread;
} BDRVDelayState;

static const char *const delay_options[] = {
    "attach-latency-ms", "io-latency-us", NULL,
};

static bool delay_configure(BlockDriverState *bs, const Keyval *opts,
                            GError **errp)
{
    BDRVDelayState *s = bdrv_opaque(bs);

    return keyval_get_u64(opts, "attach-latency-ms", 0, &s->attach_latency_ms,
                          errp) &&
           keyval_get_u64(opts, "io-latency-us", 0, &s->io_latency_us, errp);
}

static void delay_child_done(void *opaque, int ret)
{
    BlockRequest *req = opaque;

    req->complete(req, ret);
}

static int delay_forward(BlockDriverState *bs, BlockRequest *req)
{
    BlockDriverState *child = bdrv_child(bs);

    switch (req->type) {
    case BLOCK_REQ_READ:
        return bdrv_aio_preadv(child, req->offset, req->iov, req->iovcnt,
                               delay_child_done, req);
    case BLOCK_REQ_WRITE:
        return bdrv_aio_pwritev(child, req->offset, req->iov, req->iovcnt,
                                delay_child_done, req);
    case BLOCK_REQ_FLUSH:
        return bdrv_aio_flush(child, delay_child_done, req);
    }
    return -EINVAL;
}

static gpointer delay_thread(gpointer opaque)
{
    BlockDriverState *bs = opaque;
    BDRVDelayState *s = bdrv_opaque(bs);

    for (;;) {
        DelayItem *item = g_async_queue_pop(s->queue);
        BlockRequest *req = item->req;
        gint64 wait = item->due_us - g_get_monotonic_time();
        int ret;

        g_free(item);
        if (!req) {
            return NULL;
        }
        if (wait > 0) {
            g_usleep(wait);
        }
        ret = delay_forward(bs, req);
        if (ret < 0) {
            req->complete(req, ret);    /* not inside our submit: allowed */
        }
    }
}

static bool delay_attach(BlockDriverState *bs, int64_t *length, GError **errp)
{
    BDRVDelayState *s = bdrv_opaque(bs);

    if (s->attach_latency_ms) {
        g_usleep(s->attach_latency_ms * 1000);
    }
    *length = bdrv_getlength(bdrv_child(bs));
    if (s->io_latency_us) {
        s->queue = g_async_queue_new();
        s->thread = g_thread_new("blk/delay", delay_thread, bs);
    }
    return true;
}

/* Called drained (the core waits for our requests first). */
static void delay_detach(BlockDriverState *bs)
{
    BDRVDelayState *s = bdrv_opaque(bs);

    if (s->thread) {
        g_async_queue_push(s->queue, g_new0(DelayItem, 1));
        g_thread_join(s->thread);
        s->thread = NULL;
        g_clear_pointer(&s->queue, g_async_queue_unref);
    }
}

static int delay_submit(BlockDriverState *bs, BlockRequest *req)
{
    BDRVDelayState *s = bdrv_opaque(bs);
    DelayItem *item;

    if (!s->queue) {
        return delay_forward(bs, req);
    }
    item = g_new(DelayItem, 1);
    item->req = req;
    item->due_us = g_get_monotonic_time() + s->io_latency_us;
    g_async_queue_push(s->queue, item);
    return 0;
}

const BlockDriver bdrv_blkdelay = {
    .name = "blkdelay",
    .instance_size = sizeof(BDRVDelayState),
    .options = delay_options,
    .has_child = true,
    .configure = delay_configure,
    .attach = delay_attach,
    .detach = delay_detach,
    .submit = delay_submit,
};
