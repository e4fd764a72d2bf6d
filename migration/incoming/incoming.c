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
 * Locking: `inc` is written by the main thread before the load thread
 * starts; the postcopy flags are atomics or under inc.lock; outcomes go
 * back to the main thread through idle callbacks.
 */
#include <errno.h>
#include "migration/incoming/block-dst.h"
#include "migration/transport/channel.h"
#include "migration/incoming/incoming.h"
#include "migration/state.h"
#include "migration/incoming/postcopy-dst.h"
#include "migration/ram/ram.h"
#include "migration/format/return-path.h"
#include "migration/format/savevm.h"
#include "migration/vmm.h"
#include "util/error.h"
#include "util/log.h"
#include "util/thread.h"

typedef struct Incoming {
    bool started;
    bool exit_on_error;
    bool autostart;
    QEMUFile *f;
    QEMUFile *rp;               /* opened on MIG_CMD_OPEN_RETURN_PATH */
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
} Incoming;

static Incoming inc = { .autostart = true };

void migration_incoming_set_autostart(bool autostart)
{
    inc.autostart = autostart;
}

bool migration_incoming_pause(GError **errp)
{
    MigrationStatus cur = migration_status(migration_current());

    if (!inc.thread || cur != MIGRATION_STATUS_POSTCOPY_ACTIVE) {
        error_setg(errp, "migrate-pause is only possible in postcopy-active, "
                   "not in %s", MigrationStatus_str(cur));
        return false;
    }
    __atomic_store_n(&inc.pause_asked, 1, __ATOMIC_RELEASE);
    g_mutex_lock(&inc.lock);
    if (inc.f) {
        qemu_file_shutdown(inc.f);
    }
    g_mutex_unlock(&inc.lock);
    return true;
}

bool migration_incoming_defer_start(GError **errp)
{
    MigrationStatus st = migration_status(migration_current());

    if (!inc.started) {
        error_setg(errp, "An incoming migration is expected before this "
                   "command can be executed");
        return false;
    }
    if (!migration_is_running(st)) {
        error_setg(errp, "The incoming migration %s: the guest cannot run",
                   st == MIGRATION_STATUS_FAILED ? "failed" : "ended");
        return false;
    }
    inc.autostart = true;   /* main thread, like the RUN callback */
    return true;
}

/* --- postcopy ------------------------------------------------------------ */

static void arm_keepalive(void);
static void stop_preempt(bool abort);
static void accept_preempt(MigChannel *chan);

static gboolean postcopy_run(gpointer opaque)
{
    g_autoptr(GError) err = NULL;
    bool run = inc.autostart &&
               !__atomic_load_n(&inc.disks_failed, __ATOMIC_ACQUIRE);

    if (!migration_vmm()->incoming_run(run, &err)) {
        ferry_log("incoming migration: %s", err->message);
    }
    return G_SOURCE_REMOVE;
}

/* The VMM's incoming_loaded runs on the main thread, as in precopy. */
static gboolean call_loaded(gpointer opaque)
{
    GError **errp = opaque;
    bool ok = migration_vmm()->incoming_loaded(errp);

    g_mutex_lock(&inc.lock);
    inc.loaded_ok = ok;
    inc.loaded_done = true;
    g_cond_broadcast(&inc.cond);
    g_mutex_unlock(&inc.lock);
    return G_SOURCE_REMOVE;
}

static bool loaded_on_main_thread(GError **errp)
{
    g_mutex_lock(&inc.lock);
    inc.loaded_done = false;
    g_mutex_unlock(&inc.lock);
    g_idle_add(call_loaded, errp);
    g_mutex_lock(&inc.lock);
    while (!inc.loaded_done) {
        g_cond_wait(&inc.cond, &inc.lock);
    }
    bool ok = inc.loaded_ok;
    g_mutex_unlock(&inc.lock);
    return ok;
}

