/*
 * OFD byte-range image locks (see image-lock.h).  F_OFD_SETLK never
 * waits: a conflict is an error the user must see, not a hang.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include "image-lock.h"
#include "util/error.h"

static int ofd_lock(int fd, int cmd, short type, off_t byte, struct flock *fl)
{
    *fl = (struct flock) {
        .l_type = type,
        .l_whence = SEEK_SET,
        .l_start = byte,
        .l_len = 1,
    };
    return fcntl(fd, cmd, fl) < 0 ? -errno : 0;
}

/* Whether another open file description holds a conflicting lock. */
static bool lock_held_elsewhere(int fd, short type, off_t byte)
{
    struct flock fl;

    return ofd_lock(fd, F_OFD_GETLK, type, byte, &fl) == 0 &&
           fl.l_type != F_UNLCK;
}

static bool take(int fd, const char *path, short type, off_t byte,
                 const char *name, GError **errp)
{
    struct flock fl;
    int ret;

    /* A holder may let go between SETLK and GETLK: then try once more. */
    for (int tries = 0; tries < 2; tries++) {
        ret = ofd_lock(fd, F_OFD_SETLK, type, byte, &fl);
        if (ret == 0) {
            return true;
        }
        if (ret != -EAGAIN && ret != -EACCES) {
            break;
        }
        if (lock_held_elsewhere(fd, type, byte)) {
            error_setg(errp, "Failed to get \"%s\" lock: image '%s' is locked "
                       "by another process (is another ferry or QEMU using "
                       "it?)", name, path);
            return false;
        }
    }
    error_setg_errno(errp, -ret, "Failed to lock byte 0x%x of image '%s'",
                     (unsigned)byte, path);
    return false;
}

bool image_lock_attach(int fd, const char *path, GError **errp)
{
    return take(fd, path, F_RDLCK, IMAGE_LOCK_ATTACHED_BYTE, "attached",
                errp);
}

bool image_lock_write(int fd, const char *path, GError **errp)
{
    return take(fd, path, F_WRLCK, IMAGE_LOCK_WRITE_BYTE, "write", errp);
}

void image_unlock_write(int fd)
{
    struct flock fl;

    ofd_lock(fd, F_OFD_SETLK, F_UNLCK, IMAGE_LOCK_WRITE_BYTE, &fl);
}
