/*
 * The buffered migration stream (migration/qemu-file.c) over real
 * descriptors: round trips of every put/get over a socketpair and a pipe,
 * the sticky error, end of stream inside a value, counted strings, the
 * rate limit's accounting (on a fake clock), shutdown from another thread,
 * and the return path.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "migration/format/qemu-file.h"

#define BIG_SIZE (1024 * 1024 + 123)
#define ASYNC_SIZE (64 * 1024)

typedef struct Pair {
    MigChannel *wr;     /* the writer's end */
    MigChannel *rd;     /* the reader's end */
} Pair;

static Pair socket_pair(void)
{
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                    ==, 0);
    return (Pair){ mig_channel_new("sock-a", sv[0], sv[0], NULL, NULL),
                   mig_channel_new("sock-b", sv[1], sv[1], NULL, NULL) };
}

static Pair pipe_pair(void)
{
    int p[2];

    g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
    return (Pair){ mig_channel_new("pipe-w", -1, p[1], NULL, NULL),
                   mig_channel_new("pipe-r", p[0], -1, NULL, NULL) };
}

static void fill(uint8_t *buf, size_t len, uint32_t seed)
{
    for (size_t i = 0; i < len; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        buf[i] = seed;
    }
}

/* --- round trip ---------------------------------------------------------- */

static const char *const strings[] = { "", "pc.ram", "x" };
static uint64_t put_transferred;

static gpointer put_everything(gpointer opaque)
{
    QEMUFile *f = qemu_file_new_output(opaque);
    g_autofree uint8_t *big = g_malloc(BIG_SIZE);
    g_autofree uint8_t *async = g_malloc(ASYNC_SIZE);
    char long_str[256];

    fill(big, BIG_SIZE, 1);
    fill(async, ASYNC_SIZE, 2);
    memset(long_str, 'L', 255);
    long_str[255] = 0;

    qemu_put_byte(f, 0xa5);
    qemu_put_be16(f, 0xbeef);
    qemu_put_be32(f, 0xdeadbeef);
    qemu_put_be64(f, 0x0123456789abcdefULL);
    for (size_t i = 0; i < G_N_ELEMENTS(strings); i++) {
        qemu_put_counted_string(f, strings[i]);
    }
    qemu_put_counted_string(f, long_str);
    qemu_put_buffer(f, (const uint8_t *)"hello", 5);
    qemu_put_buffer(f, big, BIG_SIZE);
    qemu_put_buffer_async(f, async, ASYNC_SIZE);
    for (unsigned i = 0; i < 10000; i++) {  /* crosses many buffer ends */
        qemu_put_be32(f, i);
    }
    qemu_put_byte(f, 0x5a);
    qemu_fflush(f);     /* async must stay valid until here */
    g_assert_cmpint(qemu_file_get_error(f), ==, 0);
    put_transferred = qemu_file_transferred(f);
    g_assert_cmpint(qemu_fclose(f, NULL), ==, 0);
    return NULL;
}

