/*
 * QEMU 8.2's migration channels ({"channel-type": "main", "addr":
 * {"transport": "socket", "type": "unix", "path": ...}}) as ferry's URIs,
 * for @migrate's channels and the JSON form of -incoming.
 */
#ifndef FERRY_MONITOR_MIGRATION_CHANNEL_H
#define FERRY_MONITOR_MIGRATION_CHANNEL_H

#include <glib.h>
#include "qapi/qapi-types-migration.h"

/* "unix:PATH", "tcp:HOST:PORT", "exec:CMD", "file:PATH,offset=N". */
char *migration_channel_uri(const MigrationChannelAddress *a, GError **errp);
/* The unix socket path of a cpr channel (the only transport it takes). */
const char *migration_channel_cpr_path(const MigrationChannel *ch,
                                       GError **errp);
/*
 * Splits @channels into the main channel's URI and, if there is one, the
 * cpr channel's path (each at most once; a main channel is required).
 */
bool migration_channels_split(const MigrationChannelList *channels,
                              char **main_uri, const char **cpr_path,
                              GError **errp);

#endif
