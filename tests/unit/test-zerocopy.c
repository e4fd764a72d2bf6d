/*
 * MSG_ZEROCOPY on channels (migration/transport/channel-zerocopy.c): the
 * parser of the socket's error-queue messages, fed hand-built messages
 * (the kernel's and a hostile or confused one's), then real sends over
 * loopback TCP, whose completions the kernel always marks as copied.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/errqueue.h>
#include "migration/transport/channel.h"

typedef struct ErrMsg {
    union {
        char buf[CMSG_SPACE(sizeof(struct sock_extended_err) + 32)];
        struct cmsghdr align;
    } control;
    struct msghdr msg;
} ErrMsg;

/* What the kernel queues: one IP_RECVERR (or IPV6_RECVERR) message. */
static void build(ErrMsg *e, int level, int type,
                  const struct sock_extended_err *ee, size_t ee_len)
{
    struct cmsghdr *cm;

    memset(e, 0, sizeof(*e));
    e->msg.msg_control = e->control.buf;
    e->msg.msg_controllen = CMSG_SPACE(ee_len);
    cm = CMSG_FIRSTHDR(&e->msg);
    cm->cmsg_level = level;
    cm->cmsg_type = type;
    cm->cmsg_len = CMSG_LEN(ee_len);
    memcpy(CMSG_DATA(cm), ee, MIN(ee_len, sizeof(*ee)));
}

static struct sock_extended_err zc_err(uint32_t lo, uint32_t hi, bool copied)
{
    return (struct sock_extended_err) {
        .ee_origin = SO_EE_ORIGIN_ZEROCOPY,
        .ee_code = copied ? SO_EE_CODE_ZEROCOPY_COPIED : 0,
        .ee_info = lo,
        .ee_data = hi,
    };
}

static void test_parse_ranges(void)
{
    ErrMsg e;
    MigZeroCopyDone d;
    struct sock_extended_err ee = zc_err(3, 9, false);

    build(&e, SOL_IP, IP_RECVERR, &ee, sizeof(ee));
    g_assert_cmpint(mig_zerocopy_parse(&e.msg, &d), ==, 1);
    g_assert_cmpuint(d.lo, ==, 3);
    g_assert_cmpuint(d.hi, ==, 9);
    g_assert_false(d.copied);

    ee = zc_err(7, 7, true);
    build(&e, SOL_IPV6, IPV6_RECVERR, &ee, sizeof(ee));
    g_assert_cmpint(mig_zerocopy_parse(&e.msg, &d), ==, 1);
    g_assert_cmpuint(d.lo, ==, 7);
    g_assert_cmpuint(d.hi, ==, 7);
    g_assert_true(d.copied);

    /* the 32-bit ids wrap: a range across the wrap is fine */
    ee = zc_err(0xfffffffeU, 1, false);
    build(&e, SOL_IP, IP_RECVERR, &ee, sizeof(ee));
    g_assert_cmpint(mig_zerocopy_parse(&e.msg, &d), ==, 1);
    g_assert_cmpuint(d.hi - d.lo + 1, ==, 4);
}

static void test_parse_refusals(void)
{
    ErrMsg e;
    MigZeroCopyDone d;
    struct sock_extended_err ee = zc_err(9, 3, false);
    struct msghdr empty = { 0 };

    /* hi before lo: read as a range of about 2^32 */
    build(&e, SOL_IP, IP_RECVERR, &ee, sizeof(ee));
    g_assert_cmpint(mig_zerocopy_parse(&e.msg, &d), ==, -EPROTO);

    /* a zero-copy origin with an error set is not a completion */
    ee = zc_err(1, 1, false);
    ee.ee_errno = EIO;
    build(&e, SOL_IP, IP_RECVERR, &ee, sizeof(ee));
    g_assert_cmpint(mig_zerocopy_parse(&e.msg, &d), ==, -EPROTO);

    /* another origin: the error it carries, or EPROTO without one */
    ee = (struct sock_extended_err) { .ee_origin = SO_EE_ORIGIN_ICMP,
                                      .ee_errno = EHOSTUNREACH };
    build(&e, SOL_IP, IP_RECVERR, &ee, sizeof(ee));
    g_assert_cmpint(mig_zerocopy_parse(&e.msg, &d), ==, -EHOSTUNREACH);
    ee.ee_errno = 0;
    build(&e, SOL_IP, IP_RECVERR, &ee, sizeof(ee));
    g_assert_cmpint(mig_zerocopy_parse(&e.msg, &d), ==, -EPROTO);

    /* a message too short to hold the error */
    ee = zc_err(1, 1, false);
    build(&e, SOL_IP, IP_RECVERR, &ee, 8);
    g_assert_cmpint(mig_zerocopy_parse(&e.msg, &d), ==, -EPROTO);

    /* no IP_RECVERR at all */
    build(&e, SOL_SOCKET, SCM_RIGHTS, &ee, sizeof(ee));
    g_assert_cmpint(mig_zerocopy_parse(&e.msg, &d), ==, -EPROTO);
    g_assert_cmpint(mig_zerocopy_parse(&empty, &d), ==, -EPROTO);
}

