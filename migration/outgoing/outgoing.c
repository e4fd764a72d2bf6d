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
#include "migration/transport/channel.h"
#include "migration/state.h"
#include "migration/outgoing/outgoing.h"
#include "migration/outgoing/outgoing-int.h"
#include "migration/ram/ram.h"
#include "migration/format/return-path.h"
#include "migration/format/savevm.h"
#include "qapi/qapi-events.h"
#include "migration/outgoing/throttle-policy.h"
#include "migration/vmm.h"
#include "util/error.h"
#include "util/log.h"

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

Outgoing out = { .cancel_fd = -1 };

int64_t now_ms(void)
{
    return g_get_monotonic_time() / 1000;
}

bool cancelled(void)
{
    g_mutex_lock(&out.lock);
    bool c = out.cancel;
    g_mutex_unlock(&out.lock);
    return c;
}

static bool postcopy_asked(void)
{
    g_mutex_lock(&out.lock);
    bool asked = out.start_postcopy;
    g_mutex_unlock(&out.lock);
    return asked;
}

/* Sleeps until the rate limit's window ends (a cancel wakes it). */
static void wait_rate_window(void)
{
    int64_t until = g_get_monotonic_time() +
                    qemu_file_rate_limit_ms_left(out.f) * 1000;

    g_mutex_lock(&out.lock);
    while (!out.cancel && !out.start_postcopy &&
           g_cond_wait_until(&out.cond, &out.lock, until)) {
    }
    g_mutex_unlock(&out.lock);
}

void emit_passes(void)
{
    RAMStats st;

    if (!ram_migration_stats(&st)) {
        return;
    }
    while (out.last_sync_count < st.dirty_sync_count) {
        out.last_sync_count++;
        if (migrate_capability(MIGRATION_CAPABILITY_EVENTS)) {
            qapi_event_send_migration_pass((int64_t)out.last_sync_count);
        }
    }
}

void record_error(const char *fmt, ...)
{
    MigrationState *s = migration_current();
    va_list ap;

    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    ferry_log("migration failed: %s", msg);
    g_free(s->error_desc);
    s->error_desc = g_steal_pointer(&msg);
}

static void on_page_request(const char *block, uint64_t offset, uint64_t len,
                            void *opaque)
{
    ram_postcopy_request(block, offset, len);
}

static bool open_stream(GError **errp)
{
    MigChannel *ch = mig_channel_connect_cancellable(out.uri, out.cancel_fd,
                                                     errp);

    if (!ch) {
        return false;
    }
    QEMUFile *f = qemu_file_new_output(ch);
    mig_channel_unref(ch);      /* the file holds its own reference */
    qemu_file_set_rate_limit(f, migration_current()->params.max_bandwidth);
    g_mutex_lock(&out.lock);
    out.f = f;
    g_mutex_unlock(&out.lock);
    savevm_put_header(f);
    bool postcopy = migrate_capability(MIGRATION_CAPABILITY_POSTCOPY_RAM);
    if (migrate_capability(MIGRATION_CAPABILITY_RETURN_PATH) || postcopy) {
        QEMUFile *rp = qemu_file_get_return_path(f);
        if (!rp) {
            error_setg(errp, "capability %s: '%s' has no reverse direction",
                       postcopy ? "postcopy-ram" : "return-path", out.uri);
            return false;
        }
        savevm_put_command(f, MIG_CMD_OPEN_RETURN_PATH, 0, NULL);
        return_path_start(&out.rp, rp, postcopy ? on_page_request : NULL,
                          NULL);
        out.have_rp = true;
    }
    if (postcopy) {
        uint8_t sizes[16] = { 0 };
        sizes[6] = sizes[14] = MIG_PAGE_SIZE >> 8;  /* be64 4096, twice */
        savevm_put_command(f, MIG_CMD_POSTCOPY_ADVISE, sizeof(sizes), sizes);
    }
    return true;
}

