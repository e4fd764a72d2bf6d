/*
 * The source side of postcopy (docs/migration.md, "Postcopy"), run by the
 * migration thread once migrate-start-postcopy was asked:
 *
 *   postcopy-setup:  guest stopped; discards, the device state package
 *                    (LISTEN, devices, no RUN); wait for RUN_ACK while
 *                    serving page requests, at most postcopy-setup-timeout
 *   postcopy-active: RUN, then the rest of RAM with requested pages first;
 *                    END, EOF, and the destination's SHUT
 *
 * A failure before RUN fails the migration and the guest resumes here
 * (migration/migration.c: finish()); from RUN on it pauses instead.
 */
#include "migration/transport/channel.h"
#include "migration/state.h"
#include "migration/outgoing/outgoing-int.h"
#include "migration/multifd/multifd.h"
#include "migration/ram/ram.h"
#include "migration/format/savevm.h"
#include "util/error.h"
#include "migration/log.h"

static bool rp_failed(FerryMig *m)
{
    MigOutgoing *out = m->out;
    g_autofree char *error = NULL;

    return return_path_failed(&out->rp, &error);
}

static bool rp_check(FerryMig *m, GError **errp)
{
    MigOutgoing *out = m->out;
    char *rp_error = NULL;

    if (return_path_failed(&out->rp, &rp_error)) {
        error_setg(errp, "%s", rp_error);
        g_free(rp_error);
        return false;
    }
    return true;
}

/* postcopy-preempt: a second connection for the requested pages. */
static bool open_preempt(FerryMig *m, GError **errp)
{
    MigOutgoing *out = m->out;
    MigChannel *ch = mig_out_connect(m, errp);
    if (!ch) {
        g_prefix_error(errp, "postcopy-preempt channel: ");
        return false;
    }
    QEMUFile *f = qemu_file_new_output(ch);
    mig_channel_unref(ch);
    /* max-postcopy-bandwidth is one budget for both channels */
    qemu_file_share_rate_limit(f, out->f);
    g_mutex_lock(&out->lock);
    out->preempt = f;
    g_mutex_unlock(&out->lock);
    return true;
}

void postcopy_close_preempt(FerryMig *m, bool flush_eos)
{
    MigOutgoing *out = m->out;

    ram_postcopy_stop_urgent(m);
    g_mutex_lock(&out->lock);
    QEMUFile *f = g_steal_pointer(&out->preempt);
    g_mutex_unlock(&out->lock);
    if (f && flush_eos) {
        qemu_put_be64(f, RAM_SAVE_FLAG_EOS);
        qemu_fflush(f);
    }
    if (f) {
        qemu_fclose(f, NULL);
    }
}

/* Sends the pages asked for meanwhile, if any (no preempt channel). */
static bool serve_requests(FerryMig *m, GError **errp)
{
    if (ram_postcopy_pending_requests(m) &&
        savevm_postcopy_urgent(&m->saved, m->out->f) < 0) {
        error_setg(errp, "sending requested pages failed");
        return false;
    }
    return true;
}

/*
 * postcopy-setup: waits for RUN_ACK, serving page requests meanwhile (the
 * device state may touch RAM the destination lacks); false on a failure
 * or when postcopy-setup-timeout runs out.
 */
static bool wait_run_ack(FerryMig *m, int64_t sent_us, GError **errp)
{
    MigOutgoing *out = m->out;
    MigrationParameters p;

    mig_params_get(m, &p);
    int64_t deadline = sent_us + (int64_t)p.postcopy_setup_timeout * 1000;
    uint64_t seen = 0;

    for (;;) {
        if (mig_out_cancelled(m)) {
            error_setg(errp, "cancelled");
            return false;
        }
        if (!serve_requests(m, errp)) {
            return false;
        }
        if (return_path_run_acked(&out->rp)) {
            g_mutex_lock(&out->lock);
            out->times.run_acked = true;
            out->times.run_ack_us = g_get_monotonic_time() - sent_us;
            g_mutex_unlock(&out->lock);
            return true;
        }
        if (!rp_check(m, errp)) {
            return false;
        }
        if (g_get_monotonic_time() >= deadline) {
            error_setg(errp, "no RUN_ACK from the destination within "
                       "postcopy-setup-timeout (%" G_GUINT64_FORMAT " ms)",
                       p.postcopy_setup_timeout);
            return false;
        }
        seen = return_path_wait_event(&out->rp, seen, MIN(deadline,
                                      g_get_monotonic_time() + 100000));
    }
}

