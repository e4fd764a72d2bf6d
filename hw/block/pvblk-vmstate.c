/*
 * pvblk's migration description: the ring position, the capacity and the
 * flags (see the in-flight policy at the top of pvblk.c).  Saved and
 * loaded with the vCPUs stopped; the locks are for the completion thread,
 * which must have nothing left to do by then.
 */
#include <errno.h>
#include "pvblk-internal.h"
#include "ferry/migration.h"
#include "util/error.h"
#include "util/log.h"

/* Requests in flight are not state: pvblk_drain_all() must have run. */
static int pvblk_pre_save(void *opaque)
{
    PvblkState *s = opaque;
    int ret = 0;

    g_mutex_lock(&s->lock);
    if (s->inflight) {
        ferry_log("pvblk %s: %u request(s) still in flight at save: the "
                  "devices were not drained before switchover", s->id,
                  s->inflight);
        ret = -EBUSY;
    }
    pvblk_capacity_locked(s);
    g_mutex_unlock(&s->lock);
    return ret;
}

static bool check_capacity(PvblkState *s, uint64_t incoming, GError **errp)
{
    int64_t len = bdrv_getlength(s->bs);

    if (len < 0) {
        /* Not attached yet: the guest keeps the source's figure, and the
         * block layer still refuses anything beyond the real end. */
        ferry_log("pvblk %s: node '%s' not attached when the device state "
                  "loaded: capacity not checked", s->id,
                  bdrv_node_name(s->bs));
        return true;
    }
    if ((uint64_t)len / PVBLK_SECTOR_SIZE != incoming) {
        error_setg(errp, "pvblk %s: the source's disk has %" G_GUINT64_FORMAT
                   " sectors, node '%s' here has %" G_GINT64_FORMAT,
                   s->id, incoming, bdrv_node_name(s->bs),
                   len / PVBLK_SECTOR_SIZE);
        return false;
    }
    return true;
}

static bool pvblk_post_load(void *opaque, int version_id, GError **errp)
{
    PvblkState *s = opaque;
    bool ok = false;

    g_mutex_lock(&s->lock);
    if (s->ring_gpa && !pvblk_ring_valid(s->ring_gpa, s->ring_size)) {
        error_setg(errp, "pvblk %s: invalid ring (0x%" G_GINT64_MODIFIER
                   "x, %u entries)", s->id, s->ring_gpa, s->ring_size);
    } else if ((s->flags & PVBLK_F_READ_ONLY) < !!bdrv_is_read_only(s->bs)) {
        error_setg(errp, "pvblk %s: the source's disk is writable, node "
                   "'%s' here is read-only", s->id, bdrv_node_name(s->bs));
    } else if (check_capacity(s, s->capacity, errp)) {
        s->flags = bdrv_is_read_only(s->bs) ? PVBLK_F_READ_ONLY : 0;
        s->ring_epoch++;
        ok = true;
    }
    g_mutex_unlock(&s->lock);
    return ok;
}

static const VMStateDescription vmstate_pvblk = {
    .name = "pvblk",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = pvblk_pre_save,
    .post_load = pvblk_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(ring_gpa, PvblkState),
        VMSTATE_UINT32(ring_size, PvblkState),
        VMSTATE_UINT32(last_avail, PvblkState),
        VMSTATE_UINT32(used_idx, PvblkState),
        VMSTATE_UINT64(capacity, PvblkState),
        VMSTATE_UINT64(flags, PvblkState),
        VMSTATE_END_OF_LIST()
    },
};

bool pvblk_vmstate_register(FerryMig *m, PvblkState *s, GError **errp)
{
    return ferry_mig_register_device(m, s->section, s->instance, &vmstate_pvblk, s,
                            MIG_PRI_DEFAULT, errp);
}

void pvblk_vmstate_unregister(FerryMig *m, PvblkState *s)
{
    ferry_mig_unregister_device(m, &vmstate_pvblk, s);
}
