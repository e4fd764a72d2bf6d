/*
 * HMP's live-update (what `ferryctl live-update [-b BINARY]` runs): starts
 * a live update and, where the caller can wait, follows its phases until
 * the new process serves the guest.  The monitor connection itself is
 * handed over, so the same connection asks the successor at the end.
 */
#include <inttypes.h>
#include "monitor/hmp.h"
#include "monitor/hmp-live-update.h"
#include "qapi/qapi-visit.h"
#include "util/error.h"

static LiveUpdateInfo *query(Hmp *hmp, GError **errp)
{
    g_autoptr(JsonNode) ret = hmp_qmp(hmp, "query-live-update", NULL, errp);
    LiveUpdateInfo *info = NULL;

    if (!ret || !qapi_LiveUpdateInfo_from_json(ret, &info, errp)) {
        return NULL;
    }
    return info;
}

static bool follow(Hmp *hmp, GError **errp)
{
    LiveUpdateStatus shown = LIVE_UPDATE_STATUS_NONE;

    for (;;) {
        g_autoptr(LiveUpdateInfo) info = query(hmp, errp);

        if (!info) {
            return false;
        }
        if (info->status != shown) {
            shown = info->status;
            if (shown != LIVE_UPDATE_STATUS_COMPLETED &&
                shown != LIVE_UPDATE_STATUS_FAILED) {
                hmp_printf(hmp, "live update: %s\n",
                           LiveUpdateStatus_str(shown));
            }
        }
        if (info->status == LIVE_UPDATE_STATUS_COMPLETED) {
            hmp_printf(hmp, "live update completed: pid %" PRId64
                       " serves the guest, downtime %" PRId64 " us\n",
                       info->pid, info->downtime_us);
            return true;
        }
        if (info->status == LIVE_UPDATE_STATUS_FAILED) {
            error_setg(errp, "live update failed: %s; pid %" PRId64
                       " still serves the guest",
                       info->error_desc ? info->error_desc : "unknown error",
                       info->pid);
            return false;
        }
        g_usleep(20000);
    }
}

bool hmp_live_update(Hmp *hmp, JsonObject *args, GError **errp)
{
    g_autoptr(JsonObject) qargs = json_object_new();
    g_autoptr(JsonNode) ret = NULL;
    const char *binary = json_object_get_string_member_with_default(
        args, "binary", NULL);

    if (binary) {
        json_object_set_string_member(qargs, "binary", binary);
    }
    ret = hmp_qmp(hmp, "live-update", qargs, errp);
    if (!ret) {
        return false;
    }
    return !hmp->can_wait || follow(hmp, errp);
}
