/*
 * The machine's migration context (system/migration-vmm.c): ferry embeds
 * the migration core through its public API like any other VMM.
 */
#ifndef FERRY_SYSTEM_MIGRATION_VMM_H
#define FERRY_SYSTEM_MIGRATION_VMM_H

#include <glib.h>
#include "ferry/migration.h"

/* Creates the context (once; machine init). */
bool machine_migration_init(GError **errp);
/* The context; only after machine_migration_init(). */
FerryMig *machine_migration(void);
/* Cancels, joins and frees it (exit). */
void machine_migration_cleanup(void);

#endif
