/*
 * A Multiboot v1 loader, the way QEMU's -kernel and GRUB load such a
 * kernel, so the same test guest boots under ferry and QEMU.  The info
 * structure and command line go below 1 MiB, out of the kernel's way.
 */
#include <elf.h>
#include <string.h>
#include "guest/multiboot.h"
#include "hw/multiboot.h"
#include "system/machine.h"
#include "system/memory.h"
#include "util/error.h"

#define MBI_ADDR      0x9000
#define MMAP_ADDR     0x9100
#define CMDLINE_ADDR  0xa000
#define CMDLINE_MAX   0x4000

static const struct multiboot_header *find_header(const uint8_t *image,
                                                  size_t size)
{
    size_t limit = size < MULTIBOOT_SEARCH ? size : MULTIBOOT_SEARCH;

    for (size_t off = 0; off + 12 <= limit; off += 4) {
        const struct multiboot_header *h = (const void *)(image + off);
        if (h->magic == MULTIBOOT_HEADER_MAGIC &&
            h->magic + h->flags + h->checksum == 0) {
            return h;
        }
    }
    return NULL;
}

static bool load_segment(const uint8_t *image, size_t size, uint64_t off,
                         uint64_t filesz, uint64_t paddr, uint64_t memsz,
                         GError **errp)
{
    if (filesz > memsz || off > size || filesz > size - off) {
        error_setg(errp, "kernel: segment at 0x%" G_GINT64_MODIFIER "x is "
                   "truncated or malformed", paddr);
        return false;
    }
    if (!gpa_to_hva(paddr, memsz ? memsz : 1)) {
        error_setg(errp, "kernel: segment 0x%" G_GINT64_MODIFIER "x+0x%"
                   G_GINT64_MODIFIER "x lies outside guest RAM", paddr, memsz);
        return false;
    }
    g_autofree uint8_t *seg = g_malloc0(memsz ? memsz : 1);
    memcpy(seg, image + off, filesz);
    return guest_mem_write(paddr, seg, memsz) == 0;
}

/* What the loader needs of an ELF program header, whatever the class. */
typedef struct ElfSegment {
    uint32_t type;
    uint64_t offset, filesz, paddr, memsz;
} ElfSegment;

/*
 * Headers are copied out rather than cast: in a hostile image they need not
 * be aligned.
 */
static void read_segment(const uint8_t *image, bool is64, uint64_t off,
                         ElfSegment *seg)
{
    if (is64) {
        Elf64_Phdr ph;
        memcpy(&ph, image + off, sizeof(ph));
        *seg = (ElfSegment){ ph.p_type, ph.p_offset, ph.p_filesz, ph.p_paddr,
                             ph.p_memsz };
    } else {
        Elf32_Phdr ph;
        memcpy(&ph, image + off, sizeof(ph));
        *seg = (ElfSegment){ ph.p_type, ph.p_offset, ph.p_filesz, ph.p_paddr,
                             ph.p_memsz };
    }
}

static bool load_elf(const uint8_t *image, size_t size, uint32_t *entry,
                     GError **errp)
{
    bool is64 = image[EI_CLASS] == ELFCLASS64;
    size_t ehsize = is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
    size_t phsize = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
    uint64_t phoff, e_entry;
    unsigned phnum;

    if (size < ehsize) {
        error_setg(errp, "kernel: truncated ELF header");
        return false;
    }
    if (is64) {
        Elf64_Ehdr eh;
        memcpy(&eh, image, sizeof(eh));
        phoff = eh.e_phoff, phnum = eh.e_phnum, e_entry = eh.e_entry;
    } else {
        Elf32_Ehdr eh;
        memcpy(&eh, image, sizeof(eh));
        phoff = eh.e_phoff, phnum = eh.e_phnum, e_entry = eh.e_entry;
    }
    if (phoff > size || (uint64_t)phnum * phsize > size - phoff) {
        error_setg(errp, "kernel: truncated ELF program headers");
        return false;
    }
    if (e_entry > UINT32_MAX) {
        error_setg(errp, "kernel: entry point above 4 GiB");
        return false;
    }
    for (unsigned i = 0; i < phnum; i++) {
        ElfSegment seg;
        read_segment(image, is64, phoff + i * phsize, &seg);
        if (seg.type == PT_LOAD &&
            !load_segment(image, size, seg.offset, seg.filesz, seg.paddr,
                          seg.memsz, errp)) {
            return false;
        }
    }
    *entry = (uint32_t)e_entry;
    return true;
}

