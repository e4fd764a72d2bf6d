/*
 * The test guest's ring-3 driver for a pvchannel (guest/pvchannel-dev.h):
 * it finds a channel by name, hands the device two rings in memory the
 * caller provides, and moves bytes without a VM exit except the doorbell.
 * The struct lives in guest RAM, so a migrated guest carries on with it.
 */
#ifndef GUEST_PVCHAN_H
#define GUEST_PVCHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "guest/pvchannel-dev.h"

struct pvchan {
    uint64_t mmio;
    struct pvchan_ring_hdr *tx, *rx;    /* G2H, H2G */
    uint8_t *txd, *rxd;
    uint32_t size;                      /* of each ring's data */
};

/* Bytes of memory pvchan_open() needs for rings of @size data bytes. */
uint64_t pvchan_mem_bytes(uint32_t size);
/* The MMIO base of the channel named @name, or 0. */
uint64_t pvchan_find(const char *name);
/* Starts the channel at @mmio with its rings in @mem; false if refused. */
bool pvchan_open(struct pvchan *c, uint64_t mmio, void *mem, uint32_t size);
/* Room in the G2H ring. */
uint32_t pvchan_tx_room(const struct pvchan *c);
/* Queues @len bytes (at most pvchan_tx_room()); no doorbell yet. */
void pvchan_tx(struct pvchan *c, const void *buf, uint32_t len);
/* Takes up to @max bytes the host sent; returns how many. */
uint32_t pvchan_rx(struct pvchan *c, void *buf, uint32_t max);
/* Tells the device about new G2H bytes or new H2G room. */
void pvchan_notify(struct pvchan *c);
/* The STATUS register (a VM exit). */
uint64_t pvchan_status(const struct pvchan *c);

#endif
