/*
 * The file and stdio backends: output written to a file ferry opens (or a
 * descriptor of an fd set, "/dev/fdset/N", as libvirt passes the console
 * log it keeps) and to ferry's stdout.  Input is never read: a file has
 * none, and stdio's belongs to whoever started ferry.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include "chardev-internal.h"
#include "util/error.h"

static int open_path(Chardev *chr, const char *path, bool append,
                     GError **errp)
{
    int flags = O_WRONLY | O_APPEND | O_CLOEXEC;
    int fd;

    if (fdsets_is_path(path)) {
        if (!chardev_fdsets(chr)) {
            error_setg(errp, "path=%s: no fd sets here", path);
            return -1;
        }
        /* The set's file is opened by its owner: no create, no truncate */
        fd = fdsets_open(chardev_fdsets(chr), path,
                         O_WRONLY | (append ? O_APPEND : 0), errp);
        if (fd < 0) {
            g_prefix_error(errp, "path=");
        }
        return fd;
    }
    /* O_APPEND either way, so readers of a shared log see whole lines */
    fd = open(path, flags | O_CREAT | (append ? 0 : O_TRUNC), 0644);
    if (fd < 0) {
        error_setg_errno(errp, errno, "path=%s: cannot open", path);
    }
    return fd;
}

static bool file_open(Chardev *chr, const Keyval *kv, GError **errp)
{
    const char *path;
    bool append;
    int fd;

    if (!keyval_get_str(kv, "path", &path, errp) ||
        !keyval_get_bool(kv, "append", false, &append, errp)) {
        return false;
    }
    if (!path || !*path) {
        error_setg(errp, "path= is required");
        return false;
    }
    fd = chardev_take_handed_fd(chr, "out");
    if (fd < 0) {
        fd = open_path(chr, path, append, errp);
    }
    if (fd < 0) {
        return false;
    }
    chr->out_fd = fd;
    return true;
}

static void file_close(Chardev *chr)
{
    if (chr->out_fd >= 0) {
        close(chr->out_fd);
        chr->out_fd = -1;
    }
}

const ChardevClass chardev_file_class = {
    .name = "file",
    .keys = (const char *const[]){ "path", "append", NULL },
    .open = file_open,
    .close = file_close,
};

/* signal=: whether ^C on the terminal stops QEMU; ferry reads no input */
static bool stdio_open(Chardev *chr, const Keyval *kv, GError **errp)
{
    bool sig;

    if (!keyval_get_bool(kv, "signal", true, &sig, errp)) {
        return false;
    }
    chr->out_fd = STDOUT_FILENO;
    return true;
}

const ChardevClass chardev_stdio_class = {
    .name = "stdio",
    .keys = (const char *const[]){ "signal", NULL },
    .open = stdio_open,
};

static bool null_open(Chardev *chr, const Keyval *kv, GError **errp)
{
    return true;            /* out_fd stays -1: everything is dropped */
}

const ChardevClass chardev_null_class = {
    .name = "null",
    .keys = (const char *const[]){ NULL },
    .open = null_open,
};
