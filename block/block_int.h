/*
 * The driver side of the block layer (see block/block.h for the node
 * lifecycle).  A driver is a table of callbacks; block/drivers.c lists
 * every driver ferry has (a static library drops self-registering
 * constructors, so the list is explicit).
 *
 * The core does the bookkeeping that is the same for every driver: state
 * checks, range checks, counting in-flight requests for drain, timing the
 * lifecycle steps, attaching and activating the child first.  A driver
 * callback sees only valid calls.
 */
#ifndef FERRY_BLOCK_BLOCK_INT_H
#define FERRY_BLOCK_BLOCK_INT_H

#include "ferry/block.h"
#include "util/keyval.h"

typedef enum BlockReqType {
    BLOCK_REQ_READ,
    BLOCK_REQ_WRITE,
    BLOCK_REQ_FLUSH,
} BlockReqType;

/* One request as a driver receives it; the core owns its memory. */
typedef struct BlockRequest {
    BlockReqType type;
    uint64_t offset;
    uint64_t bytes;             /* sum of iov lengths; 0 for flush */
    struct iovec *iov;
    int iovcnt;
    /* The driver calls this exactly once, from any thread but never
     * inside submit (a synchronous failure is returned instead). */
    void (*complete)(struct BlockRequest *req, int ret);
    void *driver_data;          /* free for the driver's use */
} BlockRequest;

typedef struct BlockDriver {
    const char *name;           /* "file", "http", "blkdelay" */
    size_t instance_size;       /* zeroed, freed by the core */
    /* Keys the driver accepts besides driver, node-name, read-only. */
    const char *const *options;
    bool always_read_only;      /* http: read-only=on is implied */
    bool has_child;             /* a filter: "file=NODE" names its child */

    /*
     * Reads the driver's own keys from @opts, the whole -blockdev (whose
     * keys blockdev.c has checked against .options) with the typed
     * getters of util/keyval.h; nothing is opened here.
     */
    bool (*configure)(BlockDriverState *bs, const Keyval *opts,
                      GError **errp);
    /* Returns the length in bytes via *@length. */
    bool (*attach)(BlockDriverState *bs, int64_t *length, GError **errp);
    bool (*activate)(BlockDriverState *bs, GError **errp);     /* optional */
    /* Called drained; flushing is the driver's job. */
    bool (*inactivate)(BlockDriverState *bs, GError **errp);   /* optional */
    void (*detach)(BlockDriverState *bs);
    void (*cleanup)(BlockDriverState *bs);     /* optional: undo configure */
    /* 0 or -errno (then req->complete is not called). */
    int (*submit)(BlockDriverState *bs, BlockRequest *req);
    /* The file name query-block shows (optional: the child's). */
    const char *(*filename)(BlockDriverState *bs);
    /* The open image's descriptor, or -1 (optional). */
    int (*image_fd)(BlockDriverState *bs);
} BlockDriver;

/* The driver's instance data (instance_size bytes). */
void *bdrv_opaque(BlockDriverState *bs);
/*
 * For a driver's attach: a descriptor of the image opened already by
 * somebody else (the graph's image fd source: a live update), now the
 * driver's; -1 to open the image itself.
 */
int bdrv_take_image_fd(BlockDriverState *bs);

extern const BlockDriver bdrv_file;
extern const BlockDriver bdrv_http;
extern const BlockDriver bdrv_https;
extern const BlockDriver bdrv_blkdelay;

/* Driver lookup by name (block/drivers.c). */
const BlockDriver *bdrv_find_driver(const char *name);
/* "file, http, blkdelay": for error messages. */
char *bdrv_driver_names(void);

/*
 * For blockdev.c: creates and registers a node from validated options
 * and runs drv->configure on @opts.
 * @child, for a filter, must not have a parent or a device yet.
 */
BlockDriverState *bdrv_new_node(BlockGraph *g, const BlockDriver *drv,
                                const char *node_name, bool read_only,
                                BlockDriverState *child, const Keyval *opts,
                                GError **errp);

/* A driver whose node bypasses the host page cache says so at configure
 * time; the core then refuses requests not aligned to BDRV_SECTOR_SIZE. */
void bdrv_set_direct(BlockDriverState *bs, bool direct);

/* The node whose "file=" names @bs, or NULL. */
BlockDriverState *bdrv_parent(const BlockDriverState *bs);

#endif
