/*
 * The block layer (block/): the file driver on both I/O engines, O_DIRECT,
 * the lifecycle's state checks, drain, -blockdev parsing errors, the
 * blkdelay filter, image locks between nodes and between processes, and
 * query-block.
 *
 * Images live in a fresh directory from g_dir_make_tmp(); cross-process
 * lock tests re-run this binary as a helper ("--lock-helper").
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include "system/machine.h"
#include "block/block_int.h"
#include "qapi/qapi-commands.h"

/* The block nodes under test (one graph, as one VM has). */
static BlockGraph *graph;

#define IMG_SIZE (1024 * 1024)

static char *tmpdir;

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A file of @size bytes, byte i holding (i * 7 + 3) & 0xff. */
static char *make_image(const char *name, size_t size)
{
    char *path = g_build_filename(tmpdir, name, NULL);
    g_autofree guint8 *buf = g_malloc(size);

    for (size_t i = 0; i < size; i++) {
        buf[i] = (i * 7 + 3) & 0xff;
    }
    g_assert_true(g_file_set_contents(path, (char *)buf, size, NULL));
    return path;
}

static BlockDriverState *add(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static BlockDriverState *add(const char *fmt, ...)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *spec = NULL;
    BlockDriverState *bs;
    va_list ap;

    va_start(ap, fmt);
    spec = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    bs = blockdev_add(graph, spec, &err);
    g_assert_no_error(err);
    g_assert_nonnull(bs);
    return bs;
}

static void activate(BlockDriverState *bs)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(bdrv_activate(bs, &err));
    g_assert_no_error(err);
}

/* --- both engines ---------------------------------------------------------- */

typedef struct Counter {
    gint done;
    gint errors;
} Counter;

static void count_cb(void *opaque, int ret)
{
    Counter *c = opaque;

    if (ret < 0) {
        g_test_message("request failed: %s", g_strerror(-ret));
        g_atomic_int_inc(&c->errors);
    }
    g_atomic_int_inc(&c->done);
}

/* A two-buffer vectored write, waited for with drain. */
static int pwritev_sync(BlockDriverState *bs, uint64_t offset, void *a,
                        size_t alen, void *b, size_t blen)
{
    struct iovec iov[2] = { { a, alen }, { b, blen } };
    Counter c = { 0, 0 };
    int ret = bdrv_aio_pwritev(bs, offset, iov, 2, count_cb, &c);

    if (ret < 0) {
        return ret;
    }
    bdrv_drain(bs);
    g_assert_cmpint(c.done, ==, 1);
    return c.errors ? -EIO : 0;
}

static void test_engine_rw(gconstpointer data)
{
    g_autofree char *path = make_image("rw.img", IMG_SIZE);
    BlockDriverState *bs = add("driver=file,node-name=f0,filename=%s,aio=%s",
                               path, (const char *)data);
    char a[3000], b[5000], back[8000];

    activate(bs);
    g_assert_cmpint(bdrv_getlength(bs), ==, IMG_SIZE);
    memset(a, 'a', sizeof(a));
    memset(b, 'b', sizeof(b));
    g_assert_cmpint(pwritev_sync(bs, 4096 + 1, a, sizeof(a), b, sizeof(b)),
                    ==, 0);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    g_assert_cmpint(bdrv_pread(bs, 4096 + 1, back, sizeof(back)), ==, 0);
    g_assert_cmpmem(back, sizeof(a), a, sizeof(a));
    g_assert_cmpmem(back + sizeof(a), sizeof(b), b, sizeof(b));
    /* Untouched bytes keep the pattern. */
    g_assert_cmpint(bdrv_pread(bs, 4096, back, 1), ==, 0);
    g_assert_cmpint((guint8)back[0], ==, (4096 * 7 + 3) & 0xff);
    blockdev_del_all(graph);
}

#define CONC_THREADS 4
#define CONC_PER_THREAD 64
#define CONC_BLOCK 4096

typedef struct ConcJob {
    BlockDriverState *bs;
    Counter *counter;
    guint8 *bufs;               /* this thread's blocks */
    int index;
} ConcJob;

