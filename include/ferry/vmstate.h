/*
 * Declarative device state (QEMU's VMStateDescription): a device describes
 * its plain state struct as a table of typed fields; the engine writes and
 * reads it in QEMU's wire format and describes it in the vmdesc JSON.
 *
 * Wire format of one description, as QEMU:
 *   fields, in table order, each element big-endian at its C size
 *     (bool: one byte 0/1; buffer: raw bytes; struct: its own fields and
 *     subsections, recursively; arrays: the elements back to back; the
 *     count of a variable array is an ordinary uint32 field sent before it)
 *   then for each subsection whose needed() is true:
 *     QEMU_VM_SUBSECTION (u8 5), name (u8 len + bytes), version (be32),
 *     the subsection's own fields and subsections
 * Nothing frames a description: the reader must know it (section headers
 * and footers are the savevm layer's job).
 *
 * Locking: save and load run with the VM stopped (vCPUs parked), on one
 * thread; descriptions are const tables.
 */
#ifndef FERRY_VMSTATE_H
#define FERRY_VMSTATE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ferry/api.h>

typedef struct QEMUFile QEMUFile;

#define QEMU_VM_SUBSECTION 0x05

/* One wire type.  Stream errors are sticky in the QEMUFile; get() returns
 * -EINVAL only for a value that cannot be stored (a bool other than 0/1). */
typedef struct VMStateInfo {
    const char *name;           /* the vmdesc "type" */
    int (*get)(QEMUFile *f, void *pv, size_t size);
    void (*put)(QEMUFile *f, const void *pv, size_t size);
} VMStateInfo;

FERRY_API extern const VMStateInfo ferry_vmstate_info_bool;
FERRY_API extern const VMStateInfo ferry_vmstate_info_int8;
FERRY_API extern const VMStateInfo ferry_vmstate_info_int16;
FERRY_API extern const VMStateInfo ferry_vmstate_info_int32;
FERRY_API extern const VMStateInfo ferry_vmstate_info_int64;
FERRY_API extern const VMStateInfo ferry_vmstate_info_uint8;
FERRY_API extern const VMStateInfo ferry_vmstate_info_uint16;
FERRY_API extern const VMStateInfo ferry_vmstate_info_uint32;
FERRY_API extern const VMStateInfo ferry_vmstate_info_uint64;
FERRY_API extern const VMStateInfo ferry_vmstate_info_buffer;

enum VMStateFlags {
    VMS_SINGLE        = 0x01,   /* one element */
    VMS_ARRAY         = 0x02,   /* @num elements */
    VMS_VARRAY_UINT32 = 0x04,   /* uint32 at @num_offset elements, <= @num */
    VMS_STRUCT        = 0x08,   /* element(s) described by @vmsd */
    VMS_BUFFER        = 0x10,   /* @size raw bytes */
};

typedef struct VMStateDescription VMStateDescription;

typedef struct VMStateField {
    const char *name;
    size_t offset;              /* in the state struct */
    size_t size;                /* of one element */
    const VMStateInfo *info;    /* NULL for VMS_STRUCT */
    const VMStateDescription *vmsd;
    unsigned flags;
    uint32_t num;               /* VMS_ARRAY count; VMS_VARRAY capacity */
    size_t num_offset;          /* VMS_VARRAY_UINT32: the uint32 count */
    int version_id;             /* the version the field appeared in */
    /* If set, replaces the version test, on save and load. */
    bool (*field_exists)(void *opaque, int version_id);
} VMStateField;

struct VMStateDescription {
    const char *name;           /* subsections: "parent/what", as QEMU */
    int version_id;
    int minimum_version_id;
    bool (*needed)(void *opaque);           /* subsections only */
    int (*pre_save)(void *opaque);          /* 0 or -errno */
    bool (*post_load)(void *opaque, int version_id, GError **errp);
    const VMStateField *fields;             /* VMSTATE_END_OF_LIST ends */
    const VMStateDescription *const *subsections;   /* NULL ends */
};

/* As QEMU's MigrationPriority: higher values are saved first. */
typedef enum MigrationPriority {
    MIG_PRI_DEFAULT = 0,
    MIG_PRI_IOMMU,
    MIG_PRI_PCI_BUS,
    MIG_PRI_VIRTIO_MEM,
    MIG_PRI_GICV3_ITS,
    MIG_PRI_GICV3,
    MIG_PRI_MAX,
} MigrationPriority;

/* vmstate_register: the next free instance id for this idstr. */
#define VMSTATE_INSTANCE_ID_ANY UINT32_MAX
#define VMSTATE_IDSTR_MAX 255   /* fits QEMU's u8-counted section idstr */

/* --- field macros --------------------------------------------------------- */

#define typeof_field(type, field) typeof(((type *)0)->field)

/* 0, or a compile error saying @msg: a type check inside an expression. */
#define VMS_BUILD_CHECK(cond, msg) \
    (0 * sizeof(struct { int ok_; _Static_assert(cond, msg); }))

#define VMS_SAME_TYPE(a, b) __builtin_types_compatible_p(a, b)

