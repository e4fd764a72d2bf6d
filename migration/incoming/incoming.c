/*
 * The destination side: listen, load the stream in a thread of its own,
 * answer the source on the return path, then (on the main thread) run the
 * guest, or leave it paused with -S.  A failed load never runs the guest.
 *
 * Postcopy (docs/migration.md, "Postcopy"): the package of device state
 * is loaded by a thread of its own (mig/package) while the incoming
 * thread keeps reading pages, because loading may fault on RAM that has
 * not arrived.  Once the package loaded, RUN_ACK goes to the source and
 * the guest waits for MIG_CMD_POSTCOPY_RUN; a failure before RUN_ACK
 * fails the migration as in precopy, a failure after it pauses.
 *
 * Locking: the context's MigIncoming (m->inc) is written by the main
 * thread (the thread of the context's GMainContext) before the load
 * thread starts; the postcopy flags are atomics or under inc->lock;
 * outcomes go back to the main thread as sources on that context
 * (mig_run_on_main).
 */
#include <errno.h>
#include "migration/incoming/block-dst.h"
#include "migration/transport/channel.h"
#include "migration/incoming/incoming.h"
#include "migration/context.h"
#include "migration/state.h"
#include "migration/incoming/postcopy-dst.h"
#include "migration/multifd/multifd.h"
#include "migration/ram/ram.h"
#include "migration/format/return-path.h"
#include "migration/format/savevm.h"
#include "util/error.h"
#include "migration/tls.h"
#include "migration/log.h"
#include "util/thread.h"

struct MigIncoming {
    bool started;
    bool exit_on_error;
    bool autostart;
    QEMUFile *f;
    QEMUFile *rp;               /* opened on MIG_CMD_OPEN_RETURN_PATH */
    /* return paths of connections that broke in postcopy: the fault
     * thread may still be writing to one, so they are closed only when
     * it has stopped (the load's end, or the context's) */
    GPtrArray *retired_rps;
    GThread *thread;
    GError *error;              /* the load's outcome */
    /* postcopy */
    GMutex lock;
    GCond cond;
    QEMUFile *package;
    GThread *package_thread;
    bool main_accepted;         /* main thread: the next one is preempt */
    GThread *preempt_thread;    /* lock */
    QEMUFile *preempt_f;        /* lock */
    bool listening;             /* lock: LISTEN done (or the package failed) */
    bool package_failed;        /* lock */
    int run_ack_sent;           /* atomic: from now on, pause on failure */
    int run_received;           /* atomic */
    bool loaded_ok;             /* lock: incoming_loaded's answer */
    bool loaded_done;           /* lock */
    int disks_failed;           /* atomic: activation after RUN failed */
    bool postcopy;              /* LISTEN done: the end is postcopy's */
    int pause_asked;            /* atomic: migrate-pause received */
    bool awaiting_recovery;     /* lock: paused, the load thread waits */
    QEMUFile *recovered;        /* lock: migrate-recover's new stream */
    char *listen_address;       /* main thread: the last one listened on */
    bool quitting;              /* lock: the context is being freed */
};

MigIncoming *mig_incoming_new(void)
{
    MigIncoming *inc = g_new0(MigIncoming, 1);

    inc->autostart = true;
    inc->retired_rps = g_ptr_array_new();
    g_mutex_init(&inc->lock);
    g_cond_init(&inc->cond);
    return inc;
}

static void close_retired_rps(MigIncoming *inc)
{
    for (guint i = 0; i < inc->retired_rps->len; i++) {
        qemu_fclose(g_ptr_array_index(inc->retired_rps, i), NULL);
    }
    g_ptr_array_set_size(inc->retired_rps, 0);
}

void mig_incoming_free(MigIncoming *inc)
{
    g_assert(!inc->thread && !inc->package_thread && !inc->preempt_thread);
    g_clear_error(&inc->error);
    close_retired_rps(inc);
    g_ptr_array_free(inc->retired_rps, TRUE);
    g_free(inc->listen_address);
    g_cond_clear(&inc->cond);
    g_mutex_clear(&inc->lock);
    g_free(inc);
}

bool mig_incoming_pause(FerryMig *m, GError **errp)
{
    MigIncoming *inc = m->inc;
    MigrationStatus cur = migration_status(m);

    if (!inc->thread || cur != MIGRATION_STATUS_POSTCOPY_ACTIVE) {
        error_setg(errp, "migrate-pause is only possible in postcopy-active, "
                   "not in %s", MigrationStatus_str(cur));
        return false;
    }
    __atomic_store_n(&inc->pause_asked, 1, __ATOMIC_RELEASE);
    g_mutex_lock(&inc->lock);
    if (inc->f) {
        qemu_file_shutdown(inc->f);
    }
    g_mutex_unlock(&inc->lock);
    return true;
}

