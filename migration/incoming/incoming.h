/*
 * The destination side of a migration (migration/incoming/incoming.c):
 * what query-migrate and migrate-pause need of it; starting, recovering
 * and autostart are public (ferry/migration.h).
 */
#ifndef FERRY_MIGRATION_INCOMING_H
#define FERRY_MIGRATION_INCOMING_H

#include <glib.h>
#include <stdbool.h>
#include "ferry/migration.h"
#include "migration/transport/channel.h"

/* The tcp:/unix: address last listened on (g_free), or NULL. */
char *mig_incoming_listen_address(FerryMig *m);
/* migrate-pause on the destination: postcopy-active -> postcopy-paused. */
bool mig_incoming_pause(FerryMig *m, GError **errp);
/* Joins the load thread of an incoming migration that is over. */
void mig_incoming_join(FerryMig *m);
/*
 * multifd (any thread): @chan (taken) turned out to be the main stream;
 * or a side channel failed: the migration fails with @err (taken), unless
 * postcopy is past RUN_ACK.
 */
void mig_incoming_main_channel(FerryMig *m, MigChannel *chan);
void mig_incoming_abort(FerryMig *m, GError *err);
/* Ends whatever the incoming side is doing (the context is freed). */
void mig_incoming_shutdown(FerryMig *m);

#endif