static gpointer conc_submitter(gpointer opaque)
{
    ConcJob *job = opaque;

    for (int i = 0; i < CONC_PER_THREAD; i++) {
        int blk = i * CONC_THREADS + job->index;
        struct iovec iov[2] = {
            { job->bufs + i * CONC_BLOCK, CONC_BLOCK / 2 },
            { job->bufs + i * CONC_BLOCK + CONC_BLOCK / 2, CONC_BLOCK / 2 },
        };
        memset(iov[0].iov_base, blk & 0xff, CONC_BLOCK);
        g_assert_cmpint(bdrv_aio_pwritev(job->bs, (uint64_t)blk * CONC_BLOCK,
                                         iov, 2, count_cb, job->counter),
                        ==, 0);
    }
    return NULL;
}

/* 256 writes in flight from four threads, then drain. */
static void test_engine_concurrent(gconstpointer data)
{
    g_autofree char *path = make_image("conc.img", IMG_SIZE);
    BlockDriverState *bs = add("driver=file,node-name=f0,filename=%s,aio=%s",
                               path, (const char *)data);
    g_autofree guint8 *bufs = g_malloc(CONC_THREADS * CONC_PER_THREAD *
                                       CONC_BLOCK);
    ConcJob jobs[CONC_THREADS];
    GThread *threads[CONC_THREADS];
    Counter c = { 0, 0 };
    guint8 back[CONC_BLOCK];

    activate(bs);
    for (int t = 0; t < CONC_THREADS; t++) {
        jobs[t] = (ConcJob) { bs, &c, bufs + t * CONC_PER_THREAD * CONC_BLOCK,
                              t };
        threads[t] = g_thread_new("submit", conc_submitter, &jobs[t]);
    }
    for (int t = 0; t < CONC_THREADS; t++) {
        g_thread_join(threads[t]);
    }
    bdrv_drain(bs);
    g_assert_cmpint(g_atomic_int_get(&c.done), ==,
                    CONC_THREADS * CONC_PER_THREAD);
    g_assert_cmpint(c.errors, ==, 0);
    for (int blk = 0; blk < CONC_THREADS * CONC_PER_THREAD; blk++) {
        g_assert_cmpint(bdrv_pread(bs, blk * CONC_BLOCK, back, sizeof(back)),
                        ==, 0);
        g_assert_cmpint(back[0], ==, blk & 0xff);
        g_assert_cmpint(back[CONC_BLOCK - 1], ==, blk & 0xff);
    }
    blockdev_del_all(graph);
}

/* The node's end is the file's; a file that shrank reads as zeroes. */
static void test_engine_eof(gconstpointer data)
{
    g_autofree char *path = make_image("eof.img", 1000);
    BlockDriverState *bs = add("driver=file,node-name=f0,filename=%s,aio=%s",
                               path, (const char *)data);
    guint8 buf[1024];

    activate(bs);
    g_assert_cmpint(bdrv_getlength(bs), ==, 1000);
    g_assert_cmpint(bdrv_pread(bs, 0, buf, 1000), ==, 0);
    g_assert_cmpint(buf[999], ==, (999 * 7 + 3) & 0xff);
    g_assert_cmpint(bdrv_pread(bs, 512, buf, 512), ==, -EINVAL);
    g_assert_cmpint(bdrv_pread(bs, 1001, buf, 0), ==, -EINVAL);
    g_assert_cmpint(bdrv_pwrite(bs, 999, buf, 2), ==, -EINVAL);
    g_assert_cmpint(bdrv_pread(bs, UINT64_MAX - 1, buf, 4), ==, -EINVAL);

    g_assert_cmpint(truncate(path, 600), ==, 0);
    memset(buf, 0xee, sizeof(buf));
    g_assert_cmpint(bdrv_pread(bs, 500, buf, 500), ==, 0);
    g_assert_cmpint(buf[99], ==, (599 * 7 + 3) & 0xff);
    for (int i = 100; i < 500; i++) {
        g_assert_cmpint(buf[i], ==, 0);
    }
    blockdev_del_all(graph);
}

/* --- O_DIRECT ---------------------------------------------------------------- */

