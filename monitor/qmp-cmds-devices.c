/*
 * query-chardev and qom-list: what libvirt asks of the device
 * model around a migration, answered truthfully for ferry's small one.
 */
#include <string.h>
#include "hw/pc.h"
#include "ferry/block.h"
#include "qapi/qapi-commands.h"
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
    for (gsize i = 0; i < G_N_ELEMENTS(containers); i++) {
        if (!strcmp(path, containers[i])) {
            return prop(NULL, "type", "string");
        }
    }
    g_set_error(errp, FERRY_ERROR, FERRY_ERROR_DEVICE_NOT_FOUND,
                "Device '%s' not found", path);
    return NULL;
}
