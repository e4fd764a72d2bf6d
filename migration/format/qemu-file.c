/*
 * The buffered migration stream.
 *
 * Output: small puts are copied into buf and queued as iovec entries that
 * point into it (adjacent entries merge); qemu_put_buffer_async() queues
 * the caller's memory instead.  The queue goes out in one writev when buf
 * fills, when the iovec array fills, or on qemu_fflush().
 *
 * Input: buf is a read-ahead window [buf_index, buf_len); large gets read
 * straight into the caller's buffer.
 *
 * Only last_error is shared between threads (atomic, first error wins),
 * and the rate limit, which may be another stream's too; everything else
 * belongs to the thread that owns the file.
 */
#include <errno.h>
#include <string.h>
#include "migration/format/qemu-file.h"
#include "util/error.h"

#define MAX_IOV 64

struct QEMUFile {
    MigChannel *chan;
    bool writable;
    uint8_t *buf;
    size_t buf_index;           /* output: bytes used; input: next byte */
    size_t buf_len;             /* input: end of the valid bytes */
    struct iovec iov[MAX_IOV];
    int iovcnt;
    int last_error;             /* atomic */
    uint64_t pos;               /* qemu_file_transferred() */
    GMutex writers;             /* qemu_file_lock_writes() */

    MigRateLimit *rate;         /* this stream's own, or one it shares */
    uint64_t rate_pos;          /* pos when last counted against it */
};

static QEMUFile *qemu_file_new(MigChannel *chan, bool writable)
{
    QEMUFile *f = g_new0(QEMUFile, 1);

    f->chan = mig_channel_ref(chan);
    f->writable = writable;
    f->buf = g_malloc(QEMU_FILE_BUF_SIZE);
    f->rate = mig_rate_limit_new();
    g_mutex_init(&f->writers);
    return f;
}

void qemu_file_lock_writes(QEMUFile *f)
{
    g_mutex_lock(&f->writers);
}

void qemu_file_unlock_writes(QEMUFile *f)
{
    g_mutex_unlock(&f->writers);
}

QEMUFile *qemu_file_new_output(MigChannel *chan)
{
    return qemu_file_new(chan, true);
}

QEMUFile *qemu_file_new_input(MigChannel *chan)
{
    return qemu_file_new(chan, false);
}

QEMUFile *qemu_file_get_return_path(QEMUFile *f)
{
    if (!mig_channel_has_reverse_direction(f->chan)) {
        return NULL;
    }
    return qemu_file_new(f->chan, !f->writable);
}

MigChannel *qemu_file_get_channel(QEMUFile *f)
{
    return f->chan;
}

bool qemu_file_is_writable(QEMUFile *f)
{
    return f->writable;
}

int qemu_file_get_error(QEMUFile *f)
{
    return g_atomic_int_get(&f->last_error);
}

void qemu_file_set_error(QEMUFile *f, int ret)
{
    if (ret < 0) {
        g_atomic_int_compare_and_exchange(&f->last_error, 0, ret);
    }
}

int qemu_file_shutdown(QEMUFile *f)
{
    /* set first, so the woken thread's -ESHUTDOWN does not win the race */
    qemu_file_set_error(f, -EIO);
    mig_channel_shutdown(f->chan);
    return 0;
}

uint64_t qemu_file_transferred(QEMUFile *f)
{
    return f->pos;
}

int qemu_fclose(QEMUFile *f, GError **errp)
{
    g_autoptr(GError) err = NULL;
    int ret;

    if (f->writable) {
        qemu_fflush(f);
    }
    ret = qemu_file_get_error(f);
    if (ret < 0) {
        error_setg(errp, "%s: migration stream failed: %s",
                   mig_channel_name(f->chan), g_strerror(-ret));
    }
    if (!mig_channel_close(f->chan, &err) && ret == 0) {
        ret = -EIO;
        g_propagate_error(errp, g_steal_pointer(&err));
    }
    g_free(f->buf);
    mig_rate_limit_unref(f->rate);
    g_mutex_clear(&f->writers);
    g_free(f);
    return ret;
}

/* --- output -------------------------------------------------------------- */

/* False (and the stream poisoned) when @f cannot take a put. */
static bool can_put(QEMUFile *f)
{
    if (!f->writable) {
        qemu_file_set_error(f, -EBADF);
    }
    return qemu_file_get_error(f) == 0;
}

