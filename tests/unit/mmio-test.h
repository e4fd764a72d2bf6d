/*
 * A device's 64-bit registers as a test's "guest" reaches them: through
 * io_dispatch, as a vCPU's MMIO exit would (test-pvblk.c,
 * test-pvchannel.c).
 */
#ifndef FERRY_TESTS_MMIO_TEST_H
#define FERRY_TESTS_MMIO_TEST_H

#include <glib.h>
#include "system/ioport.h"

static inline uint64_t mmio_test_read(uint64_t addr)
{
    uint64_t v;

    g_assert_true(io_dispatch(IO_SPACE_MMIO, addr, &v, 8, false));
    return v;
}

static inline void mmio_test_write(uint64_t addr, uint64_t v)
{
    g_assert_true(io_dispatch(IO_SPACE_MMIO, addr, &v, 8, true));
}

#endif
