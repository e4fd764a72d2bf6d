/*
 * The channel object and its data path, common to every transport.
 *
 * Descriptors are non-blocking and a thread that must wait sleeps in
 * poll() on the descriptor and on the channel's shutdown eventfd.  That is
 * what lets mig_channel_shutdown() wake a reader or writer blocked on a
 * pipe or a file too, where shutdown(2) does not exist.  The eventfd is
 * never drained: once shut down, every later poll returns at once and the
 * I/O fails, so nothing can block again.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include "migration/transport/channel.h"
#include "util/error.h"

struct MigChannel {
    char *name;
    int rfd, wfd;               /* -1: no such direction */
    bool is_socket;
    int shutdown_efd;           /* readable once shut down */
    int shut;                   /* atomic */
    int refcount;               /* atomic */
    int read_timeout_ms;        /* atomic; 0: reads wait forever */
    MigChannelRelease release;
    void *priv;
    MigTlsSession *tls;         /* NULL: plain bytes */
    /* bytes a reader gave back (mig_channel_unread); its thread only */
    uint8_t *pushback;
    size_t pushback_len, pushback_off;
    int quickack;               /* atomic: ACK every read at once (TCP) */
};

static bool fd_is_socket(int fd)
{
    struct stat st;

    return fd >= 0 && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

static void set_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags >= 0 && !(flags & O_NONBLOCK)) {
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    }
}

MigChannel *mig_channel_new(const char *name, int rfd, int wfd,
                            MigChannelRelease release, void *priv)
{
    MigChannel *c = g_new0(MigChannel, 1);

    c->name = g_strdup(name);
    c->rfd = rfd;
    c->wfd = wfd;
    c->is_socket = fd_is_socket(rfd >= 0 ? rfd : wfd);
    c->shutdown_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    c->refcount = 1;
    c->release = release;
    c->priv = priv;
    if (rfd >= 0) {
        set_nonblock(rfd);
    }
    if (wfd >= 0 && wfd != rfd) {
        set_nonblock(wfd);
    }
    return c;
}

const char *mig_channel_name(const MigChannel *chan)
{
    return chan->name;
}

void *mig_channel_priv(const MigChannel *chan)
{
    return chan->priv;
}

bool mig_channel_can_read(const MigChannel *chan)
{
    return chan->rfd >= 0;
}

bool mig_channel_can_write(const MigChannel *chan)
{
    return chan->wfd >= 0;
}

bool mig_channel_has_reverse_direction(const MigChannel *chan)
{
    return chan->is_socket && chan->rfd >= 0 && chan->wfd >= 0;
}

static bool is_shut(MigChannel *c)
{
    return g_atomic_int_get(&c->shut);
}

/*
 * Sleeps until @fd is ready for @events or the channel is shut down;
 * -ETIMEDOUT when a read waited longer than the channel's read timeout.
 */
static int wait_fd(MigChannel *c, int fd, short events)
{
    struct pollfd pfd[2] = {
        { .fd = fd, .events = events },
        { .fd = c->shutdown_efd, .events = POLLIN },
    };
    int timeout = events == POLLIN ? g_atomic_int_get(&c->read_timeout_ms) : 0;
    int rc;

    while ((rc = poll(pfd, 2, timeout > 0 ? timeout : -1)) < 0) {
        if (errno != EINTR) {
            return -errno;
        }
    }
    if (rc == 0) {
        return -ETIMEDOUT;
    }
    return is_shut(c) ? -ESHUTDOWN : 0;
}

bool mig_channel_can_splice(MigChannel *chan)
{
    return chan->is_socket && !chan->tls && chan->wfd >= 0;
}

int mig_channel_wait(MigChannel *chan, short events)
{
    return wait_fd(chan, events == POLLIN ? chan->rfd : chan->wfd, events);
}

int mig_channel_fd(const MigChannel *chan)
{
    return chan->rfd >= 0 ? chan->rfd : chan->wfd;
}

bool mig_channel_is_shut(MigChannel *chan)
{
    return is_shut(chan);
}

void mig_channel_set_tls(MigChannel *chan, MigTlsSession *tls)
{
    chan->tls = tls;
}

MigTlsSession *mig_channel_tls(const MigChannel *chan)
{
    return chan->tls;
}

