/*
 * io_uring I/O (see aio-uring.h).
 *
 * One thread per ring does all the ring work: it takes the requests that
 * any thread queued, puts them in the SQ, submits, and reaps completions.
 * Why not submit from the caller's thread under a mutex: the kernel ties
 * a request that it hands to its io-wq workers (buffered writes, most
 * reads) to the task that submitted it, and cancels it (-ECANCELED) when
 * that thread exits; a short-lived submitter (a test thread, a vCPU on
 * the way out) would lose its I/O.  The ring thread outlives its requests.
 *
 * Locking: u->lock guards u->pending and u->stopping, the hand-over from
 * submitters; everything else belongs to the ring thread.  A submitter
 * wakes the ring thread through an eventfd the ring polls.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <liburing.h>
#include "aio-uring.h"
#include "util/error.h"

#define URING_ENTRIES 256
/* One SQE stays free for re-arming the wake-up poll; the CQ (twice the
 * SQ) can then never overflow. */
#define URING_MAX_INFLIGHT (URING_ENTRIES - 1)

/* The user_data of the eventfd poll. */
static char wake_token;

struct AioUring {
    struct io_uring ring;
    int fd;
    int efd;
    GThread *thread;

    GMutex lock;
    GQueue pending;             /* UringOp, queued by submitters */
    bool stopping;

    /* ring thread only */
    GQueue ready;               /* UringOp to put into the SQ */
    unsigned inflight;
    bool poll_armed;
};

/* One request; the iovec is the part not yet transferred. */
typedef struct UringOp {
    BlockRequest *req;
    struct iovec *iov;
    int iovcnt;
    uint64_t offset;
    struct iovec *iov_alloc;
} UringOp;

static void prep(struct io_uring_sqe *sqe, int fd, UringOp *op)
{
    switch (op->req->type) {
    case BLOCK_REQ_READ:
        io_uring_prep_readv(sqe, fd, op->iov, MIN(op->iovcnt, IOV_MAX),
                            op->offset);
        break;
    case BLOCK_REQ_WRITE:
        io_uring_prep_writev(sqe, fd, op->iov, MIN(op->iovcnt, IOV_MAX),
                             op->offset);
        break;
    case BLOCK_REQ_FLUSH:
        io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
        break;
    }
    io_uring_sqe_set_data(sqe, op);
}

static void op_finish(UringOp *op, int ret)
{
    BlockRequest *req = op->req;

    g_free(op->iov_alloc);
    g_free(op);
    req->complete(req, ret);
}

static void iov_advance(UringOp *op, size_t n)
{
    while (op->iovcnt && n >= op->iov->iov_len) {
        n -= op->iov->iov_len;
        op->iov++;
        op->iovcnt--;
    }
    if (op->iovcnt) {
        op->iov->iov_base = (char *)op->iov->iov_base + n;
        op->iov->iov_len -= n;
    }
}

static void op_done(AioUring *u, UringOp *op, int res)
{
    BlockRequest *req = op->req;

    if (res == -EINTR || res == -EAGAIN) {
        g_queue_push_tail(&u->ready, op);   /* transient: the same again */
        return;
    }
    if (res < 0 || req->type == BLOCK_REQ_FLUSH) {
        op_finish(op, res < 0 ? res : 0);
        return;
    }
    if (res == 0) {
        /* End of file inside the node's length: the file shrank. */
        if (req->type == BLOCK_REQ_WRITE) {
            op_finish(op, -EIO);
            return;
        }
        for (int i = 0; i < op->iovcnt; i++) {
            memset(op->iov[i].iov_base, 0, op->iov[i].iov_len);
        }
        op_finish(op, 0);
        return;
    }
    op->offset += res;
    iov_advance(op, res);
    if (op->iovcnt == 0) {
        op_finish(op, 0);
    } else {
        g_queue_push_tail(&u->ready, op);   /* short transfer: the rest */
    }
}

/* Moves the submitters' requests over; true when asked to stop. */
static bool take_pending(AioUring *u)
{
    bool stopping;

    g_mutex_lock(&u->lock);
    while (!g_queue_is_empty(&u->pending)) {
        g_queue_push_tail(&u->ready, g_queue_pop_head(&u->pending));
    }
    stopping = u->stopping;
    g_mutex_unlock(&u->lock);
    return stopping;
}

