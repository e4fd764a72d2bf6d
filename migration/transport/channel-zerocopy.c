/*
 * MSG_ZEROCOPY on tcp channels (Documentation/networking/msg_zerocopy.rst
 * in Linux): the kernel pins the pages of a send and tells, on the
 * socket's error queue, when it no longer needs them.  Each sendmsg()
 * that sent bytes takes the next 32-bit id; a notification covers a range
 * of ids, and says whether the kernel copied after all (a looped-back
 * peer, a device without scatter-gather).
 *
 * Ferry runs on KVM, so on Linux only: no fallback for other systems.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/errqueue.h>
#include "migration/transport/channel.h"
#include "util/error.h"

bool mig_zerocopy_supported(GError **errp)
{
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int err = fd < 0 ? errno : 0;

    if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one,
                              sizeof(one)) < 0) {
        err = errno;
    }
    if (fd >= 0) {
        close(fd);
    }
    if (err) {
        error_setg(errp, "zero-copy-send: this kernel refuses SO_ZEROCOPY "
                   "on TCP sockets: %s", g_strerror(err));
        return false;
    }
    return true;
}

bool mig_channel_enable_zerocopy(MigChannel *chan, GError **errp)
{
    int one = 1;

    if (setsockopt(mig_channel_fd(chan), SOL_SOCKET, SO_ZEROCOPY, &one,
                   sizeof(one)) < 0) {
        error_setg(errp, "zero-copy-send: the kernel refused SO_ZEROCOPY on "
                   "%s: %s", mig_channel_name(chan), g_strerror(errno));
        return false;
    }
    return true;
}

int mig_zerocopy_parse(const struct msghdr *msg, MigZeroCopyDone *done)
{
    struct msghdr *m = (struct msghdr *)msg;   /* CMSG_NXTHDR is not const */

    for (struct cmsghdr *cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm)) {
        struct sock_extended_err ee;

        if (!(cm->cmsg_level == SOL_IP && cm->cmsg_type == IP_RECVERR) &&
            !(cm->cmsg_level == SOL_IPV6 && cm->cmsg_type == IPV6_RECVERR)) {
            continue;
        }
        if (cm->cmsg_len < CMSG_LEN(sizeof(ee))) {
            return -EPROTO;
        }
        memcpy(&ee, CMSG_DATA(cm), sizeof(ee));
        if (ee.ee_origin != SO_EE_ORIGIN_ZEROCOPY) {
            /* e.g. an ICMP error: the socket's own failure */
            return ee.ee_errno ? -(int)ee.ee_errno : -EPROTO;
        }
        /* ids wrap at 2^32; a range longer than half of that is garbage */
        if (ee.ee_errno || ee.ee_data - ee.ee_info >= 1U << 31) {
            return -EPROTO;
        }
        done->lo = ee.ee_info;
        done->hi = ee.ee_data;
        done->copied = ee.ee_code & SO_EE_CODE_ZEROCOPY_COPIED;
        return 1;
    }
    return -EPROTO;
}

/* One notification from the error queue: 1, 0 when there is none, -errno. */
static int read_one(int fd, MigZeroCopy *zc)
{
    /* the kernel puts the offender's address after the error */
    union {
        char buf[CMSG_SPACE(sizeof(struct sock_extended_err) +
                            sizeof(struct sockaddr_in6))];
        struct cmsghdr align;
    } control;
    struct msghdr msg = {
        .msg_control = control.buf,
        .msg_controllen = sizeof(control.buf),
    };
    MigZeroCopyDone done;
    int ret;

    while (recvmsg(fd, &msg, MSG_ERRQUEUE) < 0) {
        if (errno == EAGAIN) {
            return 0;
        }
        if (errno != EINTR) {
            return -errno;
        }
    }
    ret = mig_zerocopy_parse(&msg, &done);
    if (ret < 0) {
        return ret;
    }
    uint32_t n = done.hi - done.lo + 1;
    if (n > zc->queued - zc->done) {
        return -EPROTO;     /* more completions than sends */
    }
    zc->done += n;
    zc->copied |= done.copied;
    return 1;
}

int mig_zerocopy_reap(MigChannel *chan, MigZeroCopy *zc)
{
    int ret;

    while (zc->done != zc->queued &&
           (ret = read_one(mig_channel_fd(chan), zc)) != 0) {
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

/*
 * Woken with nothing on the error queue: poll(2) reports POLLERR for a
 * pending socket error too, and POLLHUP once both directions are down;
 * neither brings completions, so waiting on would spin.
 */
static int socket_failure(int fd)
{
    struct pollfd pfd = { .fd = fd };
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err) {
        return -err;
    }
    return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP) ? -EPIPE : 0;
}

int mig_zerocopy_flush(MigChannel *chan, MigZeroCopy *zc)
{
    int fd = mig_channel_fd(chan);

    for (;;) {
        uint32_t before = zc->done;
        int ret = mig_zerocopy_reap(chan, zc);

        if (ret < 0) {
            return ret;
        }
        if (zc->done == zc->queued) {
            return 0;
        }
        if (zc->done == before && (ret = socket_failure(fd)) < 0) {
            return ret;
        }
        /* events 0: poll(2) always reports POLLERR, the queue's signal */
        ret = mig_channel_wait(chan, 0);
        if (ret < 0) {
            return ret;
        }
    }
}
