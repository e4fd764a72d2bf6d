/*
 * Port I/O and MMIO dispatch for devices emulated in ferry.  Devices
 * register their ranges at machine init (before any vCPU runs); the table
 * is read-only afterwards, so vCPU threads dispatch without a lock.  Each
 * device serialises its own state.
 */
#ifndef FERRY_SYSTEM_IOPORT_H
#define FERRY_SYSTEM_IOPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

typedef enum IOSpace { IO_SPACE_PIO, IO_SPACE_MMIO } IOSpace;

typedef struct IOOps {
    uint64_t (*read)(void *opaque, uint64_t offset, unsigned size);
    void (*write)(void *opaque, uint64_t offset, uint64_t value, unsigned size);
} IOOps;

bool io_region_register(IOSpace space, uint64_t base, uint64_t size,
                        const char *name, const IOOps *ops, void *opaque,
                        GError **errp);
/* Returns false when nothing is mapped there (reads then yield all ones). */
bool io_dispatch(IOSpace space, uint64_t addr, void *data, unsigned size,
                 bool is_write);
void io_regions_reset(void);

#endif
