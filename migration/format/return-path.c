/*
 * The return path: messages from the destination to the source on the
 * same connection's other direction (be16 type, be16 length, data), as
 * QEMU's MIG_RP_MSG_*.  The source reads them in a thread of its own.
 */
#include <errno.h>
#include <string.h>
#include "migration/format/return-path.h"
#include "migration/format/savevm.h"
#include "migration/log.h"
#include "util/thread.h"

void rp_send(QEMUFile *rp, uint16_t type, uint16_t len, const uint8_t *data)
{
    qemu_file_lock_writes(rp);
    qemu_put_be16(rp, type);
    qemu_put_be16(rp, len);
    qemu_put_buffer(rp, data, len);
    qemu_fflush(rp);
    qemu_file_unlock_writes(rp);
}

void rp_send_recv_bitmap(QEMUFile *rp, const char *name,
                         const unsigned long *bitmap, uint64_t nbits)
{
    uint8_t head[256];
    size_t n = strlen(name);
    uint64_t words = (nbits + 63) / 64;

    head[0] = (uint8_t)n;
    memcpy(head + 1, name, n);
    qemu_file_lock_writes(rp);
    qemu_put_be16(rp, MIG_RP_MSG_RECV_BITMAP);
    qemu_put_be16(rp, (uint16_t)(n + 1));
    qemu_put_buffer(rp, head, n + 1);
    qemu_put_be64(rp, words * 8);
    for (uint64_t i = 0; i < words; i++) {
        uint64_t w = __atomic_load_n(&bitmap[i], __ATOMIC_RELAXED);
        uint64_t le = GUINT64_TO_LE(w);
        qemu_put_buffer(rp, (const uint8_t *)&le, 8);
    }
    qemu_put_be64(rp, RAMBLOCK_RECV_BITMAP_ENDING);
    qemu_fflush(rp);
    qemu_file_unlock_writes(rp);
}

void rp_send_be32(QEMUFile *rp, uint16_t type, uint32_t value)
{
    uint8_t buf[4] = { value >> 24, value >> 16, value >> 8, value };

    rp_send(rp, type, sizeof(buf), buf);
}

