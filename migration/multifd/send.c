/*
 * multifd's source side: the migration thread fills a batch of up to
 * MULTIFD_PAGES_PER_PACKET pages of one block and hands it to an idle
 * channel; the channel's thread tells zero pages from normal ones, writes
 * the packet header and the normal pages straight from guest RAM with
 * one writev, and goes idle again.  A page that changes while it is
 * being sent is dirty and goes again in a later round.
 *
 * Without TLS, compression or zero-copy-send the pages go by vmsplice +
 * splice (migration/transport/channel-splice.c): the kernel takes page
 * references instead of copying, with the same rule for changed pages.
 *
 * zero-copy-send: the pages go with MSG_ZEROCOPY (the header is copied:
 * its buffer is reused at once), so the kernel may still read a page
 * after the job ended.  A SYNC job first waits for every completion of
 * its channel: a round's pages have all left before the round ends, so
 * no copy of an older round is still in flight behind a newer one.
 *
 * Locking: `lock` guards every channel's job (busy, the batch) and the
 * shared flags; a job belongs to its thread while busy, to the migration
 * thread otherwise.  `idle` is signalled when a job ends or a channel
 * fails, each channel's `work` when it gets a job or must quit.
 */
#include <errno.h>
#include <string.h>
#include "migration/context.h"
#include "migration/state.h"
#include "migration/outgoing/outgoing-int.h"
#include "migration/multifd/codec.h"
#include "migration/multifd/multifd.h"
#include "migration/multifd/wire.h"
#include "migration/ram/ram.h"
#include "migration/log.h"
#include "util/error.h"

#define WAIT_SLICE_US 100000    /* how often a wait looks at the main stream */

typedef struct SendChannel {
    MultiFDSend *s;
    unsigned id;
    MigChannel *chan;
    GThread *thread;
    GCond work;
    bool busy;                  /* lock */
    bool quit;                  /* lock */
    /* the job */
    FerryMigRAMBlock blk;
    uint32_t flags;
    unsigned num;
    uint64_t packet_num;
    uint64_t offset[MULTIFD_PAGES_PER_PACKET];
    /* the thread's own */
    MultiFDCodec *codec;        /* NULL: pages go as they are */
    bool zero_copy;
    MigZeroCopy zc;
    bool splicing;              /* pages go by vmsplice + splice */
    MigSplice splice;
    bool round_copied;          /* the last SYNC's flush: the kernel copied */
    uint8_t *pages[MULTIFD_PAGES_PER_PACKET];
    MultiFDPacket pkt;
    uint8_t hdr[MULTIFD_HDR_SIZE];
    struct iovec iov[1 + MULTIFD_PAGES_PER_PACKET];
} SendChannel;

struct MultiFDSend {
    GMutex lock;
    GCond idle;
    SendChannel *ch;            /* lock (cancel walks it) */
    unsigned n;
    bool active;
    bool shut;                  /* lock: cancel or failure */
    GError *error;              /* lock: the first channel failure */
    MigChannel *main;
    unsigned next;              /* round robin */
    uint64_t packet_num;
    uint64_t bytes;             /* atomic */
    uint64_t rate_counted;      /* of bytes: handed to the rate limit */
    uint64_t *normal_pages, *zero_pages;    /* atomic */
    uint32_t compress_flag;
    bool zero_copy;
    /* the batch being filled: the migration thread's */
    FerryMigRAMBlock batch_blk;
    unsigned batch_num;
    uint64_t batch_off[MULTIFD_PAGES_PER_PACKET];
};

MultiFDSend *multifd_send_new(void)
{
    MultiFDSend *s = g_new0(MultiFDSend, 1);

    g_mutex_init(&s->lock);
    g_cond_init(&s->idle);
    return s;
}

void multifd_send_free(MultiFDSend *s)
{
    g_assert(!s->ch);
    g_clear_error(&s->error);
    g_cond_clear(&s->idle);
    g_mutex_clear(&s->lock);
    g_free(s);
}

bool multifd_uri_ok(const char *uri, GError **errp)
{
    if (g_str_has_prefix(uri, "tcp:") || g_str_has_prefix(uri, "unix:")) {
        return true;
    }
    error_setg(errp, "capability multifd needs a tcp: or unix: URI (it opens "
               "one connection per channel), not '%s'", uri);
    return false;
}

bool multifd_send_active(FerryMig *m)
{
    return m->multifd_send->active;
}

uint64_t multifd_send_bytes(FerryMig *m)
{
    return __atomic_load_n(&m->multifd_send->bytes, __ATOMIC_RELAXED);
}

uint64_t multifd_send_take_bytes(FerryMig *m)
{
    MultiFDSend *s = m->multifd_send;
    uint64_t now = __atomic_load_n(&s->bytes, __ATOMIC_RELAXED);
    uint64_t fresh = now - s->rate_counted;

    s->rate_counted = now;
    return fresh;
}

