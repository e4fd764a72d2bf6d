#ifndef FERRY_HW_SERIAL_H
#define FERRY_HW_SERIAL_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include "ferry/migration.h"

/* The registers, as migrated (hw/char/serial-vmstate.c). */
typedef struct SerialState {
    uint16_t divider;
    uint8_t ier, fcr, lcr, mcr, scr;
} SerialState;

/*
 * The 16550 UART at COM1 (port 0x3f8).  @spec is the -serial argument:
 * "file:PATH", "stdio" or "none" (NULL means none).
 */
bool serial_init(const char *spec, GError **errp);
void serial_cleanup(void);
/* Registers @s as the "serial" migration section (again: replaces). */
bool serial_vmstate_register(FerryMig *m, SerialState *s, GError **errp);

#endif