/* Bandwidth over the last window, in bytes/s. */
static uint64_t update_bandwidth(int64_t *win_start, uint64_t *win_bytes)
{
    int64_t t = now_ms();
    uint64_t sent = qemu_file_transferred(out.f);

    /* A window with little traffic (a pass just ended) says nothing. */
    if (t - *win_start >= BANDWIDTH_WINDOW_MS && sent - *win_bytes >= (1 << 20)) {
        uint64_t bps = (sent - *win_bytes) * 1000 / (uint64_t)(t - *win_start);
        g_mutex_lock(&out.lock);
        out.times.bandwidth_bps = bps;
        out.times.transferred = sent;
        uint64_t pending = savevm_pending(false);
        out.times.expected_downtime_ms = bps ? (int64_t)(pending * 1000 / bps)
                                             : 0;
        g_mutex_unlock(&out.lock);
        *win_start = t;
        *win_bytes = sent;
    }
    g_mutex_lock(&out.lock);
    uint64_t bps = out.times.bandwidth_bps;
    int64_t elapsed = t - out.times.start_ms;
    g_mutex_unlock(&out.lock);
    if (!bps && elapsed > 0) {
        bps = sent * 1000 / (uint64_t)elapsed;      /* the average so far */
    }
    return bps;
}

/* After a sync: is what remains (@pending bytes) worth a switchover now? */
static bool ready_to_switch(uint64_t pending, uint64_t bps)
{
    uint64_t limit = bps * migration_current()->params.downtime_limit / 1000;
    uint64_t aim = MIN(limit, bps * SWITCHOVER_AIM_MS / 1000);
    bool converging = pending < out.last_pass_pending / 100 * CONVERGING_PERCENT;

    out.last_pass_pending = pending;
    return pending <= aim || (pending <= limit && !converging);
}

/* auto-converge: after a sync, throttle the vCPUs (harder) if the guest
 * dirtied too much of what was sent since the last check. */
static void throttle_check(bool first)
{
    const MigrationParameters *p = &migration_current()->params;
    CPUThrottlePolicy policy = {
        .initial = p->cpu_throttle_initial,
        .increment = p->cpu_throttle_increment,
        .tailslow = p->cpu_throttle_tailslow,
        .max = p->max_cpu_throttle,
        .threshold = p->throttle_trigger_threshold,
    };
    uint64_t sent = qemu_file_transferred(out.f);
    RAMStats st;

    if (!migrate_capability(MIGRATION_CAPABILITY_AUTO_CONVERGE) ||
        !ram_migration_stats(&st)) {
        return;
    }
    if (first) {
        cpu_throttle_trigger_start(&out.throttle, now_ms(), sent,
                                   st.dirty_pages_found);
        return;
    }
    int pct = cpu_throttle_trigger(&out.throttle, &policy,
                                   migration_vmm()->vm_throttle_percent(),
                                   now_ms(), sent, st.dirty_pages_found,
                                   MIG_PAGE_SIZE);
    if (pct) {
        migration_vmm()->vm_throttle(pct);
    }
}

/*
 * switchover-ack: the destination says when it is ready (its disks are
 * attached).  Until then a converged precopy keeps sending what the guest
 * dirties, pausing briefly between passes instead of spinning.
 */
static bool switchover_acked(bool converged)
{
    if (!migrate_capability(MIGRATION_CAPABILITY_SWITCHOVER_ACK) ||
        !out.have_rp || return_path_switchover_acked(&out.rp)) {
        return true;
    }
    if (converged) {
        g_usleep(2000);
    }
    return return_path_switchover_acked(&out.rp);
}

/* Iterates until what is left fits the downtime limit; false on error. */
static bool precopy(GError **errp)
{
    int64_t win_start = now_ms();
    uint64_t win_bytes = qemu_file_transferred(out.f);

    throttle_check(true);

    for (;;) {
        char *rp_error = NULL;
        if (cancelled()) {
            error_setg(errp, "cancelled");
            return false;
        }
        if (postcopy_asked() && switchover_acked(false)) {
            out.postcopy = true;
            return true;
        }
        if (out.have_rp && return_path_failed(&out.rp, &rp_error)) {
            error_setg(errp, "%s", rp_error);
            g_free(rp_error);
            return false;
        }
        uint64_t bps = update_bandwidth(&win_start, &win_bytes);
        int ret = savevm_iterate(out.f);
        if (ret < 0) {
            error_setg(errp, "sending RAM failed: %s", g_strerror(-ret));
            return false;
        }
        if (ret == 1) {
            /* A pass is over: sync, and either switch over or go again. */
            uint64_t pending = savevm_pending(true);
            emit_passes();
            throttle_check(false);
            if ((pending == 0 || (bps && ready_to_switch(pending, bps))) &&
                switchover_acked(true)) {
                return true;
            }
        } else if (qemu_file_rate_limit_exceeded(out.f)) {
            wait_rate_window();
        }
    }
}

