/* The migration commands of QMP: start, cancel, continue, query. */
#include <string.h>
#include "migration/incoming/incoming.h"
#include "migration/state.h"
#include "migration/outgoing/outgoing.h"
#include "migration/incoming/postcopy-dst.h"
#include "migration/ram/ram.h"
#include "qapi/qapi-commands.h"
#include "migration/vmm.h"
#include "util/error.h"

void qmp_migrate(const char *uri, bool has_detach, bool detach,
                 bool has_resume, bool resume, GError **errp)
{
    if (has_resume && resume) {
        migration_outgoing_resume(uri, errp);
        return;
    }
    migration_outgoing_start(uri, errp);
}

void qmp_migrate_incoming(const char *uri, bool has_exit_on_error,
                          bool exit_on_error, GError **errp)
{
    migration_incoming_start(uri, has_exit_on_error ? exit_on_error : true,
                             errp);
}

void qmp_migrate_cancel(GError **errp)
{
    migration_outgoing_cancel(errp);
}

void qmp_migrate_continue(MigrationStatus state, GError **errp)
{
    migration_outgoing_continue(state, errp);
}

void qmp_migrate_recover(const char *uri, GError **errp)
{
    migration_incoming_recover(uri, errp);
}

void qmp_migrate_pause(GError **errp)
{
    MigrationTimes t;

    migration_outgoing_times(&t);
    if (t.start_ms) {
        migration_outgoing_pause(errp);     /* this process is the source */
    } else {
        migration_incoming_pause(errp);
    }
}

void qmp_migrate_start_postcopy(GError **errp)
{
    migration_outgoing_start_postcopy(errp);
}

static uint64_t ram_total(void)
{
    const MigrationVMM *vmm = migration_vmm();
    uint64_t total = 0;

    for (unsigned i = 0; i < vmm->ram_block_count(); i++) {
        MigRAMBlock blk;
        vmm->ram_block_get(i, &blk);
        total += blk.size;
    }
    return total;
}

static MigrationStats *ram_info(const MigrationTimes *t, int64_t elapsed_ms)
{
    MigrationStats *st = g_new0(MigrationStats, 1);
    RAMStats rs = { 0 };
    bool live = ram_migration_stats(&rs);

    st->total = (int64_t)ram_total();
    st->page_size = MIG_PAGE_SIZE;
    st->transferred = (int64_t)t->transferred;
    st->precopy_bytes = t->precopy_bytes ? t->precopy_bytes : t->transferred;
    st->downtime_bytes = t->downtime_bytes;
    st->mbps = elapsed_ms > 0 ? (double)t->transferred * 8 / 1000.0 /
                                (double)elapsed_ms : 0;
    if (live) {
        st->remaining = (int64_t)(rs.remaining_pages * MIG_PAGE_SIZE);
        st->duplicate = (int64_t)rs.zero_pages;
        st->normal = (int64_t)rs.normal_pages;
        st->normal_bytes = (int64_t)(rs.normal_pages * MIG_PAGE_SIZE);
        st->dirty_pages_rate = (int64_t)rs.dirty_pages_rate;
        st->dirty_sync_count = (int64_t)rs.dirty_sync_count;
        st->pages_per_second = t->bandwidth_bps / MIG_PAGE_SIZE;
        st->postcopy_requests = (int64_t)rs.postcopy_requests;
    }
    if (t->downtime_bytes && t->transferred > t->precopy_bytes +
                                              t->downtime_bytes) {
        st->postcopy_bytes = t->transferred - t->precopy_bytes -
                             t->downtime_bytes;
    }
    return st;
}

/* QEMU's socket-address of a destination, from "tcp:H:P" / "unix:PATH". */
static MigrationSocketAddressList *listen_address(void)
{
    g_autofree char *uri = migration_incoming_listen_address();
    MigrationSocketAddress *a;

    if (!uri) {
        return NULL;
    }
    a = g_new0(MigrationSocketAddress, 1);
    if (g_str_has_prefix(uri, "unix:")) {
        a->type = g_strdup("unix");
        a->path = g_strdup(uri + 5);
    } else {
        const char *hp = strchr(uri, ':') ? strchr(uri, ':') + 1 : uri;
        const char *colon = strrchr(hp, ':');
        a->type = g_strdup("inet");
        a->host = colon ? g_strndup(hp, colon - hp) : g_strdup(hp);
        a->port = g_strdup(colon ? colon + 1 : "");
    }
    MigrationSocketAddressList *l = g_new0(MigrationSocketAddressList, 1);
    l->value = a;
    return l;
}

MigrationInfo *qmp_query_migrate(GError **errp)
{
    MigrationState *s = migration_current();
    MigrationInfo *info = g_new0(MigrationInfo, 1);
    MigrationStatus status = migration_status(s);
    MigrationTimes t;

    /* Idle: {} (libvirt checks exactly that before starting a job). */
    if (status == MIGRATION_STATUS_NONE) {
        return info;
    }
    info->has_status = true;
    info->status = status;
    if ((status == MIGRATION_STATUS_FAILED ||
         status == MIGRATION_STATUS_POSTCOPY_PAUSED) && s->error_desc) {
        info->error_desc = g_strdup(s->error_desc);
    }
    migration_outgoing_times(&t);
    if (!t.start_ms) {
        postcopy_dst_fill_info(info);
        info->socket_address = listen_address();
        return info;        /* a destination: no source-side counters */
    }
    if (t.run_ack_us) {
        info->has_x_postcopy_run_ack_latency = true;
        info->x_postcopy_run_ack_latency = (uint64_t)t.run_ack_us;
        info->has_x_postcopy_package_time = true;
        info->x_postcopy_package_time = (uint64_t)t.package_ms;
    }
    int64_t end = t.end_ms ? t.end_ms : g_get_monotonic_time() / 1000;
    info->has_total_time = true;
    info->total_time = end - t.start_ms;
    if (status != MIGRATION_STATUS_SETUP) {
        info->has_setup_time = true;
        info->setup_time = t.setup_ms;
        info->ram = ram_info(&t, info->total_time);
        if (migrate_capability(MIGRATION_CAPABILITY_AUTO_CONVERGE)) {
            info->has_cpu_throttle_percentage = true;
            info->cpu_throttle_percentage = migration_vmm()->vm_throttle_percent();
        }
    }
    if (status == MIGRATION_STATUS_COMPLETED) {
        info->has_downtime = true;
        info->downtime = t.downtime_ms;
    } else if (migration_is_running(status)) {
        info->has_expected_downtime = true;
        info->expected_downtime = t.expected_downtime_ms ?
            t.expected_downtime_ms : (int64_t)s->params.downtime_limit;
    }
    return info;
}
