/*
 * The source side of a precopy migration.  One thread runs it start to
 * end; the main thread only starts it, asks it to cancel or continue, and
 * reads its counters.
 *
 *   setup:   connect, header, [OPEN_RETURN_PATH], RAM START section
 *   active:  RAM PART sections until what remains fits the downtime limit
 *            at the measured bandwidth
 *   [pre-switchover: guest stopped, wait for migrate-continue]
 *   device:  guest stopped; RAM END, device sections, EOF, vmdesc;
 *            with a return path, wait for the destination's SHUT
 *   completed (run state postmigrate), or failed / cancelled with the
 *   guest running again if it was running before.
 *
 * Postcopy (migrate-start-postcopy; docs/migration.md, "Postcopy"): the
 * guest stops, [pre-switchover,] postcopy-setup: discards and the device
 * state package go out and the source waits for the destination's
 * RUN_ACK, serving page requests; then RUN and postcopy-active, where the
 * rest of RAM goes out, requested pages first.  A failure before RUN
 * resumes the guest here; after RUN the migration pauses (the guest may
 * run on the destination), it never fails.
 *
 * Locking: `lock` guards the flags the main thread sets (cancel,
 * continue) and `times`; the status itself changes only through
 * migrate_set_state().
 */
#include <errno.h>
#include <sys/eventfd.h>
#include "migration/tls.h"
#include "migration/transport/channel.h"
#include "migration/state.h"
#include "migration/outgoing/outgoing.h"
#include "migration/outgoing/outgoing-int.h"
#include "migration/multifd/multifd.h"
#include "migration/ram/ram.h"
#include "migration/format/return-path.h"
#include "migration/format/savevm.h"
#include "migration/outgoing/throttle-policy.h"
#include "util/error.h"
#include "migration/log.h"

#define BANDWIDTH_WINDOW_MS 100
/*
 * QEMU switches over as soon as what remains fits downtime-limit.  ferry
 * keeps iterating while the passes still shrink what remains, and
 * switches over once it fits SWITCHOVER_AIM_MS, or fits the limit but
 * stopped shrinking: the downtime never exceeds the limit, and a guest
 * that converges pays a few milliseconds instead of the whole limit.
 */
#define SWITCHOVER_AIM_MS   5
#define CONVERGING_PERCENT  90

MigOutgoing *mig_outgoing_new(void)
{
    MigOutgoing *out = g_new0(MigOutgoing, 1);

    g_mutex_init(&out->lock);
    g_cond_init(&out->cond);
    out->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    out->ping_seq = 100;
    return out;
}

void mig_outgoing_free(MigOutgoing *out)
{
    g_free(out->uri);
    if (out->cancel_fd >= 0) {
        close(out->cancel_fd);
    }
    g_cond_clear(&out->cond);
    g_mutex_clear(&out->lock);
    g_free(out);
}

bool mig_out_cancelled(FerryMig *m)
{
    MigOutgoing *out = m->out;

    g_mutex_lock(&out->lock);
    bool c = out->cancel;
    g_mutex_unlock(&out->lock);
    return c;
}

static bool postcopy_asked(FerryMig *m)
{
    MigOutgoing *out = m->out;

    g_mutex_lock(&out->lock);
    bool asked = out->start_postcopy;
    g_mutex_unlock(&out->lock);
    return asked;
}

/* Sleeps until the rate limit's window ends (a cancel wakes it). */
static void wait_rate_window(FerryMig *m)
{
    MigOutgoing *out = m->out;
    int64_t until = g_get_monotonic_time() +
                    qemu_file_rate_limit_ms_left(out->f) * 1000;

    g_mutex_lock(&out->lock);
    while (!out->cancel && !out->start_postcopy &&
           g_cond_wait_until(&out->cond, &out->lock, until)) {
    }
    g_mutex_unlock(&out->lock);
}

uint64_t mig_out_transferred(FerryMig *m)
{
    return qemu_file_transferred(m->out->f) + multifd_send_bytes(m);
}

