/*
 * The block-option fuzzer (fuzz-blockdev.c), as its seed writer
 * (gen-blockdev-corpus.c) uses it to check every seed before writing it.
 */
#ifndef FERRY_TESTS_FUZZ_BLOCKDEV_H
#define FERRY_TESTS_FUZZ_BLOCKDEV_H

#include <stddef.h>
#include <stdint.h>

/*
 * At most this many lines of an input are applied; the rest is ignored.
 * Ten, not fewer: five nodes and five devices are the shortest command
 * line that hits the limit of PVBLK_MAX_DEVS (4) devices.
 */
#define FUZZ_MAX_LINES 10

/*
 * Applies one input to a fresh machine and tears it down again, aborting
 * on any broken rule (see fuzz-blockdev.c).  Returns how many lines were
 * accepted; *@lines (if not NULL) gets how many were applied.
 */
unsigned fuzz_blockdev_apply(const uint8_t *data, size_t size,
                             unsigned *lines);

#endif
