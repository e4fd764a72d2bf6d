/*
 * Migration transports (migration/channel*.c) for real, on loopback:
 * tcp (port 0, read back), unix, exec in both directions, file with and
 * without an offset, fd through the lookup callback.  Each moves a few MiB
 * and compares SHA-256 on both ends.  Then the failures: connection
 * refused, unknown schemes, malformed URIs, a failing exec: command.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <glib/gstdio.h>
#include "migration/transport/channel.h"
#include "util/error.h"

#define STREAM_SIZE (4 * 1024 * 1024 + 777)

static char *tmp_dir;
static MigListener *listener;       /* on the default main context */
/* fd: URIs find their descriptors here (see test_fd_lookup). */
static int test_fd_lookup(void *opaque, const char *name, GError **errp);
static const MigFdSource fds = { test_fd_lookup, NULL };

/* A pseudo-random stream and its digest. */
typedef struct Stream {
    uint8_t *data;
    size_t len;
    char *sha;
} Stream;

static Stream *stream_new(size_t len, uint32_t seed)
{
    Stream *s = g_new0(Stream, 1);

    s->data = g_malloc(len);
    s->len = len;
    for (size_t i = 0; i < len; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        s->data[i] = seed;
    }
    s->sha = g_compute_checksum_for_data(G_CHECKSUM_SHA256, s->data, len);
    return s;
}

static void stream_free(Stream *s)
{
    g_free(s->data);
    g_free(s->sha);
    g_free(s);
}

/* Sends @s in uneven chunks, so writes straddle any internal boundary. */
static void send_stream(MigChannel *chan, const Stream *s)
{
    size_t off = 0, chunk = 1;

    while (off < s->len) {
        size_t n = MIN(chunk, s->len - off);

        g_assert_cmpint(mig_channel_write_all(chan, s->data + off, n), ==, n);
        off += n;
        chunk = chunk * 3 % 200003 + 1;
    }
}

/* Reads @chan until @max bytes or its end; returns the digest. */
static char *receive_stream(MigChannel *chan, size_t max, size_t *len)
{
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    g_autofree uint8_t *buf = g_malloc(65536);
    char *hex;
    ssize_t n = 1;

    *len = 0;
    while (*len < max &&
           (n = mig_channel_read(chan, buf, MIN(65536, max - *len))) > 0) {
        g_checksum_update(sum, buf, n);
        *len += n;
    }
    g_assert_cmpint(n, >=, 0);
    hex = g_strdup(g_checksum_get_string(sum));
    g_checksum_free(sum);
    return hex;
}

/*
 * Checks that @s came, then the end of the stream, except on a socket
 * whose peer keeps it open for the other direction.
 */
static void check_received(MigChannel *chan, const Stream *s)
{
    size_t len;
    g_autofree char *sha = receive_stream(chan, s->len, &len);
    uint8_t byte;

    g_assert_cmpuint(len, ==, s->len);
    g_assert_cmpstr(sha, ==, s->sha);
    if (!mig_channel_has_reverse_direction(chan)) {
        g_assert_cmpint(mig_channel_read(chan, &byte, 1), ==, 0);
    }
}

/* --- incoming: wait in the main loop for the accepted channel ----------- */

static void accepted(MigChannel *chan, void *opaque)
{
    MigChannel **slot = opaque;

    g_assert_nonnull(chan);
    *slot = chan;
}

static MigChannel *wait_accepted(MigChannel **slot)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    while (!*slot) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_main_context_iteration(NULL, TRUE);
    }
    return *slot;
}

static void listen_ok(const char *uri, MigChannel **slot)
{
    g_autoptr(GError) err = NULL;

    *slot = NULL;
    g_assert_true(mig_listener_listen(listener, uri, accepted, slot, &err));
    g_assert_no_error(err);
    /* the callback is never called from inside listen */
    g_assert_null(*slot);
}

static MigChannel *connect_ok(const char *uri)
{
    g_autoptr(GError) err = NULL;
    MigChannel *chan = mig_channel_connect(uri, &fds, &err);

    g_assert_no_error(err);
    g_assert_nonnull(chan);
    g_assert_cmpstr(mig_channel_name(chan), ==, uri);
    return chan;
}

