/*
 * The "file" driver: a raw image in a host file or block device.
 *
 *   filename=PATH           required
 *   cache.direct=on|off     O_DIRECT (requests must be 512-byte aligned;
 *                           misaligned buffers go through a bounce buffer)
 *   aio=io_uring|threads    default: io_uring when the kernel allows it
 *   locking=on|off          image locks (image-lock.h), default on
 *
 * attach opens the file and takes the shared lock, activate the write
 * lock; inactivate syncs and drops it; detach closes (dropping all locks).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "aio-threads.h"
#include "aio-uring.h"
#include "image-lock.h"
#include "util/error.h"

/* Bounce buffers are page aligned: enough for any O_DIRECT device. */
#define BOUNCE_ALIGN 4096

typedef enum FileAio {
    FILE_AIO_AUTO,
    FILE_AIO_IO_URING,
    FILE_AIO_THREADS,
} FileAio;

typedef struct BDRVFileState {
    char *filename;
    bool direct;
    bool locking;
    bool write_locked;
    FileAio aio;
    int fd;
    AioUring *uring;            /* one of these two, from attach on */
    AioThreads *threads;
} BDRVFileState;

/* A request for an O_DIRECT node whose memory is not aligned. */
typedef struct BounceReq {
    BlockRequest req;           /* what the engine sees */
    BlockRequest *orig;
    struct iovec iov;
    void *buf;
} BounceReq;

static const char *const file_options[] = {
    "filename", "cache.direct", "aio", "locking", NULL,
};

static bool file_parse_aio(const Keyval *opts, FileAio *aio, GError **errp)
{
    const char *v;

    if (!keyval_get_str(opts, "aio", &v, errp)) {
        return false;
    }
    if (!v) {
        *aio = FILE_AIO_AUTO;
    } else if (!strcmp(v, "io_uring")) {
        *aio = FILE_AIO_IO_URING;
    } else if (!strcmp(v, "threads")) {
        *aio = FILE_AIO_THREADS;
    } else {
        error_setg(errp, "Parameter 'aio' expects 'io_uring' or 'threads', "
                   "not '%s'", v);
        return false;
    }
    return true;
}

static bool file_configure(BlockDriverState *bs, const Keyval *opts,
                           GError **errp)
{
    BDRVFileState *s = bdrv_opaque(bs);
    const char *filename;

    s->fd = -1;
    if (!keyval_get_str(opts, "filename", &filename, errp)) {
        return false;
    }
    if (!filename || !*filename) {
        error_setg(errp, "Parameter 'filename' is missing (driver 'file')");
        return false;
    }
    if (!keyval_get_bool(opts, "cache.direct", false, &s->direct, errp) ||
        !keyval_get_bool(opts, "locking", true, &s->locking, errp) ||
        !file_parse_aio(opts, &s->aio, errp)) {
        return false;
    }
    s->filename = g_strdup(filename);
    bdrv_set_direct(bs, s->direct);
    return true;
}

static void file_cleanup(BlockDriverState *bs)
{
    BDRVFileState *s = bdrv_opaque(bs);

    g_clear_pointer(&s->filename, g_free);
}

static bool file_open(BlockDriverState *bs, GError **errp)
{
    BDRVFileState *s = bdrv_opaque(bs);
    int flags = (bdrv_is_read_only(bs) ? O_RDONLY : O_RDWR) | O_CLOEXEC |
                (s->direct ? O_DIRECT : 0);

    s->fd = bdrv_take_image_fd(bs);
    if (s->fd < 0) {
        s->fd = open(s->filename, flags);
    }
    if (s->fd >= 0) {
        return true;
    }
    if (errno == EINVAL && s->direct) {
        error_setg(errp, "Could not open '%s': the filesystem does not "
                   "support O_DIRECT (cache.direct=on)", s->filename);
    } else {
        error_setg_errno(errp, errno, "Could not open '%s'", s->filename);
    }
    return false;
}

static bool file_length(BDRVFileState *s, int64_t *length, GError **errp)
{
    struct stat st;
    off_t end;

    if (fstat(s->fd, &st) < 0) {
        error_setg_errno(errp, errno, "Could not stat '%s'", s->filename);
        return false;
    }
    if (S_ISREG(st.st_mode)) {
        *length = st.st_size;
        return true;
    }
    end = lseek(s->fd, 0, SEEK_END);
    if (end < 0) {
        error_setg_errno(errp, errno, "Could not get the size of '%s'",
                         s->filename);
        return false;
    }
    *length = end;
    return true;
}

static bool file_start_aio(BDRVFileState *s, GError **errp)
{
    g_autoptr(GError) err = NULL;

    if (s->aio != FILE_AIO_THREADS) {
        s->uring = aio_uring_new(s->fd, &err);
        if (s->uring) {
            return true;
        }
        if (s->aio == FILE_AIO_IO_URING) {
            error_setg(errp, "aio=io_uring for '%s': %s", s->filename,
                       err->message);
            return false;
        }
    }
    s->threads = aio_threads_new(s->fd, errp);
    return s->threads != NULL;
}

