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
     * Parses the driver's options from @opts (key -> value strings, only
     * keys listed in .options); nothing is opened here.
     */
    bool (*configure)(BlockDriverState *bs, GHashTable *opts, GError **errp);
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
} BlockDriver;

/* The driver's instance data (instance_size bytes). */
void *bdrv_opaque(BlockDriverState *bs);

extern const BlockDriver bdrv_file;
extern const BlockDriver bdrv_http;
extern const BlockDriver bdrv_https;
extern const BlockDriver bdrv_blkdelay;

/* Driver lookup by name (block/drivers.c). */
const BlockDriver *bdrv_find_driver(const char *name);
/* "file, http, blkdelay": for error messages. */
char *bdrv_driver_names(void);

/* Options every driver parses the same way; "on"/"off" (also yes/no,
 * true/false).  @dflt when the key is absent; errors name the key and
 * the value. */
bool bdrv_opt_bool(GHashTable *opts, const char *key, bool dflt,
                   bool *out, GError **errp);
bool bdrv_opt_u64(GHashTable *opts, const char *key, uint64_t dflt,
                  uint64_t *out, GError **errp);
/* A size: plain bytes, or with a K/M/G/T suffix ("1M"), as QEMU's. */
bool bdrv_opt_size(GHashTable *opts, const char *key, uint64_t dflt,
                   uint64_t *out, GError **errp);

/*
 * For blockdev.c: creates and registers a node from validated options
 * (@drv_opts holds only the driver's own keys) and runs drv->configure.
 * @child, for a filter, must not have a parent or a device yet.
 */
BlockDriverState *bdrv_new_node(BlockGraph *g, const BlockDriver *drv,
                                const char *node_name, bool read_only,
                                BlockDriverState *child, GHashTable *drv_opts,
                                GError **errp);

/* A driver whose node bypasses the host page cache says so at configure
 * time; the core then refuses requests not aligned to BDRV_SECTOR_SIZE. */
void bdrv_set_direct(BlockDriverState *bs, bool direct);

/* The node whose "file=" names @bs, or NULL. */
BlockDriverState *bdrv_parent(const BlockDriverState *bs);

#endif
