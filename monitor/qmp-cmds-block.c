/*
 * The block queries.  query-block: one entry per top-level block node (a
 * node no filter uses as its child), the way QEMU lists -blockdev nodes:
 * device "" and the device that claimed it as qdev.
 * query-named-block-nodes: every node.  query-blockstats: one entry per
 * disk device, from its counters.  query-jobs: ferry has no block jobs.
 */
#include "hw/pvblk.h"
#include "system/machine.h"
#include "block/block_int.h"
#include "qapi/qapi-commands.h"

static BlockLifecycleState lifecycle_state(BlockNodeState st)
{
    switch (st) {
    case BLOCK_NODE_CONFIGURED:
        return BLOCK_LIFECYCLE_STATE_CONFIGURED;
    case BLOCK_NODE_ATTACHED:
        return BLOCK_LIFECYCLE_STATE_ATTACHED;
    case BLOCK_NODE_ACTIVE:
        return BLOCK_LIFECYCLE_STATE_ACTIVE;
    }
    return BLOCK_LIFECYCLE_STATE_CONFIGURED;
}

static BlockDeviceInfo *block_device_info(BlockDriverState *bs)
{
    BlockDeviceInfo *info = g_new0(BlockDeviceInfo, 1);
    int64_t length = bdrv_getlength(bs);

    info->file = g_strdup(bdrv_filename(bs));
    info->node_name = g_strdup(bdrv_node_name(bs));
    info->ro = bdrv_is_read_only(bs);
    info->drv = g_strdup(bdrv_driver_name(bs));
    info->encrypted = false;
    info->detect_zeroes = g_strdup("off");
    info->image = g_new0(ImageInfo, 1);
    info->image->filename = g_strdup(bdrv_filename(bs));
    info->image->format = g_strdup("raw");
    info->image->virtual_size = length > 0 ? length : 0;
    info->cache = g_new0(BlockdevCacheInfo, 1);
    info->cache->writeback = true;
    info->cache->direct = bdrv_is_direct(bs);
    info->cache->no_flush = false;
    info->x_state = lifecycle_state(bdrv_state(bs));
    info->x_attach_time_ms = bdrv_last_attach_ns(bs) / 1e6;
    info->x_activate_time_ms = bdrv_last_activate_ns(bs) / 1e6;
    return info;
}

BlockInfoList *qmp_query_block(GError **errp)
{
    g_autoptr(GPtrArray) all = bdrv_nodes(machine_block_graph());
    BlockInfoList *head = NULL;

    /* Prepending from the back keeps creation order. */
    for (guint i = all->len; i-- > 0;) {
        BlockDriverState *bs = g_ptr_array_index(all, i);
        BlockInfoList *l;

        if (bdrv_parent(bs)) {
            continue;
        }
        l = g_new0(BlockInfoList, 1);
        l->value = g_new0(BlockInfo, 1);
        l->value->device = g_strdup("");
        l->value->qdev = g_strdup(bdrv_device(bs));
        l->value->type = g_strdup("unknown");
        l->value->inserted = block_device_info(bs);
        l->next = head;
        head = l;
    }
    return head;
}

BlockDeviceInfoList *qmp_query_named_block_nodes(GError **errp)
{
    g_autoptr(GPtrArray) all = bdrv_nodes(machine_block_graph());
    BlockDeviceInfoList *head = NULL;

    for (guint i = all->len; i-- > 0;) {
        BlockDeviceInfoList *l = g_new0(BlockDeviceInfoList, 1);

        l->value = block_device_info(g_ptr_array_index(all, i));
        l->next = head;
        head = l;
    }
    return head;
}

static BlockDeviceStats *device_stats(const PvblkStats *st)
{
    BlockDeviceStats *s = g_new0(BlockDeviceStats, 1);

    s->rd_bytes = st->rd_bytes;
    s->wr_bytes = st->wr_bytes;
    s->rd_operations = st->rd_ops;
    s->wr_operations = st->wr_ops;
    s->flush_operations = st->flush_ops;
    s->failed_rd_operations = st->failed_rd;
    s->failed_wr_operations = st->failed_wr;
    s->failed_flush_operations = st->failed_flush;
    return s;
}

/* Appends to the list whose tail pointer is @opaque. */
static void add_stats(const char *id, BlockDriverState *bs,
                      const PvblkStats *st, void *opaque)
{
    BlockStatsList ***tail = opaque;
    BlockStatsList *l = g_new0(BlockStatsList, 1);

    l->value = g_new0(BlockStats, 1);
    l->value->device = g_strdup("");
    l->value->qdev = g_strdup(id);
    l->value->node_name = g_strdup(bdrv_node_name(bs));
    l->value->stats = device_stats(st);
    **tail = l;
    *tail = &l->next;
}

BlockStatsList *qmp_query_blockstats(GError **errp)
{
    BlockStatsList *head = NULL, **tail = &head;

    pvblk_stats_foreach(add_stats, &tail);
    return head;
}

JobInfoList *qmp_query_jobs(GError **errp)
{
    return NULL;
}
