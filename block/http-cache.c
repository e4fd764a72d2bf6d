/*
 * The readahead cache of the http drivers, and how a read is served.
 *
 * The image is cut into chunks of @readahead bytes at multiples of
 * @readahead.  A read takes the chunks it covers from the cache; the
 * missing ones become LOADING chunks fetched by one range request per
 * run of consecutive missing chunks, and a read that needs a chunk some
 * other read is already loading waits on it instead of fetching it again.
 * Data is copied into the request as each chunk arrives, so a chunk can
 * be evicted (LRU, down to @cache_size bytes of READY chunks) as soon as
 * its waiters have their bytes.  With readahead=0 a read is one range
 * request of exactly its bytes, straight into its buffers.
 *
 * Everything here runs on the node's worker thread (or on attach's thread
 * before the worker starts): no locks.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include "http-int.h"

void http_cache_init(HttpState *s)
{
    s->chunks = g_hash_table_new(g_int64_hash, g_int64_equal);
    g_queue_init(&s->lru);
    s->cache_bytes = 0;
}

static void http_chunk_free(HttpChunk *c)
{
    g_free(c->data);
    g_free(c);
}

void http_cache_free(HttpState *s)
{
    GHashTableIter it;
    gpointer value;

    if (!s->chunks) {
        return;
    }
    /* By now every fetch ended, so no chunk has waiters. */
    g_hash_table_iter_init(&it, s->chunks);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        http_chunk_free(value);
    }
    g_clear_pointer(&s->chunks, g_hash_table_destroy);
    g_queue_init(&s->lru);
    s->cache_bytes = 0;
}

static HttpChunk *http_chunk_new(HttpState *s, uint64_t index)
{
    HttpChunk *c = g_new0(HttpChunk, 1);

    c->index = index;
    c->len = MIN(s->readahead, (uint64_t)s->length - index * s->readahead);
    c->data = g_malloc(c->len);
    c->state = HTTP_CHUNK_LOADING;
    c->lru.data = c;
    g_hash_table_insert(s->chunks, &c->index, c);
    return c;
}

static void http_cache_evict(HttpState *s)
{
    while (s->cache_bytes > s->cache_size && !g_queue_is_empty(&s->lru)) {
        /* The link is part of the chunk: pop_head would free it. */
        HttpChunk *c = g_queue_pop_head_link(&s->lru)->data;

        s->cache_bytes -= c->len;
        g_hash_table_remove(s->chunks, &c->index);
        http_chunk_free(c);
    }
}

/* --- reads ---------------------------------------------------------------- */

static void http_iov_put(const struct iovec *iov, int iovcnt, uint64_t off,
                         const uint8_t *src, uint64_t n)
{
    for (int i = 0; i < iovcnt && n; i++) {
        size_t k;

        if (off >= iov[i].iov_len) {
            off -= iov[i].iov_len;
            continue;
        }
        k = MIN(iov[i].iov_len - off, n);
        memcpy((uint8_t *)iov[i].iov_base + off, src, k);
        src += k;
        n -= k;
        off = 0;
    }
}

/* Copies the part of @c that @r asked for into @r's buffers. */
static void http_read_copy(HttpState *s, HttpRead *r, const HttpChunk *c)
{
    const BlockRequest *req = r->req;
    uint64_t cstart = c->index * s->readahead;
    uint64_t from = MAX(cstart, req->offset);
    uint64_t to = MIN(cstart + c->len, req->offset + req->bytes);

    http_iov_put(req->iov, req->iovcnt, from - req->offset,
                 c->data + (from - cstart), to - from);
}

/* Drops one reference of @r; the last one completes the request. */
static void http_read_put(HttpRead *r, int ret)
{
    if (ret < 0 && r->ret == 0) {
        r->ret = ret;
    }
    if (--r->pending == 0) {
        r->req->complete(r->req, r->ret);
        g_free(r);
    }
}

void http_read_fail(BlockRequest *req, int ret)
{
    req->complete(req, ret);
}

static void http_read_direct(HttpState *s, HttpRead *r)
{
    HttpFetch *f = g_new0(HttpFetch, 1);

    f->start = r->req->offset;
    f->len = r->req->bytes;
    f->iov = r->req->iov;
    f->iovcnt = r->req->iovcnt;
    f->direct = r;
    r->pending++;
    http_fetch_start(s, f);
}

