/* -add-fd fd sets: see include/util/fdset.h. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "util/error.h"
#include "util/fdset.h"

#define FDSET_PREFIX "/dev/fdset/"

typedef struct FdSetMember {
    int64_t set;
    int fd;
    char *opaque;
} FdSetMember;

struct FdSets {
    GArray *members;        /* FdSetMember, in the order added */
};

static void member_clear(gpointer p)
{
    FdSetMember *m = p;

    close(m->fd);
    g_free(m->opaque);
}

FdSets *fdsets_new(void)
{
    FdSets *s = g_new0(FdSets, 1);

    s->members = g_array_new(FALSE, TRUE, sizeof(FdSetMember));
    g_array_set_clear_func(s->members, member_clear);
    return s;
}

void fdsets_free(FdSets *s)
{
    if (s) {
        g_array_unref(s->members);
        g_free(s);
    }
}

bool fdsets_add(FdSets *s, int64_t set_id, int fd, const char *opaque,
                GError **errp)
{
    int fdflags = fcntl(fd, F_GETFD);
    FdSetMember m = { .set = set_id };

    if (fdflags < 0) {
        error_setg(errp, "fd=%d is not an open file descriptor", fd);
        return false;
    }
    if (fdflags & FD_CLOEXEC) {
        error_setg(errp, "fd=%d is close-on-exec: not one ferry inherited",
                   fd);
        return false;
    }
    m.fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (m.fd < 0) {
        error_setg_errno(errp, errno, "fd=%d: cannot duplicate it", fd);
        return false;
    }
    close(fd);
    m.opaque = g_strdup(opaque);
    g_array_append_val(s->members, m);
    return true;
}

bool fdsets_is_path(const char *path)
{
    return g_str_has_prefix(path, FDSET_PREFIX);
}

/* O_RDWR serves readers and writers alike. */
static bool mode_fits(int have, int want)
{
    return (have & O_ACCMODE) == O_RDWR ||
           (have & O_ACCMODE) == (want & O_ACCMODE);
}

static const char *access_name(int flags)
{
    switch (flags & O_ACCMODE) {
    case O_RDONLY: return "reading";
    case O_WRONLY: return "writing";
    default: return "reading and writing";
    }
}

static int dup_member(int fd, int flags, const char *path, GError **errp)
{
    int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int fl = copy < 0 ? -1 : fcntl(copy, F_GETFL);

    if (fl < 0 ||
        fcntl(copy, F_SETFL, fl | (flags & (O_APPEND | O_NONBLOCK))) < 0) {
        error_setg_errno(errp, errno, "'%s'", path);
        if (copy >= 0) {
            close(copy);
        }
        return -1;
    }
    return copy;
}

int fdsets_open(FdSets *s, const char *path, int flags, GError **errp)
{
    guint64 id;
    bool found = false;

    if (!fdsets_is_path(path) ||
        !g_ascii_string_to_unsigned(path + strlen(FDSET_PREFIX), 10, 0,
                                    G_MAXINT64, &id, NULL)) {
        error_setg(errp, "'%s' does not name an fd set (/dev/fdset/N)", path);
        return -1;
    }
    for (guint i = 0; i < s->members->len; i++) {
        FdSetMember *m = &g_array_index(s->members, FdSetMember, i);
        int have;

        if ((guint64)m->set != id) {
            continue;
        }
        found = true;
        have = fcntl(m->fd, F_GETFL);
        if (have >= 0 && mode_fits(have, flags)) {
            return dup_member(m->fd, flags, path, errp);
        }
    }
    if (!found) {
        error_setg(errp, "'%s': there is no fd set %" G_GUINT64_FORMAT
                   " (see -add-fd)", path, id);
    } else {
        error_setg(errp, "'%s': fd set %" G_GUINT64_FORMAT " has no "
                   "descriptor open for %s", path, id, access_name(flags));
    }
    return -1;
}