static void get_everything(QEMUFile *f)
{
    g_autofree uint8_t *big = g_malloc(BIG_SIZE);
    g_autofree uint8_t *want = g_malloc(BIG_SIZE);
    char str[256], buf[8];

    g_assert_cmpint(qemu_peek_byte(f, 0), ==, 0xa5);
    g_assert_cmpint(qemu_peek_byte(f, 1), ==, 0xbe);
    g_assert_cmpint(qemu_get_byte(f), ==, 0xa5);
    g_assert_cmphex(qemu_get_be16(f), ==, 0xbeef);
    g_assert_cmphex(qemu_get_be32(f), ==, 0xdeadbeef);
    g_assert_cmphex(qemu_get_be64(f), ==, 0x0123456789abcdefULL);
    for (size_t i = 0; i < G_N_ELEMENTS(strings); i++) {
        g_assert_cmpuint(qemu_get_counted_string(f, str), ==,
                         strlen(strings[i]));
        g_assert_cmpstr(str, ==, strings[i]);
    }
    g_assert_cmpuint(qemu_get_counted_string(f, str), ==, 255);
    g_assert_cmpuint(strspn(str, "L"), ==, 255);
    g_assert_cmpuint(qemu_get_buffer(f, (uint8_t *)buf, 5), ==, 5);
    g_assert_cmpmem(buf, 5, "hello", 5);

    fill(want, BIG_SIZE, 1);
    g_assert_cmpuint(qemu_get_buffer(f, big, BIG_SIZE), ==, BIG_SIZE);
    g_assert_true(memcmp(big, want, BIG_SIZE) == 0);
    fill(want, ASYNC_SIZE, 2);
    g_assert_cmpuint(qemu_get_buffer(f, big, ASYNC_SIZE), ==, ASYNC_SIZE);
    g_assert_true(memcmp(big, want, ASYNC_SIZE) == 0);
    for (unsigned i = 0; i < 10000; i++) {
        g_assert_cmpuint(qemu_get_be32(f), ==, i);
    }
    g_assert_cmpint(qemu_get_byte(f), ==, 0x5a);
    g_assert_cmpint(qemu_file_get_error(f), ==, 0);
}

static void roundtrip(Pair p)
{
    GThread *writer = g_thread_new("put", put_everything, p.wr);
    QEMUFile *f = qemu_file_new_input(p.rd);

    mig_channel_unref(p.rd);
    get_everything(f);
    g_thread_join(writer);
    mig_channel_unref(p.wr);
    g_assert_cmpuint(qemu_file_transferred(f), ==, put_transferred);

    /* the writer is gone: a further get is an unexpected end, -EIO */
    g_assert_cmpint(qemu_get_byte(f), ==, 0);
    g_assert_cmpint(qemu_file_get_error(f), ==, -EIO);
    g_assert_cmpint(qemu_fclose(f, NULL), ==, -EIO);
}

static void test_roundtrip_socket(void)
{
    roundtrip(socket_pair());
}

static void test_roundtrip_pipe(void)
{
    roundtrip(pipe_pair());
}

/* --- errors -------------------------------------------------------------- */

/* Writes @len bytes of @data on @chan and closes it. */
static void send_raw(MigChannel *chan, const void *data, size_t len)
{
    g_assert_cmpint(mig_channel_write_all(chan, data, len), ==, len);
    mig_channel_unref(chan);
}

static void test_eof_mid_value(void)
{
    Pair p = pipe_pair();
    QEMUFile *f = qemu_file_new_input(p.rd);

    mig_channel_unref(p.rd);
    send_raw(p.wr, "\x01\x02\x03\x04\x05", 5);  /* 5 of a be64's 8 bytes */
    g_assert_cmphex(qemu_get_be64(f), ==, 0);
    g_assert_cmpint(qemu_file_get_error(f), ==, -EIO);
    g_assert_cmpuint(qemu_file_transferred(f), ==, 5);
    g_assert_cmpint(qemu_fclose(f, NULL), ==, -EIO);
}

static void test_sticky_error(void)
{
    Pair p = socket_pair();
    QEMUFile *f = qemu_file_new_input(p.rd);
    char str[256];
    uint8_t buf[4] = { 9, 9, 9, 9 };

    mig_channel_unref(p.rd);
    send_raw(p.wr, "\x07\x08\x09\x0a\x0b\x0c", 6);
    g_assert_cmpint(qemu_get_byte(f), ==, 7);

    /* a higher layer poisons the stream: the bytes still there stay unread */
    qemu_file_set_error(f, -EINVAL);
    g_assert_cmpint(qemu_get_byte(f), ==, 0);
    g_assert_cmpuint(qemu_get_be16(f), ==, 0);
    g_assert_cmpuint(qemu_get_buffer(f, buf, 4), ==, 0);
    g_assert_cmpint(buf[0], ==, 9);
    g_assert_cmpuint(qemu_get_counted_string(f, str), ==, 0);
    g_assert_cmpint(qemu_peek_byte(f, 0), ==, 0);
    g_assert_cmpuint(qemu_file_transferred(f), ==, 1);

    /* the first error stays */
    qemu_file_set_error(f, -EPIPE);
    g_assert_cmpint(qemu_file_get_error(f), ==, -EINVAL);
    g_assert_true(qemu_file_rate_limit_exceeded(f));
    g_assert_cmpint(qemu_fclose(f, NULL), ==, -EINVAL);
}

