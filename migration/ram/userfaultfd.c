/*
 * userfaultfd for postcopy: opening the descriptor, registering guest RAM
 * in MISSING (and MINOR) mode, placing pages and reading faults.  See
 * include/migration/userfaultfd.h for the model.
 *
 * Threads: no state lives here; every function works on the descriptor
 * it is given.  uffd_read_faults() belongs to the one fault thread; the
 * placement and wake calls may run in any thread at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/userfaultfd.h>
#include "migration/ram/userfaultfd.h"
#include "util/error.h"

#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

/* What a registered range must offer for postcopy to place pages. */
#define UFFD_NEEDED_IOCTLS  ((1ULL << _UFFDIO_COPY) | \
                             (1ULL << _UFFDIO_ZEROPAGE) | \
                             (1ULL << _UFFDIO_WAKE))

/* Why userfaultfd(2) failed with @err, as far as we can tell. */
static const char *syscall_hint(int err)
{
    g_autofree char *val = NULL;

    switch (err) {
    case ENOSYS:
        /* valgrind does not know the call either */
        return " (no CONFIG_USERFAULTFD, or hidden by a sandbox or valgrind)";
    case EPERM:
        /* Without the sysctl only CAP_SYS_PTRACE may catch kernel faults;
         * with it, EPERM can only come from a seccomp filter. */
        if (g_file_get_contents("/proc/sys/vm/unprivileged_userfaultfd",
                                &val, NULL, NULL) && val[0] == '0') {
            return " (vm.unprivileged_userfaultfd=0 and no CAP_SYS_PTRACE)";
        }
        return " (blocked by a seccomp filter?)";
    default:
        return "";
    }
}

/*
 * A fresh descriptor before the API handshake.  No UFFD_USER_MODE_ONLY:
 * faults KVM takes in get_user_pages() and copy_to_user() must reach us
 * too.  That needs the sysctl or CAP_SYS_PTRACE for the system call, or
 * access to /dev/userfaultfd (Linux 6.1), which needs neither.
 */
static int new_uffd(GError **errp)
{
    int fd, sys_err, dev_err, dev;

    fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0) {
        return fd;
    }
    sys_err = errno;

    dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
    if (dev >= 0) {
        fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
        dev_err = errno;
        close(dev);
        if (fd >= 0) {
            return fd;
        }
    } else {
        dev_err = errno;
    }
    error_setg(errp, "userfaultfd is not available: %s%s; /dev/userfaultfd: %s",
               g_strerror(sys_err), syscall_hint(sys_err),
               g_strerror(dev_err));
    return -1;
}

/* The UFFDIO_API handshake, which a descriptor takes only once. */
static bool uffd_api(int fd, uint64_t want, uint64_t *features,
                     GError **errp)
{
    struct uffdio_api api = { .api = UFFD_API, .features = want };

    if (ioctl(fd, UFFDIO_API, &api) < 0) {
        error_setg_errno(errp, errno, "userfaultfd: UFFDIO_API handshake "
                         "(features 0x%" PRIx64 ") failed", want);
        return false;
    }
    if (features) {
        *features = api.features;
    }
    return true;
}

/* What the kernel offers: asking for nothing answers with everything, on
 * a descriptor of its own since the handshake cannot be repeated. */
static bool probe_features(uint64_t *features, GError **errp)
{
    int fd = new_uffd(errp);
    bool ok;

    if (fd < 0) {
        return false;
    }
    ok = uffd_api(fd, 0, features, errp);
    close(fd);
    return ok;
}

/* A descriptor with MISSING_SHMEM (and THREAD_ID when offered), plus
 * @extra, which the kernel must offer too. */
static int open_with(uint64_t extra, const char *extra_what, GError **errp)
{
    uint64_t offered, want;
    int fd;

    if (!probe_features(&offered, errp)) {
        return -1;
    }
    if (!(offered & UFFD_FEATURE_MISSING_SHMEM)) {
        error_setg(errp, "userfaultfd cannot catch missing pages of shared "
                   "memory (no UFFD_FEATURE_MISSING_SHMEM; Linux >= 4.11)");
        return -1;
    }
    if ((offered & extra) != extra) {
        error_setg(errp, "userfaultfd lacks %s", extra_what);
        return -1;
    }
    want = UFFD_FEATURE_MISSING_SHMEM | extra;
    want |= offered & UFFD_FEATURE_THREAD_ID;   /* for per-vCPU accounting */

    fd = new_uffd(errp);
    if (fd < 0) {
        return -1;
    }
    if (!uffd_api(fd, want, NULL, errp)) {
        close(fd);
        return -1;
    }
    return fd;
}

