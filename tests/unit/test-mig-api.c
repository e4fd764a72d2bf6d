/*
 * The migration core's public contract (ferry/migration.h) as an embedder
 * meets it: the VMM table's size and required hooks, the API version,
 * defaults from creation, events through the table, and contexts that
 * share nothing.
 */
#include <stddef.h>
#include <string.h>
#include <glib/gstdio.h>
#include "migration/context.h"
#include "migration/state.h"
#include "mig-test-vmm.h"

static void test_version(void)
{
    g_assert_cmpuint(ferry_mig_api_version(), ==, FERRY_MIG_API_VERSION);
    g_assert_cmpuint(FERRY_MIG_API_VERSION >> 16, ==, FERRY_MIG_API_MAJOR);
}

static void expect_refused(const FerryMigVMM *vmm, GMainContext *ctx,
                           const char *words)
{
    g_autoptr(GError) err = NULL;

    g_assert_null(ferry_mig_new(vmm, NULL, ctx, &err));
    g_assert_nonnull(err);
    if (!strstr(err->message, words)) {
        g_error("expected '%s' in: %s", words, err->message);
    }
}

static void test_table_checked(void)
{
    FerryMig *m = mig_test_new(NULL, NULL);
    FerryMigVMM vmm = m->vmm;       /* a complete table */

    ferry_mig_free(m);
    expect_refused(NULL, g_main_context_default(), "no size");
    vmm.size = 0;
    expect_refused(&vmm, g_main_context_default(), "no size");
    vmm.size = sizeof(vmm);
    expect_refused(&vmm, NULL, "GMainContext");
    vmm.vm_stop = NULL;
    expect_refused(&vmm, g_main_context_default(), "'vm_stop'");
}

static unsigned events_seen;

static void count_event(void *opaque, const FerryMigEvent *ev)
{
    g_assert_true(opaque == &events_seen);
    g_assert_cmpint(ev->kind, ==, FERRY_MIG_EVENT_STATUS);
    events_seen++;
}

/* An older embedder's table ends before the event hook: it is not read. */
static void test_shorter_table(void)
{
    FerryMig *m = mig_test_new(NULL, NULL);
    FerryMigVMM vmm = m->vmm;

    ferry_mig_free(m);
    vmm.event = count_event;
    vmm.size = offsetof(FerryMigVMM, event);
    m = ferry_mig_new(&vmm, &events_seen, g_main_context_default(), NULL);
    g_assert_nonnull(m);
    g_assert_null(m->vmm.event);
    events_seen = 0;
    g_assert_true(migrate_set_state(m, MIGRATION_STATUS_NONE,
                                    MIGRATION_STATUS_SETUP));
    g_assert_cmpuint(events_seen, ==, 0);
    ferry_mig_free(m);
}

static void test_events_through_the_table(void)
{
    FerryMigVMM vmm = { .event = count_event };
    FerryMig *m = mig_test_new(&vmm, &events_seen);

    events_seen = 0;
    g_assert_true(migrate_set_state(m, MIGRATION_STATUS_NONE,
                                    MIGRATION_STATUS_SETUP));
    g_assert_true(migrate_set_state(m, MIGRATION_STATUS_SETUP,
                                    MIGRATION_STATUS_FAILED));
    g_assert_false(migrate_set_state(m, MIGRATION_STATUS_SETUP,
                                     MIGRATION_STATUS_ACTIVE));
    g_assert_cmpuint(events_seen, ==, 2);
    g_assert_cmpint(ferry_mig_status(m), ==, MIGRATION_STATUS_FAILED);
    g_assert_cmpstr(ferry_mig_status_name(ferry_mig_status(m)), ==, "failed");
    ferry_mig_free(m);
}