static bool is_tcp(int fd)
{
    int proto = 0;
    socklen_t len = sizeof(proto);

    return getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) == 0 &&
           proto == IPPROTO_TCP;
}

/*
 * At least 4 segments: a receiver that sends no ACK before its data is
 * read needs room for more than one segment in flight, or the sender
 * idles while the reader is away.
 */
static int at_least_4_segments(int fd, int bytes)
{
    int mss = 0;
    socklen_t len = sizeof(mss);

    if (getsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, &len) == 0 &&
        mss > 0 && mss <= INT_MAX / 4) {
        return MAX(bytes, 4 * mss);
    }
    return bytes;
}

void mig_channel_limit_receive(MigChannel *chan, int bytes)
{
    int fd = chan->rfd;

    if (!chan->is_socket || fd < 0) {
        return;
    }
    if (!is_tcp(fd)) {
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
        return;
    }
    /*
     * Clamp the window we advertise instead of shrinking SO_RCVBUF.  A
     * receive buffer made smaller than the window already advertised
     * drops the segments in flight beyond it (RcvPruned, RcvQDrop); one
     * lost at the tail costs a 200 ms retransmission timeout, which a
     * vCPU waiting for its page sees.  The clamp only lets the window
     * close as data arrives.
     */
    bytes = at_least_4_segments(fd, bytes);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_WINDOW_CLAMP, &bytes,
                     sizeof(bytes));
    g_atomic_int_set(&chan->quickack, 1);
}

/* TCP_INFO's tcpi_min_rtt (Linux 4.6), which glibc's struct tcp_info
 * lacks: read at its offset in the kernel's struct. */
#define TCP_INFO_MIN_RTT_OFFSET 148

static uint32_t min_rtt_us(int fd)
{
    uint8_t info[TCP_INFO_MIN_RTT_OFFSET + 4] = { 0 };
    socklen_t len = sizeof(info);
    uint32_t rtt;

    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, info, &len) < 0 ||
        len < sizeof(info)) {
        return 0;
    }
    memcpy(&rtt, info + TCP_INFO_MIN_RTT_OFFSET, sizeof(rtt));
    return rtt;
}

int mig_channel_queue_for_rate(MigChannel *chan, int floor,
                               uint64_t bytes_per_sec)
{
    int fd = chan->wfd >= 0 ? chan->wfd : chan->rfd;

    if (!chan->is_socket || fd < 0 || !is_tcp(fd)) {
        return floor;
    }
    uint64_t rtt = min_rtt_us(fd);
    uint64_t most = INT_MAX / 2;    /* the kernel doubles SO_SNDBUF */
    uint64_t bytes = rtt && bytes_per_sec > UINT64_MAX / rtt ? most :
                     bytes_per_sec * rtt / G_USEC_PER_SEC;

    return (int)CLAMP(bytes, (uint64_t)floor, most);
}

void mig_channel_limit_send(MigChannel *chan, int bytes)
{
    if (chan->is_socket && chan->wfd >= 0) {
        /* Best effort: the kernel doubles the value and keeps a floor. */
        (void)setsockopt(chan->wfd, SOL_SOCKET, SO_SNDBUF, &bytes,
                         sizeof(bytes));
    }
}

/*
 * Linux drops TCP_QUICKACK again on its own, so it is set after every
 * read: a sender that keeps only a segment or two in flight would
 * otherwise wait for the delayed-ACK timer (40 ms) at every one.
 */
static void ack_now(MigChannel *chan, ssize_t n)
{
    int one = 1;

    if (n > 0 && g_atomic_int_get(&chan->quickack)) {
        (void)setsockopt(chan->rfd, IPPROTO_TCP, TCP_QUICKACK, &one,
                         sizeof(one));
    }
}

void mig_channel_set_read_timeout(MigChannel *chan, int ms)
{
    g_atomic_int_set(&chan->read_timeout_ms, ms);
}

/* Serves a read from the bytes given back, if any; 0 when there are none. */
static size_t read_pushback(MigChannel *c, const struct iovec *iov, int iovcnt)
{
    size_t done = 0;

    for (int i = 0; i < iovcnt && c->pushback_off < c->pushback_len; i++) {
        size_t n = MIN(iov[i].iov_len, c->pushback_len - c->pushback_off);
        memcpy(iov[i].iov_base, c->pushback + c->pushback_off, n);
        c->pushback_off += n;
        done += n;
    }
    if (c->pushback && c->pushback_off == c->pushback_len) {
        g_clear_pointer(&c->pushback, g_free);
        c->pushback_len = c->pushback_off = 0;
    }
    return done;
}

