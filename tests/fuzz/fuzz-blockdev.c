/*
 * libFuzzer target for the block options a user types: every input is up
 * to FUZZ_MAX_LINES lines, each a -blockdev spec or, when it starts with
 * "pvblk", "driver=pvblk" or '{"driver": "pvblk"', a -device spec (the
 * key=value or the JSON form), applied in order as
 * hw/x86/pc.c applies the command line (blockdev_add, pvblk_create).
 * Nothing is attached: configuring opens no file and no connection, so
 * no input can block on the host.  A NUL ends its line's spec, as it
 * would end a command-line argument.
 *
 * Besides crashes, sanitizer reports, leaks, hangs and GLib warnings
 * (made fatal), these rules abort:
 *  - a refusal says why (a non-empty GError); a success sets no GError;
 *  - a refused -blockdev adds no node; an accepted one is found by its
 *    node-name, is configured, has no length yet and refuses I/O with
 *    -ENOMEDIUM;
 *  - an accepted -device claims one node and maps one MMIO slot, and
 *    every mapped pvblk slot reads the device's magic.
 *  - a refused -device leaves no device behind (no claimed node, no MMIO
 *    slot): pvblk_create takes every step that can be undone first (an id
 *    longer than 249 characters once left a half-made device; the seed
 *    writer keeps one).  FUZZ_STRICT=0 turns this check off.
 * FUZZ_VERBOSE=1 prints each line's outcome.
 *
 * Built and run by `make fuzz` (see the fuzzing block of the Makefile).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "system/migration-vmm.h"
#include "fuzz-blockdev.h"
#include "fuzz-outcome.h"
#include "block/block_int.h"    /* bdrv_parent() */
#include "guest/pvblk-dev.h"
#include "hw/pvblk.h"
#include "system/ioport.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool verbose, strict;
/* The nodes of the machine under test, and its migration context. */
static BlockGraph *graph;

/* Aborts with a message: a rule below is broken for @line. */
#define broken(line, ...) fuzz_broken("fuzz-blockdev", (line), __VA_ARGS__)

static void init_once(void)
{
    static bool done;

    if (done) {
        return;
    }
    done = true;
    verbose = getenv("FUZZ_VERBOSE") != NULL;
    strict = !getenv("FUZZ_STRICT") || strcmp(getenv("FUZZ_STRICT"), "0");
    /* "GError set over the top of a previous GError", g_return_if_fail()
     * and the like are bugs too. */
    g_log_set_always_fatal(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL);
    /* A freed pool's thread exits instead of idling for the next pool. */
    g_thread_pool_set_max_unused_threads(0);
    graph = bdrv_graph_new();
    if (!machine_migration_init(NULL)) {
        abort();
    }
}

static unsigned count_threads(void)
{
    GDir *d = g_dir_open("/proc/self/task", 0, NULL);
    unsigned n = 0;

    if (!d) {
        return 0;
    }
    while (g_dir_read_name(d)) {
        n++;
    }
    g_dir_close(d);
    return n;
}

/*
 * pvblk_destroy_all() frees the completion pool without joining its
 * thread, which finishes exiting (freeing its GLib state) during the next
 * input.  libFuzzer then sees mallocs and frees that do not match, and
 * runs a whole leak scan after that input: a tenth of the speed.  So the
 * input is over only when the thread is gone (init_once() keeps GLib
 * from parking it for the next pool).
 */
static void wait_for_threads(unsigned n)
{
    gint64 deadline = g_get_monotonic_time() + G_USEC_PER_SEC;

    while (count_threads() > n && g_get_monotonic_time() < deadline) {
        g_usleep(10);
    }
}

static unsigned count_nodes(bool claimed_only)
{
    g_autoptr(GPtrArray) all = bdrv_nodes(graph);
    unsigned n = 0;

    for (guint i = 0; i < all->len; i++) {
        n += !claimed_only || bdrv_device(g_ptr_array_index(all, i));
    }
    return n;
}

/* How many pvblk slots are mapped; each must read as a pvblk. */
static unsigned count_pvblk_slots(const char *line)
{
    unsigned n = 0;

    for (unsigned i = 0; i < PVBLK_MAX_DEVS; i++) {
        uint64_t id = 0, cap = ~0ULL;

        if (!io_dispatch(IO_SPACE_MMIO, PVBLK_DEV_ADDR(i) + PVBLK_REG_ID,
                         &id, sizeof(id), false)) {
            continue;
        }
        io_dispatch(IO_SPACE_MMIO, PVBLK_DEV_ADDR(i) + PVBLK_REG_CAPACITY,
                    &cap, sizeof(cap), false);
        if (id != PVBLK_DEV_MAGIC || cap != 0) {
            broken(line, "pvblk slot %u reads id 0x%" G_GINT64_MODIFIER "x, "
                   "capacity %" G_GUINT64_FORMAT, i, id, cap);
        }
        n++;
    }
    return n;
}