static BlockDriverState *add_direct(const char *path, const char *aio)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *spec = g_strdup_printf(
        "driver=file,node-name=d0,filename=%s,cache.direct=on,aio=%s", path,
        aio);
    BlockDriverState *bs = blockdev_add(graph, spec, &err);

    g_assert_no_error(err);
    if (!bdrv_activate(bs, &err)) {
        if (strstr(err->message, "does not support O_DIRECT")) {
            g_test_skip(err->message);
            blockdev_del_all(graph);
            return NULL;
        }
        g_error("activate: %s", err->message);
    }
    g_assert_true(bdrv_is_direct(bs));
    return bs;
}

static void test_direct(gconstpointer data)
{
    g_autofree char *path = make_image("direct.img", IMG_SIZE);
    BlockDriverState *bs = add_direct(path, data);
    guint8 *mem = NULL, *back;

    if (!bs) {
        return;
    }
    g_assert_cmpint(posix_memalign((void **)&mem, 4096, 8192 + 4096), ==, 0);
    back = mem + 8192;
    /* Aligned memory goes straight to the engine. */
    memset(mem, 0x5a, 4096);
    g_assert_cmpint(bdrv_pwrite(bs, 8192, mem, 4096), ==, 0);
    g_assert_cmpint(bdrv_pread(bs, 8192, back, 4096), ==, 0);
    g_assert_cmpmem(back, 4096, mem, 4096);
    /* Misaligned memory is bounced, both ways. */
    memset(mem + 1, 0xa5, 1024);
    g_assert_cmpint(bdrv_pwrite(bs, 512, mem + 1, 1024), ==, 0);
    memset(mem + 3, 0, 1024);
    g_assert_cmpint(bdrv_pread(bs, 512, mem + 3, 1024), ==, 0);
    for (int i = 0; i < 1024; i++) {
        g_assert_cmpint(mem[3 + i], ==, 0xa5);
    }
    /* Misaligned offset or length is refused at once. */
    g_assert_cmpint(bdrv_pread(bs, 100, back, 512), ==, -EINVAL);
    g_assert_cmpint(bdrv_pread(bs, 512, back, 100), ==, -EINVAL);
    g_assert_cmpint(bdrv_pwrite(bs, 513, back, 512), ==, -EINVAL);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    free(mem);
    blockdev_del_all(graph);
}

/* --- lifecycle --------------------------------------------------------------- */

static void test_states(void)
{
    g_autofree char *path = make_image("state.img", IMG_SIZE);
    g_autofree char *ro_path = make_image("ro.img", IMG_SIZE);
    BlockDriverState *bs = add("driver=file,node-name=f0,filename=%s", path);
    BlockDriverState *ro = add("driver=file,node-name=r0,filename=%s,"
                               "read-only=on", ro_path);
    g_autoptr(GError) err = NULL;
    char buf[512] = { 0 };

    g_assert_cmpint(bdrv_state(bs), ==, BLOCK_NODE_CONFIGURED);
    g_assert_cmpint(bdrv_getlength(bs), ==, -ENOMEDIUM);
    g_assert_cmpint(bdrv_pread(bs, 0, buf, 512), ==, -ENOMEDIUM);
    g_assert_cmpint(bdrv_pwrite(bs, 0, buf, 512), ==, -ENOMEDIUM);
    g_assert_cmpint(bdrv_flush(bs), ==, -ENOMEDIUM);

    g_assert_true(bdrv_attach(bs, &err));
    g_assert_true(bdrv_attach(bs, &err));              /* idempotent */
    g_assert_cmpint(bdrv_state(bs), ==, BLOCK_NODE_ATTACHED);
    g_assert_cmpint(bdrv_last_attach_ns(bs), >, 0);
    g_assert_cmpint(bdrv_last_activate_ns(bs), ==, 0);
    g_assert_cmpint(bdrv_pread(bs, 0, buf, 512), ==, 0);
    g_assert_cmpint(bdrv_pwrite(bs, 0, buf, 512), ==, -EPERM);
    g_assert_cmpint(bdrv_flush(bs), ==, -EPERM);

    activate(bs);
    activate(bs);
    g_assert_cmpint(bdrv_state(bs), ==, BLOCK_NODE_ACTIVE);
    g_assert_cmpint(bdrv_last_activate_ns(bs), >, 0);
    g_assert_cmpint(bdrv_pwrite(bs, 0, buf, 512), ==, 0);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);

    g_assert_true(bdrv_inactivate(bs, &err));
    g_assert_true(bdrv_inactivate(bs, &err));
    g_assert_no_error(err);
    g_assert_cmpint(bdrv_state(bs), ==, BLOCK_NODE_ATTACHED);
    g_assert_cmpint(bdrv_pwrite(bs, 0, buf, 512), ==, -EPERM);
    g_assert_cmpint(bdrv_pread(bs, 0, buf, 512), ==, 0);

    bdrv_detach(bs);
    bdrv_detach(bs);
    g_assert_cmpint(bdrv_state(bs), ==, BLOCK_NODE_CONFIGURED);
    g_assert_cmpint(bdrv_pread(bs, 0, buf, 512), ==, -ENOMEDIUM);

    /* Read-only: active, readable, never writable. */
    g_assert_true(bdrv_is_read_only(ro));
    activate(ro);
    g_assert_cmpint(bdrv_pread(ro, 0, buf, 512), ==, 0);
    g_assert_cmpint(bdrv_pwrite(ro, 0, buf, 512), ==, -EROFS);

    /* The _all variants. */
    g_assert_true(bdrv_activate_all(graph, &err));
    g_assert_cmpint(bdrv_state(bs), ==, BLOCK_NODE_ACTIVE);
    g_assert_true(bdrv_inactivate_all(graph, &err));
    g_assert_cmpint(bdrv_state(bs), ==, BLOCK_NODE_ATTACHED);
    g_assert_cmpint(bdrv_state(ro), ==, BLOCK_NODE_ATTACHED);
    g_assert_no_error(err);
    blockdev_del_all(graph);
    g_assert_null(bdrv_find(graph, "f0"));
}

