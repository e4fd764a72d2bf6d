/*
 * pvblk: ferry's paravirtual block device.  A request ring in guest RAM
 * and an MMIO doorbell (register layout: guest/include/guest/pvblk-dev.h);
 * the ring indexes are device state, so requests posted before a
 * migration are served after it.
 */
#ifndef FERRY_HW_PVBLK_H
#define FERRY_HW_PVBLK_H

#include <glib.h>
#include <stdbool.h>

/* -device "pvblk,drive=NODE,id=ID": maps the next free pvblk slot. */
bool pvblk_create(BlockGraph *g, const char *spec, GError **errp);
/* Waits until every request a pvblk device submitted has completed and
 * its completion is in guest RAM (the source's switchover, with the vCPUs
 * stopped). */
void pvblk_drain_all(void);
/* Forgets every device (machine cleanup, tests). */
void pvblk_destroy_all(void);

#endif