static bool wait_for_continue(MigrationStatus next, GError **errp)
{
    MigrationState *s = migration_current();

    if (!migrate_set_state(s, MIGRATION_STATUS_ACTIVE,
                           MIGRATION_STATUS_PRE_SWITCHOVER)) {
        error_setg(errp, "cancelled");
        return false;
    }
    g_mutex_lock(&out.lock);
    while (!out.continue_ok && !out.cancel) {
        g_cond_wait(&out.cond, &out.lock);
    }
    bool go = !out.cancel;
    g_mutex_unlock(&out.lock);
    if (!go || !migrate_set_state(s, MIGRATION_STATUS_PRE_SWITCHOVER, next)) {
        error_setg(errp, "cancelled");
        return false;
    }
    return true;
}

/*
 * Stops the guest and its disks, waits for migrate-continue if asked to,
 * and enters @next; *@stop_at is when the downtime started.
 */
bool stop_guest(MigrationStatus next, int64_t *stop_at, GError **errp)
{
    const MigrationVMM *vmm = migration_vmm();
    MigrationState *s = migration_current();

    *stop_at = now_ms();
    out.stopped_vm = vmm->vm_running();
    if (!vmm->vm_stop(errp)) {
        return false;
    }
    out.blocks_inactive = vmm->block_inactivate != NULL;
    if (out.blocks_inactive && !vmm->block_inactivate(errp)) {
        return false;
    }
    if (migrate_capability(MIGRATION_CAPABILITY_PAUSE_BEFORE_SWITCHOVER)) {
        if (!wait_for_continue(next, errp)) {
            return false;
        }
        *stop_at = now_ms();    /* the wait is the operator's, not downtime */
    } else if (!migrate_set_state(s, MIGRATION_STATUS_ACTIVE, next)) {
        error_setg(errp, "cancelled");
        return false;
    }
    return true;
}

static bool switchover(GError **errp)
{
    int64_t stop_at;
    uint64_t before = qemu_file_transferred(out.f);

    if (!stop_guest(MIGRATION_STATUS_DEVICE, &stop_at, errp)) {
        return false;
    }
    if (savevm_complete(out.f, errp) < 0) {
        return false;
    }
    emit_passes();
    char *rp_error = NULL;
    if (out.have_rp && !return_path_wait(&out.rp, &rp_error)) {
        error_setg(errp, "%s", rp_error);
        g_free(rp_error);
        return false;
    }
    g_mutex_lock(&out.lock);
    out.times.downtime_ms = now_ms() - stop_at;
    out.times.downtime_bytes = qemu_file_transferred(out.f) - before;
    out.times.precopy_bytes = before;
    g_mutex_unlock(&out.lock);
    return true;
}

