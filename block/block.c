/*
 * The block layer core: the graph of named nodes, the lifecycle with its
 * state checks, and the bookkeeping around every request (range and state
 * checks, in-flight counting for drain).  A VMM has one graph per VM.
 *
 * Locking:
 * - The graph's lock guards its nodes, names, parent links and claims.
 * - Each node's lock guards its state as the data path sees it and its
 *   in-flight counter, so a request is either refused or counted before a
 *   state change drains: inactivate cannot miss a write that passed its
 *   state check.  Lifecycle calls are serialised by their callers (one at
 *   a time per node, see block.h); they take node locks only briefly.
 */
#include <errno.h>
#include <string.h>
#include "block/block_int.h"
#include "util/error.h"

struct BlockGraph {
    GMutex lock;
    GPtrArray *nodes;           /* lock; creation order */
    BlockImageFdFn *image_fd_source;    /* set before any attach */
    void *image_fd_opaque;
};

struct BlockDriverState {
    BlockGraph *graph;
    const BlockDriver *drv;
    char *node_name;
    bool read_only;
    bool direct;
    BlockDriverState *child;
    BlockDriverState *parent;
    char *device;
    void *opaque;

    GMutex lock;
    GCond drained;
    BlockNodeState state;
    unsigned in_flight;
    int64_t length;
    int64_t attach_ns;
    int64_t activate_ns;
};

/* The core's wrapper around what the driver sees. */
typedef struct BdrvReq {
    BlockRequest req;
    BlockDriverState *bs;
    BlockCompletionFunc *cb;
    void *opaque;
    struct iovec iov[];
} BdrvReq;

static int64_t now_ns(void)
{
    return g_get_monotonic_time() * 1000;
}

/* --- registry ------------------------------------------------------------- */

BlockGraph *bdrv_graph_new(void)
{
    BlockGraph *g = g_new0(BlockGraph, 1);

    g_mutex_init(&g->lock);
    g->nodes = g_ptr_array_new();
    return g;
}

void bdrv_graph_free(BlockGraph *g)
{
    if (g) {
        blockdev_del_all(g);
        g_ptr_array_unref(g->nodes);
        g_mutex_clear(&g->lock);
        g_free(g);
    }
}

static BlockDriverState *find_locked(BlockGraph *g, const char *node_name)
{
    for (guint i = 0; i < g->nodes->len; i++) {
        BlockDriverState *bs = g_ptr_array_index(g->nodes, i);
        if (!strcmp(bs->node_name, node_name)) {
            return bs;
        }
    }
    return NULL;
}

static bool link_child_locked(BlockDriverState *bs, BlockDriverState *child,
                              GError **errp)
{
    if (child->parent) {
        error_setg(errp, "Node '%s' is already used by node '%s'",
                   child->node_name, child->parent->node_name);
        return false;
    }
    if (child->device) {
        error_setg(errp, "Node '%s' is already used by device '%s'",
                   child->node_name, child->device);
        return false;
    }
    child->parent = bs;
    return true;
}

BlockDriverState *bdrv_new_node(BlockGraph *g, const BlockDriver *drv,
                                const char *node_name, bool read_only,
                                BlockDriverState *child, const Keyval *opts,
                                GError **errp)
{
    BlockDriverState *bs = g_new0(BlockDriverState, 1);

    bs->graph = g;
    bs->drv = drv;
    bs->node_name = g_strdup(node_name);
    bs->read_only = read_only || drv->always_read_only ||
                    (child && child->read_only);
    bs->length = -ENOMEDIUM;
    bs->opaque = g_malloc0(drv->instance_size ? drv->instance_size : 1);
    g_mutex_init(&bs->lock);
    g_cond_init(&bs->drained);

    /* Outside the graph's lock: a driver may look at other nodes. */
    bs->child = child;
    if (drv->configure && !drv->configure(bs, opts, errp)) {
        goto fail;
    }
    g_mutex_lock(&g->lock);
    if (find_locked(g, node_name)) {
        error_setg(errp, "Duplicate node name '%s'", node_name);
        goto fail_locked;
    }
    if (child && !link_child_locked(bs, child, errp)) {
        goto fail_locked;
    }
    g_ptr_array_add(g->nodes, bs);
    g_mutex_unlock(&g->lock);
    return bs;

fail_locked:
    g_mutex_unlock(&g->lock);
    if (drv->cleanup) {
        drv->cleanup(bs);
    }
fail:
    g_mutex_clear(&bs->lock);
    g_cond_clear(&bs->drained);
    g_free(bs->opaque);
    g_free(bs->node_name);
    g_free(bs);
    return NULL;
}

