/*
 * Live update of the ferry process (docs/live-update.md): a successor
 * process takes the running guest over on the same host, with guest RAM,
 * disks and monitor connections handed over by SCM_RIGHTS.
 *
 * Predecessor: live_update_start() (QMP live-update, SIGHUP, ferryctl)
 * starts the successor and runs the handoff from the main loop.
 * Successor (-x-handoff FD): main() calls live_update_successor_hello()
 * before building the machine, whose parts take what was handed over
 * with live_update_take_fd(), then live_update_successor_cutover().
 */
#ifndef FERRY_SYSTEM_LIVE_UPDATE_H
#define FERRY_SYSTEM_LIVE_UPDATE_H

#include <stdbool.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include "qapi/qapi-types-live-update.h"

/* At start: the command line and the executable a live update reruns. */
void live_update_remember(int argc, char **argv);

/* Predecessor: starts a live update with @binary (NULL: ferry's own);
 * @fault, if not NULL, is a LiveUpdateFault the successor injects. */
bool live_update_start(const char *binary, const char *fault,
                       GError **errp);
/*
 * QEMU's cpr-transfer: the same handoff with a successor the operator
 * started, listening on the unix socket @path (-incoming with a 'cpr'
 * channel), instead of one ferry starts.
 */
bool live_update_start_cpr(const char *path, GError **errp);
/* warming .. cutover */
bool live_update_in_progress(void);
LiveUpdateInfo *live_update_query(void);

/* Successor: true from -x-handoff on (the machine is taken over). */
bool live_update_is_successor(void);
/*
 * -incoming with a 'cpr' channel: listens on the unix socket @path and
 * waits for the predecessor's connection (QEMU's new process does not
 * start its monitors before either); the handoff socket, or -1.
 */
int live_update_cpr_accept(const char *path, GError **errp);
/* The guest came through a cpr channel: migrate-incoming has nothing
 * left to do. */
bool live_update_took_over_by_cpr(void);
/* Says HELLO on @fd and receives what the predecessor hands over;
 * @fault: the test fault to inject (a LiveUpdateFault name) or NULL. */
bool live_update_successor_hello(int fd, const char *fault, GError **errp);
/*
 * The descriptor handed over as @name (now the caller's), or -1; with
 * @state, its state too (a reference or NULL).  Always -1 outside a
 * successor.
 */
int live_update_take_fd(const char *name, JsonObject **state);
/* The names handed over that start with @prefix. */
GPtrArray *live_update_handed_names(const char *prefix);
/*
 * READY, then the cutover: loads the device state, adopts the monitor
 * connections, activates the disks, says ALIVE and, once the predecessor
 * let go, runs the guest as it ran there.
 */
bool live_update_successor_cutover(GError **errp);
/* The successor gives up: tells the predecessor why (ABORT). */
void live_update_successor_abort(const char *why);

#endif
