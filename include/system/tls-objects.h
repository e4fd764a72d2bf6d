/*
 * The VMM's TLS objects, QEMU's names and properties: tls-creds-x509,
 * tls-creds-psk and authz-list.  -object creates them; the migration
 * core reaches them through the VMM table's tls_creds and tls_authz hooks
 * (system/migration-vmm.c), on any thread.
 */
#ifndef FERRY_SYSTEM_TLS_OBJECTS_H
#define FERRY_SYSTEM_TLS_OBJECTS_H

#include <stdbool.h>
#include <glib.h>
#include "ferry/migration.h"
#include "util/keyval.h"

/* Is @type one of this module's object types? */
bool tls_object_type(const char *type);
/* Parses and registers one object; @opt names the option in errors. */
bool tls_object_add(const char *opt, const char *type, const char *id,
                    const Keyval *kv, GError **errp);
bool tls_object_del(const char *id, GError **errp);
/* For the hooks: see FerryMigVMM.tls_creds and tls_authz. */
bool tls_object_creds(const char *id, FerryMigTlsCreds *creds,
                      GError **errp);
bool tls_object_authz(const char *id, const char *dn, GError **errp);
void tls_objects_cleanup(void);

#endif