void qemu_fflush(QEMUFile *f)
{
    ssize_t ret;

    if (!f->writable || qemu_file_get_error(f) || !f->iovcnt) {
        goto out;
    }
    ret = mig_channel_writev_all(f->chan, f->iov, f->iovcnt);
    if (ret < 0) {
        qemu_file_set_error(f, ret);
    }
out:
    f->iovcnt = 0;
    f->buf_index = 0;
}

static void account(QEMUFile *f, size_t size)
{
    f->pos += size;
}

static void add_to_iovec(QEMUFile *f, const uint8_t *p, size_t size)
{
    struct iovec *last = f->iovcnt ? &f->iov[f->iovcnt - 1] : NULL;

    if (last && (uint8_t *)last->iov_base + last->iov_len == p) {
        last->iov_len += size;
    } else {
        f->iov[f->iovcnt].iov_base = (void *)p;
        f->iov[f->iovcnt].iov_len = size;
        f->iovcnt++;
    }
    if (f->iovcnt == MAX_IOV) {
        qemu_fflush(f);
    }
}

/* Copies @size bytes (at most the room left) into buf and queues them. */
static size_t copy_to_buf(QEMUFile *f, const uint8_t *p, size_t size)
{
    size_t n = MIN(size, QEMU_FILE_BUF_SIZE - f->buf_index);
    uint8_t *dst = f->buf + f->buf_index;

    memcpy(dst, p, n);
    f->buf_index += n;
    add_to_iovec(f, dst, n);
    if (f->buf_index == QEMU_FILE_BUF_SIZE) {
        qemu_fflush(f);
    }
    return n;
}

void qemu_put_buffer(QEMUFile *f, const uint8_t *buf, size_t size)
{
    if (!can_put(f)) {
        return;
    }
    account(f, size);
    if (size >= QEMU_FILE_BUF_SIZE) {
        /* written before we return, so @buf may be reused: no copy */
        add_to_iovec(f, buf, size);
        qemu_fflush(f);
        return;
    }
    while (size && !qemu_file_get_error(f)) {
        size_t n = copy_to_buf(f, buf, size);

        buf += n;
        size -= n;
    }
}

void qemu_put_buffer_async(QEMUFile *f, const uint8_t *buf, size_t size)
{
    if (!can_put(f) || !size) {
        return;
    }
    account(f, size);
    add_to_iovec(f, buf, size);
}

void qemu_put_byte(QEMUFile *f, int v)
{
    uint8_t b = v;

    qemu_put_buffer(f, &b, 1);
}

void qemu_put_be16(QEMUFile *f, unsigned int v)
{
    uint8_t b[2] = { v >> 8, v };

    qemu_put_buffer(f, b, sizeof(b));
}

void qemu_put_be32(QEMUFile *f, unsigned int v)
{
    uint32_t be = GUINT32_TO_BE(v);

    qemu_put_buffer(f, (const uint8_t *)&be, sizeof(be));
}

void qemu_put_be64(QEMUFile *f, uint64_t v)
{
    uint64_t be = GUINT64_TO_BE(v);

    qemu_put_buffer(f, (const uint8_t *)&be, sizeof(be));
}

void qemu_put_counted_string(QEMUFile *f, const char *str)
{
    size_t len = strlen(str);

    if (len > 255) {
        qemu_file_set_error(f, -EINVAL);
        return;
    }
    qemu_put_byte(f, len);
    qemu_put_buffer(f, (const uint8_t *)str, len);
}

/* --- rate limit ---------------------------------------------------------- */

/* Any thread: a running migration's limit may change under its writer. */
void qemu_file_set_rate_limit(QEMUFile *f, uint64_t bytes_per_second)
{
    mig_rate_limit_set(f->rate, bytes_per_second);
}

uint64_t qemu_file_get_rate_limit(QEMUFile *f)
{
    return mig_rate_limit_get(f->rate);
}

void qemu_file_set_clock(QEMUFile *f, int64_t (*now_ms)(void))
{
    mig_rate_limit_set_clock(f->rate, now_ms);
}

void qemu_file_share_rate_limit(QEMUFile *f, QEMUFile *with)
{
    MigRateLimit *old = f->rate;

    f->rate = mig_rate_limit_ref(with->rate);
    f->rate_pos = f->pos;
    mig_rate_limit_unref(old);
}

/* What was put since the last check counts now: one atomic per check,
 * not one per put. */
