/*
 * Guest RAM: named RAM blocks backed by memfd (mapped shared, so another
 * process can be handed the fd), and the guest-physical regions that map
 * them.  A block may be mapped by several regions (pc.ram is split around
 * the 32-bit PCI hole like QEMU's pc machine does).
 *
 * Locking: blocks and regions are created at start-up before any vCPU or
 * monitor thread runs and never change afterwards, so lookups take no lock.
 * The one exception, a block's staging pointer, goes to NULL once (main
 * thread, after the pre-fault threads stopped) and is read atomically.
 * The VMM dirty bitmap is updated with atomic bit operations.
 */
#ifndef FERRY_SYSTEM_MEMORY_H
#define FERRY_SYSTEM_MEMORY_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#define FERRY_PAGE_SHIFT 12
#define FERRY_PAGE_SIZE (1ULL << FERRY_PAGE_SHIFT)

typedef struct RAMBlock {
    char *idstr;                /* "pc.ram": the name the stream uses */
    uint8_t *host;              /* shared mapping of the memfd */
    uint8_t *staging;           /* a second one, never the guest's: a
                                 * postcopy destination writes pages here
                                 * (ferry/migration.h, ram_block_staging);
                                 * atomic, NULL once the incoming
                                 * migration is over */
    uint64_t size;              /* bytes, a multiple of FERRY_PAGE_SIZE */
    int fd;                     /* memfd */
    unsigned long *vmm_dirty;   /* pages the VMM itself wrote, 1 bit/page */
} RAMBlock;

typedef struct GuestRegion {
    uint64_t gpa;               /* guest-physical start */
    uint64_t size;
    RAMBlock *block;
    uint64_t offset;            /* offset into block */
    uint32_t slot;              /* accelerator slot number */
} GuestRegion;

/* Creates and registers a memfd-backed block of @size bytes. */
RAMBlock *ram_block_new(const char *name, uint64_t size, GError **errp);
/*
 * The same over an existing memfd @fd of exactly @size bytes (taken, also
 * on failure): a live update's successor maps the guest RAM its
 * predecessor runs on.  @fd -1 creates one as ram_block_new does.
 */
RAMBlock *ram_block_adopt(const char *name, uint64_t size, int fd,
                          GError **errp);
RAMBlock *ram_block_find(const char *name);
/*
 * Unmaps @rb's staging mapping for good: the incoming migration that
 * wrote through it is over (ram_block_staging_done), and a process takes
 * at most one.  Whoever still asks for it gets NULL.
 */
void ram_block_drop_staging(RAMBlock *rb);
/* All blocks, in creation order (element type RAMBlock *). */
GPtrArray *ram_blocks(void);
/* Unmaps and forgets every block and region (tests, exit). */
void ram_blocks_destroy(void);

static inline uint64_t ram_block_pages(const RAMBlock *rb)
{
    return rb->size >> FERRY_PAGE_SHIFT;
}

/* Maps @size bytes of @rb at @offset to guest-physical @gpa. */
GuestRegion *guest_region_add(uint64_t gpa, RAMBlock *rb, uint64_t offset,
                              uint64_t size, GError **errp);
/* All regions (element type GuestRegion *). */
GPtrArray *guest_regions(void);
/* Region containing [gpa, gpa + len), or NULL. */
GuestRegion *guest_region_find(uint64_t gpa, uint64_t len);

/* Host address of guest-physical [gpa, gpa + len) or NULL if not all RAM. */
void *gpa_to_hva(uint64_t gpa, uint64_t len);

/*
 * Reads/writes made by the VMM itself (loader, x-poke, devices).  Writes
 * are recorded in the block's VMM dirty bitmap, because the accelerator's
 * dirty log only sees guest writes.  Return 0 or -EFAULT.
 */
int guest_mem_write(uint64_t gpa, const void *buf, size_t len);
int guest_mem_read(uint64_t gpa, void *buf, size_t len);
void ram_block_mark_dirty(RAMBlock *rb, uint64_t offset, uint64_t len);
/*
 * A ring index the guest polls: one atomic access, so neither side sees a
 * torn value; the load acquires, the store releases and marks the page
 * dirty as guest_mem_write does.  Return 0 or -EFAULT (@gpa 4-aligned).
 */
int guest_mem_load_u32(uint64_t gpa, uint32_t *v);
int guest_mem_store_u32(uint64_t gpa, uint32_t v);

#endif
