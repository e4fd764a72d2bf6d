/*
 * What the guest learns about its platform: ferry's workload device when it
 * is there, otherwise what QEMU's pc machine offers (fw_cfg for the cpu
 * count, the PIT to calibrate the TSC), so one binary runs under both.
 */
#include "guest/kernel.h"
#include "guest/power-dev.h"

#define FW_CFG_PORT_SEL   0x510
#define FW_CFG_PORT_DATA  0x511
#define FW_CFG_NB_CPUS    0x05
#define PIT_HZ            1193182u

struct platform platform;

static unsigned fw_cfg_ncpus(void)
{
    unsigned n;

    outw(FW_CFG_PORT_SEL, FW_CFG_NB_CPUS);
    n = inb(FW_CFG_PORT_DATA);
    n |= (unsigned)inb(FW_CFG_PORT_DATA) << 8;
    return (n == 0 || n == 0xffff) ? 1 : n;
}

/* TSC ticks over 10 ms of PIT channel 2 (gate through port 0x61). */
static uint64_t pit_tsc_khz(void)
{
    const unsigned latch = PIT_HZ / 100;
    uint64_t t0, t1;

    outb(0x61, (uint8_t)((inb(0x61) & ~0x02) | 0x01));
    outb(0x43, 0xb0);
    outb(0x42, latch & 0xff);
    outb(0x42, (uint8_t)(latch >> 8));
    t0 = rdtsc();
    for (unsigned long i = 0; !(inb(0x61) & 0x20) && i < 100000000ul; i++) {
    }
    t1 = rdtsc();
    return (t1 - t0) / 10;
}

void platform_probe(void)
{
    platform.have_device = mmio_read64(WL_DEV_BASE + WL_REG_ID) == WL_DEV_MAGIC;
    platform.have_power_button =
        mmio_read64(POWER_DEV_BASE + POWER_REG_ID) == POWER_DEV_MAGIC;
    if (platform.have_device) {
        platform.ncpus = (unsigned)mmio_read64(WL_DEV_BASE + WL_REG_NR_CPUS);
        platform.tsc_khz = mmio_read64(WL_DEV_BASE + WL_REG_TSC_KHZ);
    } else {
        platform.ncpus = fw_cfg_ncpus();
        platform.tsc_khz = pit_tsc_khz();
    }
    if (platform.ncpus == 0 || platform.ncpus > MAX_CPUS) {
        platform.ncpus = platform.ncpus ? MAX_CPUS : 1;
    }
    if (platform.tsc_khz < 1000) {
        platform.tsc_khz = 1000000;     /* no clock found: assume 1 GHz */
    }
    platform.ns_mult = (1000000ull << 32) / platform.tsc_khz;
}
