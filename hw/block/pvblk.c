/*
 * pvblk: ferry's paravirtual disk (register and ring layout in
 * guest/pvblk-dev.h; the machine API in hw/pvblk.h).
 *
 * Data path.  A doorbell write (a vCPU thread, in its MMIO exit) takes
 * every request the guest published since the last one and submits it to
 * the block layer; the completion, on a block-layer thread, is handed to
 * pvblk's completion thread, which copies read data into guest RAM and
 * publishes the used entry.  The handoff keeps block-layer callbacks
 * non-blocking as block.h requires: on a postcopy destination a copy into
 * guest RAM can wait for the page to come over the network.
 *
 * Bounce buffers, not zero-copy: a write's data is copied out of guest RAM
 * at submit, a read lands in a host buffer and is copied in at completion,
 * always through guest_mem_read/guest_mem_write.  Deliberate:
 *  - dirty tracking: a backend writing straight into guest RAM (io_uring,
 *    a pool thread) is invisible to KVM's dirty log; guest_mem_write marks
 *    the pages, so precopy resends them;
 *  - postcopy: on the destination, guest RAM is registered with
 *    userfaultfd; a CPU copy into a missing page faults and waits for it,
 *    whereas a kernel-side read (io_uring, O_DIRECT) into it fails with
 *    EFAULT, or populates a page the incoming copy then cannot fill;
 *  - O_DIRECT wants aligned buffers, which guest buffers need not be.
 * Requests are at most 64 KiB, so the copies are cheap.
 *
 * Node states.  A request the node refuses at once (a write or flush while
 * the node is only attached, anything while configured) completes with
 * PVBLK_S_NOTREADY; reads work from "attached" on.
 *
 * Migration: DRAIN BEFORE SWITCHOVER.  The device state is the ring
 * position (ring_gpa, ring_size, last_avail, used_idx), the capacity and
 * the flags; requests in flight are not part of it.  Instead, the source's
 * migration code calls pvblk_drain_all() once the vCPUs are stopped (so no
 * new doorbell can come): it waits until every submitted request completed
 * *and its used entry is in guest RAM* (written with guest_mem_write, so
 * the final RAM pass carries it).  pre_save refuses to save a device with
 * requests in flight.  A request the guest published without ringing the
 * doorbell is not submitted on the source: it stays in the ring (avail_idx
 * is in guest RAM, last_avail in the device state) and is taken at the
 * next doorbell on the destination.  Should the migration fail, the source
 * resumes with the same ring and nothing lost.  pvblk_drain_all() is also
 * what to call before the nodes are inactivated.
 *
 * Locking: s->lock guards a device's state and its ring in guest RAM (the
 * used entries and used_idx); doorbells (vCPU threads), the completion
 * thread, MMIO reads and the vmstate hooks all take it.  Block-layer calls
 * are made under it: completions never run inside a submit call.  The
 * device list changes only at machine init and cleanup (main thread).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "system/migration-vmm.h"
#include "pvblk-internal.h"
#include "hw/pvblk.h"
#include "ferry/vmstate.h"
#include "system/ioport.h"
#include "system/memory.h"
#include "util/error.h"
#include "util/keyval.h"
#include "util/log.h"

typedef struct PvblkReq {
    PvblkState *dev;
    uint32_t epoch;             /* the ring it came from */
    uint32_t type;
    uint64_t id;
    uint64_t buf_gpa;
    uint64_t bytes;
    void *bounce;
    struct iovec iov;
    int ret;
} PvblkReq;

static PvblkState *devs[PVBLK_MAX_DEVS];
static unsigned nr_devs;
static GThreadPool *completions;

/* --- the ring in guest RAM ------------------------------------------------- */

bool pvblk_ring_valid(uint64_t gpa, uint64_t size)
{
    return size && size <= PVBLK_RING_MAX && !(size & (size - 1)) &&
           gpa && !(gpa & 7) && gpa_to_hva(gpa, PVBLK_RING_BYTES(size));
}

static uint32_t ring_load_avail(PvblkState *s)
{
    uint32_t v = 0;

    guest_mem_load_u32(s->ring_gpa, &v);     /* checked at set_ring */
    return v;
}

static void ring_store_used_idx(PvblkState *s)
{
    guest_mem_store_u32(s->ring_gpa +
                        offsetof(struct pvblk_ring_hdr, used_idx),
                        s->used_idx);
}