BlockDriverState *bdrv_find(BlockGraph *g, const char *node_name)
{
    BlockDriverState *bs;

    g_mutex_lock(&g->lock);
    bs = find_locked(g, node_name);
    g_mutex_unlock(&g->lock);
    return bs;
}

GPtrArray *bdrv_nodes(BlockGraph *g)
{
    GPtrArray *arr = g_ptr_array_new();

    g_mutex_lock(&g->lock);
    for (guint i = 0; i < g->nodes->len; i++) {
        g_ptr_array_add(arr, g_ptr_array_index(g->nodes, i));
    }
    g_mutex_unlock(&g->lock);
    return arr;
}

static void bdrv_free(BlockDriverState *bs)
{
    if (bs->drv->cleanup) {
        bs->drv->cleanup(bs);
    }
    g_mutex_clear(&bs->lock);
    g_cond_clear(&bs->drained);
    g_free(bs->opaque);
    g_free(bs->device);
    g_free(bs->node_name);
    g_free(bs);
}

void blockdev_del_all(BlockGraph *g)
{
    g_autoptr(GPtrArray) all = bdrv_nodes(g);

    /* Parents were created after their children: walk backwards. */
    for (guint i = all->len; i-- > 0;) {
        bdrv_detach(g_ptr_array_index(all, i));
    }
    g_mutex_lock(&g->lock);
    g_ptr_array_set_size(g->nodes, 0);
    g_mutex_unlock(&g->lock);
    for (guint i = all->len; i-- > 0;) {
        bdrv_free(g_ptr_array_index(all, i));
    }
}

/* --- accessors ------------------------------------------------------------ */

void *bdrv_opaque(BlockDriverState *bs)
{
    return bs->opaque;
}

const char *bdrv_node_name(const BlockDriverState *bs)
{
    return bs->node_name;
}

const char *bdrv_driver_name(const BlockDriverState *bs)
{
    return bs->drv->name;
}

void bdrv_graph_set_image_fd_source(BlockGraph *g, BlockImageFdFn *fn,
                                    void *opaque)
{
    g->image_fd_source = fn;
    g->image_fd_opaque = opaque;
}

int bdrv_take_image_fd(BlockDriverState *bs)
{
    BlockGraph *g = bs->graph;

    return g->image_fd_source ?
           g->image_fd_source(g->image_fd_opaque, bs->node_name) : -1;
}

int bdrv_image_fd(BlockDriverState *bs)
{
    return bs->drv->image_fd ? bs->drv->image_fd(bs) : -1;
}

const char *bdrv_filename(const BlockDriverState *bs)
{
    if (bs->drv->filename) {
        return bs->drv->filename((BlockDriverState *)bs);
    }
    return bs->child ? bdrv_filename(bs->child) : "";
}

BlockDriverState *bdrv_child(const BlockDriverState *bs)
{
    return bs->child;
}

BlockDriverState *bdrv_parent(const BlockDriverState *bs)
{
    BlockDriverState *parent;

    g_mutex_lock(&bs->graph->lock);
    parent = bs->parent;
    g_mutex_unlock(&bs->graph->lock);
    return parent;
}

BlockNodeState bdrv_state(const BlockDriverState *bs)
{
    return __atomic_load_n(&bs->state, __ATOMIC_ACQUIRE);
}

const char *bdrv_state_str(BlockNodeState st)
{
    switch (st) {
    case BLOCK_NODE_CONFIGURED:
        return "configured";
    case BLOCK_NODE_ATTACHED:
        return "attached";
    case BLOCK_NODE_ACTIVE:
        return "active";
    }
    return "unknown";
}

