/*
 * Migration capabilities and parameters of a context: defaults (set when
 * the context is created), validation, and changes.  Names and limits
 * follow QEMU, so libvirt can save the parameters it reads and set them
 * back.
 */
#include <string.h>
#include "migration/context.h"
#include "migration/outgoing/outgoing-int.h"
#include "migration/multifd/wire.h"
#include "migration/transport/channel.h"
#include "migration/ram/userfaultfd.h"
#include "migration/state.h"
#include "util/error.h"

#define MAX_DOWNTIME_MS  2000000ULL     /* QEMU's MAX_MIGRATE_DOWNTIME */

/* Capabilities ferry implements; enabling any other is refused. */
static const MigrationCapability supported_caps[] = {
    MIGRATION_CAPABILITY_EVENTS,
    MIGRATION_CAPABILITY_RETURN_PATH,
    MIGRATION_CAPABILITY_PAUSE_BEFORE_SWITCHOVER,
    MIGRATION_CAPABILITY_AUTO_CONVERGE,
    /* With -S the destination activates its disks at `cont`. */
    MIGRATION_CAPABILITY_LATE_BLOCK_ACTIVATE,
    MIGRATION_CAPABILITY_SWITCHOVER_ACK,
    MIGRATION_CAPABILITY_EARLY_BLOCK_ATTACH,
    MIGRATION_CAPABILITY_POSTCOPY_RAM,
    MIGRATION_CAPABILITY_POSTCOPY_PREEMPT,
    MIGRATION_CAPABILITY_POSTCOPY_BLOCKTIME,
    MIGRATION_CAPABILITY_MULTIFD,
    MIGRATION_CAPABILITY_X_POSTCOPY_MINOR_FAULTS,
    MIGRATION_CAPABILITY_ZERO_COPY_SEND,
};

#define POSTCOPY_SETUP_TIMEOUT_MS     10000
#define POSTCOPY_KEEPALIVE_TIMEOUT_MS 5000
#define POSTCOPY_SETUP_TIMEOUT_MIN_MS 100
#define POSTCOPY_SETUP_TIMEOUT_MAX_MS 600000

/* The stored parameters have every member: query-migrate-parameters. */
#define DEFAULT(field, value) .has_##field = true, .field = (value)

static void params_set_defaults(MigrationParameters *p)
{
    g_free(p->tls_creds);
    g_free(p->tls_hostname);
    g_free(p->tls_authz);
    *p = (MigrationParameters){
        DEFAULT(max_bandwidth, 0),
        DEFAULT(downtime_limit, 300),
        DEFAULT(cpu_throttle_initial, 20),
        DEFAULT(cpu_throttle_increment, 10),
        DEFAULT(cpu_throttle_tailslow, false),
        DEFAULT(max_cpu_throttle, 99),
        DEFAULT(throttle_trigger_threshold, 50),
        .tls_creds = g_strdup(""),
        .tls_hostname = g_strdup(""),
        .tls_authz = g_strdup(""),
        DEFAULT(max_postcopy_bandwidth, 0),
        DEFAULT(postcopy_setup_timeout, POSTCOPY_SETUP_TIMEOUT_MS),
        DEFAULT(postcopy_keepalive_timeout, POSTCOPY_KEEPALIVE_TIMEOUT_MS),
        DEFAULT(announce_initial, 50),
        DEFAULT(announce_max, 550),
        DEFAULT(announce_rounds, 5),
        DEFAULT(announce_step, 100),
        DEFAULT(compress_level, 1),
        DEFAULT(compress_threads, 8),
        DEFAULT(compress_wait_thread, true),
        DEFAULT(decompress_threads, 2),
        DEFAULT(block_incremental, false),
        DEFAULT(multifd_channels, 2),
        DEFAULT(multifd_compression, MULTI_FD_COMPRESSION_NONE),
        DEFAULT(multifd_zlib_level, 1),
        DEFAULT(multifd_zstd_level, 1),
        DEFAULT(x_checkpoint_delay, 20000),
        DEFAULT(xbzrle_cache_size, 64 << 20),
        DEFAULT(mode, MIG_MODE_NORMAL),
    };
}

