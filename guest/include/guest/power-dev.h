/*
 * Register layout of ferry's paravirtual power button, shared by the test
 * guest and the VMM (hw/misc/power-button.c).  ferry has no ACPI, so
 * `system_powerdown` (libvirt's `virsh shutdown`) presses this button
 * instead: the guest polls STATUS, shuts down cleanly (its disk requests
 * completed and flushed, its last counters reported) and writes POWER_OFF,
 * which powers the machine off like a guest-initiated ACPI S5.
 *
 * One 4 KiB MMIO page of 64-bit registers, after pvblk's pages; the guest
 * reaches it from ring 3.  Under QEMU the magic does not read back and the
 * guest never polls it.
 */
#ifndef GUEST_POWER_DEV_H
#define GUEST_POWER_DEV_H

#include <stdint.h>

#define POWER_DEV_BASE     0xfe010000ULL
#define POWER_DEV_SIZE     0x1000ULL

#define POWER_DEV_MAGIC    0x3142505952524546ULL   /* "FERRYPB1" */

#define POWER_REG_ID       0x00    /* R: POWER_DEV_MAGIC */
#define POWER_REG_STATUS   0x08    /* R: POWER_STATUS_* bits */
#define POWER_REG_CONTROL  0x10    /* W: POWER_CTL_* */

/* The button was pressed; stays set until the machine resets. */
#define POWER_STATUS_PRESSED  1u

/* The guest is done: power the machine off. */
#define POWER_CTL_OFF         1u

#endif
