/*
 * The vmstate engine's inside: save and load, the registry of device
 * sections, the vmdesc.  Not for use outside migration/.
 */
#ifndef FERRY_MIGRATION_VMSTATE_INT_H
#define FERRY_MIGRATION_VMSTATE_INT_H

#include <json-glib/json-glib.h>
#include "ferry/vmstate.h"

/*
 * Writes @opaque as @vmsd describes it, at vmsd->version_id.  With @vmdesc,
 * adds to the open JSON object the members "vmsd_name", "version",
 * "fields" and, if any subsection was sent, "subsections" (QEMU's shape).
 * Returns 0 or -errno (pre_save's, or the stream's sticky error).
 */
int vmstate_save_state(QEMUFile *f, const VMStateDescription *vmsd,
                       void *opaque, JsonBuilder *vmdesc);

/*
 * Reads into @opaque state that was saved at @version_id.  Errors name the
 * description and the field: "serial: field 'lcr': unexpected end of
 * stream".  Returns 0, or -errno and sets @errp.
 */
int vmstate_load_state(QEMUFile *f, const VMStateDescription *vmsd,
                       void *opaque, int version_id, GError **errp);

/* --- the registry of device sections ------------------------------------ */

typedef struct VMStateEntry {
    char *idstr;
    uint32_t instance_id;
    uint32_t section_id;        /* unique per process, from registration */
    int priority;
    const VMStateDescription *vmsd;
    void *opaque;
} VMStateEntry;

/* The device sections of one migration context, in saving order. */
typedef struct VMStateRegistry {
    GQueue entries;             /* VMStateEntry, highest priority first */
    uint32_t next_section_id;
} VMStateRegistry;

void vmstate_registry_init(VMStateRegistry *r);
void vmstate_registry_clear(VMStateRegistry *r);
/* Main thread only.  Refuses an (idstr, instance_id) already registered. */
bool vmstate_register(VMStateRegistry *r, const char *idstr,
                      uint32_t instance_id, const VMStateDescription *vmsd,
                      void *opaque, int priority, GError **errp);
/* Removes every entry of @vmsd over @opaque. */
void vmstate_unregister(VMStateRegistry *r, const VMStateDescription *vmsd,
                        void *opaque);
const VMStateEntry *vmstate_find(VMStateRegistry *r, const char *idstr,
                                 uint32_t instance_id);

/*
 * Calls @cb on each entry, highest priority first, then in registration
 * order; stops at the first non-zero return and returns it.  @cb must not
 * register or unregister.
 */
typedef int (*VMStateForeachFn)(const VMStateEntry *e, void *opaque);
int vmstate_foreach(VMStateRegistry *r, VMStateForeachFn cb, void *opaque);

/* --- the vmdesc: QEMU's JSON description at the end of the stream -------- */

/* {"page_size": N, "devices": [ ... */
void vmstate_vmdesc_begin(JsonBuilder *vmdesc, uint64_t page_size);
/* ... ]} */
void vmstate_vmdesc_end(JsonBuilder *vmdesc);
/* {"name": idstr, "instance_id": N, then vmstate_save_state's members */
void vmstate_vmdesc_device_begin(JsonBuilder *vmdesc, const VMStateEntry *e);
void vmstate_vmdesc_device_end(JsonBuilder *vmdesc);


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
