/*
 * Starting the application processors the standard way: INIT and two
 * STARTUP IPIs broadcast through the local APIC, into a real-mode
 * trampoline copied below 1 MiB.
 */
#include "guest/kernel.h"

#define APIC_SVR       0x0f0
#define APIC_ICR_LO    0x300
#define APIC_ICR_HI    0x310
#define ICR_ALL_BUT_SELF  (3u << 18)
#define ICR_ASSERT        (1u << 14)
#define ICR_INIT          (5u << 8)
#define ICR_STARTUP       (6u << 8)

extern char trampoline_start[], trampoline_end[];
volatile unsigned aps_arrived;

static void apic_write(unsigned reg, uint32_t v)
{
    mmio_write32(LAPIC_BASE + reg, v);
}

unsigned smp_start_aps(unsigned wanted)
{
    uint64_t deadline;

    if (wanted == 0) {
        return 0;
    }
    memcpy((void *)TRAMPOLINE_ADDR, trampoline_start,
           (size_t)(trampoline_end - trampoline_start));
    apic_write(APIC_SVR, 0x1ff);
    apic_write(APIC_ICR_HI, 0);
    apic_write(APIC_ICR_LO, ICR_ALL_BUT_SELF | ICR_ASSERT | ICR_INIT);
    delay_us(10000);
    for (int i = 0; i < 2; i++) {
        apic_write(APIC_ICR_LO, ICR_ALL_BUT_SELF | ICR_ASSERT | ICR_STARTUP |
                   (TRAMPOLINE_ADDR >> 12));
        delay_us(200);
    }
    /* Ring-0 code is slow on some hosts: give the APs a generous second. */
    deadline = rdtsc() + platform.tsc_khz * 2000;
    while (aps_arrived < wanted && rdtsc() < deadline) {
        cpu_relax();
    }
    return aps_arrived;
}