static void close_ok(MigChannel *chan)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(mig_channel_close(chan, &err));
    g_assert_no_error(err);
}

/* --- sockets ------------------------------------------------------------- */

static gpointer sender_thread(gpointer opaque)
{
    void **args = opaque;

    send_stream(args[0], args[1]);
    close_ok(args[0]);
    return NULL;
}

/* Connects to what is listening, moves a stream each way, both at once. */
static void socket_transfer(const char *uri, MigChannel **slot)
{
    Stream *fwd = stream_new(STREAM_SIZE, 11), *back = stream_new(1 << 20, 12);
    MigChannel *src = connect_ok(uri), *dst = wait_accepted(slot);
    void *args[2] = { mig_channel_ref(src), fwd };
    void *rargs[2] = { mig_channel_ref(dst), back };
    GThread *t = g_thread_new("send", sender_thread, args);
    GThread *rt = g_thread_new("send-back", sender_thread, rargs);

    g_assert_true(mig_channel_has_reverse_direction(src));
    g_assert_true(mig_channel_has_reverse_direction(dst));
    check_received(dst, fwd);
    g_thread_join(t);
    check_received(src, back);    /* the return path's direction */
    g_thread_join(rt);
    close_ok(src);
    close_ok(dst);
    stream_free(fwd);
    stream_free(back);
}

static void test_tcp(void)
{
    MigChannel *slot;
    g_autofree char *addr = NULL;

    listen_ok("tcp:127.0.0.1:0", &slot);
    addr = mig_listener_address(listener);
    g_assert_nonnull(addr);
    g_assert_true(g_str_has_prefix(addr, "tcp:127.0.0.1:"));
    g_assert_cmpint(atoi(addr + strlen("tcp:127.0.0.1:")), >, 0);
    socket_transfer(addr, &slot);
    /* still reported after the accept, for query-migrate */
    {
        g_autofree char *after = mig_listener_address(listener);

        g_assert_cmpstr(after, ==, addr);
    }
    mig_listener_cancel(listener);
    g_assert_null(mig_listener_address(listener));
}

static int sockopt(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof(v);

    g_assert_cmpint(getsockopt(fd, level, name, &v, &len), ==, 0);
    return v;
}

/* A connected loopback TCP pair: *rx_fd accepted, *tx_fd connected. */
static void tcp_pair(int *rx_fd, int *tx_fd)
{
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sa);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    *tx_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    g_assert_cmpint(listen(lfd, 1), ==, 0);
    g_assert_cmpint(getsockname(lfd, (struct sockaddr *)&sa, &len), ==, 0);
    g_assert_cmpint(connect(*tx_fd, (struct sockaddr *)&sa, sizeof(sa)), ==,
                    0);
    *rx_fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    g_assert_cmpint(*rx_fd, >=, 0);
    close(lfd);
}

/*
 * Postcopy's short receive queue over TCP is a clamped window, not a
 * smaller SO_RCVBUF: shrinking the buffer under a window already
 * advertised drops segments in flight (and a 200 ms retransmission
 * timeout follows).  The send side shrinks SO_SNDBUF.
 */
static void test_tcp_limit_queue(void)
{
    int afd, cfd;

    tcp_pair(&afd, &cfd);
    MigChannel *rx = mig_channel_new("rx", afd, afd, NULL, NULL);
    MigChannel *tx = mig_channel_new("tx", cfd, cfd, NULL, NULL);
    int rcvbuf = sockopt(afd, SOL_SOCKET, SO_RCVBUF);

    /* at least 4 segments (loopback's are 64 KiB): see the function */
    int want = MAX(64 << 10, 4 * sockopt(afd, IPPROTO_TCP, TCP_MAXSEG));

    mig_channel_limit_receive(rx, 64 << 10);
    g_assert_cmpint(sockopt(afd, IPPROTO_TCP, TCP_WINDOW_CLAMP), ==, want);
    g_assert_cmpint(sockopt(afd, SOL_SOCKET, SO_RCVBUF), ==, rcvbuf);
    mig_channel_limit_send(tx, 32 << 10);
    g_assert_cmpint(sockopt(cfd, SOL_SOCKET, SO_SNDBUF), ==, 64 << 10);
    mig_channel_unref(rx);
    mig_channel_unref(tx);
}

