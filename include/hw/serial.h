#ifndef FERRY_HW_SERIAL_H
#define FERRY_HW_SERIAL_H

#include <glib.h>
#include <stdbool.h>

/*
 * The 16550 UART at COM1 (port 0x3f8).  @spec is the -serial argument:
 * "file:PATH", "stdio" or "none" (NULL means none).
 */
bool serial_init(const char *spec, GError **errp);
void serial_cleanup(void);

#endif
