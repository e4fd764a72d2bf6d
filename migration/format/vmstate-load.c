/*
 * The load half of the vmstate engine.  Every error names the section (or
 * subsection) and the field being read, as "serial: field 'lcr':
 * unexpected end of stream"; fields of nested structs and array elements
 * show as a path, "cpu[3].rounds".
 */
#include <errno.h>
#include <string.h>
#include "migration/format/qemu-file.h"
#include "util/error.h"
#include "migration/format/vmstate-int.h"

typedef struct LoadCtx {
    QEMUFile *f;
    const char *section;    /* the (sub)section being read */
    GString *path;          /* the field being read */
    const char *last;       /* the last top-level field read */
    GError **errp;
} LoadCtx;

static int load_section(QEMUFile *f, const VMStateDescription *vmsd,
                        void *opaque, int version_id, bool top,
                        GError **errp);

static const char *stream_error(int err)
{
    /* The stream reports end of input as -EIO, as QEMU's. */
    return err == -EIO ? "unexpected end of stream" : g_strerror(-err);
}

static int field_error(LoadCtx *c, int err, const char *what)
{
    error_setg(c->errp, "%s: field '%s': %s", c->section, c->path->str, what);
    return err;
}

static int load_vmsd(LoadCtx *c, const VMStateDescription *vmsd,
                     void *opaque, int version_id, bool top);

static int load_element(LoadCtx *c, const VMStateField *fl, void *elem)
{
    int ret, err;

    if (fl->flags & VMS_STRUCT) {
        /* A nested struct's version is not on the wire: it is its own. */
        return load_vmsd(c, fl->vmsd, elem, fl->vmsd->version_id, false);
    }
    ret = fl->info->get(c->f, elem, fl->size);
    err = qemu_file_get_error(c->f);
    if (err) {
        return field_error(c, err, stream_error(err));
    }
    return ret ? field_error(c, ret, "invalid value") : 0;
}

static int load_field(LoadCtx *c, const VMStateField *fl, void *opaque)
{
    uint32_t n = vmstate_field_count(fl, opaque);
    char *base = (char *)opaque + fl->offset;
    size_t mark = c->path->len, name_end;
    int ret = 0;

    g_string_append_printf(c->path, "%s%s", mark ? "." : "", fl->name);
    name_end = c->path->len;
    if ((fl->flags & VMS_VARRAY_UINT32) && n > fl->num) {
        /* The count came from the stream: never trust it with memory. */
        g_autofree char *msg = g_strdup_printf(
            "%u elements do not fit in %u", n, fl->num);
        ret = field_error(c, -EINVAL, msg);
    }
    for (uint32_t i = 0; i < n && !ret; i++) {
        g_string_truncate(c->path, name_end);
        if (vmstate_field_is_array(fl)) {
            g_string_append_printf(c->path, "[%u]", i);
        }
        ret = load_element(c, fl, base + (size_t)i * fl->size);
    }
    g_string_truncate(c->path, mark);
    c->last = mark ? c->last : fl->name;
    return ret;
}

/*
 * Looks at the next bytes without consuming them: 1 and the name in
 * @idstr if they are a subsection of @vmsd (its name starts with
 * "vmsd-name/"), 0 if not, or the stream's error.  QEMU peeks too: after a
 * nested struct, the next bytes may be the parent's subsection or field.
 */
static int peek_subsection(QEMUFile *f, const VMStateDescription *vmsd,
                           char idstr[256], bool top)
{
    size_t plen = strlen(vmsd->name);
    int len, err;

    if (qemu_peek_byte(f, 0) != QEMU_VM_SUBSECTION) {
        err = qemu_file_get_error(f);
        return err ? err : 0;
    }
    len = qemu_peek_byte(f, 1);
    for (int i = 0; i < len; i++) {
        idstr[i] = (char)qemu_peek_byte(f, 2 + i);
    }
    idstr[len > 0 ? len : 0] = '\0';
    err = qemu_file_get_error(f);
    if (err) {
        return err;
    }
    if (!top && (strncmp(idstr, vmsd->name, plen) || idstr[plen] != '/')) {
        return 0;
    }
    return 1;
}

