/*
 * query-chardev and qom-list: what libvirt asks of the device
 * model around a migration, answered truthfully for ferry's small one.
 */
#include <stdio.h>
#include <string.h>
#include "ferry/block.h"
#include "hw/pc.h"
#include "qapi/qapi-commands.h"
#include "system/cpus.h"
#include "system/machine.h"
#include "system/machine-init.h"
#include "util/error.h"

static ChardevInfoList *prepend_chardev(ChardevInfoList *next,
                                        const char *label,
                                        const char *filename, bool open)
{
    ChardevInfoList *l = g_new0(ChardevInfoList, 1);

    l->value = g_new0(ChardevInfo, 1);
    l->value->label = g_strdup(label);
    l->value->filename = g_strdup(filename);
    l->value->frontend_open = open;
    l->next = next;
    return l;
}

/*
 * The chardevs by id, with QEMU's filename syntax (libvirt finds a pty's
 * path there), then ferry's -qmp/-monitor servers, which are not chardevs
 * (any number of clients), as "monitorN"/"hmp0" with their spec.
 */
ChardevInfoList *qmp_query_chardev(GError **errp)
{
    const MachineConfig *cfg = current_config;
    GPtrArray *chardevs = chardev_set_list(machine_chardevs());
    ChardevInfoList *head = NULL;

    if (cfg && cfg->monitor) {
        head = prepend_chardev(head, "hmp0", cfg->monitor, true);
    }
    for (guint i = cfg && cfg->qmp ? cfg->qmp->len : 0; i-- > 0;) {
        g_autofree char *label = g_strdup_printf("monitor%u", i);
        head = prepend_chardev(head, label, g_ptr_array_index(cfg->qmp, i),
                               true);
    }
    for (guint i = chardevs->len; i-- > 0;) {
        Chardev *chr = g_ptr_array_index(chardevs, i);
        g_autofree char *filename = chardev_filename(chr);

        head = prepend_chardev(head, chardev_id(chr), filename,
                               chardev_frontend_open(chr));
    }
    return head;
}

/* The vCPUs' QOM type (qom-list-types): KVM runs them with the host's CPUID. */
#define VCPU_TYPE "host-x86_64-cpu"

static ObjectPropertyInfoList *prop(ObjectPropertyInfoList *next,
                                    const char *name, const char *type)
{
    ObjectPropertyInfoList *l = g_new0(ObjectPropertyInfoList, 1);

    l->value = g_new0(ObjectPropertyInfo, 1);
    l->value->name = g_strdup(name);
    l->value->type = g_strdup(type);
    l->next = next;
    return l;
}

/* The devices with an id, as QEMU lists -device ...,id=ID there. */
static ObjectPropertyInfoList *peripherals(void)
{
    g_autoptr(GPtrArray) nodes = bdrv_nodes(machine_block_graph());
    ObjectPropertyInfoList *l = prop(NULL, "type", "string");

    for (guint i = 0; i < nodes->len; i++) {
        const char *id = bdrv_device(g_ptr_array_index(nodes, i));
        if (id && id[0] != '#') {     /* "#pvblkN": a device without id */
            l = prop(l, id, "child<pvblk>");
        }
    }
    if (pc_serial_id()) {
        l = prop(l, pc_serial_id(), "child<isa-serial>");
    }
    return l;
}

/* QEMU puts the vCPUs it creates at start first in /machine/unattached. */
static ObjectPropertyInfoList *unattached(void)
{
    ObjectPropertyInfoList *l = prop(NULL, "type", "string");

    for (unsigned i = cpus_count(); i-- > 0;) {
        g_autofree char *name = g_strdup_printf("device[%u]", i);
        l = prop(l, name, "child<" VCPU_TYPE ">");
    }
    return l;
}

/*
 * A vCPU: /machine/unattached/device[N].  No "feature-words": libvirt
 * then does not read CPUID through qom-get, which ferry does not have.
 */
static bool vcpu_path(const char *path)
{
    unsigned index;
    g_autofree char *canonical = NULL;

    if (sscanf(path, "/machine/unattached/device[%u]", &index) != 1 ||
        index >= cpus_count()) {
        return false;
    }
    canonical = g_strdup_printf("/machine/unattached/device[%u]", index);
    return !strcmp(path, canonical);
}

static ObjectPropertyInfoList *vcpu_props(void)
{
    return prop(prop(prop(NULL, "apic-id", "uint32"), "realized", "bool"),
                "type", "string");
}

ObjectPropertyInfoList *qmp_qom_list(const char *path, GError **errp)
{
    static const char *const containers[] = {
        "/machine/peripheral", "/machine/peripheral-anon",
        "/machine/unattached",
    };

    if (!strcmp(path, "/machine")) {
        ObjectPropertyInfoList *l = prop(NULL, "type", "string");
        for (gsize i = 0; i < G_N_ELEMENTS(containers); i++) {
            l = prop(l, containers[i] + strlen("/machine/"), "child<container>");
        }
        return l;
    }
    if (!strcmp(path, "/machine/peripheral")) {
        return peripherals();
    }
    if (!strcmp(path, "/machine/unattached")) {
        return unattached();
    }
    if (vcpu_path(path)) {
        return vcpu_props();
    }
    for (gsize i = 0; i < G_N_ELEMENTS(containers); i++) {
        if (!strcmp(path, containers[i])) {
            return prop(NULL, "type", "string");
        }
    }
    g_set_error(errp, FERRY_ERROR, FERRY_ERROR_DEVICE_NOT_FOUND,
                "Device '%s' not found", path);
    return NULL;
}
