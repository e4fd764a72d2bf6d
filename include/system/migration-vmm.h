#ifndef FERRY_SYSTEM_MIGRATION_VMM_H
#define FERRY_SYSTEM_MIGRATION_VMM_H

/* Connects the migration core to this VMM (system/migration-vmm.c). */
void ferry_migration_vmm_install(void);

#endif
