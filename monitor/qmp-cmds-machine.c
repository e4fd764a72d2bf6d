/*
 * Run-state commands: query-status, stop, cont, system_reset,
 * system_powerdown.  The checks in qmp_cont() mirror QEMU's, which
 * refuses to run a VM that waits for, or is finishing, a migration, or
 * that shut down or failed.
 */
#include "system/migration-vmm.h"
#include "qapi/qapi-commands.h"
#include "system/runstate.h"
#include "util/error.h"

StatusInfo *qmp_query_status(GError **errp)
{
    StatusInfo *info = g_new0(StatusInfo, 1);

    info->status = runstate_get();
    info->running = runstate_is_running();
    return info;
}

void qmp_stop(GError **errp)
{
    if (!runstate_is_running()) {
        return;                 /* QEMU: stopping a stopped VM is a no-op */
    }
    vm_stop(RUN_STATE_PAUSED, errp);
}

void qmp_cont(GError **errp)
{
    switch (runstate_get()) {
    case RUN_STATE_RUNNING:
        return;
    case RUN_STATE_INMIGRATE:
        /* QEMU: once the migration runs, the guest starts when it may. */
        ferry_mig_incoming_autostart(machine_migration(), errp);
        return;
    case RUN_STATE_FINISH_MIGRATE:
        error_setg(errp, "Migration is not finalized yet");
        return;
    case RUN_STATE_INTERNAL_ERROR:
    case RUN_STATE_SHUTDOWN:
    case RUN_STATE_GUEST_PANICKED:
        error_setg(errp, "Resetting the Virtual Machine is required");
        return;
    default:
        vm_start(errp);
    }
}

void qmp_system_reset(GError **errp)
{
    if (runstate_get() == RUN_STATE_INMIGRATE) {
        error_setg(errp, "system_reset: an incoming migration owns the "
                   "guest's memory");
        return;
    }
    ferry_request_reset(false, "host-qmp-system-reset");
}

void qmp_system_powerdown(GError **errp)
{
    ferry_request_powerdown();
}
