/*
 * The migration commands of QMP: thin glue from the generated marshallers
 * to the migration core's public API (ferry/migration.h), for this
 * machine's context.
 */
#include "ferry/migration.h"
#include "qapi/qapi-commands.h"
#include "system/machine.h"
#include "system/migration-vmm.h"

void qmp_migrate(const char *uri, bool has_detach, bool detach,
                 bool has_resume, bool resume, GError **errp)
{
    if (has_resume && resume) {
        ferry_mig_resume(machine_migration(), uri, errp);
        return;
    }
    ferry_mig_start(machine_migration(), uri, errp);
}

void qmp_migrate_incoming(const char *uri, bool has_exit_on_error,
                          bool exit_on_error, GError **errp)
{
    ferry_mig_incoming(machine_migration(), uri,
                       has_exit_on_error ? exit_on_error : true,
                       !current_config->start_paused, errp);
}

void qmp_migrate_cancel(GError **errp)
{
    ferry_mig_cancel(machine_migration(), errp);
}

void qmp_migrate_continue(MigrationStatus state, GError **errp)
{
    ferry_mig_continue(machine_migration(), state, errp);
}

void qmp_migrate_recover(const char *uri, GError **errp)
{
    ferry_mig_recover(machine_migration(), uri, errp);
}

void qmp_migrate_pause(GError **errp)
{
    ferry_mig_pause(machine_migration(), errp);
}

void qmp_migrate_start_postcopy(GError **errp)
{
    ferry_mig_start_postcopy(machine_migration(), errp);
}

MigrationInfo *qmp_query_migrate(GError **errp)
{
    return ferry_mig_query(machine_migration());
}

void qmp_migrate_set_capabilities(MigrationCapabilityStatusList *caps,
                                  GError **errp)
{
    ferry_mig_set_capabilities(machine_migration(), caps, errp);
}

/*
 * Only the capabilities the core can enable: a client (libvirt) takes a
 * listed capability as supported and refuses a flag whose capability is
 * missing (virsh migrate --compressed, --parallel, --zerocopy) before it
 * starts anything, instead of failing half-way at migrate-set-capabilities.
 */
MigrationCapabilityStatusList *qmp_query_migrate_capabilities(GError **errp)
{
    MigrationCapabilityStatusList *head = NULL;

    for (int cap = MIGRATION_CAPABILITY__MAX - 1; cap >= 0; cap--) {
        MigrationCapabilityStatusList *l;

        if (!ferry_mig_capability_supported(cap)) {
            continue;
        }
        l = g_new0(MigrationCapabilityStatusList, 1);
        l->value = g_new0(MigrationCapabilityStatus, 1);
        l->value->capability = (MigrationCapability)cap;
        l->value->state = ferry_mig_capability(machine_migration(), cap);
        l->next = head;
        head = l;
    }
    return head;
}

void qmp_migrate_set_parameters(MigrationParameters *params, GError **errp)
{
    ferry_mig_set_parameters(machine_migration(), params, errp);
}

MigrationParameters *qmp_query_migrate_parameters(GError **errp)
{
    return ferry_mig_parameters(machine_migration());
}
