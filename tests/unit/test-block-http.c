/*
 * The http block driver against a real nginx on loopback (started here the
 * way tests/pylib/webserver.py does it), serving an image whose every
 * 32-bit word says where it is: reads of any size and offset, with the
 * readahead cache on and off, concurrent reads sharing a chunk fetch,
 * cache hits, and the failures that must end in a clear error or -EIO
 * and never in a hang (404, no range support, connection refused, a
 * server that never answers, the server going away).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "ferry/block.h"
#include "ferry/block-http.h"

/* The block nodes under test (one graph, as one VM has). */
static BlockGraph *graph;

#define MiB (1024ULL * 1024)
/* Not a multiple of any readahead used: the last chunk is short. */
#define IMG_SIZE (8 * MiB + 4660)

typedef struct Nginx {
    char *dir;                  /* conf, logs, temp files */
    GPid pid;
    int port;
} Nginx;

static char *nginx_bin;
static char *img_dir;
static uint8_t *img;            /* what the server serves */
static Nginx web;

/* --- the image ------------------------------------------------------------ */

static void image_create(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *path = NULL;
    uint32_t *w;

    img = g_malloc(IMG_SIZE);
    w = (uint32_t *)img;
    /* Word i of sector s: unique, so a misplaced byte cannot match. */
    for (uint64_t i = 0; i < IMG_SIZE / 4; i++) {
        w[i] = ((i / 128) << 8 | (i % 128)) ^ 0xa5000000u;
    }
    memset(img + IMG_SIZE / 4 * 4, 0x3c, IMG_SIZE % 4);
    img_dir = g_dir_make_tmp("ferry-http-img-XXXXXX", &err);
    g_assert_no_error(err);
    path = g_build_filename(img_dir, "disk.img", NULL);
    g_file_set_contents(path, (char *)img, IMG_SIZE, &err);
    g_assert_no_error(err);
}

/* --- nginx ---------------------------------------------------------------- */

static int free_port(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&a, sizeof(a)), ==, 0);
    g_assert_cmpint(getsockname(fd, (struct sockaddr *)&a, &len), ==, 0);
    close(fd);
    return ntohs(a.sin_port);
}

static bool port_answers(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bool ok;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

static void nginx_write_conf(const Nginx *n, const char *conf)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *text = g_strdup_printf(
        "%sdaemon off;\nmaster_process on;\nworker_processes 1;\n"
        "pid %s/nginx.pid;\nerror_log %s/error.log info;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        "    access_log %s/access.log;\n"
        "    client_body_temp_path %s/client_body;\n"
        "    proxy_temp_path %s/proxy;\n    fastcgi_temp_path %s/fastcgi;\n"
        "    uwsgi_temp_path %s/uwsgi;\n    scgi_temp_path %s/scgi;\n"
        "    default_type application/octet-stream;\n"
        "    sendfile on;\n    keepalive_requests 100000;\n"
        "    server {\n        listen 127.0.0.1:%d;\n        root %s;\n"
        "        location /norange/ { alias %s/; max_ranges 0; }\n"
        "    }\n}\n",
        geteuid() == 0 ? "user root;\n" : "", n->dir, n->dir, n->dir,
        n->dir, n->dir, n->dir, n->dir, n->dir, n->port, img_dir, img_dir);

    g_file_set_contents(conf, text, -1, &err);
    g_assert_no_error(err);
}

/* Own process group (so a test can freeze master and worker at once);
 * dies with the test, so a crashed test leaves no nginx behind. */
static void nginx_child_setup(gpointer unused)
{
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
}

