/* The built-in test guest, embedded in ferry as its default kernel. */
    .section .rodata
    .balign 16
    .globl ferry_guest_elf, ferry_guest_elf_end
ferry_guest_elf:
    .incbin GUEST_ELF
ferry_guest_elf_end:
    .section .note.GNU-stack, "", @progbits
