#ifndef FERRY_MIGRATION_RETURN_PATH_H
#define FERRY_MIGRATION_RETURN_PATH_H

#include <glib.h>
#include <stdbool.h>
#include "migration/format/qemu-file.h"

/*
 * A postcopy page request (REQ_PAGES / REQ_PAGES_ID): @len bytes at
 * @offset of block @block.  Called on the reader's thread.
 */
typedef void (*RPPageRequestFn)(const char *block, uint64_t offset,
                                uint64_t len, void *opaque);
/* Postcopy recovery: the destination's received bitmap of @block. */
typedef bool (*RPBitmapFn)(const char *block, const uint8_t *le_words,
                           uint64_t bytes, void *opaque);
/*
 * The size in bytes of @block's received bitmap, 0 for no such block: a
 * RECV_BITMAP of another size is refused before anything is allocated
 * for it, so a destination cannot make the source allocate what it
 * claims.
 */
typedef uint64_t (*RPBitmapSizeFn)(const char *block, void *opaque);

/* MIG_RP_MSG_RECV_BITMAP's trailer, after the bitmap (QEMU's value). */
#define RAMBLOCK_RECV_BITMAP_ENDING 0x0123456789abcdefULL
/* MIG_RP_MSG_RESUME_ACK: QEMU's value; ferry's destination answers
 * RESUME_ACK_RUN_MISSING when it never received POSTCOPY_RUN. */
#define MIGRATION_RESUME_ACK_VALUE  1
#define RESUME_ACK_RUN_MISSING      2

/* The source's reader of the return path (see migration/return-path.c). */
typedef struct ReturnPath {
    QEMUFile *f;
    GThread *thread;
    GMutex lock;
    GCond cond;
    bool done;                  /* SHUT received, or the path broke */
    bool ok;                    /* SHUT said the destination loaded all */
    bool run_ack;               /* RUN_ACK received */
    bool switchover_ack;        /* SWITCHOVER_ACK received */
    uint64_t events;            /* counts requests, RUN_ACK, the end */
    char *error;
    RPPageRequestFn on_page_request;    /* NULL: requests are an error */
    bool realtime;              /* the thread runs SCHED_FIFO if allowed */
    void *opaque;
    char last_block[256];       /* REQ_PAGES without an id means this one */
    QEMUFile *shut_on_failure;  /* lock: unblocked when the path fails */
    RPBitmapFn on_bitmap;       /* lock: recovery; NULL until resuming */
    RPBitmapSizeFn bitmap_size; /* lock: with on_bitmap */
    unsigned bitmaps;           /* lock: RECV_BITMAPs taken */
    uint32_t resume_ack;        /* lock: 0 until RESUME_ACK */
} ReturnPath;

/* @on_page_request may be NULL (precopy). */
void return_path_start(ReturnPath *rp, QEMUFile *f,
                       RPPageRequestFn on_page_request, void *opaque);
/* The same, the thread at realtime priority when allowed
 * (thread_prefer_realtime()): with postcopy-preempt it sends the pages
 * vCPUs wait for itself. */
void return_path_start_realtime(ReturnPath *rp, QEMUFile *f,
                                RPPageRequestFn on_page_request,
                                void *opaque);
/*
 * Postcopy-setup: waits for RUN_ACK until @deadline_us (monotonic).  False
 * with *error when the path failed first, or on timeout.
 */
bool return_path_wait_run_ack(ReturnPath *rp, int64_t deadline_us,
                              char **error);
void return_path_done(ReturnPath *rp, bool ok, const char *error);
/*
 * Waits until something happened since the count @seen (a page request,
 * RUN_ACK, the end), or until @deadline_us; returns the new count.
 */
uint64_t return_path_wait_event(ReturnPath *rp, uint64_t seen,
                                int64_t deadline_us);
bool return_path_run_acked(ReturnPath *rp);
/* The destination is ready for the switchover (capability switchover-ack). */
bool return_path_switchover_acked(ReturnPath *rp);
/*
 * Postcopy: when the path fails (a silent network times its reads out),
 * @f is shut down too, so a writer blocked on it notices.  NULL: none.
 */
void return_path_shut_on_failure(ReturnPath *rp, QEMUFile *f);
/* As return_path_wait, until @deadline_us: 1 SHUT ok, 0 failed, -1 not yet. */
int return_path_wait_until(ReturnPath *rp, int64_t deadline_us, char **error);
/* Waits for SHUT or a failure; false with *error on failure. */
bool return_path_wait(ReturnPath *rp, char **error);
/* True (with *error) if the path already failed. */
bool return_path_failed(ReturnPath *rp, char **error);
/* Unblocks and joins the reader; frees what it held (not the file). */
void return_path_stop(ReturnPath *rp);

/*
 * The reader without its thread (tests/fuzz/fuzz-return-path.c):
 * return_path_init() sets @rp up as return_path_start() does,
 * return_path_read() reads messages on the calling thread until SHUT, a
 * failure or EOF, and return_path_clear() frees what it held.
 */
void return_path_init(ReturnPath *rp, QEMUFile *f,
                      RPPageRequestFn on_page_request, void *opaque);
void return_path_read(ReturnPath *rp);
void return_path_clear(ReturnPath *rp);

/* Recovery: from now on RECV_BITMAPs are taken (the reader may run). */
void return_path_take_bitmaps(ReturnPath *rp, RPBitmapFn on_bitmap,
                              RPBitmapSizeFn bitmap_size);
/* Recovery: RECV_BITMAPs received and RESUME_ACK's value (0: none yet). */
void return_path_recovery_state(ReturnPath *rp, unsigned *bitmaps,
                                uint32_t *resume_ack);

/* Destination side: one message, flushed; any thread (serialized). */
void rp_send(QEMUFile *rp, uint16_t type, uint16_t len, const uint8_t *data);
void rp_send_be32(QEMUFile *rp, uint16_t type, uint32_t value);
/* MIG_RP_MSG_RECV_BITMAP for @name: be64 size, LE words, be64 ending. */
void rp_send_recv_bitmap(QEMUFile *rp, const char *name,
                         const unsigned long *bitmap, uint64_t nbits);

#endif