/* Drain waits for requests parked in blkdelay's delay line. */
static void test_drain(void)
{
    g_autofree char *path = make_image("drain.img", IMG_SIZE);
    BlockDriverState *bs;
    Counter c = { 0, 0 };
    static char buf[16][512];
    int64_t start;

    add("driver=file,node-name=f0,filename=%s", path);
    bs = add("driver=blkdelay,node-name=d0,file=f0,io-latency-us=50000");
    activate(bs);
    start = now_ns();
    for (int i = 0; i < 16; i++) {
        struct iovec iov = { buf[i], sizeof(buf[i]) };
        g_assert_cmpint(bdrv_aio_pwritev(bs, i * 512, &iov, 1, count_cb, &c),
                        ==, 0);
    }
    g_assert_cmpint(g_atomic_int_get(&c.done), <, 16);
    bdrv_drain(bs);
    g_assert_cmpint(g_atomic_int_get(&c.done), ==, 16);
    g_assert_cmpint(c.errors, ==, 0);
    g_assert_cmpint(now_ns() - start, >=, 50 * 1000000);
    /* Concurrent, not one after another (16 x 50 ms). */
    g_assert_cmpint(now_ns() - start, <, 600 * 1000000LL);
    blockdev_del_all(graph);
}

/* --- options ----------------------------------------------------------------- */

static void expect_error(const char *spec, const char *message)
{
    g_autoptr(GError) err = NULL;

    g_assert_null(blockdev_add(graph, spec, &err));
    g_assert_nonnull(err);
    g_assert_cmpstr(err->message, ==, message);
}

