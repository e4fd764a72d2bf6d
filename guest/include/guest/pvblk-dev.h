/*
 * Register and ring layout of ferry's paravirtual block device (pvblk),
 * shared by the test guest and the VMM (hw/block/pvblk.c).
 *
 * Up to PVBLK_MAX_DEVS devices, one 4 KiB MMIO page each, right after the
 * workload device's page: MMIO because the guest's ring-3 driver reaches it
 * directly (port I/O faults in ring 3 on this workplace's KVM).
 *
 * The requests travel in a ring in guest RAM, as virtio does it, so one
 * doorbell exit submits a batch and completions need no exit at all:
 *
 *   struct pvblk_ring_hdr                 at RING_GPA
 *   struct pvblk_req  req[RING_SIZE]      right after it
 *   struct pvblk_used used[RING_SIZE]     right after req[]
 *
 * Guest: fill req[avail_idx % size], then store avail_idx + 1 (release),
 * then write DOORBELL (any value) once for a batch.  Device: on DOORBELL,
 * takes every request from its last_avail up to avail_idx; when one
 * completes it fills used[used_idx % size], then stores used_idx + 1
 * (release).  The guest reads used_idx (acquire), then the used slots.
 * Both indexes run freely and wrap at 2^32.  Completions come in any
 * order: used.id says which request finished.  At most RING_SIZE requests
 * may be outstanding (posted and not yet reaped from the used ring), or
 * used entries overwrite ones the guest has not read.  Writing RING_SIZE
 * disables the ring (write RING_GPA again to enable it).
 *
 * The device's last_avail and used_idx are migrated with it: requests the
 * guest posted without ringing the doorbell before a migration are taken
 * at the next doorbell on the destination.
 */
#ifndef GUEST_PVBLK_DEV_H
#define GUEST_PVBLK_DEV_H

#include <stdint.h>

#define PVBLK_DEV_BASE     0xfe001000ULL
#define PVBLK_DEV_STRIDE   0x1000ULL
#define PVBLK_DEV_SIZE     0x1000ULL
#define PVBLK_MAX_DEVS     4
#define PVBLK_DEV_ADDR(i)  (PVBLK_DEV_BASE + (uint64_t)(i) * PVBLK_DEV_STRIDE)

#define PVBLK_DEV_MAGIC    0x314b425952524546ULL   /* "FERRYBK1" */

/* 64-bit registers */
#define PVBLK_REG_ID        0x00    /* R: PVBLK_DEV_MAGIC */
#define PVBLK_REG_CAPACITY  0x08    /* R: size in 512-byte sectors */
#define PVBLK_REG_FLAGS     0x10    /* R: PVBLK_F_* */
#define PVBLK_REG_RING_GPA  0x18    /* RW: the ring; 0 disables (W: resets
                                     * the indexes to 0; reads back 0 if
                                     * refused) */
#define PVBLK_REG_RING_SIZE 0x20    /* RW: entries, a power of 2 <= MAX */
#define PVBLK_REG_DOORBELL  0x28    /* W: new requests are in the ring */

#define PVBLK_F_READ_ONLY   1u      /* writes and flushes fail (ROFS) */

#define PVBLK_SECTOR_SIZE   512u
#define PVBLK_RING_MAX      256u
#define PVBLK_MAX_SECTORS   128u    /* 64 KiB per request */

enum pvblk_req_type {
    PVBLK_T_READ = 0,
    PVBLK_T_WRITE = 1,
    PVBLK_T_FLUSH = 2,              /* sector, nsectors, buf_gpa unused */
};

/* used.status: a small closed set, so the guest need not know errno. */
enum pvblk_status {
    PVBLK_S_OK = 0,
    PVBLK_S_IOERR = 1,              /* the backend failed */
    PVBLK_S_UNSUPP = 2,             /* unknown request type */
    PVBLK_S_INVAL = 3,              /* bad size, range or buffer address */
    PVBLK_S_ROFS = 4,               /* write or flush on a read-only disk */
    PVBLK_S_NOTREADY = 5,           /* the disk does not accept it now
                                     * (e.g. a write before activation) */
};

struct pvblk_ring_hdr {
    uint32_t avail_idx;             /* written by the guest */
    uint32_t used_idx;              /* written by the device */
    uint64_t reserved;
};

struct pvblk_req {
    uint32_t type;                  /* enum pvblk_req_type */
    uint32_t nsectors;              /* 1..PVBLK_MAX_SECTORS */
    uint64_t sector;
    uint64_t buf_gpa;               /* nsectors * 512 bytes of guest RAM */
    uint64_t id;                    /* echoed in used.id */
};

struct pvblk_used {
    uint64_t id;
    uint32_t status;                /* enum pvblk_status */
    uint32_t reserved;
};

/* Bytes of a ring of @size entries. */
#define PVBLK_RING_BYTES(size) \
    (sizeof(struct pvblk_ring_hdr) + \
     (uint64_t)(size) * (sizeof(struct pvblk_req) + sizeof(struct pvblk_used)))

#define PVBLK_REQ_OFF(i) \
    (sizeof(struct pvblk_ring_hdr) + (uint64_t)(i) * sizeof(struct pvblk_req))
#define PVBLK_USED_OFF(size, i) \
    (sizeof(struct pvblk_ring_hdr) + \
     (uint64_t)(size) * sizeof(struct pvblk_req) + \
     (uint64_t)(i) * sizeof(struct pvblk_used))

#endif
