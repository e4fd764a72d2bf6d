/*
 * A thin wrapper over Linux userfaultfd for postcopy on the destination:
 * guest RAM is a shared memfd mapping registered in MISSING mode, so a vCPU
 * (or KVM's get_user_pages on its behalf, or any other thread) touching a
 * page that has not arrived yet sleeps in the kernel and the fault is
 * queued on the descriptor.  The fault thread reads the faults and asks the
 * source for the pages; whoever receives a page places it atomically with
 * uffd_copy() (or uffd_zeropage()), which also wakes the sleepers.  In
 * MINOR mode (uffd_open_minor(), uffd_register_minor()) a page that is in
 * the memfd but not mapped in the registered range faults too; it is
 * written through another mapping and shown with uffd_continue().
 *
 * Threads: the descriptor is non-blocking.  One thread reads faults (after
 * poll() says POLLIN); any number of threads may place pages and wake
 * waiters at the same time, the kernel serialises them per page.
 * Registration is control-plane work (GError); placement is data path
 * (-errno).  All addresses and lengths are multiples of UFFD_PAGE_SIZE.
 */
#ifndef FERRY_MIGRATION_USERFAULTFD_H
#define FERRY_MIGRATION_USERFAULTFD_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

/* ferry is x86 only: faults and placements are in 4 KiB pages. */
#define UFFD_PAGE_SIZE 4096ULL

/* One fault read from the descriptor. */
typedef struct UffdFault {
    uint64_t addr;      /* faulting address, rounded down to its 4 KiB page */
    uint32_t tid;       /* faulting thread (UFFD_FEATURE_THREAD_ID),
                         * 0 if unknown */
    bool write;
} UffdFault;

/*
 * Opens a userfaultfd (O_CLOEXEC|O_NONBLOCK) able to catch faults from
 * kernel mode too (KVM's get_user_pages): userfaultfd(2) without
 * UFFD_USER_MODE_ONLY, falling back to /dev/userfaultfd's
 * USERFAULTFD_IOC_NEW; does the UFFDIO_API handshake requiring
 * UFFD_FEATURE_MISSING_SHMEM and asking for UFFD_FEATURE_THREAD_ID when
 * available.  Returns the fd or -1 with @errp naming what is missing.
 */
int uffd_open(GError **errp);

/*
 * The same, also asking for UFFD_FEATURE_MINOR_SHMEM: shared memory
 * registered with uffd_register_minor() then faults on pages that are in
 * the page cache but not mapped in that range, not only on holes.
 */
int uffd_open_minor(GError **errp);
/* True if the kernel offers minor faults on shared memory. */
bool uffd_minor_supported(void);

/*
 * True if postcopy can run here: opens, handshakes, registers a 1-page
 * memfd mapping, checks that UFFDIO_COPY and UFFDIO_ZEROPAGE are offered
 * for it, closes.
 */
bool uffd_supported(GError **errp);

/*
 * Registers [@addr, @addr + @len) in MISSING mode (shmem or anonymous
 * memory); fails unless the kernel offers UFFDIO_COPY, UFFDIO_ZEROPAGE and
 * UFFDIO_WAKE there (it does not for hugetlbfs).
 */
bool uffd_register_missing(int fd, void *addr, uint64_t len, GError **errp);
/*
 * Registers [@addr, @addr + @len) of a shared memfd mapping in MISSING and
 * MINOR mode (a descriptor from uffd_open_minor()): touching a page that
 * is not mapped there faults, whether the page cache holds it or not.
 * Fails unless the kernel offers UFFDIO_CONTINUE too.
 */
bool uffd_register_minor(int fd, void *addr, uint64_t len, GError **errp);
/* Stops catching faults there; threads still waiting are woken. */
bool uffd_unregister(int fd, void *addr, uint64_t len, GError **errp);

/*
 * Atomically places @len bytes at @dst from @src and wakes the waiters
 * (unless @dontwake).  0; -EEXIST if a page in the range was already there
 * (the other pages are still placed, and without @dontwake the present
 * ones are woken too); -errno otherwise (-ENOENT: not registered, -ESRCH:
 * the process is exiting).  Retries -EAGAIN and partial copies.
 */
int uffd_copy(int fd, void *dst, const void *src, uint64_t len,
              bool dontwake);
/* Same with zero-filled pages (UFFDIO_ZEROPAGE). */
int uffd_zeropage(int fd, void *dst, uint64_t len, bool dontwake);
/*
 * Maps what the page cache holds into [@dst, @dst + @len) of a range
 * registered with uffd_register_minor() and wakes the waiters
 * (UFFDIO_CONTINUE); the same return values as uffd_copy(), and -EFAULT
 * when a page is a hole (nothing to map: pages before it are mapped).
 */
int uffd_continue(int fd, void *dst, uint64_t len, bool dontwake);
/* Wakes threads waiting on a range that is already present (a fault
 * raced a placement, or it was placed with @dontwake).  0 or -errno. */
int uffd_wake(int fd, void *addr, uint64_t len);

/*
 * Reads up to @max pending page-fault messages without blocking; returns
 * how many (0: none), or -errno.  Other event types are skipped.  One page
 * may be reported several times: by several threads, or again by one
 * thread that a signal woke before the page arrived.
 */
int uffd_read_faults(int fd, UffdFault *out, int max);

#endif
