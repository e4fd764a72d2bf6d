/*
 * The http and https drivers: a read-only image addressed by URL, read
 * with HTTP/1.1 range requests through libcurl.
 *
 *   -blockdev driver=http,node-name=h0,url=http://host/disk.img,
 *             timeout=30,readahead=1M,cache-size=16M
 *
 * Each attached node runs one worker thread around a curl multi handle
 * with up to HTTP_MAX_TRANSFERS easy handles, kept across requests so
 * their connections stay open.  submit only queues the request and wakes
 * the worker; the worker plans it against the readahead cache
 * (http-cache.c), starts range requests and completes the request when
 * the data is in.  Every transfer has a connect and a total timeout, so a
 * dead or silent server fails reads with -EIO instead of hanging a vCPU.
 * Locking: see http-int.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "http-int.h"
#include "util/error.h"

#define HTTP_DEFAULT_TIMEOUT    30                  /* seconds */
#define HTTP_MAX_TIMEOUT        (24 * 3600)
#define HTTP_DEFAULT_READAHEAD  (1ULL << 20)
#define HTTP_MAX_READAHEAD      (64ULL << 20)
#define HTTP_DEFAULT_CACHE      (16ULL << 20)
#define HTTP_BUFFER_SIZE        (256L << 10)        /* curl's receive buffer */
#define HTTP_MAX_REDIRS         5L

static const char *const http_options[] = {
    "url", "timeout", "readahead", "cache-size", NULL
};

void http_log(HttpState *s, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    /* The embedder routes the block layer's domain (ferry: its -D log). */
    g_log("ferry-block", G_LOG_LEVEL_MESSAGE, "http: %s: %s", s->url, msg);
}

/* --- configure ------------------------------------------------------------ */

static bool http_configure_scheme(BlockDriverState *bs, const Keyval *opts,
                                  bool https, GError **errp)
{
    HttpState *s = bdrv_opaque(bs);
    const char *scheme = https ? "https://" : "http://";
    const char *url;
    uint64_t timeout, readahead, cache_size;

    if (!keyval_get_str(opts, "url", &url, errp)) {
        return false;
    }
    if (!url) {
        error_setg(errp, "node '%s': driver %s needs url=%s...",
                   bdrv_node_name(bs), https ? "https" : "http", scheme);
        return false;
    }
    if (g_ascii_strncasecmp(url, scheme, strlen(scheme)) != 0 ||
        !url[strlen(scheme)]) {
        error_setg(errp, "node '%s': url '%s' must start with %s "
                   "(driver %s)", bdrv_node_name(bs), url, scheme,
                   https ? "https" : "http");
        return false;
    }
    if (!keyval_get_u64(opts, "timeout", HTTP_DEFAULT_TIMEOUT, &timeout,
                        errp) ||
        !keyval_get_size(opts, "readahead", HTTP_DEFAULT_READAHEAD,
                         &readahead, errp) ||
        !keyval_get_size(opts, "cache-size", HTTP_DEFAULT_CACHE, &cache_size,
                         errp)) {
        return false;
    }
    /* curl reads a timeout of 0 as "none": a hang is what we must avoid. */
    if (timeout == 0 || timeout > HTTP_MAX_TIMEOUT) {
        error_setg(errp, "node '%s': timeout must be 1 to %d seconds",
                   bdrv_node_name(bs), HTTP_MAX_TIMEOUT);
        return false;
    }
    if (readahead > HTTP_MAX_READAHEAD) {
        error_setg(errp, "node '%s': readahead must be at most %llu MiB",
                   bdrv_node_name(bs), HTTP_MAX_READAHEAD >> 20);
        return false;
    }
    s->url = g_strdup(url);
    s->https = https;
    s->timeout_ms = timeout * 1000;
    s->readahead = readahead;
    s->cache_size = cache_size;
    return true;
}

static bool http_configure(BlockDriverState *bs, const Keyval *opts,
                           GError **errp)
{
    return http_configure_scheme(bs, opts, false, errp);
}

static bool https_configure(BlockDriverState *bs, const Keyval *opts,
                            GError **errp)
{
    return http_configure_scheme(bs, opts, true, errp);
}

static void http_cleanup(BlockDriverState *bs)
{
    HttpState *s = bdrv_opaque(bs);

    g_clear_pointer(&s->url, g_free);
}

static const char *http_filename(BlockDriverState *bs)
{
    HttpState *s = bdrv_opaque(bs);

    return s->url;
}

