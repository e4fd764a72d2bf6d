/*
 * Guest RAM blocks (memfd, shared mapping) and the guest-physical regions
 * that map them.  See include/system/memory.h for the locking rules.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "system/memory.h"
#include "util/bitmap.h"
#include "util/error.h"

static GPtrArray *blocks;
static GPtrArray *regions;

static void ram_block_free(gpointer p)
{
    RAMBlock *rb = p;

    if (rb->host) {
        munmap(rb->host, rb->size);
    }
    if (rb->staging) {
        munmap(rb->staging, rb->size);
    }
    if (rb->fd >= 0) {
        close(rb->fd);
    }
    g_free(rb->vmm_dirty);
    g_free(rb->idstr);
    g_free(rb);
}

/* A new memfd of @size bytes, or -1. */
static int ram_memfd_new(const char *name, uint64_t size, GError **errp)
{
    g_autofree char *memfd_name = g_strdup_printf("ferry:%s", name);
    int fd = memfd_create(memfd_name, MFD_CLOEXEC);

    if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
        error_setg_errno(errp, errno, "RAM block '%s': cannot create memfd "
                         "of %" G_GUINT64_FORMAT " bytes", name, size);
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    return fd;
}

/* An adopted memfd must hold exactly the RAM the machine is given. */
static bool ram_memfd_check(const char *name, uint64_t size, int fd,
                            GError **errp)
{
    struct stat st;

    if (fstat(fd, &st) < 0) {
        error_setg_errno(errp, errno, "RAM block '%s': fstat", name);
        return false;
    }
    if ((uint64_t)st.st_size != size) {
        error_setg(errp, "RAM block '%s': the memory handed over has %"
                   G_GUINT64_FORMAT " bytes, the machine %" G_GUINT64_FORMAT,
                   name, (uint64_t)st.st_size, size);
        return false;
    }
    return true;
}

/*
 * One shared mapping of @rb's memfd.  2 MiB host pages are slow to fault
 * in on some hosts; memfd avoids them anyway, MADV_NOHUGEPAGE keeps that
 * true if shmem THP gets enabled.
 */
static uint8_t *ram_map(RAMBlock *rb, GError **errp)
{
    uint8_t *p = mmap(NULL, rb->size, PROT_READ | PROT_WRITE, MAP_SHARED,
                      rb->fd, 0);

    if (p == MAP_FAILED) {
        error_setg_errno(errp, errno, "RAM block '%s': cannot map memory",
                         rb->idstr);
        return NULL;
    }
    madvise(p, rb->size, MADV_NOHUGEPAGE);
    return p;
}

static bool ram_block_check_new(const char *name, uint64_t size,
                                GError **errp)
{
    if (size == 0 || size % FERRY_PAGE_SIZE) {
        error_setg(errp, "RAM block '%s': size %" G_GUINT64_FORMAT
                   " is not a positive multiple of 4 KiB", name, size);
        return false;
    }
    if (ram_block_find(name)) {
        error_setg(errp, "RAM block '%s' already exists", name);
        return false;
    }
    return true;
}

RAMBlock *ram_block_adopt(const char *name, uint64_t size, int fd,
                          GError **errp)
{
    RAMBlock *rb;

    if (!ram_block_check_new(name, size, errp) ||
        (fd >= 0 && !ram_memfd_check(name, size, fd, errp))) {
        if (fd >= 0) {
            close(fd);
        }
        return NULL;
    }
    if (fd < 0 && (fd = ram_memfd_new(name, size, errp)) < 0) {
        return NULL;
    }
    rb = g_new0(RAMBlock, 1);
    rb->idstr = g_strdup(name);
    rb->size = size;
    rb->fd = fd;
    rb->host = ram_map(rb, errp);
    rb->staging = rb->host ? ram_map(rb, errp) : NULL;
    if (!rb->staging) {
        ram_block_free(rb);
        return NULL;
    }
    rb->vmm_dirty = g_new0(unsigned long, BITS_TO_LONGS(ram_block_pages(rb)));
    if (!blocks) {
        blocks = g_ptr_array_new_with_free_func(ram_block_free);
        regions = g_ptr_array_new_with_free_func(g_free);
    }
    g_ptr_array_add(blocks, rb);
    return rb;
}

void ram_block_drop_staging(RAMBlock *rb)
{
    uint8_t *staging = __atomic_exchange_n(&rb->staging, NULL,
                                           __ATOMIC_ACQ_REL);

    if (staging) {
        munmap(staging, rb->size);
    }
}