static uint32_t be32_at(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64_at(const uint8_t *p)
{
    return (uint64_t)be32_at(p) << 32 | be32_at(p + 4);
}

/* A block name of @len bytes: not empty, no NUL in it (it would name
 * another block, or none, once it is a C string). */
static bool name_ok(const uint8_t *name, size_t len)
{
    return len && !memchr(name, '\0', len);
}

/*
 * REQ_PAGES: be64 offset, be32 length; REQ_PAGES_ID adds u8 length and
 * the block's name.  False if malformed.
 */
static bool handle_page_request(ReturnPath *rp, uint16_t type,
                                const uint8_t *buf, uint16_t len)
{
    if (!rp->on_page_request || len < 12) {
        return false;
    }
    if (type == MIG_RP_MSG_REQ_PAGES_ID) {
        if (len < 14) {
            return false;
        }
        uint8_t idlen = buf[12];
        if (len != 13 + idlen || !name_ok(buf + 13, idlen)) {
            return false;
        }
        memcpy(rp->last_block, buf + 13, idlen);
        rp->last_block[idlen] = '\0';
    } else if (len != 12 || !rp->last_block[0]) {
        return false;
    }
    rp->on_page_request(rp->last_block, be64_at(buf), be32_at(buf + 8),
                        rp->opaque);
    g_mutex_lock(&rp->lock);
    rp->events++;
    g_cond_broadcast(&rp->cond);
    g_mutex_unlock(&rp->lock);
    return true;
}

/* RECV_BITMAP: the name in the message, the bitmap after it. */
static bool handle_recv_bitmap(ReturnPath *rp, const uint8_t *buf,
                               uint16_t len)
{
    char name[256];

    g_mutex_lock(&rp->lock);
    RPBitmapFn on_bitmap = rp->on_bitmap;
    RPBitmapSizeFn bitmap_size = rp->bitmap_size;
    g_mutex_unlock(&rp->lock);
    if (!on_bitmap || !bitmap_size || len < 2 || len != 1 + buf[0] ||
        !name_ok(buf + 1, buf[0])) {
        return false;
    }
    memcpy(name, buf + 1, buf[0]);
    name[buf[0]] = '\0';
    uint64_t bytes = qemu_get_be64(rp->f);
    uint64_t want = bitmap_size(name, rp->opaque);
    if (qemu_file_get_error(rp->f) || !want || bytes != want) {
        mig_log("return path: RECV_BITMAP of %" G_GUINT64_FORMAT " bytes for "
                "'%s', which has %" G_GUINT64_FORMAT, bytes, name, want);
        return false;
    }
    g_autofree uint8_t *bits = g_try_malloc(bytes);
    if (!bits) {
        return false;
    }
    qemu_get_buffer(rp->f, bits, bytes);
    if (qemu_get_be64(rp->f) != RAMBLOCK_RECV_BITMAP_ENDING ||
        qemu_file_get_error(rp->f) ||
        !on_bitmap(name, bits, bytes, rp->opaque)) {
        return false;
    }
    g_mutex_lock(&rp->lock);
    rp->bitmaps++;
    rp->events++;
    g_cond_broadcast(&rp->cond);
    g_mutex_unlock(&rp->lock);
    return true;
}

static void note_resume_ack(ReturnPath *rp, uint32_t value)
{
    g_mutex_lock(&rp->lock);
    rp->resume_ack = value;
    rp->events++;
    g_cond_broadcast(&rp->cond);
    g_mutex_unlock(&rp->lock);
}

void return_path_take_bitmaps(ReturnPath *rp, RPBitmapFn on_bitmap,
                              RPBitmapSizeFn bitmap_size)
{
    g_mutex_lock(&rp->lock);
    rp->on_bitmap = on_bitmap;
    rp->bitmap_size = bitmap_size;
    g_mutex_unlock(&rp->lock);
}

void return_path_recovery_state(ReturnPath *rp, unsigned *bitmaps,
                                uint32_t *resume_ack)
{
    g_mutex_lock(&rp->lock);
    *bitmaps = rp->bitmaps;
    *resume_ack = rp->resume_ack;
    g_mutex_unlock(&rp->lock);
}

/* An acknowledgement (RUN_ACK, SWITCHOVER_ACK): set @flag, wake waiters. */
static void note_ack(ReturnPath *rp, bool *flag)
{
    g_mutex_lock(&rp->lock);
    *flag = true;
    rp->events++;
    g_cond_broadcast(&rp->cond);
    g_mutex_unlock(&rp->lock);
}

bool return_path_switchover_acked(ReturnPath *rp)
{
    g_mutex_lock(&rp->lock);
    bool acked = rp->switchover_ack;
    g_mutex_unlock(&rp->lock);
    return acked;
}

void return_path_read(ReturnPath *rp)
{
    uint8_t buf[512];

    for (;;) {
        uint16_t type = (uint16_t)qemu_get_be16(rp->f);
        uint16_t len = (uint16_t)qemu_get_be16(rp->f);

        if (qemu_file_get_error(rp->f) || len > sizeof(buf)) {
            return_path_done(rp, false, len > sizeof(buf) ?
                             "return path: oversized message" :
                             qemu_file_get_error(rp->f) == -ETIMEDOUT ?
                             "return path: nothing heard from the destination "
                             "within postcopy-keepalive-timeout" :
                             "return path: connection lost");
            return;
        }
        qemu_get_buffer(rp->f, buf, len);
        if (qemu_file_get_error(rp->f)) {
            return_path_done(rp, false, "return path: connection lost");
            return;
        }
        if (type == MIG_RP_MSG_SHUT && len == 4) {
            bool ok = be32_at(buf) == 0;
            return_path_done(rp, ok, ok ? NULL :
                             "the destination failed to load the migration");
            return;
        }
        if (type == MIG_RP_MSG_PONG && len == 4) {
            if (be32_at(buf)) {     /* 0: the destination's keepalive */
                mig_log("return path: pong %u", be32_at(buf));
            }
            continue;
        }
        if ((type == MIG_RP_MSG_REQ_PAGES || type == MIG_RP_MSG_REQ_PAGES_ID) &&
            handle_page_request(rp, type, buf, len)) {
            continue;
        }
        if (type == MIG_RP_MSG_RUN_ACK && len == 0) {
            note_ack(rp, &rp->run_ack);
            continue;
        }
        if (type == MIG_RP_MSG_SWITCHOVER_ACK && len == 0) {
            note_ack(rp, &rp->switchover_ack);
            mig_log("return path: SWITCHOVER_ACK");
            continue;
        }
        if (type == MIG_RP_MSG_RECV_BITMAP && handle_recv_bitmap(rp, buf, len)) {
            continue;
        }
        if (type == MIG_RP_MSG_RESUME_ACK && len == 4 && be32_at(buf)) {
            note_resume_ack(rp, be32_at(buf));
            continue;
        }
        mig_log("return path: unexpected message %u of %u bytes", type, len);
        return_path_done(rp, false, "return path: unexpected message");
        return;
    }
}

static gpointer rp_thread(gpointer opaque)
{
    ReturnPath *rp = opaque;

    if (rp->realtime) {
        thread_prefer_realtime();
    } else if (rp->on_page_request) {
        thread_prefer_latency();    /* postcopy: vCPUs wait on requests */
    }
    return_path_read(rp);
    return NULL;
}

void return_path_init(ReturnPath *rp, QEMUFile *f,
                      RPPageRequestFn on_page_request, void *opaque)
{
    g_mutex_init(&rp->lock);
    g_cond_init(&rp->cond);
    rp->f = f;
    rp->done = false;
    rp->ok = false;
    rp->run_ack = false;
    rp->switchover_ack = false;
    rp->shut_on_failure = NULL;
    rp->on_bitmap = NULL;
    rp->bitmap_size = NULL;
    rp->bitmaps = 0;
    rp->resume_ack = 0;
    rp->events = 0;
    rp->error = NULL;
    rp->on_page_request = on_page_request;
    rp->opaque = opaque;
    rp->realtime = false;
    rp->last_block[0] = '\0';
    rp->thread = NULL;
}

static void start_thread(ReturnPath *rp, QEMUFile *f,
                         RPPageRequestFn on_page_request, void *opaque,
                         bool realtime)
{
    return_path_init(rp, f, on_page_request, opaque);
    rp->realtime = realtime;
    rp->thread = g_thread_new("mig/return-path", rp_thread, rp);
}

void return_path_start(ReturnPath *rp, QEMUFile *f,
                       RPPageRequestFn on_page_request, void *opaque)
{
    start_thread(rp, f, on_page_request, opaque, false);
}

void return_path_start_realtime(ReturnPath *rp, QEMUFile *f,
                                RPPageRequestFn on_page_request,
                                void *opaque)
{
    start_thread(rp, f, on_page_request, opaque, true);
}

void return_path_done(ReturnPath *rp, bool ok, const char *error)
{
    g_mutex_lock(&rp->lock);
    if (!rp->done) {
        rp->done = true;
        rp->ok = ok;
        rp->error = g_strdup(error);
        if (!ok && rp->shut_on_failure) {
            qemu_file_shutdown(rp->shut_on_failure);
        }
    }
    rp->events++;
    g_cond_broadcast(&rp->cond);
    g_mutex_unlock(&rp->lock);
}

bool return_path_wait(ReturnPath *rp, char **error)
{
    g_mutex_lock(&rp->lock);
    while (!rp->done) {
        g_cond_wait(&rp->cond, &rp->lock);
    }
    bool ok = rp->ok;
    *error = g_strdup(rp->error);
    g_mutex_unlock(&rp->lock);
    return ok;
}

bool return_path_wait_run_ack(ReturnPath *rp, int64_t deadline_us,
                              char **error)
{
    g_mutex_lock(&rp->lock);
    while (!rp->run_ack && !rp->done) {
        if (!g_cond_wait_until(&rp->cond, &rp->lock, deadline_us)) {
            break;
        }
    }
    bool ok = rp->run_ack;
    if (!ok) {
        *error = g_strdup(rp->done ? rp->error :
                          "no RUN_ACK from the destination within "
                          "postcopy-setup-timeout");
        if (!*error) {  /* SHUT(0) before RUN_ACK: not a postcopy peer */
            *error = g_strdup("the destination ended the migration before "
                              "acknowledging the device state");
        }
    }
    g_mutex_unlock(&rp->lock);
    return ok;
}

uint64_t return_path_wait_event(ReturnPath *rp, uint64_t seen,
                                int64_t deadline_us)
{
    g_mutex_lock(&rp->lock);
    while (rp->events == seen) {
        if (!g_cond_wait_until(&rp->cond, &rp->lock, deadline_us)) {
            break;
        }
    }
    uint64_t now = rp->events;
    g_mutex_unlock(&rp->lock);
    return now;
}

void return_path_shut_on_failure(ReturnPath *rp, QEMUFile *f)
{
    g_mutex_lock(&rp->lock);
    rp->shut_on_failure = f;
    if (f && rp->done && !rp->ok) {
        qemu_file_shutdown(f);
    }
    g_mutex_unlock(&rp->lock);
}

int return_path_wait_until(ReturnPath *rp, int64_t deadline_us, char **error)
{
    g_mutex_lock(&rp->lock);
    while (!rp->done && g_cond_wait_until(&rp->cond, &rp->lock, deadline_us)) {
    }
    int ret = rp->done ? rp->ok : -1;
    if (ret == 0) {
        *error = g_strdup(rp->error);
    }
    g_mutex_unlock(&rp->lock);
    return ret;
}

bool return_path_run_acked(ReturnPath *rp)
{
    g_mutex_lock(&rp->lock);
    bool acked = rp->run_ack;
    g_mutex_unlock(&rp->lock);
    return acked;
}

bool return_path_failed(ReturnPath *rp, char **error)
{
    g_mutex_lock(&rp->lock);
    bool failed = rp->done && !rp->ok;
    if (failed) {
        *error = g_strdup(rp->error);
    }
    g_mutex_unlock(&rp->lock);
    return failed;
}

void return_path_clear(ReturnPath *rp)
{
    g_clear_pointer(&rp->error, g_free);
    g_mutex_clear(&rp->lock);
    g_cond_clear(&rp->cond);
}

void return_path_stop(ReturnPath *rp)
{
    if (!rp->thread) {
        return;
    }
    qemu_file_shutdown(rp->f);
    g_thread_join(rp->thread);
    rp->thread = NULL;
    return_path_clear(rp);
}