/* Keeps the first failure and wakes everyone (lock held). */
static void fail_locked(MultiFDSend *s, GError *err)
{
    if (!s->error && !s->shut) {
        s->error = err;
        err = NULL;
    }
    g_clear_error(&err);
    s->shut = true;
    for (unsigned i = 0; i < s->n; i++) {
        mig_channel_shutdown(s->ch[i].chan);
    }
    g_cond_broadcast(&s->idle);
}

/*
 * The header copied, the pages from guest RAM with MSG_ZEROCOPY; the
 * completions that came meanwhile are taken so the error queue stays short.
 */
static ssize_t write_zero_copy(SendChannel *c, unsigned iovcnt)
{
    ssize_t hdr = mig_channel_write_all(c->chan, c->iov[0].iov_base,
                                        c->iov[0].iov_len);
    ssize_t pages = 0;
    int ret;

    if (hdr < 0) {
        return hdr;
    }
    if (iovcnt > 1) {
        pages = mig_channel_writev_zerocopy(c->chan, c->iov + 1,
                                            (int)iovcnt - 1, &c->zc);
        if (pages < 0) {
            return pages;
        }
    }
    ret = mig_zerocopy_reap(c->chan, &c->zc);
    return ret < 0 ? ret : hdr + pages;
}

/* A packet as it is: the header copied, the pages by reference when the
 * channel splices (never with a codec or zero copy), else both with one
 * writev. */
static ssize_t write_packet(SendChannel *c, unsigned iovcnt)
{
    if (c->zero_copy) {
        return write_zero_copy(c, iovcnt);
    }
    if (!c->splicing || iovcnt < 2) {
        return mig_channel_writev_all(c->chan, c->iov, iovcnt);
    }
    ssize_t hdr = mig_channel_write_all(c->chan, c->iov[0].iov_base,
                                        c->iov[0].iov_len);
    if (hdr < 0) {
        return hdr;
    }
    ssize_t pages = mig_channel_splice_pages(c->chan, &c->splice, c->iov + 1,
                                             (int)iovcnt - 1);
    return pages < 0 ? pages : hdr + pages;
}

static int send_job(SendChannel *c)
{
    MultiFDPacket *p = &c->pkt;
    unsigned normal = 0, zero = 0;
    uint64_t zero_off[MULTIFD_PAGES_PER_PACKET];

    if (c->zero_copy && (c->flags & MULTIFD_FLAG_SYNC)) {
        int ret = mig_zerocopy_flush(c->chan, &c->zc);
        if (ret < 0) {
            return ret;
        }
        c->round_copied = c->zc.copied;
        c->zc.copied = false;
    }

    for (unsigned i = 0; i < c->num; i++) {
        uint8_t *host = c->blk.host + c->offset[i];
        if (ram_page_is_zero(host)) {
            zero_off[zero++] = c->offset[i];
        } else {
            p->offset[normal] = c->offset[i];
            c->pages[normal] = host;
            c->iov[1 + normal].iov_base = host;
            c->iov[1 + normal].iov_len = MULTIFD_PAGE_SIZE;
            normal++;
        }
    }
    memcpy(p->offset + normal, zero_off, zero * sizeof(uint64_t));
    p->flags = c->flags;
    p->normal_pages = normal;
    p->zero_pages = zero;
    p->next_packet_size = normal * MULTIFD_PAGE_SIZE;
    unsigned iovcnt = 1 + normal;
    if (c->codec && normal) {
        ssize_t len = multifd_codec_compress(c->codec, c->pages, normal);
        if (len < 0) {
            return (int)len;
        }
        c->iov[1].iov_base = multifd_codec_buffer(c->codec);
        c->iov[1].iov_len = (size_t)len;
        p->next_packet_size = (uint32_t)len;
        iovcnt = 2;
    }
    if (c->codec) {
        p->flags |= c->s->compress_flag;
    }
    p->packet_num = c->packet_num;
    g_strlcpy(p->block, c->num ? c->blk.name : "", sizeof(p->block));
    multifd_packet_encode(p, c->hdr);
    c->iov[0].iov_base = c->hdr;
    c->iov[0].iov_len = MULTIFD_HDR_SIZE;
    ssize_t ret = write_packet(c, iovcnt);
    if (ret < 0) {
        return (int)ret;
    }
    __atomic_add_fetch(&c->s->bytes, (uint64_t)ret, __ATOMIC_RELAXED);
    __atomic_add_fetch(c->s->normal_pages, normal, __ATOMIC_RELAXED);
    __atomic_add_fetch(c->s->zero_pages, zero, __ATOMIC_RELAXED);
    return 0;
}

