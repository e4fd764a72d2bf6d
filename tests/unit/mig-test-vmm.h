/*
 * Unit tests embed the migration core like any VMM: a FerryMigVMM table
 * with the hooks the test cares about.  mig_test_new() fills the other
 * required hooks with neutral defaults (no RAM, a VM that is not running
 * and not waiting for a migration) and creates the context on the
 * default main context.
 */
#ifndef FERRY_TESTS_MIG_TEST_VMM_H
#define FERRY_TESTS_MIG_TEST_VMM_H

#include "ferry/migration.h"

static inline unsigned mig_test_no_blocks(void *opaque) { return 0; }
static inline void mig_test_no_block(void *opaque, unsigned i,
                                     FerryMigRAMBlock *b) { }
static inline bool mig_test_ok(void *opaque, GError **errp) { return true; }
static inline bool mig_test_no(void *opaque, GError **errp) { return false; }
static inline long mig_test_clean(void *opaque, unsigned i,
                                  unsigned long *bitmap) { return 0; }
static inline void mig_test_nothing(void *opaque) { }
static inline bool mig_test_not_running(void *opaque) { return false; }
static inline bool mig_test_run(void *opaque, bool autostart,
                                GError **errp) { return true; }
static inline void mig_test_failed(void *opaque, const char *why,
                                   bool exit) { }

#define MIG_TEST_DEFAULT(hook, fn) \
    do { if (!t.hook) { t.hook = fn; } } while (0)

static inline FerryMig *mig_test_new(const FerryMigVMM *vmm, void *opaque)
{
    FerryMigVMM t = vmm ? *vmm : (FerryMigVMM){ 0 };
    g_autoptr(GError) err = NULL;

    t.size = sizeof(t);
    MIG_TEST_DEFAULT(ram_block_count, mig_test_no_blocks);
    MIG_TEST_DEFAULT(ram_block_get, mig_test_no_block);
    MIG_TEST_DEFAULT(dirty_log_start, mig_test_ok);
    MIG_TEST_DEFAULT(dirty_log_sync, mig_test_clean);
    MIG_TEST_DEFAULT(dirty_log_stop, mig_test_nothing);
    MIG_TEST_DEFAULT(vm_running, mig_test_not_running);
    MIG_TEST_DEFAULT(vm_stop, mig_test_ok);
    MIG_TEST_DEFAULT(vm_start, mig_test_ok);
    MIG_TEST_DEFAULT(source_completed, mig_test_nothing);
    MIG_TEST_DEFAULT(incoming_allowed, mig_test_no);
    MIG_TEST_DEFAULT(incoming_loaded, mig_test_ok);
    MIG_TEST_DEFAULT(incoming_run, mig_test_run);
    MIG_TEST_DEFAULT(incoming_failed, mig_test_failed);
    FerryMig *m = ferry_mig_new(&t, opaque, g_main_context_default(), &err);
    g_assert_no_error(err);
    return m;
}

#endif