static void test_sticky_after_failed_read(void)
{
    Pair p = socket_pair();
    QEMUFile *f = qemu_file_new_input(p.rd);

    mig_channel_unref(p.rd);
    send_raw(p.wr, "\x01\x02\x03", 3);
    g_assert_cmpuint(qemu_get_be32(f), ==, 0);
    g_assert_cmpint(qemu_file_get_error(f), ==, -EIO);
    qemu_file_set_error(f, -EPROTO);
    g_assert_cmpint(qemu_get_byte(f), ==, 0);
    g_assert_cmpint(qemu_file_get_error(f), ==, -EIO);
    qemu_fclose(f, NULL);
}

static void test_write_error(void)
{
    Pair p = socket_pair();
    QEMUFile *f = qemu_file_new_output(p.wr);
    g_autoptr(GError) err = NULL;
    uint8_t page[4096] = { 0 };

    mig_channel_unref(p.wr);
    mig_channel_unref(p.rd);    /* the peer is gone */
    for (int i = 0; i < 64 && !qemu_file_get_error(f); i++) {
        qemu_put_buffer(f, page, sizeof(page));
        qemu_fflush(f);
    }
    g_assert_cmpint(qemu_file_get_error(f), ==, -EPIPE);
    qemu_put_be64(f, 1);    /* a no-op now */
    g_assert_cmpint(qemu_fclose(f, &err), ==, -EPIPE);
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "sock-a"));
}

static void test_counted_string_too_long(void)
{
    Pair p = pipe_pair();
    QEMUFile *f = qemu_file_new_output(p.wr);
    char s[300];

    mig_channel_unref(p.wr);
    memset(s, 'x', 256);
    s[256] = 0;
    qemu_put_counted_string(f, s);
    g_assert_cmpint(qemu_file_get_error(f), ==, -EINVAL);
    qemu_fclose(f, NULL);
    mig_channel_unref(p.rd);
}

static void test_wrong_direction(void)
{
    Pair p = pipe_pair();
    QEMUFile *in = qemu_file_new_input(p.rd);

    qemu_put_byte(in, 1);
    g_assert_cmpint(qemu_file_get_error(in), ==, -EBADF);
    qemu_fclose(in, NULL);
    mig_channel_unref(p.rd);
    mig_channel_unref(p.wr);
}

/* --- rate limit ---------------------------------------------------------- */

static int64_t fake_now;

static int64_t fake_clock(void)
{
    return fake_now;
}

/*
 * 1 MiB/s is 104857 bytes per 100 ms window.  Sending 3 MiB in 4 KiB
 * pages overshoots each window by less than a page (26 pages), so the
 * sender stops 29 times and finishes in the 30th window: 3 seconds.
 */
