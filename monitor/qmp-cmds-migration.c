/*
 * The migration commands of QMP: thin glue from the generated marshallers
 * to the migration core's public API (ferry/migration.h), for this
 * machine's context.
 */
#include "ferry/migration.h"
#include "monitor/migration-channel.h"
#include "qapi/qapi-commands.h"
#include "system/live-update.h"
#include "system/machine.h"
#include "system/migration-vmm.h"
#include "util/error.h"

/*
 * mode cpr-transfer (QEMU 10): the new process listens on the cpr
 * channel; ferry hands the guest over to it as in a live update, device
 * state included, so the main channel carries nothing.
 */
static void cpr_transfer(const char *cpr_path, GError **errp)
{
    if (!cpr_path) {
        error_setg(errp, "mode cpr-transfer needs a 'cpr' channel");
        return;
    }
    live_update_start_cpr(cpr_path, errp);
}

void qmp_migrate(const char *uri, MigrationChannelList *channels,
                 bool has_detach, bool detach, bool has_resume, bool resume,
                 GError **errp)
{
    g_autoptr(MigrationParameters) p = ferry_mig_parameters(
        machine_migration());
    g_autofree char *main_uri = NULL;
    const char *cpr_path = NULL;

    if (!!uri == !!channels) {
        error_setg(errp, "give either 'uri' or 'channels'");
        return;
    }
    if (channels &&
        !migration_channels_split(channels, &main_uri, &cpr_path, errp)) {
        return;
    }
    uri = uri ? uri : main_uri;
    if (p->mode == MIG_MODE_CPR_TRANSFER) {
        cpr_transfer(cpr_path, errp);
    } else if (cpr_path) {
        error_setg(errp, "a 'cpr' channel needs mode cpr-transfer");
    } else if (has_resume && resume) {
        ferry_mig_resume(machine_migration(), uri, errp);
    } else {
        ferry_mig_start(machine_migration(), uri, errp);
    }
}

void qmp_migrate_incoming(const char *uri, bool has_exit_on_error,
                          bool exit_on_error, GError **errp)
{
    if (live_update_took_over_by_cpr()) {
        return;     /* QEMU's cpr-transfer step: the guest is here already */
    }
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