bool bdrv_is_read_only(const BlockDriverState *bs)
{
    return bs->read_only;
}

void bdrv_set_direct(BlockDriverState *bs, bool direct)
{
    bs->direct = direct;
}

bool bdrv_is_direct(const BlockDriverState *bs)
{
    return bs->direct || (bs->child && bdrv_is_direct(bs->child));
}

int64_t bdrv_getlength(const BlockDriverState *bs)
{
    return __atomic_load_n(&bs->length, __ATOMIC_ACQUIRE);
}

int64_t bdrv_last_attach_ns(const BlockDriverState *bs)
{
    return __atomic_load_n(&bs->attach_ns, __ATOMIC_RELAXED);
}

int64_t bdrv_last_activate_ns(const BlockDriverState *bs)
{
    return __atomic_load_n(&bs->activate_ns, __ATOMIC_RELAXED);
}

bool bdrv_claim(BlockDriverState *bs, const char *device_id, GError **errp)
{
    bool ok = false;

    g_mutex_lock(&bs->graph->lock);
    if (bs->device) {
        error_setg(errp, "Node '%s' is already in use by device '%s'",
                   bs->node_name, bs->device);
    } else if (bs->parent) {
        error_setg(errp, "Node '%s' is already in use by node '%s'",
                   bs->node_name, bs->parent->node_name);
    } else {
        bs->device = g_strdup(device_id);
        ok = true;
    }
    g_mutex_unlock(&bs->graph->lock);
    return ok;
}

const char *bdrv_device(const BlockDriverState *bs)
{
    return bs->device;
}

/* --- lifecycle ------------------------------------------------------------ */

static void set_state(BlockDriverState *bs, BlockNodeState st)
{
    g_mutex_lock(&bs->lock);
    __atomic_store_n(&bs->state, st, __ATOMIC_RELEASE);
    g_mutex_unlock(&bs->lock);
}

static void drain_one(BlockDriverState *bs)
{
    g_mutex_lock(&bs->lock);
    while (bs->in_flight) {
        g_cond_wait(&bs->drained, &bs->lock);
    }
    g_mutex_unlock(&bs->lock);
}

void bdrv_drain(BlockDriverState *bs)
{
    /* A filter's request completes only after its child's did, so the
     * child has nothing of the parent's left once the parent is drained. */
    for (; bs; bs = bs->child) {
        drain_one(bs);
    }
}

bool bdrv_attach(BlockDriverState *bs, GError **errp)
{
    bool child_was_configured;
    int64_t start, length = 0;

    if (bdrv_state(bs) != BLOCK_NODE_CONFIGURED) {
        return true;
    }
    start = now_ns();
    child_was_configured = bs->child &&
                           bdrv_state(bs->child) == BLOCK_NODE_CONFIGURED;
    if (bs->child && !bdrv_attach(bs->child, errp)) {
        return false;
    }
    if (!bs->drv->attach(bs, &length, errp)) {
        if (child_was_configured) {
            bdrv_detach(bs->child);
        }
        return false;
    }
    __atomic_store_n(&bs->length, length, __ATOMIC_RELEASE);
    __atomic_store_n(&bs->attach_ns, now_ns() - start, __ATOMIC_RELAXED);
    set_state(bs, BLOCK_NODE_ATTACHED);
    return true;
}

bool bdrv_activate(BlockDriverState *bs, GError **errp)
{
    int64_t start;

    if (bdrv_state(bs) == BLOCK_NODE_ACTIVE) {
        return true;
    }
    if (!bdrv_attach(bs, errp)) {
        return false;
    }
    start = now_ns();
    if (bs->child && !bdrv_activate(bs->child, errp)) {
        return false;
    }
    if (bs->drv->activate && !bs->drv->activate(bs, errp)) {
        return false;
    }
    __atomic_store_n(&bs->activate_ns, now_ns() - start, __ATOMIC_RELAXED);
    set_state(bs, BLOCK_NODE_ACTIVE);
    return true;
}