void mig_channel_unread(MigChannel *chan, const void *buf, size_t len)
{
    g_assert(!chan->pushback);
    chan->pushback = g_memdup2(buf, len);
    chan->pushback_len = len;
    chan->pushback_off = 0;
}

ssize_t mig_channel_readv(MigChannel *chan, const struct iovec *iov, int iovcnt)
{
    size_t given_back;

    if (chan->rfd < 0) {
        return -EBADF;
    }
    if (chan->pushback && (given_back = read_pushback(chan, iov, iovcnt))) {
        return (ssize_t)given_back;
    }
    if (chan->tls) {
        ssize_t n = mig_tls_readv(chan, chan->tls, iov, iovcnt);
        ack_now(chan, n);
        return n;
    }
    for (;;) {
        ssize_t n;
        int ret;

        if (is_shut(chan)) {
            return -ESHUTDOWN;
        }
        n = readv(chan->rfd, iov, iovcnt);
        if (n >= 0) {
            ack_now(chan, n);
            return n;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN) {
            return -errno;
        }
        ret = wait_fd(chan, chan->rfd, POLLIN);
        if (ret < 0) {
            return ret;
        }
    }
}

ssize_t mig_channel_read(MigChannel *chan, void *buf, size_t len)
{
    struct iovec iov = { .iov_base = buf, .iov_len = len };

    return mig_channel_readv(chan, &iov, 1);
}

/*
 * A write into a pipe whose reader is gone, or a splice into a socket
 * that is shut, raises SIGPIPE; ferry ignores it, but a library must not
 * rely on that.  Block it in this thread for the write and consume the
 * one the write queued, so the process never sees it.
 */
void mig_sigpipe_hold(sigset_t *old)
{
    sigset_t pipe_set;

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, old);
}

