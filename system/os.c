/*
 * -daemonize and -pidfile: see include/system/os.h.
 *
 * Both run in the main thread at start-up, before any other thread exists
 * (fork() keeps only the calling thread), so the statics take no lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "system/os.h"
#include "util/error.h"
#include "util/log.h"

#define PIDFILE_ATTEMPTS 10

static int daemon_pipe = -1;        /* write end, in the daemon */

static char *pidfile_path;          /* absolute: the cwd may change */
static int pidfile_fd = -1;         /* held open: it holds the lock */
static pid_t pidfile_owner;         /* forked children must not remove it */

/* The original process: exit with the daemon's start-up verdict. */
static G_NORETURN void wait_for_daemon(int fd, pid_t middle)
{
    unsigned char status = 1;
    ssize_t n;

    waitpid(middle, NULL, 0);   /* it exits at once; don't leave a zombie */
    do {
        n = read(fd, &status, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) {
        /* The daemon died before reporting; it printed why, if it could */
        fprintf(stderr, "ferry: -daemonize: start-up failed\n");
        _exit(1);
    }
    /* _exit: the daemon owns everything atexit() would clean up */
    _exit(status == 0 ? 0 : 1);
}

bool os_daemonize_start(GError **errp)
{
    int fds[2];
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) < 0) {
        error_setg_errno(errp, errno, "-daemonize: pipe");
        return false;
    }
    pid = fork();
    if (pid < 0) {
        error_setg_errno(errp, errno, "-daemonize: fork");
        close(fds[0]);
        close(fds[1]);
        return false;
    }
    if (pid > 0) {
        close(fds[1]);
        wait_for_daemon(fds[0], pid);
    }
    close(fds[0]);
    daemon_pipe = fds[1];

    if (setsid() < 0) {
        error_setg_errno(errp, errno, "-daemonize: setsid");
        return false;
    }
    /* A second fork: no longer a session leader, so no terminal can
     * become ours by accident. */
    pid = fork();
    if (pid < 0) {
        error_setg_errno(errp, errno, "-daemonize: fork");
        return false;
    }
    if (pid > 0) {
        _exit(0);
    }
    umask(027);     /* as QEMU's os_daemonize */
    return true;
}

/* Leaves the terminal: it may be gone long before the daemon is. */
static void detach_stdio(void)
{
    int null = open("/dev/null", O_RDWR);
    int log = log_fileno();

    if (null < 0) {
        return;
    }
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    /* Stray stderr output is worth keeping when there is a -D file */
    dup2(log >= 0 ? log : null, STDERR_FILENO);
    if (null > STDERR_FILENO) {
        close(null);
    }
}

void os_daemonize_finish(bool ok)
{
    unsigned char status = ok ? 0 : 1;
    ssize_t n;

    if (daemon_pipe < 0) {
        return;
    }
    if (ok) {
        detach_stdio();
    }
    do {
        n = write(daemon_pipe, &status, 1);
    } while (n < 0 && errno == EINTR);
    close(daemon_pipe);
    daemon_pipe = -1;
}

/*
 * Locks an open pidfile.  Returns 1 when locked and still the file at
 * @path, 0 when another process removed it meanwhile (try again), -1 on
 * error.
 */
static int lock_pidfile(int fd, const char *path, GError **errp)
{
    struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    struct stat locked, current;

    /* An open file description lock: it travels with the descriptor to a
     * live update's successor, and a fork never holds it twice. */
    if (fcntl(fd, F_OFD_SETLK, &lk) < 0) {
        if (errno == EAGAIN || errno == EACCES) {
            error_setg(errp, "-pidfile: '%s' is locked by another process "
                       "(is another ferry running?)", path);
        } else {
            error_setg_errno(errp, errno, "-pidfile: cannot lock '%s'", path);
        }
        return -1;
    }
    if (fstat(fd, &locked) < 0 || stat(path, &current) < 0) {
        return 0;
    }
    return locked.st_dev == current.st_dev && locked.st_ino == current.st_ino;
}

static bool write_pid(int fd, const char *path, GError **errp)
{
    g_autofree char *text = g_strdup_printf("%d\n", (int)getpid());
    size_t len = strlen(text);

    if (ftruncate(fd, 0) < 0 || pwrite(fd, text, len, 0) != (ssize_t)len) {
        error_setg_errno(errp, errno, "-pidfile: cannot write '%s'", path);
        return false;
    }
    return true;
}

static bool pidfile_open_locked(const char *path, GError **errp)
{
    for (int i = 0; i < PIDFILE_ATTEMPTS; i++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        int locked;

        if (fd < 0) {
            error_setg_errno(errp, errno, "-pidfile: cannot open '%s'", path);
            return false;
        }
        locked = lock_pidfile(fd, path, errp);
        if (locked > 0) {
            pidfile_fd = fd;
            return true;
        }
        close(fd);
        if (locked < 0) {
            return false;
        }
    }
    error_setg(errp, "-pidfile: '%s' keeps being replaced", path);
    return false;
}

bool os_pidfile_create(const char *path, GError **errp)
{
    static bool atexit_done;
    g_autofree char *abs = g_canonicalize_filename(path, NULL);

    if (pidfile_fd >= 0) {
        error_setg(errp, "-pidfile: a pidfile is already open");
        return false;
    }
    if (!pidfile_open_locked(abs, errp)) {
        return false;
    }
    if (!write_pid(pidfile_fd, abs, errp)) {
        unlink(abs);
        close(pidfile_fd);
        pidfile_fd = -1;
        return false;
    }
    pidfile_path = g_steal_pointer(&abs);
    pidfile_owner = getpid();
    if (!atexit_done) {
        atexit(os_pidfile_remove);
        atexit_done = true;
    }
    return true;
}

void os_pidfile_remove(void)
{
    struct stat ours, current;

    if (pidfile_fd < 0 || getpid() != pidfile_owner) {
        return;
    }
    /* Unlink only our own file, not one a successor created at the path */
    if (fstat(pidfile_fd, &ours) == 0 && stat(pidfile_path, &current) == 0 &&
        ours.st_dev == current.st_dev && ours.st_ino == current.st_ino) {
        unlink(pidfile_path);
    }
    close(pidfile_fd);
    pidfile_fd = -1;
    g_clear_pointer(&pidfile_path, g_free);
}

int os_pidfile_fd(void)
{
    return pidfile_fd;
}

bool os_pidfile_adopt(int fd, const char *path, GError **errp)
{
    g_autofree char *abs = g_canonicalize_filename(path, NULL);

    if (pidfile_fd >= 0) {
        close(fd);
        error_setg(errp, "-pidfile: a pidfile is already open");
        return false;
    }
    if (!write_pid(fd, abs, errp)) {
        close(fd);
        return false;
    }
    pidfile_fd = fd;
    pidfile_path = g_steal_pointer(&abs);
    pidfile_owner = getpid();
    atexit(os_pidfile_remove);
    return true;
}