void mig_out_emit_passes(FerryMig *m)
{
    MigOutgoing *out = m->out;
    RAMStats st;

    if (!ram_migration_stats(m, &st)) {
        return;
    }
    while (out->last_sync_count < st.dirty_sync_count) {
        out->last_sync_count++;
        mig_emit(m, &(FerryMigEvent){ .kind = FERRY_MIG_EVENT_PASS,
                                      .pass = out->last_sync_count });
    }
}

void mig_out_record_error(FerryMig *m, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    mig_log("migration failed: %s", msg);
    mig_set_error(m, "%s", msg);
}

static void on_page_request(const char *block, uint64_t offset, uint64_t len,
                            void *opaque)
{
    ram_postcopy_request(opaque, block, offset, len);
}

void mig_out_start_return_path(FerryMig *m, QEMUFile *rp,
                               RPPageRequestFn on_request)
{
    if (on_request &&
        migrate_capability(m, MIGRATION_CAPABILITY_POSTCOPY_PREEMPT)) {
        return_path_start_realtime(&m->out->rp, rp, on_request, m);
    } else {
        return_path_start(&m->out->rp, rp, on_request, m);
    }
}

void mig_out_apply_rate_limit(FerryMig *m)
{
    MigOutgoing *out = m->out;

    MigrationParameters p;

    mig_params_get(m, &p);
    g_mutex_lock(&out->lock);
    if (out->f) {
        qemu_file_set_rate_limit(out->f, out->run_sent ?
                                 p.max_postcopy_bandwidth : p.max_bandwidth);
    }
    g_mutex_unlock(&out->lock);
}

MigChannel *mig_out_connect(FerryMig *m, GError **errp)
{
    MigOutgoing *out = m->out;
    MigChannel *ch = mig_channel_connect_cancellable(out->uri, out->cancel_fd,
                                                     &m->fds, errp);

    if (ch && !mig_tls_wrap(m, ch, errp)) {
        g_clear_pointer(&ch, mig_channel_unref);
    }
    return ch;
}

static bool open_stream(FerryMig *m, GError **errp)
{
    MigOutgoing *out = m->out;
    MigChannel *ch = mig_out_connect(m, errp);

    if (!ch) {
        return false;
    }
    QEMUFile *f = qemu_file_new_output(ch);
    mig_channel_unref(ch);      /* the file holds its own reference */
    g_mutex_lock(&out->lock);
    out->f = f;
    g_mutex_unlock(&out->lock);
    mig_out_apply_rate_limit(m);
    savevm_put_header(f);
    bool postcopy = migrate_capability(m, MIGRATION_CAPABILITY_POSTCOPY_RAM);
    if (migrate_capability(m, MIGRATION_CAPABILITY_RETURN_PATH) || postcopy) {
        QEMUFile *rp = qemu_file_get_return_path(f);
        if (!rp) {
            error_setg(errp, "capability %s: '%s' has no reverse direction",
                       postcopy ? "postcopy-ram" : "return-path", out->uri);
            return false;
        }
        savevm_put_command(f, MIG_CMD_OPEN_RETURN_PATH, 0, NULL);
        mig_out_start_return_path(m, rp, postcopy ? on_page_request : NULL);
        out->have_rp = true;
    }
    if (postcopy) {
        uint8_t sizes[16] = { 0 };
        sizes[6] = sizes[14] = MIG_PAGE_SIZE >> 8;  /* be64 4096, twice */
        savevm_put_command(f, MIG_CMD_POSTCOPY_ADVISE, sizeof(sizes), sizes);
    }
    return true;
}

