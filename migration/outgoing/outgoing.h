/*
 * The source side of a migration: the migration thread (start, cancel,
 * continue, postcopy and resume are public: ferry/migration.h) and what
 * query-migrate reads of it.
 */
#ifndef FERRY_MIGRATION_OUTGOING_H
#define FERRY_MIGRATION_OUTGOING_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include "ferry/migration.h"

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
    bool run_acked;             /* postcopy: RUN_ACK read (the next may be 0) */
    int64_t run_ack_us;         /* postcopy: package sent -> RUN_ACK read */
    int64_t package_ms;         /* postcopy: guest stopped -> package sent */
} MigrationTimes;

/* migrate-pause on the source: postcopy-active -> postcopy-paused. */
bool mig_outgoing_pause(FerryMig *m, GError **errp);
/* Fills the time and byte counters of query-migrate. */
void mig_outgoing_times(FerryMig *m, MigrationTimes *t);
/* Joins a finished migration thread (exit path, tests). */
void mig_outgoing_join(FerryMig *m);

#endif
