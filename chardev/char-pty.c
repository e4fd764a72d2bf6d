/*
 * The pty backend: a pseudo-terminal whose other side (/dev/pts/N,
 * reported by query-chardev as QEMU does) a user opens, e.g. with
 * `virsh console`.  While nobody has it open, output is dropped instead
 * of piling up in the terminal's buffer, so a late reader starts with
 * current output, as with QEMU.  Input is not read (COM1 has no receive
 * path yet).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>
#include "chardev-internal.h"
#include "util/error.h"

typedef struct PtyBackend {
    char *path;                 /* /dev/pts/N */
} PtyBackend;

/*
 * Raw mode, so the guest's bytes arrive unchanged; set once on the
 * terminal, it outlasts each reader.  Closing our end afterwards makes
 * the master report POLLHUP until a reader opens it.
 */
static bool make_raw(const char *path, GError **errp)
{
    struct termios tio;
    int slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);

    if (slave < 0) {
        error_setg_errno(errp, errno, "cannot open '%s'", path);
        return false;
    }
    if (tcgetattr(slave, &tio) == 0) {
        cfmakeraw(&tio);
        tcsetattr(slave, TCSANOW, &tio);
    }
    close(slave);
    return true;
}

/* A live update keeps the terminal a user has open (virsh console). */
static int pty_master(Chardev *chr)
{
    int fd = chardev_take_handed_fd(chr, "out");

    return fd >= 0 ? fd
                   : posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
}

static bool pty_open(Chardev *chr, const Keyval *kv, GError **errp)
{
    int fd = pty_master(chr);
    const char *name;
    PtyBackend *pty;

    if (fd < 0 || grantpt(fd) < 0 || unlockpt(fd) < 0 ||
        !(name = ptsname(fd))) {
        error_setg_errno(errp, errno, "cannot open a pseudo-terminal");
        if (fd >= 0) {
            close(fd);
        }
        return false;
    }
    if (!make_raw(name, errp)) {
        close(fd);
        return false;
    }
    pty = g_new0(PtyBackend, 1);
    pty->path = g_strdup(name);
    chr->be = pty;
    chr->out_fd = fd;
    return true;
}

static void pty_write(Chardev *chr, const void *buf, size_t len)
{
    struct pollfd pfd = { .fd = chr->out_fd, .events = POLLOUT };

    if (poll(&pfd, 1, 0) == 1 && !(pfd.revents & POLLHUP)) {
        chardev_write_all(chr->out_fd, buf, len);   /* stops at EAGAIN */
    }
}

static char *pty_filename(Chardev *chr)
{
    PtyBackend *pty = chr->be;

    return g_strdup_printf("pty:%s", pty->path);
}

static void pty_close(Chardev *chr)
{
    PtyBackend *pty = chr->be;

    close(chr->out_fd);
    chr->out_fd = -1;
    g_free(pty->path);
    g_free(pty);
}

const ChardevClass chardev_pty_class = {
    .name = "pty",
    .keys = (const char *const[]){ NULL },
    .open = pty_open,
    .write = pty_write,
    .filename = pty_filename,
    .close = pty_close,
};
