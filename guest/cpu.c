/*
 * Per-cpu ring-0 state: a TSS (its rsp0 is where traps from ring 3 land),
 * the shared IDT, and the trap handler that doubles as the system-call gate.
 *
 * The workload calls the kernel with `int $0x80`.  On hardware KVM that
 * arrives through IDT vector 0x80; on this workplace's KVM a software
 * interrupt from ring 3 arrives as #UD at the `int` instruction instead, so
 * the #UD handler recognises the opcode and treats it the same way.
 */
#include "guest/kernel.h"

struct tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));

struct idt_entry {
    uint16_t offset_lo;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_hi;
    uint32_t zero;
} __attribute__((packed));

struct desc_ptr {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

extern uint64_t gdt[];
extern uint8_t kstacks[];
extern void isr_0(void), isr_1(void), isr_2(void), isr_3(void), isr_4(void),
    isr_5(void), isr_6(void), isr_7(void), isr_8(void), isr_9(void),
    isr_10(void), isr_11(void), isr_12(void), isr_13(void), isr_14(void),
    isr_15(void), isr_16(void), isr_17(void), isr_18(void), isr_19(void),
    isr_20(void), isr_21(void), isr_128(void);

static void (*const exception_stubs[22])(void) = {
    isr_0, isr_1, isr_2, isr_3, isr_4, isr_5, isr_6, isr_7, isr_8, isr_9,
    isr_10, isr_11, isr_12, isr_13, isr_14, isr_15, isr_16, isr_17, isr_18,
    isr_19, isr_20, isr_21,
};

static struct tss64 tss[MAX_CPUS];
static struct idt_entry idt[256];
static int idt_ready;

static void idt_set(unsigned vec, void (*fn)(void), unsigned dpl)
{
    uint64_t addr = (uint64_t)fn;

    idt[vec] = (struct idt_entry){
        .offset_lo = (uint16_t)addr,
        .selector = SEL_KCODE64,
        .type_attr = (uint8_t)(0x8e | (dpl << 5)),   /* present, interrupt gate */
        .offset_mid = (uint16_t)(addr >> 16),
        .offset_hi = (uint32_t)(addr >> 32),
    };
}

static void idt_build(void)
{
    for (unsigned v = 0; v < 22; v++) {
        idt_set(v, exception_stubs[v], 0);
    }
    idt_set(0x80, isr_128, 3);
    idt_ready = 1;
}

static void tss_install(unsigned cpu)
{
    uint64_t base = (uint64_t)&tss[cpu];
    uint64_t limit = sizeof(struct tss64) - 1;
    unsigned slot = (SEL_TSS0 + cpu * 16) / 8;

    tss[cpu].rsp[0] = (uint64_t)(kstacks + (uint64_t)(cpu + 1) * KSTACK_SIZE);
    tss[cpu].iomap_base = sizeof(struct tss64);
    gdt[slot] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
                (0x89ull << 40) | (((limit >> 16) & 0xf) << 48) |
                (((base >> 24) & 0xff) << 56);
    gdt[slot + 1] = base >> 32;
    __asm__ volatile("ltr %w0" : : "r"(SEL_TSS0 + cpu * 16));
}

void cpu_setup(unsigned cpu)
{
    struct desc_ptr idtr = { sizeof(idt) - 1, (uint64_t)idt };

    if (cpu == 0 && !idt_ready) {
        idt_build();
    }
    tss_install(cpu);
    __asm__ volatile("lidt %0" : : "m"(idtr));
}

void delay_us(uint64_t us)
{
    uint64_t end = rdtsc() + us * platform.tsc_khz / 1000;

    while (rdtsc() < end) {
        cpu_relax();
    }
}

static void syscall(struct trap_frame *f)
{
    switch (f->rax) {
    case SYS_LOG:
        uart_puts((const char *)f->rdi);
        uart_puts("\n");
        f->rax = 0;
        break;
    case SYS_PANIC:
        kpanic("%s", (const char *)f->rdi);
    default:
        f->rax = (uint64_t)-1;
        break;
    }
}

static int is_int80(uint64_t rip)
{
    const uint8_t *op = (const uint8_t *)rip;

    return op[0] == 0xcd && op[1] == 0x80;
}

void trap_handler(struct trap_frame *f);
void trap_handler(struct trap_frame *f)
{
    if (f->vector == 0x80) {
        syscall(f);
        return;
    }
    if (f->vector == 6 && (f->cs & 3) == 3 && is_int80(f->rip)) {
        f->rip += 2;
        syscall(f);
        return;
    }
    uint64_t cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    kpanic("exception %lu error %lx at rip %lx (cs %lx) cr2 %lx",
           f->vector, f->error, f->rip, f->cs, cr2);
}