/* Spawns nginx on n->port; true once it answers, false if it exited. */
static bool nginx_try_start(Nginx *n)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *conf = g_build_filename(n->dir, "nginx.conf", NULL);
    g_autofree char *elog = g_build_filename(n->dir, "error.log", NULL);
    char *argv[] = { nginx_bin, "-p", n->dir, "-c", conf, "-e", elog, NULL };
    int64_t deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    int status;

    nginx_write_conf(n, conf);
    g_spawn_async(NULL, argv, NULL,
                  G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
                  G_SPAWN_STDERR_TO_DEV_NULL, nginx_child_setup, NULL,
                  &n->pid, &err);
    g_assert_no_error(err);
    while (g_get_monotonic_time() < deadline) {
        if (waitpid(n->pid, &status, WNOHANG) == n->pid) {
            n->pid = 0;
            return false;
        }
        if (port_answers(n->port)) {
            return true;
        }
        g_usleep(20 * 1000);
    }
    g_error("nginx did not answer on port %d within 10 s", n->port);
}

static void nginx_start(Nginx *n)
{
    g_autoptr(GError) err = NULL;

    n->dir = g_dir_make_tmp("ferry-nginx-XXXXXX", &err);
    g_assert_no_error(err);
    /* The free port may be taken before nginx binds it: try another. */
    for (int i = 0; i < 5; i++) {
        n->port = free_port();
        if (nginx_try_start(n)) {
            return;
        }
    }
    g_error("nginx did not start; see %s/error.log", n->dir);
}

static void nginx_stop(Nginx *n)
{
    int64_t deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    g_autofree char *cmd = NULL;
    int status;

    if (n->pid > 0) {
        kill(-n->pid, SIGCONT);
        kill(n->pid, SIGQUIT);      /* graceful: closes idle connections */
        while (waitpid(n->pid, &status, WNOHANG) == 0) {
            if (g_get_monotonic_time() > deadline) {
                kill(n->pid, SIGKILL);
                waitpid(n->pid, &status, 0);
                break;
            }
            g_usleep(10 * 1000);
        }
        n->pid = 0;
    }
    if (n->dir) {
        cmd = g_strdup_printf("rm -rf '%s'", n->dir);
        g_assert_cmpint(system(cmd), ==, 0);
        g_clear_pointer(&n->dir, g_free);
    }
}

/* --- helpers -------------------------------------------------------------- */

static char *url_of(const Nginx *n, const char *path)
{
    return g_strdup_printf("http://127.0.0.1:%d/%s", n->port, path);
}

static BlockDriverState *add_node(const char *url, const char *opts,
                                  GError **errp)
{
    g_autofree char *spec = g_strdup_printf(
        "driver=http,node-name=h0,url=%s%s%s", url, *opts ? "," : "", opts);

    return blockdev_add(graph, spec, errp);
}

/* An attached node on @url, @opts added. */
static BlockDriverState *open_url(const char *url, const char *opts)
{
    g_autoptr(GError) err = NULL;
    BlockDriverState *bs = add_node(url, opts, &err);

    g_assert_no_error(err);
    g_assert_true(bdrv_attach(bs, &err));
    g_assert_no_error(err);
    return bs;
}

/* The same on the shared server's image. */
static BlockDriverState *open_image(const char *opts)
{
    g_autofree char *url = url_of(&web, "disk.img");

    return open_url(url, opts);
}

static BlockHttpStats stats_of(BlockDriverState *bs)
{
    BlockHttpStats st;

    g_assert_true(bdrv_http_stats(bs, &st));
    return st;
}

static void check_read(BlockDriverState *bs, uint64_t off, uint64_t len)
{
    g_autofree uint8_t *buf = g_malloc(len + 1);
    int ret = bdrv_pread(bs, off, buf, len);

    if (ret != 0) {
        g_error("read %" PRIu64 "+%" PRIu64 ": %s", off, len,
                g_strerror(-ret));
    }
    for (uint64_t i = 0; i < len; i++) {
        if (buf[i] != img[off + i]) {
            g_error("read %" PRIu64 "+%" PRIu64 ": byte %" PRIu64
                    " is %#x, want %#x", off, len, off + i, buf[i],
                    img[off + i]);
        }
    }
}