/* --- curl callbacks ------------------------------------------------------- */

static size_t http_header_cb(char *buf, size_t size, size_t n, void *opaque)
{
    HttpFetch *f = opaque;

    http_response_header(&f->rsp, buf, size * n);
    return size * n;
}

static void http_fetch_store(HttpFetch *f, const char *data, size_t len)
{
    while (len) {
        struct iovec *v = &f->iov[f->cur_iov];
        size_t k = MIN(len, v->iov_len - f->cur_off);

        memcpy((char *)v->iov_base + f->cur_off, data, k);
        data += k;
        len -= k;
        f->cur_off += k;
        if (f->cur_off == v->iov_len) {
            f->cur_iov++;
            f->cur_off = 0;
        }
    }
}

static size_t http_write_cb(char *data, size_t size, size_t n, void *opaque)
{
    HttpFetch *f = opaque;
    size_t len = size * n;
    long status = 0;

    /* Returning short aborts the transfer. */
    curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
    if (!http_response_body(&f->rsp, status, len)) {
        return 0;
    }
    http_fetch_store(f, data, len);
    return len;
}

/* --- transfers ------------------------------------------------------------ */

static CURL *http_easy_new(HttpState *s)
{
    const char *proto = s->https ? "https" : "http";
    CURL *e = curl_easy_init();

    if (!e) {
        return NULL;
    }
    curl_easy_setopt(e, CURLOPT_URL, s->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, proto);
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, proto);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, HTTP_MAX_REDIRS);
    /* Signals would hit whatever thread; timeouts must not need them. */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)s->timeout_ms);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, HTTP_BUFFER_SIZE);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "ferry/" FERRY_VERSION);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, http_header_cb);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_write_cb);
    return e;
}

/* A handle to reuse (its connection with it), a new one, or NULL. */
static CURL *http_handle_get(HttpState *s)
{
    CURL *e;

    if (s->nidle) {
        return s->idle[--s->nidle];
    }
    if (s->nhandles == HTTP_MAX_TRANSFERS) {
        return NULL;
    }
    e = http_easy_new(s);
    if (e) {
        s->nhandles++;
    }
    return e;
}

/* Back to the pool; the pointers into the fetch go, it is freed next. */
static void http_handle_idle(HttpState *s, CURL *e)
{
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(e, CURLOPT_PRIVATE, NULL);
    s->idle[s->nidle++] = e;
}

static void http_handle_put(HttpState *s, CURL *e)
{
    curl_multi_remove_handle(s->multi, e);
    http_handle_idle(s, e);
}

static void http_fetch_launch(HttpState *s, HttpFetch *f, CURL *e)
{
    char range[64];
    CURLMcode mc;

    snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64,
             f->start, f->start + f->len - 1);
    f->easy = e;
    f->errbuf[0] = '\0';
    curl_easy_setopt(e, CURLOPT_RANGE, range);
    curl_easy_setopt(e, CURLOPT_PRIVATE, f);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, f);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->errbuf);
    mc = curl_multi_add_handle(s->multi, e);
    if (mc != CURLM_OK) {
        http_handle_idle(s, e);
        http_fetch_done(f, -EIO, curl_multi_strerror(mc));
        return;
    }
    g_queue_push_tail(&s->inflight, f);
    atomic_fetch_add(&s->st_requests, 1);
}

void http_fetch_start(HttpState *s, HttpFetch *f)
{
    CURL *e;

    f->s = s;
    http_response_init(&f->rsp, f->start, f->len);
    if (!g_queue_is_empty(&s->backlog) || !(e = http_handle_get(s))) {
        g_queue_push_tail(&s->backlog, f);
        return;
    }
    http_fetch_launch(s, f, e);
}

static void http_backlog_run(HttpState *s)
{
    CURL *e;

    while (!g_queue_is_empty(&s->backlog) && (e = http_handle_get(s))) {
        http_fetch_launch(s, g_queue_pop_head(&s->backlog), e);
    }
}