bool bdrv_inactivate(BlockDriverState *bs, GError **errp)
{
    if (bdrv_state(bs) == BLOCK_NODE_ACTIVE) {
        /* Refuse new writes first, then wait for those already accepted. */
        set_state(bs, BLOCK_NODE_ATTACHED);
        drain_one(bs);
        if (bs->drv->inactivate && !bs->drv->inactivate(bs, errp)) {
            set_state(bs, BLOCK_NODE_ACTIVE);
            return false;
        }
    }
    return !bs->child || bdrv_inactivate(bs->child, errp);
}

void bdrv_detach(BlockDriverState *bs)
{
    g_autoptr(GError) err = NULL;

    if (bdrv_state(bs) != BLOCK_NODE_CONFIGURED) {
        if (!bdrv_inactivate(bs, &err)) {
            g_warning("block: node '%s': %s (detaching anyway)",
                      bs->node_name, err->message);
        }
        set_state(bs, BLOCK_NODE_CONFIGURED);
        drain_one(bs);
        bs->drv->detach(bs);
        __atomic_store_n(&bs->length, -ENOMEDIUM, __ATOMIC_RELEASE);
    }
    if (bs->child) {
        bdrv_detach(bs->child);
    }
}

typedef bool NodeFn(BlockDriverState *bs, GError **errp);

/*
 * Parents first: a lifecycle call on a node applies to its child too, in
 * the right order, so each top node's timing covers its whole stack (the
 * child's own call is then a no-op).
 */
static bool for_each_node(BlockGraph *g, NodeFn *fn, GError **errp)
{
    g_autoptr(GPtrArray) all = bdrv_nodes(g);

    for (guint n = all->len; n-- > 0;) {
        if (!fn(g_ptr_array_index(all, n), errp)) {
            return false;
        }
    }
    return true;
}

bool bdrv_attach_all(BlockGraph *g, GError **errp)
{
    return for_each_node(g, bdrv_attach, errp);
}

bool bdrv_activate_all(BlockGraph *g, GError **errp)
{
    return for_each_node(g, bdrv_activate, errp);
}

bool bdrv_inactivate_all(BlockGraph *g, GError **errp)
{
    return for_each_node(g, bdrv_inactivate, errp);
}

/* --- asynchronous I/O ----------------------------------------------------- */

static void bdrv_req_complete(BlockRequest *req, int ret)
{
    BdrvReq *r = (BdrvReq *)req;
    BlockDriverState *bs = r->bs;

    /* The callback runs before the count drops, so a drain that returns
     * has seen every completion delivered (pvblk relies on it). */
    r->cb(r->opaque, ret);
    g_free(r);
    g_mutex_lock(&bs->lock);
    if (--bs->in_flight == 0) {
        g_cond_broadcast(&bs->drained);
    }
    g_mutex_unlock(&bs->lock);
}

/* Checks the request against the node's state and counts it in flight. */
static int bdrv_req_start(BlockDriverState *bs, BlockReqType type,
                          uint64_t offset, uint64_t bytes)
{
    int ret = 0;

    g_mutex_lock(&bs->lock);
    if (bs->state == BLOCK_NODE_CONFIGURED) {
        ret = -ENOMEDIUM;
    } else if (type == BLOCK_REQ_WRITE && bs->read_only) {
        ret = -EROFS;
    } else if (type != BLOCK_REQ_READ && bs->state != BLOCK_NODE_ACTIVE) {
        ret = -EPERM;
    } else if (type != BLOCK_REQ_FLUSH &&
               (offset > (uint64_t)bs->length ||
                bytes > (uint64_t)bs->length - offset)) {
        ret = -EINVAL;
    } else {
        bs->in_flight++;
    }
    g_mutex_unlock(&bs->lock);
    return ret;
}

static void bdrv_req_abort(BlockDriverState *bs)
{
    g_mutex_lock(&bs->lock);
    if (--bs->in_flight == 0) {
        g_cond_broadcast(&bs->drained);
    }
    g_mutex_unlock(&bs->lock);
}

