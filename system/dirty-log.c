/*
 * Dirty logging front end: the accelerator's log plus the VMM's own writes.
 * Called from the migration thread (later issues) with no lock: the
 * accelerator's sync and the atomic VMM bitmap make it safe against
 * running vCPUs.
 */
#include <errno.h>
#include "system/dirty-log.h"
#include "util/bitmap.h"
#include "util/error.h"

static const DirtyLogOps *provider;
static bool active;

void dirty_log_register(const DirtyLogOps *ops)
{
    provider = ops;
}

bool dirty_log_start(GError **errp)
{
    GPtrArray *blocks = ram_blocks();

    if (!provider) {
        error_setg(errp, "the accelerator provides no dirty log");
        return false;
    }
    if (active) {
        return true;
    }
    /* Writes made before tracking started are part of the first full pass. */
    for (guint i = 0; i < blocks->len; i++) {
        RAMBlock *rb = g_ptr_array_index(blocks, i);
        g_autofree unsigned long *scratch =
            g_new0(unsigned long, BITS_TO_LONGS(ram_block_pages(rb)));
        bitmap_steal_or(scratch, rb->vmm_dirty, ram_block_pages(rb));
    }
    if (!provider->start(errp)) {
        return false;
    }
    active = true;
    return true;
}

long dirty_log_sync(RAMBlock *rb, unsigned long *bitmap)
{
    long n;

    if (!active) {
        return -EINVAL;
    }
    n = provider->sync(rb, bitmap);
    if (n < 0) {
        return n;
    }
    bitmap_steal_or(bitmap, rb->vmm_dirty, ram_block_pages(rb));
    return (long)bitmap_count(bitmap, ram_block_pages(rb));
}

void dirty_log_stop(void)
{
    if (active) {
        provider->stop();
        active = false;
    }
}

bool dirty_log_active(void)
{
    return active;
}