/* offsetof(st, f), checking that the field is a @t. */
#define vmstate_offset_value(st, f, t) \
    (offsetof(st, f) + VMS_BUILD_CHECK(VMS_SAME_TYPE(typeof_field(st, f), t), \
                                       #st "." #f " is not a " #t))

/* offsetof(st, f), checking that the field is a @t[n]. */
#define vmstate_offset_array(st, f, t, n) \
    (offsetof(st, f) + \
     VMS_BUILD_CHECK(VMS_SAME_TYPE(typeof_field(st, f), t[n]), \
                     #st "." #f " is not a " #t "[" #n "]"))

/* offsetof(st, f), checking that the field is an array (not a pointer) of
 * @t; its capacity is vmstate_array_len(). */
#define vmstate_offset_varray(st, f, t) \
    (offsetof(st, f) + \
     VMS_BUILD_CHECK(VMS_SAME_TYPE(typeof_field(st, f[0]), t) && \
                     !VMS_SAME_TYPE(typeof_field(st, f), t *), \
                     #st "." #f " is not an array of " #t))
#define vmstate_array_len(st, f) \
    ((uint32_t)(sizeof(typeof_field(st, f)) / sizeof(typeof_field(st, f[0]))))

#define VMSTATE_SINGLE_TEST(f, st, test, v, inf, t) {               \
    .name = #f, .version_id = (v), .field_exists = (test),          \
    .size = sizeof(t), .info = &(inf), .flags = VMS_SINGLE,         \
    .offset = vmstate_offset_value(st, f, t),                       \
}
#define VMSTATE_SINGLE(f, st, v, inf, t) \
    VMSTATE_SINGLE_TEST(f, st, NULL, v, inf, t)

#define VMSTATE_ARRAY(f, st, n, v, inf, t) {                        \
    .name = #f, .version_id = (v), .num = (n),                      \
    .size = sizeof(t), .info = &(inf), .flags = VMS_ARRAY,          \
    .offset = vmstate_offset_array(st, f, t, n),                    \
}

/* An array whose element count is the uint32 field @count of @st, sent
 * earlier; the array's capacity bounds the count on load. */
#define VMSTATE_VARRAY_UINT32(f, st, count, v, inf, t) {            \
    .name = #f, .version_id = (v), .num = vmstate_array_len(st, f), \
    .num_offset = vmstate_offset_value(st, count, uint32_t),        \
    .size = sizeof(t), .info = &(inf), .flags = VMS_VARRAY_UINT32,  \
    .offset = vmstate_offset_varray(st, f, t),                      \
}

#define VMSTATE_BUFFER_V(f, st, v) {                                \
    .name = #f, .version_id = (v), .size = sizeof(typeof_field(st, f)), \
    .info = &ferry_vmstate_info_buffer, .flags = VMS_BUFFER,              \
    .offset = vmstate_offset_varray(st, f, uint8_t),                \
}
#define VMSTATE_BUFFER(f, st) VMSTATE_BUFFER_V(f, st, 0)

/*
 * The bytes of a plain-data field (no pointers inside) whose layout a
 * fixed external ABI owns, such as a KVM structure: sent as a buffer.
 */
#define VMSTATE_RAW(f, st) {                                        \
    .name = #f, .size = sizeof(typeof_field(st, f)),                \
    .info = &ferry_vmstate_info_buffer, .flags = VMS_BUFFER,              \
    .offset = offsetof(st, f),                                      \
}

#define VMSTATE_STRUCT(f, st, v, sd, t) {                           \
    .name = #f, .version_id = (v), .vmsd = &(sd),                   \
    .size = sizeof(t), .flags = VMS_STRUCT | VMS_SINGLE,            \
    .offset = vmstate_offset_value(st, f, t),                       \
}
#define VMSTATE_STRUCT_ARRAY(f, st, n, v, sd, t) {                  \
    .name = #f, .version_id = (v), .vmsd = &(sd), .num = (n),       \
    .size = sizeof(t), .flags = VMS_STRUCT | VMS_ARRAY,             \
    .offset = vmstate_offset_array(st, f, t, n),                    \
}
#define VMSTATE_STRUCT_VARRAY_UINT32(f, st, count, v, sd, t) {      \
    .name = #f, .version_id = (v), .vmsd = &(sd),                   \
    .num = vmstate_array_len(st, f),                                \
    .num_offset = vmstate_offset_value(st, count, uint32_t),        \
    .size = sizeof(t), .flags = VMS_STRUCT | VMS_VARRAY_UINT32,     \
    .offset = vmstate_offset_varray(st, f, t),                      \
}

#define VMSTATE_END_OF_LIST() { .name = NULL }

/* The scalar types: VMSTATE_UINT32(f, st), _V (since version v), _TEST
 * (present when test(opaque, version) says so), _ARRAY, _VARRAY. */
#define VMSTATE_BOOL_V(f, st, v) \
    VMSTATE_SINGLE(f, st, v, ferry_vmstate_info_bool, bool)
