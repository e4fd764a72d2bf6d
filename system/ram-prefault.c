/* Background pre-faulting of guest RAM (see include/system/ram-prefault.h). */
#include <errno.h>
#include <sys/mman.h>
#include "ferry/migration.h"
#include "system/memory.h"
#include "system/migration-vmm.h"
#include "system/ram-prefault.h"
#include "util/log.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define PREFAULT_THREADS 2
#define PREFAULT_CHUNK   (64ULL << 20)

static GThread *threads[PREFAULT_THREADS];
static gint stopping;

/*
 * The mapping incoming pages will be written through: the staging one
 * when a postcopy destination keeps the guest's mapping empty until the
 * guest runs (populating the guest's would put back the page-table
 * entries that mode avoids).  Asked per chunk: the capabilities that
 * decide usually arrive over QMP after this thread started.
 */
static uint8_t *prefault_view(RAMBlock *rb)
{
    uint8_t *staging = __atomic_load_n(&rb->staging, __ATOMIC_ACQUIRE);

    return staging && ferry_mig_incoming_staged(machine_migration()) ?
           staging : rb->host;
}

/* Thread @n takes every PREFAULT_THREADS-th chunk of every block. */
static gpointer prefault_thread(gpointer opaque)
{
    unsigned n = GPOINTER_TO_UINT(opaque);
    GPtrArray *blocks = ram_blocks();
    uint64_t chunk_no = 0;

    for (guint b = 0; b < blocks->len; b++) {
        RAMBlock *rb = g_ptr_array_index(blocks, b);
        for (uint64_t off = 0; off < rb->size; off += PREFAULT_CHUNK) {
            if (g_atomic_int_get(&stopping)) {
                return NULL;
            }
            if (chunk_no++ % PREFAULT_THREADS != n) {
                continue;
            }
            if (madvise(prefault_view(rb) + off, MIN(PREFAULT_CHUNK, rb->size - off),
                        MADV_POPULATE_WRITE) < 0 && errno == EINVAL) {
                return NULL;    /* kernel before 5.14: no pre-faulting */
            }
        }
    }
    return NULL;
}

void ram_prefault_start(void)
{
    g_atomic_int_set(&stopping, 0);
    for (unsigned i = 0; i < PREFAULT_THREADS; i++) {
        if (!threads[i]) {
            threads[i] = g_thread_new("ram-prefault", prefault_thread,
                                      GUINT_TO_POINTER(i));
        }
    }
}

void ram_prefault_stop(void)
{
    g_atomic_int_set(&stopping, 1);
    for (unsigned i = 0; i < PREFAULT_THREADS; i++) {
        if (threads[i]) {
            g_thread_join(threads[i]);
            threads[i] = NULL;
        }
    }
}
