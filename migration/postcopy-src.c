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
#include "migration/channel.h"
#include "migration/migration.h"
#include "outgoing-int.h"
#include "migration/ram.h"
#include "migration/savevm.h"
#include "util/error.h"

static bool rp_check(GError **errp)
{
    char *rp_error = NULL;

    if (return_path_failed(&out.rp, &rp_error)) {
        error_setg(errp, "%s", rp_error);
        g_free(rp_error);
        return false;
    }
    return true;
}

/* postcopy-preempt: a second connection for the requested pages. */
static bool open_preempt(GError **errp)
{
    MigChannel *ch = mig_channel_connect_cancellable(out.uri, out.cancel_fd,
                                                     errp);
    if (!ch) {
        g_prefix_error(errp, "postcopy-preempt channel: ");
        return false;
    }
    QEMUFile *f = qemu_file_new_output(ch);
    mig_channel_unref(ch);
    g_mutex_lock(&out.lock);
    out.preempt = f;
    g_mutex_unlock(&out.lock);
    return true;
}

void postcopy_close_preempt(bool flush_eos)
{
    ram_postcopy_stop_urgent();
    g_mutex_lock(&out.lock);
    QEMUFile *f = g_steal_pointer(&out.preempt);
    g_mutex_unlock(&out.lock);
    if (f && flush_eos) {
        qemu_put_be64(f, RAM_SAVE_FLAG_EOS);
        qemu_fflush(f);
    }
    if (f) {
        qemu_fclose(f, NULL);
    }
}

/*
 * postcopy-setup: waits for RUN_ACK, serving page requests meanwhile (the
 * device state may touch RAM the destination lacks); false on a failure
 * or when postcopy-setup-timeout runs out.
 */
static bool wait_run_ack(GError **errp)
{
    int64_t start = g_get_monotonic_time();
    int64_t deadline = start +
        (int64_t)migration_current()->params.postcopy_setup_timeout * 1000;
    uint64_t seen = 0;

    for (;;) {
        if (cancelled()) {
            error_setg(errp, "cancelled");
            return false;
        }
        if (ram_postcopy_pending_requests() &&
            savevm_postcopy_urgent(out.f) < 0) {
            error_setg(errp, "sending requested pages failed");
            return false;
        }
        if (return_path_run_acked(&out.rp)) {
            g_mutex_lock(&out.lock);
            out.times.run_ack_us = g_get_monotonic_time() - start;
            g_mutex_unlock(&out.lock);
            return true;
        }
        if (!rp_check(errp)) {
            return false;
        }
        if (g_get_monotonic_time() >= deadline) {
            error_setg(errp, "no RUN_ACK from the destination within "
                       "postcopy-setup-timeout (%" G_GUINT64_FORMAT " ms)",
                       migration_current()->params.postcopy_setup_timeout);
            return false;
        }
        seen = return_path_wait_event(&out.rp, seen, MIN(deadline,
                                      g_get_monotonic_time() + 100000));
    }
}

/* RUN: from here on the guest may run there, so never again here. */
static bool send_run(GError **errp)
{
    if (!migrate_set_state(migration_current(), MIGRATION_STATUS_POSTCOPY_SETUP,
                           MIGRATION_STATUS_POSTCOPY_ACTIVE)) {
        error_setg(errp, "cancelled");
        return false;
    }
    out.run_sent = true;
    savevm_put_command(out.f, MIG_CMD_POSTCOPY_RUN, 0, NULL);
    qemu_fflush(out.f);
    if (qemu_file_get_error(out.f)) {
        error_setg(errp, "sending POSTCOPY_RUN failed");
        return false;
    }
    return true;
}

/* postcopy-active: the rest of RAM, requested pages first. */
static bool postcopy_send_rest(GError **errp)
{
    uint64_t seen = 0;

    for (;;) {
        if (!rp_check(errp)) {
            return false;
        }
        int ret = savevm_iterate(out.f);
        if (ret < 0) {
            error_setg(errp, "sending RAM failed: %s", g_strerror(-ret));
            return false;
        }
        if (ret == 1) {
            return true;
        }
        if (qemu_file_rate_limit_exceeded(out.f)) {
            /* Requested pages do not wait for the window. */
            int64_t until = g_get_monotonic_time() +
                            qemu_file_rate_limit_ms_left(out.f) * 1000;
            seen = return_path_wait_event(&out.rp, seen, until);
            if (ram_postcopy_pending_requests() &&
                savevm_postcopy_urgent(out.f) < 0) {
                error_setg(errp, "sending requested pages failed");
                return false;
            }
        }
    }
}

bool postcopy_source_run(GError **errp)
{
    const MigrationParameters *p = &migration_current()->params;
    int64_t stop_at;
    uint64_t before = qemu_file_transferred(out.f);

    if (!stop_guest(MIGRATION_STATUS_POSTCOPY_SETUP, &stop_at, errp)) {
        return false;
    }
    if (migrate_capability(MIGRATION_CAPABILITY_POSTCOPY_PREEMPT) &&
        !open_preempt(errp)) {
        return false;
    }
    if (ram_postcopy_send_discards(out.f) < 0) {
        error_setg(errp, "sending the discard list failed");
        return false;
    }
    ram_postcopy_start(out.preempt);
    if (savevm_send_package(out.f, errp) < 0 || !wait_run_ack(errp) ||
        !send_run(errp)) {
        return false;
    }
    emit_passes();      /* the final sync counts, as in QEMU */
    g_mutex_lock(&out.lock);
    out.times.downtime_ms = now_ms() - stop_at;
    out.times.downtime_bytes = qemu_file_transferred(out.f) - before;
    out.times.precopy_bytes = before;
    g_mutex_unlock(&out.lock);
    qemu_file_set_rate_limit(out.f, p->max_postcopy_bandwidth);
    if (!postcopy_send_rest(errp)) {
        return false;
    }
    postcopy_close_preempt(true);
    if (savevm_complete_postcopy(out.f, errp) < 0) {
        return false;
    }
    emit_passes();
    char *rp_error = NULL;
    if (!return_path_wait(&out.rp, &rp_error)) {
        error_setg(errp, "%s", rp_error);
        g_free(rp_error);
        return false;
    }
    return true;
}

/* After RUN: both sides halt; recovery (migrate-recover) resumes. */
void postcopy_source_pause(GError *err)
{
    MigrationState *s = migration_current();

    record_error("%s", err ? err->message : "unknown error");
    postcopy_close_preempt(false);
    if (out.have_rp) {
        return_path_stop(&out.rp);
        out.have_rp = false;
    }
    g_mutex_lock(&out.lock);
    if (out.f) {
        out.times.transferred = qemu_file_transferred(out.f);
        qemu_file_shutdown(out.f);
        qemu_fclose(out.f, NULL);
        out.f = NULL;
    }
    g_mutex_unlock(&out.lock);
    migrate_set_state(s, MIGRATION_STATUS_POSTCOPY_ACTIVE,
                      MIGRATION_STATUS_POSTCOPY_PAUSED);
}
