/* Guest memory layout and segment selectors, shared by assembly and C. */
#ifndef GUEST_LAYOUT_H
#define GUEST_LAYOUT_H

#define MAX_CPUS         64
#define KSTACK_SIZE      16384
#define USTACK_SIZE      16384
#define TRAMPOLINE_ADDR  0x8000
#define PD_HIGH_PAGES    60     /* page directories for RAM at 4..64 GiB */
#define GUEST_PHYS_MAX   (64ULL << 30)

#define SEL_KCODE32  0x08
#define SEL_KDATA32  0x10
#define SEL_KCODE64  0x18
#define SEL_KDATA    0x20
#define SEL_UDATA    0x2b       /* 0x28 | RPL 3 */
#define SEL_UCODE    0x33       /* 0x30 | RPL 3 */
#define SEL_TSS0     0x38
#define GDT_LIMIT    (SEL_TSS0 + MAX_CPUS * 16 - 1)

#define LAPIC_BASE   0xfee00000ULL

#endif