static gpointer send_thread(gpointer opaque)
{
    SendChannel *c = opaque;
    MultiFDSend *s = c->s;
    MultiFDInit init = { .id = (uint8_t)c->id };
    uint8_t buf[MULTIFD_INIT_SIZE];
    int ret;

    c->splice = (MigSplice){ .pipe = { -1, -1 } };
    c->splicing = !c->codec && !c->zero_copy &&
                  mig_channel_can_splice(c->chan) &&
                  mig_splice_init(&c->splice, MULTIFD_PAGES_PER_PACKET *
                                  MULTIFD_PAGE_SIZE, NULL);
    multifd_init_encode(&init, buf);
    ret = (int)mig_channel_write_all(c->chan, buf, sizeof(buf));
    if (ret >= 0) {
        __atomic_add_fetch(&s->bytes, sizeof(buf), __ATOMIC_RELAXED);
    }
    g_mutex_lock(&s->lock);
    while (ret >= 0) {
        while (!c->busy && !c->quit) {
            g_cond_wait(&c->work, &s->lock);
        }
        if (c->quit) {
            break;
        }
        g_mutex_unlock(&s->lock);
        ret = send_job(c);
        g_mutex_lock(&s->lock);
        c->busy = false;
        g_cond_broadcast(&s->idle);
    }
    if (ret < 0) {
        /* ENOBUFS even with nothing in flight: the pinned pages of one
         * packet exceed what the process may lock */
        bool memlock = c->zero_copy && ret == -ENOBUFS;
        fail_locked(s, g_error_new(FERRY_ERROR, FERRY_ERROR_GENERIC,
                                   "multifd channel %u (%s): sending failed: "
                                   "%s%s", c->id, mig_channel_name(c->chan),
                                   g_strerror(-ret), memlock ?
                                   " (zero-copy-send: RLIMIT_MEMLOCK is too "
                                   "low for the pages in flight)" : ""));
    }
    g_mutex_unlock(&s->lock);
    mig_splice_destroy(&c->splice);
    return NULL;
}

bool multifd_send_setup(FerryMig *m, MigChannel *main, uint64_t *normal_pages,
                        uint64_t *zero_pages, GError **errp)
{
    MultiFDSend *s = m->multifd_send;
    MigrationParameters p;

    if (!migrate_capability(m, MIGRATION_CAPABILITY_MULTIFD)) {
        return true;
    }
    mig_params_get(m, &p);
    g_clear_error(&s->error);
    s->shut = false;
    s->next = 0;
    s->packet_num = 0;
    s->batch_num = 0;
    s->main = mig_channel_ref(main);
    s->normal_pages = normal_pages;
    s->zero_pages = zero_pages;
    __atomic_store_n(&s->bytes, 0, __ATOMIC_RELAXED);
    s->rate_counted = 0;
    g_mutex_lock(&s->lock);
    s->ch = g_new0(SendChannel, p.multifd_channels);
    g_mutex_unlock(&s->lock);
    s->active = true;
    s->compress_flag = multifd_codec_flag(p.multifd_compression);
    s->zero_copy = migrate_capability(m, MIGRATION_CAPABILITY_ZERO_COPY_SEND);
    int level = p.multifd_compression == MULTI_FD_COMPRESSION_ZLIB ?
                p.multifd_zlib_level : p.multifd_zstd_level;
    for (unsigned i = 0; i < p.multifd_channels; i++) {
        GError *codec_err = NULL;
        MultiFDCodec *codec = multifd_codec_new(s->compress_flag, level, true,
                                                &codec_err);
        if (codec_err) {
            g_propagate_error(errp, codec_err);
            return false;
        }
        MigChannel *chan = mig_out_connect(m, errp);
        if (!chan) {
            multifd_codec_free(codec);
            g_prefix_error(errp, "multifd channel %u: ", i);
            return false;
        }
        if (s->zero_copy && !mig_channel_enable_zerocopy(chan, errp)) {
            multifd_codec_free(codec);
            mig_channel_unref(chan);
            g_prefix_error(errp, "multifd channel %u: ", i);
            return false;
        }
        SendChannel *c = &s->ch[i];
        c->codec = codec;
        c->zero_copy = s->zero_copy;
        c->s = s;
        c->id = i;
        c->chan = chan;
        g_cond_init(&c->work);
        g_mutex_lock(&s->lock);
        s->n = i + 1;
        bool shut = s->shut;
        g_mutex_unlock(&s->lock);
        if (shut) {         /* cancelled while we connected */
            mig_channel_shutdown(chan);
            error_setg(errp, "cancelled");
            return false;
        }
        c->thread = g_thread_new("mig/multifd-send", send_thread, c);
    }
    mig_log("migration: %u multifd channels to %s", s->n, m->out->uri);
    return true;
}

/*
 * Waits for a change (lock held).  False when a channel failed, the
 * migration was cancelled, or the destination closed the main stream
 * (then no channel will ever drain: a peer that never read one).
 */
