/*
 * The save half of the vmstate engine: fields, then needed subsections,
 * and alongside them the vmdesc JSON in QEMU's shape (see
 * vmsd_desc_field_start in QEMU's migration/vmstate.c), so that QEMU's
 * scripts/analyze-migration.py can read our streams.
 */
#include <errno.h>
#include <string.h>
#include "migration/format/qemu-file.h"
#include "migration/format/vmstate-int.h"

static int save_vmsd(QEMUFile *f, const VMStateDescription *vmsd,
                     void *opaque, JsonBuilder *vmdesc, uint64_t *written);

/* QEMU names a field that occurs twice in one table "name[n]". */
static char *desc_field_name(const VMStateDescription *vmsd,
                             const VMStateField *fl)
{
    int seen = 0, total = 0;

    for (const VMStateField *o = vmsd->fields; o->name; o++) {
        if (!strcmp(o->name, fl->name)) {
            seen += o < fl;
            total++;
        }
    }
    return total > 1 ? g_strdup_printf("%s[%d]", fl->name, seen)
                     : g_strdup(fl->name);
}

/* An array is described once ("array_len") unless its elements' layout
 * may differ from one to the next. */
static bool desc_can_compress(const VMStateField *fl)
{
    if (fl->field_exists) {
        return false;
    }
    if (fl->flags & VMS_STRUCT) {
        for (const VMStateField *s = fl->vmsd->fields; s->name; s++) {
            if (!desc_can_compress(s)) {
                return false;
            }
        }
        return !fl->vmsd->subsections;
    }
    return true;
}

static void desc_field_start(JsonBuilder *b, const VMStateDescription *vmsd,
                             const VMStateField *fl, uint32_t i, uint32_t n)
{
    g_autofree char *name = desc_field_name(vmsd, fl);

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, name);
    if (n > 1) {
        bool compress = desc_can_compress(fl);
        json_builder_set_member_name(b, compress ? "array_len" : "index");
        json_builder_add_int_value(b, compress ? n : i);
    }
    json_builder_set_member_name(b, "type");
    json_builder_add_string_value(b, (fl->flags & VMS_STRUCT) ? "struct"
                                                              : fl->info->name);
    if (fl->flags & VMS_STRUCT) {
        json_builder_set_member_name(b, "struct");
        json_builder_begin_object(b);
    }
}

static void desc_field_end(JsonBuilder *b, const VMStateField *fl,
                           uint64_t size)
{
    if (fl->flags & VMS_STRUCT) {
        json_builder_end_object(b);
    }
    json_builder_set_member_name(b, "size");
    json_builder_add_int_value(b, (gint64)size);
    json_builder_end_object(b);
}

static int save_field(QEMUFile *f, const VMStateDescription *vmsd,
                      const VMStateField *fl, void *opaque,
                      JsonBuilder *vmdesc, uint64_t *written)
{
    uint32_t n = vmstate_field_count(fl, opaque);
    char *base = (char *)opaque + fl->offset;

    if (n > fl->num && (fl->flags & VMS_VARRAY_UINT32)) {
        return -EINVAL;         /* the count would overrun the array */
    }
    for (uint32_t i = 0; i < n; i++) {
        void *elem = base + (size_t)i * fl->size;
        uint64_t size = 0;

        if (vmdesc) {
            desc_field_start(vmdesc, vmsd, fl, i, n);
        }
        if (fl->flags & VMS_STRUCT) {
            int ret = save_vmsd(f, fl->vmsd, elem, vmdesc, &size);
            if (ret) {
                return ret;
            }
        } else {
            fl->info->put(f, elem, fl->size);
            size = fl->size;    /* every wire type has its C size */
        }
        if (vmdesc) {
            desc_field_end(vmdesc, fl, size);
            vmdesc = desc_can_compress(fl) ? NULL : vmdesc;
        }
        *written += size;
    }
    return 0;
}

static bool section_needed(const VMStateDescription *vmsd, void *opaque)
{
    return !vmsd->needed || vmsd->needed(opaque);
}

/* QEMU_VM_SUBSECTION, name (u8 len + bytes), version (be32), state. */
static int save_subsection(QEMUFile *f, const VMStateDescription *sub,
                           void *opaque, JsonBuilder *vmdesc,
                           uint64_t *written)
{
    size_t len = strlen(sub->name);
    int ret;

    g_assert(len <= UINT8_MAX);
    qemu_put_byte(f, QEMU_VM_SUBSECTION);
    qemu_put_byte(f, (uint8_t)len);
    qemu_put_buffer(f, (const uint8_t *)sub->name, len);
    qemu_put_be32(f, (uint32_t)sub->version_id);
    *written += 1 + 1 + len + 4;
    if (vmdesc) {
        json_builder_begin_object(vmdesc);
    }
    ret = save_vmsd(f, sub, opaque, vmdesc, written);
    if (vmdesc && !ret) {
        json_builder_end_object(vmdesc);
    }
    return ret;
}

static int save_subsections(QEMUFile *f, const VMStateDescription *vmsd,
                            void *opaque, JsonBuilder *vmdesc,
                            uint64_t *written)
{
    bool listed = false;

    for (const VMStateDescription *const *sub = vmsd->subsections;
         sub && *sub; sub++) {
        if (!section_needed(*sub, opaque)) {
            continue;
        }
        if (vmdesc && !listed) {
            /* QEMU writes the key only when a subsection is sent. */
            json_builder_set_member_name(vmdesc, "subsections");
            json_builder_begin_array(vmdesc);
            listed = true;
        }
        int ret = save_subsection(f, *sub, opaque, vmdesc, written);
        if (ret) {
            return ret;
        }
    }
    if (listed) {
        json_builder_end_array(vmdesc);
    }
    return 0;
}

static int save_vmsd(QEMUFile *f, const VMStateDescription *vmsd,
                     void *opaque, JsonBuilder *vmdesc, uint64_t *written)
{
    int ret = vmsd->pre_save ? vmsd->pre_save(opaque) : 0;

    if (ret) {
        return ret;
    }
    if (vmdesc) {
        json_builder_set_member_name(vmdesc, "vmsd_name");
        json_builder_add_string_value(vmdesc, vmsd->name);
        json_builder_set_member_name(vmdesc, "version");
        json_builder_add_int_value(vmdesc, vmsd->version_id);
        json_builder_set_member_name(vmdesc, "fields");
        json_builder_begin_array(vmdesc);
    }
    for (const VMStateField *fl = vmsd->fields; fl->name; fl++) {
        if (vmstate_field_present(fl, opaque, vmsd->version_id)) {
            ret = save_field(f, vmsd, fl, opaque, vmdesc, written);
            if (ret) {
                return ret;
            }
        }
    }
    if (vmdesc) {
        json_builder_end_array(vmdesc);
    }
    return save_subsections(f, vmsd, opaque, vmdesc, written);
}

/* On failure @vmdesc is left mid-object: the caller discards it, as the
 * migration itself has failed. */
int vmstate_save_state(QEMUFile *f, const VMStateDescription *vmsd,
                       void *opaque, JsonBuilder *vmdesc)
{
    uint64_t written = 0;
    int ret = save_vmsd(f, vmsd, opaque, vmdesc, &written);

    return ret ? ret : qemu_file_get_error(f);
}