bool ferry_mig_incoming_autostart(FerryMig *m, GError **errp)
{
    MigIncoming *inc = m->inc;
    MigrationStatus st = migration_status(m);

    if (!inc->started) {
        error_setg(errp, "An incoming migration is expected before this "
                   "command can be executed");
        return false;
    }
    if (!migration_is_running(st)) {
        error_setg(errp, "The incoming migration %s: the guest cannot run",
                   st == MIGRATION_STATUS_FAILED ? "failed" : "ended");
        return false;
    }
    inc->autostart = true;   /* main thread, like the RUN callback */
    return true;
}

/* --- postcopy ------------------------------------------------------------ */

static void arm_keepalive(FerryMig *m);
static void stop_preempt(FerryMig *m, bool abort);
static void accept_preempt(FerryMig *m, MigChannel *chan);

static gboolean postcopy_run(gpointer opaque)
{
    FerryMig *m = opaque;
    MigIncoming *inc = m->inc;
    g_autoptr(GError) err = NULL;
    bool run = inc->autostart &&
               !__atomic_load_n(&inc->disks_failed, __ATOMIC_ACQUIRE);

    if (!m->vmm.incoming_run(m->opaque, run, &err)) {
        mig_log("incoming migration: %s", err->message);
    }
    return G_SOURCE_REMOVE;
}

/* The VMM's incoming_loaded runs on the main thread, as in precopy. */
typedef struct LoadedCall {
    FerryMig *m;
    GError **errp;
} LoadedCall;

static gboolean call_loaded(gpointer opaque)
{
    LoadedCall *call = opaque;
    FerryMig *m = call->m;
    MigIncoming *inc = m->inc;
    bool ok = m->vmm.incoming_loaded(m->opaque, call->errp);

    g_mutex_lock(&inc->lock);
    inc->loaded_ok = ok;
    inc->loaded_done = true;
    g_cond_broadcast(&inc->cond);
    g_mutex_unlock(&inc->lock);
    return G_SOURCE_REMOVE;
}

static bool loaded_on_main_thread(FerryMig *m, GError **errp)
{
    MigIncoming *inc = m->inc;
    LoadedCall call = { m, errp };

    g_mutex_lock(&inc->lock);
    inc->loaded_done = false;
    g_mutex_unlock(&inc->lock);
    mig_run_on_main(m, call_loaded, &call);
    g_mutex_lock(&inc->lock);
    while (!inc->loaded_done && !inc->quitting) {
        g_cond_wait(&inc->cond, &inc->lock);
    }
    bool ok = inc->loaded_done && inc->loaded_ok;
    if (!inc->loaded_done) {
        g_set_error(errp, FERRY_ERROR, FERRY_ERROR_GENERIC,
                    "the migration context is being freed");
    }
    g_mutex_unlock(&inc->lock);
    return ok;
}

/* The first failure is the one to report (takes @err). */
static void keep_first_error(FerryMig *m, GError *err)
{
    MigIncoming *inc = m->inc;
    g_mutex_lock(&inc->lock);
    if (!inc->error) {
        inc->error = g_steal_pointer(&err);
    }
    g_mutex_unlock(&inc->lock);
    g_clear_error(&err);
}

static void set_listening(FerryMig *m, bool failed)
{
    MigIncoming *inc = m->inc;
    g_mutex_lock(&inc->lock);
    inc->listening = true;
    inc->package_failed |= failed;
    g_cond_broadcast(&inc->cond);
    g_mutex_unlock(&inc->lock);
}

/* Requested pages must not queue behind megabytes of background pages
 * in our receive buffer, nor the threads carrying those pages crowd out
 * the ones serving faults (channel.h; the source limits its own). */
static void limit_main_queue(FerryMig *m)
{
    MigChannel *chan = qemu_file_get_channel(m->inc->f);

    mig_channel_limit_receive(chan, mig_channel_queue_for_rate(
        chan, MIG_POSTCOPY_RECEIVE_WINDOW_BYTES, MIG_POSTCOPY_QUEUE_RATE));
}

static int package_command(uint16_t cmd, const uint8_t *data, uint16_t len,
                           void *opaque, GError **errp)
{
    FerryMig *m = opaque;
    MigIncoming *inc = m->inc;

    if (cmd != MIG_CMD_POSTCOPY_LISTEN || inc->postcopy) {
        error_setg(errp, "postcopy package: %s", inc->postcopy ?
                   "a second POSTCOPY_LISTEN" : "only POSTCOPY_LISTEN may "
                   "come with the device state");
        return -EINVAL;
    }
    if (!postcopy_dst_listen(m, inc->rp, errp)) {
        return -EINVAL;
    }
    inc->postcopy = true;
    limit_main_queue(m);
    migrate_set_state(m, MIGRATION_STATUS_ACTIVE,
                      MIGRATION_STATUS_POSTCOPY_ACTIVE);
    set_listening(m, false);
    return 0;
}

