/*
 * The migration commands of the human monitor, in QEMU's words.  Like the
 * others they only speak QMP, so ferryctl runs them unchanged.
 */
#include <inttypes.h>
#include <string.h>
#include "monitor/hmp-migration.h"
#include "qapi/qapi-visit.h"
#include "util/error.h"
#include "util/keyval.h"
#include "util/size.h"

static bool run_with(Hmp *hmp, const char *command, JsonObject *args,
                     GError **errp)
{
    g_autoptr(JsonNode) ret = hmp_qmp(hmp, command, args, errp);

    return ret != NULL;
}

static MigrationInfo *query_migrate(Hmp *hmp, GError **errp)
{
    g_autoptr(JsonNode) ret = hmp_qmp(hmp, "query-migrate", NULL, errp);
    MigrationInfo *info = NULL;

    if (!ret || !qapi_MigrationInfo_from_json(ret, &info, errp)) {
        return NULL;
    }
    return info;
}

static void print_ram(Hmp *hmp, const MigrationStats *r)
{
    hmp_printf(hmp, "transferred ram: %" PRId64 " kbytes\n", r->transferred >> 10);
    hmp_printf(hmp, "throughput: %0.2f mbps\n", r->mbps);
    hmp_printf(hmp, "remaining ram: %" PRId64 " kbytes\n", r->remaining >> 10);
    hmp_printf(hmp, "total ram: %" PRId64 " kbytes\n", r->total >> 10);
    hmp_printf(hmp, "duplicate: %" PRId64 " pages\n", r->duplicate);
    hmp_printf(hmp, "normal: %" PRId64 " pages\n", r->normal);
    hmp_printf(hmp, "normal bytes: %" PRId64 " kbytes\n", r->normal_bytes >> 10);
    hmp_printf(hmp, "dirty sync count: %" PRId64 "\n", r->dirty_sync_count);
    hmp_printf(hmp, "page size: %" PRId64 " kbytes\n", r->page_size >> 10);
    hmp_printf(hmp, "dirty pages rate: %" PRId64 " pages\n", r->dirty_pages_rate);
    hmp_printf(hmp, "precopy ram: %" PRIu64 " kbytes\n", r->precopy_bytes >> 10);
    hmp_printf(hmp, "downtime ram: %" PRIu64 " kbytes\n", r->downtime_bytes >> 10);
    if (r->dirty_sync_missed_zero_copy) {       /* QEMU's line, as rarely */
        hmp_printf(hmp, "Zero-copy-send fallbacks happened: %" PRIu64
                   " times\n", r->dirty_sync_missed_zero_copy);
    }
}

bool hmp_info_migrate(Hmp *hmp, JsonObject *args, GError **errp)
{
    g_autoptr(MigrationInfo) info = query_migrate(hmp, errp);

    if (!info) {
        return false;
    }
    if (!info->has_status) {
        return true;        /* no migration yet: QEMU prints nothing */
    }
    hmp_printf(hmp, "Migration status: %s\n", MigrationStatus_str(info->status));
    if (info->error_desc) {
        hmp_printf(hmp, "Migration error: %s\n", info->error_desc);
    }
    if (info->has_total_time) {
        hmp_printf(hmp, "total time: %" PRId64 " ms\n", info->total_time);
    }
    if (info->has_expected_downtime) {
        hmp_printf(hmp, "expected downtime: %" PRId64 " ms\n",
                   info->expected_downtime);
    }
    if (info->has_downtime) {
        hmp_printf(hmp, "downtime: %" PRId64 " ms\n", info->downtime);
    }
    if (info->has_setup_time) {
        hmp_printf(hmp, "setup: %" PRId64 " ms\n", info->setup_time);
    }
    if (info->ram) {
        print_ram(hmp, info->ram);
    }
    return true;
}