/* An attach that must fail: returns the message, checks it names @url. */
static char *attach_error(const char *url, const char *opts, int64_t *ns)
{
    g_autoptr(GError) err = NULL;
    BlockDriverState *bs = add_node(url, opts, &err);
    int64_t start = g_get_monotonic_time();

    g_assert_no_error(err);
    g_assert_false(bdrv_attach(bs, &err));
    if (ns) {
        *ns = (g_get_monotonic_time() - start) * 1000;
    }
    g_assert_nonnull(err);
    g_test_message("attach error: %s", err->message);
    g_assert_nonnull(strstr(err->message, url));
    g_assert_cmpint(bdrv_state(bs), ==, BLOCK_NODE_CONFIGURED);
    blockdev_del_all(graph);
    return g_strdup(err->message);
}

/* --- tests ---------------------------------------------------------------- */

static void test_length(gconstpointer data)
{
    g_autofree char *url = url_of(&web, "disk.img");
    BlockDriverState *bs = open_image("");

    g_assert_cmpint(bdrv_getlength(bs), ==, IMG_SIZE);
    g_assert_true(bdrv_is_read_only(bs));
    g_assert_cmpstr(bdrv_filename(bs), ==, url);
    /* attach warmed the cache: the first read of the start is a hit */
    check_read(bs, 0, 4096);
    g_assert_cmpuint(stats_of(bs).cache_hits, ==, 1);
    g_assert_cmpuint(stats_of(bs).connects, ==, 1);
    /* detached and attached again: a fresh start that works */
    bdrv_detach(bs);
    g_assert_cmpint(bdrv_getlength(bs), ==, -ENOMEDIUM);
    g_assert_true(bdrv_attach(bs, NULL));
    g_assert_cmpint(bdrv_getlength(bs), ==, IMG_SIZE);
    check_read(bs, 5 * MiB, 100000);
    blockdev_del_all(graph);
}

/* Random reads under the options in @data, the tail of the image too. */
static void test_random_reads(gconstpointer data)
{
    static const uint64_t sizes[] = {
        1, 7, 512, 4096, 65535, 65536, 100001, 1 * MiB, 3 * MiB + 5,
    };
    g_autoptr(GRand) rand = g_rand_new_with_seed(42);
    BlockDriverState *bs;

    bs = open_image(data);
    for (int i = 0; i < 200; i++) {
        uint64_t len = sizes[g_rand_int_range(rand, 0, G_N_ELEMENTS(sizes))];
        uint64_t off = g_rand_int_range(rand, 0, IMG_SIZE - len + 1);

        check_read(bs, off, len);
    }
    check_read(bs, IMG_SIZE - 1, 1);
    check_read(bs, IMG_SIZE - 70000, 70000);
    check_read(bs, 0, IMG_SIZE);
    blockdev_del_all(graph);
}

typedef struct Batch {
    GMutex lock;
    GCond cond;
    int pending;
    int want;                   /* the result every read must have */
    int failed;
} Batch;

typedef struct BatchRead {
    Batch *b;
    uint64_t off;
    uint64_t len;
    uint8_t *buf;
} BatchRead;

static void batch_done(void *opaque, int ret)
{
    BatchRead *r = opaque;
    Batch *b = r->b;
    bool bad = ret != b->want ||
               (ret == 0 && r->len &&
                memcmp(r->buf, img + r->off, r->len) != 0);

    g_mutex_lock(&b->lock);
    b->failed += bad;
    if (--b->pending == 0) {
        g_cond_signal(&b->cond);
    }
    g_mutex_unlock(&b->lock);
}

/* @n reads submitted at once from this thread, awaited together; each
 * must end with @want (and the right bytes, for 0). */
static void batch_reads_ret(BlockDriverState *bs, int n, uint64_t base,
                            uint64_t spread, uint64_t len, int want)
{
    g_autofree BatchRead *reads = g_new0(BatchRead, n);
    int64_t deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    Batch b = { .pending = n, .want = want };

    for (int i = 0; i < n; i++) {
        struct iovec iov;

        reads[i] = (BatchRead) {
            .b = &b, .off = base + (i * 4099ULL) % spread, .len = len,
            .buf = g_malloc(len),
        };
        iov = (struct iovec) { .iov_base = reads[i].buf, .iov_len = len };
        g_assert_cmpint(bdrv_aio_preadv(bs, reads[i].off, &iov, 1,
                                        batch_done, &reads[i]), ==, 0);
    }
    g_mutex_lock(&b.lock);
    while (b.pending) {
        if (!g_cond_wait_until(&b.cond, &b.lock, deadline)) {
            g_error("%d of %d reads still pending after 30 s", b.pending, n);
        }
    }
    g_mutex_unlock(&b.lock);
    g_assert_cmpint(b.failed, ==, 0);
    for (int i = 0; i < n; i++) {
        g_free(reads[i].buf);
    }
}