static gpointer package_thread(gpointer opaque)
{
    FerryMig *m = opaque;
    MigIncoming *inc = m->inc;
    g_autoptr(GError) err = NULL;
    int ret = savevm_load_package(&m->saved, inc->package, package_command,
                                  m, &err);

    qemu_fclose(inc->package, NULL);
    inc->package = NULL;
    if (ret == 0 && !inc->postcopy) {
        error_setg(&err, "postcopy package: no POSTCOPY_LISTEN");
        ret = -EINVAL;
    }
    if (ret == 0 && !loaded_on_main_thread(m, &err)) {
        g_prefix_error(&err, "incoming migration: ");
        ret = -EINVAL;
    }
    if (ret < 0) {
        mig_log("incoming migration: %s", err->message);
        set_listening(m, true);
        keep_first_error(m, g_steal_pointer(&err));
        /* The source must not send RUN: tell it, and stop the load. */
        rp_send_be32(inc->rp, MIG_RP_MSG_SHUT, 1);
        qemu_file_shutdown(inc->f);
        return NULL;
    }
    __atomic_store_n(&inc->run_ack_sent, 1, __ATOMIC_RELEASE);
    postcopy_dst_note_run_ack(m);
    rp_send(inc->rp, MIG_RP_MSG_RUN_ACK, 0, NULL);
    mig_log("incoming migration: device state loaded, RUN_ACK sent");
    return NULL;
}

static int handle_packaged(FerryMig *m, const uint8_t *data, uint16_t len,
                           GError **errp)
{
    MigIncoming *inc = m->inc;
    if (len != 4 || !inc->rp) {
        error_setg(errp, "migration stream: PACKAGED of %u bytes%s", len,
                   inc->rp ? "" : " without a return path");
        return -EINVAL;
    }
    /* The first one's thread may still be loading from inc->package. */
    if (inc->package_thread) {
        error_setg(errp, "migration stream: a second PACKAGED");
        return -EINVAL;
    }
    /* The precopy phase is over (its last flush came before the
     * discards): multifd is not used in postcopy. */
    multifd_recv_cleanup(m);
    uint32_t size = (uint32_t)data[0] << 24 | data[1] << 16 | data[2] << 8 |
                    data[3];
    inc->package = savevm_read_package(inc->f, size, errp);
    if (!inc->package) {
        return -EIO;
    }
    inc->package_thread = g_thread_new("mig/package", package_thread, m);
    g_mutex_lock(&inc->lock);
    while (!inc->listening) {
        g_cond_wait(&inc->cond, &inc->lock);
    }
    bool failed = inc->package_failed;
    g_mutex_unlock(&inc->lock);
    if (failed) {
        error_setg(errp, "postcopy package failed to load");
        return -EINVAL;
    }
    return 0;
}

/*
 * Postcopy activates the disks only once the source gave up the guest.
 * A failure here keeps the guest paused (the source cannot take it back
 * after RUN); the pages keep coming, and `cont` retries the activation.
 */
static void activate_after_run(FerryMig *m)
{
    MigIncoming *inc = m->inc;
    g_autoptr(GError) err = NULL;

    if (!block_dst_activate(m, inc->autostart, &err)) {
        mig_log("incoming migration: the guest stays paused: %s",
                err->message);
        mig_set_error(m, "%s", err->message);
        __atomic_store_n(&inc->disks_failed, 1, __ATOMIC_RELEASE);
    }
}

static int handle_run(FerryMig *m, GError **errp)
{
    MigIncoming *inc = m->inc;
    if (!__atomic_load_n(&inc->run_ack_sent, __ATOMIC_ACQUIRE)) {
        error_setg(errp, "migration stream: POSTCOPY_RUN before the device "
                   "state was acknowledged");
        return -EINVAL;
    }
    if (__atomic_exchange_n(&inc->run_received, 1, __ATOMIC_ACQ_REL)) {
        return 0;   /* sent again after a recovery */
    }
    postcopy_dst_note_run(m);
    arm_keepalive(m);   /* from now on a silent source pauses us */
    mig_log("incoming migration: POSTCOPY_RUN");
    activate_after_run(m);
    mig_run_on_main(m, postcopy_run, m);
    return 0;
}

static void arm_keepalive(FerryMig *m)
{
    MigrationParameters p;

    mig_params_get(m, &p);
    mig_channel_set_read_timeout(qemu_file_get_channel(m->inc->f),
                                 (int)p.postcopy_keepalive_timeout);
}