/* Bandwidth over the last window, in bytes/s. */
static uint64_t update_bandwidth(FerryMig *m, int64_t *win_start,
                                 uint64_t *win_bytes)
{
    MigOutgoing *out = m->out;
    int64_t t = mig_now_ms();
    uint64_t sent = mig_out_transferred(m);

    /* A window with little traffic (a pass just ended) says nothing. */
    if (t - *win_start >= BANDWIDTH_WINDOW_MS && sent - *win_bytes >= (1 << 20)) {
        uint64_t bps = (sent - *win_bytes) * 1000 / (uint64_t)(t - *win_start);
        g_mutex_lock(&out->lock);
        out->times.bandwidth_bps = bps;
        out->times.transferred = sent;
        uint64_t pending = savevm_pending(&m->saved, false);
        out->times.expected_downtime_ms = bps ? (int64_t)(pending * 1000 / bps)
                                             : 0;
        g_mutex_unlock(&out->lock);
        *win_start = t;
        *win_bytes = sent;
    }
    g_mutex_lock(&out->lock);
    uint64_t bps = out->times.bandwidth_bps;
    int64_t elapsed = t - out->times.start_ms;
    g_mutex_unlock(&out->lock);
    if (!bps && elapsed > 0) {
        bps = sent * 1000 / (uint64_t)elapsed;      /* the average so far */
    }
    return bps;
}

/* After a sync: is what remains (@pending bytes) worth a switchover now? */
static bool ready_to_switch(FerryMig *m, uint64_t pending, uint64_t bps)
{
    MigOutgoing *out = m->out;
    MigrationParameters p;

    mig_params_get(m, &p);
    uint64_t limit = bps * p.downtime_limit / 1000;
    uint64_t aim = MIN(limit, bps * SWITCHOVER_AIM_MS / 1000);
    bool converging = pending < out->last_pass_pending / 100 * CONVERGING_PERCENT;

    out->last_pass_pending = pending;
    return pending <= aim || (pending <= limit && !converging);
}

/* auto-converge: after a sync, throttle the vCPUs (harder) if the guest
 * dirtied too much of what was sent since the last check. */
static void throttle_check(FerryMig *m, bool first)
{
    MigOutgoing *out = m->out;
    MigrationParameters p;

    mig_params_get(m, &p);
    CPUThrottlePolicy policy = {
        .initial = p.cpu_throttle_initial,
        .increment = p.cpu_throttle_increment,
        .tailslow = p.cpu_throttle_tailslow,
        .max = p.max_cpu_throttle,
        .threshold = p.throttle_trigger_threshold,
    };
    uint64_t sent = mig_out_transferred(m);
    RAMStats st;

    if (!migrate_capability(m, MIGRATION_CAPABILITY_AUTO_CONVERGE) ||
        !m->vmm.vm_throttle || !ram_migration_stats(m, &st)) {
        return;
    }
    if (first) {
        cpu_throttle_trigger_start(&out->throttle, mig_now_ms(), sent,
                                   st.dirty_pages_found);
        return;
    }
    int pct = cpu_throttle_trigger(&out->throttle, &policy,
                                   m->vmm.vm_throttle_percent(m->opaque),
                                   mig_now_ms(), sent, st.dirty_pages_found,
                                   MIG_PAGE_SIZE);
    if (pct) {
        m->vmm.vm_throttle(m->opaque, pct);
    }
}

/*
 * switchover-ack: the destination says when it is ready (its disks are
 * attached).  Until then a converged precopy keeps sending what the guest
 * dirties, pausing briefly between passes instead of spinning.
 */
static bool switchover_acked(FerryMig *m, bool converged)
{
    MigOutgoing *out = m->out;

    if (!migrate_capability(m, MIGRATION_CAPABILITY_SWITCHOVER_ACK) ||
        !out->have_rp || return_path_switchover_acked(&out->rp)) {
        return true;
    }
    if (converged) {
        g_usleep(2000);
    }
    return return_path_switchover_acked(&out->rp);
}

/* Iterates until what is left fits the downtime limit; false on error. */
/* True, with @errp set, once the return path broke (the destination
 * went away while nothing is being sent). */
static bool return_path_lost(FerryMig *m, GError **errp)
{
    char *why = NULL;

    if (!m->out->have_rp || !return_path_failed(&m->out->rp, &why)) {
        return false;
    }
    error_setg(errp, "%s", why);
    g_free(why);
    return true;
}