static void batch_reads(BlockDriverState *bs, int n, uint64_t base,
                        uint64_t spread, uint64_t len)
{
    batch_reads_ret(bs, n, base, spread, len, 0);
}

static void test_concurrent(gconstpointer data)
{
    BlockDriverState *bs;

    bs = open_image(data);
    batch_reads(bs, 256, 0, IMG_SIZE - 70000, 65536);
    batch_reads(bs, 64, 1 * MiB, 7 * MiB - 4096, 4096);
    /* keep-alive: attach's connection and the pool's, no more */
    g_assert_cmpuint(stats_of(bs).connects, >=, 1);
    g_assert_cmpuint(stats_of(bs).connects, <=, BDRV_HTTP_MAX_TRANSFERS);
    blockdev_del_all(graph);
}

/* Reads missing the same chunk at the same time share one fetch. */
static void test_shared_fetch(gconstpointer data)
{
    BlockDriverState *bs;
    BlockHttpStats before;

    bs = open_image("");
    before = stats_of(bs);
    batch_reads(bs, 64, 5 * MiB, 1 * MiB - 8192, 8192);
    g_assert_cmpuint(stats_of(bs).requests, ==, before.requests + 1);
    blockdev_del_all(graph);
}

static void test_cache_hits(gconstpointer data)
{
    BlockDriverState *bs;
    BlockHttpStats a, b, c;

    bs = open_image("readahead=65536");
    a = stats_of(bs);
    /* 3 missing chunks, one range request */
    check_read(bs, 3 * 65536 + 100, 2 * 65536);
    b = stats_of(bs);
    g_assert_cmpuint(b.requests, ==, a.requests + 1);
    g_assert_cmpuint(b.bytes_fetched, ==, a.bytes_fetched + 3 * 65536);
    check_read(bs, 3 * 65536 + 100, 2 * 65536);
    check_read(bs, 3 * 65536, 3 * 65536);
    c = stats_of(bs);
    g_assert_cmpuint(c.requests, ==, b.requests);
    g_assert_cmpuint(c.cache_hits, ==, b.cache_hits + 2);
    blockdev_del_all(graph);
}

/* A cache smaller than a read: evicts, refetches, stays correct. */
static void test_eviction(gconstpointer data)
{
    BlockDriverState *bs;
    BlockHttpStats a, b;

    bs = open_image("readahead=65536,cache-size=131072");
    check_read(bs, 0, 4 * 65536);
    a = stats_of(bs);
    check_read(bs, 0, 65536);              /* evicted: fetched again */
    check_read(bs, 3 * 65536, 65536);      /* most recent: still there */
    b = stats_of(bs);
    g_assert_cmpuint(b.requests, ==, a.requests + 1);
    g_assert_cmpuint(b.cache_hits, ==, a.cache_hits + 1);
    blockdev_del_all(graph);
}

static void test_readahead_off(gconstpointer data)
{
    BlockDriverState *bs;
    BlockHttpStats a, b;

    bs = open_image("readahead=0");
    a = stats_of(bs);
    check_read(bs, 12345, 777);
    check_read(bs, 12345, 777);
    b = stats_of(bs);
    g_assert_cmpuint(b.requests, ==, a.requests + 2);
    g_assert_cmpuint(b.bytes_fetched, ==, a.bytes_fetched + 2 * 777);
    g_assert_cmpuint(b.cache_hits, ==, 0);
    blockdev_del_all(graph);
}

