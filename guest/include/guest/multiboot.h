/*
 * Multiboot v1 structures (the subset ferry's loader provides and the test
 * guest reads), shared by guest/ and hw/x86/multiboot.c.
 */
#ifndef GUEST_MULTIBOOT_H
#define GUEST_MULTIBOOT_H

#include <stdint.h>

#define MULTIBOOT_HEADER_MAGIC      0x1BADB002u
#define MULTIBOOT_BOOTLOADER_MAGIC  0x2BADB002u
#define MULTIBOOT_SEARCH            8192

#define MULTIBOOT_HDR_PAGE_ALIGN    (1u << 0)
#define MULTIBOOT_HDR_MEMORY_INFO   (1u << 1)
#define MULTIBOOT_HDR_AOUT_KLUDGE   (1u << 16)

#define MULTIBOOT_INFO_MEMORY       (1u << 0)
#define MULTIBOOT_INFO_CMDLINE      (1u << 2)
#define MULTIBOOT_INFO_MEM_MAP      (1u << 6)

#define MULTIBOOT_MEMORY_AVAILABLE  1
#define MULTIBOOT_MEMORY_RESERVED   2

struct multiboot_header {
    uint32_t magic;
    uint32_t flags;
    uint32_t checksum;
    uint32_t header_addr;       /* the a.out kludge fields */
    uint32_t load_addr;
    uint32_t load_end_addr;
    uint32_t bss_end_addr;
    uint32_t entry_addr;
} __attribute__((packed));

struct multiboot_info {
    uint32_t flags;
    uint32_t mem_lower;         /* KiB below 1 MiB */
    uint32_t mem_upper;         /* KiB above 1 MiB, up to the first hole */
    uint32_t boot_device;
    uint32_t cmdline;
    uint32_t mods_count;
    uint32_t mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length;
    uint32_t mmap_addr;
} __attribute__((packed));

struct multiboot_mmap_entry {
    uint32_t size;              /* of the rest of the entry: 20 */
    uint64_t addr;
    uint64_t len;
    uint32_t type;
} __attribute__((packed));

#endif