static void test_rate_limit(void)
{
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    MigChannel *chan = mig_channel_new("null", -1, null, NULL, NULL);
    QEMUFile *f = qemu_file_new_output(chan);
    uint8_t page[4096] = { 0 };
    uint64_t sent = 0, stops = 0;

    mig_channel_unref(chan);
    g_assert_false(qemu_file_rate_limit_exceeded(f));   /* unlimited */
    fake_now = 1000;
    qemu_file_set_clock(f, fake_clock);
    qemu_file_set_rate_limit(f, 1024 * 1024);
    g_assert_cmpuint(qemu_file_get_rate_limit(f), ==, 104857 * 10);

    while (sent < 3 * 1024 * 1024) {
        if (qemu_file_rate_limit_exceeded(f)) {
            stops++;
            /* still exceeded until the window ends */
            fake_now += 60;
            g_assert_true(qemu_file_rate_limit_exceeded(f));
            g_assert_cmpint(qemu_file_rate_limit_ms_left(f), ==, 40);
            fake_now += 40;
            continue;
        }
        qemu_put_buffer(f, page, sizeof(page));
        sent += sizeof(page);
    }
    g_assert_cmpuint(stops, ==, 29);
    g_assert_cmpuint(qemu_file_transferred(f), ==, sent);

    qemu_file_set_rate_limit(f, 0);
    g_assert_false(qemu_file_rate_limit_exceeded(f));
    g_assert_cmpint(qemu_fclose(f, NULL), ==, 0);
}

/*
 * A window overshot (a batch of pages, a prefetch run) is paid for by the
 * next, so a small limit holds on average; by one window at most, so a
 * limit lowered in mid-window stalls the stream one window at most.
 */
static void test_rate_limit_carry(void)
{
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    MigChannel *chan = mig_channel_new("null", -1, null, NULL, NULL);
    QEMUFile *f = qemu_file_new_output(chan);
    g_autofree uint8_t *buf = g_malloc0(500000);

    mig_channel_unref(chan);
    fake_now = 1000;
    qemu_file_set_clock(f, fake_clock);
    qemu_file_set_rate_limit(f, 1024 * 1024);     /* 104857 a window */

    qemu_put_buffer(f, buf, 150000);
    g_assert_true(qemu_file_rate_limit_exceeded(f));
    fake_now += 100;                               /* 45143 carried */
    g_assert_false(qemu_file_rate_limit_exceeded(f));
    qemu_put_buffer(f, buf, 59713);
    g_assert_false(qemu_file_rate_limit_exceeded(f));
    qemu_put_buffer(f, buf, 1);
    g_assert_true(qemu_file_rate_limit_exceeded(f));

    fake_now += 100;
    qemu_put_buffer(f, buf, 500000);
    g_assert_true(qemu_file_rate_limit_exceeded(f));
    fake_now += 100;                               /* a whole window owed */
    g_assert_true(qemu_file_rate_limit_exceeded(f));
    fake_now += 100;
    g_assert_false(qemu_file_rate_limit_exceeded(f));

    qemu_put_buffer(f, buf, 500000);
    g_assert_true(qemu_file_rate_limit_exceeded(f));
    fake_now += 250;                               /* idle windows pay */
    g_assert_false(qemu_file_rate_limit_exceeded(f));
    g_assert_cmpint(qemu_file_rate_limit_ms_left(f), ==, 50);
    g_assert_cmpint(qemu_fclose(f, NULL), ==, 0);
}

/*
 * postcopy-preempt's channel spends the main stream's budget: what it
 * puts counts at its next check, both see the same window, and the
 * budget outlives the stream that made it.
 */
