/*
 * TLS for a migration's channels: the tls-creds, tls-hostname and
 * tls-authz parameters, resolved through the VMM's tls_creds and
 * tls_authz hooks when a migration (or its recovery) starts, and applied
 * to every channel it opens or accepts afterwards: the main stream with
 * its return path, the postcopy-preempt channel and the recovery stream.
 */
#ifndef FERRY_MIGRATION_TLS_H
#define FERRY_MIGRATION_TLS_H

#include <stdbool.h>
#include <glib.h>
#include "ferry/migration.h"
#include "migration/transport/channel.h"

typedef struct MigTls MigTls;

MigTls *mig_tls_new(void);
void mig_tls_free(MigTls *tls);

/*
 * Resolves the parameters for a migration to (@outgoing) or from @uri:
 * loads the credentials tls-creds names, or forgets them when it is "".
 * Refuses a missing object, an endpoint of the wrong side, and an x509
 * source without a host name to check.  Main context.
 */
bool mig_tls_prepare(FerryMig *m, const char *uri, bool outgoing,
                     GError **errp);
/*
 * Puts TLS over @chan when the migration uses it.  An outgoing channel
 * does its handshake here, so a refusal fails the connect with the reason;
 * an incoming one shakes hands on its first read, in the thread that
 * reads it.
 */
bool mig_tls_wrap(FerryMig *m, MigChannel *chan, GError **errp);

#endif