static void finish(bool ok, GError *err)
{
    MigrationState *s = migration_current();
    g_autoptr(GError) local = NULL;

    migration_vmm()->vm_throttle(0);        /* whatever the outcome */
    if (!ok && out.run_sent) {
        postcopy_source_pause(err);
        return;
    }
    if (!ok) {
        /* Before RUN: make sure the destination sees the end at once. */
        g_mutex_lock(&out.lock);
        if (out.f) {
            qemu_file_shutdown(out.f);
        }
        g_mutex_unlock(&out.lock);
    }
    postcopy_close_preempt(false);
    if (out.have_rp) {
        return_path_stop(&out.rp);
        out.have_rp = false;
    }
    savevm_cleanup();
    g_mutex_lock(&out.lock);
    if (out.f) {
        out.times.transferred = out.stream_base + qemu_file_transferred(out.f);
        qemu_fclose(out.f, NULL);
        out.f = NULL;
    }
    out.times.end_ms = now_ms();
    g_mutex_unlock(&out.lock);
    if (ok) {
        migration_vmm()->source_completed();
        migrate_set_state(s, out.postcopy ? MIGRATION_STATUS_POSTCOPY_ACTIVE
                                          : MIGRATION_STATUS_DEVICE,
                          MIGRATION_STATUS_COMPLETED);
        return;
    }
    /* Before the switchover completed: the guest goes on here. */
    if (out.blocks_inactive && !migration_vmm()->block_activate(&local)) {
        ferry_log("migration: could not reactivate the disks: %s",
                  local->message);
        g_clear_error(&local);
    }
    if (out.stopped_vm && !migration_vmm()->vm_start(&local)) {
        ferry_log("migration: could not resume the guest: %s", local->message);
    }
    /* A cancel may race with a failure: settle on what the state says. */
    for (int tries = 0; tries < 3; tries++) {
        MigrationStatus cur = migration_status(s);
        if (cur == MIGRATION_STATUS_CANCELLING) {
            if (migrate_set_state(s, cur, MIGRATION_STATUS_CANCELLED)) {
                return;
            }
        } else {
            record_error("%s", err ? err->message : "unknown error");
            if (migrate_set_state(s, cur, MIGRATION_STATUS_FAILED)) {
                return;
            }
        }
    }
}

static gpointer migration_thread(gpointer opaque)
{
    MigrationState *s = migration_current();
    g_autoptr(GError) err = NULL;
    bool ok = open_stream(&err) && savevm_setup(out.f, &err) == 0;

    if (ok) {
        emit_passes();
        g_mutex_lock(&out.lock);
        out.times.setup_ms = now_ms() - out.times.start_ms;
        g_mutex_unlock(&out.lock);
        ok = migrate_set_state(s, MIGRATION_STATUS_SETUP, MIGRATION_STATUS_ACTIVE);
        if (!ok) {
            g_set_error(&err, FERRY_ERROR, FERRY_ERROR_GENERIC, "cancelled");
        }
    }
    ok = ok && precopy(&err) &&
         (out.postcopy ? postcopy_source_run(&err) : switchover(&err));
    finish(ok, err);
    return NULL;
}

static gpointer resume_thread(gpointer opaque)
{
    g_autoptr(GError) err = NULL;
    bool ok = postcopy_source_resume(&err);

    if (!ok) {
        g_prefix_error(&err, "postcopy recovery failed: ");
    }
    finish(ok, err);
    return NULL;
}

bool migration_outgoing_resume(const char *uri, GError **errp)
{
    MigrationState *s = migration_current();

    if (migration_status(s) != MIGRATION_STATUS_POSTCOPY_PAUSED || !out.run_sent) {
        error_setg(errp, "migrate: resume is for a paused postcopy migration, "
                   "and no migration is paused here (status %s)",
                   MigrationStatus_str(migration_status(s)));
        return false;
    }
    migration_outgoing_join();
    g_free(out.uri);
    out.uri = g_strdup(uri);
    g_mutex_lock(&out.lock);
    out.pause_asked = false;
    g_mutex_unlock(&out.lock);
    if (!migrate_set_state(s, MIGRATION_STATUS_POSTCOPY_PAUSED,
                           MIGRATION_STATUS_POSTCOPY_RECOVER_SETUP)) {
        error_setg(errp, "migrate: the migration moved on");
        return false;
    }
    eventfd_t stale;
    if (out.cancel_fd >= 0) {
        (void)!eventfd_read(out.cancel_fd, &stale);
    }
    out.thread = g_thread_new("mig/resume", resume_thread, NULL);
    return true;
}

