/*
 * The migration state machine (migration/state.c): QEMU's MigrationStatus,
 * one table of allowed transitions, and migrate_set_state() as the only
 * writer of a context's status.
 *
 * Locking: the status is read and changed with atomics, from the main
 * thread and the migration threads.
 */
#ifndef FERRY_MIGRATION_STATE_H
#define FERRY_MIGRATION_STATE_H

#include <glib.h>
#include <stdbool.h>
#include "ferry/migration.h"

/*
 * Moves @m from @old_state to @new_state if it is in @old_state and the
 * transition table allows it; logs the change and delivers the STATUS
 * event.  Returns false, and logs, otherwise.
 */
bool migrate_set_state(FerryMig *m, MigrationStatus old_state,
                       MigrationStatus new_state);
bool migration_transition_allowed(MigrationStatus from, MigrationStatus to);
MigrationStatus migration_status(FerryMig *m);
/* setup .. device, cancelling, and every postcopy state. */
bool migration_is_running(MigrationStatus status);

bool migrate_capability(FerryMig *m, MigrationCapability cap);

#endif