void mig_options_init(FerryMig *m)
{
    memset(m->capabilities, 0, sizeof(m->capabilities));
    /* ferry's own capability, on unless turned off (incoming/block-dst.c) */
    m->capabilities[MIGRATION_CAPABILITY_EARLY_BLOCK_ATTACH] = true;
    /* ferry's own too (incoming/postcopy-minor.c) */
    m->capabilities[MIGRATION_CAPABILITY_X_POSTCOPY_MINOR_FAULTS] = true;
    params_set_defaults(&m->params);
}

void mig_options_clear(FerryMig *m)
{
    g_free(m->params.tls_creds);
    g_free(m->params.tls_hostname);
    g_free(m->params.tls_authz);
}

bool ferry_mig_capability_supported(MigrationCapability cap)
{
    for (gsize i = 0; i < G_N_ELEMENTS(supported_caps); i++) {
        if (supported_caps[i] == cap) {
            return true;
        }
    }
    return false;
}

static bool refuse_while_running(FerryMig *m, const char *what,
                                 GError **errp)
{
    if (migration_is_running(migration_status(m))) {
        error_setg(errp, "There's a migration process in progress: %s "
                   "cannot change now", what);
        return true;
    }
    return false;
}

/*
 * QEMU's rules for zero-copy-send: the pages must go from guest RAM to
 * the socket as they are, so neither compression nor TLS (both write
 * from a buffer of their own), and only multifd's threads send that way.
 */
static bool check_zero_copy(const bool *caps, MultiFDCompression compression,
                            const char *tls_creds, GError **errp)
{
    if (!caps[MIGRATION_CAPABILITY_ZERO_COPY_SEND]) {
        return true;
    }
    if (!caps[MIGRATION_CAPABILITY_MULTIFD]) {
        error_setg(errp, "Zero copy only available for multifd migration: "
                   "capability 'zero-copy-send' requires capability "
                   "'multifd'");
        return false;
    }
    if (compression != MULTI_FD_COMPRESSION_NONE) {
        error_setg(errp, "Zero copy only available for non-compressed "
                   "multifd migration: multifd-compression is '%s'",
                   MultiFDCompression_str(compression));
        return false;
    }
    if (tls_creds && *tls_creds) {
        error_setg(errp, "Zero copy only available for non-TLS multifd "
                   "migration: tls-creds is '%s'", tls_creds);
        return false;
    }
    return true;
}

/* check_zero_copy() with the parameters set now, or as @a would set
 * them (NULL: none). */
static bool check_zero_copy_params(FerryMig *m, const bool *caps,
                                   const MigrationParameters *a,
                                   GError **errp)
{
    g_mutex_lock(&m->params_lock);
    MultiFDCompression compression = a && a->has_multifd_compression ?
        a->multifd_compression : m->params.multifd_compression;
    g_autofree char *tls_creds = g_strdup(a && a->tls_creds ? a->tls_creds :
                                          m->params.tls_creds);
    g_mutex_unlock(&m->params_lock);

    return check_zero_copy(caps, compression, tls_creds, errp);
}

bool mig_zero_copy_check_start(FerryMig *m, const char *uri, GError **errp)
{
    if (!migrate_capability(m, MIGRATION_CAPABILITY_ZERO_COPY_SEND)) {
        return true;
    }
    if (!check_zero_copy_params(m, m->capabilities, NULL, errp)) {
        return false;
    }
    if (!g_str_has_prefix(uri, "tcp:")) {
        error_setg(errp, "Zero copy only available over tcp: (MSG_ZEROCOPY "
                   "is a TCP feature), not '%s'", uri);
        return false;
    }
    return true;
}