int uffd_open(GError **errp)
{
    return open_with(0, "", errp);
}

int uffd_open_minor(GError **errp)
{
    return open_with(UFFD_FEATURE_MINOR_SHMEM, "minor faults on shared "
                     "memory (UFFD_FEATURE_MINOR_SHMEM; Linux >= 5.13)", errp);
}

bool uffd_minor_supported(void)
{
    uint64_t offered;

    return probe_features(&offered, NULL) &&
           (offered & UFFD_FEATURE_MINOR_SHMEM);
}

static bool check_ioctls(uint64_t ioctls, uint64_t needed, GError **errp)
{
    static const struct { int bit; const char *name; } names[] = {
        { _UFFDIO_COPY, "UFFDIO_COPY" },
        { _UFFDIO_ZEROPAGE, "UFFDIO_ZEROPAGE" },
        { _UFFDIO_WAKE, "UFFDIO_WAKE" },
        { _UFFDIO_CONTINUE, "UFFDIO_CONTINUE" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        uint64_t bit = 1ULL << names[i].bit;
        if ((needed & bit) && !(ioctls & bit)) {
            error_setg(errp, "userfaultfd does not offer %s on this memory",
                       names[i].name);
            return false;
        }
    }
    return true;
}

static bool range_ioctl(int fd, unsigned long req, const char *what,
                        void *addr, uint64_t len, GError **errp)
{
    struct uffdio_range range = { .start = (uintptr_t)addr, .len = len };

    if (ioctl(fd, req, &range) < 0) {
        error_setg_errno(errp, errno, "userfaultfd: %s of %p+0x%" PRIx64
                         " failed", what, addr, len);
        return false;
    }
    return true;
}

static bool register_range(int fd, void *addr, uint64_t len, uint64_t mode,
                           uint64_t needed, GError **errp)
{
    struct uffdio_register reg = {
        .range = { .start = (uintptr_t)addr, .len = len },
        .mode = mode,
    };

    if (ioctl(fd, UFFDIO_REGISTER, &reg) < 0) {
        error_setg_errno(errp, errno, "userfaultfd: UFFDIO_REGISTER of "
                         "%p+0x%" PRIx64 " failed", addr, len);
        return false;
    }
    if (!check_ioctls(reg.ioctls, needed, errp)) {
        range_ioctl(fd, UFFDIO_UNREGISTER, "UFFDIO_UNREGISTER", addr, len,
                    NULL);
        return false;
    }
    return true;
}

bool uffd_register_missing(int fd, void *addr, uint64_t len, GError **errp)
{
    return register_range(fd, addr, len, UFFDIO_REGISTER_MODE_MISSING,
                          UFFD_NEEDED_IOCTLS, errp);
}

bool uffd_register_minor(int fd, void *addr, uint64_t len, GError **errp)
{
    return register_range(fd, addr, len, UFFDIO_REGISTER_MODE_MISSING |
                          UFFDIO_REGISTER_MODE_MINOR,
                          UFFD_NEEDED_IOCTLS | 1ULL << _UFFDIO_CONTINUE, errp);
}

bool uffd_unregister(int fd, void *addr, uint64_t len, GError **errp)
{
    return range_ioctl(fd, UFFDIO_UNREGISTER, "UFFDIO_UNREGISTER", addr, len,
                       errp);
}

bool uffd_supported(GError **errp)
{
    void *page = MAP_FAILED;
    int fd, mfd = -1;
    bool ok = false;

    fd = uffd_open(errp);
    if (fd < 0) {
        return false;
    }
    mfd = memfd_create("ferry-uffd-probe", MFD_CLOEXEC);
    if (mfd < 0 || ftruncate(mfd, UFFD_PAGE_SIZE) < 0) {
        error_setg_errno(errp, errno, "userfaultfd probe: memfd");
        goto out;
    }
    page = mmap(NULL, UFFD_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
                mfd, 0);
    if (page == MAP_FAILED) {
        error_setg_errno(errp, errno, "userfaultfd probe: mmap");
        goto out;
    }
    ok = uffd_register_missing(fd, page, UFFD_PAGE_SIZE, errp) &&
         uffd_unregister(fd, page, UFFD_PAGE_SIZE, errp);
out:
    if (page != MAP_FAILED) {
        munmap(page, UFFD_PAGE_SIZE);
    }
    if (mfd >= 0) {
        close(mfd);
    }
    close(fd);
    return ok;
}

/* How a range is filled: from a buffer, with zeros, or with what the
 * page cache already holds. */
typedef enum PlaceOp { PLACE_COPY, PLACE_ZERO, PLACE_CONTINUE } PlaceOp;

/*
 * One UFFDIO_COPY, UFFDIO_ZEROPAGE or UFFDIO_CONTINUE.  0 when all of it
 * was placed, else -errno with *@placed the bytes placed before the error
 * (the kernel stops at the first page already present, and reports a
 * short copy as -EAGAIN).
 */
static int place_once(int fd, PlaceOp op, uint64_t dst, const void *src,
                      uint64_t len, bool dontwake, int64_t *placed)
{
    int ret;

    if (op == PLACE_COPY) {
        struct uffdio_copy c = {
            .dst = dst, .src = (uintptr_t)src, .len = len,
            .mode = dontwake ? UFFDIO_COPY_MODE_DONTWAKE : 0,
        };

        ret = ioctl(fd, UFFDIO_COPY, &c);
        *placed = c.copy;
    } else if (op == PLACE_ZERO) {
        struct uffdio_zeropage z = {
            .range = { .start = dst, .len = len },
            .mode = dontwake ? UFFDIO_ZEROPAGE_MODE_DONTWAKE : 0,
        };

        ret = ioctl(fd, UFFDIO_ZEROPAGE, &z);
        *placed = z.zeropage;
    } else {
        struct uffdio_continue c = {
            .range = { .start = dst, .len = len },
            .mode = dontwake ? UFFDIO_CONTINUE_MODE_DONTWAKE : 0,
        };

        ret = ioctl(fd, UFFDIO_CONTINUE, &c);
        *placed = c.mapped;
    }
    return ret < 0 ? -errno : 0;
}

static int place(int fd, PlaceOp op, void *dst, const void *src,
                 uint64_t len, bool dontwake)
{
    uint64_t base = (uintptr_t)dst, done = 0;
    bool exists = false;

    while (done < len) {
        int64_t placed = 0;
        int ret = place_once(fd, op, base + done,
                             src ? (const char *)src + done : NULL,
                             len - done, dontwake, &placed);

        if (ret == 0) {
            break;
        }
        if (placed > 0) {
            done += placed;
        }
        switch (ret) {
        case -EAGAIN:
            /* A short copy (progress made), or the address space is
             * changing under us (none made): go on with the rest. */
            if (placed <= 0) {
                sched_yield();
            }
            break;
        case -EINTR:
            break;
        case -EEXIST:
            /* The page at @done is there already: skip just that one. */
            exists = true;
            done += UFFD_PAGE_SIZE;
            break;
        default:
            return ret;
        }
    }
    /* A present page was not woken by the kernel; someone placing it with
     * dontwake may have left a waiter asleep.  A wake without waiters is
     * cheap. */
    if (exists && !dontwake) {
        uffd_wake(fd, dst, len);
    }
    return exists ? -EEXIST : 0;
}

int uffd_copy(int fd, void *dst, const void *src, uint64_t len, bool dontwake)
{
    return place(fd, PLACE_COPY, dst, src, len, dontwake);
}

int uffd_zeropage(int fd, void *dst, uint64_t len, bool dontwake)
{
    return place(fd, PLACE_ZERO, dst, NULL, len, dontwake);
}

int uffd_continue(int fd, void *dst, uint64_t len, bool dontwake)
{
    return place(fd, PLACE_CONTINUE, dst, NULL, len, dontwake);
}

int uffd_wake(int fd, void *addr, uint64_t len)
{
    struct uffdio_range range = { .start = (uintptr_t)addr, .len = len };

    return ioctl(fd, UFFDIO_WAKE, &range) < 0 ? -errno : 0;
}

int uffd_read_faults(int fd, UffdFault *out, int max)
{
    struct uffd_msg msg[64];
    int n = 0;

    while (n < max) {
        size_t want = MIN((size_t)(max - n), G_N_ELEMENTS(msg));
        ssize_t got = read(fd, msg, want * sizeof(msg[0]));

        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                break;
            }
            /* Faults already taken off the queue must not be lost. */
            return n ? n : -errno;
        }
        got /= sizeof(msg[0]);
        for (ssize_t i = 0; i < got; i++) {
            if (msg[i].event != UFFD_EVENT_PAGEFAULT) {
                continue;
            }
            out[n++] = (UffdFault){
                .addr = msg[i].arg.pagefault.address & ~(UFFD_PAGE_SIZE - 1),
                .tid = msg[i].arg.pagefault.feat.ptid,
                .write = msg[i].arg.pagefault.flags &
                         UFFD_PAGEFAULT_FLAG_WRITE,
            };
        }
        if ((size_t)got < want) {
            break;      /* drained */
        }
    }
    return n;
}
