/* RAM blocks, guest regions, VMM writes and the bitmap helpers. */
#include <errno.h>
#include <string.h>
#include "system/memory.h"
#include "util/bitmap.h"

static void test_block_and_regions(void)
{
    g_autoptr(GError) err = NULL;
    RAMBlock *rb = ram_block_new("pc.ram", 8 << 20, &err);

    g_assert_no_error(err);
    g_assert_nonnull(rb->host);
    g_assert_cmpint(rb->fd, >=, 0);
    g_assert_true(ram_block_find("pc.ram") == rb);
    g_assert_null(ram_block_new("pc.ram", 4096, &err));
    g_assert_nonnull(strstr(err->message, "already exists"));
    g_clear_error(&err);

    g_assert_nonnull(guest_region_add(0, rb, 0, 4 << 20, &err));
    g_assert_nonnull(guest_region_add(1ULL << 32, rb, 4 << 20, 4 << 20, &err));
    g_assert_null(guest_region_add(2 << 20, rb, 0, 4096, &err));   /* overlap */
    g_assert_nonnull(strstr(err->message, "overlaps"));
    g_clear_error(&err);
    g_assert_null(guest_region_add(64 << 20, rb, 6 << 20, 4 << 20, &err));
    g_clear_error(&err);

    g_assert_true(gpa_to_hva(0x1000, 8) == rb->host + 0x1000);
    g_assert_true(gpa_to_hva((1ULL << 32) + 0x2000, 1) ==
                  rb->host + (4 << 20) + 0x2000);
    g_assert_null(gpa_to_hva(4 << 20, 1));                 /* the hole */
    g_assert_null(gpa_to_hva((4 << 20) - 4, 8));           /* straddles */
    ram_blocks_destroy();
}

static void test_vmm_writes_are_dirty(void)
{
    g_autoptr(GError) err = NULL;
    RAMBlock *rb = ram_block_new("pc.ram", 1 << 20, &err);
    uint8_t buf[2] = { 0xaa, 0xbb };
    uint8_t back[2];

    g_assert_nonnull(guest_region_add(0, rb, 0, 1 << 20, &err));
    g_assert_cmpint(guest_mem_write(0x1fff, buf, 2), ==, 0);  /* 2 pages */
    g_assert_cmpint(guest_mem_read(0x1fff, back, 2), ==, 0);
    g_assert_cmpmem(buf, 2, back, 2);
    g_assert_true(bitmap_test(rb->vmm_dirty, 1));
    g_assert_true(bitmap_test(rb->vmm_dirty, 2));
    g_assert_false(bitmap_test(rb->vmm_dirty, 0));
    g_assert_false(bitmap_test(rb->vmm_dirty, 3));
    g_assert_cmpint(guest_mem_write(1 << 20, buf, 1), ==, -EFAULT);
    g_assert_cmpint(guest_mem_read((1 << 20) - 1, back, 2), ==, -EFAULT);
    ram_blocks_destroy();
}

static void test_bitmap_or_at(void)
{
    unsigned long src[2] = { 0x5UL, 1UL << 63 };
    unsigned long dst[4] = { 0 };

    g_assert_cmpuint(bitmap_or_at(dst, 64, src, 128), ==, 3);
    g_assert_cmphex(dst[1], ==, 0x5UL);
    g_assert_cmphex(dst[2], ==, 1UL << 63);
    memset(dst, 0, sizeof(dst));
    g_assert_cmpuint(bitmap_or_at(dst, 3, src, 128), ==, 3);   /* unaligned */
    g_assert_true(bitmap_test(dst, 3) && bitmap_test(dst, 5));
    g_assert_true(bitmap_test(dst, 3 + 127));
    g_assert_cmpuint(bitmap_count(dst, 256), ==, 3);
}

static void test_bitmap_steal(void)
{
    unsigned long src[2] = { 0xf0UL, 0x1UL };
    unsigned long dst[2] = { 0x1UL, 0 };

    g_assert_cmpuint(bitmap_steal_or(dst, src, 128), ==, 5);
    g_assert_cmphex(dst[0], ==, 0xf1UL);
    g_assert_cmphex(dst[1], ==, 0x1UL);
    g_assert_cmphex(src[0] | src[1], ==, 0);
    bitmap_set_range(src, 60, 8);
    g_assert_cmpuint(bitmap_count(src, 128), ==, 8);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/memory/blocks-and-regions", test_block_and_regions);
    g_test_add_func("/memory/vmm-writes-are-dirty", test_vmm_writes_are_dirty);
    g_test_add_func("/bitmap/or-at", test_bitmap_or_at);
    g_test_add_func("/bitmap/steal", test_bitmap_steal);
    return g_test_run();
}
