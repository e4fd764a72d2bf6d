/*
 * Handlers for state that is sent iteratively (RAM now; disks later), the
 * idea of QEMU's SaveVMHandlers.  Device state that is sent once, while
 * the guest is stopped, uses VMState descriptions instead.
 *
 * Locking: the save_* hooks run in the migration thread, the load_* hooks
 * in the incoming-migration thread; neither holds the BQL.
 */
#ifndef FERRY_MIGRATION_REGISTER_H
#define FERRY_MIGRATION_REGISTER_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include "migration/format/qemu-file.h"

typedef struct SaveVMHandlers {
    /* Source: writes what the first section holds; starts tracking. */
    int (*save_setup)(QEMUFile *f, void *opaque, GError **errp);
    /* Sends until rate-limited or done: 1 when nothing is left, 0 if
     * more, -errno on error. */
    int (*save_live_iterate)(QEMUFile *f, void *opaque);
    /* Guest stopped: sends everything left. */
    int (*save_live_complete_precopy)(QEMUFile *f, void *opaque);
    /* Postcopy: sends the pages the destination asked for (optional). */
    int (*save_postcopy_urgent)(QEMUFile *f, void *opaque);
    /* Before the postcopy switchover: whatever went over side channels
     * (multifd) has arrived before what follows in @f (optional). */
    int (*save_live_sync)(QEMUFile *f, void *opaque);
    /* Postcopy's end: sends what is left (optional). */
    int (*save_live_complete_postcopy)(QEMUFile *f, void *opaque);
    /* Bytes still to send; with @sync, after refreshing dirty tracking. */
    uint64_t (*save_pending)(void *opaque, bool sync);
    void (*save_cleanup)(void *opaque);
    /* Destination: one call per section of this entry. */
    int (*load_state)(QEMUFile *f, void *opaque, int version_id,
                      GError **errp);
} SaveVMHandlers;

#endif