static int keepalive_ms(FerryMig *m)
{
    MigrationParameters p;

    mig_params_get(m, &p);
    return (int)p.postcopy_keepalive_timeout;
}

/*
 * In postcopy-active a silent network must pause the migration within
 * postcopy-keepalive-timeout: the return path's reads time out (the
 * destination sends keepalives), and its failure unblocks a send to a
 * peer that stopped reading.
 */
static void arm_keepalive(FerryMig *m)
{
    MigOutgoing *out = m->out;

    mig_channel_set_read_timeout(qemu_file_get_channel(out->rp.f),
                                 keepalive_ms(m));
    return_path_shut_on_failure(&out->rp, out->f);
}

/* A PING now and then, so the destination hears us while we idle. */
static void maybe_ping(FerryMig *m, int64_t *last_ms)
{
    MigOutgoing *out = m->out;

    if (mig_now_ms() - *last_ms < keepalive_ms(m) / 4) {
        return;
    }
    uint32_t seq = out->ping_seq++;
    uint8_t v[4] = { seq >> 24, seq >> 16, seq >> 8, seq };
    savevm_put_command(out->f, MIG_CMD_PING, sizeof(v), v);
    qemu_fflush(out->f);
    *last_ms = mig_now_ms();
}

/* RUN: from here on the guest may run there, so never again here. */
static bool send_run(FerryMig *m, GError **errp)
{
    MigOutgoing *out = m->out;

    if (!migrate_set_state(m, MIGRATION_STATUS_POSTCOPY_SETUP,
                           MIGRATION_STATUS_POSTCOPY_ACTIVE)) {
        error_setg(errp, "cancelled");
        return false;
    }
    g_mutex_lock(&out->lock);
    out->run_sent = true;
    g_mutex_unlock(&out->lock);
    arm_keepalive(m);
    savevm_put_command(out->f, MIG_CMD_POSTCOPY_RUN, 0, NULL);
    qemu_fflush(out->f);
    if (qemu_file_get_error(out->f)) {
        error_setg(errp, "sending POSTCOPY_RUN failed");
        return false;
    }
    return true;
}

/*
 * max-postcopy-bandwidth is spent: sleeps until the window ends, but a
 * faulting guest does not wait for it.  As in QEMU, a requested page goes
 * out at once; the rest of its prefetch run stays with the background
 * pages, which the limit holds to its rate.
 */
static bool wait_rate_window(FerryMig *m, uint64_t *seen, GError **errp)
{
    MigOutgoing *out = m->out;
    int64_t until = g_get_monotonic_time() +
                    qemu_file_rate_limit_ms_left(out->f) * 1000;

    while (g_get_monotonic_time() < until && !rp_failed(m)) {
        if (!serve_requests(m, errp)) {
            return false;
        }
        *seen = return_path_wait_event(&out->rp, *seen, until);
    }
    return true;
}

/* postcopy-active: the rest of RAM, requested pages first. */
static bool postcopy_send_rest(FerryMig *m, GError **errp)
{
    MigOutgoing *out = m->out;
    uint64_t seen = 0;
    int64_t last_ping = mig_now_ms();

    MigChannel *chan = qemu_file_get_channel(out->f);
    mig_channel_limit_send(chan, mig_channel_queue_for_rate(
        chan, MIG_POSTCOPY_SEND_QUEUE_BYTES, MIG_POSTCOPY_QUEUE_RATE));
    for (;;) {
        if (!rp_check(m, errp)) {
            return false;
        }
        maybe_ping(m, &last_ping);
        int ret = savevm_iterate(&m->saved, out->f);
        if (ret < 0) {
            error_setg(errp, "sending RAM failed: %s", g_strerror(-ret));
            return false;
        }
        if (ret == 1) {
            return true;
        }
        if (qemu_file_rate_limit_exceeded(out->f) &&
            !wait_rate_window(m, &seen, errp)) {
            return false;
        }
    }
}

/* The destination's SHUT, with keepalives while it places the last pages. */
static bool wait_shut(FerryMig *m, GError **errp)
{
    MigOutgoing *out = m->out;
    int64_t last_ping = mig_now_ms();

    for (;;) {
        char *rp_error = NULL;
        int ret = return_path_wait_until(&out->rp, g_get_monotonic_time() +
                                         keepalive_ms(m) / 4 * 1000, &rp_error);
        if (ret == 1) {
            return true;
        }
        if (ret == 0) {
            error_setg(errp, "%s", rp_error);
            g_free(rp_error);
            return false;
        }
        maybe_ping(m, &last_ping);
        if (qemu_file_get_error(out->f)) {
            error_setg(errp, "the migration stream failed: %s",
                       g_strerror(-qemu_file_get_error(out->f)));
            return false;
        }
    }
}

