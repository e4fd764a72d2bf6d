/*
 * multifd's destination side.  Every connection of a multifd migration
 * gets a thread that first tells what it is from its first four bytes:
 * the main stream (QEMU_VM_FILE_MAGIC) is given back to the incoming
 * side, a multifd channel (MULTIFD_MAGIC) is checked (version, uuid, id
 * in range and not seen before) and read by the same thread from then
 * on: each packet's normal pages straight into guest RAM, zero pages
 * cleared where they are not zero already.  After a SYNC packet the
 * thread waits until the main stream's flush releases every channel.
 *
 * Channels may come in any order; all must have connected within
 * MULTIFD_CONNECT_TIMEOUT_MS of the first connection.  Any failure of a
 * channel fails the incoming migration with a message naming it, until
 * the postcopy switchover, after which multifd is not used.
 *
 * Locking: `lock` guards everything here but the channels' packet
 * buffers (their threads' own); `cond` is broadcast on every change.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include "migration/context.h"
#include "migration/state.h"
#include "migration/incoming/incoming.h"
#include "migration/incoming/postcopy-dst.h"
#include "migration/multifd/codec.h"
#include "migration/multifd/multifd.h"
#include "migration/multifd/wire.h"
#include "migration/format/savevm.h"
#include "migration/ram/ram.h"
#include "migration/log.h"
#include "util/error.h"

typedef struct RecvChannel {
    FerryMig *m;
    MigChannel *chan;
    GThread *thread;
    int id;                     /* -1 until the init message was read */
    bool closed;                /* lock: ended at a packet boundary */
    bool main_stream;           /* lock: handed to the incoming side */
    /* the thread's own */
    MultiFDCodec *codec;        /* NULL: pages come as they are */
    uint8_t *pages[MULTIFD_PAGES_PER_PACKET];
    MultiFDPacket pkt;
    uint8_t hdr[MULTIFD_HDR_SIZE];
    struct iovec iov[MULTIFD_PAGES_PER_PACKET];
    unsigned blk_index;         /* UINT_MAX: none looked up yet */
} RecvChannel;

struct MultiFDRecv {
    GMutex lock;
    GCond cond;
    bool active;
    unsigned channels;
    uint32_t compress_flag;
    GPtrArray *conns;           /* RecvChannel, every connection */
    RecvChannel *by_id[MULTIFD_MAX_CHANNELS];
    unsigned connected;
    bool ram_ready;
    FerryMigRAMBlock *blocks;   /* snapshot at ram_ready */
    unsigned nr_blocks;
    bool quit;
    bool failed;
    unsigned synced;            /* channels waiting after their SYNC */
    uint64_t sync_gen;
    GSource *deadline;
};

MultiFDRecv *multifd_recv_new(void)
{
    MultiFDRecv *r = g_new0(MultiFDRecv, 1);

    g_mutex_init(&r->lock);
    g_cond_init(&r->cond);
    r->conns = g_ptr_array_new();
    return r;
}

void multifd_recv_free(MultiFDRecv *r)
{
    g_assert(r->conns->len == 0);
    g_ptr_array_free(r->conns, TRUE);
    g_free(r->blocks);
    g_cond_clear(&r->cond);
    g_mutex_clear(&r->lock);
    g_free(r);
}

bool multifd_recv_active(FerryMig *m)
{
    return m->multifd_recv->active;
}

bool multifd_recv_start(FerryMig *m, const char *uri, GError **errp)
{
    MultiFDRecv *r = m->multifd_recv;
    MigrationParameters p;

    multifd_recv_cleanup(m);
    if (!migrate_capability(m, MIGRATION_CAPABILITY_MULTIFD)) {
        return true;
    }
    if (!multifd_uri_ok(uri, errp)) {
        return false;
    }
    mig_params_get(m, &p);
    r->channels = p.multifd_channels;
    r->compress_flag = multifd_codec_flag(p.multifd_compression);
    r->connected = 0;
    r->ram_ready = r->quit = r->failed = false;
    r->synced = 0;
    r->sync_gen = 0;
    memset(r->by_id, 0, sizeof(r->by_id));
    r->active = true;
    return true;
}

