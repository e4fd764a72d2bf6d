/* The machine's block graph: its -blockdev nodes (ferry/block.h). */
#include "system/machine.h"

static BlockGraph *block_graph;

BlockGraph *machine_block_graph(void)
{
    if (!block_graph) {
        block_graph = bdrv_graph_new();
    }
    return block_graph;
}

void machine_block_graph_free(void)
{
    g_clear_pointer(&block_graph, bdrv_graph_free);
}