static void test_scatter(gconstpointer data)
{
    uint8_t a[3], b[1000], c[70000];
    struct iovec iov[] = {
        { a, sizeof(a) }, { b, 0 }, { b, sizeof(b) }, { c, sizeof(c) },
    };
    const uint64_t off = 65536 - 500;

    for (int ra = 0; ra < 2; ra++) {
        BlockDriverState *bs = open_image(ra ? "readahead=4096"
                                             : "readahead=0");
        BatchRead r = { 0 };
        Batch batch = { .pending = 1 };

        r.b = &batch;
        g_mutex_lock(&batch.lock);
        g_assert_cmpint(bdrv_aio_preadv(bs, off, iov, G_N_ELEMENTS(iov),
                                        batch_done, &r), ==, 0);
        /* batch_done compares nothing: r.len is 0 */
        while (batch.pending) {
            g_cond_wait(&batch.cond, &batch.lock);
        }
        g_mutex_unlock(&batch.lock);
        g_assert_cmpint(batch.failed, ==, 0);
        g_assert_cmpmem(a, sizeof(a), img + off, sizeof(a));
        g_assert_cmpmem(b, sizeof(b), img + off + 3, sizeof(b));
        g_assert_cmpmem(c, sizeof(c), img + off + 1003, sizeof(c));
        blockdev_del_all(graph);
    }
}

static void test_beyond_end(gconstpointer data)
{
    BlockDriverState *bs;
    uint8_t buf[64];

    bs = open_image("");
    g_assert_cmpint(bdrv_pread(bs, IMG_SIZE - 10, buf, 20), ==, -EINVAL);
    g_assert_cmpint(bdrv_pread(bs, IMG_SIZE + 512, buf, 1), ==, -EINVAL);
    g_assert_cmpint(bdrv_pwrite(bs, 0, buf, 1), ==, -EROFS);
    /* active: a flush reaches the driver, which is read-only */
    g_assert_true(bdrv_activate(bs, NULL));
    g_assert_cmpint(bdrv_flush(bs), ==, -EROFS);
    blockdev_del_all(graph);
}

static void test_not_found(gconstpointer data)
{
    g_autofree char *url = url_of(&web, "missing.img");
    g_autofree char *msg = attach_error(url, "", NULL);

    g_assert_nonnull(strstr(msg, "HTTP 404"));
}

static void test_no_ranges(gconstpointer data)
{
    g_autofree char *url = url_of(&web, "norange/disk.img");
    g_autofree char *msg = attach_error(url, "", NULL);

    g_assert_nonnull(strstr(msg, "does not support range requests"));
}

static void test_refused(gconstpointer data)
{
    g_autofree char *url = g_strdup_printf("http://127.0.0.1:%d/disk.img",
                                           free_port());
    g_autofree char *msg = attach_error(url, "timeout=5", NULL);

    g_assert_nonnull(strstr(msg, "could not connect"));
}

/* The kernel completes the handshake into the backlog, nobody accepts:
 * the request is sent and never answered. */
static void test_silent_server(gconstpointer data)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    g_autofree char *url = NULL;
    g_autofree char *msg = NULL;
    int64_t ns;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&a, sizeof(a)), ==, 0);
    g_assert_cmpint(listen(fd, 8), ==, 0);
    g_assert_cmpint(getsockname(fd, (struct sockaddr *)&a, &len), ==, 0);
    url = g_strdup_printf("http://127.0.0.1:%d/disk.img", ntohs(a.sin_port));
    msg = attach_error(url, "timeout=1", &ns);
    close(fd);
    g_test_message("attach to a silent server failed after %.2f s",
                   ns / 1e9);
    g_assert_nonnull(strstr(msg, "timed out"));
    g_assert_cmpint(ns, >=, 900 * 1000 * 1000);
    g_assert_cmpint(ns, <, 3 * G_USEC_PER_SEC * 1000LL);
}