/* The first failure is the one to report (takes @err). */
static void keep_first_error(GError *err)
{
    g_mutex_lock(&inc.lock);
    if (!inc.error) {
        inc.error = g_steal_pointer(&err);
    }
    g_mutex_unlock(&inc.lock);
    g_clear_error(&err);
}

static void set_listening(bool failed)
{
    g_mutex_lock(&inc.lock);
    inc.listening = true;
    inc.package_failed |= failed;
    g_cond_broadcast(&inc.cond);
    g_mutex_unlock(&inc.lock);
}

static int package_command(uint16_t cmd, const uint8_t *data, uint16_t len,
                           void *opaque, GError **errp)
{
    MigrationState *s = migration_current();

    if (cmd != MIG_CMD_POSTCOPY_LISTEN || inc.postcopy) {
        error_setg(errp, "postcopy package: %s", inc.postcopy ?
                   "a second POSTCOPY_LISTEN" : "only POSTCOPY_LISTEN may "
                   "come with the device state");
        return -EINVAL;
    }
    if (!postcopy_dst_listen(inc.rp, errp)) {
        return -EINVAL;
    }
    inc.postcopy = true;
    migrate_set_state(s, MIGRATION_STATUS_ACTIVE,
                      MIGRATION_STATUS_POSTCOPY_ACTIVE);
    set_listening(false);
    return 0;
}

static gpointer package_thread(gpointer opaque)
{
    g_autoptr(GError) err = NULL;
    int ret = savevm_load_package(inc.package, package_command, NULL, &err);

    qemu_fclose(inc.package, NULL);
    inc.package = NULL;
    if (ret == 0 && !inc.postcopy) {
        error_setg(&err, "postcopy package: no POSTCOPY_LISTEN");
        ret = -EINVAL;
    }
    if (ret == 0 && !loaded_on_main_thread(&err)) {
        g_prefix_error(&err, "incoming migration: ");
        ret = -EINVAL;
    }
    if (ret < 0) {
        ferry_log("incoming migration: %s", err->message);
        set_listening(true);
        keep_first_error(g_steal_pointer(&err));
        /* The source must not send RUN: tell it, and stop the load. */
        rp_send_be32(inc.rp, MIG_RP_MSG_SHUT, 1);
        qemu_file_shutdown(inc.f);
        return NULL;
    }
    __atomic_store_n(&inc.run_ack_sent, 1, __ATOMIC_RELEASE);
    postcopy_dst_note_run_ack();
    rp_send(inc.rp, MIG_RP_MSG_RUN_ACK, 0, NULL);
    ferry_log("incoming migration: device state loaded, RUN_ACK sent");
    return NULL;
}