/* One range request for @run, consecutive LOADING chunks; takes @run. */
static void http_fetch_run(HttpState *s, GPtrArray *run, HttpWait *w)
{
    HttpFetch *f = g_new0(HttpFetch, 1);

    f->nchunks = run->len;
    f->chunks = (HttpChunk **)g_ptr_array_free(run, FALSE);
    f->iov = g_new(struct iovec, f->nchunks);
    f->iovcnt = f->nchunks;
    f->start = f->chunks[0]->index * s->readahead;
    for (int i = 0; i < f->nchunks; i++) {
        f->iov[i].iov_base = f->chunks[i]->data;
        f->iov[i].iov_len = f->chunks[i]->len;
        f->len += f->chunks[i]->len;
    }
    f->wait = w;
    http_fetch_start(s, f);
}

static void http_read_chunks(HttpState *s, HttpRead *r)
{
    const BlockRequest *req = r->req;
    uint64_t first = req->offset / s->readahead;
    uint64_t last = (req->offset + req->bytes - 1) / s->readahead;
    GPtrArray *run = NULL;

    for (uint64_t i = first; i <= last; i++) {
        HttpChunk *c = g_hash_table_lookup(s->chunks, &i);

        if (c && run) {
            http_fetch_run(s, g_steal_pointer(&run), NULL);
        }
        if (!c) {
            c = http_chunk_new(s, i);
            run = run ? run : g_ptr_array_new();
            g_ptr_array_add(run, c);
        }
        if (c->state == HTTP_CHUNK_READY) {
            http_read_copy(s, r, c);
            g_queue_unlink(&s->lru, &c->lru);
            g_queue_push_tail_link(&s->lru, &c->lru);
        } else {
            c->waiters = g_slist_prepend(c->waiters, r);
            r->pending++;
        }
    }
    if (run) {
        http_fetch_run(s, run, NULL);
    }
}

void http_read_start(HttpState *s, BlockRequest *req)
{
    HttpRead *r = g_new0(HttpRead, 1);

    /* Planning holds a reference, so that nothing completes half-way. */
    r->req = req;
    r->pending = 1;
    atomic_fetch_add(&s->st_reads, 1);
    if (req->bytes == 0) {
        /* nothing to fetch */
    } else if (s->readahead == 0) {
        http_read_direct(s, r);
    } else {
        http_read_chunks(s, r);
        if (r->pending == 1) {
            atomic_fetch_add(&s->st_hits, 1);
        }
    }
    http_read_put(r, 0);
}

void http_cache_warm(HttpState *s, HttpWait *w)
{
    GPtrArray *run = g_ptr_array_new();

    g_ptr_array_add(run, http_chunk_new(s, 0));
    http_fetch_run(s, run, w);
}

/* --- fetch completion ----------------------------------------------------- */

static void http_chunks_done(HttpState *s, HttpFetch *f, int ret)
{
    for (int i = 0; i < f->nchunks; i++) {
        HttpChunk *c = f->chunks[i];
        GSList *waiters = g_steal_pointer(&c->waiters);

        if (ret == 0) {
            c->state = HTTP_CHUNK_READY;
            g_queue_push_tail_link(&s->lru, &c->lru);
            s->cache_bytes += c->len;
        } else {
            /* Forgotten, so that the next read tries the server again. */
            g_hash_table_remove(s->chunks, &c->index);
        }
        for (GSList *l = waiters; l; l = l->next) {
            if (ret == 0) {
                http_read_copy(s, l->data, c);
            }
            http_read_put(l->data, ret);
        }
        g_slist_free(waiters);
        if (ret < 0) {
            http_chunk_free(c);
        }
    }
    g_free(f->chunks);
    g_free(f->iov);
    http_cache_evict(s);
}

void http_fetch_done(HttpFetch *f, int ret, const char *why)
{
    HttpState *s = f->s;

    if (f->wait) {
        f->wait->done = true;
        f->wait->ret = ret;
        f->wait->why = g_strdup(why);
    } else if (ret < 0) {
        http_log(s, "read of bytes %" PRIu64 "-%" PRIu64 " failed: %s",
                 f->start, f->start + f->len - 1, why);
    }
    if (f->chunks) {
        http_chunks_done(s, f, ret);
    } else if (f->direct) {
        http_read_put(f->direct, ret);
    }
    g_free(f);
}