/* QEMU's rules: what a capability needs from the others and the host. */
static bool check_cap_dependencies(FerryMig *m, const bool *want,
                                   GError **errp)
{
    if (!check_zero_copy_params(m, want, NULL, errp)) {
        return false;
    }
    if (want[MIGRATION_CAPABILITY_ZERO_COPY_SEND] &&
        !m->capabilities[MIGRATION_CAPABILITY_ZERO_COPY_SEND] &&
        !mig_zerocopy_supported(errp)) {
        return false;
    }
    if (want[MIGRATION_CAPABILITY_SWITCHOVER_ACK] &&
        !want[MIGRATION_CAPABILITY_RETURN_PATH]) {
        error_setg(errp, "Capability 'switchover-ack' requires capability "
                   "'return-path'");
        return false;
    }
    if (want[MIGRATION_CAPABILITY_AUTO_CONVERGE] && !m->vmm.vm_throttle) {
        error_setg(errp, "Capability 'auto-converge' needs a VMM that can "
                   "throttle its vCPUs");
        return false;
    }
    if (want[MIGRATION_CAPABILITY_POSTCOPY_PREEMPT] &&
        !want[MIGRATION_CAPABILITY_POSTCOPY_RAM]) {
        error_setg(errp, "Postcopy preempt requires postcopy-ram");
        return false;
    }
    /* A destination must be able to catch faults on missing pages. */
    if (want[MIGRATION_CAPABILITY_POSTCOPY_RAM] &&
        !m->capabilities[MIGRATION_CAPABILITY_POSTCOPY_RAM] &&
        m->vmm.incoming_allowed(m->opaque, NULL)) {
        g_autoptr(GError) err = NULL;
        if (!uffd_supported(&err)) {
            error_setg(errp, "Postcopy is not supported: %s", err->message);
            return false;
        }
    }
    return true;
}

bool ferry_mig_set_capabilities(FerryMig *m,
                                MigrationCapabilityStatusList *caps,
                                GError **errp)
{
    if (refuse_while_running(m, "capabilities", errp)) {
        return false;
    }
    /* Check the whole list first: it applies entirely or not at all. */
    for (MigrationCapabilityStatusList *l = caps; l; l = l->next) {
        if (l->value->state &&
            !ferry_mig_capability_supported(l->value->capability)) {
            error_setg(errp, "Migration capability '%s' is not supported by "
                       "ferry", MigrationCapability_str(l->value->capability));
            return false;
        }
    }
    bool want[MIGRATION_CAPABILITY__MAX];
    memcpy(want, m->capabilities, sizeof(want));
    for (MigrationCapabilityStatusList *l = caps; l; l = l->next) {
        want[l->value->capability] = l->value->state;
    }
    if (!check_cap_dependencies(m, want, errp)) {
        return false;
    }
    memcpy(m->capabilities, want, sizeof(want));
    return true;
}

bool ferry_mig_capability(FerryMig *m, MigrationCapability cap)
{
    return m->capabilities[cap];
}

static bool check_percent(const char *name, bool has, unsigned v,
                          unsigned max, GError **errp)
{
    if (has && (v < 1 || v > max)) {
        error_setg(errp, "Parameter '%s' expects an integer in the range "
                   "of 1 to %u", name, max);
        return false;
    }
    return true;
}

static bool check_timeout(const char *name, bool has, uint64_t v,
                          GError **errp)
{
    if (has && (v < POSTCOPY_SETUP_TIMEOUT_MIN_MS ||
                v > POSTCOPY_SETUP_TIMEOUT_MAX_MS)) {
        error_setg(errp, "Parameter '%s' expects an integer in the range of "
                   "%d to %d milliseconds", name, POSTCOPY_SETUP_TIMEOUT_MIN_MS,
                   POSTCOPY_SETUP_TIMEOUT_MAX_MS);
        return false;
    }
    return true;
}

static bool check_params(const MigrationParameters *a, GError **errp)
{
    if (a->has_downtime_limit && a->downtime_limit > MAX_DOWNTIME_MS) {
        error_setg(errp, "Parameter 'downtime-limit' expects an integer in "
                   "the range of 0 to %llu milliseconds", MAX_DOWNTIME_MS);
        return false;
    }
    if (!check_timeout("postcopy-setup-timeout",
                       a->has_postcopy_setup_timeout,
                       a->postcopy_setup_timeout, errp) ||
        !check_timeout("postcopy-keepalive-timeout",
                       a->has_postcopy_keepalive_timeout,
                       a->postcopy_keepalive_timeout, errp)) {
        return false;
    }
    if (a->has_multifd_zlib_level && a->multifd_zlib_level > 9) {
        error_setg(errp, "Parameter 'multifd-zlib-level' expects a value "
                   "between 0 and 9");
        return false;
    }
    if (a->has_multifd_zstd_level && a->multifd_zstd_level > 20) {
        error_setg(errp, "Parameter 'multifd-zstd-level' expects a value "
                   "between 0 and 20");
        return false;
    }
    /* the schema's uint8 already refuses more than 255 */
    if (a->has_multifd_channels && a->multifd_channels < 1) {
        error_setg(errp, "Parameter 'multifd-channels' expects a value "
                   "between 1 and %d", MULTIFD_MAX_CHANNELS);
        return false;
    }
    if (a->has_max_bandwidth && a->max_bandwidth > INT64_MAX) {
        error_setg(errp, "Parameter 'max-bandwidth' expects a size up to "
                   "%lld bytes/second", (long long)INT64_MAX);
        return false;
    }
    return check_percent("cpu-throttle-initial", a->has_cpu_throttle_initial,
                         a->cpu_throttle_initial, 99, errp) &&
           check_percent("cpu-throttle-increment",
                         a->has_cpu_throttle_increment,
                         a->cpu_throttle_increment, 99, errp) &&
           check_percent("max-cpu-throttle", a->has_max_cpu_throttle,
                         a->max_cpu_throttle, 99, errp) &&
           check_percent("throttle-trigger-threshold",
                         a->has_throttle_trigger_threshold,
                         a->throttle_trigger_threshold, 100, errp);
}