/* POSTCOPY_RESUME: the recovery handshake's end on this side. */
static int handle_resume(FerryMig *m, GError **errp)
{
    MigIncoming *inc = m->inc;
    bool ran = __atomic_load_n(&inc->run_received, __ATOMIC_ACQUIRE);

    if (!inc->rp || !migrate_set_state(m, MIGRATION_STATUS_POSTCOPY_RECOVER,
                                      MIGRATION_STATUS_POSTCOPY_ACTIVE)) {
        error_setg(errp, "migration stream: POSTCOPY_RESUME outside a "
                   "postcopy recovery");
        return -EINVAL;
    }
    if (ran) {
        arm_keepalive(m);
    }
    /* ferry: say whether RUN ever arrived, so the source sends it again */
    rp_send_be32(inc->rp, MIG_RP_MSG_RESUME_ACK,
                 ran ? MIGRATION_RESUME_ACK_VALUE : RESUME_ACK_RUN_MISSING);
    limit_main_queue(m);
    postcopy_dst_resume(m, inc->rp);
    mig_log("incoming migration: postcopy resumed");
    return 0;
}

static void note_listen_address(FerryMig *m)
{
    MigIncoming *inc = m->inc;
    char *addr = mig_listener_address(m->listener);

    if (addr) {
        g_free(inc->listen_address);
        inc->listen_address = addr;
    }
}

/*
 * On the main thread, after a pause: no more connections to the listener
 * of the stream that broke.  Unless migrate-recover (main thread too) came
 * first: libvirt sends it on the postcopy-paused event, which can reach it
 * before this runs, and the listener is then recovery's own.
 */
static gboolean cancel_listen(gpointer opaque)
{
    FerryMig *m = opaque;

    if (migration_status(m) == MIGRATION_STATUS_POSTCOPY_PAUSED) {
        mig_listener_cancel(m->listener);
    }
    return G_SOURCE_REMOVE;
}

/*
 * The stream broke after RUN_ACK: pause, and wait (in the load thread)
 * for migrate-recover's new stream, which continues this one.
 */
static QEMUFile *on_broken(QEMUFile *broken, const GError *why, void *opaque)
{
    FerryMig *m = opaque;
    MigIncoming *inc = m->inc;

    if (!__atomic_load_n(&inc->run_ack_sent, __ATOMIC_ACQUIRE)) {
        return NULL;
    }
    postcopy_dst_detach_rp(m);
    block_dst_rp_closed(m);
    stop_preempt(m, true);
    g_mutex_lock(&inc->lock);
    QEMUFile *old = g_steal_pointer(&inc->f);
    if (inc->rp) {
        g_ptr_array_add(inc->retired_rps, g_steal_pointer(&inc->rp));
    }
    inc->awaiting_recovery = true;
    g_mutex_unlock(&inc->lock);
    qemu_file_shutdown(old);
    qemu_fclose(old, NULL);
    bool asked = __atomic_exchange_n(&inc->pause_asked, 0, __ATOMIC_ACQ_REL);
    const char *reason = asked ? "paused by migrate-pause" : why->message;
    mig_set_error(m, "%s", reason);
    mig_log("incoming migration paused: %s", reason);
    migrate_set_state(m, migration_status(m), MIGRATION_STATUS_POSTCOPY_PAUSED);
    mig_run_on_main(m, cancel_listen, m);

    g_mutex_lock(&inc->lock);
    while (!inc->recovered && !inc->quitting) {
        g_cond_wait(&inc->cond, &inc->lock);
    }
    if (!inc->recovered) {
        inc->awaiting_recovery = false;
        g_mutex_unlock(&inc->lock);
        return NULL;    /* the context is being freed */
    }
    inc->f = g_steal_pointer(&inc->recovered);
    inc->rp = qemu_file_get_return_path(inc->f);
    inc->awaiting_recovery = false;
    g_mutex_unlock(&inc->lock);
    return inc->f;
}

/*
 * Every incoming channel of a TLS migration gets its session here; the
 * handshake runs in the thread that reads it first.  NULL (logged) when
 * that cannot be set up.
 */
static MigChannel *incoming_tls(FerryMig *m, MigChannel *chan)
{
    g_autoptr(GError) err = NULL;

    if (chan && !mig_tls_wrap(m, chan, &err)) {
        g_warning("incoming migration: %s", err->message);
        g_clear_pointer(&chan, mig_channel_unref);
    }
    return chan;
}

static void accepted_recovery(MigChannel *chan, void *opaque)
{
    FerryMig *m = opaque;
    MigIncoming *inc = m->inc;

    chan = incoming_tls(m, chan);
    if (!chan) {
        return;     /* logged; migrate-recover can be issued again */
    }
    g_mutex_lock(&inc->lock);
    bool take = inc->awaiting_recovery && !inc->recovered;
    if (take) {
        inc->recovered = qemu_file_new_input(chan);
        g_cond_broadcast(&inc->cond);
    }
    g_mutex_unlock(&inc->lock);
    if (!take) {
        accept_preempt(m, chan);
        return;
    }
    mig_log("incoming migration: recovery connection from %s",
            mig_channel_name(chan));
    mig_channel_unref(chan);
    migrate_set_state(m, MIGRATION_STATUS_POSTCOPY_RECOVER_SETUP,
                      MIGRATION_STATUS_POSTCOPY_RECOVER);
}

