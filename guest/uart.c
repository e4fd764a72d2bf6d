/* The serial console: a 16550 at COM1, driven by polling from ring 0. */
#include "guest/kernel.h"

#define COM1      0x3f8
#define UART_LSR  5
#define LSR_THRE  0x20

void uart_init(void)
{
    outb(COM1 + 1, 0x00);       /* no interrupts */
    outb(COM1 + 3, 0x80);       /* DLAB on */
    outb(COM1 + 0, 0x01);       /* 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03);       /* 8N1, DLAB off */
    outb(COM1 + 2, 0xc7);       /* FIFOs on */
}

static void uart_putc(char c)
{
    for (int i = 0; i < 100000 && !(inb(COM1 + UART_LSR) & LSR_THRE); i++) {
        cpu_relax();
    }
    outb(COM1, (uint8_t)c);
}

void uart_puts(const char *s)
{
    for (; *s; s++) {
        if (*s == '\n') {
            uart_putc('\r');
        }
        uart_putc(*s);
    }
}

void kprintf(const char *fmt, ...)
{
    char buf[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    uart_puts(buf);
}

void kpanic(const char *fmt, ...)
{
    static char buf[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    uart_puts("ferry-guest: PANIC: ");
    uart_puts(buf);
    uart_puts("\n");
    if (platform.have_device) {
        mmio_write64(WL_DEV_BASE + WL_REG_PANIC, (uint64_t)buf);
    }
    for (;;) {
        __asm__ volatile("cli; hlt");
    }
}