/* Why @f failed, or NULL when it brought exactly the bytes asked for. */
static char *http_fetch_check(HttpFetch *f, CURLcode rc, long status)
{
    const char *err = f->errbuf[0] ? f->errbuf : curl_easy_strerror(rc);
    HttpTransferResult result = HTTP_TRANSFER_FAILED;

    if (rc == CURLE_OK) {
        result = HTTP_TRANSFER_OK;
    } else if (rc == CURLE_COULDNT_CONNECT ||
               rc == CURLE_COULDNT_RESOLVE_HOST) {
        result = HTTP_TRANSFER_CONNECT_FAILED;
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        result = HTTP_TRANSFER_TIMED_OUT;
    }
    return http_response_check(&f->rsp, status, result, err);
}

static void http_transfer_finished(HttpState *s, CURL *e, CURLcode rc)
{
    HttpFetch *f = NULL;
    char *priv = NULL;
    long status = 0, connects = 0;
    g_autofree char *why = NULL;

    curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
    f = (HttpFetch *)priv;
    why = http_fetch_check(f, rc, status);
    if (f->wait) {
        f->wait->status = status;
        f->wait->rsp = f->rsp;
    }
    atomic_fetch_add(&s->st_bytes, f->rsp.got);
    atomic_fetch_add(&s->st_connects, connects);
    g_queue_remove(&s->inflight, f);
    http_handle_put(s, e);
    http_fetch_done(f, why ? -EIO : 0, why);
}

/* One round of the multi handle: progress, completions, then sleep until
 * a socket is ready, curl's next timeout, a wakeup or @timeout_ms. */
static void http_poll(HttpState *s, int timeout_ms)
{
    CURLMsg *m;
    int still, left;

    curl_multi_perform(s->multi, &still);
    while ((m = curl_multi_info_read(s->multi, &left))) {
        if (m->msg == CURLMSG_DONE) {
            /* Read both before the handle is reused: m is curl's memory. */
            CURL *e = m->easy_handle;
            CURLcode rc = m->data.result;

            http_transfer_finished(s, e, rc);
        }
    }
    http_backlog_run(s);
    curl_multi_poll(s->multi, NULL, 0, timeout_ms, NULL);
}

/* --- the worker thread ---------------------------------------------------- */

static gpointer http_worker(gpointer opaque)
{
    HttpState *s = opaque;

    for (;;) {
        GQueue todo;
        BlockRequest *req;
        bool stop;

        g_mutex_lock(&s->lock);
        stop = s->stop;
        todo = s->submitted;
        g_queue_init(&s->submitted);
        g_mutex_unlock(&s->lock);

        while ((req = g_queue_pop_head(&todo))) {
            if (stop) {
                http_read_fail(req, -EIO);
            } else {
                http_read_start(s, req);
            }
        }
        if (stop) {
            return NULL;
        }
        http_poll(s, 1000);
    }
}

/* Ends every transfer and request still around with -EIO (detach). */
static void http_abort_all(HttpState *s)
{
    HttpFetch *f;
    BlockRequest *req;

    /* Failing a fetch must not start a queued one. */
    while ((f = g_queue_pop_head(&s->backlog))) {
        http_fetch_done(f, -EIO, "node detached");
    }
    while ((f = g_queue_pop_head(&s->inflight))) {
        http_handle_put(s, f->easy);
        http_fetch_done(f, -EIO, "node detached");
    }
    while ((req = g_queue_pop_head(&s->submitted))) {
        http_read_fail(req, -EIO);
    }
}

static void http_teardown(HttpState *s)
{
    http_abort_all(s);
    for (int i = 0; i < s->nidle; i++) {
        curl_easy_cleanup(s->idle[i]);
    }
    s->nidle = s->nhandles = 0;
    g_clear_pointer(&s->multi, curl_multi_cleanup);
    http_cache_free(s);
    g_mutex_clear(&s->lock);
}

/* --- attach / detach ------------------------------------------------------ */

static bool http_global_init(GError **errp)
{
    static gsize once;
    static CURLcode rc;

    if (g_once_init_enter(&once)) {
        rc = curl_global_init(CURL_GLOBAL_DEFAULT);
        g_once_init_leave(&once, 1);
    }
    if (rc != CURLE_OK) {
        error_setg(errp, "libcurl: %s", curl_easy_strerror(rc));
        return false;
    }
    return true;
}

/* Runs the multi handle on the calling thread until @w's fetch ended;
 * bounded by the transfer's timeouts. */
static void http_wait(HttpState *s, HttpWait *w)
{
    while (!w->done) {
        http_poll(s, 100);
    }
}

/* One byte with a Range header: learns both the length (Content-Range's
 * total) and that the server does ranges, in a single round trip. */
