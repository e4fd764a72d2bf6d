/*
 * The source side of a migration: the migration thread and what the
 * monitor asks of it (start, cancel, continue, statistics).
 */
#ifndef FERRY_MIGRATION_OUTGOING_H
#define FERRY_MIGRATION_OUTGOING_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include "qapi/qapi-types.h"

typedef struct MigrationTimes {
    int64_t start_ms;           /* migrate command */
    int64_t setup_ms;           /* time spent in setup */
    int64_t end_ms;             /* 0 while running */
    int64_t downtime_ms;        /* guest stopped -> completed */
    int64_t expected_downtime_ms;
    uint64_t bandwidth_bps;     /* bytes/s, last measured */
    uint64_t precopy_bytes;
    uint64_t downtime_bytes;
    uint64_t transferred;
    int64_t run_ack_us;         /* postcopy: package sent -> RUN_ACK read */
    int64_t package_ms;         /* postcopy: guest stopped -> package sent */
} MigrationTimes;

bool migration_outgoing_start(const char *uri, GError **errp);
bool migration_outgoing_cancel(GError **errp);
bool migration_outgoing_continue(MigrationStatus state, GError **errp);
/* migrate resume=true: postcopy-paused -> recover-setup -> recover. */
bool migration_outgoing_resume(const char *uri, GError **errp);
/* migrate-pause on the source: postcopy-active -> postcopy-paused. */
bool migration_outgoing_pause(GError **errp);
/* migrate-start-postcopy: switch at the migration thread's next step. */
bool migration_outgoing_start_postcopy(GError **errp);
/* Fills the time and byte counters of query-migrate. */
void migration_outgoing_times(MigrationTimes *out);
/* Joins a finished migration thread (exit path, tests). */
void migration_outgoing_join(void);

#endif