static bool load_aout_kludge(const uint8_t *image, size_t size,
                             const struct multiboot_header *h, uint32_t *entry,
                             GError **errp)
{
    uint64_t hdr_off = (uint64_t)((const uint8_t *)h - image);
    uint64_t file_off = hdr_off - (h->header_addr - h->load_addr);
    uint64_t load_end = h->load_end_addr ? h->load_end_addr : h->load_addr + size - file_off;
    uint64_t bss_end = h->bss_end_addr > load_end ? h->bss_end_addr : load_end;

    if (h->header_addr < h->load_addr || hdr_off < h->header_addr - h->load_addr) {
        error_setg(errp, "kernel: inconsistent Multiboot a.out addresses");
        return false;
    }
    *entry = h->entry_addr;
    return load_segment(image, size, file_off, load_end - h->load_addr,
                        h->load_addr, bss_end - h->load_addr, errp);
}

static void add_mmap(struct multiboot_mmap_entry *map, unsigned *n,
                     uint64_t addr, uint64_t len, uint32_t type)
{
    map[(*n)++] = (struct multiboot_mmap_entry){ 20, addr, len, type };
}

static bool write_info(const char *cmdline, uint64_t ram_size, GError **errp)
{
    uint64_t low = MIN(ram_size, MACHINE_LOWMEM_MAX);
    struct multiboot_mmap_entry map[4];
    unsigned n = 0;
    size_t len = strlen(cmdline) + 1;

    if (len > CMDLINE_MAX) {
        error_setg(errp, "-append: command line longer than %d bytes",
                   CMDLINE_MAX - 1);
        return false;
    }
    add_mmap(map, &n, 0, 0x9fc00, MULTIBOOT_MEMORY_AVAILABLE);
    add_mmap(map, &n, 0xf0000, 0x10000, MULTIBOOT_MEMORY_RESERVED);
    add_mmap(map, &n, 0x100000, low - 0x100000, MULTIBOOT_MEMORY_AVAILABLE);
    if (ram_size > low) {
        add_mmap(map, &n, MACHINE_HIGHMEM_BASE, ram_size - low,
                 MULTIBOOT_MEMORY_AVAILABLE);
    }
    struct multiboot_info mbi = {
        .flags = MULTIBOOT_INFO_MEMORY | MULTIBOOT_INFO_CMDLINE |
                 MULTIBOOT_INFO_MEM_MAP,
        .mem_lower = 639,
        .mem_upper = (uint32_t)((low - 0x100000) / 1024),
        .cmdline = CMDLINE_ADDR,
        .mmap_length = n * sizeof(map[0]),
        .mmap_addr = MMAP_ADDR,
    };
    return guest_mem_write(CMDLINE_ADDR, cmdline, len) == 0 &&
           guest_mem_write(MMAP_ADDR, map, n * sizeof(map[0])) == 0 &&
           guest_mem_write(MBI_ADDR, &mbi, sizeof(mbi)) == 0;
}

bool multiboot_load(const uint8_t *image, size_t size, const char *cmdline,
                    uint64_t ram_size, BootEntry *entry, GError **errp)
{
    const struct multiboot_header *h = find_header(image, size);
    uint32_t ep = 0;
    bool ok;

    if (!h) {
        error_setg(errp, "kernel: no Multiboot v1 header in the first %d bytes",
                   MULTIBOOT_SEARCH);
        return false;
    }
    if (ram_size < (2u << 20)) {
        error_setg(errp, "-m: at least 2 MiB of RAM are needed to boot");
        return false;
    }
    if (h->flags & MULTIBOOT_HDR_AOUT_KLUDGE) {
        ok = load_aout_kludge(image, size, h, &ep, errp);
    } else if (size >= EI_NIDENT && !memcmp(image, ELFMAG, SELFMAG)) {
        ok = load_elf(image, size, &ep, errp);
    } else {
        error_setg(errp, "kernel: neither ELF nor a Multiboot a.out kludge image");
        return false;
    }
    if (!ok || !write_info(cmdline ? cmdline : "", ram_size, errp)) {
        return false;
    }
    entry->entry = ep;
    entry->mbi = MBI_ADDR;
    entry->cmdline = cmdline;
    return true;
}
