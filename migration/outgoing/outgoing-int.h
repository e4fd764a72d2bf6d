/*
 * What the source's migration thread shares between migration/migration.c
 * (the thread, precopy, the switchover) and migration/postcopy-src.c (the
 * postcopy phase).  Not for use outside migration/.
 *
 * Locking: `lock` guards the flags the main thread sets (cancel,
 * continue, start_postcopy), the files cancel may shut down, and `times`.
 */
#ifndef FERRY_MIGRATION_OUTGOING_INT_H
#define FERRY_MIGRATION_OUTGOING_INT_H

#include "migration/outgoing/outgoing.h"
#include "migration/format/qemu-file.h"
#include "migration/format/return-path.h"
#include "migration/outgoing/throttle-policy.h"

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
    bool start_postcopy;        /* lock: migrate-start-postcopy received */
    bool postcopy;              /* the switchover is a postcopy one */
    bool run_sent;              /* RUN may be out: never resume here */
    QEMUFile *preempt;          /* lock: postcopy-preempt's channel */
    bool pause_asked;           /* lock: migrate-pause received */
    uint64_t stream_base;       /* lock: bytes sent on streams closed by
                                   postcopy pauses */
    uint64_t last_pass_pending; /* what remained at the previous sync */
    uint64_t last_sync_count;
    CPUThrottleTrigger throttle;    /* auto-converge */
    MigrationTimes times;       /* lock */
} Outgoing;


extern Outgoing out;

int64_t now_ms(void);
/* migrate_cancel was asked. */
bool cancelled(void);
/* MIGRATION_PASS for every dirty sync not announced yet. */
void emit_passes(void);
/* Keeps the reason of a failure for query-migrate's error-desc. */
void record_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/*
 * Stops the guest and its disks, waits for migrate-continue if asked to,
 * and enters @next; *@stop_at is when the downtime started.
 */
bool stop_guest(MigrationStatus next, int64_t *stop_at, GError **errp);

/* migration/postcopy-src.c: from migrate-start-postcopy to the end. */
bool postcopy_source_run(GError **errp);
/* postcopy-recover-setup: reconnect to out.uri, resync, go on to the end. */
bool postcopy_source_resume(GError **errp);
/* After RUN: pause instead of failing (the guest may run there). */
void postcopy_source_pause(GError *err);
/* Closes the preempt channel, first ending it cleanly if @flush_eos. */
void postcopy_close_preempt(bool flush_eos);

#endif