bool hmp_info_migrate_capabilities(Hmp *hmp, JsonObject *args, GError **errp)
{
    g_autoptr(JsonNode) ret = hmp_qmp(hmp, "query-migrate-capabilities",
                                      NULL, errp);
    g_autoptr(MigrationCapabilityStatusList) caps = NULL;

    if (!ret || !qapi_MigrationCapabilityStatusList_from_json(ret, &caps, errp)) {
        return false;
    }
    for (MigrationCapabilityStatusList *l = caps; l; l = l->next) {
        hmp_printf(hmp, "%s: %s\n", MigrationCapability_str(l->value->capability),
                   l->value->state ? "on" : "off");
    }
    return true;
}

bool hmp_info_migrate_parameters(Hmp *hmp, JsonObject *args, GError **errp)
{
    g_autoptr(JsonNode) ret = hmp_qmp(hmp, "query-migrate-parameters", NULL, errp);
    g_autoptr(MigrationParameters) p = NULL;

    if (!ret || !qapi_MigrationParameters_from_json(ret, &p, errp)) {
        return false;
    }
    hmp_printf(hmp, "max-bandwidth: %" PRIu64 " bytes/second\n", p->max_bandwidth);
    hmp_printf(hmp, "downtime-limit: %" PRIu64 " ms\n", p->downtime_limit);
    hmp_printf(hmp, "cpu-throttle-initial: %u\n", p->cpu_throttle_initial);
    hmp_printf(hmp, "cpu-throttle-increment: %u\n", p->cpu_throttle_increment);
    hmp_printf(hmp, "cpu-throttle-tailslow: %s\n",
               p->cpu_throttle_tailslow ? "on" : "off");
    hmp_printf(hmp, "max-cpu-throttle: %u\n", p->max_cpu_throttle);
    hmp_printf(hmp, "throttle-trigger-threshold: %u\n",
               p->throttle_trigger_threshold);
    hmp_printf(hmp, "max-postcopy-bandwidth: %" PRIu64 " bytes/second\n",
               p->max_postcopy_bandwidth);
    hmp_printf(hmp, "tls-creds: '%s'\n", p->tls_creds);
    hmp_printf(hmp, "tls-hostname: '%s'\n", p->tls_hostname);
    hmp_printf(hmp, "tls-authz: '%s'\n", p->tls_authz);
    return true;
}

static void report_progress(Hmp *hmp, const MigrationInfo *info)
{
    const MigrationStats *r = info->ram;
    char line[200];

    if (!hmp->progress || !r || r->total <= 0) {
        return;
    }
    int64_t done = r->total - r->remaining;
    int pct = (int)(done * 100 / r->total);
    int fill = pct / 5;
    g_snprintf(line, sizeof(line),
               "[%.*s%*s] %3d%% %7.1f MB/s  remaining %6" PRId64 " MiB  "
               "dirty %6.1f MB/s  pass %" PRId64 "  %s",
               fill, "====================", 20 - fill, "", pct,
               r->mbps / 8, r->remaining >> 20,
               (double)r->dirty_pages_rate * (double)r->page_size / 1e6,
               r->dirty_sync_count, MigrationStatus_str(info->status));
    hmp->progress(hmp->opaque, line);
}

static bool wait_for_end(Hmp *hmp, GError **errp)
{
    for (;;) {
        g_autoptr(MigrationInfo) info = query_migrate(hmp, errp);
        if (!info) {
            return false;
        }
        report_progress(hmp, info);
        switch (info->has_status ? info->status : MIGRATION_STATUS_NONE) {
        case MIGRATION_STATUS_COMPLETED:
            hmp_printf(hmp, "migration completed: %" PRId64 " MiB in %" PRId64
                       " ms (%.0f mbps), downtime %" PRId64 " ms\n",
                       info->ram ? info->ram->transferred >> 20 : 0,
                       info->total_time, info->ram ? info->ram->mbps : 0,
                       info->downtime);
            return true;
        case MIGRATION_STATUS_FAILED:
            error_setg(errp, "migration failed: %s",
                       info->error_desc ? info->error_desc : "unknown error");
            return false;
        case MIGRATION_STATUS_CANCELLED:
            error_setg(errp, "migration cancelled");
            return false;
        case MIGRATION_STATUS_POSTCOPY_PAUSED:
            error_setg(errp, "migration paused: %s; recover with "
                       "migrate_recover URI on the destination, then "
                       "migrate -r URI here",
                       info->error_desc ? info->error_desc : "unknown error");
            return false;
        default:
            g_usleep(100000);
        }
    }
}

