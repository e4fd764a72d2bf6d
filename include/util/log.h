/*
 * The log (-D FILE): timestamped lines, one write per line so lines from
 * different threads never interleave.  Without -D the lines go to stderr.
 * log_open() also routes GLib's g_warning/g_message/g_debug here, so a
 * daemonized ferry keeps its warnings.
 */
#ifndef FERRY_UTIL_LOG_H
#define FERRY_UTIL_LOG_H

#include <glib.h>
#include <stdbool.h>

/*
 * Sends the log to @path (appending; created 0644), or to stderr when @path
 * is NULL, and installs the GLib log writer.  Call it early in main, before
 * any thread starts; calling it again switches the file.
 */
bool log_open(const char *path, GError **errp);

/* Writes "2025-06-01T12:00:00.123456Z 1234/thread: MESSAGE\n". Any thread. */
void ferry_log(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* The -D file's descriptor, or -1 when the log goes to stderr. */
int log_fileno(void);

/* Closes the -D file; later lines go to stderr. */
void log_close(void);

#endif
