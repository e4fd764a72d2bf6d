/*
 * pvchannel's migration description: where the rings are, the device's
 * own index in each, and whether the channel runs.  The bytes themselves
 * are in guest RAM.  Saved and loaded with the VM stopped, when the I/O
 * thread moves nothing (pvchannel_set_running_all), so bytes the source
 * sent are exactly those before the saved g2h_cons.
 */
#include "pvchannel-internal.h"
#include "util/error.h"

static bool pvchan_post_load(void *opaque, int version_id, GError **errp)
{
    PvchanState *s = opaque;
    bool ok = true;

    g_mutex_lock(&s->lock);
    if (s->status & ~(uint32_t)(PVCHAN_STATUS_ENABLED | PVCHAN_STATUS_ERROR)) {
        error_setg(errp, "pvchannel %s: invalid status 0x%x", s->name,
                   s->status);
        ok = false;
    } else if ((s->status & PVCHAN_STATUS_ENABLED) &&
               (!pvchan_ring_valid(s->g2h_gpa, s->g2h_size) ||
                !pvchan_ring_valid(s->h2g_gpa, s->h2g_size))) {
        error_setg(errp, "pvchannel %s: invalid rings (0x%" G_GINT64_MODIFIER
                   "x, %u; 0x%" G_GINT64_MODIFIER "x, %u)", s->name,
                   s->g2h_gpa, s->g2h_size, s->h2g_gpa, s->h2g_size);
        ok = false;
    }
    s->rx_full = false;
    s->tx_blocked = false;
    g_mutex_unlock(&s->lock);
    return ok;
}

static const VMStateDescription vmstate_pvchan = {
    .name = "pvchannel",
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = pvchan_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(g2h_gpa, PvchanState),
        VMSTATE_UINT32(g2h_size, PvchanState),
        VMSTATE_UINT32(g2h_cons, PvchanState),
        VMSTATE_UINT64(h2g_gpa, PvchanState),
        VMSTATE_UINT32(h2g_size, PvchanState),
        VMSTATE_UINT32(h2g_prod, PvchanState),
        VMSTATE_UINT32(status, PvchanState),
        VMSTATE_END_OF_LIST()
    },
};

/* One section per slot: both sides create their channels in command-line
 * order. */
bool pvchan_vmstate_register(FerryMig *m, PvchanState *s, GError **errp)
{
    return ferry_mig_register_device(m, "pvchannel", s->index,
                                     &vmstate_pvchan, s, MIG_PRI_DEFAULT,
                                     errp);
}

void pvchan_vmstate_unregister(FerryMig *m, PvchanState *s)
{
    ferry_mig_unregister_device(m, &vmstate_pvchan, s);
}
