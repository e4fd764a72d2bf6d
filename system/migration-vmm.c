/*
 * ferry's side of the migration core's VMM interface
 * (include/migration/vmm.h): RAM blocks and dirty log from system/,
 * vCPUs and run state from system/runstate.c, and the accelerator state
 * that lives outside the stream.
 */
#include "accel/accel.h"
#include "accel/soft.h"
#include "block/block.h"
#include "hw/pvblk.h"
#include "migration/vmm.h"
#include "system/cpu-throttle.h"
#include "system/cpus.h"
#include "system/dirty-log.h"
#include "system/machine.h"
#include "system/memory.h"
#include "system/migration-vmm.h"
#include "system/ram-prefault.h"
#include "system/runstate.h"
#include "util/error.h"

static RAMBlock *block_at(unsigned index)
{
    return g_ptr_array_index(ram_blocks(), index);
}

static unsigned ferry_ram_block_count(void)
{
    return ram_blocks()->len;
}

static void ferry_ram_block_get(unsigned index, MigRAMBlock *out)
{
    RAMBlock *rb = block_at(index);

    *out = (MigRAMBlock){ rb->idstr, rb->host, rb->size, rb->fd };
}

static long ferry_dirty_log_sync(unsigned index, unsigned long *bitmap)
{
    return dirty_log_sync(block_at(index), bitmap);
}

static bool ferry_vm_stop(GError **errp)
{
    return vm_stop(RUN_STATE_FINISH_MIGRATE, errp);
}

static void ferry_vm_throttle(int percent)
{
    if (percent > 0) {
        cpu_throttle_set(percent);
    } else {
        cpu_throttle_stop();
    }
}

static void ferry_source_completed(void)
{
    g_autoptr(GError) err = NULL;

    runstate_set(RUN_STATE_POSTMIGRATE, &err);
}

static bool ferry_incoming_allowed(GError **errp)
{
    if (runstate_get() != RUN_STATE_INMIGRATE) {
        error_setg(errp, "'-incoming' was not specified on the command line");
        return false;
    }
    return true;
}

/* The soft accelerator's layout lives in ferry, not in guest RAM. */
static bool ferry_incoming_loaded(GError **errp)
{
    return accel_current() != &soft_accel_ops ||
           soft_accel_prepare(current_config ? current_config->append : NULL,
                              errp);
}

static bool ferry_incoming_run(bool autostart, GError **errp)
{
    ram_prefault_stop();
    return autostart ? vm_start(errp) : runstate_set(RUN_STATE_PAUSED, errp);
}

static void ferry_incoming_failed(const char *why, bool exit)
{
    ram_prefault_stop();
    if (exit) {
        ferry_exit_with(1, why);
    }
}

/* Nothing may populate guest RAM once postcopy registers it. */
static bool ferry_incoming_postcopy_listen(GError **errp)
{
    ram_prefault_stop();
    return true;
}

static int ferry_vcpu_index_of_thread(uint32_t tid)
{
    for (unsigned i = 0; i < cpus_count(); i++) {
        if ((uint32_t)cpu_get(i)->os_tid == tid) {
            return (int)i;
        }
    }
    return -1;
}

/* Completions of requests in flight land in guest RAM before the final
 * RAM pass: the ring and its data then travel with the guest. */
static bool ferry_block_inactivate(GError **errp)
{
    pvblk_drain_all();
    return bdrv_inactivate_all(errp);
}

static const MigrationVMM ferry_vmm = {
    .ram_block_count = ferry_ram_block_count,
    .ram_block_get = ferry_ram_block_get,
    .dirty_log_start = dirty_log_start,
    .dirty_log_sync = ferry_dirty_log_sync,
    .dirty_log_stop = dirty_log_stop,
    .vm_running = runstate_is_running,
    .vm_stop = ferry_vm_stop,
    .vm_start = vm_start,
    .vm_throttle = ferry_vm_throttle,
    .vm_throttle_percent = cpu_throttle_get_percentage,
    .block_inactivate = ferry_block_inactivate,
    .block_activate = bdrv_activate_all,
    .block_attach = bdrv_attach_all,
    .source_completed = ferry_source_completed,
    .incoming_allowed = ferry_incoming_allowed,
    .incoming_loaded = ferry_incoming_loaded,
    .incoming_run = ferry_incoming_run,
    .incoming_failed = ferry_incoming_failed,
    .incoming_postcopy_listen = ferry_incoming_postcopy_listen,
    .vcpu_index_of_thread = ferry_vcpu_index_of_thread,
    .vcpu_count = cpus_count,
};

void ferry_migration_vmm_install(void)
{
    migration_set_vmm(&ferry_vmm);
}