bool ferry_mig_recover(FerryMig *m, const char *uri, GError **errp)
{
    MigIncoming *inc = m->inc;

    g_mutex_lock(&inc->lock);
    bool waiting = inc->awaiting_recovery && !inc->recovered;
    g_mutex_unlock(&inc->lock);
    if (!waiting || migration_status(m) != MIGRATION_STATUS_POSTCOPY_PAUSED) {
        error_setg(errp, "migrate-recover: no postcopy migration is paused "
                   "here (status %s)", MigrationStatus_str(migration_status(m)));
        return false;
    }
    if (!mig_tls_prepare(m, uri, false, errp)) {
        return false;
    }
    mig_listener_cancel(m->listener);
    if (!migrate_set_state(m, MIGRATION_STATUS_POSTCOPY_PAUSED,
                           MIGRATION_STATUS_POSTCOPY_RECOVER_SETUP)) {
        error_setg(errp, "migrate-recover: the migration moved on");
        return false;
    }
    if (!mig_listener_listen(m->listener, uri, accepted_recovery, m, errp)) {
        migrate_set_state(m, MIGRATION_STATUS_POSTCOPY_RECOVER_SETUP,
                          MIGRATION_STATUS_POSTCOPY_PAUSED);
        return false;
    }
    mig_listener_keep(m->listener, true);  /* a preempt channel may follow */
    note_listen_address(m);
    return true;
}

static gpointer preempt_thread(gpointer opaque)
{
    FerryMig *m = opaque;
    g_autoptr(GError) err = NULL;

    g_mutex_lock(&m->inc->lock);
    QEMUFile *f = m->inc->preempt_f;    /* set before we were started */
    g_mutex_unlock(&m->inc->lock);
    thread_prefer_realtime();   /* it places the pages vCPUs wait for */
    if (ram_load_preempt_channel(m, f, &err) < 0) {
        mig_log("incoming migration: preempt channel: %s", err->message);
    }
    return NULL;
}

/* Waits for the preempt reader (after its EOS, or cut short by @abort). */
static void stop_preempt(FerryMig *m, bool abort)
{
    MigIncoming *inc = m->inc;
    g_mutex_lock(&inc->lock);
    GThread *t = g_steal_pointer(&inc->preempt_thread);
    QEMUFile *f = g_steal_pointer(&inc->preempt_f);
    if (f && abort) {
        qemu_file_shutdown(f);
    }
    g_mutex_unlock(&inc->lock);
    if (t) {
        g_thread_join(t);
    }
    if (f) {
        qemu_fclose(f, NULL);
    }
}

/* --- the stream ---------------------------------------------------------- */

static int on_command(uint16_t cmd, const uint8_t *data, uint16_t len,
                      void *opaque, GError **errp)
{
    FerryMig *m = opaque;
    MigIncoming *inc = m->inc;

    switch (cmd) {
    case MIG_CMD_OPEN_RETURN_PATH:
        inc->rp = qemu_file_get_return_path(inc->f);
        if (!inc->rp) {
            error_setg(errp, "the source asked for a return path, but this "
                       "transport has none");
            return -EINVAL;
        }
        block_dst_rp_opened(m, inc->rp);
        return 0;
    case MIG_CMD_PING:
        if (len != 4) {
            error_setg(errp, "migration stream: PING of %u bytes", len);
            return -EINVAL;
        }
        if (inc->rp) {
            rp_send(inc->rp, MIG_RP_MSG_PONG, 4, data);
        }
        return 0;
    case MIG_CMD_POSTCOPY_ADVISE:
        return postcopy_dst_advise(m, data, len, errp) ? 0 : -EINVAL;
    case MIG_CMD_POSTCOPY_RAM_DISCARD:
        return postcopy_dst_discard(m, data, len, errp) ? 0 : -EINVAL;
    case MIG_CMD_PACKAGED:
        return handle_packaged(m, data, len, errp);
    case MIG_CMD_POSTCOPY_RUN:
        return handle_run(m, errp);
    case MIG_CMD_RECV_BITMAP:
        if (!inc->rp || !inc->postcopy) {
            error_setg(errp, "migration stream: RECV_BITMAP outside a "
                       "postcopy recovery");
            return -EINVAL;
        }
        return postcopy_dst_send_recv_bitmap(m, inc->rp, data, len, errp) ?
               0 : -EINVAL;
    case MIG_CMD_POSTCOPY_RESUME:
        return handle_resume(m, errp);
    default:
        error_setg(errp, "migration stream: command %u is not supported "
                   "here", cmd);
        return -ENOTSUP;
    }
}

