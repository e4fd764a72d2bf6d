/*
 * The 16550's migration description.  Name, versions and field order are
 * QEMU's "serial" (fcr arrived in version 3) for the registers ferry
 * models; the VM is stopped while it is saved or loaded, so the UART lock
 * is not needed.
 */
#include "hw/serial.h"
#include "ferry/migration.h"
#include "util/error.h"

/* Out-of-range bits would be impossible for the guest to have written. */
static bool serial_post_load(void *opaque, int version_id, GError **errp)
{
    const SerialState *s = opaque;

    if (s->ier & ~0x0f || s->mcr & ~0x1f) {
        error_setg(errp, "invalid register values (ier 0x%x, mcr 0x%x)",
                   s->ier, s->mcr);
        return false;
    }
    return true;
}

static const VMStateDescription vmstate_serial = {
    .name = "serial",
    .version_id = 3,
    .minimum_version_id = 2,
    .post_load = serial_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT16(divider, SerialState),
        VMSTATE_UINT8(ier, SerialState),
        VMSTATE_UINT8(lcr, SerialState),
        VMSTATE_UINT8(mcr, SerialState),
        VMSTATE_UINT8(scr, SerialState),
        VMSTATE_UINT8_V(fcr, SerialState, 3),
        VMSTATE_END_OF_LIST()
    },
};

bool serial_vmstate_register(FerryMig *m, SerialState *s, GError **errp)
{
    ferry_mig_unregister_device(m, &vmstate_serial, s);
    return ferry_mig_register_device(m, "serial", 0, &vmstate_serial, s,
                            MIG_PRI_DEFAULT, errp);
}
