/*
 * The paravirtual power button (register layout shared with the guest in
 * guest/include/guest/power-dev.h): what system_powerdown presses, and
 * what the guest writes to power the machine off.
 */
#ifndef FERRY_HW_POWER_BUTTON_H
#define FERRY_HW_POWER_BUTTON_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/* The device state, as migrated: a press travels with the guest. */
typedef struct PowerButtonState {
    uint32_t pressed;
} PowerButtonState;

/* Maps the button's MMIO page and registers its migration section. */
bool power_button_init(GError **errp);
/* Latches a press for the guest to see (main thread). */
void power_button_press(void);
/* Forgets a press (machine reset). */
void power_button_reset(void);

#endif