bool migration_outgoing_start(const char *uri, GError **errp)
{
    MigrationState *s = migration_current();
    MigrationStatus cur = migration_status(s);

    if (migration_is_running(cur)) {
        error_setg(errp, "There's a migration process in progress");
        return false;
    }
    if (migration_vmm()->incoming_allowed(NULL)) {
        error_setg(errp, "Guest is waiting for an incoming migration");
        return false;
    }
    migration_outgoing_join();
    g_free(out.uri);
    out.uri = g_strdup(uri);
    if (migrate_capability(MIGRATION_CAPABILITY_POSTCOPY_PREEMPT) &&
        !g_str_has_prefix(uri, "tcp:") && !g_str_has_prefix(uri, "unix:")) {
        error_setg(errp, "postcopy-preempt needs a tcp: or unix: URI (it "
                   "opens a second connection), not '%s'", uri);
        return false;
    }
    out.cancel = out.continue_ok = out.stopped_vm = out.blocks_inactive = false;
    out.start_postcopy = out.postcopy = out.run_sent = false;
    out.pause_asked = false;
    out.stream_base = 0;
    out.last_sync_count = 0;
    out.last_pass_pending = UINT64_MAX;
    out.times = (MigrationTimes){ .start_ms = now_ms() };
    g_clear_pointer(&s->error_desc, g_free);
    if (!migrate_set_state(s, cur, MIGRATION_STATUS_SETUP)) {
        error_setg(errp, "cannot start a migration from state '%s'",
                   MigrationStatus_str(cur));
        return false;
    }
    if (out.cancel_fd < 0) {
        out.cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    }
    eventfd_t stale;    /* a cancel of the previous migration */
    if (out.cancel_fd >= 0) {
        (void)!eventfd_read(out.cancel_fd, &stale);
    }
    out.thread = g_thread_new("mig/source", migration_thread, NULL);
    return true;
}

bool migration_outgoing_cancel(GError **errp)
{
    MigrationState *s = migration_current();
    MigrationStatus cur = migration_status(s);

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
    if (!migrate_set_state(s, cur, MIGRATION_STATUS_CANCELLING)) {
        return true;    /* it finished meanwhile */
    }
    g_mutex_lock(&out.lock);
    out.cancel = true;
    g_cond_broadcast(&out.cond);
    if (out.cancel_fd >= 0 && eventfd_write(out.cancel_fd, 1) < 0) {
        ferry_log("migration: cannot signal the cancel: %s", g_strerror(errno));
    }
    if (out.f) {
        qemu_file_shutdown(out.f);      /* unblocks a blocked send */
    }
    if (out.preempt) {
        qemu_file_shutdown(out.preempt);
    }
    g_mutex_unlock(&out.lock);
    return true;
}

bool migration_outgoing_pause(GError **errp)
{
    MigrationStatus cur = migration_status(migration_current());

    if (cur != MIGRATION_STATUS_POSTCOPY_ACTIVE) {
        error_setg(errp, "migrate-pause is only possible in postcopy-active, "
                   "not in %s", MigrationStatus_str(cur));
        return false;
    }
    g_mutex_lock(&out.lock);
    out.pause_asked = true;
    if (out.f) {
        qemu_file_shutdown(out.f);      /* the return path shares it */
    }
    if (out.preempt) {
        qemu_file_shutdown(out.preempt);
    }
    g_mutex_unlock(&out.lock);
    return true;
}

bool migration_outgoing_start_postcopy(GError **errp)
{
    MigrationStatus cur = migration_status(migration_current());

    if (!migrate_capability(MIGRATION_CAPABILITY_POSTCOPY_RAM)) {
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
    g_mutex_lock(&out.lock);
    out.start_postcopy = true;
    g_cond_broadcast(&out.cond);
    g_mutex_unlock(&out.lock);
    return true;
}

bool migration_outgoing_continue(MigrationStatus state, GError **errp)
{
    MigrationStatus cur = migration_status(migration_current());

    if (cur != state) {
        error_setg(errp, "Migration not in expected state: %s",
                   MigrationStatus_str(cur));
        return false;
    }
    g_mutex_lock(&out.lock);
    out.continue_ok = true;
    g_cond_broadcast(&out.cond);
    g_mutex_unlock(&out.lock);
    return true;
}

void migration_outgoing_times(MigrationTimes *t)
{
    g_mutex_lock(&out.lock);
    *t = out.times;
    if (out.f) {
        t->transferred = out.stream_base + qemu_file_transferred(out.f);
    }
    g_mutex_unlock(&out.lock);
}

void migration_outgoing_join(void)
{
    if (out.thread) {
        g_thread_join(out.thread);
        out.thread = NULL;
    }
}
