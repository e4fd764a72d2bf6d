/*
 * libFuzzer target for pvchannel's register interface (hw/char/
 * pvchannel*.c): what a hostile or buggy guest can do to it.  One channel
 * over 64 KiB of guest RAM, its client a socketpair.  Each input is a
 * series of 10-byte operations:
 *   byte 0 % 6   0 register write, 1 register read, 2 a u32 stored into
 *                guest RAM (the guest's ring indexes, or anything else),
 *                3 a pass of the data path, 4 bytes from the client,
 *                5 the client reads what came
 *   byte 1       register (x 8) or RAM offset (x 256 + bytes 2-3)
 *   bytes 2-9    the value
 * The data path runs in the fuzzer's thread (the channel's I/O thread is
 * kept idle), so an input replays exactly.
 *
 * Besides crashes and sanitizer reports, these rules abort: STATUS is one
 * of stopped, running or error; a running channel's rings are valid and
 * its indexes are within a ring of the guest's.
 *
 * Built and run by `make fuzz` (FUZZ_TARGET=pvchannel).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "fuzz-outcome.h"
#include "hw/char/pvchannel-internal.h"
#include "hw/pvchannel.h"
#include "system/ioport.h"
#include "system/memory.h"
#include "system/migration-vmm.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM_SIZE (64u << 10)
#define DEV      PVCHAN_DEV_ADDR(0)
#define OP_SIZE  10

static PvchanState *chan;
static int peer = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    RAMBlock *ram = ram_block_new("pc.ram", RAM_SIZE, NULL);
    int sv[2];

    if (!ram || !guest_region_add(0, ram, 0, RAM_SIZE, NULL) ||
        !machine_migration_init(NULL) ||
        !pvchannel_create(NULL, "pvchannel,name=org.qemu.guest_agent.0",
                          NULL) ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0) {
        abort();
    }
    chan = pvchan_get(0);
    pvchan_attach_conn(chan, sv[0]);
    peer = sv[1];
    return 0;
}

static void check(void)
{
    uint32_t status;

    g_mutex_lock(&chan->lock);
    status = chan->status;
    if (status != 0 && status != PVCHAN_STATUS_ENABLED &&
        status != PVCHAN_STATUS_ERROR) {
        fuzz_broken("fuzz-pvchannel", "", "status 0x%x", status);
    }
    if (status == PVCHAN_STATUS_ENABLED &&
        (!pvchan_ring_valid(chan->g2h_gpa, chan->g2h_size) ||
         !pvchan_ring_valid(chan->h2g_gpa, chan->h2g_size))) {
        fuzz_broken("fuzz-pvchannel", "", "running with invalid rings");
    }
    g_mutex_unlock(&chan->lock);
}

/* After a pass, a channel still running has indexes within a ring. */
static void pump(void)
{
    uint32_t prod = 0, cons = 0;

    g_mutex_lock(&chan->lock);
    chan->running = true;
    pvchan_pump_locked(chan);
    chan->running = false;
    if (chan->status == PVCHAN_STATUS_ENABLED) {
        guest_mem_load_u32(chan->g2h_gpa, &prod);
        guest_mem_load_u32(chan->h2g_gpa + 4, &cons);
        if (prod - chan->g2h_cons > chan->g2h_size ||
            chan->h2g_prod - cons > chan->h2g_size) {
            fuzz_broken("fuzz-pvchannel", "", "indexes out of the ring after "
                        "a pass: g2h %u/%u, h2g %u/%u", prod, chan->g2h_cons,
                        chan->h2g_prod, cons);
        }
    }
    g_mutex_unlock(&chan->lock);
}

static void client(bool write_side, uint64_t v)
{
    char buf[4096];

    if (write_side) {
        memset(buf, (int)(v & 0xff), sizeof(buf));
        (void)!send(peer, buf, 1 + (v >> 8) % sizeof(buf), MSG_DONTWAIT);
    } else {
        while (recv(peer, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
        }
    }
}

static void run_op(const uint8_t *op)
{
    uint64_t v, got;

    memcpy(&v, op + 2, sizeof(v));
    switch (op[0] % 6) {
    case 0:
        io_dispatch(IO_SPACE_MMIO, DEV + (op[1] % 16) * 8, &v, 8, true);
        break;
    case 1:
        io_dispatch(IO_SPACE_MMIO, DEV + (op[1] % 16) * 8, &got, 8, false);
        break;
    case 2:
        guest_mem_store_u32(((uint64_t)op[1] << 8 | op[2]) % RAM_SIZE & ~3ull,
                            (uint32_t)(v >> 16));
        break;
    case 3:
        pump();
        break;
    default:
        client(op[0] % 6 == 4, v);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t zero = 0;

    for (size_t off = 0; off + OP_SIZE <= size; off += OP_SIZE) {
        run_op(data + off);
        check();
    }
    /* The next input starts from a stopped channel and an empty socket. */
    io_dispatch(IO_SPACE_MMIO, DEV + PVCHAN_REG_CONTROL, &zero, 8, true);
    client(false, 0);
    return 0;
}