/* A connected loopback TCP pair: *@peer is the accepting end. */
static MigChannel *tcp_pair(int *peer)
{
    struct sockaddr_in a = { .sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    int c = socket(AF_INET, SOCK_STREAM, 0);

    g_assert_cmpint(bind(l, (struct sockaddr *)&a, sizeof(a)), ==, 0);
    g_assert_cmpint(listen(l, 1), ==, 0);
    g_assert_cmpint(getsockname(l, (struct sockaddr *)&a, &len), ==, 0);
    g_assert_cmpint(connect(c, (struct sockaddr *)&a, sizeof(a)), ==, 0);
    *peer = accept(l, NULL, NULL);
    g_assert_cmpint(*peer, >=, 0);
    close(l);
    return mig_channel_new("tcp:loopback", c, c, NULL, NULL);
}

static void test_loopback_sends(void)
{
    g_autoptr(GError) err = NULL;
    MigZeroCopy zc = { 0 };
    static uint8_t pages[8][4096];
    struct iovec iov[8];
    int peer;
    MigChannel *chan = tcp_pair(&peer);

    if (!mig_zerocopy_supported(&err)) {
        g_test_skip(err->message);
        mig_channel_unref(chan);
        close(peer);
        return;
    }
    g_assert_true(mig_channel_enable_zerocopy(chan, &err));
    for (unsigned i = 0; i < 8; i++) {
        memset(pages[i], i + 1, sizeof(pages[i]));
        iov[i] = (struct iovec) { pages[i], sizeof(pages[i]) };
    }
    for (unsigned round = 0; round < 4; round++) {
        g_assert_cmpint(mig_channel_writev_zerocopy(chan, iov, 8, &zc), ==,
                        (ssize_t)sizeof(pages));
    }
    g_assert_cmpuint(zc.queued, >=, 4);

    /* what arrived is what was sent; read first, as a destination does
     * (loopback may hold the pages until the reader took them) */
    static uint8_t got[4 * sizeof(pages)];
    size_t have = 0;
    while (have < sizeof(got)) {
        ssize_t n = read(peer, got + have, sizeof(got) - have);
        g_assert_cmpint(n, >, 0);
        have += (size_t)n;
    }
    g_assert_cmpmem(got + 3 * sizeof(pages), sizeof(pages), pages,
                    sizeof(pages));
    g_assert_cmpint(mig_zerocopy_flush(chan, &zc), ==, 0);
    g_assert_cmpuint(zc.done, ==, zc.queued);
    g_assert_true(zc.copied);   /* loopback defers to a copy */

    /* a cancel wakes a flush that waits for completions never coming */
    zc.queued++;
    mig_channel_shutdown(chan);
    g_assert_cmpint(mig_zerocopy_flush(chan, &zc), <, 0);
    mig_channel_unref(chan);
    close(peer);
}

static void test_unix_refused(void)
{
    g_autoptr(GError) err = NULL;
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    MigChannel *chan = mig_channel_new("unix:pair", sv[0], sv[0], NULL, NULL);
    g_assert_false(mig_channel_enable_zerocopy(chan, &err));
    g_assert_nonnull(strstr(err->message, "SO_ZEROCOPY"));
    mig_channel_unref(chan);
    close(sv[1]);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/zerocopy/parse-ranges", test_parse_ranges);
    g_test_add_func("/zerocopy/parse-refusals", test_parse_refusals);
    g_test_add_func("/zerocopy/loopback-sends", test_loopback_sends);
    g_test_add_func("/zerocopy/unix-refused", test_unix_refused);
    return g_test_run();
}