/* A channel failed: the migration fails (before postcopy), naming it. */
static void channel_failed(RecvChannel *c, GError *err)
{
    MultiFDRecv *r = c->m->multifd_recv;

    g_mutex_lock(&r->lock);
    bool quit = r->quit;
    r->failed = true;
    g_cond_broadcast(&r->cond);
    g_mutex_unlock(&r->lock);
    if (quit) {
        g_error_free(err);      /* we are shutting it down ourselves */
        return;
    }
    if (c->id >= 0) {
        g_prefix_error(&err, "multifd channel %d: ", c->id);
    }
    mig_incoming_abort(c->m, err);
}

static bool find_block(RecvChannel *c, MultiFDRecv *r, GError **errp)
{
    const char *name = c->pkt.block;

    if (c->blk_index < r->nr_blocks &&
        !strcmp(r->blocks[c->blk_index].name, name)) {
        return true;
    }
    for (unsigned i = 0; i < r->nr_blocks; i++) {
        if (!strcmp(r->blocks[i].name, name)) {
            c->blk_index = i;
            return true;
        }
    }
    error_setg(errp, "packet %" G_GUINT64_FORMAT ": unknown RAM block '%s'",
               c->pkt.packet_num, name);
    return false;
}

static int read_exact(MigChannel *chan, void *buf, size_t len)
{
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    ssize_t n = mig_channel_readv_all(chan, &iov, 1);

    return n < 0 ? (int)n : n == (ssize_t)len ? 1 : n == 0 ? 0 : -EPIPE;
}

static bool load_pages(RecvChannel *c, MultiFDRecv *r, GError **errp)
{
    MultiFDPacket *p = &c->pkt;
    unsigned n = p->normal_pages + p->zero_pages;

    if (!n) {
        return true;
    }
    if (!find_block(c, r, errp) ||
        !multifd_packet_check_offsets(p, r->blocks[c->blk_index].size,
                                      errp)) {
        return false;
    }
    uint8_t *base = r->blocks[c->blk_index].host;
    for (unsigned i = 0; i < p->normal_pages; i++) {
        c->pages[i] = base + p->offset[i];
        c->iov[i].iov_base = base + p->offset[i];
        c->iov[i].iov_len = MULTIFD_PAGE_SIZE;
    }
    if (p->normal_pages && c->codec) {
        /* the size is bounded by the decoder: at most max_payload */
        int got = read_exact(c->chan, multifd_codec_buffer(c->codec),
                             p->next_packet_size);
        if (got != 1) {
            error_setg(errp, "packet %" G_GUINT64_FORMAT ": %s inside its "
                       "compressed pages", p->packet_num,
                       got < 0 ? g_strerror(-got) : "stream ended");
            return false;
        }
        if (!multifd_codec_decompress(c->codec, p->next_packet_size,
                                      c->pages, p->normal_pages, errp)) {
            g_prefix_error(errp, "packet %" G_GUINT64_FORMAT ": ",
                           p->packet_num);
            return false;
        }
    } else if (p->normal_pages) {
        ssize_t got = mig_channel_readv_all(c->chan, c->iov, p->normal_pages);
        if (got != (ssize_t)p->next_packet_size) {
            error_setg(errp, "packet %" G_GUINT64_FORMAT ": %s inside its "
                       "pages", p->packet_num,
                       got < 0 ? g_strerror((int)-got) : "stream ended");
            return false;
        }
    }
    for (unsigned i = p->normal_pages; i < n; i++) {
        uint8_t *host = base + p->offset[i];
        if (!ram_page_is_zero(host)) {
            memset(host, 0, MULTIFD_PAGE_SIZE);
        }
    }
    for (unsigned i = 0; i < n; i++) {
        ram_recv_mark(c->m, c->blk_index, p->offset[i] / MULTIFD_PAGE_SIZE);
    }
    return true;
}

