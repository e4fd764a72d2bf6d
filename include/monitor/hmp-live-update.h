/* HMP's live-update (monitor/hmp-live-update.c). */
#ifndef FERRY_MONITOR_HMP_LIVE_UPDATE_H
#define FERRY_MONITOR_HMP_LIVE_UPDATE_H

#include "monitor/hmp.h"

bool hmp_live_update(Hmp *hmp, JsonObject *args, GError **errp);

#endif
