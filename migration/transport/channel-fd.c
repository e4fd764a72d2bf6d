/*
 * fd:NAME: a descriptor the monitor received with getfd (or SCM_RIGHTS on
 * QMP), found through the context's MigFdSource, which hands its
 * ownership over.
 * A socket carries both directions (so the return path works); anything
 * else (a pipe, a file) only the direction of the migration.  Like every
 * channel it is switched to O_NONBLOCK, which the sender of the fd shares
 * (QEMU's fd: channels do the same).
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "migration/transport/channel.h"
#include "util/error.h"

MigChannel *mig_fd_open(const char *uri, bool outgoing,
                        const MigFdSource *fds, GError **errp)
{
    const char *name = uri + 3;     /* after "fd:" */
    struct stat st;
    int fd;

    if (!*name) {
        error_setg(errp, "'%s': missing file descriptor name", uri);
        return NULL;
    }
    if (!fds || !fds->lookup) {
        error_setg(errp, "%s: no file descriptors can be looked up here", uri);
        return NULL;
    }
    fd = fds->lookup(fds->opaque, name, errp);
    if (fd < 0) {
        g_prefix_error(errp, "%s: ", uri);
        return NULL;
    }
    if (fstat(fd, &st) < 0) {
        error_setg_errno(errp, errno, "%s: bad file descriptor %d", uri, fd);
        close(fd);
        return NULL;
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC);     /* keep it out of exec: children */
    if (S_ISSOCK(st.st_mode)) {
        return mig_channel_new(uri, fd, fd, NULL, NULL);
    }
    return outgoing ? mig_channel_new(uri, -1, fd, NULL, NULL)
                    : mig_channel_new(uri, fd, -1, NULL, NULL);
}
