/*
 * State shared by the pvchannel files: pvchannel.c (registers, -device),
 * pvchannel-io.c (the thread that moves bytes), pvchannel-vmstate.c.
 *
 * Locking: s->lock guards the struct and the device's side of the rings
 * in guest RAM.  The MMIO handlers (vCPU threads), the channel's I/O
 * thread, the chardev's connection callback (main thread) and
 * pvchannel_set_running_all() take it.  Bytes only move with the lock
 * held and s->running set, so clearing s->running under the lock is a
 * barrier: after it, neither the rings nor the device state change.
 */
#ifndef FERRY_HW_CHAR_PVCHANNEL_INTERNAL_H
#define FERRY_HW_CHAR_PVCHANNEL_INTERNAL_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include "chardev/chardev.h"
#include "ferry/migration.h"
#include "guest/pvchannel-dev.h"

typedef struct PvchanState {
    /* Migrated (pvchannel-vmstate.c) */
    uint64_t g2h_gpa;
    uint32_t g2h_size;
    uint32_t g2h_cons;          /* next byte to send */
    uint64_t h2g_gpa;
    uint32_t h2g_size;
    uint32_t h2g_prod;          /* next byte to fill */
    uint32_t status;            /* PVCHAN_STATUS_ENABLED | _ERROR */

    /* Not migrated */
    unsigned index;             /* MMIO slot, migration instance */
    char *name;
    char *id;
    Chardev *chr;               /* NULL: no host side */
    GMutex lock;
    int conn_fd;                /* the client; -1 none */
    int kick_fd;                /* eventfd: wakes the I/O thread */
    bool running;
    bool stopping;
    bool tx_blocked;            /* the client's socket was full */
    bool rx_full;               /* no room in H2G */
    GThread *thread;
    uint64_t bytes_out, bytes_in;
} PvchanState;

/* Wakes the I/O thread (any thread). */
void pvchan_kick(PvchanState *s);
/* Moves what can move now in both directions.  Caller holds s->lock. */
void pvchan_pump_locked(PvchanState *s);
/* The I/O thread's body. */
gpointer pvchan_io_thread(gpointer opaque);
/* Takes a client connection (main thread, or tests). */
void pvchan_attach_conn(PvchanState *s, int fd);
/* Stops the channel and logs why; caller holds s->lock. */
void pvchan_fail_locked(PvchanState *s, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);
/* Whether a ring of @size data bytes at @gpa is usable. */
bool pvchan_ring_valid(uint64_t gpa, uint64_t size);
/* The channel with slot @index, or NULL (tests, fuzzing). */
PvchanState *pvchan_get(unsigned index);

bool pvchan_vmstate_register(FerryMig *m, PvchanState *s, GError **errp);
void pvchan_vmstate_unregister(FerryMig *m, PvchanState *s);

#endif
