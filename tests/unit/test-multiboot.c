/*
 * The Multiboot loader with the real built-in guest image, and with
 * damaged images: every truncation and a sweep of byte flips in the
 * headers must give a clear error or a clean load, never a crash.
 */
#include <elf.h>
#include <string.h>
#include "guest/multiboot.h"
#include "hw/multiboot.h"
#include "system/machine.h"
#include "system/memory.h"

extern const uint8_t ferry_guest_elf[], ferry_guest_elf_end[];

static void setup_ram(uint64_t size)
{
    g_autoptr(GError) err = NULL;
    RAMBlock *rb = ram_block_new("pc.ram", size, &err);

    g_assert_no_error(err);
    g_assert_nonnull(guest_region_add(0, rb, 0, size, &err));
}

static void test_builtin_guest(void)
{
    g_autoptr(GError) err = NULL;
    size_t size = (size_t)(ferry_guest_elf_end - ferry_guest_elf);
    BootEntry entry = { 0 };
    struct multiboot_info mbi;
    struct multiboot_mmap_entry map[2];
    char cmdline[32];

    setup_ram(64 << 20);
    g_assert_true(multiboot_load(ferry_guest_elf, size, "dirty-rate=64M",
                                 64 << 20, &entry, &err));
    g_assert_no_error(err);
    g_assert_cmphex(entry.entry, >=, 0x100000);
    g_assert_cmpint(guest_mem_read(entry.mbi, &mbi, sizeof(mbi)), ==, 0);
    g_assert_cmphex(mbi.flags & MULTIBOOT_INFO_MEM_MAP, !=, 0);
    g_assert_cmpuint(mbi.mem_upper, ==, (64 << 10) - 1024);
    g_assert_cmpint(guest_mem_read(mbi.cmdline, cmdline, 15), ==, 0);
    g_assert_cmpstr(cmdline, ==, "dirty-rate=64M");
    g_assert_cmpint(guest_mem_read(mbi.mmap_addr, map, sizeof(map)), ==, 0);
    g_assert_cmpuint(map[0].addr, ==, 0);
    g_assert_cmpuint(map[0].type, ==, MULTIBOOT_MEMORY_AVAILABLE);
    /* The entry code is where the ELF said, byte for byte. */
    const Elf32_Ehdr *eh = (const void *)ferry_guest_elf;
    const Elf32_Phdr *ph = (const void *)(ferry_guest_elf + eh->e_phoff);
    uint8_t *loaded = gpa_to_hva(ph[0].p_paddr, ph[0].p_filesz);
    g_assert_cmpmem(loaded, ph[0].p_filesz, ferry_guest_elf + ph[0].p_offset,
                    ph[0].p_filesz);
    ram_blocks_destroy();
}

static void test_split_memory_map(void)
{
    g_autoptr(GError) err = NULL;
    BootEntry entry = { 0 };
    struct multiboot_info mbi;
    struct multiboot_mmap_entry map[4];
    uint64_t ram = MACHINE_LOWMEM_MAX + (1ULL << 30);

    /* Only the low part needs backing for the loader. */
    setup_ram(64 << 20);
    g_assert_true(multiboot_load(ferry_guest_elf,
                                 (size_t)(ferry_guest_elf_end - ferry_guest_elf),
                                 "", ram, &entry, &err));
    g_assert_cmpint(guest_mem_read(entry.mbi, &mbi, sizeof(mbi)), ==, 0);
    g_assert_cmpuint(mbi.mmap_length, ==, 4 * sizeof(map[0]));
    g_assert_cmpint(guest_mem_read(mbi.mmap_addr, map, sizeof(map)), ==, 0);
    g_assert_cmphex(map[3].addr, ==, MACHINE_HIGHMEM_BASE);
    g_assert_cmphex(map[3].len, ==, 1ULL << 30);
    ram_blocks_destroy();
}

static void test_rejects_garbage(void)
{
    g_autoptr(GError) err = NULL;
    BootEntry entry;
    uint8_t junk[4096];

    setup_ram(16 << 20);
    memset(junk, 0x5a, sizeof(junk));
    g_assert_false(multiboot_load(junk, sizeof(junk), "", 16 << 20, &entry, &err));
    g_assert_nonnull(strstr(err->message, "no Multiboot v1 header"));
    g_clear_error(&err);
    g_assert_false(multiboot_load(ferry_guest_elf, 64, "", 16 << 20, &entry, &err));
    g_clear_error(&err);
    ram_blocks_destroy();
}

static void test_damaged_images(void)
{
    size_t size = (size_t)(ferry_guest_elf_end - ferry_guest_elf);
    g_autofree uint8_t *img = g_memdup2(ferry_guest_elf, size);
    unsigned loaded = 0, refused = 0;

    setup_ram(16 << 20);
    for (size_t cut = 0; cut < size; cut += size / 97 + 1) {
        g_autoptr(GError) err = NULL;
        BootEntry entry;
        if (multiboot_load(ferry_guest_elf, cut, "", 16 << 20, &entry, &err)) {
            loaded++;
        } else {
            g_assert_nonnull(err);
            refused++;
        }
    }
    /* Flip each byte of the ELF and program headers to a hostile value. */
    for (size_t i = 0; i < 0x200; i++) {
        g_autoptr(GError) err = NULL;
        BootEntry entry;
        uint8_t saved = img[i];
        img[i] ^= 0xff;
        if (multiboot_load(img, size, "", 16 << 20, &entry, &err)) {
            loaded++;
        } else {
            g_assert_nonnull(err);
            g_assert_cmpuint(strlen(err->message), >, 0);
            refused++;
        }
        img[i] = saved;
    }
    g_assert_cmpuint(refused, >, 0);
    ram_blocks_destroy();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/multiboot/builtin-guest", test_builtin_guest);
    g_test_add_func("/multiboot/split-memory-map", test_split_memory_map);
    g_test_add_func("/multiboot/rejects-garbage", test_rejects_garbage);
    g_test_add_func("/multiboot/damaged-images", test_damaged_images);
    return g_test_run();
}