/* The server goes away under an attached node: reads fail, none hang. */
static void test_server_gone(gconstpointer data)
{
    g_autofree char *url = NULL;
    g_autofree uint8_t *buf = g_malloc(65536);
    Nginx own = { 0 };
    BlockDriverState *bs;
    int64_t start;

    nginx_start(&own);
    url = url_of(&own, "disk.img");
    bs = open_url(url, data);
    check_read(bs, 2 * MiB, 4096);
    nginx_stop(&own);
    start = g_get_monotonic_time();
    g_assert_cmpint(bdrv_pread(bs, 6 * MiB, buf, 65536), ==, -EIO);
    g_assert_cmpint(bdrv_pread(bs, 6 * MiB, buf, 65536), ==, -EIO);
    batch_reads_ret(bs, 32, 3 * MiB, 2 * MiB, 4096, -EIO);
    g_assert_cmpint(g_get_monotonic_time() - start, <, 3 * G_USEC_PER_SEC);
    blockdev_del_all(graph);
}

/* A server that stops answering mid-run (SIGSTOP: its connections stay
 * open, nothing comes back): reads end with -EIO after the timeout, and
 * work again once it is back. */
static void test_server_frozen(gconstpointer data)
{
    g_autofree char *url = NULL;
    g_autofree uint8_t *buf = g_malloc(4096);
    Nginx own = { 0 };
    BlockDriverState *bs;
    int64_t start, took;

    nginx_start(&own);
    url = url_of(&own, "disk.img");
    bs = open_url(url, data);
    check_read(bs, 2 * MiB, 4096);
    kill(-own.pid, SIGSTOP);
    start = g_get_monotonic_time();
    g_assert_cmpint(bdrv_pread(bs, 6 * MiB, buf, 4096), ==, -EIO);
    took = g_get_monotonic_time() - start;
    g_test_message("read from a frozen server failed after %.2f s",
                   took / 1e6);
    g_assert_cmpint(took, >=, G_USEC_PER_SEC * 9 / 10);
    g_assert_cmpint(took, <, 3 * G_USEC_PER_SEC);
    kill(-own.pid, SIGCONT);
    check_read(bs, 6 * MiB, 4096);
    blockdev_del_all(graph);
    nginx_stop(&own);
}

typedef struct ThreadArgs {
    BlockDriverState *bs;
    guint32 seed;
} ThreadArgs;

static gpointer reader_thread(gpointer opaque)
{
    ThreadArgs *a = opaque;
    g_autoptr(GRand) rand = g_rand_new_with_seed(a->seed);

    for (int i = 0; i < 100; i++) {
        uint64_t len = g_rand_int_range(rand, 1, 200000);
        uint64_t off = g_rand_int_range(rand, 0, IMG_SIZE - len + 1);

        check_read(a->bs, off, len);
    }
    return NULL;
}

/* Synchronous reads from many threads at once, as vCPUs issue them. */
static void test_threads(gconstpointer data)
{
    ThreadArgs args[8];
    GThread *threads[8];
    BlockDriverState *bs;

    bs = open_image(data);
    for (int i = 0; i < 8; i++) {
        args[i] = (ThreadArgs) { .bs = bs, .seed = i };
        threads[i] = g_thread_new("reader", reader_thread, &args[i]);
    }
    for (int i = 0; i < 8; i++) {
        g_thread_join(threads[i]);
    }
    blockdev_del_all(graph);
}

static void test_bad_options(gconstpointer data)
{
    static const char *const specs[] = {
        "driver=http,node-name=b0",
        "driver=http,node-name=b0,url=https://127.0.0.1/x",
        "driver=http,node-name=b0,url=ftp://127.0.0.1/x",
        "driver=http,node-name=b0,url=http://",
        "driver=https,node-name=b0,url=http://127.0.0.1/x",
        "driver=http,node-name=b0,url=http://127.0.0.1/x,timeout=0",
        "driver=http,node-name=b0,url=http://127.0.0.1/x,readahead=1073741824",
        "driver=http,node-name=b0,url=http://127.0.0.1/x,readahead=1G",
        "driver=http,node-name=b0,url=http://127.0.0.1/x,cache-size=big",
        "driver=http,node-name=b0,url=http://127.0.0.1/x,read-only=off",
    };
    g_autoptr(GError) err = NULL;

    for (gsize i = 0; i < G_N_ELEMENTS(specs); i++) {
        g_assert_null(blockdev_add(graph, specs[i], &err));
        g_assert_nonnull(err);
        g_test_message("%s: %s", specs[i], err->message);
        g_clear_error(&err);
    }
    g_assert_nonnull(blockdev_add(graph, "driver=https,node-name=b1,"
                                  "url=https://127.0.0.1/x", &err));
    g_assert_no_error(err);
    /* sizes take QEMU's suffixes */
    g_assert_nonnull(blockdev_add(graph, "driver=http,node-name=b2,"
                                  "url=http://127.0.0.1/x,readahead=256K,"
                                  "cache-size=4M", &err));
    g_assert_no_error(err);
    blockdev_del_all(graph);
}

