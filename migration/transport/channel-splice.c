/*
 * Sending guest pages without copying them: vmsplice(2) puts references
 * to the pages into a pipe, splice(2) moves them from the pipe into the
 * socket.  A plain send copies every byte into socket buffers, and with
 * the receiver's copy that is most of a migration's CPU time on a busy
 * host; here the kernel reads the pages only when it delivers them.
 *
 * The price is MSG_ZEROCOPY's: a page written after the call may go out
 * with its newer content.  Precopy sends such a page again anyway (the
 * write dirtied it), and the last round runs with the guest stopped.
 * Unlike MSG_ZEROCOPY it needs no completion accounting: the pipe and the
 * socket hold their own references to the pages, so nothing can free
 * them under the kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <unistd.h>
#include <sys/uio.h>
#include "migration/transport/channel.h"
#include "util/error.h"

bool mig_splice_init(MigSplice *sp, size_t bytes, GError **errp)
{
    if (pipe2(sp->pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
        error_setg_errno(errp, errno, "splice: cannot create a pipe");
        return false;
    }
    /* best effort: a smaller pipe only means more rounds of splice */
    (void)fcntl(sp->pipe[1], F_SETPIPE_SZ, (int)bytes);
    return true;
}

void mig_splice_destroy(MigSplice *sp)
{
    for (int i = 0; i < 2; i++) {
        if (sp->pipe[i] >= 0) {
            close(sp->pipe[i]);
            sp->pipe[i] = -1;
        }
    }
}

/* Moves @len bytes from the pipe into the channel's socket. */
static int drain_pipe(MigChannel *chan, MigSplice *sp, size_t len)
{
    int fd = mig_channel_fd(chan);

    while (len) {
        sigset_t old;
        ssize_t n;

        mig_sigpipe_hold(&old);
        n = splice(sp->pipe[0], NULL, fd, NULL, len,
                   SPLICE_F_NONBLOCK | SPLICE_F_MORE);
        int err = errno;
        mig_sigpipe_release(&old, n, err);
        errno = err;
        if (n > 0) {
            len -= (size_t)n;
            continue;
        }
        if (n == 0) {
            return -EPIPE;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN) {
            return -errno;
        }
        int ret = mig_channel_wait(chan, POLLOUT);
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

ssize_t mig_channel_splice_pages(MigChannel *chan, MigSplice *sp,
                                 const struct iovec *iov, int iovcnt)
{
    g_autofree struct iovec *copy = g_memdup2(iov, sizeof(*iov) * iovcnt);
    struct iovec *cur = copy;
    ssize_t total = 0;

    mig_iov_advance(&cur, &iovcnt, 0);
    while (iovcnt) {
        /* the pipe is empty here: fill it with what fits, then empty it */
        ssize_t n = vmsplice(sp->pipe[1], cur, MIN(iovcnt, IOV_MAX),
                             SPLICE_F_NONBLOCK);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        int ret = drain_pipe(chan, sp, (size_t)n);
        if (ret < 0) {
            return ret;
        }
        total += n;
        mig_iov_advance(&cur, &iovcnt, (size_t)n);
    }
    return total;
}
