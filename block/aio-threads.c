/*
 * Thread-pool I/O: each request runs as one blocking preadv/pwritev loop
 * (or fdatasync) on a GThreadPool worker, which then completes it.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include "aio-threads.h"

#define AIO_THREADS_MAX 16

struct AioThreads {
    int fd;
    GThreadPool *pool;
};

/* Skips @n bytes of (*iov, *cnt), which it may modify. */
static void iov_advance(struct iovec **iov, int *cnt, size_t n)
{
    while (*cnt && n >= (*iov)->iov_len) {
        n -= (*iov)->iov_len;
        (*iov)++;
        (*cnt)--;
    }
    if (*cnt) {
        (*iov)->iov_base = (char *)(*iov)->iov_base + n;
        (*iov)->iov_len -= n;
    }
}

static void iov_zero(const struct iovec *iov, int cnt)
{
    for (int i = 0; i < cnt; i++) {
        memset(iov[i].iov_base, 0, iov[i].iov_len);
    }
}

int aio_do_rw_sync(int fd, const BlockRequest *req)
{
    g_autofree struct iovec *copy = g_memdup2(req->iov,
                                              sizeof(*copy) * req->iovcnt);
    struct iovec *iov = copy;
    int cnt = req->iovcnt;
    uint64_t off = req->offset;

    while (cnt) {
        ssize_t n = req->type == BLOCK_REQ_READ
                    ? preadv(fd, iov, MIN(cnt, IOV_MAX), off)
                    : pwritev(fd, iov, MIN(cnt, IOV_MAX), off);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            return -errno;
        }
        if (n == 0) {
            if (req->type != BLOCK_REQ_READ) {
                return -EIO;
            }
            iov_zero(iov, cnt);
            return 0;
        }
        off += n;
        iov_advance(&iov, &cnt, n);
    }
    return 0;
}

static void worker(gpointer data, gpointer user_data)
{
    BlockRequest *req = data;
    AioThreads *t = user_data;
    int ret;

    if (req->type == BLOCK_REQ_FLUSH) {
        ret = fdatasync(t->fd) < 0 ? -errno : 0;
    } else {
        ret = aio_do_rw_sync(t->fd, req);
    }
    req->complete(req, ret);
}

AioThreads *aio_threads_new(int fd, GError **errp)
{
    AioThreads *t = g_new0(AioThreads, 1);

    t->fd = fd;
    t->pool = g_thread_pool_new(worker, t, AIO_THREADS_MAX, FALSE, errp);
    if (!t->pool) {
        g_free(t);
        return NULL;
    }
    return t;
}

int aio_threads_submit(AioThreads *t, BlockRequest *req)
{
    GError *err = NULL;

    if (!g_thread_pool_push(t->pool, req, &err)) {
        g_error_free(err);
        return -EAGAIN;
    }
    return 0;
}

void aio_threads_free(AioThreads *t)
{
    if (t) {
        g_thread_pool_free(t->pool, FALSE, TRUE);
        g_free(t);
    }
}