static bool precopy(FerryMig *m, GError **errp)
{
    MigOutgoing *out = m->out;
    int64_t win_start = mig_now_ms();
    uint64_t win_bytes = mig_out_transferred(m);

    throttle_check(m, true);

    for (;;) {
        if (mig_out_cancelled(m)) {
            error_setg(errp, "cancelled");
            return false;
        }
        if (postcopy_asked(m) && switchover_acked(m, false)) {
            out->postcopy = true;
            return true;
        }
        if (return_path_lost(m, errp)) {
            return false;
        }
        uint64_t bps = update_bandwidth(m, &win_start, &win_bytes);
        int ret = savevm_iterate(&m->saved, out->f);
        if (ret < 0) {
            if (!multifd_send_error(m, errp)) {
                error_setg(errp, "sending RAM failed: %s", g_strerror(-ret));
            }
            return false;
        }
        if (ret == 1) {
            /* A pass is over: sync, and either switch over or go again. */
            uint64_t pending = savevm_pending(&m->saved, true);
            mig_out_emit_passes(m);
            throttle_check(m, false);
            if ((pending == 0 || (bps && ready_to_switch(m, pending, bps))) &&
                switchover_acked(m, true)) {
                return true;
            }
        } else if (qemu_file_rate_limit_exceeded(out->f)) {
            wait_rate_window(m);
        }
    }
}

static bool wait_for_continue(FerryMig *m, MigrationStatus next,
                              GError **errp)
{
    MigOutgoing *out = m->out;

    if (!migrate_set_state(m, MIGRATION_STATUS_ACTIVE,
                           MIGRATION_STATUS_PRE_SWITCHOVER)) {
        error_setg(errp, "cancelled");
        return false;
    }
    GError *lost = NULL;

    g_mutex_lock(&out->lock);
    while (!out->continue_ok && !out->cancel && !return_path_lost(m, &lost)) {
        /* the return path has a lock of its own: look at it every 100 ms
         * rather than tie the two together */
        g_cond_wait_until(&out->cond, &out->lock,
                          g_get_monotonic_time() + 100 * G_TIME_SPAN_MILLISECOND);
    }
    bool go = !out->cancel;
    g_mutex_unlock(&out->lock);
    if (lost) {
        g_propagate_error(errp, lost);
        return false;   /* the destination is gone: the source resumes */
    }
    if (!go || !migrate_set_state(m, MIGRATION_STATUS_PRE_SWITCHOVER, next)) {
        error_setg(errp, "cancelled");
        return false;
    }
    return true;
}

/*
 * Stops the guest and its disks, waits for migrate-continue if asked to,
 * and enters @next; *@stop_at is when the downtime started.
 */
bool mig_out_stop_guest(FerryMig *m, MigrationStatus next, int64_t *stop_at,
                        GError **errp)
{
    MigOutgoing *out = m->out;

    *stop_at = mig_now_ms();
    out->stopped_vm = m->vmm.vm_running(m->opaque);
    if (!m->vmm.vm_stop(m->opaque, errp)) {
        return false;
    }
    out->blocks_inactive = m->vmm.block_inactivate != NULL;
    if (out->blocks_inactive && !m->vmm.block_inactivate(m->opaque, errp)) {
        return false;
    }
    if (migrate_capability(m, MIGRATION_CAPABILITY_PAUSE_BEFORE_SWITCHOVER)) {
        if (!wait_for_continue(m, next, errp)) {
            return false;
        }
        *stop_at = mig_now_ms();    /* the wait is the operator's, not downtime */
    } else if (!migrate_set_state(m, MIGRATION_STATUS_ACTIVE, next)) {
        error_setg(errp, "cancelled");
        return false;
    }
    return true;
}

static bool switchover(FerryMig *m, GError **errp)
{
    MigOutgoing *out = m->out;
    int64_t stop_at;
    uint64_t before = mig_out_transferred(m);

    if (!mig_out_stop_guest(m, MIGRATION_STATUS_DEVICE, &stop_at, errp)) {
        return false;
    }
    if (savevm_complete(&m->saved, out->f, errp) < 0) {
        g_autoptr(GError) channel_err = NULL;
        if (multifd_send_error(m, &channel_err)) {
            g_clear_error(errp);
            g_propagate_error(errp, g_steal_pointer(&channel_err));
        }
        return false;
    }
    mig_out_emit_passes(m);
    char *rp_error = NULL;
    if (out->have_rp && !return_path_wait(&out->rp, &rp_error)) {
        error_setg(errp, "%s", rp_error);
        g_free(rp_error);
        return false;
    }
    g_mutex_lock(&out->lock);
    out->times.downtime_ms = mig_now_ms() - stop_at;
    out->times.downtime_bytes = mig_out_transferred(m) - before;
    out->times.precopy_bytes = before;
    g_mutex_unlock(&out->lock);
    return true;
}

