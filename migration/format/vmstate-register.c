/*
 * The registry of device sections: what the savevm layer walks to write
 * one QEMU_VM_SECTION_FULL per entry, and searches by (idstr, instance id)
 * when a section arrives.  Order as QEMU's savevm_state.handlers: higher
 * priority first (an IOMMU before the devices behind it), then
 * registration order.  One registry per migration context.
 *
 * Locking: main thread only (devices register at machine init; migration
 * walks it with the VM stopped).
 */
#include <string.h>
#include "migration/format/vmstate-int.h"
#include "util/error.h"

void vmstate_registry_init(VMStateRegistry *r)
{
    g_queue_init(&r->entries);
    r->next_section_id = 0;
}

static void entry_free(gpointer p)
{
    VMStateEntry *e = p;

    g_free(e->idstr);
    g_free(e);
}

void vmstate_registry_clear(VMStateRegistry *r)
{
    g_queue_clear_full(&r->entries, entry_free);
}

const VMStateEntry *vmstate_find(VMStateRegistry *r, const char *idstr,
                                 uint32_t instance_id)
{
    for (GList *l = r->entries.head; l; l = l->next) {
        const VMStateEntry *e = l->data;
        if (e->instance_id == instance_id && !strcmp(e->idstr, idstr)) {
            return e;
        }
    }
    return NULL;
}

/* QEMU's calculate_new_instance_id: one past the highest in use. */
static uint32_t next_instance_id(VMStateRegistry *r, const char *idstr)
{
    uint32_t id = 0;

    for (GList *l = r->entries.head; l; l = l->next) {
        const VMStateEntry *e = l->data;
        if (!strcmp(e->idstr, idstr) && e->instance_id >= id) {
            id = e->instance_id + 1;
        }
    }
    return id;
}

/* After every entry of the same or higher priority. */
static void insert_by_priority(VMStateRegistry *r, VMStateEntry *e)
{
    GList *l = r->entries.head;

    while (l && ((VMStateEntry *)l->data)->priority >= e->priority) {
        l = l->next;
    }
    g_queue_insert_before(&r->entries, l, e);
}

bool vmstate_register(VMStateRegistry *r, const char *idstr,
                      uint32_t instance_id, const VMStateDescription *vmsd,
                      void *opaque, int priority, GError **errp)
{
    VMStateEntry *e;

    if (strlen(idstr) > VMSTATE_IDSTR_MAX) {
        error_setg(errp, "vmstate: section name '%s' is longer than %d bytes",
                   idstr, VMSTATE_IDSTR_MAX);
        return false;
    }
    if (instance_id == VMSTATE_INSTANCE_ID_ANY) {
        instance_id = next_instance_id(r, idstr);
    }
    if (vmstate_find(r, idstr, instance_id)) {
        error_setg(errp, "vmstate: '%s' instance %u is already registered",
                   idstr, instance_id);
        return false;
    }
    e = g_new0(VMStateEntry, 1);
    e->idstr = g_strdup(idstr);
    e->instance_id = instance_id;
    e->section_id = r->next_section_id++;
    e->priority = priority;
    e->vmsd = vmsd;
    e->opaque = opaque;
    insert_by_priority(r, e);
    return true;
}

void vmstate_unregister(VMStateRegistry *r, const VMStateDescription *vmsd,
                        void *opaque)
{
    GList *l = r->entries.head;

    while (l) {
        GList *next = l->next;
        VMStateEntry *e = l->data;
        if (e->vmsd == vmsd && e->opaque == opaque) {
            g_queue_delete_link(&r->entries, l);
            entry_free(e);
        }
        l = next;
    }
}

int vmstate_foreach(VMStateRegistry *r, VMStateForeachFn cb, void *opaque)
{
    for (GList *l = r->entries.head; l; l = l->next) {
        int ret = cb(l->data, opaque);
        if (ret) {
            return ret;
        }
    }
    return 0;
}
