/*
 * The migration state machine: QEMU's MigrationStatus, one explicit table
 * of allowed transitions, and migrate_set_state() as its only writer.
 * A test walks the table and fails when a state is added without being
 * reachable or declared unused.
 */
#include "migration/context.h"
#include "migration/state.h"
#include "migration/log.h"

#define S(x) MIGRATION_STATUS_##x

static const struct {
    MigrationStatus from, to;
} transitions[] = {
    /* a migration starts; a finished one may be followed by another */
    { S(NONE), S(SETUP) },
    { S(COMPLETED), S(SETUP) },
    { S(FAILED), S(SETUP) },
    { S(CANCELLED), S(SETUP) },
    /* precopy */
    { S(SETUP), S(ACTIVE) },
    { S(ACTIVE), S(PRE_SWITCHOVER) },
    { S(ACTIVE), S(DEVICE) },
    { S(ACTIVE), S(COMPLETED) },        /* destination: stream loaded */
    { S(PRE_SWITCHOVER), S(DEVICE) },
    { S(DEVICE), S(COMPLETED) },
    /* postcopy, source: RUN goes only after the destination's RUN_ACK */
    { S(ACTIVE), S(POSTCOPY_SETUP) },
    { S(PRE_SWITCHOVER), S(POSTCOPY_SETUP) },
    { S(POSTCOPY_SETUP), S(POSTCOPY_ACTIVE) },
    { S(POSTCOPY_SETUP), S(FAILED) },       /* the guest resumes here */
    { S(POSTCOPY_SETUP), S(CANCELLING) },
    /* postcopy, destination: LISTEN */
    { S(ACTIVE), S(POSTCOPY_ACTIVE) },
    { S(POSTCOPY_ACTIVE), S(COMPLETED) },
    /* destination, before it sent RUN_ACK: it never ran the guest */
    { S(POSTCOPY_ACTIVE), S(FAILED) },
    /* after RUN (source) or RUN_ACK (destination): halt, never fail */
    { S(POSTCOPY_ACTIVE), S(POSTCOPY_PAUSED) },
    /* recovery (migrate-recover, migrate resume), which may fail again */
    { S(POSTCOPY_PAUSED), S(POSTCOPY_RECOVER_SETUP) },
    { S(POSTCOPY_RECOVER_SETUP), S(POSTCOPY_RECOVER) },
    { S(POSTCOPY_RECOVER), S(POSTCOPY_ACTIVE) },
    { S(POSTCOPY_RECOVER_SETUP), S(POSTCOPY_PAUSED) },
    { S(POSTCOPY_RECOVER), S(POSTCOPY_PAUSED) },
    /* failure before the switchover completes */
    { S(SETUP), S(FAILED) },
    { S(ACTIVE), S(FAILED) },
    { S(PRE_SWITCHOVER), S(FAILED) },
    { S(DEVICE), S(FAILED) },
    /* cancel */
    { S(SETUP), S(CANCELLING) },
    { S(ACTIVE), S(CANCELLING) },
    { S(PRE_SWITCHOVER), S(CANCELLING) },
    { S(DEVICE), S(CANCELLING) },
    { S(CANCELLING), S(CANCELLED) },
    { S(CANCELLING), S(FAILED) },
};

bool migration_transition_allowed(MigrationStatus from, MigrationStatus to)
{
    for (gsize i = 0; i < G_N_ELEMENTS(transitions); i++) {
        if (transitions[i].from == from && transitions[i].to == to) {
            return true;
        }
    }
    return false;
}

MigrationStatus migration_status(FerryMig *m)
{
    return __atomic_load_n(&m->status, __ATOMIC_ACQUIRE);
}

bool migrate_set_state(FerryMig *m, MigrationStatus old_state,
                       MigrationStatus new_state)
{
    MigrationStatus expected = old_state;

    if (!migration_transition_allowed(old_state, new_state)) {
        mig_log("migration: refused transition %s -> %s",
                MigrationStatus_str(old_state),
                MigrationStatus_str(new_state));
        return false;
    }
    if (!__atomic_compare_exchange_n(&m->status, &expected, new_state, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        mig_log("migration: %s -> %s lost the race: status is %s",
                MigrationStatus_str(old_state),
                MigrationStatus_str(new_state),
                MigrationStatus_str(expected));
        return false;
    }
    mig_log("migration: %s -> %s", MigrationStatus_str(old_state),
            MigrationStatus_str(new_state));
    mig_emit(m, &(FerryMigEvent){ .kind = FERRY_MIG_EVENT_STATUS,
                                   .status = new_state });
    return true;
}

bool migration_is_running(MigrationStatus status)
{
    switch (status) {
    case S(NONE): case S(COMPLETED): case S(FAILED): case S(CANCELLED):
    case S(COLO): case S(WAIT_UNPLUG):
        return false;
    default:
        return true;
    }
}

bool migrate_capability(FerryMig *m, MigrationCapability cap)
{
    return m->capabilities[cap];
}