static bool postcopy_finish_sending(FerryMig *m, GError **errp);

bool postcopy_source_run(FerryMig *m, GError **errp)
{
    MigOutgoing *out = m->out;
    int64_t stop_at;
    uint64_t before = mig_out_transferred(m);

    if (!mig_out_stop_guest(m, MIGRATION_STATUS_POSTCOPY_SETUP, &stop_at,
                            errp)) {
        return false;
    }
    int64_t t_stopped = g_get_monotonic_time();
    if (migrate_capability(m, MIGRATION_CAPABILITY_POSTCOPY_PREEMPT) &&
        !open_preempt(m, errp)) {
        return false;
    }
    /* multifd's last pages land before the discards that may drop them */
    if (savevm_sync_side_channels(&m->saved, out->f) < 0) {
        if (!multifd_send_error(m, errp)) {
            error_setg(errp, "ending multifd before postcopy failed");
        }
        return false;
    }
    if (ram_postcopy_send_discards(m, out->f) < 0) {
        error_setg(errp, "sending the discard list failed");
        return false;
    }
    int64_t t_discards = g_get_monotonic_time();
    ram_postcopy_start(m, out->preempt);
    if (savevm_send_package(&m->saved, out->f, errp) < 0) {
        return false;
    }
    /* From here: a loaded machine may run the destination's whole
     * reply before this thread looks again. */
    int64_t sent = g_get_monotonic_time();
    /* Where the switchover's time goes, for the downtime's analysis. */
    mig_log("postcopy: switchover: stop %" G_GINT64_FORMAT " ms, sync and "
            "discards %" G_GINT64_FORMAT " us, package %" G_GINT64_FORMAT " us",
            t_stopped / 1000 - stop_at, t_discards - t_stopped,
            sent - t_discards);
    g_mutex_lock(&out->lock);
    out->times.package_ms = mig_now_ms() - stop_at;
    g_mutex_unlock(&out->lock);
    if (!wait_run_ack(m, sent, errp) || !send_run(m, errp)) {
        return false;
    }
    mig_out_emit_passes(m);     /* the final sync counts, as in QEMU */
    g_mutex_lock(&out->lock);
    out->times.downtime_ms = mig_now_ms() - stop_at;
    out->times.downtime_bytes = mig_out_transferred(m) - before;
    out->times.precopy_bytes = before;
    g_mutex_unlock(&out->lock);
    /* The dirty log stays on until the end (ram_save_stop_log): the
     * guest stays stopped here for good, so it records nothing, and
     * turning it off would take CPU from the pages' way here. */
    mig_out_apply_rate_limit(m);
    return postcopy_finish_sending(m, errp);
}

/* postcopy-active to the end: the rest of RAM, END, EOF, SHUT. */
static bool postcopy_finish_sending(FerryMig *m, GError **errp)
{
    MigOutgoing *out = m->out;

    if (!postcopy_send_rest(m, errp)) {
        return false;
    }
    postcopy_close_preempt(m, true);
    if (savevm_complete_postcopy(&m->saved, out->f, errp) < 0) {
        return false;
    }
    mig_out_emit_passes(m);
    return wait_shut(m, errp);
}

/* --- recovery -------------------------------------------------------------- */

static bool on_recv_bitmap(const char *block, const uint8_t *le_words,
                           uint64_t bytes, void *opaque)
{
    return ram_postcopy_reload_bitmap(opaque, block, le_words, bytes);
}

static uint64_t on_bitmap_size(const char *block, void *opaque)
{
    return ram_postcopy_bitmap_bytes(opaque, block);
}

static void on_resume_page_request(const char *block, uint64_t offset,
                                   uint64_t len, void *opaque)
{
    ram_postcopy_request(opaque, block, offset, len);
}

static bool open_resume_stream(FerryMig *m, GError **errp)
{
    MigOutgoing *out = m->out;
    MigChannel *ch = mig_out_connect(m, errp);
    if (!ch) {
        g_prefix_error(errp, "resume: ");
        return false;
    }
    QEMUFile *f = qemu_file_new_output(ch);
    mig_channel_unref(ch);
    QEMUFile *rp = qemu_file_get_return_path(f);
    g_mutex_lock(&out->lock);
    out->f = f;
    g_mutex_unlock(&out->lock);
    if (!rp) {
        error_setg(errp, "resume: '%s' has no reverse direction", out->uri);
        return false;
    }
    mig_out_start_return_path(m, rp, on_resume_page_request);
    return_path_take_bitmaps(&out->rp, on_recv_bitmap, on_bitmap_size);
    out->have_rp = true;
    return true;
}