static int handle_packaged(const uint8_t *data, uint16_t len, GError **errp)
{
    if (len != 4 || !inc.rp) {
        error_setg(errp, "migration stream: PACKAGED of %u bytes%s", len,
                   inc.rp ? "" : " without a return path");
        return -EINVAL;
    }
    uint32_t size = (uint32_t)data[0] << 24 | data[1] << 16 | data[2] << 8 |
                    data[3];
    inc.package = savevm_read_package(inc.f, size, errp);
    if (!inc.package) {
        return -EIO;
    }
    inc.package_thread = g_thread_new("mig/package", package_thread, NULL);
    g_mutex_lock(&inc.lock);
    while (!inc.listening) {
        g_cond_wait(&inc.cond, &inc.lock);
    }
    bool failed = inc.package_failed;
    g_mutex_unlock(&inc.lock);
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
static void activate_after_run(void)
{
    g_autoptr(GError) err = NULL;
    MigrationState *s = migration_current();

    if (!block_dst_activate(inc.autostart, &err)) {
        ferry_log("incoming migration: the guest stays paused: %s",
                  err->message);
        g_free(s->error_desc);
        s->error_desc = g_strdup(err->message);
        __atomic_store_n(&inc.disks_failed, 1, __ATOMIC_RELEASE);
    }
}

static int handle_run(GError **errp)
{
    if (!__atomic_load_n(&inc.run_ack_sent, __ATOMIC_ACQUIRE)) {
        error_setg(errp, "migration stream: POSTCOPY_RUN before the device "
                   "state was acknowledged");
        return -EINVAL;
    }
    if (__atomic_exchange_n(&inc.run_received, 1, __ATOMIC_ACQ_REL)) {
        return 0;   /* sent again after a recovery */
    }
    postcopy_dst_note_run();
    arm_keepalive();    /* from now on a silent source pauses us */
    ferry_log("incoming migration: POSTCOPY_RUN");
    activate_after_run();
    g_idle_add(postcopy_run, NULL);
    return 0;
}

static void arm_keepalive(void)
{
    mig_channel_set_read_timeout(qemu_file_get_channel(inc.f),
        (int)migration_current()->params.postcopy_keepalive_timeout);
}

/* POSTCOPY_RESUME: the recovery handshake's end on this side. */
static int handle_resume(GError **errp)
{
    MigrationState *s = migration_current();
    bool ran = __atomic_load_n(&inc.run_received, __ATOMIC_ACQUIRE);

    if (!inc.rp || !migrate_set_state(s, MIGRATION_STATUS_POSTCOPY_RECOVER,
                                      MIGRATION_STATUS_POSTCOPY_ACTIVE)) {
        error_setg(errp, "migration stream: POSTCOPY_RESUME outside a "
                   "postcopy recovery");
        return -EINVAL;
    }
    if (ran) {
        arm_keepalive();
    }
    /* ferry: say whether RUN ever arrived, so the source sends it again */
    rp_send_be32(inc.rp, MIG_RP_MSG_RESUME_ACK,
                 ran ? MIGRATION_RESUME_ACK_VALUE : RESUME_ACK_RUN_MISSING);
    postcopy_dst_resume(inc.rp);
    ferry_log("incoming migration: postcopy resumed");
    return 0;
}

static void note_listen_address(void)
{
    char *addr = mig_channel_listen_address();

    if (addr) {
        g_free(inc.listen_address);
        inc.listen_address = addr;
    }
}

static gboolean cancel_listen(gpointer opaque)
{
    mig_listen_cancel();
    return G_SOURCE_REMOVE;
}

/*
 * The stream broke after RUN_ACK: pause, and wait (in the load thread)
 * for migrate-recover's new stream, which continues this one.
 */
static QEMUFile *on_broken(QEMUFile *broken, const GError *why, void *opaque)
{
    MigrationState *s = migration_current();

    if (!__atomic_load_n(&inc.run_ack_sent, __ATOMIC_ACQUIRE)) {
        return NULL;
    }
    postcopy_dst_detach_rp();
    block_dst_rp_closed();
    stop_preempt(true);
    g_mutex_lock(&inc.lock);
    QEMUFile *old = g_steal_pointer(&inc.f);
    inc.rp = NULL;
    inc.awaiting_recovery = true;
    g_mutex_unlock(&inc.lock);
    qemu_file_shutdown(old);
    qemu_fclose(old, NULL);
    bool asked = __atomic_exchange_n(&inc.pause_asked, 0, __ATOMIC_ACQ_REL);
    g_free(s->error_desc);
    s->error_desc = g_strdup(asked ? "paused by migrate-pause" : why->message);
    ferry_log("incoming migration paused: %s", s->error_desc);
    migrate_set_state(s, migration_status(s), MIGRATION_STATUS_POSTCOPY_PAUSED);
    g_idle_add(cancel_listen, NULL);

    g_mutex_lock(&inc.lock);
    while (!inc.recovered) {
        g_cond_wait(&inc.cond, &inc.lock);
    }
    inc.f = g_steal_pointer(&inc.recovered);
    inc.rp = qemu_file_get_return_path(inc.f);
    inc.awaiting_recovery = false;
    g_mutex_unlock(&inc.lock);
    return inc.f;
}

static void accepted_recovery(MigChannel *chan, void *opaque)
{
    MigrationState *s = migration_current();

    if (!chan) {
        return;     /* logged; migrate-recover can be issued again */
    }
    g_mutex_lock(&inc.lock);
    bool take = inc.awaiting_recovery && !inc.recovered;
    if (take) {
        inc.recovered = qemu_file_new_input(chan);
        g_cond_broadcast(&inc.cond);
    }
    g_mutex_unlock(&inc.lock);
    if (!take) {
        accept_preempt(chan);
        return;
    }
    ferry_log("incoming migration: recovery connection from %s",
              mig_channel_name(chan));
    mig_channel_unref(chan);
    migrate_set_state(s, MIGRATION_STATUS_POSTCOPY_RECOVER_SETUP,
                      MIGRATION_STATUS_POSTCOPY_RECOVER);
}

bool migration_incoming_recover(const char *uri, GError **errp)
{
    MigrationState *s = migration_current();

    g_mutex_lock(&inc.lock);
    bool waiting = inc.awaiting_recovery && !inc.recovered;
    g_mutex_unlock(&inc.lock);
    if (!waiting || migration_status(s) != MIGRATION_STATUS_POSTCOPY_PAUSED) {
        error_setg(errp, "migrate-recover: no postcopy migration is paused "
                   "here (status %s)", MigrationStatus_str(migration_status(s)));
        return false;
    }
    mig_listen_cancel();
    if (!migrate_set_state(s, MIGRATION_STATUS_POSTCOPY_PAUSED,
                           MIGRATION_STATUS_POSTCOPY_RECOVER_SETUP)) {
        error_setg(errp, "migrate-recover: the migration moved on");
        return false;
    }
    if (!mig_channel_listen(uri, accepted_recovery, NULL, errp)) {
        migrate_set_state(s, MIGRATION_STATUS_POSTCOPY_RECOVER_SETUP,
                          MIGRATION_STATUS_POSTCOPY_PAUSED);
        return false;
    }
    mig_channel_listen_keep(true);  /* a preempt channel may follow */
    note_listen_address();
    return true;
}

static gpointer preempt_thread(gpointer opaque)
{
    QEMUFile *f = opaque;
    g_autoptr(GError) err = NULL;

    thread_prefer_latency();
    if (ram_load_preempt_channel(f, &err) < 0) {
        ferry_log("incoming migration: preempt channel: %s", err->message);
    }
    return NULL;
}

/* Waits for the preempt reader (after its EOS, or cut short by @abort). */
static void stop_preempt(bool abort)
{
    g_mutex_lock(&inc.lock);
    GThread *t = g_steal_pointer(&inc.preempt_thread);
    QEMUFile *f = g_steal_pointer(&inc.preempt_f);
    if (f && abort) {
        qemu_file_shutdown(f);
    }
    g_mutex_unlock(&inc.lock);
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
    switch (cmd) {
    case MIG_CMD_OPEN_RETURN_PATH:
        inc.rp = qemu_file_get_return_path(inc.f);
        if (!inc.rp) {
            error_setg(errp, "the source asked for a return path, but this "
                       "transport has none");
            return -EINVAL;
        }
        block_dst_rp_opened(inc.rp);
        return 0;
    case MIG_CMD_PING:
        if (len != 4) {
            error_setg(errp, "migration stream: PING of %u bytes", len);
            return -EINVAL;
        }
        if (inc.rp) {
            rp_send(inc.rp, MIG_RP_MSG_PONG, 4, data);
        }
        return 0;
    case MIG_CMD_POSTCOPY_ADVISE:
        return postcopy_dst_advise(data, len, errp) ? 0 : -EINVAL;
    case MIG_CMD_POSTCOPY_RAM_DISCARD:
        return postcopy_dst_discard(data, len, errp) ? 0 : -EINVAL;
    case MIG_CMD_PACKAGED:
        return handle_packaged(data, len, errp);
    case MIG_CMD_POSTCOPY_RUN:
        return handle_run(errp);
    case MIG_CMD_RECV_BITMAP:
        if (!inc.rp || !inc.postcopy) {
            error_setg(errp, "migration stream: RECV_BITMAP outside a "
                       "postcopy recovery");
            return -EINVAL;
        }
        return postcopy_dst_send_recv_bitmap(inc.rp, data, len, errp) ? 0
                                                                      : -EINVAL;
    case MIG_CMD_POSTCOPY_RESUME:
        return handle_resume(errp);
    default:
        error_setg(errp, "migration stream: command %u is not supported "
                   "here", cmd);
        return -ENOTSUP;
    }
}

static void fail_incoming(MigrationState *s, GError *error)
{
    MigrationStatus cur = migration_status(s);
    bool asked = __atomic_load_n(&inc.pause_asked, __ATOMIC_ACQUIRE);

    ferry_log("incoming migration failed: %s", error->message);
    g_free(s->error_desc);
    s->error_desc = g_strdup(asked ? "paused by migrate-pause"
                                   : error->message);
    if (__atomic_load_n(&inc.run_ack_sent, __ATOMIC_ACQUIRE)) {
        /* The source may have sent RUN: halt, never give up the guest. */
        postcopy_dst_detach_rp();
        migrate_set_state(s, cur, MIGRATION_STATUS_POSTCOPY_PAUSED);
        return;
    }
    migrate_set_state(s, cur, MIGRATION_STATUS_FAILED);
    migration_vmm()->incoming_failed(error->message, inc.exit_on_error);
}

static gboolean load_finished(gpointer opaque)
{
    MigrationState *s = migration_current();
    g_autoptr(GError) err = NULL;
    bool postcopy = inc.postcopy;

    if (inc.thread) {
        g_thread_join(inc.thread);
        inc.thread = NULL;
    }
    mig_listen_cancel();
    if (!inc.error && !postcopy &&
        !migration_vmm()->incoming_loaded(&inc.error)) {
        g_prefix_error(&inc.error, "incoming migration: ");
    }
    if (inc.error) {
        fail_incoming(s, inc.error);
        return G_SOURCE_REMOVE;
    }
    if (postcopy) {
        migrate_set_state(s, MIGRATION_STATUS_POSTCOPY_ACTIVE,
                          MIGRATION_STATUS_COMPLETED);
        return G_SOURCE_REMOVE;
    }
    migrate_set_state(s, MIGRATION_STATUS_ACTIVE, MIGRATION_STATUS_COMPLETED);
    if (!migration_vmm()->incoming_run(inc.autostart, &err)) {
        ferry_log("incoming migration: %s", err->message);
    }
    return G_SOURCE_REMOVE;
}

static gboolean load_finished_no_thread(gpointer opaque)
{
    return load_finished(opaque);
}

/* Postcopy's end: every page must be there before the source is told. */
static int finish_postcopy(int ret, GError **errp)
{
    if (ret < 0 || !inc.postcopy) {
        return ret;
    }
    if (!__atomic_load_n(&inc.run_received, __ATOMIC_ACQUIRE)) {
        error_setg(errp, "migration stream: postcopy ended without "
                   "POSTCOPY_RUN");
        return -EINVAL;
    }
    stop_preempt(false);
    return postcopy_dst_finish(errp) ? 0 : -EINVAL;
}

static gpointer load_thread(gpointer opaque)
{
    GError *err = NULL;
    int ret = savevm_load_recoverable(inc.f, on_command, on_broken, NULL,
                                      &err);

    ret = finish_postcopy(ret, &err);
    if (ret == 0 && !inc.postcopy && !block_dst_activate(inc.autostart, &err)) {
        ret = -EIO;     /* before SHUT: the source takes the guest back */
    }
    if (inc.rp && (ret == 0 || !__atomic_load_n(&inc.run_ack_sent,
                                                __ATOMIC_ACQUIRE))) {
        /* SHUT tells the source whether it may consider itself done. */
        rp_send_be32(inc.rp, MIG_RP_MSG_SHUT, ret == 0 ? 0 : 1);
    }
    if (inc.package_thread) {
        g_thread_join(inc.package_thread);  /* it may shut inc.f down */
        inc.package_thread = NULL;
    }
    keep_first_error(err);
    stop_preempt(true);     /* nothing more is placed after this */
    g_mutex_lock(&inc.lock);
    QEMUFile *f = g_steal_pointer(&inc.f);
    g_mutex_unlock(&inc.lock);
    block_dst_rp_closed();
    qemu_fclose(f, NULL);
    inc.rp = NULL;
    block_dst_finish();
    g_idle_add(load_finished, NULL);
    return NULL;
}

static void accept_preempt(MigChannel *chan)
{
    g_mutex_lock(&inc.lock);
    bool busy = inc.preempt_thread != NULL;
    if (!busy) {
        inc.preempt_f = qemu_file_new_input(chan);
        inc.preempt_thread = g_thread_new("mig/preempt", preempt_thread,
                                          inc.preempt_f);
    }
    g_mutex_unlock(&inc.lock);
    if (busy) {
        ferry_log("incoming migration: unexpected connection from %s",
                  mig_channel_name(chan));
    }
    mig_channel_unref(chan);
}

/* Before RUN_ACK a disk that cannot attach fails the migration at once:
 * the source keeps the guest (attach thread). */
static void early_attach_failed(GError *err)
{
    if (__atomic_load_n(&inc.run_ack_sent, __ATOMIC_ACQUIRE)) {
        g_error_free(err);      /* activation after RUN reports it */
        return;
    }
    keep_first_error(err);
    g_mutex_lock(&inc.lock);
    if (inc.f) {
        qemu_file_shutdown(inc.f);
    }
    g_mutex_unlock(&inc.lock);
}

static void accepted(MigChannel *chan, void *opaque)
{
    MigrationState *s = migration_current();

    if (chan && inc.main_accepted) {
        accept_preempt(chan);
        return;
    }
    if (!chan) {
        inc.error = g_error_new(FERRY_ERROR, FERRY_ERROR_GENERIC,
                                "incoming migration: accepting the "
                                "connection failed");
        migrate_set_state(s, MIGRATION_STATUS_SETUP, MIGRATION_STATUS_ACTIVE);
        g_idle_add(load_finished_no_thread, NULL);
        return;
    }
    ferry_log("incoming migration: connection from %s", mig_channel_name(chan));
    inc.main_accepted = true;
    inc.f = qemu_file_new_input(chan);
    mig_channel_unref(chan);    /* the file holds its own reference */
    if (!migrate_set_state(s, MIGRATION_STATUS_SETUP, MIGRATION_STATUS_ACTIVE)) {
        qemu_fclose(inc.f, NULL);
        inc.f = NULL;
        return;
    }
    block_dst_start(early_attach_failed);
    inc.thread = g_thread_new("mig/dest", load_thread, NULL);
}

bool migration_incoming_start(const char *uri, bool exit_on_error,
                              GError **errp)
{
    MigrationState *s = migration_current();

    if (!migration_vmm()->incoming_allowed(errp)) {
        return false;
    }
    if (inc.started) {
        error_setg(errp, "The incoming migration has already been started");
        return false;
    }
    if (!migrate_set_state(s, migration_status(s), MIGRATION_STATUS_SETUP)) {
        error_setg(errp, "cannot start an incoming migration now");
        return false;
    }
    inc.exit_on_error = exit_on_error;
    if (!mig_channel_listen(uri, accepted, NULL, errp)) {
        migrate_set_state(s, MIGRATION_STATUS_SETUP, MIGRATION_STATUS_FAILED);
        return false;
    }
    mig_channel_listen_keep(migrate_capability(MIGRATION_CAPABILITY_POSTCOPY_PREEMPT));
    note_listen_address();
    inc.started = true;
    return true;
}

char *migration_incoming_listen_address(void)
{
    return g_strdup(inc.listen_address);
}
