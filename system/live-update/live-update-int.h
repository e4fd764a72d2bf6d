/*
 * Inside the live update: the status both sides report (live-update.c),
 * the predecessor (predecessor.c) and the successor (successor.c).
 */
#ifndef FERRY_LIVE_UPDATE_INT_H
#define FERRY_LIVE_UPDATE_INT_H

#include "system/live-update.h"

/* How long each side waits for the other at each step. */
#define LIVE_UPDATE_HELLO_TIMEOUT_MS    30000   /* successor started */
#define LIVE_UPDATE_WARMING_TIMEOUT_MS  120000  /* until READY */
#define LIVE_UPDATE_ALIVE_TIMEOUT_MS    10000   /* CUTOVER -> ALIVE */

/* Moves to @status (with @error for failed) and emits LIVE_UPDATE. */
void live_update_set_status(LiveUpdateStatus status, const char *error);
LiveUpdateStatus live_update_status(void);
void live_update_set_downtime(gint64 us);

/* The command line to start a successor with: @binary, the original
 * arguments, -x-handoff fd=@fd[,fault=@fault].  NULL-terminated. */
char **live_update_successor_argv(const char *binary, int fd,
                                  const char *fault);
/* The executable resolved at start. */
const char *live_update_default_binary(void);

#endif
