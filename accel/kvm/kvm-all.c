/*
 * The KVM accelerator, VM-wide part: /dev/kvm, the VM, the in-kernel
 * interrupt controllers, guest memory slots and the dirty log.
 *
 * The dirty log uses manual clearing where KVM offers it
 * (MANUAL_DIRTY_LOG_PROTECT2): a sync fetches the bitmap and then
 * re-protects exactly the pages it reports, so a write landing between the
 * two is never lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "kvm-internal.h"
#include "system/cpus.h"
#include "util/bitmap.h"
#include "util/error.h"

#define KVM_TSS_ADDR          0xfffbd000
#define KVM_IDENTITY_MAP_ADDR 0xfeffc000

KVMState kvm_state = { .kvm_fd = -1, .vm_fd = -1 };

static bool kvm_available(void)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

    if (fd < 0) {
        return false;
    }
    close(fd);
    return true;
}

static bool kvm_load_cpuid(GError **errp)
{
    for (int n = 64; n <= 4096; n *= 2) {
        struct kvm_cpuid2 *c = g_malloc0(sizeof(*c) +
                                         n * sizeof(struct kvm_cpuid_entry2));
        c->nent = (uint32_t)n;
        if (ioctl(kvm_state.kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
            kvm_state.cpuid = c;
            return true;
        }
        g_free(c);
        if (errno != E2BIG) {
            break;
        }
    }
    error_setg_errno(errp, errno, "KVM_GET_SUPPORTED_CPUID");
    return false;
}

static bool kvm_vm_ioctl_ok(unsigned long req, unsigned long arg,
                            const char *what, GError **errp)
{
    if (ioctl(kvm_state.vm_fd, req, arg) < 0) {
        error_setg_errno(errp, errno, "KVM: %s", what);
        return false;
    }
    return true;
}

static bool kvm_enable_manual_dirty_clear(void)
{
    struct kvm_enable_cap cap = {
        .cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
        .args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE,
    };

    if (ioctl(kvm_state.kvm_fd, KVM_CHECK_EXTENSION,
              KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) <= 0) {
        return false;
    }
    return ioctl(kvm_state.vm_fd, KVM_ENABLE_CAP, &cap) == 0;
}

static bool kvm_init(unsigned ncpus, GError **errp)
{
    int max;

    kvm_state.kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm_state.kvm_fd < 0) {
        error_setg_errno(errp, errno, "cannot open /dev/kvm");
        return false;
    }
    if (ioctl(kvm_state.kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
        error_setg(errp, "KVM API version mismatch");
        return false;
    }
    max = ioctl(kvm_state.kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
    if (max > 0 && ncpus > (unsigned)max) {
        g_set_error(errp, FERRY_ERROR, FERRY_ERROR_KVM_MISSING_CAP,
                    "-smp %u: KVM supports at most %d vCPUs", ncpus, max);
        return false;
    }
    kvm_state.vm_fd = ioctl(kvm_state.kvm_fd, KVM_CREATE_VM, 0);
    if (kvm_state.vm_fd < 0) {
        error_setg_errno(errp, errno, "KVM_CREATE_VM");
        return false;
    }
    kvm_state.vcpu_mmap_size = ioctl(kvm_state.kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (kvm_state.vcpu_mmap_size <= 0) {
        error_setg_errno(errp, errno, "KVM_GET_VCPU_MMAP_SIZE");
        return false;
    }
    if (!kvm_vm_ioctl_ok(KVM_SET_TSS_ADDR, KVM_TSS_ADDR, "KVM_SET_TSS_ADDR", errp) ||
        !kvm_vm_ioctl_ok(KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP", errp)) {
        return false;
    }
    uint64_t ident = KVM_IDENTITY_MAP_ADDR;
    ioctl(kvm_state.vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident); /* VMX only */
    kvm_state.manual_dirty_clear = kvm_enable_manual_dirty_clear();
    return kvm_load_cpuid(errp);
}