#define VMSTATE_INT8_V(f, st, v) \
    VMSTATE_SINGLE(f, st, v, ferry_vmstate_info_int8, int8_t)
#define VMSTATE_INT16_V(f, st, v) \
    VMSTATE_SINGLE(f, st, v, ferry_vmstate_info_int16, int16_t)
#define VMSTATE_INT32_V(f, st, v) \
    VMSTATE_SINGLE(f, st, v, ferry_vmstate_info_int32, int32_t)
#define VMSTATE_INT64_V(f, st, v) \
    VMSTATE_SINGLE(f, st, v, ferry_vmstate_info_int64, int64_t)
#define VMSTATE_UINT8_V(f, st, v) \
    VMSTATE_SINGLE(f, st, v, ferry_vmstate_info_uint8, uint8_t)
#define VMSTATE_UINT16_V(f, st, v) \
    VMSTATE_SINGLE(f, st, v, ferry_vmstate_info_uint16, uint16_t)
#define VMSTATE_UINT32_V(f, st, v) \
    VMSTATE_SINGLE(f, st, v, ferry_vmstate_info_uint32, uint32_t)
#define VMSTATE_UINT64_V(f, st, v) \
    VMSTATE_SINGLE(f, st, v, ferry_vmstate_info_uint64, uint64_t)

#define VMSTATE_BOOL(f, st)         VMSTATE_BOOL_V(f, st, 0)
#define VMSTATE_INT8(f, st)         VMSTATE_INT8_V(f, st, 0)
#define VMSTATE_INT16(f, st)        VMSTATE_INT16_V(f, st, 0)
#define VMSTATE_INT32(f, st)        VMSTATE_INT32_V(f, st, 0)
#define VMSTATE_INT64(f, st)        VMSTATE_INT64_V(f, st, 0)
#define VMSTATE_UINT8(f, st)        VMSTATE_UINT8_V(f, st, 0)
#define VMSTATE_UINT16(f, st)       VMSTATE_UINT16_V(f, st, 0)
#define VMSTATE_UINT32(f, st)       VMSTATE_UINT32_V(f, st, 0)
#define VMSTATE_UINT64(f, st)       VMSTATE_UINT64_V(f, st, 0)

#define VMSTATE_UINT8_TEST(f, st, t)  \
    VMSTATE_SINGLE_TEST(f, st, t, 0, ferry_vmstate_info_uint8, uint8_t)
#define VMSTATE_UINT32_TEST(f, st, t) \
    VMSTATE_SINGLE_TEST(f, st, t, 0, ferry_vmstate_info_uint32, uint32_t)
#define VMSTATE_UINT64_TEST(f, st, t) \
    VMSTATE_SINGLE_TEST(f, st, t, 0, ferry_vmstate_info_uint64, uint64_t)

#define VMSTATE_BOOL_ARRAY(f, st, n) \
    VMSTATE_ARRAY(f, st, n, 0, ferry_vmstate_info_bool, bool)
#define VMSTATE_INT8_ARRAY(f, st, n) \
    VMSTATE_ARRAY(f, st, n, 0, ferry_vmstate_info_int8, int8_t)
#define VMSTATE_INT16_ARRAY(f, st, n) \
    VMSTATE_ARRAY(f, st, n, 0, ferry_vmstate_info_int16, int16_t)
#define VMSTATE_INT32_ARRAY(f, st, n) \
    VMSTATE_ARRAY(f, st, n, 0, ferry_vmstate_info_int32, int32_t)
#define VMSTATE_INT64_ARRAY(f, st, n) \
    VMSTATE_ARRAY(f, st, n, 0, ferry_vmstate_info_int64, int64_t)
#define VMSTATE_UINT8_ARRAY(f, st, n) \
    VMSTATE_ARRAY(f, st, n, 0, ferry_vmstate_info_uint8, uint8_t)
#define VMSTATE_UINT16_ARRAY(f, st, n) \
    VMSTATE_ARRAY(f, st, n, 0, ferry_vmstate_info_uint16, uint16_t)
#define VMSTATE_UINT32_ARRAY(f, st, n) \
    VMSTATE_ARRAY(f, st, n, 0, ferry_vmstate_info_uint32, uint32_t)
#define VMSTATE_UINT64_ARRAY(f, st, n) \
    VMSTATE_ARRAY(f, st, n, 0, ferry_vmstate_info_uint64, uint64_t)

#define VMSTATE_UINT8_VARRAY_UINT32(f, st, count) \
    VMSTATE_VARRAY_UINT32(f, st, count, 0, ferry_vmstate_info_uint8, uint8_t)
#define VMSTATE_UINT32_VARRAY_UINT32(f, st, count) \
    VMSTATE_VARRAY_UINT32(f, st, count, 0, ferry_vmstate_info_uint32, uint32_t)
#define VMSTATE_UINT64_VARRAY_UINT32(f, st, count) \
    VMSTATE_VARRAY_UINT32(f, st, count, 0, ferry_vmstate_info_uint64, uint64_t)

#endif