/*
 * A channel's socket was reset (or broke otherwise): the errno, else 0.
 * An orderly close is not a failure here: after the last round a source
 * closes its channels while their threads still wait at SYNC.
 */
static int channel_broken(MigChannel *chan)
{
    struct pollfd pfd = { .fd = mig_channel_fd(chan), .events = POLLRDHUP };
    int err = 0;
    socklen_t len = sizeof(err);

    if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & (POLLERR | POLLHUP))) {
        return 0;
    }
    if (getsockopt(pfd.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || !err) {
        err = ECONNRESET;
    }
    return err;
}

bool multifd_recv_channel_error(FerryMig *m, GError **errp)
{
    MultiFDRecv *r = m->multifd_recv;
    bool found = false;

    g_mutex_lock(&r->lock);
    for (unsigned i = 0; r->active && i < r->channels && !found; i++) {
        /* closed ones too: an abort is a FIN, read as an orderly end
         * between packets, then the RST */
        RecvChannel *c = r->by_id[i];
        int err = c ? channel_broken(c->chan) : 0;
        if (err) {
            error_setg(errp, "multifd channel %u (%s): its connection "
                       "failed: %s", i, mig_channel_name(c->chan),
                       g_strerror(err));
            found = true;
        }
    }
    g_mutex_unlock(&r->lock);
    return found;
}

/* After SYNC: wait for the main stream's flush; false on shutdown. */
static bool wait_released(MultiFDRecv *r)
{
    g_mutex_lock(&r->lock);
    uint64_t gen = r->sync_gen;
    r->synced++;
    g_cond_broadcast(&r->cond);
    while (r->sync_gen == gen && !r->quit && !r->failed) {
        g_cond_wait(&r->cond, &r->lock);
    }
    bool go = r->sync_gen != gen;
    g_mutex_unlock(&r->lock);
    return go;
}

static bool wait_ram_ready(MultiFDRecv *r)
{
    g_mutex_lock(&r->lock);
    while (!r->ram_ready && !r->quit && !r->failed) {
        g_cond_wait(&r->cond, &r->lock);
    }
    bool go = r->ram_ready && !r->quit;
    g_mutex_unlock(&r->lock);
    return go;
}

static void receive_packets(RecvChannel *c, MultiFDRecv *r)
{
    g_autoptr(GError) err = NULL;

    if (!wait_ram_ready(r)) {
        return;
    }
    for (;;) {
        int ret = read_exact(c->chan, c->hdr, sizeof(c->hdr));
        if (ret == 0) {
            break;          /* the source closed it between packets */
        }
        if (ret < 0) {
            error_setg(&err, "receiving failed: %s", g_strerror(-ret));
            break;
        }
        if (!multifd_packet_decode(c->hdr, r->compress_flag,
                                   multifd_codec_max_payload(r->compress_flag),
                                   &c->pkt, &err) ||
            !load_pages(c, r, &err)) {
            break;
        }
        if ((c->pkt.flags & MULTIFD_FLAG_SYNC) && !wait_released(r)) {
            return;
        }
    }
    if (err) {
        channel_failed(c, g_steal_pointer(&err));
        return;
    }
    g_mutex_lock(&r->lock);
    c->closed = true;
    g_cond_broadcast(&r->cond);
    g_mutex_unlock(&r->lock);
}

/* The init message: checks it and registers the channel under its id. */
static bool register_channel(RecvChannel *c, MultiFDRecv *r,
                             const uint8_t magic[4], GError **errp)
{
    static const uint8_t no_uuid[16];   /* ferry's VMM API has no UUID */
    uint8_t buf[MULTIFD_INIT_SIZE];
    MultiFDInit init;

    memcpy(buf, magic, 4);
    if (read_exact(c->chan, buf + 4, sizeof(buf) - 4) != 1) {
        error_setg(errp, "multifd: a channel ended inside its init message");
        return false;
    }
    if (!multifd_init_decode(buf, no_uuid, r->channels, &init, errp)) {
        return false;
    }
    c->codec = multifd_codec_new(r->compress_flag, 0, false, errp);
    if (r->compress_flag != MULTIFD_FLAG_NOCOMP && !c->codec) {
        return false;
    }
    g_mutex_lock(&r->lock);
    bool dup = r->by_id[init.id] != NULL;
    if (!dup) {
        r->by_id[init.id] = c;
        c->id = init.id;
        r->connected++;
        g_cond_broadcast(&r->cond);
    }
    g_mutex_unlock(&r->lock);
    if (dup) {
        error_setg(errp, "multifd: a second channel with id %u", init.id);
        return false;
    }
    return true;
}

