/*
 * Builds what the command line describes, in order: the fd sets (-add-fd),
 * the chardevs (-chardev), then the machine itself, ferry's pc machine or
 * -machine none (the monitors only, as libvirt's capability probe runs
 * it).  The monitors start after this (system/main.c), on these chardevs.
 */
#ifndef FERRY_SYSTEM_MACHINE_INIT_H
#define FERRY_SYSTEM_MACHINE_INIT_H

#include <glib.h>
#include <stdbool.h>
#include "chardev/chardev.h"
#include "system/machine.h"
#include "util/fdset.h"

bool machine_init(const MachineConfig *cfg, GError **errp);
/* After the monitors are gone: the machine, then the chardevs. */
void machine_cleanup(const MachineConfig *cfg);

/* The machine's chardevs and fd sets (created on first use). */
ChardevSet *machine_chardevs(void);
FdSets *machine_fdsets(void);

#endif
