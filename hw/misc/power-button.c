/*
 * The paravirtual power button (see include/hw/power-button.h).  The
 * guest's POWER_OFF write arrives on a vCPU thread during its MMIO exit;
 * the shutdown itself is the main loop's (ferry_request_shutdown), as a
 * power-off the guest asked for: SHUTDOWN {guest: true, reason:
 * "guest-shutdown"}, then exit, or a pause with -no-shutdown.
 */
#include "hw/power-button.h"
#include "ferry/migration.h"
#include "guest/power-dev.h"
#include "system/ioport.h"
#include "system/migration-vmm.h"
#include "system/runstate.h"
#include "util/log.h"

static PowerButtonState button;     /* atomic: main thread and vCPUs */

static uint64_t button_read(void *opaque, uint64_t off, unsigned size)
{
    switch (off) {
    case POWER_REG_ID:
        return POWER_DEV_MAGIC;
    case POWER_REG_STATUS:
        return __atomic_load_n(&button.pressed, __ATOMIC_ACQUIRE) ?
               POWER_STATUS_PRESSED : 0;
    default:
        return 0;
    }
}

static void button_write(void *opaque, uint64_t off, uint64_t v,
                         unsigned size)
{
    if (off == POWER_REG_CONTROL && v == POWER_CTL_OFF) {
        ferry_log("power button: the guest powered off");
        ferry_request_shutdown(true, "guest-shutdown");
    }
}

static const IOOps button_ops = {
    .read = button_read,
    .write = button_write,
};

/* Sent with the other devices while the VM is stopped. */
static const VMStateDescription vmstate_power_button = {
    .name = "ferry-power-button",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(pressed, PowerButtonState),
        VMSTATE_END_OF_LIST()
    },
};

void power_button_press(void)
{
    ferry_log("power button: pressed");
    __atomic_store_n(&button.pressed, 1, __ATOMIC_RELEASE);
}

void power_button_reset(void)
{
    __atomic_store_n(&button.pressed, 0, __ATOMIC_RELEASE);
}

bool power_button_init(GError **errp)
{
    FerryMig *m = machine_migration();

    power_button_reset();
    ferry_mig_unregister_device(m, &vmstate_power_button, &button);
    return io_region_register(IO_SPACE_MMIO, POWER_DEV_BASE, POWER_DEV_SIZE,
                              "power-button", &button_ops, NULL, errp) &&
           ferry_mig_register_device(m, "ferry-power-button", 0,
                                     &vmstate_power_button, &button,
                                     MIG_PRI_DEFAULT, errp);
}
