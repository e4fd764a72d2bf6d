/* QMP's live-update and query-live-update (system/live-update/). */
#include "qapi/qapi-commands.h"
#include "system/live-update.h"

void qmp_live_update(const char *binary, bool has_x_fault,
                     LiveUpdateFault x_fault, GError **errp)
{
    live_update_start(binary, has_x_fault ? LiveUpdateFault_str(x_fault)
                                          : NULL, errp);
}

LiveUpdateInfo *qmp_query_live_update(GError **errp)
{
    return live_update_query();
}
