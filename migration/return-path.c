/*
 * The return path: messages from the destination to the source on the
 * same connection's other direction (be16 type, be16 length, data), as
 * QEMU's MIG_RP_MSG_*.  The source reads them in a thread of its own.
 */
#include <errno.h>
#include <string.h>
#include "migration/return-path.h"
#include "migration/savevm.h"
#include "util/log.h"
#include "util/thread.h"

/* The destination's load, package and fault threads all answer. */
static GMutex send_lock;

void rp_send(QEMUFile *rp, uint16_t type, uint16_t len, const uint8_t *data)
{
    g_mutex_lock(&send_lock);
    qemu_put_be16(rp, type);
    qemu_put_be16(rp, len);
    qemu_put_buffer(rp, data, len);
    qemu_fflush(rp);
    g_mutex_unlock(&send_lock);
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
        if (len != 13 + idlen || idlen == 0) {
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

static void note_run_ack(ReturnPath *rp)
{
    g_mutex_lock(&rp->lock);
    rp->run_ack = true;
    rp->events++;
    g_cond_broadcast(&rp->cond);
    g_mutex_unlock(&rp->lock);
}

/* Reads messages until SHUT, an error or EOF; reports through @rp. */
static gpointer rp_thread(gpointer opaque)
{
    ReturnPath *rp = opaque;
    uint8_t buf[512];

    if (rp->on_page_request) {
        thread_prefer_latency();    /* postcopy: vCPUs wait on requests */
    }

    for (;;) {
        uint16_t type = (uint16_t)qemu_get_be16(rp->f);
        uint16_t len = (uint16_t)qemu_get_be16(rp->f);

        if (qemu_file_get_error(rp->f) || len > sizeof(buf)) {
            return_path_done(rp, false, len > sizeof(buf) ?
                             "return path: oversized message" :
                             "return path: connection lost");
            return NULL;
        }
        qemu_get_buffer(rp->f, buf, len);
        if (qemu_file_get_error(rp->f)) {
            return_path_done(rp, false, "return path: connection lost");
            return NULL;
        }
        if (type == MIG_RP_MSG_SHUT && len == 4) {
            bool ok = be32_at(buf) == 0;
            return_path_done(rp, ok, ok ? NULL :
                             "the destination failed to load the migration");
            return NULL;
        }
        if (type == MIG_RP_MSG_PONG && len == 4) {
            ferry_log("return path: pong %u", be32_at(buf));
            continue;
        }
        if ((type == MIG_RP_MSG_REQ_PAGES || type == MIG_RP_MSG_REQ_PAGES_ID) &&
            handle_page_request(rp, type, buf, len)) {
            continue;
        }
        if (type == MIG_RP_MSG_RUN_ACK && len == 0) {
            note_run_ack(rp);
            continue;
        }
        ferry_log("return path: unexpected message %u of %u bytes", type, len);
        return_path_done(rp, false, "return path: unexpected message");
        return NULL;
    }
}

void return_path_start(ReturnPath *rp, QEMUFile *f,
                       RPPageRequestFn on_page_request, void *opaque)
{
    g_mutex_init(&rp->lock);
    g_cond_init(&rp->cond);
    rp->f = f;
    rp->done = false;
    rp->ok = false;
    rp->run_ack = false;
    rp->events = 0;
    rp->error = NULL;
    rp->on_page_request = on_page_request;
    rp->opaque = opaque;
    rp->last_block[0] = '\0';
    rp->thread = g_thread_new("mig/return-path", rp_thread, rp);
}

void return_path_done(ReturnPath *rp, bool ok, const char *error)
{
    g_mutex_lock(&rp->lock);
    if (!rp->done) {
        rp->done = true;
        rp->ok = ok;
        rp->error = g_strdup(error);
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

void return_path_stop(ReturnPath *rp)
{
    if (!rp->thread) {
        return;
    }
    qemu_file_shutdown(rp->f);
    g_thread_join(rp->thread);
    rp->thread = NULL;
    g_clear_pointer(&rp->error, g_free);
    g_mutex_clear(&rp->lock);
    g_cond_clear(&rp->cond);
}