/*
 * Parameters of features ferry lacks (compression, multifd, xbzrle, COLO,
 * announcements): reported with QEMU's defaults so libvirt can save and
 * restore them, and refused when asked for anything else.
 */
#define INERT(a, field, name)                                           \
    do {                                                                \
        if ((a)->has_##field && (a)->field != defaults.field) {         \
            error_setg(errp, "Parameter '" name "': ferry supports only " \
                       "the default value (%s)", why);                  \
            return false;                                               \
        }                                                               \
    } while (0)

static bool check_inert(const MigrationParameters *a, GError **errp)
{
    MigrationParameters defaults = { 0 };
    const char *why;

    params_set_defaults(&defaults);
    g_autofree char *c = defaults.tls_creds, *h = defaults.tls_hostname,
                    *z = defaults.tls_authz;
    why = "ferry has no network device to announce";
    INERT(a, announce_initial, "announce-initial");
    INERT(a, announce_max, "announce-max");
    INERT(a, announce_rounds, "announce-rounds");
    INERT(a, announce_step, "announce-step");
    why = "the compress capability is not supported; multifd-compression is";
    INERT(a, compress_level, "compress-level");
    INERT(a, compress_threads, "compress-threads");
    INERT(a, compress_wait_thread, "compress-wait-thread");
    INERT(a, decompress_threads, "decompress-threads");
    why = "block migration is not supported";
    INERT(a, block_incremental, "block-incremental");
    why = "COLO is not supported";
    INERT(a, x_checkpoint_delay, "x-checkpoint-delay");
    why = "xbzrle is not supported";
    INERT(a, xbzrle_cache_size, "xbzrle-cache-size");
    if (a->has_mode && a->mode == MIG_MODE_CPR_REBOOT) {
        error_setg(errp, "Parameter 'mode': cpr-reboot is not supported "
                   "(cpr-transfer and ferry's live-update are)");
        return false;
    }
    return true;
}

bool ferry_mig_set_parameters(FerryMig *m, const MigrationParameters *a,
                              GError **errp)
{
    if (!check_params(a, errp) || !check_inert(a, errp)) {
        return false;
    }
    if (!check_zero_copy_params(m, m->capabilities, a, errp)) {
        return false;
    }
    g_mutex_lock(&m->params_lock);
    /* Validated: the parameters ferry lacks can only be at their
     * defaults, so every member @a has is applied (generated from the
     * schema, the one list of parameters). */
    qapi_merge_MigrationParameters(&m->params, a);
    g_mutex_unlock(&m->params_lock);
    /* As QEMU: a running migration sees the new limits at once (the
     * migration thread reads downtime-limit at every pass). */
    mig_out_apply_rate_limit(m);
    return true;
}

MigrationParameters *ferry_mig_parameters(FerryMig *m)
{
    MigrationParameters *r = g_new0(MigrationParameters, 1);

    g_mutex_lock(&m->params_lock);
    qapi_merge_MigrationParameters(r, &m->params);  /* every member set */
    g_mutex_unlock(&m->params_lock);
    return r;
}

void ferry_mig_parameters_free(MigrationParameters *p)
{
    qapi_free_MigrationParameters(p);
}