/*
 * A queue sized for a rate over the link's smallest round trip: the floor
 * where that is less, the bandwidth-delay product where it is more; on
 * a unix socket, which has no round trip, the floor.
 */
static void test_queue_for_rate(void)
{
    int afd, cfd, sv[2];
    char byte = 'x';

    tcp_pair(&afd, &cfd);
    MigChannel *rx = mig_channel_new("rx", afd, afd, NULL, NULL);
    MigChannel *tx = mig_channel_new("tx", cfd, cfd, NULL, NULL);

    g_assert_cmpint(write(cfd, &byte, 1), ==, 1);   /* an RTT sample */
    g_assert_cmpint(read(afd, &byte, 1), ==, 1);
    g_assert_cmpint(write(afd, &byte, 1), ==, 1);
    g_assert_cmpint(read(cfd, &byte, 1), ==, 1);

    /* 1 byte/s keeps nothing in flight over any round trip */
    g_assert_cmpint(mig_channel_queue_for_rate(tx, 32 << 10, 1), ==, 32 << 10);
    /* 1 TB/s: a million bytes per microsecond of the loopback's RTT */
    for (MigChannel *c = tx; c; c = c == tx ? rx : NULL) {
        int q = mig_channel_queue_for_rate(c, 32 << 10, 1000000000000ULL);
        g_assert_cmpint(q % 1000000, ==, 0);
        g_assert_cmpint(q / 1000000, >=, 1);
        g_assert_cmpint(q / 1000000, <, 100000);
    }
    /* no overflow: the largest a socket option takes, and no more */
    g_assert_cmpint(mig_channel_queue_for_rate(tx, 32 << 10, UINT64_MAX),
                    ==, INT_MAX / 2);
    mig_channel_unref(rx);
    mig_channel_unref(tx);

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                    ==, 0);
    MigChannel *u = mig_channel_new("unix", sv[0], sv[0], NULL, NULL);
    g_assert_cmpint(mig_channel_queue_for_rate(u, 64 << 10,
                                               1000000000000ULL), ==, 64 << 10);
    mig_channel_unref(u);
    close(sv[1]);
}

#define ACK_TEST_BYTES (16 << 20)

static gpointer ack_test_writer(gpointer opaque)
{
    MigChannel *tx = opaque;
    g_autofree uint8_t *buf = g_malloc0(64 << 10);

    for (size_t sent = 0; sent < ACK_TEST_BYTES; sent += 64 << 10) {
        struct iovec iov = { buf, 64 << 10 };
        g_assert_cmpint(mig_channel_writev_all(tx, &iov, 1), ==, 64 << 10);
    }
    return NULL;
}

/*
 * With postcopy's limits a sender has about one segment in flight; the
 * receiver must ACK it at once.  Left to its delayed-ACK timer, each
 * segment waits for it: 16 MiB took 2 s that way here, against 20 ms.
 */
static void test_tcp_limited_stream_keeps_moving(void)
{
    int afd, cfd;

    tcp_pair(&afd, &cfd);
    MigChannel *rx = mig_channel_new("rx", afd, afd, NULL, NULL);
    MigChannel *tx = mig_channel_new("tx", cfd, cfd, NULL, NULL);
    g_autofree uint8_t *buf = g_malloc(4096);

    mig_channel_limit_receive(rx, 64 << 10);
    mig_channel_limit_send(tx, 32 << 10);
    int64_t t0 = g_get_monotonic_time();
    GThread *writer = g_thread_new("writer", ack_test_writer, tx);
    for (size_t got = 0; got < ACK_TEST_BYTES;) {
        ssize_t n = mig_channel_read(rx, buf, 4096);
        g_assert_cmpint(n, >, 0);
        got += n;
    }
    g_thread_join(writer);
    /* 16 MiB/s: far below loopback even on a loaded machine */
    g_assert_cmpint(g_get_monotonic_time() - t0, <, G_USEC_PER_SEC);
    mig_channel_unref(rx);
    mig_channel_unref(tx);
}

