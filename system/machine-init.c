/* See include/system/machine-init.h. */
#include <errno.h>
#include <sys/mman.h>
#include "accel/accel.h"
#include "hw/pc.h"
#include "system/machine-init.h"
#include "system/migration-vmm.h"
#include "system/runstate.h"
#include "util/error.h"

/* The machine's fd sets and chardevs, from machine init to exit. */
static FdSets *fdsets;
static ChardevSet *chardevs;

FdSets *machine_fdsets(void)
{
    if (!fdsets) {
        fdsets = fdsets_new();
    }
    return fdsets;
}

ChardevSet *machine_chardevs(void)
{
    if (!chardevs) {
        chardevs = chardev_set_new(machine_fdsets());
    }
    return chardevs;
}

static bool fdsets_init(const MachineConfig *cfg, GError **errp)
{
    for (guint i = 0; i < cfg->add_fds->len; i++) {
        const AddFdConfig *a = g_ptr_array_index(cfg->add_fds, i);

        if (!fdsets_add(machine_fdsets(), a->set, a->fd, a->opaque, errp)) {
            g_prefix_error(errp, "-add-fd: ");
            return false;
        }
    }
    return true;
}

static bool chardevs_init(const MachineConfig *cfg, GError **errp)
{
    for (guint i = 0; i < cfg->chardevs->len; i++) {
        if (!chardev_set_add(machine_chardevs(),
                             g_ptr_array_index(cfg->chardevs, i), errp)) {
            g_prefix_error(errp, "-chardev: ");
            return false;
        }
    }
    return true;
}

/* -overcommit mem-lock=on: all of ferry's memory, guest RAM included,
 * now and later, stays in RAM. */
static bool lock_memory(const MachineConfig *cfg, GError **errp)
{
    if (cfg->mem_lock && mlockall(MCL_CURRENT | MCL_FUTURE) < 0) {
        error_setg_errno(errp, errno, "-overcommit mem-lock=on: mlockall");
        return false;
    }
    return true;
}

/*
 * -machine none: no RAM, vCPUs or devices, but the accelerator is chosen
 * (query-kvm tells which) and the migration context exists, so every QMP
 * command has what it needs to answer.
 */
static bool none_machine_init(const MachineConfig *cfg, GError **errp)
{
    return accel_select(cfg->accel, errp) && machine_migration_init(errp);
}

bool machine_init(const MachineConfig *cfg, GError **errp)
{
    runstate_set_no_reboot(cfg->no_reboot);
    runstate_set_no_shutdown(cfg->no_shutdown);
    if (!lock_memory(cfg, errp) || !fdsets_init(cfg, errp) ||
        !chardevs_init(cfg, errp)) {
        return false;
    }
    return cfg->machine == MACHINE_TYPE_NONE ? none_machine_init(cfg, errp)
                                             : pc_machine_init(cfg, errp);
}

void machine_cleanup(const MachineConfig *cfg)
{
    if (cfg->machine == MACHINE_TYPE_NONE) {
        machine_migration_cleanup();
    } else {
        pc_machine_cleanup();
    }
    g_clear_pointer(&chardevs, chardev_set_free);
    g_clear_pointer(&fdsets, fdsets_free);
}
