/*
 * Register layout of ferry's paravirtual workload device, shared by the
 * test guest and the VMM.  One 4 KiB MMIO page of 64-bit registers, placed
 * in the 32-bit PCI hole where QEMU's pc machine leaves nothing, so the same
 * guest binary probes for it under QEMU, finds no magic, and falls back to
 * reporting on the serial console.
 *
 * MMIO (not port I/O) because a ring-3 workload can reach it directly: on
 * this workplace's KVM, `in`/`out` fault in guest ring 3.
 */
#ifndef GUEST_WORKLOAD_DEV_H
#define GUEST_WORKLOAD_DEV_H

#include <stdint.h>

#define WL_DEV_BASE      0xfe000000ULL
#define WL_DEV_SIZE      0x1000ULL

#define WL_DEV_MAGIC     0x31574c5952524546ULL   /* "FERRYWL1" */

#define WL_REG_ID        0x00    /* R: WL_DEV_MAGIC */
#define WL_REG_NR_CPUS   0x08    /* R: number of vCPUs */
#define WL_REG_TSC_KHZ   0x10    /* R: guest TSC frequency, kHz */
#define WL_REG_REPORT    0x18    /* W: guest-physical address of a wl_report */
#define WL_REG_PANIC     0x20    /* W: guest-physical address of a message */

/*
 * wl_report.flags: the guest (re)started its workload.  The device counts
 * these: a migrated guest must not boot again on the destination, and a
 * boot count above 1 shows it did.
 */
#define WL_REPORT_BOOT   1u

/*
 * Counters a vCPU accumulated since its previous report (deltas).  The
 * device adds them to its state during the MMIO exit, so a report is never
 * half-applied across a vCPU stop.
 */
struct wl_report {
    uint32_t cpu;
    uint32_t flags;
    uint64_t rounds;
    uint64_t pages_written;
    uint64_t pages_verified;
    uint64_t passes;            /* complete verify passes of this cpu's share */
    uint64_t corrupt_pages;
    uint64_t last_corrupt_pfn;  /* valid when corrupt_pages != 0 */
    /* The disk workload (disk-rate=, a pvblk disk), cpu 0 only. */
    uint64_t disk_sectors_written;
    uint64_t disk_sectors_verified;
    uint64_t corrupt_sectors;
    uint64_t last_corrupt_sector;   /* valid when corrupt_sectors != 0 */
    uint64_t disk_io_errors;        /* requests the disk failed */
    /*
     * The longest gap between two rounds of this vCPU's loop since its
     * previous report, by its TSC (not a delta: a maximum).  The TSC runs
     * on while the VM is stopped, so a migration's or live update's
     * blackout shows here, in the first report after it.
     */
    uint64_t max_stall_ns;
    /*
     * The longest time no vCPU at all came round, seen by this vCPU as it
     * came round again (a maximum, like max_stall_ns): the whole guest
     * stood still.  A host that only descheduled this vCPU's thread shows
     * in max_stall_ns, not here.
     */
    uint64_t max_guest_stall_ns;
};

#endif