/* A reader for test_splice: takes @len bytes off a channel. */
typedef struct SpliceReader {
    MigChannel *rx;
    uint8_t *buf;
    size_t len;
    ssize_t got;
} SpliceReader;

static gpointer splice_reader(gpointer opaque)
{
    SpliceReader *r = opaque;

    struct iovec iov = { .iov_base = r->buf, .iov_len = r->len };

    r->got = mig_channel_readv_all(r->rx, &iov, 1);
    return NULL;
}

/*
 * Pages scattered over a mapping go out by reference, in order, more than
 * a pipe's worth at a time; a channel that cannot splice says so.
 */
static void test_splice(void)
{
    enum { PAGES = 300, PAGE = 4096 };
    int sv[2];
    uint8_t *mem = mmap(NULL, 2 * PAGES * PAGE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct iovec iov[PAGES];
    MigSplice sp;

    g_assert_true(mem != MAP_FAILED);
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                    ==, 0);
    for (int i = 0; i < PAGES; i++) {
        iov[i].iov_base = mem + (size_t)(PAGES - 1 - i) * 2 * PAGE;
        iov[i].iov_len = PAGE;
        memset(iov[i].iov_base, i & 0xff, PAGE);
        ((uint32_t *)iov[i].iov_base)[0] = (uint32_t)i;
    }
    MigChannel *tx = mig_channel_new("tx", sv[0], sv[0], NULL, NULL);
    MigChannel *rx = mig_channel_new("rx", sv[1], sv[1], NULL, NULL);
    SpliceReader r = { .rx = rx, .len = (size_t)PAGES * PAGE };

    r.buf = g_malloc(r.len);
    g_assert_true(mig_channel_can_splice(tx));
    g_assert_true(mig_splice_init(&sp, 64 * PAGE, NULL));
    GThread *t = g_thread_new("reader", splice_reader, &r);
    g_assert_cmpint(mig_channel_splice_pages(tx, &sp, iov, PAGES), ==,
                    (ssize_t)r.len);
    g_thread_join(t);
    g_assert_cmpint(r.got, ==, (ssize_t)r.len);
    for (int i = 0; i < PAGES; i++) {
        g_assert_cmpmem(r.buf + (size_t)i * PAGE, PAGE, iov[i].iov_base, PAGE);
    }
    /* after a shutdown, an error and no hang */
    mig_channel_shutdown(tx);
    g_assert_cmpint(mig_channel_splice_pages(tx, &sp, iov, PAGES), <, 0);
    mig_splice_destroy(&sp);
    mig_channel_unref(tx);
    mig_channel_unref(rx);
    g_free(r.buf);
    munmap(mem, 2 * PAGES * PAGE);
}

static void test_splice_refused_on_a_pipe(void)
{
    int p[2];

    g_assert_cmpint(pipe(p), ==, 0);
    MigChannel *tx = mig_channel_new("pipe", -1, p[1], NULL, NULL);
    g_assert_false(mig_channel_can_splice(tx));
    mig_channel_unref(tx);
    close(p[0]);
}

static void test_unix(void)
{
    g_autofree char *path = g_build_filename(tmp_dir, "mig.sock", NULL);
    g_autofree char *uri = g_strdup_printf("unix:%s", path);
    g_autofree char *addr = NULL;
    MigChannel *slot;

    listen_ok(uri, &slot);
    addr = mig_listener_address(listener);
    g_assert_cmpstr(addr, ==, uri);
    socket_transfer(uri, &slot);
    mig_listener_cancel(listener);
}

/* --- exec ---------------------------------------------------------------- */

static void assert_no_children(void)
{
    g_assert_cmpint(waitpid(-1, NULL, WNOHANG), ==, -1);
    g_assert_cmpint(errno, ==, ECHILD);
}

