/*
 * ferry as an embedder of the migration core (ferry/migration.h): the
 * machine's one migration context, and the VMM table behind it: RAM
 * blocks and dirty log from system/, vCPUs and run state from
 * system/runstate.c, the accelerator state that lives outside the stream,
 * the getfd table (and inherited descriptors) and the QMP events.
 */
#include <fcntl.h>
#include <limits.h>
#include "accel/accel.h"
#include "accel/soft.h"
#include "ferry/block.h"
#include "hw/pvblk.h"
#include "ferry/migration.h"
#include "monitor/fds.h"
#include "qapi/qapi-events.h"
#include "system/tls-objects.h"
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

/* The machine's migration context, from machine init to exit. */
static FerryMig *machine_mig;

FerryMig *machine_migration(void)
{
    g_assert(machine_mig);
    return machine_mig;
}

static unsigned ferry_ram_block_count(void *opaque)
{
    return ram_blocks()->len;
}

static void ferry_ram_block_get(void *opaque, unsigned index,
                                FerryMigRAMBlock *out)
{
    RAMBlock *rb = block_at(index);

    *out = (FerryMigRAMBlock){ rb->idstr, rb->host, rb->size, rb->fd };
}

static uint8_t *ferry_ram_block_staging(void *opaque, unsigned index)
{
    return __atomic_load_n(&block_at(index)->staging, __ATOMIC_ACQUIRE);
}

static void ferry_ram_block_staging_done(void *opaque, unsigned index)
{
    ram_block_drop_staging(block_at(index));
}

static bool ferry_dirty_log_start(void *opaque, GError **errp)
{
    return dirty_log_start(errp);
}

static long ferry_dirty_log_sync(void *opaque, unsigned index,
                                 unsigned long *bitmap)
{
    return dirty_log_sync(block_at(index), bitmap);
}

static void ferry_dirty_log_stop(void *opaque)
{
    dirty_log_stop();
}

static bool ferry_vm_running(void *opaque)
{
    return runstate_is_running();
}

static bool ferry_vm_stop(void *opaque, GError **errp)
{
    return vm_stop(RUN_STATE_FINISH_MIGRATE, errp);
}

static bool ferry_vm_start(void *opaque, GError **errp)
{
    if (vm_start(errp)) {
        return true;
    }
    /* The disks are still another process's (a destination that loaded
     * everything holds their lock): paused, so `cont` can retry once
     * that process is gone; finish-migrate would refuse it. */
    if (runstate_get() == RUN_STATE_FINISH_MIGRATE) {
        runstate_set(RUN_STATE_PAUSED, NULL);
    }
    return false;
}

static void ferry_vm_throttle(void *opaque, int percent)
{
    if (percent > 0) {
        cpu_throttle_set(percent);
    } else {
        cpu_throttle_stop();
    }
}

static int ferry_vm_throttle_percent(void *opaque)
{
    return cpu_throttle_get_percentage();
}

static void ferry_source_completed(void *opaque)
{
    g_autoptr(GError) err = NULL;

    runstate_set(RUN_STATE_POSTMIGRATE, &err);
}

static bool ferry_incoming_allowed(void *opaque, GError **errp)
{
    if (runstate_get() != RUN_STATE_INMIGRATE) {
        error_setg(errp, "'-incoming' was not specified on the command line");
        return false;
    }
    return true;
}

/* The soft accelerator's layout lives in ferry, not in guest RAM. */
static bool ferry_incoming_loaded(void *opaque, GError **errp)
{
    return accel_current() != &soft_accel_ops ||
           soft_accel_prepare(current_config ? current_config->append : NULL,
                              errp);
}

static bool ferry_incoming_run(void *opaque, bool autostart, GError **errp)
{
    ram_prefault_stop();
    return autostart ? vm_start(errp) : runstate_set(RUN_STATE_PAUSED, errp);
}

static void ferry_incoming_failed(void *opaque, const char *why, bool exit)
{
    ram_prefault_stop();
    if (exit) {
        ferry_exit_with(1, why);
    }
}

/* Nothing may populate guest RAM once postcopy registers it. */
static bool ferry_incoming_postcopy_listen(void *opaque, GError **errp)
{
    ram_prefault_stop();
    return true;
}