static bool kvm_set_slot(const GuestRegion *r, uint32_t flags, GError **errp)
{
    struct kvm_userspace_memory_region mr = {
        .slot = r->slot,
        .flags = flags,
        .guest_phys_addr = r->gpa,
        .memory_size = r->size,
        .userspace_addr = (uint64_t)(uintptr_t)(r->block->host + r->offset),
    };

    if (ioctl(kvm_state.vm_fd, KVM_SET_USER_MEMORY_REGION, &mr) < 0) {
        error_setg_errno(errp, errno, "KVM_SET_USER_MEMORY_REGION slot %u",
                         r->slot);
        return false;
    }
    return true;
}

static bool kvm_map_region(GuestRegion *r, GError **errp)
{
    return kvm_set_slot(r, 0, errp);
}

static bool kvm_set_logging(uint32_t flags, GError **errp)
{
    GPtrArray *regions = guest_regions();

    for (guint i = 0; i < regions->len; i++) {
        if (!kvm_set_slot(g_ptr_array_index(regions, i), flags, errp)) {
            return false;
        }
    }
    return true;
}

static bool kvm_dirty_start(GError **errp)
{
    return kvm_set_logging(KVM_MEM_LOG_DIRTY_PAGES, errp);
}

static void kvm_dirty_stop(void)
{
    g_autoptr(GError) err = NULL;

    if (!kvm_set_logging(0, &err)) {
        g_warning("%s", err->message);
    }
}

/* Fetches one slot's log and re-arms the pages it reports. */
static long kvm_sync_region(const GuestRegion *r, unsigned long *bitmap)
{
    uint64_t pages = r->size >> FERRY_PAGE_SHIFT;
    g_autofree unsigned long *log = g_new0(unsigned long, BITS_TO_LONGS(pages));
    struct kvm_dirty_log dl = { .slot = r->slot, .dirty_bitmap = log };

    if (ioctl(kvm_state.vm_fd, KVM_GET_DIRTY_LOG, &dl) < 0) {
        return -errno;
    }
    if (kvm_state.manual_dirty_clear) {
        struct kvm_clear_dirty_log cl = {
            .slot = r->slot,
            .first_page = 0,
            .num_pages = (uint32_t)pages,
            .dirty_bitmap = log,
        };
        if (ioctl(kvm_state.vm_fd, KVM_CLEAR_DIRTY_LOG, &cl) < 0) {
            return -errno;
        }
    }
    return (long)bitmap_or_at(bitmap, r->offset >> FERRY_PAGE_SHIFT, log, pages);
}

static long kvm_dirty_sync(RAMBlock *rb, unsigned long *bitmap)
{
    GPtrArray *regions = guest_regions();
    long total = 0;

    for (guint i = 0; i < regions->len; i++) {
        GuestRegion *r = g_ptr_array_index(regions, i);
        if (r->block != rb) {
            continue;
        }
        long n = kvm_sync_region(r, bitmap);
        if (n < 0) {
            return n;
        }
        total += n;
    }
    return total;
}

static uint64_t kvm_tsc_khz(void)
{
    return kvm_state.tsc_khz;
}

static const DirtyLogOps kvm_dirty_log_ops = {
    .start = kvm_dirty_start,
    .sync = kvm_dirty_sync,
    .stop = kvm_dirty_stop,
};

const AccelOps kvm_accel_ops = {
    .name = "kvm",
    .available = kvm_available,
    .init = kvm_init,
    .map_region = kvm_map_region,
    .vcpu_init = kvm_vcpu_init,
    .vcpu_destroy = kvm_vcpu_destroy,
    .boot = kvm_boot,
    .reset = kvm_reset,
    .vcpu_run = kvm_vcpu_run,
    .vcpu_kick = kvm_vcpu_kick,
    .vcpu_kick_clear = kvm_vcpu_kick_clear,
    .tsc_khz = kvm_tsc_khz,
    .dirty_log = &kvm_dirty_log_ops,
};