static void test_rate_limit_shared(void)
{
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    MigChannel *chan = mig_channel_new("null", -1, null, NULL, NULL);
    QEMUFile *main_f = qemu_file_new_output(chan);
    QEMUFile *urgent = qemu_file_new_output(chan);
    uint8_t page[4096] = { 0 };

    mig_channel_unref(chan);
    fake_now = 1000;
    qemu_file_set_clock(main_f, fake_clock);
    qemu_file_set_rate_limit(main_f, 1024 * 1024);     /* 104857 a window */
    qemu_file_share_rate_limit(urgent, main_f);
    g_assert_cmpuint(qemu_file_get_rate_limit(urgent), ==, 104857 * 10);

    for (int i = 0; i < 20; i++) {
        qemu_put_buffer(main_f, page, sizeof(page));
    }
    g_assert_false(qemu_file_rate_limit_exceeded(main_f));  /* 81920 */
    for (int i = 0; i < 6; i++) {
        qemu_put_buffer(urgent, page, sizeof(page));
    }
    g_assert_false(qemu_file_rate_limit_exceeded(main_f));  /* not counted */
    g_assert_true(qemu_file_rate_limit_exceeded(urgent));   /* 106496 */
    g_assert_true(qemu_file_rate_limit_exceeded(main_f));
    fake_now += 60;
    g_assert_cmpint(qemu_file_rate_limit_ms_left(urgent), ==, 40);
    fake_now += 40;
    g_assert_false(qemu_file_rate_limit_exceeded(urgent));  /* new window */
    g_assert_false(qemu_file_rate_limit_exceeded(main_f));
    /* only the puts since the last check count */
    g_assert_false(qemu_file_rate_limit_exceeded(urgent));

    g_assert_cmpint(qemu_fclose(main_f, NULL), ==, 0);
    for (int i = 0; i < 26; i++) {
        qemu_put_buffer(urgent, page, sizeof(page));
    }
    g_assert_true(qemu_file_rate_limit_exceeded(urgent));
    g_assert_cmpint(qemu_fclose(urgent, NULL), ==, 0);
}

/* --- shutdown from another thread ---------------------------------------- */

typedef struct Blocked {
    QEMUFile *f;
    gint64 returned_at;
} Blocked;

static gpointer blocked_reader(gpointer opaque)
{
    Blocked *b = opaque;

    g_assert_cmpuint(qemu_get_be32(b->f), ==, 0);
    b->returned_at = g_get_monotonic_time();
    return NULL;
}

static gpointer blocked_writer(gpointer opaque)
{
    Blocked *b = opaque;
    g_autofree uint8_t *big = g_malloc0(16 * 1024 * 1024);

    /* nobody reads: this blocks once the socket buffers are full */
    qemu_put_buffer(b->f, big, 16 * 1024 * 1024);
    b->returned_at = g_get_monotonic_time();
    return NULL;
}

static void shutdown_unblocks(Pair p, bool reader)
{
    Blocked b = { 0 };
    GThread *t;
    gint64 shut_at;

    b.f = reader ? qemu_file_new_input(p.rd) : qemu_file_new_output(p.wr);
    t = g_thread_new("blocked", reader ? blocked_reader : blocked_writer, &b);
    g_usleep(200 * 1000);
    g_assert_cmpint(b.returned_at, ==, 0);     /* really blocked */
    shut_at = g_get_monotonic_time();
    g_assert_cmpint(qemu_file_shutdown(b.f), ==, 0);
    g_thread_join(t);
    g_assert_cmpint(b.returned_at - shut_at, <, G_USEC_PER_SEC);
    g_assert_cmpint(qemu_file_get_error(b.f), ==, -EIO);
    qemu_fclose(b.f, NULL);
    mig_channel_unref(p.rd);
    mig_channel_unref(p.wr);
}

static void test_shutdown_reader_socket(void)
{
    shutdown_unblocks(socket_pair(), true);
}

static void test_shutdown_reader_pipe(void)
{
    shutdown_unblocks(pipe_pair(), true);
}

static void test_shutdown_writer_socket(void)
{
    shutdown_unblocks(socket_pair(), false);
}

static void test_shutdown_writer_pipe(void)
{
    shutdown_unblocks(pipe_pair(), false);
}

/* --- return path --------------------------------------------------------- */