void mig_sigpipe_release(const sigset_t *old, ssize_t n, int err)
{
    if (n < 0 && err == EPIPE && !sigismember(old, SIGPIPE)) {
        struct timespec zero = { 0, 0 };
        sigset_t pipe_set;

        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        sigtimedwait(&pipe_set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

static ssize_t pipe_writev(int fd, const struct iovec *iov, int iovcnt)
{
    sigset_t old;
    ssize_t n;
    int err;

    mig_sigpipe_hold(&old);
    n = writev(fd, iov, iovcnt);
    err = errno;
    mig_sigpipe_release(&old, n, err);
    errno = err;
    return n;
}

static ssize_t writev_once(MigChannel *c, const struct iovec *iov, int iovcnt,
                           int flags)
{
    if (c->is_socket) {
        struct msghdr msg = {
            .msg_iov = (struct iovec *)iov,
            .msg_iovlen = iovcnt,
        };

        return sendmsg(c->wfd, &msg, MSG_NOSIGNAL | flags);
    }
    return pipe_writev(c->wfd, iov, iovcnt);
}

/* Skips @n written bytes in the caller's copy of the vector. */
int mig_iov_advance(struct iovec **iov, int *iovcnt, size_t n)
{
    while (*iovcnt && n >= (*iov)->iov_len) {
        n -= (*iov)->iov_len;
        (*iov)++;
        (*iovcnt)--;
    }
    if (*iovcnt) {
        (*iov)->iov_base = (char *)(*iov)->iov_base + n;
        (*iov)->iov_len -= n;
    }
    return *iovcnt;
}

ssize_t mig_channel_readv_all(MigChannel *chan, const struct iovec *iov,
                              int iovcnt)
{
    g_autofree struct iovec *copy = g_memdup2(iov, sizeof(*iov) * iovcnt);
    struct iovec *cur = copy;
    ssize_t total = 0;

    mig_iov_advance(&cur, &iovcnt, 0);
    while (iovcnt) {
        ssize_t n = mig_channel_readv(chan, cur, MIN(iovcnt, IOV_MAX));

        if (n < 0) {
            return n;
        }
        if (n == 0) {
            break;
        }
        total += n;
        mig_iov_advance(&cur, &iovcnt, n);
    }
    return total;
}

bool mig_channel_peer_gone(MigChannel *chan)
{
    struct pollfd pfd = { .fd = mig_channel_fd(chan), .events = POLLRDHUP };

    if (!chan->is_socket || is_shut(chan)) {
        return is_shut(chan);
    }
    return poll(&pfd, 1, 0) == 1 &&
           (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/*
 * With @zc, a socket's bytes go with MSG_ZEROCOPY and every sendmsg() that
 * sent some is counted in @zc (the kernel numbers its completions so).
 */
static ssize_t writev_all(MigChannel *chan, const struct iovec *iov,
                          int iovcnt, MigZeroCopy *zc)
{
    g_autofree struct iovec *copy = g_memdup2(iov, sizeof(*iov) * iovcnt);
    struct iovec *cur = copy;
    ssize_t total = 0;

    if (chan->wfd < 0) {
        return -EBADF;
    }
    if (chan->tls) {
        return mig_tls_writev_all(chan, chan->tls, iov, iovcnt);
    }
    mig_iov_advance(&cur, &iovcnt, 0);     /* skips leading empty entries */
    while (iovcnt) {
        ssize_t n;
        int ret;

        if (is_shut(chan)) {
            return -ESHUTDOWN;
        }
        n = writev_once(chan, cur, MIN(iovcnt, IOV_MAX),
                        zc ? MSG_ZEROCOPY : 0);
        if (n >= 0) {
            total += n;
            if (zc && n > 0) {
                zc->queued++;
            }
            mig_iov_advance(&cur, &iovcnt, n);
            continue;
        }
        if (errno == EINTR) {
            continue;
        }
        if (zc && errno == ENOBUFS && zc->done != zc->queued) {
            /* the pages still pinned by earlier sends count against
             * the process's limits: wait until they are released */
            ret = mig_zerocopy_flush(chan, zc);
            if (ret < 0) {
                return ret;
            }
            continue;
        }
        if (errno != EAGAIN) {
            return -errno;
        }
        ret = wait_fd(chan, chan->wfd, POLLOUT);
        if (ret < 0) {
            return ret;
        }
    }
    return total;
}

ssize_t mig_channel_writev_all(MigChannel *chan, const struct iovec *iov,
                               int iovcnt)
{
    return writev_all(chan, iov, iovcnt, NULL);
}

ssize_t mig_channel_writev_zerocopy(MigChannel *chan, const struct iovec *iov,
                                    int iovcnt, MigZeroCopy *zc)
{
    return writev_all(chan, iov, iovcnt, zc);
}

ssize_t mig_channel_write_all(MigChannel *chan, const void *buf, size_t len)
{
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

    return mig_channel_writev_all(chan, &iov, 1);
}

void mig_channel_shutdown(MigChannel *chan)
{
    uint64_t one = 1;

    if (!g_atomic_int_compare_and_exchange(&chan->shut, 0, 1)) {
        return;
    }
    if (chan->is_socket) {
        shutdown(chan->rfd >= 0 ? chan->rfd : chan->wfd, SHUT_RDWR);
    }
    if (write(chan->shutdown_efd, &one, sizeof(one)) < 0) {
        /* cannot fail: the counter is far from overflowing */
    }
}

MigChannel *mig_channel_ref(MigChannel *chan)
{
    g_atomic_int_inc(&chan->refcount);
    return chan;
}

static bool channel_free(MigChannel *c, GError **errp)
{
    bool ok = true;

    g_clear_pointer(&c->tls, mig_tls_session_free);
    g_free(c->pushback);
    if (c->rfd >= 0) {
        close(c->rfd);
    }
    if (c->wfd >= 0 && c->wfd != c->rfd) {
        close(c->wfd);
    }
    close(c->shutdown_efd);
    if (c->release) {
        ok = c->release(c, errp);
    }
    g_free(c->name);
    g_free(c);
    return ok;
}

bool mig_channel_close(MigChannel *chan, GError **errp)
{
    if (!chan || !g_atomic_int_dec_and_test(&chan->refcount)) {
        return true;
    }
    return channel_free(chan, errp);
}

void mig_channel_unref(MigChannel *chan)
{
    g_autoptr(GError) err = NULL;

    if (!mig_channel_close(chan, &err)) {
        g_warning("%s", err->message);
    }
}
