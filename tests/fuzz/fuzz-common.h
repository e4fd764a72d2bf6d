/*
 * The machine the stream fuzzer loads into (tests/fuzz/): a 1 MiB "pc.ram"
 * block, the "ram" live section, the real "serial" and "ferry-workload"
 * descriptions and "fuzz-dev", a device that uses every field kind the
 * vmstate engine has (scalars, arrays, a variable array, structs, a
 * buffer, a version-2 field and subsections, nested ones too).
 *
 * The harness (fuzz-stream-load.c) and the seed writer (gen-corpus.c)
 * share it, so the seeds always match what the harness accepts.
 */
#ifndef FERRY_TESTS_FUZZ_COMMON_H
#define FERRY_TESTS_FUZZ_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include "hw/serial.h"
#include "hw/workload.h"
#include "system/memory.h"
#include "ferry/migration.h"

#define FUZZ_RAM_SIZE (1u << 20)
#define FUZZ_NCPUS 2

typedef struct FuzzSub {
    uint16_t x;
    uint8_t y[3];
    uint32_t z;                 /* subsection "fuzz-sub/z" when non-zero */
} FuzzSub;

typedef struct FuzzDev {
    bool flag;
    int8_t i8;
    int16_t i16;
    int32_t i32;
    int64_t i64;
    uint32_t a;                 /* post_load refuses 0xdeadbeef */
    uint64_t b[4];
    uint32_t n;
    uint32_t vals[8];           /* n of them */
    uint32_t nsub;
    FuzzSub subs[4];            /* nsub of them */
    FuzzSub one;
    uint8_t blob[32];
    uint8_t v2;                 /* since version 2 */
    uint64_t extra;             /* subsection "fuzz-dev/extra" when non-zero */
} FuzzDev;

extern FuzzDev fuzz_dev;
extern SerialState fuzz_serial;
extern WorkloadState fuzz_workload;
extern RAMBlock *fuzz_ram;
/* The machine's migration context, after fuzz_machine_init(). */
extern FerryMig *fuzz_mig;

/* Registers everything once; later calls do nothing.  Aborts on failure. */
void fuzz_machine_init(void);

/* The command handler the incoming side uses: PING (4 bytes) and
 * OPEN_RETURN_PATH (no return path here: accepted, ignored). */
int fuzz_on_command(uint16_t cmd, const uint8_t *data, uint16_t len,
                    void *opaque, GError **errp);

#endif
