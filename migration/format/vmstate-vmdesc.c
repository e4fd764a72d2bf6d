/*
 * The frame of the vmdesc, the JSON that QEMU appends to a stream after
 * QEMU_VM_VMDESCRIPTION so tools can parse the device state without the
 * device code:
 *   {"page_size": 4096, "devices": [
 *     {"name": idstr, "instance_id": 0, "vmsd_name": ..., "version": ...,
 *      "fields": [...], "subsections": [...]}, ...]}
 * The members after instance_id come from vmstate_save_state().
 */
#include "migration/format/vmstate-int.h"

void vmstate_vmdesc_begin(JsonBuilder *vmdesc, uint64_t page_size)
{
    json_builder_begin_object(vmdesc);
    json_builder_set_member_name(vmdesc, "page_size");
    json_builder_add_int_value(vmdesc, (gint64)page_size);
    json_builder_set_member_name(vmdesc, "devices");
    json_builder_begin_array(vmdesc);
}

void vmstate_vmdesc_end(JsonBuilder *vmdesc)
{
    json_builder_end_array(vmdesc);
    json_builder_end_object(vmdesc);
}

void vmstate_vmdesc_device_begin(JsonBuilder *vmdesc, const VMStateEntry *e)
{
    json_builder_begin_object(vmdesc);
    json_builder_set_member_name(vmdesc, "name");
    json_builder_add_string_value(vmdesc, e->idstr);
    json_builder_set_member_name(vmdesc, "instance_id");
    json_builder_add_int_value(vmdesc, e->instance_id);
}

void vmstate_vmdesc_device_end(JsonBuilder *vmdesc)
{
    json_builder_end_object(vmdesc);
}