static void file_close(BDRVFileState *s)
{
    g_clear_pointer(&s->uring, aio_uring_free);
    g_clear_pointer(&s->threads, aio_threads_free);
    if (s->fd >= 0) {
        close(s->fd);           /* drops every OFD lock of this fd */
        s->fd = -1;
    }
    s->write_locked = false;
}

static bool file_attach(BlockDriverState *bs, int64_t *length, GError **errp)
{
    BDRVFileState *s = bdrv_opaque(bs);

    if (!file_open(bs, errp)) {
        return false;
    }
    if ((s->locking && !image_lock_attach(s->fd, s->filename, errp)) ||
        !file_length(s, length, errp) || !file_start_aio(s, errp)) {
        file_close(s);
        return false;
    }
    return true;
}

static bool file_activate(BlockDriverState *bs, GError **errp)
{
    BDRVFileState *s = bdrv_opaque(bs);

    if (!s->locking || bdrv_is_read_only(bs) || s->write_locked) {
        return true;
    }
    s->write_locked = image_lock_write(s->fd, s->filename, errp);
    return s->write_locked;
}

static bool file_inactivate(BlockDriverState *bs, GError **errp)
{
    BDRVFileState *s = bdrv_opaque(bs);

    if (!bdrv_is_read_only(bs) && fdatasync(s->fd) < 0) {
        error_setg_errno(errp, errno, "Could not flush '%s'", s->filename);
        return false;
    }
    if (s->write_locked) {
        image_unlock_write(s->fd);
        s->write_locked = false;
    }
    return true;
}

static void file_detach(BlockDriverState *bs)
{
    file_close(bdrv_opaque(bs));
}

static int file_engine_submit(BDRVFileState *s, BlockRequest *req)
{
    return s->uring ? aio_uring_submit(s->uring, req)
                    : aio_threads_submit(s->threads, req);
}

static bool iov_aligned(const BlockRequest *req)
{
    for (int i = 0; i < req->iovcnt; i++) {
        if (((uintptr_t)req->iov[i].iov_base | req->iov[i].iov_len) &
            (BDRV_SECTOR_SIZE - 1)) {
            return false;
        }
    }
    return true;
}

static void bounce_complete(BlockRequest *req, int ret)
{
    BounceReq *b = (BounceReq *)req;
    BlockRequest *orig = b->orig;

    if (ret == 0 && orig->type == BLOCK_REQ_READ) {
        const char *p = b->buf;
        for (int i = 0; i < orig->iovcnt; i++) {
            memcpy(orig->iov[i].iov_base, p, orig->iov[i].iov_len);
            p += orig->iov[i].iov_len;
        }
    }
    free(b->buf);
    g_free(b);
    orig->complete(orig, ret);
}

/* O_DIRECT wants aligned memory: copy through an aligned buffer. */
static int file_submit_bounced(BDRVFileState *s, BlockRequest *orig)
{
    BounceReq *b = g_new0(BounceReq, 1);
    int ret;

    if (posix_memalign(&b->buf, BOUNCE_ALIGN, MAX(orig->bytes, 1))) {
        g_free(b);
        return -ENOMEM;
    }
    if (orig->type == BLOCK_REQ_WRITE) {
        char *p = b->buf;
        for (int i = 0; i < orig->iovcnt; i++) {
            memcpy(p, orig->iov[i].iov_base, orig->iov[i].iov_len);
            p += orig->iov[i].iov_len;
        }
    }
    b->orig = orig;
    b->iov = (struct iovec) { .iov_base = b->buf, .iov_len = orig->bytes };
    b->req = *orig;
    b->req.iov = &b->iov;
    b->req.iovcnt = 1;
    b->req.complete = bounce_complete;
    b->req.driver_data = NULL;
    ret = file_engine_submit(s, &b->req);
    if (ret < 0) {
        free(b->buf);
        g_free(b);
    }
    return ret;
}

static int file_submit(BlockDriverState *bs, BlockRequest *req)
{
    BDRVFileState *s = bdrv_opaque(bs);

    if (s->direct && req->type != BLOCK_REQ_FLUSH) {
        if ((req->offset | req->bytes) & (BDRV_SECTOR_SIZE - 1)) {
            return -EINVAL;
        }
        if (!iov_aligned(req)) {
            return file_submit_bounced(s, req);
        }
    }
    return file_engine_submit(s, req);
}

static const char *file_filename(BlockDriverState *bs)
{
    BDRVFileState *s = bdrv_opaque(bs);

    return s->filename;
}

/* -1 while not attached (the descriptor is opened by attach). */
static int file_image_fd(BlockDriverState *bs)
{
    BDRVFileState *s = bdrv_opaque(bs);

    return s->fd;
}

const BlockDriver bdrv_file = {
    .name = "file",
    .instance_size = sizeof(BDRVFileState),
    .options = file_options,
    .configure = file_configure,
    .attach = file_attach,
    .activate = file_activate,
    .inactivate = file_inactivate,
    .detach = file_detach,
    .cleanup = file_cleanup,
    .submit = file_submit,
    .filename = file_filename,
    .image_fd = file_image_fd,
};