/*
 * Waits until the return path delivered @bitmaps RECV_BITMAPs and, with
 * @want_ack, RESUME_ACK; false on failure or after the keepalive timeout.
 */
static bool wait_recovery(FerryMig *m, unsigned bitmaps, bool want_ack,
                          uint32_t *ack, GError **errp)
{
    MigOutgoing *out = m->out;
    int64_t deadline = g_get_monotonic_time() + keepalive_ms(m) * 1000LL;
    uint64_t seen = 0;

    for (;;) {
        unsigned got;
        return_path_recovery_state(&out->rp, &got, ack);
        if (got >= bitmaps && (!want_ack || *ack)) {
            return true;
        }
        if (!rp_check(m, errp)) {
            return false;
        }
        if (g_get_monotonic_time() >= deadline) {
            error_setg(errp, "resume: the destination did not answer within "
                       "postcopy-keepalive-timeout");
            return false;
        }
        seen = return_path_wait_event(&out->rp, seen, deadline);
    }
}

/* RECV_BITMAP per block, RESUME; true once RESUME_ACK arrived. */
static bool resume_handshake(FerryMig *m, uint32_t *ack, GError **errp)
{
    MigOutgoing *out = m->out;
    unsigned n = ram_postcopy_block_count(m);

    for (unsigned i = 0; i < n; i++) {
        const char *name = ram_postcopy_block_name(m, i);
        uint8_t buf[256];
        buf[0] = (uint8_t)strlen(name);
        memcpy(buf + 1, name, buf[0]);
        savevm_put_command(out->f, MIG_CMD_RECV_BITMAP, 1 + buf[0], buf);
    }
    qemu_fflush(out->f);
    if (!wait_recovery(m, n, false, ack, errp)) {
        return false;
    }
    savevm_put_command(out->f, MIG_CMD_POSTCOPY_RESUME, 0, NULL);
    qemu_fflush(out->f);
    return wait_recovery(m, n, true, ack, errp);
}

bool postcopy_source_resume(FerryMig *m, GError **errp)
{
    MigOutgoing *out = m->out;
    uint32_t ack = 0;

    if (!open_resume_stream(m, errp) ||
        !migrate_set_state(m, MIGRATION_STATUS_POSTCOPY_RECOVER_SETUP,
                           MIGRATION_STATUS_POSTCOPY_RECOVER)) {
        return false;
    }
    if (migrate_capability(m, MIGRATION_CAPABILITY_POSTCOPY_PREEMPT) &&
        !open_preempt(m, errp)) {
        return false;
    }
    ram_postcopy_new_stream(m, out->preempt);
    if (!resume_handshake(m, &ack, errp) ||
        !migrate_set_state(m, MIGRATION_STATUS_POSTCOPY_RECOVER,
                           MIGRATION_STATUS_POSTCOPY_ACTIVE)) {
        return false;
    }
    arm_keepalive(m);
    if (ack == RESUME_ACK_RUN_MISSING) {
        mig_log("postcopy: the destination never got RUN: sending it again");
        savevm_put_command(out->f, MIG_CMD_POSTCOPY_RUN, 0, NULL);
        qemu_fflush(out->f);
    }
    mig_out_apply_rate_limit(m);
    return postcopy_finish_sending(m, errp);
}

/* After RUN: both sides halt; recovery (migrate-recover) resumes. */
void postcopy_source_pause(FerryMig *m, GError *err)
{
    MigOutgoing *out = m->out;

    g_mutex_lock(&out->lock);
    bool asked = out->pause_asked;
    g_mutex_unlock(&out->lock);
    if (asked) {
        mig_out_record_error(m, "paused by migrate-pause");
    } else {
        mig_out_record_error(m, "%s", err ? err->message : "unknown error");
    }
    postcopy_close_preempt(m, false);
    if (out->have_rp) {
        return_path_stop(&out->rp);
        out->have_rp = false;
    }
    g_mutex_lock(&out->lock);
    if (out->f) {
        out->stream_base += qemu_file_transferred(out->f);
        out->times.transferred = out->stream_base;
        qemu_file_shutdown(out->f);
        qemu_fclose(out->f, NULL);
        out->f = NULL;
    }
    g_mutex_unlock(&out->lock);
    MigrationStatus cur = migration_status(m);
    migrate_set_state(m, cur, MIGRATION_STATUS_POSTCOPY_PAUSED);
}