static int bdrv_aio_submit(BlockDriverState *bs, BlockReqType type,
                           uint64_t offset, const struct iovec *iov,
                           int iovcnt, BlockCompletionFunc *cb, void *opaque)
{
    uint64_t bytes = 0;
    BdrvReq *r;
    int ret;

    if (iovcnt < 0 || (iovcnt > 0 && !iov)) {
        return -EINVAL;
    }
    for (int i = 0; i < iovcnt; i++) {
        bytes += iov[i].iov_len;
    }
    if (type != BLOCK_REQ_FLUSH && bdrv_is_direct(bs) &&
        ((offset | bytes) & (BDRV_SECTOR_SIZE - 1))) {
        return -EINVAL;
    }
    ret = bdrv_req_start(bs, type, offset, bytes);
    if (ret < 0) {
        return ret;
    }
    r = g_malloc0(sizeof(*r) + sizeof(struct iovec) * iovcnt);
    if (iovcnt) {
        memcpy(r->iov, iov, sizeof(struct iovec) * iovcnt);
    }
    r->req = (BlockRequest) {
        .type = type,
        .offset = offset,
        .bytes = bytes,
        .iov = r->iov,
        .iovcnt = iovcnt,
        .complete = bdrv_req_complete,
    };
    r->bs = bs;
    r->cb = cb;
    r->opaque = opaque;
    ret = bs->drv->submit(bs, &r->req);
    if (ret < 0) {
        g_free(r);
        bdrv_req_abort(bs);
    }
    return ret;
}

int bdrv_aio_preadv(BlockDriverState *bs, uint64_t offset,
                    const struct iovec *iov, int iovcnt,
                    BlockCompletionFunc *cb, void *opaque)
{
    return bdrv_aio_submit(bs, BLOCK_REQ_READ, offset, iov, iovcnt, cb,
                           opaque);
}

int bdrv_aio_pwritev(BlockDriverState *bs, uint64_t offset,
                     const struct iovec *iov, int iovcnt,
                     BlockCompletionFunc *cb, void *opaque)
{
    return bdrv_aio_submit(bs, BLOCK_REQ_WRITE, offset, iov, iovcnt, cb,
                           opaque);
}

int bdrv_aio_flush(BlockDriverState *bs, BlockCompletionFunc *cb,
                   void *opaque)
{
    return bdrv_aio_submit(bs, BLOCK_REQ_FLUSH, 0, NULL, 0, cb, opaque);
}

/* --- synchronous wrappers ------------------------------------------------- */

typedef struct SyncWait {
    GMutex lock;
    GCond cond;
    bool done;
    int ret;
} SyncWait;

static void sync_done(void *opaque, int ret)
{
    SyncWait *w = opaque;

    g_mutex_lock(&w->lock);
    w->ret = ret;
    w->done = true;
    g_cond_signal(&w->cond);
    g_mutex_unlock(&w->lock);
}

static int sync_io(BlockDriverState *bs, BlockReqType type, uint64_t offset,
                   void *buf, uint64_t bytes)
{
    struct iovec iov = { .iov_base = buf, .iov_len = bytes };
    SyncWait w = { .done = false };
    int ret;

    g_mutex_init(&w.lock);
    g_cond_init(&w.cond);
    ret = bdrv_aio_submit(bs, type, offset, &iov, type == BLOCK_REQ_FLUSH ? 0 : 1,
                          sync_done, &w);
    if (ret == 0) {
        g_mutex_lock(&w.lock);
        while (!w.done) {
            g_cond_wait(&w.cond, &w.lock);
        }
        ret = w.ret;
        g_mutex_unlock(&w.lock);
    }
    g_mutex_clear(&w.lock);
    g_cond_clear(&w.cond);
    return ret;
}

int bdrv_pread(BlockDriverState *bs, uint64_t offset, void *buf,
               uint64_t bytes)
{
    return sync_io(bs, BLOCK_REQ_READ, offset, buf, bytes);
}

int bdrv_pwrite(BlockDriverState *bs, uint64_t offset, const void *buf,
                uint64_t bytes)
{
    return sync_io(bs, BLOCK_REQ_WRITE, offset, (void *)buf, bytes);
}

int bdrv_flush(BlockDriverState *bs)
{
    return sync_io(bs, BLOCK_REQ_FLUSH, 0, NULL, 0);
}
