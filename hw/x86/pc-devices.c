/*
 * The pc machine's -device table and its serial port.  -device names one
 * of ferry's device models by QEMU's driver name: pvblk (ferry's disk,
 * on a -blockdev node), pvchannel (a guest-agent channel on a chardev)
 * or isa-serial (COM1, which the machine always has:
 * the option connects it to a chardev).  -serial is QEMU's shorthand for
 * a chardev "serial0" plus COM1 on it.
 */
#include <string.h>
#include "hw/pc.h"
#include "hw/pvblk.h"
#include "hw/pvchannel.h"
#include "hw/serial.h"
#include "system/machine-init.h"
#include "util/error.h"
#include "util/keyval.h"

typedef bool DeviceAddFn(const char *spec, GError **errp);

static char *com1_id;           /* isa-serial's id=, for qom-list */
static bool com1_taken;

/* COM1 writes through the chardev; it takes no input yet. */
static const ChardevFrontend com1_frontend;

static bool com1_connect(Chardev *chr, GError **errp)
{
    if (com1_taken) {
        error_setg(errp, "COM1 is already connected (ferry's pc machine "
                   "has one serial port)");
        return false;
    }
    if (chr && !chardev_attach(chr, &com1_frontend, NULL, errp)) {
        return false;
    }
    com1_taken = true;
    serial_set_backend(chr);
    return true;
}

static bool isa_serial_parse(const char *spec, GError **errp)
{
    static const char *const known[] = {
        "driver", "chardev", "id", "index", NULL
    };
    g_autoptr(Keyval) kv = keyval_parse(spec, "driver", errp);
    const char *chardev, *id;
    uint64_t index;
    Chardev *chr = NULL;

    if (!kv || !keyval_check_known(kv, known, errp) ||
        !keyval_get_str(kv, "chardev", &chardev, errp) ||
        !keyval_get_id(kv, "id", &id, errp) ||
        !keyval_get_u64(kv, "index", 0, &index, errp)) {
        return false;
    }
    if (index != 0) {
        error_setg(errp, "index=%" G_GUINT64_FORMAT ": ferry's pc machine "
                   "has COM1 only (index=0)", index);
        return false;
    }
    if (chardev && !(chr = chardev_find(machine_chardevs(), chardev))) {
        error_setg(errp, "chardev=%s: no such chardev", chardev);
        return false;
    }
    if (!com1_connect(chr, errp)) {
        return false;
    }
    com1_id = g_strdup(id);
    return true;
}

/* Errors name the driver, as pvblk's do. */
static bool isa_serial_add(const char *spec, GError **errp)
{
    if (!isa_serial_parse(spec, errp)) {
        g_prefix_error(errp, "isa-serial: ");
        return false;
    }
    return true;
}

static bool pvblk_add(const char *spec, GError **errp)
{
    return pvblk_create(machine_block_graph(), spec, errp);
}

static bool pvchannel_add(const char *spec, GError **errp)
{
    return pvchannel_create(machine_chardevs(), spec, errp);
}

static const struct {
    const char *driver;
    DeviceAddFn *add;
} devices[] = {
    { "pvblk", pvblk_add },
    { "isa-serial", isa_serial_add },
    { "pvchannel", pvchannel_add },
};

static bool device_add(const char *spec, GError **errp)
{
    g_autoptr(Keyval) kv = keyval_parse(spec, "driver", errp);
    const char *driver;

    if (!kv || !keyval_get_str(kv, "driver", &driver, errp)) {
        return false;
    }
    for (gsize i = 0; driver && i < G_N_ELEMENTS(devices); i++) {
        if (!strcmp(devices[i].driver, driver)) {
            return devices[i].add(spec, errp);
        }
    }
    error_setg(errp, "unsupported device '%s' (ferry has: pvblk, isa-serial, "
               "pvchannel)",
               driver ? driver : "");
    return false;
}

bool pc_devices_init(const MachineConfig *cfg, GError **errp)
{
    for (guint i = 0; i < cfg->devices->len; i++) {
        if (!device_add(g_ptr_array_index(cfg->devices, i), errp)) {
            g_prefix_error(errp, "-device: ");
            return false;
        }
    }
    if (cfg->serial) {
        Chardev *chr = chardev_set_add_shorthand(machine_chardevs(),
                                                 "serial0", cfg->serial, errp);

        if (!chr || !com1_connect(chr, errp)) {
            g_prefix_error(errp, "-serial: ");
            return false;
        }
    }
    return true;
}

const char *pc_serial_id(void)
{
    return com1_id;
}

void pc_devices_cleanup(void)
{
    serial_cleanup();
    com1_taken = false;
    g_clear_pointer(&com1_id, g_free);
}
