#ifndef FERRY_HW_PC_H
#define FERRY_HW_PC_H

#include <glib.h>
#include <stdbool.h>
#include "system/machine.h"

/*
 * Builds the machine the configuration describes: accelerator, pc.ram
 * (split around the PCI hole like QEMU's pc machine), devices, vCPUs
 * (parked), and the kernel loaded and ready to enter.
 */
bool pc_machine_init(const MachineConfig *cfg, GError **errp);
void pc_machine_cleanup(void);
/*
 * Resets the machine (system_reset, a guest reset): pauses the vCPUs,
 * puts them and the devices back to their power-on state and loads the
 * kernel again.  The vCPUs stay paused: the caller resumes them.  Main
 * thread.
 */
bool pc_machine_reset(GError **errp);

/*
 * -device (pvblk, isa-serial) and -serial, once the block nodes and the
 * chardevs exist (hw/x86/pc-devices.c).
 */
bool pc_devices_init(const MachineConfig *cfg, GError **errp);
void pc_devices_cleanup(void);
/* COM1's -device id (isa-serial,id=...), or NULL. */
const char *pc_serial_id(void);

#endif
