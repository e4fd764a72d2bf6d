/* The machine's block graph: its -blockdev nodes (ferry/block.h). */
#include "system/live-update.h"
#include "system/machine.h"

static BlockGraph *block_graph;

/* A live update's successor attaches on the images its predecessor has
 * open: their locks are held by those open files. */
static int handed_image(void *opaque, const char *node_name)
{
    g_autofree char *name = g_strconcat("blk:", node_name, NULL);

    return live_update_take_fd(name, NULL);
}

BlockGraph *machine_block_graph(void)
{
    if (!block_graph) {
        block_graph = bdrv_graph_new();
        bdrv_graph_set_image_fd_source(block_graph, handed_image, NULL);
    }
    return block_graph;
}

void machine_block_graph_free(void)
{
    g_clear_pointer(&block_graph, bdrv_graph_free);
}