static void test_options(void)
{
    g_autofree char *path = make_image("opt.img", IMG_SIZE);
    g_autofree char *comma = make_image("a,b.img", 4096);
    g_autofree char *escaped = NULL;
    g_autofree char *spec = NULL;
    BlockDriverState *bs;
    gchar **parts;

    expect_error("node-name=x", "Parameter 'driver' is missing");
    expect_error("driver=qcow9,node-name=x",
                 "Unknown driver 'qcow9' (known drivers: file, http, https, "
                 "blkdelay)");
    expect_error("driver=file,filename=/x", "Parameter 'node-name' is missing");
    expect_error("driver=file,node-name=9x,filename=/x",
                 "Invalid node-name '9x': it must start with a letter and "
                 "hold at most 31 letters, digits, '-', '.' or '_'");
    expect_error("driver=file,node-name=x,filename=/x,bogus=1",
                 "driver 'file': Unknown parameter 'bogus' (accepted: "
                 "driver, node-name, read-only, filename, cache.direct, aio, "
                 "locking)");
    expect_error("driver=file,node-name=x,filename=/x,cache=on",
                 "driver 'file': Unknown parameter 'cache' (accepted: "
                 "driver, node-name, read-only, filename, cache.direct, aio, "
                 "locking)");
    expect_error("driver=file,node-name=x,filename=/x,cache.direct=maybe",
                 "Parameter 'cache.direct' expects 'on' or 'off', not 'maybe'");
    expect_error("driver=file,node-name=x,filename=/x,read-only=2",
                 "Parameter 'read-only' expects 'on' or 'off', not '2'");
    expect_error("driver=file,node-name=x,filename=/x,aio=native",
                 "Parameter 'aio' expects 'io_uring' or 'threads', not "
                 "'native'");
    expect_error("driver=file,node-name=x", "Parameter 'filename' is missing "
                 "(driver 'file')");
    expect_error("driver=file,node-name=x,filename", "Parameter 'filename' "
                 "has no value (expected KEY=VALUE)");
    expect_error("driver=file,node-name=x,node-name=y,filename=/x",
                 "Parameter 'node-name' is given twice");
    expect_error("driver=file,node-name=x,filename=/x,cache.direct=on,"
                 "cache.direct=off", "Parameter 'cache.direct' is given twice");
    expect_error("driver=file,node-name=x,filename=/x,cache.direct=on,"
                 "cache=on", "Parameter 'cache' conflicts with 'cache.direct'");
    expect_error("driver.x=file", "Parameter 'driver' expects a value, not "
                 "'driver.*'");
    expect_error("{\"driver\": \"file\", \"node-name\": \"x\"}",
                 "Parameter 'filename' is missing (driver 'file')");
    expect_error("{\"driver\": \"file\", \"node-name\": \"x\", "
                 "\"filename\": \"/x\", \"cache\": {\"direct\": 1}}",
                 "Parameter 'cache.direct' expects 'on' or 'off', not '1'");
    expect_error("driver=blkdelay,node-name=x",
                 "Parameter 'file' is missing (driver 'blkdelay' needs the "
                 "node-name of its child)");
    expect_error("driver=blkdelay,node-name=x,file=nope",
                 "Parameter 'file': no block node named 'nope'");
    expect_error("driver=blkdelay,node-name=x,file=f0,filename=/x",
                 "driver 'blkdelay': Unknown parameter 'filename' "
                 "(accepted: driver, node-name, read-only, file, "
                 "attach-latency-ms, io-latency-us)");

    add("driver=file,node-name=f0,filename=%s,cache.direct=off,locking=on,"
        "aio=threads,read-only=off", path);
    expect_error("driver=file,node-name=f0,filename=/x",
                 "Duplicate node name 'f0'");
    expect_error("driver=blkdelay,node-name=x,file=f0,io-latency-us=-1",
                 "Parameter 'io-latency-us' expects a non-negative integer, "
                 "not '-1'");
    add("driver=blkdelay,node-name=d0,file=f0");
    expect_error("driver=blkdelay,node-name=d1,file=f0",
                 "Node 'f0' is already used by node 'd0'");
    g_assert_null(bdrv_find(graph, "x"));

    /* ",," is a literal comma. */
    parts = g_strsplit(comma, ",", -1);
    escaped = g_strjoinv(",,", parts);
    g_strfreev(parts);
    spec = g_strdup_printf("driver=file,node-name=c0,filename=%s", escaped);
    bs = blockdev_add(graph, spec, NULL);
    g_assert_nonnull(bs);
    g_assert_cmpstr(bdrv_filename(bs), ==, comma);
    activate(bs);
    g_assert_cmpint(bdrv_getlength(bs), ==, 4096);

    /* The JSON form, as libvirt sends it: the same node. */
    g_free(spec);
    spec = g_strdup_printf("{\"driver\": \"file\", \"node-name\": \"j0\", "
                           "\"filename\": \"%s\", \"read-only\": true, "
                           "\"cache\": {\"direct\": false}}", comma);
    bs = blockdev_add(graph, spec, NULL);
    g_assert_nonnull(bs);
    g_assert_cmpstr(bdrv_filename(bs), ==, comma);
    g_assert_true(bdrv_is_read_only(bs));
    blockdev_del_all(graph);
}

