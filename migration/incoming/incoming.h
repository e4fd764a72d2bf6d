/* The destination side of a migration (see migration/incoming.c). */
#ifndef FERRY_MIGRATION_INCOMING_H
#define FERRY_MIGRATION_INCOMING_H

#include <glib.h>
#include <stdbool.h>

/*
 * Listens on @uri and loads the first stream that arrives.  Allowed once,
 * while the VM waits in run state inmigrate.  With @exit_on_error a failed
 * load ends the process with status 1, as QEMU does.
 */
bool migration_incoming_start(const char *uri, bool exit_on_error,
                              GError **errp);
/* Whether the guest starts once loaded (false with -S). */
void migration_incoming_set_autostart(bool autostart);
/* The tcp:/unix: address last listened on (g_free), or NULL. */
char *migration_incoming_listen_address(void);
/* migrate-recover: a paused postcopy listens on @uri for the source. */
bool migration_incoming_recover(const char *uri, GError **errp);
/* migrate-pause on the destination: postcopy-active -> postcopy-paused. */
bool migration_incoming_pause(GError **errp);
/*
 * `cont` before the incoming guest may run: it runs as soon as the
 * migration allows (QEMU's autostart).  False (@errp) if no incoming
 * migration runs: not started yet, or failed.  Main thread.
 */
bool migration_incoming_defer_start(GError **errp);

#endif
