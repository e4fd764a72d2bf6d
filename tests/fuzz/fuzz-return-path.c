/*
 * libFuzzer target for the return path (migration/format/return-path.c):
 * the messages a source reads from its destination, which may be hostile
 * or just broken.  Byte 0 of an input picks the source's state (bit 0: a
 * postcopy source that takes page requests; bit 1: a recovering source
 * that takes RECV_BITMAPs); the rest is the return-path stream, read from
 * a memfd by the reader on the fuzzer's thread (return_path_read()).
 *
 * The recovering source has one RAM block, "pc.ram" of RP_FUZZ_RAM bytes,
 * and accepts a bitmap for it exactly as the real one does
 * (ram_postcopy_reload_bitmap(): the right name and size).
 *
 * Besides crashes, sanitizer reports, leaks and out-of-memory (libFuzzer's
 * -malloc_limit_mb: a message must not make the source allocate more than
 * its own RAM's bitmap; a RECV_BITMAP claiming 16 GiB once made it try,
 * tests/fuzz/regress/return-path keeps it), these rules abort:
 *  - the reader always ends (the stream always ends), and a failure says
 *    why;
 *  - a page request names a block (non-empty) and reaches a source only
 *    when it takes them; a bitmap only when it recovers;
 *  - the counts the source waits on (events, bitmaps) match what it got.
 *
 * Built and run by `make fuzz` (FUZZ_TARGET=return-path).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "fuzz-outcome.h"
#include "migration/format/qemu-file.h"
#include "migration/format/return-path.h"
#include "migration/transport/channel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RP_FUZZ_RAM   (64ull << 20)
#define RP_FUZZ_PAGES (RP_FUZZ_RAM / 4096)

#define broken(...) fuzz_broken("fuzz-return-path", "(binary)", __VA_ARGS__)

typedef struct Source {
    unsigned requests;
    unsigned bitmaps;
} Source;

static void on_request(const char *block, uint64_t offset, uint64_t len,
                       void *opaque)
{
    Source *src = opaque;

    if (!block[0] || strlen(block) > 255) {
        broken("a page request for block '%s'", block);
    }
    src->requests++;
}

static bool on_bitmap(const char *block, const uint8_t *le_words,
                      uint64_t bytes, void *opaque)
{
    Source *src = opaque;
    uint64_t sum = 0;

    if (strcmp(block, "pc.ram") || bytes != (RP_FUZZ_PAGES + 63) / 64 * 8) {
        return false;
    }
    /* ASan checks the bitmap is all there. */
    for (uint64_t i = 0; i < bytes; i++) {
        sum += le_words[i];
    }
    (void)sum;
    src->bitmaps++;
    return true;
}

static uint64_t bitmap_size(const char *block, void *opaque)
{
    return strcmp(block, "pc.ram") ? 0 : (RP_FUZZ_PAGES + 63) / 64 * 8;
}

static int stream_fd(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz-return-path", MFD_CLOEXEC);

    if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size) ||
        lseek(fd, 0, SEEK_SET) != 0) {
        perror("fuzz-return-path: the memfd");
        abort();
    }
    return fd;
}

static void check(ReturnPath *rp, const Source *src)
{
    if (!rp->done) {
        broken("the reader returned before the path ended");
    }
    if (!rp->ok && (!rp->error || !*rp->error)) {
        broken("the path failed without saying why");
    }
    if (rp->ok && rp->error) {
        broken("a path that ended well with an error: %s", rp->error);
    }
    if ((src->requests && !rp->on_page_request) ||
        (src->bitmaps && !rp->on_bitmap)) {
        broken("a message reached a source that does not take it");
    }
    if (rp->bitmaps != src->bitmaps ||
        rp->events < src->requests + src->bitmaps + 1) {
        broken("counts: %u bitmaps, %" G_GUINT64_FORMAT " events for %u "
               "bitmaps and %u requests", rp->bitmaps, rp->events,
               src->bitmaps, src->requests);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Source src = { 0 };
    ReturnPath rp;
    uint8_t mode;

    if (size < 1) {
        return 0;
    }
    mode = data[0];
    MigChannel *ch = mig_channel_new("fuzz-rp", stream_fd(data + 1, size - 1),
                                     -1, NULL, NULL);
    QEMUFile *f = qemu_file_new_input(ch);
    mig_channel_unref(ch);

    return_path_init(&rp, f, mode & 1 ? on_request : NULL, &src);
    return_path_take_bitmaps(&rp, mode & 2 ? on_bitmap : NULL, bitmap_size);
    return_path_read(&rp);
    check(&rp, &src);
    if (getenv("FUZZ_VERBOSE")) {
        fprintf(stderr, "fuzz-return-path: %s\n", rp.ok ? "SHUT ok" :
                rp.error);
    }
    return_path_clear(&rp);
    qemu_fclose(f, NULL);
    return 0;
}
