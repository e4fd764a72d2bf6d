/* Internal interfaces of the test guest's small ring-0 kernel. */
#ifndef GUEST_KERNEL_H
#define GUEST_KERNEL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "guest/layout.h"
#include "guest/workload.h"

struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};

/* System calls from the ring-3 workload: int $0x80, rax = number. */
#define SYS_LOG    1        /* rdi = NUL-terminated message */
#define SYS_PANIC  2        /* rdi = NUL-terminated message */

/* lib.c */
void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* io.h-style helpers, ring 0 only for port I/O */
static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline void outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}
static inline void cpu_relax(void)
{
    __asm__ volatile("pause" ::: "memory");
}
static inline uint64_t mmio_read64(uint64_t addr)
{
    return *(volatile uint64_t *)addr;
}
static inline void mmio_write64(uint64_t addr, uint64_t v)
{
    *(volatile uint64_t *)addr = v;
}
static inline void mmio_write32(uint64_t addr, uint32_t v)
{
    *(volatile uint32_t *)addr = v;
}

/* uart.c (ring 0) */
void uart_init(void);
void uart_puts(const char *s);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void kpanic(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* cpu.c (ring 0) */
void cpu_setup(unsigned cpu);
void delay_us(uint64_t us);

/* smp.c (ring 0) */
unsigned smp_start_aps(unsigned wanted);

/* platform.c */
struct platform {
    int have_device;
    int have_power_button;      /* ferry's, guest/power-dev.h */
    unsigned ncpus;
    uint64_t tsc_khz;
    uint64_t ns_mult;           /* ns = (tsc * ns_mult) >> 32 */
};
extern struct platform platform;
void platform_probe(void);

/* What ring 0 found at boot, for the ring-3 workload (kernel.c). */
struct boot_info {
    char cmdline[1024];
    struct wl_range ram[WL_MAX_RANGES];
    unsigned nr_ram;
    unsigned ncpus;             /* cpus that arrived */
    uint64_t reserved_end;      /* end of the kernel image */
};
extern struct boot_info boot_info;

/* user.c: ring 3 */
void user_main(unsigned cpu);

/* isr.S */
void enter_user(uint64_t rip, uint64_t rsp, uint64_t arg)
    __attribute__((noreturn));

#endif