/* The entry first, then the index (release): the guest reads them in the
 * opposite order. */
static void push_used(PvblkState *s, uint64_t id, uint32_t status)
{
    struct pvblk_used u = { .id = id, .status = status };
    uint32_t slot = s->used_idx % s->ring_size;

    guest_mem_write(s->ring_gpa + PVBLK_USED_OFF(s->ring_size, slot),
                    &u, sizeof(u));
    s->used_idx++;
    ring_store_used_idx(s);
    if (status != PVBLK_S_OK) {
        s->nr_errors++;
    }
}

/* --- completion ---------------------------------------------------------- */

static uint32_t status_of(int ret)
{
    switch (ret) {
    case 0: return PVBLK_S_OK;
    case -EROFS: return PVBLK_S_ROFS;
    case -EPERM: case -ENOMEDIUM: return PVBLK_S_NOTREADY;
    case -EINVAL: case -EFAULT: return PVBLK_S_INVAL;
    default: return PVBLK_S_IOERR;
    }
}

static void req_free(PvblkReq *req)
{
    free(req->bounce);
    g_free(req);
}

/* Caller holds s->lock. */
static void account(PvblkState *s, const PvblkReq *req, bool ok)
{
    PvblkStats *st = &s->stats;

    if (req->type == PVBLK_T_READ && ok) {
        st->rd_ops++;
        st->rd_bytes += req->bytes;
    } else if (req->type == PVBLK_T_READ) {
        st->failed_rd++;
    } else if (req->type == PVBLK_T_WRITE && ok) {
        st->wr_ops++;
        st->wr_bytes += req->bytes;
    } else if (req->type == PVBLK_T_WRITE) {
        st->failed_wr++;
    } else if (ok) {
        st->flush_ops++;
    } else {
        st->failed_flush++;
    }
}

/* The completion thread: the read data, then the used entry. */
static void pvblk_finish(gpointer data, gpointer unused)
{
    PvblkReq *req = data;
    PvblkState *s = req->dev;
    uint32_t status = status_of(req->ret);

    if (req->type == PVBLK_T_READ && status == PVBLK_S_OK &&
        guest_mem_write(req->buf_gpa, req->bounce, req->bytes) < 0) {
        status = PVBLK_S_INVAL;
    }
    g_mutex_lock(&s->lock);
    account(s, req, status == PVBLK_S_OK);
    /* A request of a ring the guest has since replaced has nowhere to go. */
    if (req->epoch == s->ring_epoch && s->ring_gpa) {
        push_used(s, req->id, status);
    }
    if (--s->inflight == 0) {
        g_cond_broadcast(&s->idle);
    }
    g_mutex_unlock(&s->lock);
    req_free(req);
}

/* Block-layer thread: must not block, so only hand the request over. */
static void pvblk_io_done(void *opaque, int ret)
{
    PvblkReq *req = opaque;

    req->ret = ret;
    g_thread_pool_push(completions, req, NULL);
}

/* --- submission ----------------------------------------------------------- */

static uint32_t check_request(PvblkState *s, const struct pvblk_req *r)
{
    if (r->type != PVBLK_T_READ && r->type != PVBLK_T_WRITE &&
        r->type != PVBLK_T_FLUSH) {
        return PVBLK_S_UNSUPP;
    }
    /* Not attached yet: its capacity is unknown, not 0. */
    if (bdrv_state(s->bs) == BLOCK_NODE_CONFIGURED) {
        return PVBLK_S_NOTREADY;
    }
    if (r->type != PVBLK_T_READ && (s->flags & PVBLK_F_READ_ONLY)) {
        return PVBLK_S_ROFS;
    }
    if (r->type == PVBLK_T_FLUSH) {
        return PVBLK_S_OK;
    }
    if (r->nsectors == 0 || r->nsectors > PVBLK_MAX_SECTORS ||
        r->sector > pvblk_capacity_locked(s) ||
        r->nsectors > s->capacity - r->sector ||
        !gpa_to_hva(r->buf_gpa, (uint64_t)r->nsectors * PVBLK_SECTOR_SIZE)) {
        return PVBLK_S_INVAL;
    }
    return PVBLK_S_OK;
}