static void fill_sq(AioUring *u)
{
    struct io_uring_sqe *sqe;

    if (!u->poll_armed && (sqe = io_uring_get_sqe(&u->ring))) {
        io_uring_prep_poll_add(sqe, u->efd, POLLIN);
        io_uring_sqe_set_data(sqe, &wake_token);
        u->poll_armed = true;
    }
    while (u->inflight < URING_MAX_INFLIGHT && !g_queue_is_empty(&u->ready) &&
           (sqe = io_uring_get_sqe(&u->ring))) {
        prep(sqe, u->fd, g_queue_pop_head(&u->ready));
        u->inflight++;
    }
}

static void handle_cqe(AioUring *u, void *data, int res)
{
    uint64_t cnt;

    if (data == &wake_token) {
        u->poll_armed = false;
        if (read(u->efd, &cnt, sizeof(cnt)) < 0) {
            /* EAGAIN: already cleared; nothing else can fail here */
        }
        return;
    }
    u->inflight--;
    op_done(u, data, res);
}

/* Waits for at least one completion and handles all that are there. */
static void reap(AioUring *u, bool submit_failed)
{
    struct __kernel_timespec ts = { .tv_nsec = 1000000 };
    struct io_uring_cqe *cqe;
    int ret;

    ret = submit_failed ? io_uring_wait_cqe_timeout(&u->ring, &cqe, &ts)
                        : io_uring_wait_cqe(&u->ring, &cqe);
    while (ret == 0) {
        void *data = io_uring_cqe_get_data(cqe);
        int res = cqe->res;

        io_uring_cqe_seen(&u->ring, cqe);
        handle_cqe(u, data, res);
        ret = io_uring_peek_cqe(&u->ring, &cqe);
    }
}

static gpointer ring_thread(gpointer opaque)
{
    AioUring *u = opaque;

    for (;;) {
        bool stopping = take_pending(u);
        int ret;

        fill_sq(u);
        ret = io_uring_submit(&u->ring);
        if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
            g_warning("aio-uring: io_uring_submit: %s", g_strerror(-ret));
        }
        if (stopping && !u->inflight && g_queue_is_empty(&u->ready)) {
            return NULL;
        }
        reap(u, ret < 0);
    }
}

AioUring *aio_uring_new(int fd, GError **errp)
{
    AioUring *u = g_new0(AioUring, 1);
    int ret;

    ret = io_uring_queue_init(URING_ENTRIES, &u->ring, 0);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "io_uring is not available");
        g_free(u);
        return NULL;
    }
    u->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (u->efd < 0) {
        error_setg_errno(errp, errno, "eventfd");
        io_uring_queue_exit(&u->ring);
        g_free(u);
        return NULL;
    }
    u->fd = fd;
    g_mutex_init(&u->lock);
    g_queue_init(&u->pending);
    g_queue_init(&u->ready);
    u->thread = g_thread_new("blk/uring", ring_thread, u);
    return u;
}

static void wake(AioUring *u)
{
    uint64_t one = 1;

    if (write(u->efd, &one, sizeof(one)) < 0) {
        /* EAGAIN: the counter is saturated, so the ring is awake anyway */
    }
}

int aio_uring_submit(AioUring *u, BlockRequest *req)
{
    UringOp *op = g_new0(UringOp, 1);
    bool was_empty;

    op->req = req;
    op->offset = req->offset;
    op->iovcnt = req->iovcnt;
    op->iov_alloc = g_memdup2(req->iov, sizeof(struct iovec) * req->iovcnt);
    op->iov = op->iov_alloc;
    g_mutex_lock(&u->lock);
    was_empty = g_queue_is_empty(&u->pending);
    g_queue_push_tail(&u->pending, op);
    g_mutex_unlock(&u->lock);
    /* The ring thread empties the whole queue per wake-up. */
    if (was_empty) {
        wake(u);
    }
    return 0;
}

void aio_uring_free(AioUring *u)
{
    if (!u) {
        return;
    }
    g_mutex_lock(&u->lock);
    u->stopping = true;
    g_mutex_unlock(&u->lock);
    wake(u);
    g_thread_join(u->thread);
    io_uring_queue_exit(&u->ring);      /* also cancels the armed poll */
    close(u->efd);
    g_mutex_clear(&u->lock);
    g_free(u);
}