static void test_missing_file(void)
{
    g_autoptr(GError) err = NULL;
    BlockDriverState *bs = add("driver=file,node-name=f0,filename=%s/none",
                               tmpdir);
    g_autofree char *want = g_strdup_printf(
        "Could not open '%s/none': No such file or directory", tmpdir);

    g_assert_false(bdrv_attach(bs, &err));
    g_assert_cmpstr(err->message, ==, want);
    g_assert_cmpint(bdrv_state(bs), ==, BLOCK_NODE_CONFIGURED);
    blockdev_del_all(graph);
}

/* --- blkdelay ---------------------------------------------------------------- */

static void test_blkdelay(void)
{
    g_autofree char *path = make_image("delay.img", IMG_SIZE);
    g_autoptr(GError) err = NULL;
    BlockDriverState *f0, *d0;
    char buf[512];
    int64_t start;

    f0 = add("driver=file,node-name=f0,filename=%s", path);
    d0 = add("driver=blkdelay,node-name=d0,file=f0,attach-latency-ms=100,"
             "io-latency-us=20000");
    g_assert_true(bdrv_child(d0) == f0);
    g_assert_cmpstr(bdrv_filename(d0), ==, path);

    start = now_ns();
    g_assert_true(bdrv_attach(d0, &err));
    g_assert_cmpint(now_ns() - start, >=, 100 * 1000000);
    g_assert_cmpint(bdrv_last_attach_ns(d0), >=, 100 * 1000000);
    g_assert_cmpint(bdrv_state(f0), ==, BLOCK_NODE_ATTACHED);   /* child first */
    g_assert_cmpint(bdrv_getlength(d0), ==, IMG_SIZE);

    start = now_ns();
    g_assert_cmpint(bdrv_pread(d0, 0, buf, sizeof(buf)), ==, 0);
    g_assert_cmpint(now_ns() - start, >=, 20 * 1000000);
    g_assert_cmpint((guint8)buf[1], ==, 10);
    g_assert_cmpint(bdrv_pwrite(d0, 0, buf, sizeof(buf)), ==, -EPERM);

    activate(d0);
    g_assert_cmpint(bdrv_state(f0), ==, BLOCK_NODE_ACTIVE);
    memset(buf, 0x77, sizeof(buf));
    g_assert_cmpint(bdrv_pwrite(d0, 512, buf, sizeof(buf)), ==, 0);
    g_assert_cmpint(bdrv_flush(d0), ==, 0);
    memset(buf, 0, sizeof(buf));
    g_assert_cmpint(bdrv_pread(f0, 512, buf, sizeof(buf)), ==, 0);
    g_assert_cmpint((guint8)buf[511], ==, 0x77);

    g_assert_true(bdrv_inactivate(d0, &err));
    g_assert_cmpint(bdrv_state(f0), ==, BLOCK_NODE_ATTACHED);
    bdrv_detach(d0);
    g_assert_cmpint(bdrv_state(f0), ==, BLOCK_NODE_CONFIGURED);
    blockdev_del_all(graph);
}

/* --- image locks --------------------------------------------------------------- */

#define LOCKED_MSG "Failed to get \"write\" lock: image '%s' is locked by " \
                   "another process (is another ferry or QEMU using it?)"

static void expect_locked(BlockDriverState *bs, const char *path)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *want = g_strdup_printf(LOCKED_MSG, path);

    g_assert_false(bdrv_activate(bs, &err));
    g_assert_cmpstr(err->message, ==, want);
    /* A failed activate leaves the node attached and readable. */
    g_assert_cmpint(bdrv_state(bs), ==, BLOCK_NODE_ATTACHED);
}

static void test_lock_same_process(void)
{
    g_autofree char *path = make_image("lock1.img", IMG_SIZE);
    g_autoptr(GError) err = NULL;
    BlockDriverState *a, *b, *ro, *nolock;

    a = add("driver=file,node-name=a,filename=%s", path);
    b = add("driver=file,node-name=b,filename=%s", path);
    ro = add("driver=file,node-name=ro,filename=%s,read-only=on", path);
    nolock = add("driver=file,node-name=nl,filename=%s,locking=off", path);
    activate(a);
    g_assert_true(bdrv_attach(b, &err));        /* shared attach: fine */
    expect_locked(b, path);
    activate(ro);                               /* never takes the lock */
    activate(nolock);
    g_assert_true(bdrv_inactivate(a, &err));
    activate(b);
    expect_locked(a, path);
    bdrv_detach(b);                             /* close drops the locks */
    activate(a);
    blockdev_del_all(graph);
}