static void finish(FerryMig *m, bool ok, GError *err)
{
    MigOutgoing *out = m->out;
    g_autoptr(GError) local = NULL;

    if (m->vmm.vm_throttle) {
        m->vmm.vm_throttle(m->opaque, 0);   /* whatever the outcome */
    }
    if (!ok && out->run_sent) {
        postcopy_source_pause(m, err);
        return;
    }
    if (!ok) {
        /* Before RUN: make sure the destination sees the end at once. */
        g_mutex_lock(&out->lock);
        if (out->f) {
            qemu_file_shutdown(out->f);
        }
        g_mutex_unlock(&out->lock);
    }
    if (!ok) {
        multifd_send_shutdown(m);   /* a channel may be blocked sending */
    }
    postcopy_close_preempt(m, false);
    if (out->have_rp) {
        return_path_stop(&out->rp);
        out->have_rp = false;
    }
    savevm_cleanup(&m->saved);
    g_mutex_lock(&out->lock);
    if (out->f) {
        out->times.transferred = out->stream_base + mig_out_transferred(m);
        qemu_fclose(out->f, NULL);
        out->f = NULL;
    }
    out->times.end_ms = mig_now_ms();
    g_mutex_unlock(&out->lock);
    if (ok) {
        m->vmm.source_completed(m->opaque);
        migrate_set_state(m, out->postcopy ? MIGRATION_STATUS_POSTCOPY_ACTIVE
                                          : MIGRATION_STATUS_DEVICE,
                          MIGRATION_STATUS_COMPLETED);
        /* After 'completed': the guest runs there already, and a new
         * migration joins this thread first. */
        ram_save_stop_log(m);
        return;
    }
    ram_save_stop_log(m);
    /* Before the switchover completed: the guest goes on here. */
    if (out->blocks_inactive && !m->vmm.block_activate(m->opaque, &local)) {
        mig_log("migration: could not reactivate the disks: %s",
                local->message);
        g_clear_error(&local);
    }
    if (out->stopped_vm && !m->vmm.vm_start(m->opaque, &local)) {
        mig_log("migration: could not resume the guest: %s", local->message);
    }
    /* A cancel may race with a failure: settle on what the state says. */
    for (int tries = 0; tries < 3; tries++) {
        MigrationStatus cur = migration_status(m);
        if (cur == MIGRATION_STATUS_CANCELLING) {
            if (migrate_set_state(m, cur, MIGRATION_STATUS_CANCELLED)) {
                return;
            }
        } else {
            mig_out_record_error(m, "%s", err ? err->message
                                              : "unknown error");
            if (migrate_set_state(m, cur, MIGRATION_STATUS_FAILED)) {
                return;
            }
        }
    }
}

static gpointer migration_thread(gpointer opaque)
{
    FerryMig *m = opaque;
    MigOutgoing *out = m->out;
    g_autoptr(GError) err = NULL;
    bool ok = open_stream(m, &err) &&
              savevm_setup(&m->saved, out->f, &err) == 0;

    if (ok) {
        mig_out_emit_passes(m);
        g_mutex_lock(&out->lock);
        out->times.setup_ms = mig_now_ms() - out->times.start_ms;
        g_mutex_unlock(&out->lock);
        ok = migrate_set_state(m, MIGRATION_STATUS_SETUP, MIGRATION_STATUS_ACTIVE);
        if (!ok) {
            g_set_error(&err, FERRY_ERROR, FERRY_ERROR_GENERIC, "cancelled");
        }
    }
    ok = ok && precopy(m, &err) &&
         (out->postcopy ? postcopy_source_run(m, &err) : switchover(m, &err));
    finish(m, ok, err);
    return NULL;
}

