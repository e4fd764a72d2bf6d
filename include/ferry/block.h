/*
 * The block layer: named nodes ("-blockdev driver=file,node-name=f0,..."),
 * each backed by a driver, with a lifecycle split the way migration needs
 * it (Xen's VBD attach/activate split):
 *
 *   configured --attach--> attached --activate--> active
 *        ^                  |   ^                   |
 *        +------detach------+   +----inactivate-----+
 *
 * attach:     open the backend, take the shared image lock, probe the
 *             length, connect, warm caches.  Slow backends are slow here,
 *             so a migration destination does it early, outside the
 *             downtime.  Reads are allowed from attached on.
 * activate:   take the exclusive write lock and accept writes.  At most
 *             one process holds it for an image at any moment.
 * inactivate: drain in-flight requests, flush, release the write lock.
 * detach:     close.
 *
 * A filter (blkdelay) has a child node, named by its "file=" option; the
 * lifecycle calls on a node apply to its child first (attach, activate)
 * or last (inactivate, detach).
 *
 * Threads: lifecycle calls come from the main loop or a migration thread,
 * one at a time per node.  I/O may be submitted from any thread (vCPU
 * threads do); completion callbacks run on a driver thread (the io_uring
 * reaper, a pool worker, the HTTP thread), never inside the submit call,
 * and must not block.  Data path: -errno; control plane: GError.
 */
#ifndef FERRY_BLOCK_H
#define FERRY_BLOCK_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <ferry/api.h>

#define BDRV_SECTOR_SIZE 512

typedef struct BlockDriverState BlockDriverState;
/* The nodes of one VM, by name (one graph per VM). */
typedef struct BlockGraph BlockGraph;

typedef enum BlockNodeState {
    BLOCK_NODE_CONFIGURED,      /* options parsed, nothing opened */
    BLOCK_NODE_ATTACHED,        /* open, shared lock: reads only */
    BLOCK_NODE_ACTIVE,          /* exclusive write lock: reads and writes */
} BlockNodeState;

/* @ret: 0 or -errno.  Called exactly once per accepted request. */
typedef void BlockCompletionFunc(void *opaque, int ret);

FERRY_API BlockGraph *bdrv_graph_new(void);
/* Detaches and frees every node, then the graph. */
FERRY_API void bdrv_graph_free(BlockGraph *g);

/*
 * Creates a node in @g from the -blockdev syntax: "driver=NAME,
 * node-name=NAME,KEY=VALUE,...".  Common keys: driver, node-name
 * (required), read-only=on|off; the rest belong to the driver.  Nothing
 * is opened.  Errors name the offending key or value.
 */
FERRY_API BlockDriverState *blockdev_add(BlockGraph *g, const char *spec,
                                         GError **errp);
/* Detaches and frees every node of @g (tests, exit). */
FERRY_API void blockdev_del_all(BlockGraph *g);

FERRY_API BlockDriverState *bdrv_find(BlockGraph *g, const char *node_name);

/*
 * Handing images over to another process (a live update) without
 * reopening them: the image locks are open file description locks, so
 * they travel with the descriptor.  bdrv_image_fd() is the open image's
 * descriptor (still the node's; -1 for drivers without one, such as
 * http).  In the process that takes over, @fn gives the descriptor to
 * attach node @node_name with (the node's from then on), or -1 to open
 * the image as usual.  Set before the first attach.
 */
typedef int BlockImageFdFn(void *opaque, const char *node_name);
FERRY_API void bdrv_graph_set_image_fd_source(BlockGraph *g,
                                              BlockImageFdFn *fn,
                                              void *opaque);
FERRY_API int bdrv_image_fd(BlockDriverState *bs);
/* Every node in creation order (children before their parents). */
FERRY_API GPtrArray *bdrv_nodes(BlockGraph *g);

FERRY_API const char *bdrv_node_name(const BlockDriverState *bs);
FERRY_API const char *bdrv_driver_name(const BlockDriverState *bs);
/* What the node reads: a path, a URL, or its child's filename. */
FERRY_API const char *bdrv_filename(const BlockDriverState *bs);
/* The node a filter reads from, or NULL. */
FERRY_API BlockDriverState *bdrv_child(const BlockDriverState *bs);
FERRY_API BlockNodeState bdrv_state(const BlockDriverState *bs);
FERRY_API const char *bdrv_state_str(BlockNodeState st);
FERRY_API bool bdrv_is_read_only(const BlockDriverState *bs);
/* cache.direct=on */
FERRY_API bool bdrv_is_direct(const BlockDriverState *bs);
/* The length in bytes, known from attach on; -ENOMEDIUM before. */
FERRY_API int64_t bdrv_getlength(const BlockDriverState *bs);
/* Nanoseconds the last attach / activate took (0: never ran). */
FERRY_API int64_t bdrv_last_attach_ns(const BlockDriverState *bs);
FERRY_API int64_t bdrv_last_activate_ns(const BlockDriverState *bs);

/* A device (pvblk) claims a node as its drive; one device per node. */
FERRY_API bool bdrv_claim(BlockDriverState *bs, const char *device_id,
                          GError **errp);
/* The device that claimed @bs, or NULL. */
FERRY_API const char *bdrv_device(const BlockDriverState *bs);

/* Lifecycle of one node (and its child); idempotent. */
FERRY_API bool bdrv_attach(BlockDriverState *bs, GError **errp);
/* Attaches first if it must. */
FERRY_API bool bdrv_activate(BlockDriverState *bs, GError **errp);
FERRY_API bool bdrv_inactivate(BlockDriverState *bs, GError **errp);
FERRY_API void bdrv_detach(BlockDriverState *bs);

/* The same over every node; stop at the first error. */
FERRY_API bool bdrv_attach_all(BlockGraph *g, GError **errp);
FERRY_API bool bdrv_activate_all(BlockGraph *g, GError **errp);
FERRY_API bool bdrv_inactivate_all(BlockGraph *g, GError **errp);

/* Waits until no request of @bs (or its child) is in flight. */
FERRY_API void bdrv_drain(BlockDriverState *bs);

/*
 * Asynchronous I/O.  Returns 0 when the request was accepted (@cb will be
 * called), or -errno at once and @cb is never called: -ENOMEDIUM when not
 * attached, -EPERM for a write or flush when not active, -EROFS on a
 * read-only node, -EINVAL beyond the end or for an unaligned O_DIRECT
 * request.  The iovec array is copied; the buffers must live until @cb.
 */
FERRY_API int bdrv_aio_preadv(BlockDriverState *bs, uint64_t offset,
                              const struct iovec *iov, int iovcnt,
                              BlockCompletionFunc *cb, void *opaque);
FERRY_API int bdrv_aio_pwritev(BlockDriverState *bs, uint64_t offset,
                               const struct iovec *iov, int iovcnt,
                               BlockCompletionFunc *cb, void *opaque);
FERRY_API int bdrv_aio_flush(BlockDriverState *bs, BlockCompletionFunc *cb,
                             void *opaque);

/* Synchronous wrappers (tests, tools): 0 or -errno. */
FERRY_API int bdrv_pread(BlockDriverState *bs, uint64_t offset, void *buf,
                         uint64_t bytes);
FERRY_API int bdrv_pwrite(BlockDriverState *bs, uint64_t offset,
                          const void *buf, uint64_t bytes);
FERRY_API int bdrv_flush(BlockDriverState *bs);

#endif
