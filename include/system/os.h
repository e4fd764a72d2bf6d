/*
 * Process set-up for -daemonize and -pidfile, after QEMU's os-posix.c.
 *
 * The order main follows:
 *   log_open(cfg->logfile)        errors still reach the terminal
 *   os_daemonize_start()          the caller's shell now waits on us
 *   os_pidfile_create()           in the daemon, so it holds the daemon's pid
 *   ... build the VM, start the monitors ...
 *   os_daemonize_finish(ok)       the waiting parent exits 0 if ok, else 1
 *   main loop
 *   os_pidfile_remove()           also registered with atexit()
 */
#ifndef FERRY_SYSTEM_OS_H
#define FERRY_SYSTEM_OS_H

#include <glib.h>
#include <stdbool.h>

/*
 * Double-forks and starts a new session.  Returns in the daemon only: the
 * original process waits until the daemon calls os_daemonize_finish() (or
 * exits, which counts as failure) and then exits itself.
 */
bool os_daemonize_start(GError **errp);

/*
 * Tells the waiting parent how start-up went.  On success stdin and stdout
 * go to /dev/null and stderr to the -D file (or /dev/null), so the daemon
 * holds nothing of the terminal.  A no-op without os_daemonize_start().
 */
void os_daemonize_finish(bool ok);

/*
 * Creates @path, takes an fcntl write lock on it (held until exit, so a
 * second ferry with the same pidfile fails) and writes our pid.
 */
bool os_pidfile_create(const char *path, GError **errp);

/* Removes the pidfile if it is still ours.  Safe to call twice. */
void os_pidfile_remove(void);

/*
 * Live update: the pidfile's descriptor (its lock is an open file
 * description lock, so it travels with it), -1 if none; the successor
 * adopts it, writes its own pid and removes the file at exit.
 */
int os_pidfile_fd(void);
bool os_pidfile_adopt(int fd, const char *path, GError **errp);

#endif