/*
 * The helper process: "--lock-helper MODE PATH".  MODE activate: try to
 * activate, print the error, exit 0/1.  MODE attach: attach only.  MODE
 * hold: activate, print "ready", hold until stdin closes.
 */
static int lock_helper(const char *mode, const char *path)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *spec = g_strdup_printf(
        "driver=file,node-name=h,filename=%s", path);
    BlockDriverState *bs = blockdev_add(graph, spec, &err);
    bool ok;
    char c;

    if (!strcmp(mode, "attach")) {
        ok = bs && bdrv_attach(bs, &err);
    } else {
        ok = bs && bdrv_activate(bs, &err);
    }
    printf("%s\n", ok ? "ready" : err->message);
    fflush(stdout);
    if (ok && !strcmp(mode, "hold")) {
        while (read(0, &c, 1) > 0) {
            /* until the parent closes the pipe */
        }
    }
    blockdev_del_all(graph);
    return ok ? 0 : 1;
}

typedef struct Helper {
    GPid pid;
    int in;
    FILE *out;
} Helper;

static void helper_start(Helper *h, const char *mode, const char *path)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    char *argv[] = { self, (char *)"--lock-helper", (char *)mode,
                     (char *)path, NULL };
    int out;

    g_assert_true(g_spawn_async_with_pipes(NULL, argv, NULL,
                                           G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                           NULL, &h->pid, &h->in, &out, NULL,
                                           &err));
    h->out = fdopen(out, "r");
}

/* Returns the helper's first line (without newline). */
static char *helper_line(Helper *h)
{
    char line[1024] = "";

    g_assert_nonnull(fgets(line, sizeof(line), h->out));
    g_strchomp(line);
    return g_strdup(line);
}

