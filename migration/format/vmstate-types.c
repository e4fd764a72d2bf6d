/*
 * The wire types of the vmstate engine: integers big-endian at their C
 * size (signed ones as their two's complement), bool as one byte 0/1,
 * buffers raw.  The names are QEMU's, as they appear in the vmdesc.
 */
#include <errno.h>
#include "migration/format/qemu-file.h"
#include "migration/format/vmstate-int.h"

static int get_bool(QEMUFile *f, void *pv, size_t size)
{
    int v = qemu_get_byte(f);

    if (qemu_file_get_error(f)) {
        return 0;           /* the caller reports the stream error */
    }
    if (v > 1) {
        return -EINVAL;     /* would be undefined behaviour in a bool */
    }
    *(bool *)pv = v;
    return 0;
}

static void put_bool(QEMUFile *f, const void *pv, size_t size)
{
    qemu_put_byte(f, *(const bool *)pv);
}

const VMStateInfo ferry_vmstate_info_bool = {
    .name = "bool", .get = get_bool, .put = put_bool,
};

/* One get/put pair per width; signed types share the unsigned wire. */
#define VMSTATE_INT_INFO(name_, ctype, utype, get_fn, put_fn)           \
    static int get_##name_(QEMUFile *f, void *pv, size_t size)          \
    {                                                                   \
        *(ctype *)pv = (ctype)(utype)get_fn(f);                         \
        return 0;                                                       \
    }                                                                   \
    static void put_##name_(QEMUFile *f, const void *pv, size_t size)   \
    {                                                                   \
        put_fn(f, (utype)*(const ctype *)pv);                           \
    }                                                                   \
    const VMStateInfo ferry_vmstate_info_##name_ = {                    \
        .name = #name_, .get = get_##name_, .put = put_##name_,         \
    }

VMSTATE_INT_INFO(uint8, uint8_t, uint8_t, qemu_get_byte, qemu_put_byte);
VMSTATE_INT_INFO(uint16, uint16_t, uint16_t, qemu_get_be16, qemu_put_be16);
VMSTATE_INT_INFO(uint32, uint32_t, uint32_t, qemu_get_be32, qemu_put_be32);
VMSTATE_INT_INFO(uint64, uint64_t, uint64_t, qemu_get_be64, qemu_put_be64);
VMSTATE_INT_INFO(int8, int8_t, uint8_t, qemu_get_byte, qemu_put_byte);
VMSTATE_INT_INFO(int16, int16_t, uint16_t, qemu_get_be16, qemu_put_be16);
VMSTATE_INT_INFO(int32, int32_t, uint32_t, qemu_get_be32, qemu_put_be32);
VMSTATE_INT_INFO(int64, int64_t, uint64_t, qemu_get_be64, qemu_put_be64);

static int get_buffer(QEMUFile *f, void *pv, size_t size)
{
    /* A short read sets the stream's sticky error; the caller reports it. */
    qemu_get_buffer(f, pv, size);
    return 0;
}

static void put_buffer(QEMUFile *f, const void *pv, size_t size)
{
    qemu_put_buffer(f, pv, size);
}

const VMStateInfo ferry_vmstate_info_buffer = {
    .name = "buffer", .get = get_buffer, .put = put_buffer,
};