static void check_outcome(const char *line, bool ok, GError *err)
{
    fuzz_check_outcome("fuzz-blockdev", line, ok, err, verbose);
}

/* What an accepted node must look like before anyone attaches it. */
static void check_node(const char *line, BlockDriverState *bs)
{
    char buf[BDRV_SECTOR_SIZE];
    const char *name = bdrv_node_name(bs);
    int ret;

    if (!name || bdrv_find(graph, name) != bs) {
        broken(line, "node '%s' cannot be found by its name", name);
    }
    if (bdrv_state(bs) != BLOCK_NODE_CONFIGURED ||
        bdrv_getlength(bs) != -ENOMEDIUM) {
        broken(line, "node '%s' is %s with length %" G_GINT64_FORMAT
               " right after -blockdev", name, bdrv_state_str(bdrv_state(bs)),
               bdrv_getlength(bs));
    }
    if (!bdrv_driver_name(bs) || !bdrv_filename(bs)) {
        broken(line, "node '%s' has no driver name or file name", name);
    }
    ret = bdrv_pread(bs, 0, buf, sizeof(buf));
    if (ret != -ENOMEDIUM) {
        broken(line, "node '%s' answers a read with %d before attach",
               name, ret);
    }
    if (bdrv_child(bs) && bdrv_parent(bdrv_child(bs)) != bs) {
        broken(line, "node '%s' and its child disagree", name);
    }
}

static bool apply_blockdev(const char *line)
{
    GError *err = NULL;
    unsigned before = count_nodes(false);
    BlockDriverState *bs = blockdev_add(graph, line, &err);

    check_outcome(line, bs != NULL, err);
    if (bs) {
        check_node(line, bs);
    } else if (count_nodes(false) != before) {
        broken(line, "refused, yet the node count went from %u to %u",
               before, count_nodes(false));
    }
    g_clear_error(&err);
    return bs != NULL;
}

static bool apply_device(const char *line)
{
    GError *err = NULL;
    unsigned claimed = count_nodes(true);
    unsigned slots = count_pvblk_slots(line);
    bool ok = pvblk_create(graph, line, &err);
    unsigned claimed_after = count_nodes(true);
    unsigned slots_after = count_pvblk_slots(line);

    check_outcome(line, ok, err);
    if (ok && (claimed_after != claimed + 1 || slots_after != slots + 1)) {
        broken(line, "accepted, yet claimed nodes went from %u to %u and "
               "mapped slots from %u to %u", claimed, claimed_after, slots,
               slots_after);
    }
    if (!ok && strict && (claimed_after != claimed || slots_after != slots)) {
        broken(line, "refused ('%s'), yet claimed nodes went from %u to %u "
               "and mapped slots from %u to %u", err->message, claimed,
               claimed_after, slots, slots_after);
    }
    g_clear_error(&err);
    return ok;
}

unsigned fuzz_blockdev_apply(const uint8_t *data, size_t size,
                             unsigned *lines)
{
    const uint8_t *p = data, *end = data + size;
    unsigned n = 0, accepted = 0;
    unsigned threads = count_threads();

    init_once();
    while (p < end && n < FUZZ_MAX_LINES) {
        const uint8_t *nl = memchr(p, '\n', end - p);
        size_t len = (nl ? nl : end) - p;
        g_autofree char *line = g_strndup((const char *)p, len);

        if (g_str_has_prefix(line, "pvblk") ||
            g_str_has_prefix(line, "driver=pvblk") ||
            g_str_has_prefix(line, "{\"driver\": \"pvblk\"")) {
            accepted += apply_device(line);
        } else {
            accepted += apply_blockdev(line);
        }
        n++;
        p += len + 1;
    }
    /* Devices before the nodes they point to, as at machine cleanup. */
    pvblk_destroy_all();
    io_regions_reset();
    blockdev_del_all(graph);
    wait_for_threads(threads);
    if (lines) {
        *lines = n;
    }
    return accepted;
}

/* Before GLib's first allocation: GSlice keeps freed blocks in per-thread
 * caches, and libFuzzer then runs a whole leak scan (slow) after nearly
 * every input because it saw more mallocs than frees. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    setenv("G_SLICE", "always-malloc", 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_blockdev_apply(data, size, NULL);
    return 0;
}