static bool http_probe(HttpState *s, GError **errp)
{
    uint8_t byte;
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    HttpWait w = { 0 };
    HttpFetch *f = g_new0(HttpFetch, 1);
    g_autofree char *why = NULL;

    f->len = 1;
    f->iov = &iov;
    f->iovcnt = 1;
    f->wait = &w;
    http_fetch_start(s, f);
    http_wait(s, &w);
    why = w.why;
    if (http_response_length(&w.rsp, w.status, w.ret == 0, &s->length)) {
        return true;
    }
    error_setg(errp, "%s: %s", s->url,
               w.ret ? why : "no length in the Content-Range header");
    return false;
}

static bool http_warm(HttpState *s, GError **errp)
{
    HttpWait w = { 0 };
    g_autofree char *why = NULL;

    /* Pointless when the chunk would be evicted on arrival. */
    if (!s->readahead || !s->length ||
        s->cache_size < MIN(s->readahead, (uint64_t)s->length)) {
        return true;
    }
    http_cache_warm(s, &w);
    http_wait(s, &w);
    why = w.why;
    if (w.ret) {
        error_setg(errp, "%s: reading the first %" PRIu64 " bytes: %s",
                   s->url, MIN(s->readahead, (uint64_t)s->length), why);
        return false;
    }
    return true;
}

static bool http_attach(BlockDriverState *bs, int64_t *length, GError **errp)
{
    HttpState *s = bdrv_opaque(bs);
    g_autofree char *name = NULL;

    if (!http_global_init(errp)) {
        return false;
    }
    g_mutex_init(&s->lock);
    g_queue_init(&s->submitted);
    g_queue_init(&s->backlog);
    g_queue_init(&s->inflight);
    http_cache_init(s);
    s->stop = false;
    s->multi = curl_multi_init();
    if (!s->multi) {
        error_setg(errp, "%s: curl_multi_init failed", s->url);
        http_teardown(s);
        return false;
    }
    /* Attach drives the multi handle itself, so the connection it opens
     * is already in the handle's cache when the worker takes over. */
    if (!http_probe(s, errp) || !http_warm(s, errp)) {
        http_teardown(s);
        return false;
    }
    name = g_strdup_printf("http-%s", bdrv_node_name(bs));
    s->thread = g_thread_new(name, http_worker, s);
    *length = s->length;
    return true;
}

static void http_detach(BlockDriverState *bs)
{
    HttpState *s = bdrv_opaque(bs);

    g_mutex_lock(&s->lock);
    s->stop = true;
    g_mutex_unlock(&s->lock);
    curl_multi_wakeup(s->multi);
    g_thread_join(g_steal_pointer(&s->thread));
    http_teardown(s);
}

static int http_submit(BlockDriverState *bs, BlockRequest *req)
{
    HttpState *s = bdrv_opaque(bs);

    if (req->type != BLOCK_REQ_READ) {
        return -EROFS;
    }
    g_mutex_lock(&s->lock);
    g_queue_push_tail(&s->submitted, req);
    g_mutex_unlock(&s->lock);
    curl_multi_wakeup(s->multi);
    return 0;
}

bool bdrv_http_stats(BlockDriverState *bs, BlockHttpStats *st)
{
    const char *drv = bdrv_driver_name(bs);
    HttpState *s;

    if (strcmp(drv, "http") != 0 && strcmp(drv, "https") != 0) {
        return false;
    }
    s = bdrv_opaque(bs);
    st->requests = atomic_load(&s->st_requests);
    st->reads = atomic_load(&s->st_reads);
    st->cache_hits = atomic_load(&s->st_hits);
    st->bytes_fetched = atomic_load(&s->st_bytes);
    st->connects = atomic_load(&s->st_connects);
    return true;
}

const BlockDriver bdrv_http = {
    .name = "http",
    .instance_size = sizeof(HttpState),
    .options = http_options,
    .always_read_only = true,
    .configure = http_configure,
    .attach = http_attach,
    .detach = http_detach,
    .cleanup = http_cleanup,
    .submit = http_submit,
    .filename = http_filename,
};

const BlockDriver bdrv_https = {
    .name = "https",
    .instance_size = sizeof(HttpState),
    .options = http_options,
    .always_read_only = true,
    .configure = https_configure,
    .attach = http_attach,
    .detach = http_detach,
    .cleanup = http_cleanup,
    .submit = http_submit,
    .filename = http_filename,
};
