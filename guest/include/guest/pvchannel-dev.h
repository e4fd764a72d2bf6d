/*
 * Register and ring layout of ferry's paravirtual channel (pvchannel), a
 * named byte stream between the guest and a host chardev, shared by the
 * test guest and the VMM (hw/char/pvchannel.c).  QEMU's virtio-serial
 * port in spirit: the guest agent talks over the channel named
 * "org.qemu.guest_agent.0".
 *
 * Up to PVCHAN_MAX_DEVS channels, one 4 KiB MMIO page each, after the
 * pvblk pages (MMIO: a ring-3 driver reaches it directly).
 *
 * Two byte rings in guest RAM, one per direction, each
 *
 *   struct pvchan_ring_hdr     at *_GPA
 *   uint8_t data[SIZE]         right after it
 *
 * The writer of a ring owns prod, the reader owns cons; both run freely
 * and wrap at 2^32, the byte at position p lives in data[p % SIZE].
 * Guest to host (G2H): the guest fills data, stores prod (release), then
 * writes DOORBELL.  The device sends the bytes to the connected client
 * and only then advances cons: what the guest writes while no client is
 * connected stays in the ring and goes to the next one.  Host to guest
 * (H2G): the device fills data and stores prod (release); the guest reads
 * prod (acquire), takes the bytes, stores cons and writes DOORBELL so the
 * device knows there is room again.
 *
 * The device's own indexes (G2H cons, H2G prod) are device state and
 * migrate; the guest's live in RAM and migrate with it.  A guest whose
 * rings or indexes make no sense (out of RAM, sizes not a power of two,
 * an index more than a ring ahead) finds STATUS_ERROR set and the channel
 * stopped until it writes CONTROL again.
 */
#ifndef GUEST_PVCHANNEL_DEV_H
#define GUEST_PVCHANNEL_DEV_H

#include <stdint.h>

#define PVCHAN_DEV_BASE     0xfe006000ULL
#define PVCHAN_DEV_STRIDE   0x1000ULL
#define PVCHAN_DEV_SIZE     0x1000ULL
#define PVCHAN_MAX_DEVS     4
#define PVCHAN_DEV_ADDR(i)  (PVCHAN_DEV_BASE + (uint64_t)(i) * PVCHAN_DEV_STRIDE)

#define PVCHAN_DEV_MAGIC    0x3148435952524546ULL   /* "FERRYCH1" */
#define PVCHAN_NAME_MAX     32      /* bytes, NUL-padded, in 4 registers */

/* 64-bit registers */
#define PVCHAN_REG_ID        0x00   /* R: PVCHAN_DEV_MAGIC */
#define PVCHAN_REG_NAME      0x08   /* R: 0x08-0x27, the name= bytes */
#define PVCHAN_REG_G2H_GPA   0x28   /* RW: guest-to-host ring */
#define PVCHAN_REG_G2H_SIZE  0x30   /* RW: its data bytes */
#define PVCHAN_REG_H2G_GPA   0x38   /* RW: host-to-guest ring */
#define PVCHAN_REG_H2G_SIZE  0x40   /* RW: its data bytes */
#define PVCHAN_REG_CONTROL   0x48   /* RW: PVCHAN_CTL_* */
#define PVCHAN_REG_STATUS    0x50   /* R: PVCHAN_STATUS_* */
#define PVCHAN_REG_DOORBELL  0x58   /* W: G2H has data / H2G has room */

/* CONTROL: writing ENABLE checks the rings and starts the channel with
 * every index at 0; writing 0 stops it.  The ring registers may only
 * change while the channel is stopped. */
#define PVCHAN_CTL_ENABLE    1u

#define PVCHAN_STATUS_ENABLED   1u
#define PVCHAN_STATUS_ERROR     2u  /* misprogrammed: stopped, see the log */
#define PVCHAN_STATUS_CONNECTED 4u  /* a host client is connected */

#define PVCHAN_RING_MIN     16u
#define PVCHAN_RING_MAX     (1u << 20)

struct pvchan_ring_hdr {
    uint32_t prod;
    uint32_t cons;
    uint64_t reserved;
};

#define PVCHAN_RING_BYTES(size) (sizeof(struct pvchan_ring_hdr) + (uint64_t)(size))

#endif
