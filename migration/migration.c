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
 * Locking: `lock` guards the flags the main thread sets (cancel,
 * continue) and `times`; the status itself changes only through
 * migrate_set_state().
 */
#include <errno.h>
#include <sys/eventfd.h>
#include "migration/channel.h"
#include "migration/migration.h"
#include "migration/outgoing.h"
#include "migration/ram.h"
#include "migration/return-path.h"
#include "migration/savevm.h"
#include "qapi/qapi-events.h"
#include "migration/throttle-policy.h"
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

typedef struct Outgoing {
    char *uri;
    GThread *thread;
    GMutex lock;
    GCond cond;
    bool cancel;                /* lock: migrate_cancel asked */
    bool continue_ok;           /* lock: migrate-continue received */
    QEMUFile *f;                /* lock: for cancel to shut it down */
    int cancel_fd;              /* eventfd: wakes a connect on cancel */
    ReturnPath rp;
    bool have_rp;
    bool stopped_vm;            /* we stopped a running guest */
    bool blocks_inactive;       /* we inactivated the disks */
    uint64_t last_pass_pending; /* what remained at the previous sync */
    uint64_t last_sync_count;
    CPUThrottleTrigger throttle;    /* auto-converge */
    MigrationTimes times;       /* lock */
} Outgoing;

static Outgoing out = { .cancel_fd = -1 };

static int64_t now_ms(void)
{
    return g_get_monotonic_time() / 1000;
}

static bool cancelled(void)
{
    g_mutex_lock(&out.lock);
    bool c = out.cancel;
    g_mutex_unlock(&out.lock);
    return c;
}

static void emit_passes(void)
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

static void record_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static void record_error(const char *fmt, ...)
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
    if (migrate_capability(MIGRATION_CAPABILITY_RETURN_PATH)) {
        QEMUFile *rp = qemu_file_get_return_path(f);
        if (!rp) {
            error_setg(errp, "capability return-path: '%s' has no reverse "
                       "direction", out.uri);
            return false;
        }
        savevm_put_command(f, MIG_CMD_OPEN_RETURN_PATH, 0, NULL);
        return_path_start(&out.rp, rp);
        out.have_rp = true;
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
            if (pending == 0 || (bps && ready_to_switch(pending, bps))) {
                return true;
            }
        }
    }
}

static bool wait_for_continue(GError **errp)
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
    if (!go || !migrate_set_state(s, MIGRATION_STATUS_PRE_SWITCHOVER,
                                  MIGRATION_STATUS_DEVICE)) {
        error_setg(errp, "cancelled");
        return false;
    }
    return true;
}

static bool switchover(GError **errp)
{
    const MigrationVMM *vmm = migration_vmm();
    MigrationState *s = migration_current();
    int64_t stop_at = now_ms();
    uint64_t before = qemu_file_transferred(out.f);

    out.stopped_vm = vmm->vm_running();
    if (!vmm->vm_stop(errp)) {
        return false;
    }
    out.blocks_inactive = vmm->block_inactivate != NULL;
    if (out.blocks_inactive && !vmm->block_inactivate(errp)) {
        return false;
    }
    if (migrate_capability(MIGRATION_CAPABILITY_PAUSE_BEFORE_SWITCHOVER)) {
        if (!wait_for_continue(errp)) {
            return false;
        }
        stop_at = now_ms();     /* the wait is the operator's, not downtime */
    } else if (!migrate_set_state(s, MIGRATION_STATUS_ACTIVE,
                                  MIGRATION_STATUS_DEVICE)) {
        error_setg(errp, "cancelled");
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
    if (out.have_rp) {
        return_path_stop(&out.rp);
        out.have_rp = false;
    }
    savevm_cleanup();
    g_mutex_lock(&out.lock);
    if (out.f) {
        out.times.transferred = qemu_file_transferred(out.f);
        qemu_fclose(out.f, NULL);
        out.f = NULL;
    }
    out.times.end_ms = now_ms();
    g_mutex_unlock(&out.lock);
    if (ok) {
        migration_vmm()->source_completed();
        migrate_set_state(s, MIGRATION_STATUS_DEVICE, MIGRATION_STATUS_COMPLETED);
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
    ok = ok && precopy(&err) && switchover(&err);
    finish(ok, err);
    return NULL;
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
    out.cancel = out.continue_ok = out.stopped_vm = out.blocks_inactive = false;
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
        t->transferred = qemu_file_transferred(out.f);
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
