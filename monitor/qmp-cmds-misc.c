/* human-monitor-command: HMP through QMP, run in-process. */
#include "monitor-internal.h"
#include "qapi/qapi-commands.h"

char *qmp_human_monitor_command(const char *command_line, bool has_cpu_index,
                                int64_t cpu_index, GError **errp)
{
    /* HMP errors are part of the output ("Error: ..."), as in QEMU */
    return hmp_run_local(command_line);
}
