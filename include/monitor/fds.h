/*
 * File descriptors clients passed with `getfd`, by name.  QEMU keeps them
 * per monitor; ferry keeps one table for the process, because what uses
 * them (an "fd:NAME" migration) is process-wide too.  Main thread only.
 */
#ifndef FERRY_MONITOR_FDS_H
#define FERRY_MONITOR_FDS_H

#include <glib.h>
#include <stdbool.h>

/* Removes @name from the table and returns its fd (the caller owns it). */
int monitor_fd_take(const char *name, GError **errp);
void monitor_fds_clear(void);

#endif