static void fail_incoming(FerryMig *m, GError *error)
{
    MigIncoming *inc = m->inc;
    MigrationStatus cur = migration_status(m);
    bool asked = __atomic_load_n(&inc->pause_asked, __ATOMIC_ACQUIRE);

    mig_log("incoming migration failed: %s", error->message);
    mig_set_error(m, "%s", asked ? "paused by migrate-pause" : error->message);
    if (__atomic_load_n(&inc->run_ack_sent, __ATOMIC_ACQUIRE)) {
        /* The source may have sent RUN: halt, never give up the guest. */
        postcopy_dst_detach_rp(m);
        migrate_set_state(m, cur, MIGRATION_STATUS_POSTCOPY_PAUSED);
        return;
    }
    migrate_set_state(m, cur, MIGRATION_STATUS_FAILED);
    m->vmm.incoming_failed(m->opaque, error->message, inc->exit_on_error);
}

static gboolean load_finished(gpointer opaque)
{
    FerryMig *m = opaque;
    MigIncoming *inc = m->inc;
    g_autoptr(GError) err = NULL;
    bool postcopy = inc->postcopy;

    if (inc->thread) {
        g_thread_join(inc->thread);
        inc->thread = NULL;
    }
    mig_listener_cancel(m->listener);
    multifd_recv_cleanup(m);
    if (!inc->error && !postcopy &&
        !m->vmm.incoming_loaded(m->opaque, &inc->error)) {
        g_prefix_error(&inc->error, "incoming migration: ");
    }
    if (inc->error) {
        fail_incoming(m, inc->error);
    } else if (postcopy) {
        migrate_set_state(m, MIGRATION_STATUS_POSTCOPY_ACTIVE,
                          MIGRATION_STATUS_COMPLETED);
    } else {
        migrate_set_state(m, MIGRATION_STATUS_ACTIVE,
                          MIGRATION_STATUS_COMPLETED);
        if (!m->vmm.incoming_run(m->opaque, inc->autostart, &err)) {
            mig_log("incoming migration: %s", err->message);
        }
    }
    /*
     * Every path, precopy's too (postcopy-ram on stages pages from the
     * block list on): the load thread and the placers are gone and a
     * paused postcopy cannot be recovered without them.  After the guest
     * may run, so unmapping (and, after precopy, mapping the guest's
     * view) is not downtime.
     */
    postcopy_dst_release_staging(m, !inc->error && !postcopy);
    return G_SOURCE_REMOVE;
}

/* Postcopy's end: every page must be there before the source is told. */
static int finish_postcopy(FerryMig *m, int ret, GError **errp)
{
    MigIncoming *inc = m->inc;

    if (ret < 0 || !inc->postcopy) {
        return ret;
    }
    if (!__atomic_load_n(&inc->run_received, __ATOMIC_ACQUIRE)) {
        error_setg(errp, "migration stream: postcopy ended without "
                   "POSTCOPY_RUN");
        return -EINVAL;
    }
    stop_preempt(m, false);
    return postcopy_dst_finish(m, errp) ? 0 : -EINVAL;
}

/*
 * The return path holds the channel too: without closing it the socket
 * stays open after a failed load.  Once RUN_ACK went out, a paused
 * postcopy's fault thread may still hold it (it is freed with the
 * context); otherwise nothing else writes to it any more.
 */
static void close_return_path(FerryMig *m, int ret)
{
    MigIncoming *inc = m->inc;
    QEMUFile *rp = g_steal_pointer(&inc->rp);

    if (ret == 0 || !inc->postcopy ||
        !__atomic_load_n(&inc->run_ack_sent, __ATOMIC_ACQUIRE)) {
        postcopy_dst_detach_rp(m);
        if (rp) {
            qemu_fclose(rp, NULL);
        }
        close_retired_rps(inc);
    }
}

