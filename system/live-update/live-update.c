/*
 * The live update's status, the command line a successor is started
 * with, and the QMP view of both (query-live-update, LIVE_UPDATE).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "qapi/qapi-events.h"
#include "system/live-update/live-update-int.h"
#include "util/log.h"

typedef struct LiveUpdateState {
    LiveUpdateStatus status;
    char *error;
    gint64 downtime_us;         /* -1: none measured */
    char **argv;                /* ferry's arguments, without argv[0] */
    char *binary;               /* /proc/self/exe, resolved at start */
} LiveUpdateState;

/* ferry is one VMM per process: one live update state. */
static LiveUpdateState lu = { .downtime_us = -1 };

void live_update_remember(int argc, char **argv)
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

    g_strfreev(lu.argv);
    lu.argv = g_new0(char *, argc);
    for (int i = 1; i < argc; i++) {
        lu.argv[i - 1] = g_strdup(argv[i]);
    }
    g_free(lu.binary);
    lu.binary = n > 0 ? g_strndup(path, (gsize)n) : g_strdup(argv[0]);
}

const char *live_update_default_binary(void)
{
    return lu.binary;
}

/*
 * A successor runs as its own successor would: -x-handoff of an earlier
 * update is dropped, and -daemonize too (it is detached already).
 */
char **live_update_successor_argv(const char *binary, int fd,
                                  const char *fault)
{
    GPtrArray *v = g_ptr_array_new();

    g_ptr_array_add(v, g_strdup(binary));
    for (int i = 0; lu.argv && lu.argv[i]; i++) {
        const char *a = lu.argv[i];

        if (!strcmp(a, "-x-handoff") || !strcmp(a, "--x-handoff")) {
            i += lu.argv[i + 1] != NULL;
            continue;
        }
        if (!strcmp(a, "-daemonize") || !strcmp(a, "--daemonize")) {
            continue;
        }
        g_ptr_array_add(v, g_strdup(a));
    }
    g_ptr_array_add(v, g_strdup("-x-handoff"));
    g_ptr_array_add(v, fault ? g_strdup_printf("fd=%d,fault=%s", fd, fault)
                             : g_strdup_printf("fd=%d", fd));
    g_ptr_array_add(v, NULL);
    return (char **)g_ptr_array_free(v, FALSE);
}

void live_update_set_status(LiveUpdateStatus status, const char *error)
{
    lu.status = status;
    g_free(lu.error);
    lu.error = g_strdup(error);
    if (error) {
        ferry_log("live update: %s: %s", LiveUpdateStatus_str(status), error);
    } else {
        ferry_log("live update: %s", LiveUpdateStatus_str(status));
    }
    qapi_event_send_live_update(status, error);
}

LiveUpdateStatus live_update_status(void)
{
    return lu.status;
}

void live_update_set_downtime(gint64 us)
{
    lu.downtime_us = us;
}

bool live_update_in_progress(void)
{
    return lu.status == LIVE_UPDATE_STATUS_WARMING ||
           lu.status == LIVE_UPDATE_STATUS_READY ||
           lu.status == LIVE_UPDATE_STATUS_CUTOVER;
}

LiveUpdateInfo *live_update_query(void)
{
    LiveUpdateInfo *info = g_new0(LiveUpdateInfo, 1);

    info->status = lu.status;
    info->pid = getpid();
    if (lu.status == LIVE_UPDATE_STATUS_COMPLETED && lu.downtime_us >= 0) {
        info->has_downtime_us = true;
        info->downtime_us = lu.downtime_us;
    }
    info->error_desc = g_strdup(lu.error);
    return info;
}