static PvblkReq *req_new(PvblkState *s, const struct pvblk_req *r)
{
    PvblkReq *req = g_new0(PvblkReq, 1);

    req->dev = s;
    req->epoch = s->ring_epoch;
    req->type = r->type;
    req->id = r->id;
    req->buf_gpa = r->buf_gpa;
    if (r->type != PVBLK_T_FLUSH) {
        req->bytes = (uint64_t)r->nsectors * PVBLK_SECTOR_SIZE;
        /* Page aligned, for nodes with cache.direct=on. */
        if (posix_memalign(&req->bounce, 4096, req->bytes)) {
            g_free(req);
            return NULL;
        }
        req->iov = (struct iovec){ req->bounce, req->bytes };
    }
    return req;
}

static int start_io(PvblkState *s, PvblkReq *req, uint64_t offset)
{
    switch (req->type) {
    case PVBLK_T_READ:
        s->nr_reads++;
        return bdrv_aio_preadv(s->bs, offset, &req->iov, 1, pvblk_io_done, req);
    case PVBLK_T_WRITE:
        s->nr_writes++;
        if (guest_mem_read(req->buf_gpa, req->bounce, req->bytes) < 0) {
            return -EFAULT;
        }
        return bdrv_aio_pwritev(s->bs, offset, &req->iov, 1, pvblk_io_done,
                                req);
    default:
        s->nr_flushes++;
        return bdrv_aio_flush(s->bs, pvblk_io_done, req);
    }
}

/* Submits one ring entry, or completes it at once with an error. */
static void submit_one(PvblkState *s, const struct pvblk_req *r)
{
    uint32_t status = check_request(s, r);
    PvblkReq *req = NULL;
    int ret;

    if (status == PVBLK_S_OK) {
        req = req_new(s, r);
        status = req ? PVBLK_S_OK : PVBLK_S_IOERR;
    }
    if (status != PVBLK_S_OK) {
        push_used(s, r->id, status);
        return;
    }
    s->inflight++;      /* before: the completion may run at once */
    ret = start_io(s, req, r->sector * PVBLK_SECTOR_SIZE);
    if (ret < 0) {
        s->inflight--;
        push_used(s, r->id, status_of(ret));
        req_free(req);
    }
}

static void pvblk_doorbell(PvblkState *s)
{
    uint32_t avail;

    g_mutex_lock(&s->lock);
    if (!s->ring_gpa) {
        goto out;
    }
    avail = ring_load_avail(s);
    if (avail - s->last_avail > s->ring_size) {
        ferry_log("pvblk %s: avail_idx %u is more than a ring (%u) ahead of "
                  "%u: doorbell ignored", s->id, avail, s->ring_size,
                  s->last_avail);
        goto out;
    }
    while (s->last_avail != avail) {
        struct pvblk_req r;
        uint32_t slot = s->last_avail++ % s->ring_size;
        if (guest_mem_read(s->ring_gpa + PVBLK_REQ_OFF(slot), &r,
                           sizeof(r)) < 0) {
            break;      /* the ring was checked at set_ring: cannot happen */
        }
        submit_one(s, &r);
    }
out:
    g_mutex_unlock(&s->lock);
}

/* --- registers ------------------------------------------------------------ */

uint64_t pvblk_capacity_locked(PvblkState *s)
{
    int64_t len = bdrv_getlength(s->bs);

    if (len >= 0) {
        s->capacity = (uint64_t)len / PVBLK_SECTOR_SIZE;
    }
    return s->capacity;
}

static uint64_t pvblk_read(void *opaque, uint64_t off, unsigned size)
{
    PvblkState *s = opaque;
    uint64_t v = 0;

    g_mutex_lock(&s->lock);
    switch (off) {
    case PVBLK_REG_ID: v = PVBLK_DEV_MAGIC; break;
    case PVBLK_REG_CAPACITY: v = pvblk_capacity_locked(s); break;
    case PVBLK_REG_FLAGS: v = s->flags; break;
    case PVBLK_REG_RING_GPA: v = s->ring_gpa; break;
    case PVBLK_REG_RING_SIZE: v = s->ring_size; break;
    }
    g_mutex_unlock(&s->lock);
    return v;
}

