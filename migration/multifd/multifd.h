/*
 * multifd: RAM pages of the precopy passes travel over extra connections
 * to the same address, one sending thread per connection on the source
 * and one receiving thread on the destination, while the main stream
 * keeps the device state, the RAM sections' framing and the syncs
 * (docs/migration.md, "Multifd"; the wire is in wire.h).
 *
 * Sync: at the end of each dirty-bitmap round every channel sends a
 * SYNC packet, then the main stream carries RAM_SAVE_FLAG_MULTIFD_FLUSH.
 * A destination channel that read SYNC waits until the main stream's
 * flush released it, so no page of a later round overtakes an older
 * copy on another channel, and the device state loads after every page.
 *
 * The state lives in the migration context (m->multifd_send,
 * m->multifd_recv); each file documents its locking.
 */
#ifndef FERRY_MIGRATION_MULTIFD_H
#define FERRY_MIGRATION_MULTIFD_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "ferry/migration.h"
#include "migration/transport/channel.h"

typedef struct MultiFDSend MultiFDSend;
typedef struct MultiFDRecv MultiFDRecv;

/* A destination waits this long from the first connection for all. */
#define MULTIFD_CONNECT_TIMEOUT_MS 10000

MultiFDSend *multifd_send_new(void);
void multifd_send_free(MultiFDSend *s);
MultiFDRecv *multifd_recv_new(void);
void multifd_recv_free(MultiFDRecv *r);

/*
 * multifd opens one connection per channel to the same address: tcp: and
 * unix: only (QEMU's rule); false with @errp naming the URI otherwise.
 */
bool multifd_uri_ok(const char *uri, GError **errp);

/* --- source (send.c) ------------------------------------------------------
 * All in the migration thread, except multifd_send_shutdown() and the
 * counters (any thread). */

/*
 * With capability multifd: connects multifd-channels connections (with
 * TLS when the migration uses it) and starts their threads; @main is the
 * main stream's channel, watched while waiting for the channels.
 * @normal_pages / @zero_pages are counted by the sending threads.
 */
bool multifd_send_setup(FerryMig *m, MigChannel *main, uint64_t *normal_pages,
                        uint64_t *zero_pages, GError **errp);
bool multifd_send_active(FerryMig *m);
/* Queues one page of @blk; 0 or -errno (a channel failed, cancel). */
int multifd_queue_page(FerryMig *m, const FerryMigRAMBlock *blk,
                       uint64_t offset);
/* Hands the pages queued so far to a channel. */
int multifd_send_flush(FerryMig *m);
/*
 * Every page handed out was sent (with zero-copy-send: and the kernel
 * released it), then a SYNC packet on every channel.  1 when the kernel
 * copied some zero-copy send of the round after all, else 0; -errno.
 */
int multifd_send_sync(FerryMig *m);
/* After a failure: why, naming the channel; false if none failed. */
bool multifd_send_error(FerryMig *m, GError **errp);
/* Cancel or failure: wakes every thread and fails all further I/O. */
void multifd_send_shutdown(FerryMig *m);
/* Stops and joins the threads and closes the channels. */
void multifd_send_cleanup(FerryMig *m);
/* Bytes written on the channels by this or the last migration. */
uint64_t multifd_send_bytes(FerryMig *m);
/*
 * The bytes the channels wrote since the last call (migration thread):
 * what max-bandwidth counts, as they went on the wire (compressed, a
 * zero page as its offset in the header).
 */
uint64_t multifd_send_take_bytes(FerryMig *m);

/* --- destination (recv.c) ------------------------------------------------- */

/* At migrate-incoming with capability multifd (main thread). */
bool multifd_recv_start(FerryMig *m, const char *uri, GError **errp);
bool multifd_recv_active(FerryMig *m);
/*
 * A new connection (main thread): a thread tells it apart by its first
 * bytes; a main stream is handed to mig_incoming_main_channel(), a
 * multifd channel is kept and read by that thread.
 */
void multifd_recv_accept(FerryMig *m, MigChannel *chan);
bool multifd_recv_all_connected(FerryMig *m);
/* The main stream's block list loaded: pages may be written (load thread). */
void multifd_recv_ram_ready(FerryMig *m);
/* RAM_SAVE_FLAG_MULTIFD_FLUSH (load thread): waits for every SYNC. */
bool multifd_recv_sync(FerryMig *m, GError **errp);
/*
 * The main stream failed (load thread): a channel whose connection broke
 * is named, in @errp, as the cause, since a channel that waits at its
 * SYNC does not read and so never saw its connection fail.
 */
bool multifd_recv_channel_error(FerryMig *m, GError **errp);
/* Shuts every channel down and joins the threads; idempotent. */
void multifd_recv_cleanup(FerryMig *m);

#endif