static void rate_count_puts(QEMUFile *f)
{
    uint64_t put = f->pos - f->rate_pos;

    if (put) {
        f->rate_pos = f->pos;
        mig_rate_limit_account(f->rate, put);
    }
}

bool qemu_file_rate_limit_exceeded(QEMUFile *f)
{
    if (qemu_file_get_error(f)) {
        return true;
    }
    rate_count_puts(f);
    return mig_rate_limit_exceeded(f->rate);
}

void qemu_file_rate_account(QEMUFile *f, uint64_t bytes)
{
    mig_rate_limit_account(f->rate, bytes);
}

int64_t qemu_file_rate_limit_ms_left(QEMUFile *f)
{
    return mig_rate_limit_ms_left(f->rate);
}

/* --- input --------------------------------------------------------------- */

/* False (and the stream poisoned) when @f cannot take a get. */
static bool can_get(QEMUFile *f)
{
    if (f->writable) {
        qemu_file_set_error(f, -EBADF);
    }
    return qemu_file_get_error(f) == 0;
}

/* Reads more after the bytes still unread; false once the stream failed. */
static bool fill_buffer(QEMUFile *f)
{
    size_t pending = f->buf_len - f->buf_index;
    ssize_t n;

    if (f->buf_index) {
        memmove(f->buf, f->buf + f->buf_index, pending);
        f->buf_index = 0;
        f->buf_len = pending;
    }
    n = mig_channel_read(f->chan, f->buf + f->buf_len,
                         QEMU_FILE_BUF_SIZE - f->buf_len);
    if (n <= 0) {
        qemu_file_set_error(f, n < 0 ? n : -EIO);
        return false;
    }
    f->buf_len += n;
    return true;
}

/* Reads into @buf directly, for gets larger than the buffer. */
static size_t read_direct(QEMUFile *f, uint8_t *buf, size_t size)
{
    ssize_t n = mig_channel_read(f->chan, buf, size);

    if (n <= 0) {
        qemu_file_set_error(f, n < 0 ? n : -EIO);
        return 0;
    }
    return n;
}

size_t qemu_get_buffer(QEMUFile *f, uint8_t *buf, size_t size)
{
    size_t done = 0;

    if (!can_get(f)) {
        return 0;
    }
    while (done < size) {
        size_t avail = f->buf_len - f->buf_index;

        if (avail) {
            size_t n = MIN(avail, size - done);

            memcpy(buf + done, f->buf + f->buf_index, n);
            f->buf_index += n;
            done += n;
        } else if (size - done >= QEMU_FILE_BUF_SIZE) {
            size_t n = read_direct(f, buf + done, size - done);

            if (!n) {
                break;
            }
            done += n;
        } else if (!fill_buffer(f)) {
            break;
        }
    }
    f->pos += done;
    return done;
}

/* Fills @buf completely, or zeroes it and returns false. */
static bool get_exact(QEMUFile *f, void *buf, size_t size)
{
    if (qemu_get_buffer(f, buf, size) == size) {
        return true;
    }
    memset(buf, 0, size);
    return false;
}

int qemu_get_byte(QEMUFile *f)
{
    uint8_t b;

    get_exact(f, &b, 1);
    return b;
}

unsigned int qemu_get_be16(QEMUFile *f)
{
    uint8_t b[2];

    get_exact(f, b, sizeof(b));
    return b[0] << 8 | b[1];
}

unsigned int qemu_get_be32(QEMUFile *f)
{
    uint32_t be;

    get_exact(f, &be, sizeof(be));
    return GUINT32_FROM_BE(be);
}

uint64_t qemu_get_be64(QEMUFile *f)
{
    uint64_t be;

    get_exact(f, &be, sizeof(be));
    return GUINT64_FROM_BE(be);
}

size_t qemu_get_counted_string(QEMUFile *f, char buf[256])
{
    size_t len = qemu_get_byte(f);

    if (!get_exact(f, buf, len)) {
        buf[0] = 0;
        return 0;
    }
    buf[len] = 0;
    return len;
}

int qemu_peek_byte(QEMUFile *f, int offset)
{
    if (!can_get(f)) {
        return 0;
    }
    if (offset < 0 || offset >= QEMU_FILE_BUF_SIZE) {
        qemu_file_set_error(f, -EINVAL);
        return 0;
    }
    while (f->buf_len - f->buf_index <= (size_t)offset) {
        if (!fill_buffer(f)) {
            return 0;
        }
    }
    return f->buf[f->buf_index + offset];
}
