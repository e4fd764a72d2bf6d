/*
 * The workload device (see include/hw/workload.h).  Its state is the
 * per-vCPU sums of the guest's reports: a full verify pass of the whole
 * memory is complete when every vCPU finished one over its share, so
 * full-verify-passes is the minimum over vCPUs.
 */
#include <string.h>
#include "system/migration-vmm.h"
#include "accel/accel.h"
#include "hw/workload.h"
#include "system/ioport.h"
#include "system/memory.h"
#include "util/error.h"
#include "util/log.h"

static WorkloadState wl;
static GMutex wl_lock;

void workload_dev_report(const struct wl_report *r)
{
    if (r->cpu >= wl.ncpus) {
        ferry_log("workload: report from unknown cpu %u ignored", r->cpu);
        return;
    }
    g_mutex_lock(&wl_lock);
    if (r->flags & WL_REPORT_BOOT) {
        wl.boots++;
    }
    WorkloadCPUState *c = &wl.cpu[r->cpu];
    c->rounds += r->rounds;
    c->pages_written += r->pages_written;
    c->pages_verified += r->pages_verified;
    c->passes += r->passes;
    c->corrupt_pages += r->corrupt_pages;
    c->max_stall_ns = MAX(c->max_stall_ns, r->max_stall_ns);
    c->max_guest_stall_ns = MAX(c->max_guest_stall_ns, r->max_guest_stall_ns);
    wl.disk.sectors_written += r->disk_sectors_written;
    wl.disk.sectors_verified += r->disk_sectors_verified;
    wl.disk.corrupt_sectors += r->corrupt_sectors;
    wl.disk.io_errors += r->disk_io_errors;
    g_mutex_unlock(&wl_lock);
    if (r->corrupt_pages) {
        ferry_log("workload: cpu %u found %" G_GUINT64_FORMAT " corrupt "
                  "page(s), last at pfn 0x%" G_GINT64_MODIFIER "x",
                  r->cpu, r->corrupt_pages, r->last_corrupt_pfn);
    }
    if (r->corrupt_sectors) {
        ferry_log("workload: the disk workload found %" G_GUINT64_FORMAT
                  " corrupt sector(s), last at sector %" G_GUINT64_FORMAT,
                  r->corrupt_sectors, r->last_corrupt_sector);
    }
}

void workload_dev_query(WorkloadCounters *out)
{
    memset(out, 0, sizeof(*out));
    g_mutex_lock(&wl_lock);
    out->full_verify_passes = wl.ncpus ? UINT64_MAX : 0;
    out->boots = wl.boots;
    out->disk_sectors_written = wl.disk.sectors_written;
    out->disk_sectors_verified = wl.disk.sectors_verified;
    out->corrupt_sectors = wl.disk.corrupt_sectors;
    out->disk_io_errors = wl.disk.io_errors;
    for (unsigned i = 0; i < wl.ncpus; i++) {
        const WorkloadCPUState *c = &wl.cpu[i];
        out->rounds += c->rounds;
        out->pages_written += c->pages_written;
        out->pages_verified += c->pages_verified;
        out->corrupt_pages += c->corrupt_pages;
        out->full_verify_passes = MIN(out->full_verify_passes, c->passes);
        out->max_stall_ns = MAX(out->max_stall_ns, c->max_stall_ns);
        out->max_guest_stall_ns = MAX(out->max_guest_stall_ns,
                                      c->max_guest_stall_ns);
    }
    g_mutex_unlock(&wl_lock);
}

void workload_dev_reset_stall(void)
{
    g_mutex_lock(&wl_lock);
    for (unsigned i = 0; i < wl.ncpus; i++) {
        wl.cpu[i].max_stall_ns = 0;
        wl.cpu[i].max_guest_stall_ns = 0;
    }
    g_mutex_unlock(&wl_lock);
}

static void guest_panic(uint64_t gpa)
{
    char msg[257] = "";
    const char *src = gpa_to_hva(gpa, 1);

    if (src) {
        size_t avail = 0;
        while (avail < 256 && gpa_to_hva(gpa + avail, 1) && src[avail]) {
            avail++;
        }
        memcpy(msg, src, avail);
    }
    ferry_log("workload: guest panic: %s", msg);
}

static uint64_t wl_read(void *opaque, uint64_t off, unsigned size)
{
    const AccelOps *accel = accel_current();

    switch (off) {
    case WL_REG_ID: return WL_DEV_MAGIC;
    case WL_REG_NR_CPUS: return wl.ncpus;
    case WL_REG_TSC_KHZ: return accel && accel->tsc_khz ? accel->tsc_khz() : 0;
    default: return 0;
    }
}

static void wl_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    struct wl_report r;

    switch (off) {
    case WL_REG_REPORT:
        if (guest_mem_read(v, &r, sizeof(r)) == 0) {
            workload_dev_report(&r);
        } else {
            ferry_log("workload: report at bad address 0x%" G_GINT64_MODIFIER
                      "x ignored", v);
        }
        break;
    case WL_REG_PANIC:
        guest_panic(v);
        break;
    }
}

static const IOOps wl_ops = {
    .read = wl_read,
    .write = wl_write,
};

bool workload_dev_init(unsigned ncpus, GError **errp)
{
    if (ncpus > WL_MAX_CPUS) {
        error_setg(errp, "workload device: at most %d vCPUs", WL_MAX_CPUS);
        return false;
    }
    memset(&wl, 0, sizeof(wl));
    wl.ncpus = ncpus;
    return io_region_register(IO_SPACE_MMIO, WL_DEV_BASE, WL_DEV_SIZE,
                              "workload", &wl_ops, NULL, errp) &&
           workload_vmstate_register(machine_migration(), &wl, errp);
}
