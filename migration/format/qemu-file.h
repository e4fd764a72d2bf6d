/*
 * The buffered migration stream (QEMU's QEMUFile): one MigChannel in one
 * direction, big-endian helpers, a sticky error, a byte count and a rate
 * limit.
 *
 * Sticky error: the first failure (I/O error, end of stream, a higher
 * layer's qemu_file_set_error()) is kept; from then on every put and get
 * is a no-op and every get returns 0.  Callers check qemu_file_get_error()
 * once per section.  Reading past the end of the stream is -EIO, as in
 * QEMU: the migration format marks its own end, so running out of bytes
 * is always unexpected.  A file that was shut down reports -EIO too.
 *
 * Threads: a QEMUFile belongs to one thread.  qemu_file_shutdown(),
 * qemu_file_get_error() and qemu_file_set_error() may be called from any
 * thread (that is how cancel unblocks the migration and return-path
 * threads).
 */
#ifndef FERRY_MIGRATION_QEMU_FILE_H
#define FERRY_MIGRATION_QEMU_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>
#include "migration/format/rate-limit.h"
#include "migration/transport/channel.h"

typedef struct QEMUFile QEMUFile;

/* Bytes buffered before a write goes out; also the read-ahead size. */
#define QEMU_FILE_BUF_SIZE      32768

/* Each takes its own reference to @chan. */
QEMUFile *qemu_file_new_output(MigChannel *chan);
QEMUFile *qemu_file_new_input(MigChannel *chan);
/*
 * Flushes (output), drops the channel reference and frees @f.  Returns the
 * sticky error, else a failure of the close itself (-EIO; e.g. an exec:
 * command that exited non-zero), else 0; @errp (may be NULL) then says why.
 */
int qemu_fclose(QEMUFile *f, GError **errp);

/*
 * The same connection's other direction (the return path), or NULL when
 * the transport has none (exec:, file:, fd: of a pipe).  Close it with
 * qemu_fclose() as well.
 */
QEMUFile *qemu_file_get_return_path(QEMUFile *f);
MigChannel *qemu_file_get_channel(QEMUFile *f);
bool qemu_file_is_writable(QEMUFile *f);

/* The first -errno, or 0. */
int qemu_file_get_error(QEMUFile *f);
/* Poisons @f with @ret (< 0) unless it already failed. */
void qemu_file_set_error(QEMUFile *f, int ret);
/*
 * Fails the stream (-EIO unless it already failed) and wakes any thread
 * blocked reading or writing it, or its return path (same channel).
 * Returns 0.  Any thread.
 */
int qemu_file_shutdown(QEMUFile *f);

/* Stream position: bytes put (sent or still queued), or bytes got. */
uint64_t qemu_file_transferred(QEMUFile *f);

/* --- output -------------------------------------------------------------- */
void qemu_put_byte(QEMUFile *f, int v);
void qemu_put_be16(QEMUFile *f, unsigned int v);
void qemu_put_be32(QEMUFile *f, unsigned int v);
void qemu_put_be64(QEMUFile *f, uint64_t v);
/* Copies @buf (large buffers are written at once from @buf instead). */
void qemu_put_buffer(QEMUFile *f, const uint8_t *buf, size_t size);
/*
 * Queues @buf without copying it: it must stay valid until the next
 * qemu_fflush() or qemu_fclose() returns, and what it holds then is what
 * is sent (guest pages that change are sent again anyway).
 */
void qemu_put_buffer_async(QEMUFile *f, const uint8_t *buf, size_t size);
/* QEMU's form: a length byte, then the bytes (no NUL); -EINVAL if > 255. */
void qemu_put_counted_string(QEMUFile *f, const char *str);
/* Writes out everything queued. */
void qemu_fflush(QEMUFile *f);

/*
 * Rate limit (rate-limit.h): @bytes_per_second (0: unlimited) is spent in
 * windows of MIG_RATE_WINDOW_MS.  What was put counts at the next check.
 * The sender's loop stops queueing while qemu_file_rate_limit_exceeded(),
 * which is also true once the stream failed, so the loop notices the
 * error.
 */
void qemu_file_set_rate_limit(QEMUFile *f, uint64_t bytes_per_second);
uint64_t qemu_file_get_rate_limit(QEMUFile *f);
bool qemu_file_rate_limit_exceeded(QEMUFile *f);
/* Counts @bytes sent on the stream's behalf elsewhere (multifd channels). */
void qemu_file_rate_account(QEMUFile *f, uint64_t bytes);
/* From now on @f's puts count against @with's limit, and @f's checks
 * see it (postcopy-preempt's channel spends the main stream's). */
void qemu_file_share_rate_limit(QEMUFile *f, QEMUFile *with);
/* Milliseconds until the current window ends (for the sender to sleep). */
int64_t qemu_file_rate_limit_ms_left(QEMUFile *f);
/* For tests: the clock the windows are measured with (NULL: monotonic). */
void qemu_file_set_clock(QEMUFile *f, int64_t (*now_ms)(void));

/* --- input --------------------------------------------------------------- */
int qemu_get_byte(QEMUFile *f);
unsigned int qemu_get_be16(QEMUFile *f);
unsigned int qemu_get_be32(QEMUFile *f);
uint64_t qemu_get_be64(QEMUFile *f);
/* Returns the bytes read: fewer than @size only after an error. */
size_t qemu_get_buffer(QEMUFile *f, uint8_t *buf, size_t size);
/* Reads a counted string into @buf, NUL-terminated; returns its length. */
size_t qemu_get_counted_string(QEMUFile *f, char buf[256]);
/*
 * The byte @offset bytes ahead, without consuming anything; @offset <
 * QEMU_FILE_BUF_SIZE.  Waits for it as a get would; 0 after an error.
 */
int qemu_peek_byte(QEMUFile *f, int offset);

/*
 * Serializes whole messages from several threads on one output file (the
 * destination's return path: load, package, attach and fault threads).
 */
void qemu_file_lock_writes(QEMUFile *f);
void qemu_file_unlock_writes(QEMUFile *f);

#endif
