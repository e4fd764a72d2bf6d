/*
 * The return path: messages from the destination to the source on the
 * same connection's other direction (be16 type, be16 length, data), as
 * QEMU's MIG_RP_MSG_*.  The source reads them in a thread of its own.
 */
#include <errno.h>
#include "migration/return-path.h"
#include "migration/savevm.h"
#include "util/log.h"

void rp_send(QEMUFile *rp, uint16_t type, uint16_t len, const uint8_t *data)
{
    qemu_put_be16(rp, type);
    qemu_put_be16(rp, len);
    qemu_put_buffer(rp, data, len);
    qemu_fflush(rp);
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

/* Reads messages until SHUT, an error or EOF; reports through @rp. */
static gpointer rp_thread(gpointer opaque)
{
    ReturnPath *rp = opaque;
    uint8_t buf[512];

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
        return_path_done(rp, false, "return path: unexpected message");
        return NULL;
    }
}

void return_path_start(ReturnPath *rp, QEMUFile *f)
{
    g_mutex_init(&rp->lock);
    g_cond_init(&rp->cond);
    rp->f = f;
    rp->done = false;
    rp->ok = false;
    rp->error = NULL;
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
