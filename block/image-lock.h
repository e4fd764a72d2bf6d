/*
 * Image locking between processes (and between nodes of one process),
 * with OFD byte-range locks as QEMU's file-posix does:
 *
 *   byte 0x200  "attached"  F_RDLCK by every opener: shared, never refused
 *   byte 0x201  "write"     F_WRLCK by the active writer: one at a time
 *
 * So a migration destination attaches while the source is active, and
 * activates only once the source inactivated.  OFD locks belong to the
 * open file description: two nodes on one file conflict like two
 * processes, and closing the fd drops its locks.
 */
#ifndef FERRY_BLOCK_IMAGE_LOCK_H
#define FERRY_BLOCK_IMAGE_LOCK_H

#include <glib.h>
#include <stdbool.h>

#define IMAGE_LOCK_ATTACHED_BYTE 0x200
#define IMAGE_LOCK_WRITE_BYTE    0x201

/* Takes the shared "attached" lock; @path is for messages. */
bool image_lock_attach(int fd, const char *path, GError **errp);
/* Takes the exclusive "write" lock, without waiting. */
bool image_lock_write(int fd, const char *path, GError **errp);
/* Drops the "write" lock (a no-op when not held). */
void image_unlock_write(int fd);

#endif