bool hmp_migrate(Hmp *hmp, JsonObject *args, GError **errp)
{
    bool detach = json_object_get_boolean_member_with_default(args, "detach",
                                                              false);

    if (!run_with(hmp, "migrate", args, errp)) {
        return false;
    }
    return detach || !hmp->can_wait || wait_for_end(hmp, errp);
}

bool hmp_migrate_incoming(Hmp *hmp, JsonObject *args, GError **errp)
{
    return run_with(hmp, "migrate-incoming", args, errp);
}

bool hmp_migrate_cancel(Hmp *hmp, JsonObject *args, GError **errp)
{
    return run_with(hmp, "migrate_cancel", NULL, errp);
}

bool hmp_migrate_continue(Hmp *hmp, JsonObject *args, GError **errp)
{
    return run_with(hmp, "migrate-continue", args, errp);
}

bool hmp_migrate_recover(Hmp *hmp, JsonObject *args, GError **errp)
{
    return run_with(hmp, "migrate-recover", args, errp);
}

bool hmp_migrate_pause(Hmp *hmp, JsonObject *args, GError **errp)
{
    return run_with(hmp, "migrate-pause", NULL, errp);
}

bool hmp_migrate_start_postcopy(Hmp *hmp, JsonObject *args, GError **errp)
{
    return run_with(hmp, "migrate-start-postcopy", NULL, errp);
}

bool hmp_migrate_set_capability(Hmp *hmp, JsonObject *args, GError **errp)
{
    g_autoptr(JsonObject) cap = json_object_new();
    g_autoptr(JsonArray) list = json_array_new();
    g_autoptr(JsonObject) qargs = json_object_new();

    json_object_set_string_member(cap, "capability",
                                  json_object_get_string_member(args, "capability"));
    json_object_set_boolean_member(cap, "state",
                                   json_object_get_boolean_member(args, "state"));
    json_array_add_object_element(list, g_steal_pointer(&cap));
    json_object_set_array_member(qargs, "capabilities", g_steal_pointer(&list));
    return run_with(hmp, "migrate-set-capabilities", qargs, errp);
}

/* QEMU's HMP takes sizes with suffixes for bandwidths, plain numbers else. */
bool hmp_migrate_set_parameter(Hmp *hmp, JsonObject *args, GError **errp)
{
    const char *name = json_object_get_string_member(args, "parameter");
    const char *value = json_object_get_string_member(args, "value");
    g_autoptr(JsonObject) qargs = json_object_new();
    uint64_t n;

    if (g_str_has_prefix(name, "tls-")) {
        json_object_set_string_member(qargs, name, value);
    } else if (!strcmp(name, "cpu-throttle-tailslow")) {
        bool b;

        if (!keyval_parse_bool(name, value, &b, errp)) {
            return false;
        }
        json_object_set_boolean_member(qargs, name, b);
    } else {
        bool is_size = g_str_has_suffix(name, "bandwidth");
        if (!parse_size(value, is_size ? 1 : 1, &n, errp)) {
            g_prefix_error(errp, "%s: ", name);
            return false;
        }
        if (n > INT64_MAX) {
            error_setg(errp, "%s: '%s' is too large", name, value);
            return false;
        }
        json_object_set_int_member(qargs, name, (gint64)n);
    }
    return run_with(hmp, "migrate-set-parameters", qargs, errp);
}
