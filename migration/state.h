/*
 * The migration core's state: one MigrationState per process (a process
 * is the source or the destination of at most one migration at a time),
 * its status changed only through migrate_set_state().
 *
 * Locking: the status is read and changed with atomics, from the main
 * thread and the migration threads; capabilities and parameters change
 * only on the main thread, while no migration is running.
 */
#ifndef FERRY_MIGRATION_MIGRATION_H
#define FERRY_MIGRATION_MIGRATION_H

#include <glib.h>
#include <stdbool.h>
#include "qapi/qapi-types.h"

typedef struct MigrationState {
    MigrationStatus status;
    bool capabilities[MIGRATION_CAPABILITY__MAX];
    MigrationParameters params;
    char *error_desc;
} MigrationState;

MigrationState *migration_current(void);

/*
 * Moves @s from @old_state to @new_state if it is in @old_state and the
 * transition table allows it; traces the change and emits MIGRATION (with
 * capability events).  Returns false, and logs, otherwise.
 */
bool migrate_set_state(MigrationState *s, MigrationStatus old_state,
                       MigrationStatus new_state);
bool migration_transition_allowed(MigrationStatus from, MigrationStatus to);
MigrationStatus migration_status(const MigrationState *s);
/* setup .. device, cancelling, and every postcopy state. */
bool migration_is_running(MigrationStatus status);

bool migrate_capability(MigrationCapability cap);
/* Resets capabilities, parameters and status (tests). */
void migration_reset(void);

#endif