static int helper_finish(Helper *h)
{
    int status;

    close(h->in);
    fclose(h->out);
    g_assert_cmpint(waitpid(h->pid, &status, 0), ==, h->pid);
    g_spawn_close_pid(h->pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *helper_run(const char *mode, const char *path, int *status)
{
    Helper h;
    char *line;

    helper_start(&h, mode, path);
    line = helper_line(&h);
    *status = helper_finish(&h);
    return line;
}

static void test_lock_processes(void)
{
    g_autofree char *path = make_image("lock2.img", IMG_SIZE);
    g_autofree char *want = g_strdup_printf(LOCKED_MSG, path);
    g_autoptr(GError) err = NULL;
    BlockDriverState *bs = add("driver=file,node-name=f0,filename=%s", path);
    char *line;
    int status;
    Helper h;

    /* We are active: another process attaches but cannot activate. */
    activate(bs);
    line = helper_run("activate", path, &status);
    g_assert_cmpstr(line, ==, want);
    g_assert_cmpint(status, ==, 1);
    g_free(line);
    line = helper_run("attach", path, &status);
    g_assert_cmpstr(line, ==, "ready");
    g_assert_cmpint(status, ==, 0);
    g_free(line);

    /* After we inactivate, it can. */
    g_assert_true(bdrv_inactivate(bs, &err));
    helper_start(&h, "hold", path);
    line = helper_line(&h);
    g_assert_cmpstr(line, ==, "ready");
    g_free(line);
    expect_locked(bs, path);
    /* It exits (closing its fd): ours to take again. */
    g_assert_cmpint(helper_finish(&h), ==, 0);
    activate(bs);
    blockdev_del_all(graph);
}

/* --- query-block --------------------------------------------------------------- */

static void test_query_block(void)
{
    g_autofree char *path = make_image("query.img", IMG_SIZE);
    g_autoptr(GError) err = NULL;
    g_autoptr(BlockInfoList) list = NULL;
    BlockDriverState *d0;
    BlockDeviceInfo *in;

    add("driver=file,node-name=f0,filename=%s,cache.direct=off", path);
    d0 = add("driver=blkdelay,node-name=d0,file=f0,attach-latency-ms=20");
    add("driver=file,node-name=f1,filename=%s,read-only=on", path);
    g_assert_true(bdrv_claim(d0, "disk0", &err));
    g_assert_false(bdrv_claim(d0, "disk1", &err));
    g_assert_cmpstr(err->message, ==,
                    "Node 'd0' is already in use by device 'disk0'");
    g_clear_error(&err);
    g_assert_false(bdrv_claim(bdrv_find(graph, "f0"), "disk1", &err));
    g_clear_error(&err);
    activate(d0);

    list = qmp_query_block(&err);
    g_assert_no_error(err);
    g_assert_nonnull(list);
    g_assert_nonnull(list->next);
    g_assert_null(list->next->next);           /* f0 is d0's child */
    g_assert_cmpstr(list->value->device, ==, "");
    g_assert_cmpstr(list->value->qdev, ==, "disk0");
    g_assert_cmpstr(list->value->type, ==, "unknown");
    in = list->value->inserted;
    g_assert_cmpstr(in->node_name, ==, "d0");
    g_assert_cmpstr(in->drv, ==, "blkdelay");
    g_assert_cmpstr(in->file, ==, path);
    g_assert_cmpstr(in->image->filename, ==, path);
    g_assert_cmpint(in->image->virtual_size, ==, IMG_SIZE);
    g_assert_false(in->ro);
    g_assert_false(in->cache->direct);
    g_assert_cmpint(in->x_state, ==, BLOCK_LIFECYCLE_STATE_ACTIVE);
    g_assert_cmpfloat(in->x_attach_time_ms, >=, 20.0);
    g_assert_cmpfloat(in->x_activate_time_ms, >, 0.0);

    g_assert_null(list->next->value->qdev);
    in = list->next->value->inserted;
    g_assert_cmpstr(in->node_name, ==, "f1");
    g_assert_true(in->ro);
    g_assert_cmpint(in->x_state, ==, BLOCK_LIFECYCLE_STATE_CONFIGURED);
    g_assert_cmpint(in->image->virtual_size, ==, 0);
    blockdev_del_all(graph);
}

static void rm_tmpdir(void)
{
    g_autoptr(GDir) dir = g_dir_open(tmpdir, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *p = g_build_filename(tmpdir, name, NULL);
        unlink(p);
    }
    rmdir(tmpdir);
}

int main(int argc, char **argv)
{
    static const char *const engines[] = { "threads", "io_uring" };
    int ret;

    graph = machine_block_graph();     /* query-block lists the machine's */
    if (argc == 4 && !strcmp(argv[1], "--lock-helper")) {
        return lock_helper(argv[2], argv[3]);
    }
    g_test_init(&argc, &argv, NULL);
    tmpdir = g_dir_make_tmp("ferry-test-block-XXXXXX", NULL);
    g_assert_nonnull(tmpdir);

    for (gsize i = 0; i < G_N_ELEMENTS(engines); i++) {
        const char *e = engines[i];
        g_autofree char *rw = g_strdup_printf("/block/%s/rw", e);
        g_autofree char *conc = g_strdup_printf("/block/%s/concurrent", e);
        g_autofree char *eof = g_strdup_printf("/block/%s/eof", e);
        g_autofree char *direct = g_strdup_printf("/block/%s/direct", e);

        g_test_add_data_func(rw, e, test_engine_rw);
        g_test_add_data_func(conc, e, test_engine_concurrent);
        g_test_add_data_func(eof, e, test_engine_eof);
        g_test_add_data_func(direct, e, test_direct);
    }
    g_test_add_func("/block/states", test_states);
    g_test_add_func("/block/drain", test_drain);
    g_test_add_func("/block/options", test_options);
    g_test_add_func("/block/missing-file", test_missing_file);
    g_test_add_func("/block/blkdelay", test_blkdelay);
    g_test_add_func("/block/lock/same-process", test_lock_same_process);
    g_test_add_func("/block/lock/processes", test_lock_processes);
    g_test_add_func("/block/query-block", test_query_block);
    ret = g_test_run();
    rm_tmpdir();
    g_free(tmpdir);
    return ret;
}