/* Each test, whether it needs the nginx, and the node options it uses. */
typedef struct TestCase {
    const char *path;
    GTestDataFunc fn;
    bool web;
    const char *opts;
} TestCase;

static const TestCase tests[] = {
    { "options", test_bad_options, false, "" },
    { "length", test_length, true, "" },
    { "random/default", test_random_reads, true, "" },
    { "random/small-chunks", test_random_reads, true,
      "readahead=65536,cache-size=262144" },
    { "random/odd-chunks", test_random_reads, true,
      "readahead=100000,cache-size=0" },
    { "random/readahead-off", test_random_reads, true, "readahead=0" },
    { "scatter", test_scatter, true, "" },
    { "concurrent/readahead", test_concurrent, true, "" },
    { "concurrent/readahead-off", test_concurrent, true, "readahead=0" },
    { "threads/readahead", test_threads, true,
      "readahead=65536,cache-size=1048576" },
    { "threads/readahead-off", test_threads, true, "readahead=0" },
    { "shared-fetch", test_shared_fetch, true, "" },
    { "cache-hits", test_cache_hits, true, "" },
    { "eviction", test_eviction, true, "" },
    { "readahead-off", test_readahead_off, true, "" },
    { "beyond-end", test_beyond_end, true, "" },
    { "404", test_not_found, true, "" },
    { "no-ranges", test_no_ranges, true, "" },
    { "refused", test_refused, false, "" },
    { "silent-server", test_silent_server, false, "" },
    { "server-gone/readahead", test_server_gone, true, "timeout=5" },
    { "server-gone/readahead-off", test_server_gone, true,
      "timeout=5,readahead=0" },
    { "server-frozen/readahead", test_server_frozen, true, "timeout=1" },
    { "server-frozen/readahead-off", test_server_frozen, true,
      "timeout=1,readahead=0" },
};

static void run_case(gconstpointer opaque)
{
    const TestCase *t = opaque;

    if (t->web && !nginx_bin) {
        g_test_skip("nginx is not installed: run scripts/install-deps "
                    "(Debian package nginx-light)");
        return;
    }
    /* Started by the first test that needs it: `-l` starts nothing. */
    if (t->web && !web.pid) {
        image_create();
        nginx_start(&web);
    }
    t->fn(t->opts);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    graph = bdrv_graph_new();
    signal(SIGPIPE, SIG_IGN);
    nginx_bin = g_find_program_in_path("nginx");
    if (!nginx_bin &&
        g_file_test("/usr/sbin/nginx", G_FILE_TEST_IS_EXECUTABLE)) {
        nginx_bin = g_strdup("/usr/sbin/nginx");
    }
    if (!nginx_bin) {
        g_printerr("test-block-http: nginx NOT FOUND: the tests that need a "
                   "web server are skipped; run scripts/install-deps\n");
    }

    for (gsize i = 0; i < G_N_ELEMENTS(tests); i++) {
        g_autofree char *path = g_strconcat("/block/http/", tests[i].path,
                                            NULL);
        g_test_add_data_func(path, &tests[i], run_case);
    }
    ret = g_test_run();

    nginx_stop(&web);
    g_free(nginx_bin);
    if (img_dir) {
        g_autofree char *path = g_build_filename(img_dir, "disk.img", NULL);
        unlink(path);
        rmdir(img_dir);
    }
    g_free(img);
    return ret;
}
