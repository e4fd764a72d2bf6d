/*
 * libFuzzer target for the incoming migration stream: every input is a
 * whole stream, read through a QEMUFile from a memfd by savevm_load()
 * into the machine of fuzz-common.c (RAM, serial, workload, fuzz-dev).
 * Any outcome is fine but a crash, a sanitizer report, a leak or a hang.
 *
 * Built and run by `make fuzz` (see the fuzzing block of the Makefile).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include "fuzz-common.h"
#include "migration/transport/channel.h"
#include "migration/format/qemu-file.h"
#include "migration/context.h"
#include "migration/format/savevm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int stream_fd(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz-stream", MFD_CLOEXEC);

    if (fd < 0) {
        perror("fuzz: memfd_create");
        abort();
    }
    for (size_t done = 0; done < size;) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0) {
            perror("fuzz: writing the memfd");
            abort();
        }
        done += (size_t)n;
    }
    if (lseek(fd, 0, SEEK_SET) != 0) {
        perror("fuzz: lseek");
        abort();
    }
    return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    GError *err = NULL;

    fuzz_machine_init();
    MigChannel *ch = mig_channel_new("fuzz", stream_fd(data, size), -1,
                                     NULL, NULL);
    QEMUFile *f = qemu_file_new_input(ch);
    mig_channel_unref(ch);
    int ret = savevm_load(&fuzz_mig->saved, f, fuzz_on_command, NULL, &err);
    /* The contract: a failure always says why. */
    if (ret < 0 && !err) {
        fprintf(stderr, "fuzz: savevm_load returned %d without an error\n",
                ret);
        abort();
    }
    if (getenv("FUZZ_VERBOSE")) {
        fprintf(stderr, "fuzz: %d %s\n", ret, err ? err->message : "ok");
    }
    g_clear_error(&err);
    qemu_fclose(f, NULL);
    /* The next input starts with no block list received: what one input
     * left there once hid a crash from every input after it. */
    ram_load_state_free(fuzz_mig->ram_load);
    fuzz_mig->ram_load = ram_load_state_new();
    return 0;
}