RAMBlock *ram_block_new(const char *name, uint64_t size, GError **errp)
{
    return ram_block_adopt(name, size, -1, errp);
}

RAMBlock *ram_block_find(const char *name)
{
    for (guint i = 0; blocks && i < blocks->len; i++) {
        RAMBlock *rb = g_ptr_array_index(blocks, i);
        if (!strcmp(rb->idstr, name)) {
            return rb;
        }
    }
    return NULL;
}

GPtrArray *ram_blocks(void)
{
    if (!blocks) {
        blocks = g_ptr_array_new_with_free_func(ram_block_free);
        regions = g_ptr_array_new_with_free_func(g_free);
    }
    return blocks;
}

void ram_blocks_destroy(void)
{
    g_clear_pointer(&regions, g_ptr_array_unref);
    g_clear_pointer(&blocks, g_ptr_array_unref);
}

GuestRegion *guest_region_add(uint64_t gpa, RAMBlock *rb, uint64_t offset,
                              uint64_t size, GError **errp)
{
    GuestRegion *r;

    if (offset + size > rb->size || (gpa | size | offset) % FERRY_PAGE_SIZE) {
        error_setg(errp, "region 0x%" G_GINT64_MODIFIER "x+0x%"
                   G_GINT64_MODIFIER "x does not fit RAM block '%s'",
                   gpa, size, rb->idstr);
        return NULL;
    }
    for (guint i = 0; i < regions->len; i++) {
        GuestRegion *o = g_ptr_array_index(regions, i);
        if (gpa < o->gpa + o->size && o->gpa < gpa + size) {
            error_setg(errp, "region at 0x%" G_GINT64_MODIFIER "x overlaps "
                       "another", gpa);
            return NULL;
        }
    }
    r = g_new0(GuestRegion, 1);
    *r = (GuestRegion){ gpa, size, rb, offset, regions->len };
    g_ptr_array_add(regions, r);
    return r;
}

GPtrArray *guest_regions(void)
{
    ram_blocks();
    return regions;
}

GuestRegion *guest_region_find(uint64_t gpa, uint64_t len)
{
    for (guint i = 0; regions && i < regions->len; i++) {
        GuestRegion *r = g_ptr_array_index(regions, i);
        if (gpa >= r->gpa && len <= r->size && gpa - r->gpa <= r->size - len) {
            return r;
        }
    }
    return NULL;
}

void *gpa_to_hva(uint64_t gpa, uint64_t len)
{
    GuestRegion *r = guest_region_find(gpa, len);

    return r ? r->block->host + r->offset + (gpa - r->gpa) : NULL;
}

void ram_block_mark_dirty(RAMBlock *rb, uint64_t offset, uint64_t len)
{
    uint64_t first = offset >> FERRY_PAGE_SHIFT;
    uint64_t last = (offset + len - 1) >> FERRY_PAGE_SHIFT;

    for (uint64_t p = first; len && p <= last; p++) {
        bitmap_set_atomic(rb->vmm_dirty, p);
    }
}

int guest_mem_write(uint64_t gpa, const void *buf, size_t len)
{
    GuestRegion *r = guest_region_find(gpa, len);

    if (!r) {
        return -EFAULT;
    }
    memcpy(r->block->host + r->offset + (gpa - r->gpa), buf, len);
    ram_block_mark_dirty(r->block, r->offset + (gpa - r->gpa), len);
    return 0;
}

int guest_mem_load_u32(uint64_t gpa, uint32_t *v)
{
    const uint32_t *p = gpa_to_hva(gpa, sizeof(*p));

    if (!p || (gpa & 3)) {
        return -EFAULT;
    }
    *v = __atomic_load_n(p, __ATOMIC_ACQUIRE);
    return 0;
}

int guest_mem_store_u32(uint64_t gpa, uint32_t v)
{
    GuestRegion *r = guest_region_find(gpa, sizeof(v));
    uint32_t *p;

    if (!r || (gpa & 3)) {
        return -EFAULT;
    }
    p = (uint32_t *)(r->block->host + r->offset + (gpa - r->gpa));
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
    ram_block_mark_dirty(r->block, r->offset + (gpa - r->gpa), sizeof(v));
    return 0;
}

int guest_mem_read(uint64_t gpa, void *buf, size_t len)
{
    void *src = gpa_to_hva(gpa, len);

    if (!src) {
        return -EFAULT;
    }
    memcpy(buf, src, len);
    return 0;
}