/* A new ring (or none) starts from index 0 on both sides. */
static void set_ring(PvblkState *s, uint64_t gpa)
{
    g_mutex_lock(&s->lock);
    if (gpa && !pvblk_ring_valid(gpa, s->ring_size)) {
        ferry_log("pvblk %s: ring at 0x%" G_GINT64_MODIFIER "x of %u entries "
                  "refused (size a power of 2 <= %u, in RAM, 8-byte aligned)",
                  s->id, gpa, s->ring_size, PVBLK_RING_MAX);
        gpa = 0;
    }
    s->ring_gpa = gpa;
    s->last_avail = 0;
    s->used_idx = 0;
    s->ring_epoch++;
    g_mutex_unlock(&s->lock);
}

static void pvblk_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    PvblkState *s = opaque;

    switch (off) {
    case PVBLK_REG_RING_GPA:
        set_ring(s, v);
        break;
    case PVBLK_REG_RING_SIZE:
        /* The live ring was checked for its old size: a guest resizing it
         * under requests in flight must not reach past it (or divide by
         * 0).  Drop it; the guest writes RING_GPA next. */
        set_ring(s, 0);
        g_mutex_lock(&s->lock);
        s->ring_size = (uint32_t)MIN(v, (uint64_t)UINT32_MAX);
        g_mutex_unlock(&s->lock);
        break;
    case PVBLK_REG_DOORBELL:
        pvblk_doorbell(s);
        break;
    }
}

static const IOOps pvblk_ops = {
    .read = pvblk_read,
    .write = pvblk_write,
};

/* --- -device pvblk,drive=NODE,id=ID --------------------------------------- */

/* QEMU's rule for ids: a letter, then letters, digits, '-', '.', '_'. */
/* "pvblk,drive=NODE[,id=ID]" or its JSON form; driver= is implied. */
static bool parse_spec(const char *spec, char **drive, char **id,
                       GError **errp)
{
    static const char *const known[] = { "driver", "drive", "id", NULL };
    g_autoptr(Keyval) kv = keyval_parse(spec, "driver", errp);
    const char *type, *d, *i;

    if (!kv || !keyval_get_str(kv, "driver", &type, errp)) {
        return false;
    }
    if (g_strcmp0(type, "pvblk") != 0) {
        error_setg(errp, "unsupported device '%s' (ferry has: pvblk)",
                   type ? type : "");
        return false;
    }
    if (!keyval_check_known(kv, known, errp) ||
        !keyval_get_str(kv, "drive", &d, errp) ||
        !keyval_get_str(kv, "id", &i, errp)) {
        g_prefix_error(errp, "pvblk: ");
        return false;
    }
    *drive = g_strdup(d);
    *id = g_strdup(i);
    return true;
}

PvblkState *pvblk_get(unsigned index)
{
    return index < nr_devs ? devs[index] : NULL;
}

static PvblkState *find_id(const char *id)
{
    for (unsigned i = 0; i < nr_devs; i++) {
        if (!strcmp(devs[i]->id, id)) {
            return devs[i];
        }
    }
    return NULL;
}

/* Everything that can be refused before anything is claimed. */
static BlockDriverState *check_spec(BlockGraph *g, const char *drive,
                                    const char *id, GError **errp)
{
    BlockDriverState *bs;

    if (!drive || !*drive) {
        error_setg(errp, "pvblk: drive=NODE is required (the node-name of "
                   "a -blockdev)");
        return NULL;
    }
    if (id && !keyval_id_well_formed(id)) {
        error_setg(errp, "pvblk: invalid id '%s' (a letter, then letters, "
                   "digits, '-', '.', '_')", id);
        return NULL;
    }
    /* The migration section is "ID/pvblk" (pvblk_new). */
    if (id && strlen(id) > VMSTATE_IDSTR_MAX - strlen("/pvblk")) {
        error_setg(errp, "pvblk: id '%.32s...' is too long (at most %zu "
                   "characters)", id, VMSTATE_IDSTR_MAX - strlen("/pvblk"));
        return NULL;
    }
    if (id && find_id(id)) {
        error_setg(errp, "pvblk: duplicate id '%s'", id);
        return NULL;
    }
    if (nr_devs == PVBLK_MAX_DEVS) {
        error_setg(errp, "pvblk: at most %d pvblk devices", PVBLK_MAX_DEVS);
        return NULL;
    }
    bs = bdrv_find(g, drive);
    if (!bs) {
        error_setg(errp, "pvblk: no block node named '%s'", drive);
    }
    return bs;
}

