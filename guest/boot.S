/*
 * Test guest entry: Multiboot v1 header, the 32-bit entry a Multiboot
 * loader jumps to, the switch to long mode, and the real-mode trampoline
 * the application processors start in.
 *
 * Straight from 32-bit protected mode to long mode (PAE, EFER.LME and PG in
 * one go): on this workplace's KVM, enabling 32-bit paging first faults.
 */
#include "guest/layout.h"

#define MB_MAGIC  0x1BADB002
#define MB_FLAGS  0x00000003        /* page-align modules, memory info */

#define CR4_BOOT  0x620             /* PAE | OSFXSR | OSXMMEXCPT */
#define CR0_BOOT  0x80000023        /* PG | NE | MP | PE */
#define MSR_EFER  0xC0000080
#define EFER_LME  0x100

    .section .multiboot, "a"
    .align 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

/* Enter long mode with the shared page tables and jump to \target. */
.macro ENTER_LONG_MODE target
    lgdt gdt_desc
    movl $CR4_BOOT, %eax
    movl %eax, %cr4
    movl $pml4, %eax
    movl %eax, %cr3
    movl $MSR_EFER, %ecx
    rdmsr
    orl $EFER_LME, %eax
    wrmsr
    movl %cr0, %eax
    orl $CR0_BOOT, %eax
    andl $~0x4, %eax                /* EM off: SSE in both rings */
    movl %eax, %cr0
    ljmp $SEL_KCODE64, $\target
.endm

    .section .text.boot, "ax"
    .code32
    .globl _start
_start:
    cli
    movl %eax, mb_magic
    movl %ebx, mb_info
    movl $(kstacks + KSTACK_SIZE), %esp

    /* pml4[0] -> pdpt, pdpt[0..3] -> the four low page directories */
    movl $(pdpt + 7), pml4
    movl $(pd_low + 7), %eax
    xorl %ecx, %ecx
1:  movl %eax, pdpt(,%ecx,8)
    addl $0x1000, %eax
    incl %ecx
    cmpl $4, %ecx
    jb 1b

    /* identity-map the low 4 GiB with 2 MiB user pages */
    xorl %ecx, %ecx
2:  movl %ecx, %eax
    shll $21, %eax
    orl $0x87, %eax                 /* present, writable, user, 2 MiB */
    movl %eax, pd_low(,%ecx,8)
    incl %ecx
    cmpl $2048, %ecx
    jb 2b

    ENTER_LONG_MODE bsp_entry64

    .code64
bsp_entry64:
    movw $SEL_KDATA, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movq $(kstacks + KSTACK_SIZE), %rsp
    fninit
    movl mb_info(%rip), %edi
    movl mb_magic(%rip), %esi
    call kmain
3:  hlt
    jmp 3b

/* Application processors: from the trampoline, in 32-bit protected mode. */
    .code32
    .globl ap_entry32
ap_entry32:
    movw $SEL_KDATA32, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    ENTER_LONG_MODE ap_entry64

    .code64
ap_entry64:
    movw $SEL_KDATA, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movl $1, %eax
    lock xaddl %eax, ap_next_index(%rip)
    movl %eax, %edi                 /* this cpu's index */
    incl %eax
    imull $KSTACK_SIZE, %eax
    leaq kstacks(%rip), %rsp
    addq %rax, %rsp
    fninit
    call ap_main
4:  hlt
    jmp 4b

/*
 * Real-mode trampoline, copied to TRAMPOLINE_ADDR by the BSP; the SIPI
 * vector points there.  Addresses inside it are computed for that copy.
 */
#define TRAMP(sym) ((sym) - trampoline_start + TRAMPOLINE_ADDR)
    .code16
    .globl trampoline_start, trampoline_end
trampoline_start:
    cli
    xorw %ax, %ax
    movw %ax, %ds
    lgdtl TRAMP(tramp_gdt_desc)
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmpl $SEL_KCODE32, $ap_entry32
    .align 8
tramp_gdt_desc:
    .word GDT_LIMIT
    .long gdt
trampoline_end:

    .code64
    .data
    .align 16
    .globl gdt
gdt:
    .quad 0                         /* null */
    .quad 0x00CF9A000000FFFF        /* 0x08 kernel code, 32-bit */
    .quad 0x00CF92000000FFFF        /* 0x10 kernel data */
    .quad 0x00AF9A000000FFFF        /* 0x18 kernel code, 64-bit */
    .quad 0x00CF92000000FFFF        /* 0x20 kernel data */
    .quad 0x00CFF2000000FFFF        /* 0x28 user data */
    .quad 0x00AFFA000000FFFF        /* 0x30 user code, 64-bit */
    .fill MAX_CPUS * 2, 8, 0        /* 0x38 one TSS descriptor per cpu */
gdt_end:
    .globl gdt_desc
gdt_desc:
    .word GDT_LIMIT
    .quad gdt

    .globl mb_magic, mb_info, ap_next_index
mb_magic:       .long 0
mb_info:        .long 0
ap_next_index:  .long 1

    .bss
    .align 4096
    .globl pml4, pdpt, pd_low, pd_high, kstacks
pml4:    .skip 4096
pdpt:    .skip 4096
pd_low:  .skip 4096 * 4
pd_high: .skip 4096 * PD_HIGH_PAGES
kstacks: .skip KSTACK_SIZE * MAX_CPUS
