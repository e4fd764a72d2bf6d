/* Shared by the vmstate engine's save and load halves. */
#ifndef FERRY_MIGRATION_VMSTATE_INT_H
#define FERRY_MIGRATION_VMSTATE_INT_H

#include "migration/vmstate.h"

/* Whether @fl is in state of @version_id: its own test, or its version. */
static inline bool vmstate_field_present(const VMStateField *fl, void *opaque,
                                         int version_id)
{
    return fl->field_exists ? fl->field_exists(opaque, version_id)
                            : fl->version_id <= version_id;
}

/* Elements of @fl in @opaque; a variable count is read from the struct. */
static inline uint32_t vmstate_field_count(const VMStateField *fl,
                                           const void *opaque)
{
    if (fl->flags & VMS_VARRAY_UINT32) {
        return *(const uint32_t *)((const char *)opaque + fl->num_offset);
    }
    return (fl->flags & VMS_ARRAY) ? fl->num : 1;
}

static inline bool vmstate_field_is_array(const VMStateField *fl)
{
    return fl->flags & (VMS_ARRAY | VMS_VARRAY_UINT32);
}

#endif
