/*
 * The test guest's ring-0 part: read what the Multiboot loader passed, map
 * all RAM for ring 3, start the other CPUs, and drop every CPU into ring 3.
 * Kept short, and free of SSE, because guest ring 0 is emulated on this
 * workplace's KVM; everything about the workload happens in ring 3.
 */
#include "guest/kernel.h"
#include "guest/multiboot.h"

#define PTE_USER_RW  0x7ull
#define PDE_2M       0x87ull

extern uint64_t pdpt[], pd_high[];
extern char __kernel_end[];
extern volatile unsigned aps_arrived;

struct boot_info boot_info;
static uint8_t ustacks[MAX_CPUS][USTACK_SIZE] __attribute__((aligned(16)));
static volatile int go;
#define ram boot_info.ram
#define nr_ram boot_info.nr_ram

static void add_ram(uint64_t start, uint64_t end)
{
    start = (start + WL_PAGE_SIZE - 1) & ~(uint64_t)(WL_PAGE_SIZE - 1);
    end &= ~(uint64_t)(WL_PAGE_SIZE - 1);
    if (end > GUEST_PHYS_MAX) {
        end = GUEST_PHYS_MAX;
    }
    if (start >= end || nr_ram == WL_MAX_RANGES) {
        return;
    }
    ram[nr_ram++] = (struct wl_range){
        .gpa = start,
        .npages = (end - start) / WL_PAGE_SIZE,
        .host = (uint8_t *)start,       /* identity mapped */
    };
}

/* Copies what we need: the loader may have put it where the workload goes. */
static void read_boot_info(uint32_t mbi_addr)
{
    const struct multiboot_info *mbi = (const void *)(uint64_t)mbi_addr;

    if (mbi->flags & MULTIBOOT_INFO_CMDLINE) {
        const char *src = (const char *)(uint64_t)mbi->cmdline;
        size_t n = strlen(src);
        if (n >= sizeof(boot_info.cmdline)) {
            n = sizeof(boot_info.cmdline) - 1;
        }
        memcpy(boot_info.cmdline, src, n);
    }
    if (mbi->flags & MULTIBOOT_INFO_MEM_MAP) {
        uint64_t p = mbi->mmap_addr, end = p + mbi->mmap_length;
        while (p < end) {
            const struct multiboot_mmap_entry *e = (const void *)p;
            if (e->type == MULTIBOOT_MEMORY_AVAILABLE) {
                add_ram(e->addr, e->addr + e->len);
            }
            p += e->size + sizeof(e->size);
        }
    } else if (mbi->flags & MULTIBOOT_INFO_MEMORY) {
        add_ram(1ull << 20, (1ull << 20) + (uint64_t)mbi->mem_upper * 1024);
    }
}

/* The boot code mapped the low 4 GiB; map RAM above it with 2 MiB pages. */
static void map_high_memory(void)
{
    for (unsigned i = 0; i < nr_ram; i++) {
        uint64_t start = ram[i].gpa & ~((1ull << 21) - 1);
        uint64_t end = ram[i].gpa + ram[i].npages * WL_PAGE_SIZE;
        for (uint64_t a = start < (4ull << 30) ? (4ull << 30) : start;
             a < end; a += 1ull << 21) {
            uint64_t gb = a >> 30;
            uint64_t *pd = &pd_high[(gb - 4) * 512];
            pdpt[gb] = (uint64_t)pd | PTE_USER_RW;
            pd[(a >> 21) & 511] = a | PDE_2M;
        }
    }
    uint64_t cr3;
    __asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) : : "memory");
}

static void run_in_ring3(unsigned cpu)
{
    uint64_t top = (uint64_t)ustacks[cpu] + USTACK_SIZE - 8;

    enter_user((uint64_t)user_main, top, cpu);
}

void kmain(uint32_t mbi_addr, uint32_t magic);
void kmain(uint32_t mbi_addr, uint32_t magic)
{
    uart_init();
    uart_puts("ferry-guest: booting\n");
    if (magic != MULTIBOOT_BOOTLOADER_MAGIC) {
        kpanic("not started by a Multiboot loader (magic %x)", magic);
    }
    read_boot_info(mbi_addr);
    map_high_memory();
    platform_probe();
    cpu_setup(0);
    boot_info.ncpus = 1 + smp_start_aps(platform.ncpus - 1);
    boot_info.reserved_end = (uint64_t)__kernel_end;
    __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
    run_in_ring3(0);
}

void ap_main(unsigned cpu);
void ap_main(unsigned cpu)
{
    cpu_setup(cpu);
    __atomic_add_fetch(&aps_arrived, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE)) {
        cpu_relax();
    }
    if (cpu >= boot_info.ncpus) {
        for (;;) {
            __asm__ volatile("cli; hlt");   /* arrived too late to be counted */
        }
    }
    run_in_ring3(cpu);
}
