/*
 * Writes the fuzzer's seed corpus: valid streams of the fuzz machine
 * (fuzz-common.c), made by the real writer (savevm_*), into DIR.  Run by
 * `make fuzz`; no seed is kept in the repository.
 *
 * Usage: gen-corpus DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz-common.h"
#include "migration/transport/channel.h"
#include "migration/format/qemu-file.h"
#include "migration/context.h"
#include "migration/format/savevm.h"

static const char *dir;

static void fail(const char *what, GError *err)
{
    fprintf(stderr, "gen-corpus: %s: %s\n", what, err ? err->message : "failed");
    exit(1);
}

static QEMUFile *open_seed(const char *name)
{
    GError *err = NULL;
    g_autofree char *uri = g_strdup_printf("file:%s/%s", dir, name);
    MigChannel *ch = mig_channel_connect(uri, NULL, &err);

    if (!ch) {
        fail(uri, err);
    }
    QEMUFile *f = qemu_file_new_output(ch);
    mig_channel_unref(ch);
    savevm_put_header(f);
    return f;
}

static void close_seed(QEMUFile *f, const char *name)
{
    GError *err = NULL;

    if (qemu_fclose(f, &err) < 0) {
        fail(name, err);
    }
    printf("gen-corpus: wrote %s/%s\n", dir, name);
}

/* A whole precopy: setup, passes until clean, @dirty pages written again
 * by the VMM, one more pass, then the end and the device sections. */
static void write_stream(const char *name, bool ping, bool rp,
                         int iterations, unsigned dirty)
{
    QEMUFile *f = open_seed(name);
    GError *err = NULL;
    uint8_t ping_data[4] = { 0, 0, 0, 1 };
    int ret = 0;

    if (rp) {
        savevm_put_command(f, MIG_CMD_OPEN_RETURN_PATH, 0, NULL);
    }
    if (ping) {
        savevm_put_command(f, MIG_CMD_PING, 4, ping_data);
    }
    if (savevm_setup(&fuzz_mig->saved, f, &err) < 0) {
        fail(name, err);
    }
    for (int i = 0; i < iterations && ret == 0; i++) {
        ret = savevm_iterate(&fuzz_mig->saved, f);
    }
    if (ret < 0) {
        fail(name, NULL);
    }
    for (unsigned i = 0; i < dirty; i++) {
        uint64_t v = 0x5eed0000u + i;
        guest_mem_write((uint64_t)(i * 37 % (FUZZ_RAM_SIZE / 4096)) * 4096 + 16,
                        &v, sizeof(v));
    }
    if (dirty && iterations) {
        savevm_pending(&fuzz_mig->saved, true);
        savevm_iterate(&fuzz_mig->saved, f);
    }
    if (savevm_complete(&fuzz_mig->saved, f, &err) < 0) {
        fail(name, err);
    }
    savevm_cleanup(&fuzz_mig->saved);
    close_seed(f, name);
}

/* The smallest valid stream: header, configuration, EOF. */
static void write_empty(void)
{
    QEMUFile *f = open_seed("empty");

    qemu_put_byte(f, QEMU_VM_EOF);
    close_seed(f, "empty");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen-corpus DIR\n");
        return 2;
    }
    dir = argv[1];
    fuzz_machine_init();
    write_empty();

    /* Mostly zero RAM keeps the seeds small: a few KiB each. */
    memset(fuzz_ram->host, 0, FUZZ_RAM_SIZE);
    fuzz_serial = (SerialState){ .divider = 12, .ier = 5, .lcr = 3,
                                 .mcr = 8, .fcr = 0xc1 };
    fuzz_workload.ncpus = FUZZ_NCPUS;
    fuzz_workload.boots = 1;
    write_stream("zero-ram", false, false, 0, 0);

    for (unsigned p = 0; p < 8; p++) {
        memset(fuzz_ram->host + p * 4096 * 9, 0x11 * (p + 1), 4096);
    }
    fuzz_workload.cpu[0].rounds = 7;
    fuzz_workload.cpu[1].passes = 3;
    fuzz_dev = (FuzzDev){
        .flag = true, .i8 = -3, .i16 = -300, .i32 = -70000, .i64 = -5,
        .a = 42, .b = { 1, 2, 3, UINT64_MAX },
        .n = 3, .vals = { 10, 20, 30 },
        .nsub = 2, .subs = { { 1, { 2, 3, 4 }, 0 }, { 5, { 6, 7, 8 }, 9 } },
        .one = { 0x1234, { 0xa, 0xb, 0xc }, 0x77 },
        .blob = "fuzz blob", .v2 = 2, .extra = 0xfeedface,
    };
    write_stream("full", true, false, 8, 0);
    write_stream("redirty", true, true, 8, 5);
    return 0;
}
