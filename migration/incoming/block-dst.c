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
 * Locking: `bd->lock` guards the return path pointer and the attach
 * outcome, which the attach thread and the load thread both touch.
 */
#include "migration/incoming/block-dst.h"
#include "migration/context.h"
#include "migration/state.h"
#include "migration/format/return-path.h"
#include "migration/format/savevm.h"
#include "util/error.h"
#include "migration/log.h"

struct BlockDst {
    GMutex lock;
    GThread *thread;
    bool attaching;             /* lock: the thread runs */
    bool attached;              /* lock: the thread finished, successfully */
    GError *error;              /* lock: its failure */
    QEMUFile *rp;               /* lock */
    bool ack_sent;              /* lock */
    BlockDstFailFn on_failure;
};

BlockDst *block_dst_new(void)
{
    BlockDst *bd = g_new0(BlockDst, 1);

    g_mutex_init(&bd->lock);
    return bd;
}

void block_dst_free(BlockDst *bd)
{
    g_assert(!bd->thread);
    g_clear_error(&bd->error);
    g_mutex_clear(&bd->lock);
    g_free(bd);
}

/* Under bd->lock: acknowledge once the return path and the disks are ready. */
static void maybe_ack_locked(FerryMig *m)
{
    BlockDst *bd = m->block_dst;

    if (bd->ack_sent || !bd->rp || bd->attaching || bd->error ||
        !migrate_capability(m, MIGRATION_CAPABILITY_SWITCHOVER_ACK)) {
        return;
    }
    bd->ack_sent = true;
    rp_send(bd->rp, MIG_RP_MSG_SWITCHOVER_ACK, 0, NULL);
    mig_log("incoming migration: SWITCHOVER_ACK sent");
}

static gpointer attach_thread(gpointer opaque)
{
    FerryMig *m = opaque;
    BlockDst *bd = m->block_dst;
    GError *err = NULL;
    gint64 t0 = g_get_monotonic_time();
    bool ok = m->vmm.block_attach(m->opaque, &err);

    g_mutex_lock(&bd->lock);
    bd->attaching = false;
    bd->attached = ok;
    if (!ok) {
        g_prefix_error(&err, "attaching the disks failed: ");
        bd->error = g_error_copy(err);
    }
    maybe_ack_locked(m);
    g_mutex_unlock(&bd->lock);
    if (ok) {
        mig_log("incoming migration: disks attached early in %.1f ms",
                (g_get_monotonic_time() - t0) / 1000.0);
    } else {
        mig_log("incoming migration: %s", err->message);
        bd->on_failure(m, err);  /* takes err */
    }
    return NULL;
}

void block_dst_start(FerryMig *m, BlockDstFailFn on_failure)
{
    BlockDst *bd = m->block_dst;

    bd->on_failure = on_failure;
    if (!m->vmm.block_attach ||
        !migrate_capability(m, MIGRATION_CAPABILITY_EARLY_BLOCK_ATTACH)) {
        return;
    }
    g_mutex_lock(&bd->lock);
    bd->attaching = true;
    g_mutex_unlock(&bd->lock);
    bd->thread = g_thread_new("mig/attach", attach_thread, m);
}

void block_dst_rp_opened(FerryMig *m, QEMUFile *rp)
{
    BlockDst *bd = m->block_dst;

    g_mutex_lock(&bd->lock);
    bd->rp = rp;
    maybe_ack_locked(m);
    g_mutex_unlock(&bd->lock);
}

void block_dst_rp_closed(FerryMig *m)
{
    BlockDst *bd = m->block_dst;

    g_mutex_lock(&bd->lock);
    bd->rp = NULL;
    g_mutex_unlock(&bd->lock);
}

static bool wait_for_attach(BlockDst *bd, GError **errp)
{
    if (bd->thread) {
        g_thread_join(bd->thread);
        bd->thread = NULL;
    }
    g_mutex_lock(&bd->lock);
    bool ok = !bd->error;
    if (!ok) {
        g_propagate_error(errp, g_error_copy(bd->error));
    }
    g_mutex_unlock(&bd->lock);
    return ok;
}

bool block_dst_activate(FerryMig *m, bool autostart, GError **errp)
{
    BlockDst *bd = m->block_dst;
    gint64 t0 = g_get_monotonic_time();

    if (!wait_for_attach(bd, errp)) {
        return false;
    }
    if (!autostart &&
        migrate_capability(m, MIGRATION_CAPABILITY_LATE_BLOCK_ACTIVATE)) {
        return true;    /* `cont` activates */
    }
    if (!m->vmm.block_activate) {
        return true;
    }
    if (!m->vmm.block_activate(m->opaque, errp)) {
        g_prefix_error(errp, "activating the disks failed: ");
        return false;
    }
    mig_log("incoming migration: disks activated in %.1f ms%s",
            (g_get_monotonic_time() - t0) / 1000.0,
            bd->attached ? "" : " (attached now)");
    return true;
}

void block_dst_finish(FerryMig *m)
{
    BlockDst *bd = m->block_dst;

    if (bd->thread) {
        g_thread_join(bd->thread);
        bd->thread = NULL;
    }
    g_mutex_lock(&bd->lock);
    g_clear_error(&bd->error);
    bd->rp = NULL;
    bd->ack_sent = false;
    bd->attached = false;
    g_mutex_unlock(&bd->lock);
}
