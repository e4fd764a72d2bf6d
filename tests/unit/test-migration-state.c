/*
 * The migration state machine: the table, migrate_set_state's refusals
 * and races, and a guard that every state is reachable or declared
 * unreachable on purpose, so a new state cannot go untested.
 */
#include "migration/state.h"
#include "mig-test-vmm.h"

/* States no transition reaches: features ferry does not have. */
static const MigrationStatus unreachable_on_purpose[] = {
    MIGRATION_STATUS_COLO,
    MIGRATION_STATUS_WAIT_UNPLUG,
};

static bool declared_unreachable(MigrationStatus s)
{
    for (gsize i = 0; i < G_N_ELEMENTS(unreachable_on_purpose); i++) {
        if (unreachable_on_purpose[i] == s) {
            return true;
        }
    }
    return false;
}

static void test_every_state_accounted_for(void)
{
    bool reached[MIGRATION_STATUS__MAX] = { [MIGRATION_STATUS_NONE] = true };
    bool grew = true;

    /* A new state must be added here and to the table deliberately. */
    g_assert_cmpint(MIGRATION_STATUS__MAX, ==, 16);
    while (grew) {
        grew = false;
        for (int from = 0; from < MIGRATION_STATUS__MAX; from++) {
            for (int to = 0; reached[from] && to < MIGRATION_STATUS__MAX; to++) {
                if (!reached[to] && migration_transition_allowed(from, to)) {
                    reached[to] = grew = true;
                }
            }
        }
    }
    for (int s = 0; s < MIGRATION_STATUS__MAX; s++) {
        if (reached[s] == declared_unreachable(s)) {
            g_error("state '%s' is %s but %s declared unreachable",
                    MigrationStatus_str(s), reached[s] ? "reachable" : "unreachable",
                    reached[s] ? "is" : "is not");
        }
    }
}

static void test_terminal_states_leave_only_to_setup(void)
{
    const MigrationStatus ends[] = { MIGRATION_STATUS_COMPLETED,
                                     MIGRATION_STATUS_FAILED,
                                     MIGRATION_STATUS_CANCELLED };

    for (gsize i = 0; i < G_N_ELEMENTS(ends); i++) {
        for (int to = 0; to < MIGRATION_STATUS__MAX; to++) {
            g_assert_cmpint(migration_transition_allowed(ends[i], to), ==,
                            to == MIGRATION_STATUS_SETUP);
        }
    }
}

static void test_cancel_in_each_running_state(void)
{
    const MigrationStatus cancellable[] = { MIGRATION_STATUS_SETUP,
                                            MIGRATION_STATUS_ACTIVE,
                                            MIGRATION_STATUS_PRE_SWITCHOVER,
                                            MIGRATION_STATUS_DEVICE };

    for (gsize i = 0; i < G_N_ELEMENTS(cancellable); i++) {
        g_assert_true(migration_transition_allowed(cancellable[i],
                                                   MIGRATION_STATUS_CANCELLING));
        g_assert_true(migration_transition_allowed(cancellable[i],
                                                   MIGRATION_STATUS_FAILED));
    }
    g_assert_true(migration_transition_allowed(MIGRATION_STATUS_CANCELLING,
                                               MIGRATION_STATUS_CANCELLED));
}

static void test_set_state(void)
{
    FerryMig *s = mig_test_new(NULL, NULL);

    g_assert_cmpint(migration_status(s), ==, MIGRATION_STATUS_NONE);
    /* not allowed by the table */
    g_assert_false(migrate_set_state(s, MIGRATION_STATUS_NONE,
                                     MIGRATION_STATUS_COMPLETED));
    g_assert_true(migrate_set_state(s, MIGRATION_STATUS_NONE,
                                    MIGRATION_STATUS_SETUP));
    /* allowed, but the state is not the expected old one: no change */
    g_assert_false(migrate_set_state(s, MIGRATION_STATUS_ACTIVE,
                                     MIGRATION_STATUS_DEVICE));
    g_assert_cmpint(migration_status(s), ==, MIGRATION_STATUS_SETUP);
    g_assert_true(migration_is_running(migration_status(s)));
    g_assert_true(migrate_set_state(s, MIGRATION_STATUS_SETUP,
                                    MIGRATION_STATUS_ACTIVE));
    g_assert_true(migrate_set_state(s, MIGRATION_STATUS_ACTIVE,
                                    MIGRATION_STATUS_DEVICE));
    g_assert_true(migrate_set_state(s, MIGRATION_STATUS_DEVICE,
                                    MIGRATION_STATUS_COMPLETED));
    g_assert_false(migration_is_running(migration_status(s)));
    ferry_mig_free(s);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/migration-state/every-state-accounted-for",
                    test_every_state_accounted_for);
    g_test_add_func("/migration-state/terminal-states",
                    test_terminal_states_leave_only_to_setup);
    g_test_add_func("/migration-state/cancel", test_cancel_in_each_running_state);
    g_test_add_func("/migration-state/set-state", test_set_state);
    return g_test_run();
}