static void test_return_path(void)
{
    Pair p = socket_pair();
    QEMUFile *out = qemu_file_new_output(p.wr);
    QEMUFile *in = qemu_file_new_input(p.rd);
    QEMUFile *rp_in = qemu_file_get_return_path(out);
    QEMUFile *rp_out = qemu_file_get_return_path(in);

    mig_channel_unref(p.wr);
    mig_channel_unref(p.rd);
    g_assert_nonnull(rp_in);
    g_assert_nonnull(rp_out);
    g_assert_false(qemu_file_is_writable(rp_in));
    g_assert_true(qemu_file_is_writable(rp_out));

    qemu_put_be32(out, 0x11223344);
    qemu_fflush(out);
    g_assert_cmphex(qemu_get_be32(in), ==, 0x11223344);
    qemu_put_be64(rp_out, 0xfeedfacecafeULL);   /* e.g. a page request */
    qemu_put_counted_string(rp_out, "pc.ram");
    qemu_fflush(rp_out);
    g_assert_cmphex(qemu_get_be64(rp_in), ==, 0xfeedfacecafeULL);
    g_assert_cmpuint(qemu_get_counted_string(rp_in, (char[256]){ 0 }), ==, 6);

    /* closing the return path leaves the main stream working */
    g_assert_cmpint(qemu_fclose(rp_out, NULL), ==, 0);
    g_assert_cmpint(qemu_fclose(rp_in, NULL), ==, 0);
    qemu_put_byte(out, 42);
    qemu_fflush(out);
    g_assert_cmpint(qemu_get_byte(in), ==, 42);
    g_assert_cmpint(qemu_fclose(out, NULL), ==, 0);
    g_assert_cmpint(qemu_fclose(in, NULL), ==, 0);
}

static void test_return_path_shutdown(void)
{
    Pair p = socket_pair();
    QEMUFile *out = qemu_file_new_output(p.wr);
    Blocked b = { .f = qemu_file_get_return_path(out) };
    GThread *t = g_thread_new("rp", blocked_reader, &b);

    g_usleep(100 * 1000);
    qemu_file_shutdown(out);    /* cancel also wakes the return path */
    g_thread_join(t);
    g_assert_cmpint(b.returned_at, !=, 0);
    g_assert_cmpint(qemu_file_get_error(b.f), <, 0);
    qemu_fclose(b.f, NULL);
    qemu_fclose(out, NULL);
    mig_channel_unref(p.wr);
    mig_channel_unref(p.rd);
}

static void test_no_return_path_on_pipe(void)
{
    Pair p = pipe_pair();
    QEMUFile *out = qemu_file_new_output(p.wr);

    g_assert_null(qemu_file_get_return_path(out));
    qemu_fclose(out, NULL);
    mig_channel_unref(p.wr);
    mig_channel_unref(p.rd);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qemu-file/roundtrip/socketpair", test_roundtrip_socket);
    g_test_add_func("/qemu-file/roundtrip/pipe", test_roundtrip_pipe);
    g_test_add_func("/qemu-file/error/eof-mid-value", test_eof_mid_value);
    g_test_add_func("/qemu-file/error/sticky", test_sticky_error);
    g_test_add_func("/qemu-file/error/sticky-after-read",
                    test_sticky_after_failed_read);
    g_test_add_func("/qemu-file/error/write", test_write_error);
    g_test_add_func("/qemu-file/error/counted-string-too-long",
                    test_counted_string_too_long);
    g_test_add_func("/qemu-file/error/wrong-direction", test_wrong_direction);
    g_test_add_func("/qemu-file/rate-limit", test_rate_limit);
    g_test_add_func("/qemu-file/rate-limit-carry", test_rate_limit_carry);
    g_test_add_func("/qemu-file/rate-limit-shared", test_rate_limit_shared);
    g_test_add_func("/qemu-file/shutdown/reader-socket",
                    test_shutdown_reader_socket);
    g_test_add_func("/qemu-file/shutdown/reader-pipe",
                    test_shutdown_reader_pipe);
    g_test_add_func("/qemu-file/shutdown/writer-socket",
                    test_shutdown_writer_socket);
    g_test_add_func("/qemu-file/shutdown/writer-pipe",
                    test_shutdown_writer_pipe);
    g_test_add_func("/qemu-file/return-path/socketpair", test_return_path);
    g_test_add_func("/qemu-file/return-path/shutdown",
                    test_return_path_shutdown);
    g_test_add_func("/qemu-file/return-path/none-on-pipe",
                    test_no_return_path_on_pipe);
    return g_test_run();
}
