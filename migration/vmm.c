/* The VMM the migration core works for (see include/migration/vmm.h). */
#include "migration/vmm.h"

static const MigrationVMM *current_vmm;

void migration_set_vmm(const MigrationVMM *vmm)
{
    current_vmm = vmm;
}

const MigrationVMM *migration_vmm(void)
{
    g_assert(current_vmm);      /* set at start-up, before any migration */
    return current_vmm;
}
