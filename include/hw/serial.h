#ifndef FERRY_HW_SERIAL_H
#define FERRY_HW_SERIAL_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include "chardev/chardev.h"
#include "ferry/migration.h"

/* The registers, as migrated (hw/char/serial-vmstate.c). */
typedef struct SerialState {
    uint16_t divider;
    uint8_t ier, fcr, lcr, mcr, scr;
} SerialState;

/*
 * The 16550 UART at COM1 (port 0x3f8), QEMU's isa-serial.  It is part of
 * ferry's pc machine whatever the command line says, so the "serial"
 * migration section is always there; its output goes nowhere until
 * serial_set_backend() connects it to a chardev.
 */
bool serial_init(GError **errp);
/* Where COM1's output goes from now on (NULL: nowhere). */
void serial_set_backend(Chardev *chr);
/* Flushes the last partial line and disconnects. */
void serial_cleanup(void);
/* Registers @s as the "serial" migration section (again: replaces). */
bool serial_vmstate_register(FerryMig *m, SerialState *s, GError **errp);

#endif