static void test_exec(void)
{
    g_autofree char *path = g_build_filename(tmp_dir, "exec.out", NULL);
    g_autofree char *out_uri = g_strdup_printf("exec:cat > '%s'", path);
    g_autofree char *in_uri = g_strdup_printf("exec:cat '%s'", path);
    Stream *s = stream_new(STREAM_SIZE, 21);
    MigChannel *slot, *chan = connect_ok(out_uri);

    g_assert_false(mig_channel_has_reverse_direction(chan));
    g_assert_false(mig_channel_can_read(chan));
    send_stream(chan, s);
    close_ok(chan);         /* waits for cat, so the file is complete */
    assert_no_children();

    listen_ok(in_uri, &slot);
    chan = wait_accepted(&slot);
    g_assert_false(mig_channel_can_write(chan));
    check_received(chan, s);
    close_ok(chan);
    assert_no_children();
    stream_free(s);
}

static void test_exec_failure(void)
{
    g_autoptr(GError) err = NULL;
    MigChannel *chan = connect_ok("exec:exit 3");
    uint8_t buf[65536] = { 0 };
    ssize_t ret = 0;

    /* the reader is gone: EPIPE, and no SIGPIPE kills us */
    for (int i = 0; i < 100 && ret >= 0; i++) {
        ret = mig_channel_write_all(chan, buf, sizeof(buf));
    }
    g_assert_cmpint(ret, ==, -EPIPE);
    g_assert_false(mig_channel_close(chan, &err));
    g_assert_cmpstr(err->message, ==,
                    "exec:exit 3: command exited with status 3");
    assert_no_children();
}

static void test_exec_killed(void)
{
    g_autoptr(GError) err = NULL;
    MigChannel *slot, *chan;
    size_t len;

    listen_ok("exec:kill -9 $$", &slot);
    chan = wait_accepted(&slot);
    g_free(receive_stream(chan, 1, &len));
    g_assert_cmpuint(len, ==, 0);
    g_assert_false(mig_channel_close(chan, &err));
    g_assert_nonnull(strstr(err->message, "killed by signal 9"));
    assert_no_children();
}

/* --- file ---------------------------------------------------------------- */

