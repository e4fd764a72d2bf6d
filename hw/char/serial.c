/*
 * A 16550-style UART at COM1: enough of the register file for a guest
 * driver that polls (no interrupts, no receive path yet).  Its registers
 * are a plain state struct so the migration issue can describe them
 * declaratively.  Output is line-buffered into its chardev (the -serial
 * shorthand's, or -device isa-serial's chardev=).
 */
#include <string.h>
#include "chardev/chardev.h"
#include "system/migration-vmm.h"
#include "hw/serial.h"
#include "system/ioport.h"
#include "util/error.h"

#define COM1_BASE 0x3f8

enum { UART_RBR_THR, UART_IER, UART_IIR_FCR, UART_LCR, UART_MCR, UART_LSR,
       UART_MSR, UART_SCR };

#define LCR_DLAB  0x80
#define LSR_THRE  0x20
#define LSR_TEMT  0x40

static struct {
    SerialState regs;
    GMutex lock;
    Chardev *chr;           /* NULL: output discarded */
    char line[512];
    size_t len;
} uart;

static void flush_line(void)
{
    if (uart.chr && uart.len) {
        chardev_write(uart.chr, uart.line, uart.len);
    }
    uart.len = 0;
}

static void emit(uint8_t c)
{
    if (c == '\r') {
        return;
    }
    uart.line[uart.len++] = (char)c;
    if (c == '\n' || uart.len == sizeof(uart.line)) {
        flush_line();
    }
}

static uint64_t serial_read(void *opaque, uint64_t off, unsigned size)
{
    SerialState *s = &uart.regs;
    uint64_t v = 0;

    g_mutex_lock(&uart.lock);
    switch (off) {
    case UART_RBR_THR:
        v = (s->lcr & LCR_DLAB) ? (s->divider & 0xff) : 0;
        break;
    case UART_IER:
        v = (s->lcr & LCR_DLAB) ? (s->divider >> 8) : s->ier;
        break;
    case UART_IIR_FCR:
        v = 0x01 | ((s->fcr & 1) ? 0xc0 : 0);   /* no interrupt pending */
        break;
    case UART_LCR: v = s->lcr; break;
    case UART_MCR: v = s->mcr; break;
    case UART_LSR: v = LSR_THRE | LSR_TEMT; break;
    case UART_MSR: v = 0xb0; break;             /* CTS, DSR, DCD */
    case UART_SCR: v = s->scr; break;
    }
    g_mutex_unlock(&uart.lock);
    return v;
}

static void serial_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    SerialState *s = &uart.regs;

    g_mutex_lock(&uart.lock);
    switch (off) {
    case UART_RBR_THR:
        if (s->lcr & LCR_DLAB) {
            s->divider = (uint16_t)((s->divider & 0xff00) | (v & 0xff));
        } else {
            emit((uint8_t)v);
        }
        break;
    case UART_IER:
        if (s->lcr & LCR_DLAB) {
            s->divider = (uint16_t)((s->divider & 0xff) | ((v & 0xff) << 8));
        } else {
            s->ier = v & 0x0f;
        }
        break;
    case UART_IIR_FCR: s->fcr = (uint8_t)v; break;
    case UART_LCR: s->lcr = (uint8_t)v; break;
    case UART_MCR: s->mcr = v & 0x1f; break;
    case UART_SCR: s->scr = (uint8_t)v; break;
    }
    g_mutex_unlock(&uart.lock);
}

static const IOOps serial_ops = {
    .read = serial_read,
    .write = serial_write,
};

bool serial_init(GError **errp)
{
    memset(&uart.regs, 0, sizeof(uart.regs));
    uart.regs.divider = 12;             /* 9600 baud, the reset value */
    uart.chr = NULL;
    return io_region_register(IO_SPACE_PIO, COM1_BASE, 8, "serial0",
                              &serial_ops, NULL, errp) &&
           serial_vmstate_register(machine_migration(), &uart.regs, errp);
}

void serial_set_backend(Chardev *chr)
{
    g_mutex_lock(&uart.lock);
    flush_line();
    uart.chr = chr;
    g_mutex_unlock(&uart.lock);
}

void serial_cleanup(void)
{
    serial_set_backend(NULL);
}
