#ifndef FERRY_HW_MULTIBOOT_H
#define FERRY_HW_MULTIBOOT_H

#include <glib.h>
#include <stdbool.h>
#include "accel/accel.h"

/*
 * Loads a Multiboot v1 kernel (ELF32, ELF64, or the a.out kludge) into
 * guest RAM, writes the info structure (memory map of @ram_size bytes laid
 * out like the pc machine, and @cmdline), and fills @entry.
 */
bool multiboot_load(const uint8_t *image, size_t size, const char *cmdline,
                    uint64_t ram_size, BootEntry *entry, GError **errp);

#endif
