/*
 * pvchannel: ferry's paravirtual channel, a named byte stream between the
 * guest and a socket chardev (register and ring layout in
 * guest/include/guest/pvchannel-dev.h).  The guest agent's transport.
 */
#ifndef FERRY_HW_PVCHANNEL_H
#define FERRY_HW_PVCHANNEL_H

#include <glib.h>
#include <stdbool.h>
#include "chardev/chardev.h"

/*
 * -device "pvchannel,chardev=ID,name=NAME[,id=ID]": maps the next free
 * channel slot.  chardev= names a socket chardev of @chardevs (NULL: no
 * host side, output waits in the ring); name= is what the guest sees.
 */
bool pvchannel_create(ChardevSet *chardevs, const char *spec, GError **errp);
/*
 * Whether the channels move bytes.  Only while the vCPUs run: a stopped
 * VM's rings must not change under a migration's final RAM pass and the
 * device state, or bytes would be sent twice or lost (system/runstate.c).
 */
void pvchannel_set_running_all(bool running);
/*
 * Live update: every connected client goes into @t (the predecessor, at
 * the cutover); the successor takes them over.
 */
typedef struct HandoffTable HandoffTable;
void pvchannel_hand_over_all(HandoffTable *t);
void pvchannel_take_clients(void);
/* A machine reset: every channel stops (the new boot sets it up again). */
void pvchannel_reset_all(void);
/* Joins the channels' threads and forgets them (machine cleanup, tests). */
void pvchannel_destroy_all(void);

#endif
