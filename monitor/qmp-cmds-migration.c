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

MigrationCapabilityStatusList *qmp_query_migrate_capabilities(GError **errp)
{
    MigrationCapabilityStatusList *head = NULL;

    for (int cap = MIGRATION_CAPABILITY__MAX - 1; cap >= 0; cap--) {
        MigrationCapabilityStatusList *l = g_new0(MigrationCapabilityStatusList, 1);
        l->value = g_new0(MigrationCapabilityStatus, 1);
        l->value->capability = (MigrationCapability)cap;
        l->value->state = ferry_mig_capability(machine_migration(), cap);
        l->next = head;
        head = l;
    }
    return head;
}

void qmp_migrate_set_parameters(
    bool has_max_bandwidth, uint64_t max_bandwidth, bool has_downtime_limit,
    uint64_t downtime_limit, bool has_cpu_throttle_initial,
    uint8_t cpu_throttle_initial, bool has_cpu_throttle_increment,
    uint8_t cpu_throttle_increment, bool has_cpu_throttle_tailslow,
    bool cpu_throttle_tailslow, bool has_max_cpu_throttle,
    uint8_t max_cpu_throttle, bool has_throttle_trigger_threshold,
    uint8_t throttle_trigger_threshold, const char *tls_creds,
    const char *tls_hostname, const char *tls_authz,
    bool has_max_postcopy_bandwidth, uint64_t max_postcopy_bandwidth,
    bool has_postcopy_setup_timeout, uint64_t postcopy_setup_timeout,
    bool has_postcopy_keepalive_timeout, uint64_t postcopy_keepalive_timeout,
    bool has_announce_initial, uint64_t announce_initial,
    bool has_announce_max, uint64_t announce_max, bool has_announce_rounds,
    uint64_t announce_rounds, bool has_announce_step, uint64_t announce_step,
    bool has_compress_level, uint8_t compress_level,
    bool has_compress_threads, uint8_t compress_threads,
    bool has_compress_wait_thread, bool compress_wait_thread,
    bool has_decompress_threads, uint8_t decompress_threads,
    bool has_block_incremental, bool block_incremental,
    bool has_multifd_channels, uint8_t multifd_channels,
    bool has_multifd_compression, MultiFDCompression multifd_compression,
    bool has_multifd_zlib_level, uint8_t multifd_zlib_level,
    bool has_multifd_zstd_level, uint8_t multifd_zstd_level,
    bool has_x_checkpoint_delay, uint32_t x_checkpoint_delay,
    bool has_xbzrle_cache_size, uint64_t xbzrle_cache_size, GError **errp)
{
    q_obj_migrate_set_parameters_arg a = {
        has_max_bandwidth, max_bandwidth, has_downtime_limit, downtime_limit,
        has_cpu_throttle_initial, cpu_throttle_initial,
        has_cpu_throttle_increment, cpu_throttle_increment,
        has_cpu_throttle_tailslow, cpu_throttle_tailslow,
        has_max_cpu_throttle, max_cpu_throttle,
        has_throttle_trigger_threshold, throttle_trigger_threshold,
        (char *)tls_creds, (char *)tls_hostname, (char *)tls_authz,
        has_max_postcopy_bandwidth, max_postcopy_bandwidth,
        has_postcopy_setup_timeout, postcopy_setup_timeout,
        has_postcopy_keepalive_timeout, postcopy_keepalive_timeout,
        has_announce_initial, announce_initial, has_announce_max,
        announce_max, has_announce_rounds, announce_rounds,
        has_announce_step, announce_step, has_compress_level, compress_level,
        has_compress_threads, compress_threads, has_compress_wait_thread,
        compress_wait_thread, has_decompress_threads, decompress_threads,
        has_block_incremental, block_incremental, has_multifd_channels,
        multifd_channels, has_multifd_compression, multifd_compression,
        has_multifd_zlib_level, multifd_zlib_level, has_multifd_zstd_level,
        multifd_zstd_level, has_x_checkpoint_delay, x_checkpoint_delay,
        has_xbzrle_cache_size, xbzrle_cache_size,
    };

    ferry_mig_set_parameters(machine_migration(), &a, errp);
}

MigrationParameters *qmp_query_migrate_parameters(GError **errp)
{
    return ferry_mig_parameters(machine_migration());
}