static bool wait_change(MultiFDSend *s)
{
    if (s->shut) {
        return false;
    }
    if (!g_cond_wait_until(&s->idle, &s->lock,
                           g_get_monotonic_time() + WAIT_SLICE_US) &&
        mig_channel_peer_gone(s->main)) {
        fail_locked(s, g_error_new(FERRY_ERROR, FERRY_ERROR_GENERIC,
                                   "multifd: the destination closed the "
                                   "migration stream while channels still "
                                   "had pages to send"));
    }
    return !s->shut;
}

/* An idle channel, round robin (lock held); NULL after a failure. */
static SendChannel *idle_channel(MultiFDSend *s)
{
    do {
        for (unsigned i = 0; i < s->n; i++) {
            SendChannel *c = &s->ch[(s->next + i) % s->n];
            if (!c->busy) {
                s->next = (c->id + 1) % s->n;
                return c;
            }
        }
    } while (wait_change(s));
    return NULL;
}

static void give_job(MultiFDSend *s, SendChannel *c, uint32_t flags)
{
    c->blk = s->batch_blk;
    c->num = s->batch_num;
    memcpy(c->offset, s->batch_off, s->batch_num * sizeof(uint64_t));
    c->flags = flags;
    c->packet_num = s->packet_num++;
    c->busy = true;
    s->batch_num = 0;
    g_cond_signal(&c->work);
}

int multifd_send_flush(FerryMig *m)
{
    MultiFDSend *s = m->multifd_send;

    if (!s->batch_num) {
        return 0;
    }
    g_mutex_lock(&s->lock);
    SendChannel *c = idle_channel(s);
    if (c) {
        give_job(s, c, 0);
    }
    g_mutex_unlock(&s->lock);
    return c ? 0 : -EIO;
}

int multifd_queue_page(FerryMig *m, const FerryMigRAMBlock *blk,
                       uint64_t offset)
{
    MultiFDSend *s = m->multifd_send;

    if (s->batch_num && (s->batch_blk.host != blk->host ||
                         s->batch_num == MULTIFD_PAGES_PER_PACKET)) {
        int ret = multifd_send_flush(m);
        if (ret < 0) {
            return ret;
        }
    }
    s->batch_blk = *blk;
    s->batch_off[s->batch_num++] = offset;
    return 0;
}

int multifd_send_sync(FerryMig *m)
{
    MultiFDSend *s = m->multifd_send;
    int ret = multifd_send_flush(m);

    if (ret < 0) {
        return ret;
    }
    g_mutex_lock(&s->lock);
    for (unsigned i = 0; i < s->n && !s->shut; i++) {
        while (s->ch[i].busy && wait_change(s)) {
        }
        if (!s->shut) {
            give_job(s, &s->ch[i], MULTIFD_FLAG_SYNC);
        }
    }
    bool copied = false;
    for (unsigned i = 0; i < s->n && !s->shut; i++) {
        while (s->ch[i].busy && wait_change(s)) {
        }
        copied |= s->ch[i].round_copied;
    }
    ret = s->shut ? -EIO : copied;
    g_mutex_unlock(&s->lock);
    return ret;
}

bool multifd_send_error(FerryMig *m, GError **errp)
{
    MultiFDSend *s = m->multifd_send;

    g_mutex_lock(&s->lock);
    bool failed = s->error != NULL;
    if (failed) {
        g_propagate_error(errp, g_error_copy(s->error));
    }
    g_mutex_unlock(&s->lock);
    return failed;
}

void multifd_send_shutdown(FerryMig *m)
{
    MultiFDSend *s = m->multifd_send;

    g_mutex_lock(&s->lock);
    s->shut = true;
    for (unsigned i = 0; i < s->n; i++) {
        mig_channel_shutdown(s->ch[i].chan);
    }
    g_cond_broadcast(&s->idle);
    g_mutex_unlock(&s->lock);
}

void multifd_send_cleanup(FerryMig *m)
{
    MultiFDSend *s = m->multifd_send;

    if (!s->active) {
        return;
    }
    g_mutex_lock(&s->lock);
    for (unsigned i = 0; i < s->n; i++) {
        s->ch[i].quit = true;
        g_cond_signal(&s->ch[i].work);
    }
    g_mutex_unlock(&s->lock);
    for (unsigned i = 0; i < s->n; i++) {
        SendChannel *c = &s->ch[i];
        if (c->thread) {
            g_thread_join(c->thread);
        }
        g_cond_clear(&c->work);
        mig_channel_unref(c->chan);
        multifd_codec_free(c->codec);
    }
    g_mutex_lock(&s->lock);
    g_clear_pointer(&s->ch, g_free);
    s->n = 0;
    g_mutex_unlock(&s->lock);
    g_clear_pointer(&s->main, mig_channel_unref);
    s->active = false;
}