static gpointer resume_thread(gpointer opaque)
{
    FerryMig *m = opaque;
    g_autoptr(GError) err = NULL;
    bool ok = postcopy_source_resume(m, &err);

    if (!ok) {
        g_prefix_error(&err, "postcopy recovery failed: ");
    }
    finish(m, ok, err);
    return NULL;
}

bool ferry_mig_resume(FerryMig *m, const char *uri, GError **errp)
{
    MigOutgoing *out = m->out;

    if (migration_status(m) != MIGRATION_STATUS_POSTCOPY_PAUSED || !out->run_sent) {
        error_setg(errp, "migrate: resume is for a paused postcopy migration, "
                   "and no migration is paused here (status %s)",
                   MigrationStatus_str(migration_status(m)));
        return false;
    }
    if (!mig_tls_prepare(m, uri, true, errp)) {
        return false;
    }
    mig_outgoing_join(m);
    g_free(out->uri);
    out->uri = g_strdup(uri);
    g_mutex_lock(&out->lock);
    out->pause_asked = false;
    g_mutex_unlock(&out->lock);
    if (!migrate_set_state(m, MIGRATION_STATUS_POSTCOPY_PAUSED,
                           MIGRATION_STATUS_POSTCOPY_RECOVER_SETUP)) {
        error_setg(errp, "migrate: the migration moved on");
        return false;
    }
    eventfd_t stale;
    if (out->cancel_fd >= 0) {
        (void)!eventfd_read(out->cancel_fd, &stale);
    }
    out->thread = g_thread_new("mig/resume", resume_thread, m);
    return true;
}

bool ferry_mig_start(FerryMig *m, const char *uri, GError **errp)
{
    MigOutgoing *out = m->out;
    MigrationStatus cur = migration_status(m);

    if (migration_is_running(cur)) {
        error_setg(errp, "There's a migration process in progress");
        return false;
    }
    if (m->vmm.incoming_allowed(m->opaque, NULL)) {
        error_setg(errp, "Guest is waiting for an incoming migration");
        return false;
    }
    if (!mig_tls_prepare(m, uri, true, errp)) {
        return false;
    }
    mig_outgoing_join(m);
    g_free(out->uri);
    out->uri = g_strdup(uri);
    if (migrate_capability(m, MIGRATION_CAPABILITY_POSTCOPY_PREEMPT) &&
        !g_str_has_prefix(uri, "tcp:") && !g_str_has_prefix(uri, "unix:")) {
        error_setg(errp, "postcopy-preempt needs a tcp: or unix: URI (it "
                   "opens a second connection), not '%s'", uri);
        return false;
    }
    if (migrate_capability(m, MIGRATION_CAPABILITY_MULTIFD) &&
        !multifd_uri_ok(uri, errp)) {
        return false;
    }
    if (!mig_zero_copy_check_start(m, uri, errp)) {
        return false;
    }
    out->cancel = out->continue_ok = out->stopped_vm = out->blocks_inactive = false;
    out->start_postcopy = out->postcopy = out->run_sent = false;
    out->pause_asked = false;
    out->stream_base = 0;
    out->last_sync_count = 0;
    out->last_pass_pending = UINT64_MAX;
    out->times = (MigrationTimes){ .start_ms = mig_now_ms() };
    mig_clear_error(m);
    if (!migrate_set_state(m, cur, MIGRATION_STATUS_SETUP)) {
        error_setg(errp, "cannot start a migration from state '%s'",
                   MigrationStatus_str(cur));
        return false;
    }
    eventfd_t stale;    /* a cancel of the previous migration */
    if (out->cancel_fd >= 0) {
        (void)!eventfd_read(out->cancel_fd, &stale);
    }
    out->thread = g_thread_new("mig/source", migration_thread, m);
    return true;
}

