/*
 * query-migrate of a context (QEMU's MigrationInfo), and the calls that
 * concern either side: migrate-pause and joining finished threads.
 */
#include <string.h>
#include "migration/context.h"
#include "migration/incoming/incoming.h"
#include "migration/incoming/postcopy-dst.h"
#include "migration/multifd/multifd.h"
#include "migration/outgoing/outgoing.h"
#include "migration/ram/ram.h"
#include "migration/state.h"

bool ferry_mig_pause(FerryMig *m, GError **errp)
{
    MigrationTimes t;

    mig_outgoing_times(m, &t);
    if (t.start_ms) {
        return mig_outgoing_pause(m, errp);    /* this VM is the source */
    }
    return mig_incoming_pause(m, errp);
}

void ferry_mig_join(FerryMig *m)
{
    mig_outgoing_join(m);
    mig_incoming_join(m);
}

void ferry_mig_info_free(MigrationInfo *info)
{
    qapi_free_MigrationInfo(info);
}

static uint64_t ram_total(FerryMig *m)
{
    uint64_t total = 0;

    for (unsigned i = 0; i < m->vmm.ram_block_count(m->opaque); i++) {
        MigRAMBlock blk;
        m->vmm.ram_block_get(m->opaque, i, &blk);
        total += blk.size;
    }
    return total;
}

static MigrationStats *ram_info(FerryMig *m, const MigrationTimes *t,
                                int64_t elapsed_ms)
{
    MigrationStats *st = g_new0(MigrationStats, 1);
    RAMStats rs = { 0 };
    bool live = ram_migration_stats(m, &rs);

    st->total = (int64_t)ram_total(m);
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
        st->dirty_sync_missed_zero_copy = rs.dirty_sync_missed_zero_copy;
        st->pages_per_second = t->bandwidth_bps / MIG_PAGE_SIZE;
        st->postcopy_requests = (int64_t)rs.postcopy_requests;
        st->multifd_bytes = multifd_send_bytes(m);
    }
    if (t->downtime_bytes && t->transferred > t->precopy_bytes +
                                              t->downtime_bytes) {
        st->postcopy_bytes = t->transferred - t->precopy_bytes -
                             t->downtime_bytes;
    }
    return st;
}

/* QEMU's socket-address of a destination, from "tcp:H:P" / "unix:PATH". */
static MigrationSocketAddressList *listen_address(FerryMig *m)
{
    g_autofree char *uri = mig_incoming_listen_address(m);
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

MigrationInfo *ferry_mig_query(FerryMig *m)
{
    MigrationInfo *info = g_new0(MigrationInfo, 1);
    MigrationStatus status = migration_status(m);
    MigrationTimes t;

    /* Idle: {} (libvirt checks exactly that before starting a job). */
    if (status == MIGRATION_STATUS_NONE) {
        return info;
    }
    info->has_status = true;
    info->status = status;
    if (status == MIGRATION_STATUS_FAILED ||
        status == MIGRATION_STATUS_POSTCOPY_PAUSED) {
        info->error_desc = mig_get_error(m);
    }
    mig_outgoing_times(m, &t);
    if (!t.start_ms) {
        postcopy_dst_fill_info(m, info);
        info->socket_address = listen_address(m);
        return info;        /* a destination: no source-side counters */
    }
    if (t.run_acked) {
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
        info->ram = ram_info(m, &t, info->total_time);
        if (migrate_capability(m, MIGRATION_CAPABILITY_AUTO_CONVERGE) &&
            m->vmm.vm_throttle_percent) {
            info->has_cpu_throttle_percentage = true;
            info->cpu_throttle_percentage =
                m->vmm.vm_throttle_percent(m->opaque);
        }
    }
    if (status == MIGRATION_STATUS_COMPLETED) {
        info->has_downtime = true;
        info->downtime = t.downtime_ms;
    } else if (migration_is_running(status)) {
        info->has_expected_downtime = true;
        MigrationParameters p;
        mig_params_get(m, &p);
        info->expected_downtime = t.expected_downtime_ms ?
            t.expected_downtime_ms : (int64_t)p.downtime_limit;
    }
    return info;
}
