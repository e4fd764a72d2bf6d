/*
 * The destination's disks during an incoming migration: Xen's early VBD
 * attach, with QEMU's switchover-ack.
 *
 * Attaching a disk (open, shared lock, connect a remote backend, warm its
 * cache) can take hundreds of milliseconds; inside the downtime the guest
 * pays for it.  With capability early-block-attach (on by default) the
 * attach runs on a thread of its own as soon as the incoming stream is
 * accepted, while precopy goes on.  With switchover-ack the source does
 * not stop the guest before this side sends SWITCHOVER_ACK, which it does
 * once every disk is attached; without it, a switchover that comes first
 * waits here for the rest of the attach.
 *
 * Activation (the exclusive write lock) comes after the device state
 * loaded and before SHUT tells the source it may consider itself done, so
 * a failure still lets the source re-activate its disks and go on; in
 * postcopy it comes after RUN.  With late-block-activate and -S it waits
 * for `cont`, as in QEMU.
 *
 * Locking: `bd.lock` guards the return path pointer and the attach
 * outcome, which the attach thread and the load thread both touch.
 */
#include "migration/incoming/block-dst.h"
#include "migration/state.h"
#include "migration/format/return-path.h"
#include "migration/format/savevm.h"
#include "migration/vmm.h"
#include "util/error.h"
#include "util/log.h"

static struct {
    GMutex lock;
    GThread *thread;
    bool attaching;             /* lock: the thread runs */
    bool attached;              /* lock: the thread finished, successfully */
    GError *error;              /* lock: its failure */
    QEMUFile *rp;               /* lock */
    bool ack_sent;              /* lock */
    BlockDstFailFn on_failure;
} bd;

/* Under bd.lock: acknowledge once the return path and the disks are ready. */
static void maybe_ack_locked(void)
{
    if (bd.ack_sent || !bd.rp || bd.attaching || bd.error ||
        !migrate_capability(MIGRATION_CAPABILITY_SWITCHOVER_ACK)) {
        return;
    }
    bd.ack_sent = true;
    rp_send(bd.rp, MIG_RP_MSG_SWITCHOVER_ACK, 0, NULL);
    ferry_log("incoming migration: SWITCHOVER_ACK sent");
}

static gpointer attach_thread(gpointer opaque)
{
    GError *err = NULL;
    gint64 t0 = g_get_monotonic_time();
    bool ok = migration_vmm()->block_attach(&err);

    g_mutex_lock(&bd.lock);
    bd.attaching = false;
    bd.attached = ok;
    if (!ok) {
        g_prefix_error(&err, "attaching the disks failed: ");
        bd.error = g_error_copy(err);
    }
    maybe_ack_locked();
    g_mutex_unlock(&bd.lock);
    if (ok) {
        ferry_log("incoming migration: disks attached early in %.1f ms",
                  (g_get_monotonic_time() - t0) / 1000.0);
    } else {
        ferry_log("incoming migration: %s", err->message);
        bd.on_failure(err);     /* takes err */
    }
    return NULL;
}

void block_dst_start(BlockDstFailFn on_failure)
{
    const MigrationVMM *vmm = migration_vmm();

    bd.on_failure = on_failure;
    if (!vmm->block_attach ||
        !migrate_capability(MIGRATION_CAPABILITY_EARLY_BLOCK_ATTACH)) {
        return;
    }
    g_mutex_lock(&bd.lock);
    bd.attaching = true;
    g_mutex_unlock(&bd.lock);
    bd.thread = g_thread_new("mig/attach", attach_thread, NULL);
}

void block_dst_rp_opened(QEMUFile *rp)
{
    g_mutex_lock(&bd.lock);
    bd.rp = rp;
    maybe_ack_locked();
    g_mutex_unlock(&bd.lock);
}

void block_dst_rp_closed(void)
{
    g_mutex_lock(&bd.lock);
    bd.rp = NULL;
    g_mutex_unlock(&bd.lock);
}

static bool wait_for_attach(GError **errp)
{
    if (bd.thread) {
        g_thread_join(bd.thread);
        bd.thread = NULL;
    }
    g_mutex_lock(&bd.lock);
    bool ok = !bd.error;
    if (!ok) {
        g_propagate_error(errp, g_error_copy(bd.error));
    }
    g_mutex_unlock(&bd.lock);
    return ok;
}

bool block_dst_activate(bool autostart, GError **errp)
{
    const MigrationVMM *vmm = migration_vmm();
    gint64 t0 = g_get_monotonic_time();

    if (!wait_for_attach(errp)) {
        return false;
    }
    if (!autostart &&
        migrate_capability(MIGRATION_CAPABILITY_LATE_BLOCK_ACTIVATE)) {
        return true;    /* `cont` activates */
    }
    if (!vmm->block_activate) {
        return true;
    }
    if (!vmm->block_activate(errp)) {
        g_prefix_error(errp, "activating the disks failed: ");
        return false;
    }
    ferry_log("incoming migration: disks activated in %.1f ms%s",
              (g_get_monotonic_time() - t0) / 1000.0,
              bd.attached ? "" : " (attached now)");
    return true;
}

void block_dst_finish(void)
{
    if (bd.thread) {
        g_thread_join(bd.thread);
        bd.thread = NULL;
    }
    g_mutex_lock(&bd.lock);
    g_clear_error(&bd.error);
    bd.rp = NULL;
    bd.ack_sent = false;
    bd.attached = false;
    g_mutex_unlock(&bd.lock);
}