static gpointer load_thread(gpointer opaque)
{
    FerryMig *m = opaque;
    MigIncoming *inc = m->inc;
    GError *err = NULL;
    int ret = -EPROTO;

    /* With TLS: shake hands first, so a refusal fails the migration with
     * its reason rather than as a stream that cannot be read. */
    if (mig_channel_handshake(qemu_file_get_channel(inc->f), &err)) {
        ret = savevm_load_recoverable(&m->saved, inc->f, on_command,
                                      on_broken, m, &err);
    }
    /* Every page came before the last flush; a channel's failure is
     * already the migration's first error, or is the reason the main
     * stream ended (the source gave up after its channel broke). */
    GError *chan_err = NULL;
    if (ret < 0 && multifd_recv_active(m) &&
        multifd_recv_channel_error(m, &chan_err)) {
        keep_first_error(m, chan_err);
    }
    multifd_recv_cleanup(m);
    ret = finish_postcopy(m, ret, &err);
    if (ret == 0 && !inc->postcopy &&
        !block_dst_activate(m, inc->autostart, &err)) {
        ret = -EIO;     /* before SHUT: the source takes the guest back */
    }
    if (inc->rp && (ret == 0 || !__atomic_load_n(&inc->run_ack_sent,
                                                __ATOMIC_ACQUIRE))) {
        /* SHUT tells the source whether it may consider itself done. */
        rp_send_be32(inc->rp, MIG_RP_MSG_SHUT, ret == 0 ? 0 : 1);
    }
    if (inc->package_thread) {
        g_thread_join(inc->package_thread);  /* it may shut inc->f down */
        inc->package_thread = NULL;
    }
    keep_first_error(m, err);
    stop_preempt(m, true);  /* nothing more is placed after this */
    g_mutex_lock(&inc->lock);
    QEMUFile *f = g_steal_pointer(&inc->f);
    g_mutex_unlock(&inc->lock);
    block_dst_rp_closed(m);
    if (ret < 0) {
        /* The source learns of the end now, even when it could not be
         * told with SHUT (a broken TLS session sends nothing more). */
        qemu_file_shutdown(f);
    }
    qemu_fclose(f, NULL);
    close_return_path(m, ret);
    block_dst_finish(m);
    mig_run_on_main(m, load_finished, m);
    return NULL;
}

static void accept_preempt(FerryMig *m, MigChannel *chan)
{
    MigIncoming *inc = m->inc;

    g_mutex_lock(&inc->lock);
    bool busy = inc->preempt_thread != NULL;
    if (!busy) {
        inc->preempt_f = qemu_file_new_input(chan);
        inc->preempt_thread = g_thread_new("mig/preempt", preempt_thread, m);
    }
    g_mutex_unlock(&inc->lock);
    if (busy) {
        mig_log("incoming migration: unexpected connection from %s",
                mig_channel_name(chan));
    }
    mig_channel_unref(chan);
}

/* Before RUN_ACK a disk that cannot attach fails the migration at once:
 * the source keeps the guest (attach thread). */
static void early_attach_failed(FerryMig *m, GError *err)
{
    MigIncoming *inc = m->inc;

    if (__atomic_load_n(&inc->run_ack_sent, __ATOMIC_ACQUIRE)) {
        g_error_free(err);      /* activation after RUN reports it */
        return;
    }
    keep_first_error(m, err);
    g_mutex_lock(&inc->lock);
    if (inc->f) {
        qemu_file_shutdown(inc->f);
    }
    g_mutex_unlock(&inc->lock);
}

/* The main stream arrived: load it (main thread). */
static void start_main(FerryMig *m, MigChannel *chan)
{
    MigIncoming *inc = m->inc;

    if (inc->main_accepted || migration_status(m) != MIGRATION_STATUS_SETUP) {
        g_autoptr(GError) err = g_error_new(
            FERRY_ERROR, FERRY_ERROR_GENERIC, "incoming migration: a second "
            "migration stream from %s", mig_channel_name(chan));
        mig_log("%s", err->message);
        mig_channel_unref(chan);
        if (inc->main_accepted) {
            mig_incoming_abort(m, g_steal_pointer(&err));
        }
        return;
    }
    mig_log("incoming migration: connection from %s", mig_channel_name(chan));
    inc->main_accepted = true;
    inc->f = qemu_file_new_input(chan);
    mig_channel_unref(chan);    /* the file holds its own reference */
    if (!migrate_set_state(m, MIGRATION_STATUS_SETUP, MIGRATION_STATUS_ACTIVE)) {
        qemu_fclose(inc->f, NULL);
        inc->f = NULL;
        return;
    }
    block_dst_start(m, early_attach_failed);
    inc->thread = g_thread_new("mig/dest", load_thread, m);
}

typedef struct MainHandover {
    FerryMig *m;
    MigChannel *chan;
} MainHandover;

static gboolean main_handover(gpointer opaque)
{
    MainHandover *h = opaque;

    start_main(h->m, h->chan);
    g_free(h);
    return G_SOURCE_REMOVE;
}

void mig_incoming_main_channel(FerryMig *m, MigChannel *chan)
{
    MainHandover *h = g_new(MainHandover, 1);

    h->m = m;
    h->chan = chan;
    mig_run_on_main(m, main_handover, h);
}