bool ferry_mig_cancel(FerryMig *m, GError **errp)
{
    MigOutgoing *out = m->out;
    MigrationStatus cur = migration_status(m);

    if (!migration_is_running(cur) || cur == MIGRATION_STATUS_CANCELLING) {
        return true;    /* QEMU: cancelling nothing is not an error */
    }
    if (cur == MIGRATION_STATUS_POSTCOPY_ACTIVE ||
        cur == MIGRATION_STATUS_POSTCOPY_PAUSED ||
        cur == MIGRATION_STATUS_POSTCOPY_RECOVER_SETUP ||
        cur == MIGRATION_STATUS_POSTCOPY_RECOVER) {
        error_setg(errp, "Postcopy migration in progress (%s): it cannot be "
                   "cancelled, the guest may already run on the destination; "
                   "use migrate-pause and recover instead",
                   MigrationStatus_str(cur));
        return false;
    }
    if (!migrate_set_state(m, cur, MIGRATION_STATUS_CANCELLING)) {
        return true;    /* it finished meanwhile */
    }
    g_mutex_lock(&out->lock);
    out->cancel = true;
    g_cond_broadcast(&out->cond);
    if (out->cancel_fd >= 0 && eventfd_write(out->cancel_fd, 1) < 0) {
        mig_log("migration: cannot signal the cancel: %s", g_strerror(errno));
    }
    if (out->f) {
        qemu_file_shutdown(out->f);      /* unblocks a blocked send */
    }
    if (out->preempt) {
        qemu_file_shutdown(out->preempt);
    }
    g_mutex_unlock(&out->lock);
    multifd_send_shutdown(m);
    return true;
}

bool mig_outgoing_pause(FerryMig *m, GError **errp)
{
    MigOutgoing *out = m->out;
    MigrationStatus cur = migration_status(m);

    if (cur != MIGRATION_STATUS_POSTCOPY_ACTIVE) {
        error_setg(errp, "migrate-pause is only possible in postcopy-active, "
                   "not in %s", MigrationStatus_str(cur));
        return false;
    }
    g_mutex_lock(&out->lock);
    out->pause_asked = true;
    if (out->f) {
        qemu_file_shutdown(out->f);      /* the return path shares it */
    }
    if (out->preempt) {
        qemu_file_shutdown(out->preempt);
    }
    g_mutex_unlock(&out->lock);
    return true;
}

bool ferry_mig_start_postcopy(FerryMig *m, GError **errp)
{
    MigOutgoing *out = m->out;
    MigrationStatus cur = migration_status(m);

    if (!migrate_capability(m, MIGRATION_CAPABILITY_POSTCOPY_RAM)) {
        error_setg(errp, "Enable postcopy with migrate_set_capability before "
                   "the start of migration");
        return false;
    }
    if (cur == MIGRATION_STATUS_NONE) {
        error_setg(errp, "Postcopy must be started after migration has been "
                   "started");
        return false;
    }
    if (cur != MIGRATION_STATUS_SETUP && cur != MIGRATION_STATUS_ACTIVE) {
        return true;    /* QEMU: harmless once the migration moved on */
    }
    g_mutex_lock(&out->lock);
    out->start_postcopy = true;
    g_cond_broadcast(&out->cond);
    g_mutex_unlock(&out->lock);
    return true;
}

bool ferry_mig_continue(FerryMig *m, MigrationStatus state, GError **errp)
{
    MigOutgoing *out = m->out;
    MigrationStatus cur = migration_status(m);

    if (cur != state) {
        error_setg(errp, "Migration not in expected state: %s",
                   MigrationStatus_str(cur));
        return false;
    }
    g_mutex_lock(&out->lock);
    out->continue_ok = true;
    g_cond_broadcast(&out->cond);
    g_mutex_unlock(&out->lock);
    return true;
}

void mig_outgoing_times(FerryMig *m, MigrationTimes *t)
{
    MigOutgoing *out = m->out;

    g_mutex_lock(&out->lock);
    *t = out->times;
    if (out->f) {
        t->transferred = out->stream_base + mig_out_transferred(m);
    }
    g_mutex_unlock(&out->lock);
}

void mig_outgoing_join(FerryMig *m)
{
    MigOutgoing *out = m->out;

    if (out->thread) {
        g_thread_join(out->thread);
        out->thread = NULL;
    }
}