static gpointer conn_thread(gpointer opaque)
{
    RecvChannel *c = opaque;
    MultiFDRecv *r = c->m->multifd_recv;
    g_autoptr(GError) err = NULL;
    uint8_t magic[4];
    int ret;

    mig_channel_set_read_timeout(c->chan, MULTIFD_CONNECT_TIMEOUT_MS);
    if (!mig_channel_handshake(c->chan, &err)) {
        channel_failed(c, g_steal_pointer(&err));
        return NULL;
    }
    ret = read_exact(c->chan, magic, sizeof(magic));
    if (ret != 1) {
        error_setg(&err, "multifd: a connection from %s sent no magic: %s",
                   mig_channel_name(c->chan),
                   ret < 0 ? g_strerror(-ret) : "it closed");
        channel_failed(c, g_steal_pointer(&err));
        return NULL;
    }
    mig_channel_set_read_timeout(c->chan, 0);
    uint32_t v = (uint32_t)magic[0] << 24 | magic[1] << 16 | magic[2] << 8 |
                 magic[3];
    if (v == QEMU_VM_FILE_MAGIC) {
        mig_channel_unread(c->chan, magic, sizeof(magic));
        g_mutex_lock(&r->lock);
        c->main_stream = true;
        g_mutex_unlock(&r->lock);
        mig_incoming_main_channel(c->m, mig_channel_ref(c->chan));
        return NULL;
    }
    if (v != MULTIFD_MAGIC) {
        error_setg(&err, "multifd: a connection starts with 0x%08x, neither "
                   "a migration stream (0x%08x) nor a multifd channel "
                   "(0x%08x)", v, QEMU_VM_FILE_MAGIC, MULTIFD_MAGIC);
        channel_failed(c, g_steal_pointer(&err));
        return NULL;
    }
    if (!register_channel(c, r, magic, &err)) {
        channel_failed(c, g_steal_pointer(&err));
        return NULL;
    }
    receive_packets(c, r);
    return NULL;
}

/* Main thread: MULTIFD_CONNECT_TIMEOUT_MS after the first connection. */
static gboolean connect_deadline(gpointer opaque)
{
    FerryMig *m = opaque;
    MultiFDRecv *r = m->multifd_recv;

    g_mutex_lock(&r->lock);
    g_clear_pointer(&r->deadline, g_source_unref);
    unsigned got = r->connected;
    bool stop = r->quit || r->failed || got == r->channels;
    if (!stop) {
        r->failed = true;
        g_cond_broadcast(&r->cond);
    }
    g_mutex_unlock(&r->lock);
    if (!stop) {
        mig_incoming_abort(m, g_error_new(
            FERRY_ERROR, FERRY_ERROR_GENERIC, "multifd: only %u of %u "
            "channels connected within %d s", got, r->channels,
            MULTIFD_CONNECT_TIMEOUT_MS / 1000));
    }
    return G_SOURCE_REMOVE;
}

void multifd_recv_accept(FerryMig *m, MigChannel *chan)
{
    MultiFDRecv *r = m->multifd_recv;
    RecvChannel *c = g_new0(RecvChannel, 1);

    c->m = m;
    c->chan = chan;
    c->id = -1;
    c->blk_index = UINT_MAX;
    g_mutex_lock(&r->lock);
    if (!r->deadline && !r->conns->len) {
        r->deadline = g_timeout_source_new(MULTIFD_CONNECT_TIMEOUT_MS);
        g_source_set_callback(r->deadline, connect_deadline, m, NULL);
        g_source_attach(r->deadline, m->context);
    }
    g_ptr_array_add(r->conns, c);
    c->thread = g_thread_new("mig/multifd-recv", conn_thread, c);
    g_mutex_unlock(&r->lock);
}