/* No main stream arrived before the failure: end in failed (main thread). */
static gboolean fail_before_main(gpointer opaque)
{
    FerryMig *m = opaque;

    if (!m->inc->main_accepted &&
        migrate_set_state(m, MIGRATION_STATUS_SETUP, MIGRATION_STATUS_ACTIVE)) {
        load_finished(m);
    }
    return G_SOURCE_REMOVE;
}

void mig_incoming_abort(FerryMig *m, GError *err)
{
    MigIncoming *inc = m->inc;

    if (__atomic_load_n(&inc->run_ack_sent, __ATOMIC_ACQUIRE)) {
        mig_log("incoming migration: %s (ignored in postcopy)", err->message);
        g_error_free(err);
        return;
    }
    mig_log("incoming migration: %s", err->message);
    keep_first_error(m, err);
    g_mutex_lock(&inc->lock);
    if (inc->f) {
        qemu_file_shutdown(inc->f);
    }
    g_mutex_unlock(&inc->lock);
    mig_run_on_main(m, fail_before_main, m);
}

static void accepted(MigChannel *chan, void *opaque)
{
    FerryMig *m = opaque;
    MigIncoming *inc = m->inc;

    chan = incoming_tls(m, chan);
    /* postcopy-preempt's channel starts with no magic of its own: it is
     * the one that comes after the main stream and every multifd one */
    if (chan && inc->main_accepted &&
        (!multifd_recv_active(m) || multifd_recv_all_connected(m))) {
        accept_preempt(m, chan);
        return;
    }
    if (chan && multifd_recv_active(m)) {
        multifd_recv_accept(m, chan);
        return;
    }
    if (!chan) {
        inc->error = g_error_new(FERRY_ERROR, FERRY_ERROR_GENERIC,
                                "incoming migration: accepting the "
                                "connection failed");
        migrate_set_state(m, MIGRATION_STATUS_SETUP, MIGRATION_STATUS_ACTIVE);
        mig_run_on_main(m, load_finished, m);
        return;
    }
    start_main(m, chan);
}

bool ferry_mig_incoming(FerryMig *m, const char *uri, bool exit_on_error,
                        bool autostart, GError **errp)
{
    MigIncoming *inc = m->inc;

    if (!m->vmm.incoming_allowed(m->opaque, errp)) {
        return false;
    }
    if (inc->started) {
        error_setg(errp, "The incoming migration has already been started");
        return false;
    }
    if (!mig_tls_prepare(m, uri, false, errp) ||
        !multifd_recv_start(m, uri, errp)) {
        return false;
    }
    if (!migrate_set_state(m, migration_status(m), MIGRATION_STATUS_SETUP)) {
        error_setg(errp, "cannot start an incoming migration now");
        return false;
    }
    inc->exit_on_error = exit_on_error;
    inc->autostart = autostart;
    if (!mig_listener_listen(m->listener, uri, accepted, m, errp)) {
        migrate_set_state(m, MIGRATION_STATUS_SETUP, MIGRATION_STATUS_FAILED);
        return false;
    }
    mig_listener_keep(m->listener,
                      migrate_capability(m, MIGRATION_CAPABILITY_POSTCOPY_PREEMPT) ||
                      multifd_recv_active(m));
    note_listen_address(m);
    inc->started = true;
    return true;
}

int ferry_mig_incoming_socket(FerryMig *m, const char **uri)
{
    if (!m->inc->started || migration_status(m) != MIGRATION_STATUS_SETUP) {
        return -1;
    }
    return mig_listener_socket(m->listener, uri);
}

void ferry_mig_incoming_adopt_socket(FerryMig *m, int fd)
{
    mig_listener_adopt_socket(m->listener, fd);
}

char *mig_incoming_listen_address(FerryMig *m)
{
    return g_strdup(m->inc->listen_address);
}

/* Joins the load thread of an incoming migration that is over. */
void mig_incoming_join(FerryMig *m)
{
    MigIncoming *inc = m->inc;

    if (inc->thread && !migration_is_running(migration_status(m))) {
        g_thread_join(inc->thread);
        inc->thread = NULL;
    }
}

/*
 * The context is being freed: whatever the incoming side is doing, end
 * it.  Its streams are shut down, its waits woken, its threads joined.
 */
void mig_incoming_shutdown(FerryMig *m)
{
    MigIncoming *inc = m->inc;

    mig_listener_cancel(m->listener);
    g_mutex_lock(&inc->lock);
    inc->quitting = true;
    g_cond_broadcast(&inc->cond);
    if (inc->f) {
        qemu_file_shutdown(inc->f);
    }
    if (inc->preempt_f) {
        qemu_file_shutdown(inc->preempt_f);
    }
    g_mutex_unlock(&inc->lock);
    if (inc->thread) {
        g_thread_join(inc->thread);     /* joins the others on its way */
        inc->thread = NULL;
    }
    multifd_recv_cleanup(m);
    postcopy_dst_shutdown(m);
}
