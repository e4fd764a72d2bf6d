/*
 * File descriptor sets, QEMU's -add-fd: a management tool opens files
 * itself (libvirt opens the console log it keeps) and hands ferry the
 * descriptors; "/dev/fdset/N" then names set N wherever ferry would open
 * a path, and opening it gives a duplicate of a member whose access mode
 * fits.  Main thread only.
 */
#ifndef FERRY_UTIL_FDSET_H
#define FERRY_UTIL_FDSET_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct FdSets FdSets;

FdSets *fdsets_new(void);
/* Closes every member. */
void fdsets_free(FdSets *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FdSets, fdsets_free)

/*
 * Moves @fd into set @set_id: the set keeps a close-on-exec duplicate and
 * @fd is closed.  @fd must be open and not close-on-exec, as a descriptor
 * the process inherited is (QEMU's rule: anything else is ferry's own).
 */
bool fdsets_add(FdSets *s, int64_t set_id, int fd, const char *opaque,
                GError **errp);

/* True for "/dev/fdset/..." (which only fdsets_open can open). */
bool fdsets_is_path(const char *path);

/*
 * Opens "/dev/fdset/N" for @flags: a new close-on-exec duplicate of the
 * first member of set N whose access mode allows O_ACCMODE of @flags, with
 * O_APPEND and O_NONBLOCK of @flags applied to it.  -1 and @errp if the
 * set is missing or has no such member.
 */
int fdsets_open(FdSets *s, const char *path, int flags, GError **errp);

#endif
