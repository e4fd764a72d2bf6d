/* QMP's live-update and query-live-update (system/live-update/). */
#include "qapi/qapi-commands.h"
#include "system/live-update.h"

void qmp_live_update(const char *binary, GError **errp)
{
    live_update_start(binary, errp);
}

LiveUpdateInfo *qmp_query_live_update(GError **errp)
{
    return live_update_query();
}