static PvblkState *pvblk_new(BlockDriverState *bs, const char *id)
{
    PvblkState *s = g_new0(PvblkState, 1);

    s->index = nr_devs;
    s->bs = bs;
    s->id = id ? g_strdup(id) : g_strdup_printf("#pvblk%u", s->index);
    /* Named by id, so a destination with its disks in another order still
     * loads each state into the right device. */
    s->section = id ? g_strdup_printf("%s/pvblk", id) : g_strdup("pvblk");
    s->instance = id ? 0 : s->index;
    s->flags = bdrv_is_read_only(bs) ? PVBLK_F_READ_ONLY : 0;
    g_mutex_init(&s->lock);
    g_cond_init(&s->idle);
    return s;
}

static void pvblk_free(PvblkState *s)
{
    g_mutex_clear(&s->lock);
    g_cond_clear(&s->idle);
    g_free(s->id);
    g_free(s->section);
    g_free(s);
}

bool pvblk_create(BlockGraph *g, const char *spec, GError **errp)
{
    g_autofree char *drive = NULL, *id = NULL;
    BlockDriverState *bs;
    PvblkState *s;

    if (!parse_spec(spec, &drive, &id, errp) ||
        !(bs = check_spec(g, drive, id, errp))) {
        return false;
    }
    s = pvblk_new(bs, id);
    /* Every step that can be undone first: a refusal leaves nothing. */
    if (!pvblk_vmstate_register(machine_migration(), s, errp)) {
        pvblk_free(s);
        return false;
    }
    if (!bdrv_claim(bs, s->id, errp)) {
        g_prefix_error(errp, "pvblk: ");
        pvblk_vmstate_unregister(machine_migration(), s);
        pvblk_free(s);
        return false;
    }
    if (!completions) {
        completions = g_thread_pool_new(pvblk_finish, NULL, 1, TRUE, NULL);
    }
    devs[nr_devs++] = s;
    /* Last, as it cannot be undone: fails only for a machine with too
     * many or overlapping regions, which does not start anyway. */
    return io_region_register(IO_SPACE_MMIO, PVBLK_DEV_ADDR(s->index),
                              PVBLK_DEV_SIZE, "pvblk", &pvblk_ops, s, errp);
}

/* --- drain and teardown --------------------------------------------------- */

static void pvblk_drain(PvblkState *s)
{
    gint64 t0 = g_get_monotonic_time();
    unsigned waited;

    g_mutex_lock(&s->lock);
    waited = s->inflight;
    while (s->inflight) {
        g_cond_wait(&s->idle, &s->lock);
    }
    g_mutex_unlock(&s->lock);
    if (waited) {
        ferry_log("pvblk %s: drained %u request(s) in flight in %.3f ms",
                  s->id, waited, (g_get_monotonic_time() - t0) / 1000.0);
    }
}

void pvblk_drain_all(void)
{
    for (unsigned i = 0; i < nr_devs; i++) {
        pvblk_drain(devs[i]);
    }
}

void pvblk_stats_foreach(void (*fn)(const char *id, BlockDriverState *bs,
                                    const PvblkStats *st, void *opaque),
                         void *opaque)
{
    for (unsigned i = 0; i < nr_devs; i++) {
        PvblkState *s = devs[i];
        PvblkStats st;

        g_mutex_lock(&s->lock);
        st = s->stats;
        g_mutex_unlock(&s->lock);
        fn(s->id, s->bs, &st, opaque);
    }
}

void pvblk_destroy_all(void)
{
    pvblk_drain_all();
    for (unsigned i = 0; i < nr_devs; i++) {
        PvblkState *s = devs[i];
        if (s->nr_reads + s->nr_writes + s->nr_flushes) {
            ferry_log("pvblk %s: %" G_GUINT64_FORMAT " reads, %"
                      G_GUINT64_FORMAT " writes, %" G_GUINT64_FORMAT
                      " flushes, %" G_GUINT64_FORMAT " failed", s->id,
                      s->nr_reads, s->nr_writes, s->nr_flushes, s->nr_errors);
        }
        pvblk_vmstate_unregister(machine_migration(), s);
        pvblk_free(s);
        devs[i] = NULL;
    }
    nr_devs = 0;
    if (completions) {
        g_thread_pool_free(completions, FALSE, TRUE);
        completions = NULL;
    }
}