static const VMStateDescription *find_subsection(
    const VMStateDescription *vmsd, const char *idstr)
{
    for (const VMStateDescription *const *sub = vmsd->subsections;
         sub && *sub; sub++) {
        if (!strcmp((*sub)->name, idstr)) {
            return *sub;
        }
    }
    return NULL;
}

static int load_one_subsection(LoadCtx *c, const VMStateDescription *vmsd,
                               void *opaque, const char *idstr)
{
    const VMStateDescription *sub = find_subsection(vmsd, idstr);
    uint8_t skip[2 + 255];      /* marker, length byte, name */
    int version, err;

    if (!sub) {
        error_setg(c->errp, "%s: unknown subsection '%s'", c->section, idstr);
        return -ENOENT;
    }
    qemu_get_buffer(c->f, skip, 2 + strlen(idstr));     /* marker, name */
    version = (int)qemu_get_be32(c->f);
    err = qemu_file_get_error(c->f);
    if (err) {
        error_setg(c->errp, "%s: subsection '%s': %s", c->section, idstr,
                   stream_error(err));
        return err;
    }
    return load_section(c->f, sub, opaque, version, false, c->errp);
}

/*
 * Subsections of @vmsd, in any order.  At the top of a section nothing but
 * ours may follow the fields, so a marker with a foreign name is an error
 * there; deeper, it may be an enclosing description's.
 */
static int load_subsections(LoadCtx *c, const VMStateDescription *vmsd,
                            void *opaque, bool top)
{
    char idstr[256];
    int ret;

    while ((ret = peek_subsection(c->f, vmsd, idstr, top)) == 1) {
        ret = load_one_subsection(c, vmsd, opaque, idstr);
        if (ret) {
            return ret;
        }
    }
    if (ret < 0) {
        error_setg(c->errp, "%s: %s '%s': %s", c->section,
                   c->path->len ? "field" : "after field",
                   c->path->len ? c->path->str : c->last, stream_error(ret));
    }
    return ret;
}

static int load_vmsd(LoadCtx *c, const VMStateDescription *vmsd,
                     void *opaque, int version_id, bool top)
{
    g_autoptr(GError) err = NULL;
    int ret;

    for (const VMStateField *fl = vmsd->fields; fl->name; fl++) {
        if (vmstate_field_present(fl, opaque, version_id)) {
            ret = load_field(c, fl, opaque);
            if (ret) {
                return ret;
            }
        }
    }
    ret = load_subsections(c, vmsd, opaque, top);
    if (ret) {
        return ret;
    }
    if (vmsd->post_load && !vmsd->post_load(opaque, version_id, &err)) {
        g_propagate_prefixed_error(c->errp, g_steal_pointer(&err), "%s: ",
                                   c->section);
        return -EINVAL;
    }
    return 0;
}

static int load_section(QEMUFile *f, const VMStateDescription *vmsd,
                        void *opaque, int version_id, bool top,
                        GError **errp)
{
    LoadCtx c = { .f = f, .section = vmsd->name, .errp = errp };
    int ret;

    if (version_id > vmsd->version_id) {
        error_setg(errp, "%s: incoming version %d is too new (this side "
                   "reads versions %d to %d)", vmsd->name, version_id,
                   vmsd->minimum_version_id, vmsd->version_id);
        return -EINVAL;
    }
    if (version_id < vmsd->minimum_version_id) {
        error_setg(errp, "%s: incoming version %d is too old (this side "
                   "reads versions %d to %d)", vmsd->name, version_id,
                   vmsd->minimum_version_id, vmsd->version_id);
        return -EINVAL;
    }
    c.path = g_string_new(NULL);
    ret = load_vmsd(&c, vmsd, opaque, version_id, top);
    g_string_free(c.path, TRUE);
    return ret;
}

int vmstate_load_state(QEMUFile *f, const VMStateDescription *vmsd,
                       void *opaque, int version_id, GError **errp)
{
    return load_section(f, vmsd, opaque, version_id, true, errp);
}
