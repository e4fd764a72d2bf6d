/*
 * libFuzzer target for pvblk's register interface and request ring
 * (hw/block/pvblk.c), as a hostile or buggy guest drives them: any value
 * in any register, rings and request buffers pointing anywhere (inside
 * the fake guest RAM, across its end, far outside it), any request.  One
 * device over a 1 MiB file image, in PVBLK_FUZZ_RAM bytes of guest RAM at
 * gpa 0.  Each input is a series of 12-byte operations:
 *   byte 0 % 4   0 register write, 1 register read, 2 a u64 stored into
 *                guest RAM (ring headers, requests, anything), 3 a u64
 *                stored into the request slot of the current ring that
 *                the guest would fill next
 *   bytes 1-3    register (byte 1 % 8 x 8), RAM offset (bytes 1-2 x 8),
 *                or the u64's place in the request (byte 1 % 4)
 *   bytes 4-11   the value
 * After each operation the requests in flight are drained, so an input
 * replays exactly.
 *
 * Besides crashes, sanitizer reports and leaks, these rules abort: the
 * device only ever holds a valid ring (in RAM, aligned, a power-of-2
 * size); after a drain nothing is in flight and every request it took
 * from the current ring was answered exactly once (used_idx ==
 * last_avail), and used_idx in guest RAM says so.
 *
 * Built and run by `make fuzz` (FUZZ_TARGET=pvblk).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fuzz-outcome.h"
#include "hw/block/pvblk-internal.h"
#include "system/ioport.h"
#include "system/memory.h"
#include "system/migration-vmm.h"
#include "util/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PVBLK_FUZZ_RAM (512u << 10)
#define IMG_SIZE       (1u << 20)
#define DEV            PVBLK_DEV_ADDR(0)
#define OP_SIZE        12

#define broken(...) fuzz_broken("fuzz-pvblk", "(binary)", __VA_ARGS__)

static PvblkState *dev;

/* The image lives in a directory removed at once: nothing stays behind. */
static char *make_image(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("ferry-fuzz-pvblk-XXXXXX", &err);
    g_autofree char *path = dir ? g_build_filename(dir, "disk.img", NULL)
                                : NULL;
    g_autofree uint8_t *zeros = g_malloc0(IMG_SIZE);

    if (!dir || !g_file_set_contents(path, (char *)zeros, IMG_SIZE, &err)) {
        broken("making the image: %s", err ? err->message : "?");
    }
    return g_steal_pointer(&path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *img = make_image();
    g_autofree char *spec = g_strdup_printf("driver=file,node-name=f0,"
                                            "filename=%s", img);
    g_autofree char *dir = g_path_get_dirname(img);
    BlockGraph *graph = bdrv_graph_new();
    RAMBlock *ram = ram_block_new("pc.ram", PVBLK_FUZZ_RAM, &err);

    g_log_set_always_fatal(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL);
    /* A refused ring is logged: millions of lines say nothing here. */
    if (!log_open("/dev/null", &err) || !ram || !guest_region_add(0, ram, 0, PVBLK_FUZZ_RAM, &err) ||
        !machine_migration_init(&err) || !blockdev_add(graph, spec, &err) ||
        !bdrv_activate_all(graph, &err) ||
        !pvblk_create(graph, "pvblk,drive=f0,id=disk0", &err)) {
        broken("setting up: %s", err ? err->message : "?");
    }
    /* The node holds the image open. */
    unlink(img);
    rmdir(dir);
    dev = pvblk_get(0);
    return 0;
}

static void reg_write(uint64_t reg, uint64_t v)
{
    io_dispatch(IO_SPACE_MMIO, DEV + reg, &v, 8, true);
}

/* The guest's next request slot in the device's ring (0: no ring). */
static uint64_t next_slot(void)
{
    uint64_t gpa, size;
    uint32_t avail = 0;

    io_dispatch(IO_SPACE_MMIO, DEV + PVBLK_REG_RING_GPA, &gpa, 8, false);
    io_dispatch(IO_SPACE_MMIO, DEV + PVBLK_REG_RING_SIZE, &size, 8, false);
    if (!gpa || !size) {
        return 0;
    }
    guest_mem_load_u32(gpa, &avail);
    return gpa + PVBLK_REQ_OFF(avail % size);
}

/* Returns whether the operation rang the doorbell. */
static bool run_op(const uint8_t *op)
{
    uint64_t v, got, slot;

    memcpy(&v, op + 4, sizeof(v));
    switch (op[0] % 4) {
    case 0:
        reg_write((op[1] % 8) * 8, v);
        return (op[1] % 8) * 8 == PVBLK_REG_DOORBELL;
    case 1:
        io_dispatch(IO_SPACE_MMIO, DEV + (op[1] % 8) * 8, &got, 8, false);
        break;
    case 2:
        guest_mem_write(((uint64_t)op[1] << 8 | op[2]) * 8 % PVBLK_FUZZ_RAM,
                        &v, sizeof(v));
        break;
    default:
        slot = next_slot();
        if (slot) {
            guest_mem_write(slot + (op[1] % 4) * 8, &v, sizeof(v));
        }
        break;
    }
    return false;
}

/* @rang: the doorbell rang, and the device took requests before it. */
static void check(bool rang, uint32_t taken_before)
{
    uint32_t used = 0;

    pvblk_drain_all();
    g_mutex_lock(&dev->lock);
    if (dev->inflight) {
        broken("%u requests in flight after a drain", dev->inflight);
    }
    if (dev->ring_gpa && !pvblk_ring_valid(dev->ring_gpa, dev->ring_size)) {
        broken("holds an invalid ring: 0x%" G_GINT64_MODIFIER "x, %u entries",
               dev->ring_gpa, dev->ring_size);
    }
    if (dev->ring_gpa && dev->used_idx != dev->last_avail) {
        broken("took %u requests, answered %u", dev->last_avail,
               dev->used_idx);
    }
    /* The guest may overwrite it any time; right after the device
     * answered requests it is the device's. */
    if (dev->ring_gpa && rang && dev->last_avail != taken_before &&
        (guest_mem_load_u32(dev->ring_gpa + 4, &used) < 0 ||
         used != dev->used_idx)) {
        broken("used_idx %u in RAM, %u in the device", used, dev->used_idx);
    }
    g_mutex_unlock(&dev->lock);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t zeros[PVBLK_FUZZ_RAM];

    for (size_t off = 0; off + OP_SIZE <= size; off += OP_SIZE) {
        uint32_t taken;

        g_mutex_lock(&dev->lock);
        taken = dev->last_avail;
        g_mutex_unlock(&dev->lock);
        check(run_op(data + off), taken);
    }
    /* The next input starts from no ring, the default size and clean RAM. */
    reg_write(PVBLK_REG_RING_SIZE, 0);
    reg_write(PVBLK_REG_RING_GPA, 0);
    guest_mem_write(0, zeros, sizeof(zeros));
    return 0;
}
