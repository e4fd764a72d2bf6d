/*
 * Exception and system-call entry stubs.  Each pushes a vector number (and
 * a zero where the CPU pushes no error code) so one C handler sees a
 * uniform struct trap_frame.
 */
    .text
    .code64

.macro ISR_NOERR vec
    .globl isr_\vec
isr_\vec:
    pushq $0
    pushq $\vec
    jmp isr_common
.endm

.macro ISR_ERR vec
    .globl isr_\vec
isr_\vec:
    pushq $\vec
    jmp isr_common
.endm

ISR_NOERR 0
ISR_NOERR 1
ISR_NOERR 2
ISR_NOERR 3
ISR_NOERR 4
ISR_NOERR 5
ISR_NOERR 6
ISR_NOERR 7
ISR_ERR   8
ISR_NOERR 9
ISR_ERR   10
ISR_ERR   11
ISR_ERR   12
ISR_ERR   13
ISR_ERR   14
ISR_NOERR 15
ISR_NOERR 16
ISR_ERR   17
ISR_NOERR 18
ISR_NOERR 19
ISR_NOERR 20
ISR_ERR   21
ISR_NOERR 128

isr_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, %rdi
    cld
    call trap_handler
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    addq $16, %rsp
    iretq

/* enter_user(rip, rsp, arg): iretq to ring 3 with rdi = arg. */
    .globl enter_user
enter_user:
    movq %rdx, %rax
    pushq $0x2b                     /* SEL_UDATA */
    pushq %rsi
    pushq $0x2                      /* RFLAGS: interrupts stay off */
    pushq $0x33                     /* SEL_UCODE */
    pushq %rdi
    movq %rax, %rdi
    movw $0x2b, %ax
    movw %ax, %ds
    movw %ax, %es
    iretq
