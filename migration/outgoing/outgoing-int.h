/*
 * The source side of a migration context (m->out): what the migration
 * thread shares between outgoing.c (the thread, precopy, the switchover)
 * and postcopy-src.c (the postcopy phase).  Not for use outside
 * migration/.
 *
 * Locking: `lock` guards the flags the main thread sets (cancel,
 * continue, start_postcopy), the files cancel may shut down, and `times`.
 */
#ifndef FERRY_MIGRATION_OUTGOING_INT_H
#define FERRY_MIGRATION_OUTGOING_INT_H

#include "migration/context.h"
#include "migration/outgoing/outgoing.h"
#include "migration/format/qemu-file.h"
#include "migration/format/return-path.h"
#include "migration/outgoing/throttle-policy.h"

struct MigOutgoing {
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
    bool start_postcopy;        /* lock: migrate-start-postcopy received */
    bool postcopy;              /* the switchover is a postcopy one */
    bool run_sent;              /* lock: RUN may be out: never resume here */
    QEMUFile *preempt;          /* lock: postcopy-preempt's channel */
    bool pause_asked;           /* lock: migrate-pause received */
    uint64_t stream_base;       /* lock: bytes sent on streams closed by
                                   postcopy pauses */
    uint64_t last_pass_pending; /* what remained at the previous sync */
    uint64_t last_sync_count;
    CPUThrottleTrigger throttle;    /* auto-converge */
    MigrationTimes times;       /* lock */
    uint32_t ping_seq;          /* postcopy keepalive PINGs */
};

/* Bytes out on the main stream and the multifd channels. */
uint64_t mig_out_transferred(FerryMig *m);
/* migrate_cancel was asked. */
bool mig_out_cancelled(FerryMig *m);
/* MIGRATION_PASS for every dirty sync not announced yet. */
void mig_out_emit_passes(FerryMig *m);
/* Keeps the reason of a failure for query-migrate's error-desc. */
void mig_out_record_error(FerryMig *m, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);
/*
 * Stops the guest and its disks, waits for migrate-continue if asked to,
 * and enters @next; *@stop_at is when the downtime started.
 */
bool mig_out_stop_guest(FerryMig *m, MigrationStatus next, int64_t *stop_at,
                        GError **errp);
/* Applies max-bandwidth or max-postcopy-bandwidth, whichever is current. */
void mig_out_apply_rate_limit(FerryMig *m);
/*
 * Starts the return-path thread on @rp (@on_request NULL: precopy).
 * With postcopy-preempt that thread sends the pages vCPUs wait for, so it
 * runs realtime when allowed (docs/migration.md, "Thread priorities").
 */
void mig_out_start_return_path(FerryMig *m, QEMUFile *rp,
                               RPPageRequestFn on_request);
/* Connects to out->uri, with TLS when the migration uses it. */
MigChannel *mig_out_connect(FerryMig *m, GError **errp);

/* migration/outgoing/postcopy-src.c: from migrate-start-postcopy on. */
bool postcopy_source_run(FerryMig *m, GError **errp);
/* postcopy-recover-setup: reconnect to out->uri, resync, go on. */
bool postcopy_source_resume(FerryMig *m, GError **errp);
/* After RUN: pause instead of failing (the guest may run there). */
void postcopy_source_pause(FerryMig *m, GError *err);
/* Closes the preempt channel, first ending it cleanly if @flush_eos. */
void postcopy_close_preempt(FerryMig *m, bool flush_eos);

#endif