static void file_roundtrip(const char *suffix, off_t offset, bool old_file)
{
    g_autofree char *path = g_build_filename(tmp_dir, "mig.file", NULL);
    g_autofree char *uri = g_strdup_printf("file:%s%s", path, suffix);
    Stream *s = stream_new(STREAM_SIZE, 31);
    MigChannel *slot, *chan;
    struct stat st;

    g_remove(path);
    if (old_file) {
        /* a longer old file: outgoing truncates it */
        g_assert_true(g_file_set_contents(path, "old", 3, NULL));
        g_assert_cmpint(truncate(path, STREAM_SIZE * 2), ==, 0);
    }
    chan = connect_ok(uri);
    send_stream(chan, s);
    close_ok(chan);
    g_assert_cmpint(stat(path, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, offset + STREAM_SIZE);
    if (!old_file) {
        g_assert_cmpint(st.st_mode & 0777, ==, 0600);
    }
    if (offset) {
        g_autofree char *head = NULL;
        gsize len;

        g_assert_true(g_file_get_contents(path, &head, &len, NULL));
        for (off_t i = 0; i < offset; i++) {
            g_assert_cmpint(head[i], ==, 0);
        }
    }

    listen_ok(uri, &slot);
    chan = wait_accepted(&slot);
    check_received(chan, s);
    close_ok(chan);
    stream_free(s);
}

static void test_file(void)
{
    file_roundtrip("", 0, false);
    file_roundtrip("", 0, true);
}

static void test_file_offset(void)
{
    file_roundtrip(",offset=4096", 4096, true);
    file_roundtrip(",offset=1M", 1024 * 1024, false);
    file_roundtrip(",offset=1000", 1000, true);     /* no alignment needed */   /* no alignment required */
}

/* --- fd ------------------------------------------------------------------ */

static int fd_out = -1, fd_in = -1;

static int test_fd_lookup(void *opaque, const char *name, GError **errp)
{
    int *fd = !strcmp(name, "out") ? &fd_out : !strcmp(name, "in") ? &fd_in
                                                                   : NULL;
    int ret;

    if (!fd || *fd < 0) {
        error_setg(errp, "file descriptor '%s' not found", name);
        return -1;
    }
    ret = *fd;
    *fd = -1;       /* handed over, as getfd's table does */
    return ret;
}

static void test_fd_socket(void)
{
    Stream *s = stream_new(STREAM_SIZE, 41);
    MigChannel *slot, *src, *dst;
    int sv[2];
    GThread *t;
    void *args[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    fd_out = sv[0];
    fd_in = sv[1];
    src = connect_ok("fd:out");
    listen_ok("fd:in", &slot);
    dst = wait_accepted(&slot);
    g_assert_true(mig_channel_has_reverse_direction(src));
    g_assert_null(mig_listener_address(listener));

    args[0] = src;
    args[1] = s;
    t = g_thread_new("send", sender_thread, args);
    check_received(dst, s);
    g_thread_join(t);
    close_ok(dst);
    stream_free(s);
}

static void test_fd_pipe(void)
{
    g_autoptr(GError) err = NULL;
    Stream *s = stream_new(1 << 20, 42);
    MigChannel *slot, *src, *dst;
    GThread *t;
    void *args[2];
    int p[2];

    g_assert_cmpint(pipe(p), ==, 0);
    fd_in = p[0];
    fd_out = p[1];
    src = connect_ok("fd:out");
    g_assert_false(mig_channel_has_reverse_direction(src));
    g_assert_false(mig_channel_can_read(src));
    listen_ok("fd:in", &slot);
    dst = wait_accepted(&slot);
    args[0] = src;
    args[1] = s;
    t = g_thread_new("send", sender_thread, args);
    check_received(dst, s);
    g_thread_join(t);
    close_ok(dst);
    stream_free(s);

    /* handed over: a second use of the name finds nothing */
    g_assert_null(mig_channel_connect("fd:out", &fds, &err));
    g_assert_cmpstr(err->message, ==,
                    "fd:out: file descriptor 'out' not found");
}

/* --- failures ------------------------------------------------------------ */

static void expect_connect_error(const char *uri, const char *message)
{
    g_autoptr(GError) err = NULL;

    g_assert_null(mig_channel_connect(uri, &fds, &err));
    g_assert_nonnull(err);
    if (!strstr(err->message, message)) {
        g_error("%s: got '%s', want '%s' in it", uri, err->message, message);
    }
}

static void expect_listen_error(const char *uri, const char *message)
{
    g_autoptr(GError) err = NULL;
    MigChannel *slot = NULL;

    g_assert_false(mig_listener_listen(listener, uri, accepted, &slot, &err));
    g_assert_nonnull(err);
    if (!strstr(err->message, message)) {
        g_error("%s: got '%s', want '%s' in it", uri, err->message, message);
    }
    g_assert_null(mig_listener_address(listener));
}

static void test_refused(void)
{
    g_autofree char *addr = NULL;
    g_autofree char *want = NULL;
    MigChannel *slot;

    /* a port that was just free: listen, note it, cancel */
    listen_ok("tcp:127.0.0.1:0", &slot);
    addr = mig_listener_address(listener);
    mig_listener_cancel(listener);
    want = g_strdup_printf("%s: Connection refused", addr);
    expect_connect_error(addr, want);
    while (g_main_context_iteration(NULL, FALSE)) {
    }
    g_assert_null(slot);    /* cancelled: never called */
}

static void test_unknown_scheme(void)
{
    expect_connect_error("foo:bar", "unknown migration protocol 'foo:'");
    expect_connect_error("rdma:1.2.3.4:5", "unknown migration protocol 'rdma:'");
    expect_connect_error("nocolon", "'nocolon' is not a migration URI");
    expect_connect_error("", "is not a migration URI");
    expect_listen_error("foo:bar", "unknown migration protocol 'foo:'");
}

static void test_bad_uris(void)
{
    g_autofree char *nodir = g_strdup_printf("file:%s/no/such/dir/f", tmp_dir);

    expect_connect_error("tcp:", "'tcp:': expected tcp:HOST:PORT");
    expect_connect_error("tcp:localhost", "expected tcp:HOST:PORT");
    expect_connect_error("tcp:localhost:", "missing port");
    expect_connect_error("tcp:[::1", "expected tcp:[IPV6]:PORT");
    expect_connect_error("unix:", "'unix:': missing socket path");
    expect_connect_error("exec:", "'exec:': missing command");
    expect_connect_error("file:", "'file:': missing file name");
    expect_connect_error("file:,offset=4k", "missing file name");
    expect_connect_error("file:/tmp/x,offset=zz", "file:/tmp/x,offset=zz: "
                         "Parameter 'offset' expects a size");
    expect_connect_error("file:/tmp/x,offset=1,offset=2",
                         "Parameter 'offset' is given twice");
    expect_connect_error("file:/tmp/x,size=1", "Unknown parameter 'size' "
                         "(accepted: path, offset)");
    expect_connect_error(nodir, "cannot open");
    expect_connect_error("fd:", "'fd:': missing file descriptor name");
    expect_connect_error("fd:nosuch",
                         "fd:nosuch: file descriptor 'nosuch' not found");
    expect_listen_error("tcp:no-such-host.invalid:0", "cannot resolve");
    expect_listen_error("file:/no/such/file/here", "file:/no/such/file/here: "
                        "cannot open");
}

static void test_listen_twice(void)
{
    MigChannel *slot;

    listen_ok("tcp:127.0.0.1:0", &slot);
    {
        g_autoptr(GError) err = NULL;
        MigChannel *other = NULL;

        g_assert_false(mig_listener_listen(listener, "tcp:127.0.0.1:0", accepted, &other,
                                          &err));
        g_assert_nonnull(strstr(err->message, "already pending"));
    }
    mig_listener_cancel(listener);
    /* cancel frees the slot */
    listen_ok("tcp:127.0.0.1:0", &slot);
    mig_listener_cancel(listener);
}

static void remove_tmp_dir(void)
{
    GDir *dir = g_dir_open(tmp_dir, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(tmp_dir, name, NULL);

        g_remove(path);
    }
    if (dir) {
        g_dir_close(dir);
    }
    g_rmdir(tmp_dir);
    g_free(tmp_dir);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    tmp_dir = g_dir_make_tmp("ferry-channel-XXXXXX", NULL);
    g_assert_nonnull(tmp_dir);
    listener = mig_listener_new(g_main_context_default(), &fds);
    g_test_add_func("/channel/tcp", test_tcp);
    g_test_add_func("/channel/tcp-limit-queue", test_tcp_limit_queue);
    g_test_add_func("/channel/queue-for-rate", test_queue_for_rate);
    g_test_add_func("/channel/tcp-limited-stream-keeps-moving",
                    test_tcp_limited_stream_keeps_moving);
    g_test_add_func("/channel/unix", test_unix);
    g_test_add_func("/channel/splice", test_splice);
    g_test_add_func("/channel/splice-refused-on-a-pipe",
                    test_splice_refused_on_a_pipe);
    g_test_add_func("/channel/exec", test_exec);
    g_test_add_func("/channel/exec-failure", test_exec_failure);
    g_test_add_func("/channel/exec-killed", test_exec_killed);
    g_test_add_func("/channel/file", test_file);
    g_test_add_func("/channel/file-offset", test_file_offset);
    g_test_add_func("/channel/fd-socket", test_fd_socket);
    g_test_add_func("/channel/fd-pipe", test_fd_pipe);
    g_test_add_func("/channel/error/refused", test_refused);
    g_test_add_func("/channel/error/unknown-scheme", test_unknown_scheme);
    g_test_add_func("/channel/error/bad-uris", test_bad_uris);
    g_test_add_func("/channel/error/listen-twice", test_listen_twice);
    ret = g_test_run();

    mig_listener_free(listener);
    remove_tmp_dir();
    return ret;
}
