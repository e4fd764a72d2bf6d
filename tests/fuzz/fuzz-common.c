/* The fuzzer's machine: see fuzz-common.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "fuzz-common.h"
#include "migration/ram/ram.h"
#include "migration/format/savevm.h"
#include "migration/format/vmstate-int.h"
#include "system/dirty-log.h"
#include "system/migration-vmm.h"
#include "util/error.h"

FuzzDev fuzz_dev;
SerialState fuzz_serial;
WorkloadState fuzz_workload;
RAMBlock *fuzz_ram;
FerryMig *fuzz_mig;

static bool sub_z_needed(void *opaque)
{
    return ((FuzzSub *)opaque)->z != 0;
}

static const VMStateDescription vmstate_fuzz_sub_z = {
    .name = "fuzz-sub/z",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = sub_z_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(z, FuzzSub),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_fuzz_sub = {
    .name = "fuzz-sub",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT16(x, FuzzSub),
        VMSTATE_UINT8_ARRAY(y, FuzzSub, 3),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription *const[]) {
        &vmstate_fuzz_sub_z,
        NULL
    },
};

static bool extra_needed(void *opaque)
{
    return ((FuzzDev *)opaque)->extra != 0;
}

static const VMStateDescription vmstate_fuzz_extra = {
    .name = "fuzz-dev/extra",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = extra_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(extra, FuzzDev),
        VMSTATE_END_OF_LIST()
    },
};

static bool fuzz_dev_post_load(void *opaque, int version_id, GError **errp)
{
    const FuzzDev *d = opaque;

    if (d->a == 0xdeadbeef) {
        error_setg(errp, "fuzz-dev: a = 0x%x is refused", d->a);
        return false;
    }
    return true;
}

static const VMStateDescription vmstate_fuzz_dev = {
    .name = "fuzz-dev",
    .version_id = 2,
    .minimum_version_id = 1,
    .post_load = fuzz_dev_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_BOOL(flag, FuzzDev),
        VMSTATE_INT8(i8, FuzzDev),
        VMSTATE_INT16(i16, FuzzDev),
        VMSTATE_INT32(i32, FuzzDev),
        VMSTATE_INT64(i64, FuzzDev),
        VMSTATE_UINT32(a, FuzzDev),
        VMSTATE_UINT64_ARRAY(b, FuzzDev, 4),
        VMSTATE_UINT32(n, FuzzDev),
        VMSTATE_UINT32_VARRAY_UINT32(vals, FuzzDev, n),
        VMSTATE_UINT32(nsub, FuzzDev),
        VMSTATE_STRUCT_VARRAY_UINT32(subs, FuzzDev, nsub, 0,
                                     vmstate_fuzz_sub, FuzzSub),
        VMSTATE_STRUCT(one, FuzzDev, 0, vmstate_fuzz_sub, FuzzSub),
        VMSTATE_BUFFER(blob, FuzzDev),
        VMSTATE_UINT8_V(v2, FuzzDev, 2),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription *const[]) {
        &vmstate_fuzz_extra,
        NULL
    },
};

/* Only the VMM's own writes are tracked (they are in RAMBlock.vmm_dirty). */
static bool log_start(GError **errp) { return true; }
static long log_sync(RAMBlock *b, unsigned long *bitmap) { return 0; }
static void log_stop(void) { }
static const DirtyLogOps no_log = { log_start, log_sync, log_stop };

static void die(const char *what, GError *err)
{
    fprintf(stderr, "fuzz: %s: %s\n", what, err ? err->message : "failed");
    abort();
}

void fuzz_machine_init(void)
{
    static bool done;
    GError *err = NULL;

    if (done) {
        return;
    }
    done = true;
    fuzz_ram = ram_block_new("pc.ram", FUZZ_RAM_SIZE, &err);
    if (!fuzz_ram || !guest_region_add(0, fuzz_ram, 0, FUZZ_RAM_SIZE, &err)) {
        die("guest RAM", err);
    }
    dirty_log_register(&no_log);
    if (!machine_migration_init(&err)) {
        die("migration context", err);
    }
    fuzz_mig = machine_migration();
    fuzz_workload.ncpus = FUZZ_NCPUS;
    if (!serial_vmstate_register(fuzz_mig, &fuzz_serial, &err) ||
        !workload_vmstate_register(fuzz_mig, &fuzz_workload, &err) ||
        !ferry_mig_register_device(fuzz_mig, "fuzz-dev", 0, &vmstate_fuzz_dev,
                                   &fuzz_dev, MIG_PRI_DEFAULT, &err)) {
        die("device sections", err);
    }
}

int fuzz_on_command(uint16_t cmd, const uint8_t *data, uint16_t len,
                    void *opaque, GError **errp)
{
    switch (cmd) {
    case MIG_CMD_OPEN_RETURN_PATH:
        return 0;
    case MIG_CMD_PING:
        if (len != 4) {
            error_setg(errp, "PING of %u bytes", len);
            return -EINVAL;
        }
        return 0;
    default:
        error_setg(errp, "command %u is not supported here", cmd);
        return -ENOTSUP;
    }
}