bool multifd_recv_all_connected(FerryMig *m)
{
    MultiFDRecv *r = m->multifd_recv;

    g_mutex_lock(&r->lock);
    bool all = r->active && r->connected == r->channels;
    g_mutex_unlock(&r->lock);
    return all;
}

void multifd_recv_ram_ready(FerryMig *m)
{
    MultiFDRecv *r = m->multifd_recv;

    if (!r->active) {
        return;
    }
    unsigned n = m->vmm.ram_block_count(m->opaque);
    FerryMigRAMBlock *blocks = g_new0(FerryMigRAMBlock, n);
    for (unsigned i = 0; i < n; i++) {
        uint8_t *staging = postcopy_dst_staging(m, i);

        m->vmm.ram_block_get(m->opaque, i, &blocks[i]);
        if (staging) {
            /* postcopy minor mode: pages land where the guest does not map
             * them, so a later discard leaves nothing stale behind */
            blocks[i].host = staging;
        }
    }
    g_mutex_lock(&r->lock);
    g_free(r->blocks);
    r->blocks = blocks;
    r->nr_blocks = n;
    r->ram_ready = true;
    g_cond_broadcast(&r->cond);
    g_mutex_unlock(&r->lock);
}

/* The first channel not waiting at its SYNC that can no longer reach it. */
static int closed_channel(MultiFDRecv *r)
{
    for (unsigned i = 0; i < r->channels; i++) {
        if (r->by_id[i] && r->by_id[i]->closed) {
            return (int)i;
        }
    }
    return -1;
}

bool multifd_recv_sync(FerryMig *m, GError **errp)
{
    MultiFDRecv *r = m->multifd_recv;
    int closed = -1;

    if (!r->active) {
        error_setg(errp, "ram: a multifd flush, but capability multifd is "
                   "off on the destination (enable it on both sides)");
        return false;
    }
    g_mutex_lock(&r->lock);
    while (r->synced < r->channels && !r->quit && !r->failed &&
           (closed = closed_channel(r)) < 0) {
        g_cond_wait(&r->cond, &r->lock);
    }
    bool ok = r->synced == r->channels && !r->failed && !r->quit;
    if (ok) {
        r->synced = 0;
        r->sync_gen++;
        g_cond_broadcast(&r->cond);
    }
    g_mutex_unlock(&r->lock);
    if (!ok) {
        if (closed >= 0) {
            error_setg(errp, "multifd channel %d closed before its sync",
                       closed);
        } else {
            error_setg(errp, "multifd: a channel failed");
        }
    }
    return ok;
}

void multifd_recv_cleanup(FerryMig *m)
{
    MultiFDRecv *r = m->multifd_recv;

    g_mutex_lock(&r->lock);
    r->quit = true;
    g_cond_broadcast(&r->cond);
    if (r->deadline) {
        g_source_destroy(r->deadline);
        g_clear_pointer(&r->deadline, g_source_unref);
    }
    GPtrArray *conns = r->conns;
    r->conns = g_ptr_array_new();
    for (guint i = 0; i < conns->len; i++) {
        RecvChannel *c = g_ptr_array_index(conns, i);
        if (!c->main_stream) {
            mig_channel_shutdown(c->chan);
        }
    }
    g_mutex_unlock(&r->lock);
    for (guint i = 0; i < conns->len; i++) {
        RecvChannel *c = g_ptr_array_index(conns, i);
        g_thread_join(c->thread);
        mig_channel_unref(c->chan);
        multifd_codec_free(c->codec);
        g_free(c);
    }
    g_ptr_array_free(conns, TRUE);
    g_mutex_lock(&r->lock);
    memset(r->by_id, 0, sizeof(r->by_id));
    r->connected = 0;
    r->active = false;
    g_mutex_unlock(&r->lock);
}