/* Two contexts, as two VMs in one process: nothing is shared. */
static void test_contexts_are_independent(void)
{
    FerryMig *a = mig_test_new(NULL, NULL), *b = mig_test_new(NULL, NULL);
    MigrationParameters set = { .has_max_bandwidth = true,
                                .max_bandwidth = 12345 };
    MigrationCapabilityStatus cap = { MIGRATION_CAPABILITY_EVENTS, true };
    MigrationCapabilityStatusList caps = { NULL, &cap };
    g_autoptr(GError) err = NULL;

    g_assert_true(ferry_mig_set_parameters(a, &set, &err));
    g_assert_true(ferry_mig_set_capabilities(a, &caps, &err));
    g_assert_true(migrate_set_state(a, MIGRATION_STATUS_NONE,
                                    MIGRATION_STATUS_SETUP));

    MigrationParameters *pa = ferry_mig_parameters(a);
    MigrationParameters *pb = ferry_mig_parameters(b);
    g_assert_cmpuint(pa->max_bandwidth, ==, 12345);
    g_assert_cmpuint(pb->max_bandwidth, ==, 0);
    /* defaults from creation, every member reported */
    g_assert_true(pb->has_downtime_limit);
    g_assert_cmpuint(pb->downtime_limit, ==, 300);
    g_assert_cmpstr(pb->tls_creds, ==, "");
    g_assert_true(ferry_mig_capability(a, MIGRATION_CAPABILITY_EVENTS));
    g_assert_false(ferry_mig_capability(b, MIGRATION_CAPABILITY_EVENTS));
    g_assert_true(ferry_mig_capability(b,
                                       MIGRATION_CAPABILITY_EARLY_BLOCK_ATTACH));
    g_assert_cmpint(ferry_mig_status(b), ==, MIGRATION_STATUS_NONE);
    ferry_mig_parameters_free(pa);
    ferry_mig_parameters_free(pb);
    ferry_mig_free(a);
    ferry_mig_free(b);
}

static void test_unsupported_capability(void)
{
    FerryMig *m = mig_test_new(NULL, NULL);
    MigrationCapabilityStatus cap = { MIGRATION_CAPABILITY_AUTO_CONVERGE,
                                      true };
    MigrationCapabilityStatusList caps = { NULL, &cap };
    g_autoptr(GError) err = NULL;

    /* The table has no vm_throttle hook: auto-converge cannot work. */
    g_assert_false(ferry_mig_set_capabilities(m, &caps, &err));
    g_assert_nonnull(strstr(err->message, "auto-converge"));
    g_assert_false(ferry_mig_capability(m, MIGRATION_CAPABILITY_AUTO_CONVERGE));
    ferry_mig_free(m);
}

/* One RAM block and a record of the dirty log's hooks. */
typedef struct LogRecorder {
    FerryMig *m;
    uint8_t *ram;
    unsigned starts, stops;
    MigrationStatus status_at_stop;
} LogRecorder;

#define RECORDER_PAGES 64

static unsigned one_block(void *opaque) { return 1; }

static void get_block(void *opaque, unsigned i, FerryMigRAMBlock *b)
{
    LogRecorder *r = opaque;

    *b = (FerryMigRAMBlock){ "pc.ram", r->ram,
                             RECORDER_PAGES * FERRY_MIG_PAGE_SIZE, -1 };
}

static bool record_start(void *opaque, GError **errp)
{
    ((LogRecorder *)opaque)->starts++;
    return true;
}

static void record_stop(void *opaque)
{
    LogRecorder *r = opaque;

    r->stops++;
    r->status_at_stop = ferry_mig_status(r->m);
}

/*
 * Turning the dirty log off costs tens of ms for a large guest, and
 * nothing waits for it: it comes after 'completed', once.
 */
static void test_log_off_after_completed(void)
{
    FerryMigVMM vmm = { .ram_block_count = one_block,
                        .ram_block_get = get_block,
                        .dirty_log_start = record_start,
                        .dirty_log_stop = record_stop };
    LogRecorder r = { .ram = g_malloc0(RECORDER_PAGES * FERRY_MIG_PAGE_SIZE) };
    g_autofree char *dir = g_dir_make_tmp("mig-api-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "stream", NULL);
    g_autofree char *uri = g_strconcat("file:", path, NULL);
    g_autoptr(GError) err = NULL;

    r.m = mig_test_new(&vmm, &r);
    g_assert_true(ferry_mig_start(r.m, uri, &err));
    g_assert_no_error(err);
    ferry_mig_join(r.m);
    g_assert_cmpint(ferry_mig_status(r.m), ==, MIGRATION_STATUS_COMPLETED);
    g_assert_cmpuint(r.starts, ==, 1);
    g_assert_cmpuint(r.stops, ==, 1);
    g_assert_cmpint(r.status_at_stop, ==, MIGRATION_STATUS_COMPLETED);
    ferry_mig_free(r.m);
    g_free(r.ram);
    g_unlink(path);
    g_rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/mig-api/version", test_version);
    g_test_add_func("/mig-api/table-checked", test_table_checked);
    g_test_add_func("/mig-api/shorter-table", test_shorter_table);
    g_test_add_func("/mig-api/events", test_events_through_the_table);
    g_test_add_func("/mig-api/independent-contexts",
                    test_contexts_are_independent);
    g_test_add_func("/mig-api/log-off-after-completed",
                    test_log_off_after_completed);
    g_test_add_func("/mig-api/unsupported-capability",
                    test_unsupported_capability);
    return g_test_run();
}
