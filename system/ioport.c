#include <string.h>
#include "system/ioport.h"
#include "util/error.h"

typedef struct IORegion {
    IOSpace space;
    uint64_t base, size;
    const char *name;
    const IOOps *ops;
    void *opaque;
} IORegion;

#define MAX_IO_REGIONS 32
static IORegion io_regions[MAX_IO_REGIONS];
static unsigned nr_io_regions;

bool io_region_register(IOSpace space, uint64_t base, uint64_t size,
                        const char *name, const IOOps *ops, void *opaque,
                        GError **errp)
{
    if (nr_io_regions == MAX_IO_REGIONS) {
        error_setg(errp, "too many I/O regions registering '%s'", name);
        return false;
    }
    for (unsigned i = 0; i < nr_io_regions; i++) {
        IORegion *r = &io_regions[i];
        if (r->space == space && base < r->base + r->size &&
            r->base < base + size) {
            error_setg(errp, "I/O region '%s' overlaps '%s'", name, r->name);
            return false;
        }
    }
    io_regions[nr_io_regions++] = (IORegion){ space, base, size, name, ops,
                                              opaque };
    return true;
}

bool io_dispatch(IOSpace space, uint64_t addr, void *data, unsigned size,
                 bool is_write)
{
    for (unsigned i = 0; i < nr_io_regions; i++) {
        IORegion *r = &io_regions[i];
        if (r->space != space || addr < r->base || addr - r->base >= r->size) {
            continue;
        }
        uint64_t v = 0;
        if (is_write) {
            memcpy(&v, data, size);
            r->ops->write(r->opaque, addr - r->base, v, size);
        } else {
            v = r->ops->read(r->opaque, addr - r->base, size);
            memcpy(data, &v, size);
        }
        return true;
    }
    if (!is_write) {
        memset(data, 0xff, size);
    }
    return false;
}

void io_regions_reset(void)
{
    nr_io_regions = 0;
}