static int ferry_vcpu_index_of_thread(void *opaque, uint32_t tid)
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
static bool ferry_block_inactivate(void *opaque, GError **errp)
{
    pvblk_drain_all();
    return bdrv_inactivate_all(machine_block_graph(), errp);
}

static bool ferry_block_activate(void *opaque, GError **errp)
{
    return bdrv_activate_all(machine_block_graph(), errp);
}

static bool ferry_block_attach(void *opaque, GError **errp)
{
    return bdrv_attach_all(machine_block_graph(), errp);
}

static unsigned ferry_vcpu_count(void *opaque)
{
    return cpus_count();
}

/* QMP's MIGRATION and MIGRATION_PASS, with capability events (QEMU). */
static void ferry_migration_event(void *opaque, const FerryMigEvent *ev)
{
    if (!ferry_mig_capability(machine_mig, MIGRATION_CAPABILITY_EVENTS)) {
        return;
    }
    if (ev->kind == FERRY_MIG_EVENT_STATUS) {
        qapi_event_send_migration(ev->status);
    } else {
        qapi_event_send_migration_pass((int64_t)ev->pass);
    }
}

/*
 * fd:NAME is a descriptor received with getfd or, as QEMU takes it, the
 * number of one the process inherited: `virsh restore` passes its image
 * and sends migrate-incoming fd:25.  getfd refuses names that start with
 * a digit, so the two cannot be confused.  Like a getfd one, the
 * descriptor now belongs to the migration, which closes it.
 */
static int ferry_fd_lookup(void *opaque, const char *name, GError **errp)
{
    guint64 fd;

    if (!g_ascii_isdigit(name[0])) {
        return monitor_fd_take(name, errp);
    }
    if (!g_ascii_string_to_unsigned(name, 10, 0, INT_MAX, &fd, NULL) ||
        fcntl((int)fd, F_GETFD) < 0) {
        error_setg(errp, "'%s' is not an open file descriptor of this "
                   "process", name);
        return -1;
    }
    return (int)fd;
}

static bool ferry_tls_creds(void *opaque, const char *id,
                            FerryMigTlsCreds *creds, GError **errp)
{
    return tls_object_creds(id, creds, errp);
}

static bool ferry_tls_authz(void *opaque, const char *id, const char *dn,
                            GError **errp)
{
    return tls_object_authz(id, dn, errp);
}

static const FerryMigVMM ferry_vmm = {
    .size = sizeof(FerryMigVMM),
    .ram_block_count = ferry_ram_block_count,
    .ram_block_get = ferry_ram_block_get,
    .dirty_log_start = ferry_dirty_log_start,
    .dirty_log_sync = ferry_dirty_log_sync,
    .dirty_log_stop = ferry_dirty_log_stop,
    .vm_running = ferry_vm_running,
    .vm_stop = ferry_vm_stop,
    .vm_start = ferry_vm_start,
    .vm_throttle = ferry_vm_throttle,
    .vm_throttle_percent = ferry_vm_throttle_percent,
    .block_inactivate = ferry_block_inactivate,
    .block_activate = ferry_block_activate,
    .block_attach = ferry_block_attach,
    .source_completed = ferry_source_completed,
    .incoming_allowed = ferry_incoming_allowed,
    .incoming_loaded = ferry_incoming_loaded,
    .incoming_run = ferry_incoming_run,
    .incoming_failed = ferry_incoming_failed,
    .incoming_postcopy_listen = ferry_incoming_postcopy_listen,
    .vcpu_index_of_thread = ferry_vcpu_index_of_thread,
    .vcpu_count = ferry_vcpu_count,
    .event = ferry_migration_event,
    .fd_lookup = ferry_fd_lookup,
    .tls_creds = ferry_tls_creds,
    .tls_authz = ferry_tls_authz,
    .ram_block_staging = ferry_ram_block_staging,
    .ram_block_staging_done = ferry_ram_block_staging_done,
};

bool machine_migration_init(GError **errp)
{
    if (machine_mig) {
        return true;
    }
    machine_mig = ferry_mig_new(&ferry_vmm, NULL, g_main_context_default(),
                                errp);
    return machine_mig != NULL;
}

void machine_migration_cleanup(void)
{
    g_clear_pointer(&machine_mig, ferry_mig_free);
}
