/*
 * The HMP command tables and handlers.  Each handler runs QMP commands
 * through hmp_qmp() and prints what QEMU's monitor prints.  Replies are
 * decoded with the generated qapi_*_from_json(), so a malformed reply is
 * an error, not a crash.
 *
 * Future commands slot in as table rows: "info migrate" (query-migrate),
 * "migrate" with args_type "detach:-d,resume:-r,uri:s",
 * "migrate_set_capability" with "capability:s,state:b" and
 * "migrate_set_parameter" with "parameter:s,value:s".
 */
#include <inttypes.h>
#include <string.h>
#include "monitor/hmp.h"
#include "monitor/hmp-live-update.h"
#include "monitor/hmp-migration.h"
#include "qapi/qapi-visit.h"

/* Runs a QMP command whose reply carries nothing to print. */
static bool run_quiet(Hmp *hmp, const char *command, JsonObject *args,
                      GError **errp)
{
    g_autoptr(JsonNode) ret = hmp_qmp(hmp, command, args, errp);

    return ret != NULL;
}

static bool hmp_stop(Hmp *hmp, JsonObject *args, GError **errp)
{
    return run_quiet(hmp, "stop", NULL, errp);
}

static bool hmp_cont(Hmp *hmp, JsonObject *args, GError **errp)
{
    return run_quiet(hmp, "cont", NULL, errp);
}

static bool hmp_quit(Hmp *hmp, JsonObject *args, GError **errp)
{
    return run_quiet(hmp, "quit", NULL, errp);
}

static bool hmp_info_status(Hmp *hmp, JsonObject *args, GError **errp)
{
    g_autoptr(JsonNode) ret = hmp_qmp(hmp, "query-status", NULL, errp);
    g_autoptr(StatusInfo) info = NULL;

    if (!ret || !qapi_StatusInfo_from_json(ret, &info, errp)) {
        return false;
    }
    hmp_printf(hmp, "VM status: %s", info->running ? "running" : "paused");
    if (!info->running && info->status != RUN_STATE_PAUSED) {
        hmp_printf(hmp, " (%s)", RunState_str(info->status));
    }
    hmp_printf(hmp, "\n");
    return true;
}

/* QEMU's layout: "DEVICE (NODE): FILE (FORMAT)", then details. */
static void print_block(Hmp *hmp, const BlockInfo *b)
{
    const BlockDeviceInfo *in = b->inserted;
    const char *name = b->qdev && *b->qdev ? b->qdev : in->node_name;

    hmp_printf(hmp, "%s (%s): %s (%s%s, %s)\n", name, in->node_name,
               in->file, in->image->format, in->ro ? ", read-only" : "",
               BlockLifecycleState_str(in->x_state));
    if (b->qdev) {
        hmp_printf(hmp, "    Attached to:      %s\n", b->qdev);
    }
    hmp_printf(hmp, "    Cache mode:       writeback%s\n",
               in->cache->direct ? ", direct" : "");
    hmp_printf(hmp, "    Driver:           %s, %" PRId64 " bytes\n", in->drv,
               in->image->virtual_size);
}

static bool hmp_info_block(Hmp *hmp, JsonObject *args, GError **errp)
{
    g_autoptr(JsonNode) ret = hmp_qmp(hmp, "query-block", NULL, errp);
    BlockInfoList *list = NULL;

    if (!ret || !qapi_BlockInfoList_from_json(ret, &list, errp)) {
        return false;
    }
    for (BlockInfoList *l = list; l; l = l->next) {
        if (l->value->inserted) {
            print_block(hmp, l->value);
        }
    }
    qapi_free_BlockInfoList(list);
    return true;
}

static bool hmp_info_version(Hmp *hmp, JsonObject *args, GError **errp)
{
    g_autoptr(JsonNode) ret = hmp_qmp(hmp, "query-version", NULL, errp);
    g_autoptr(VersionInfo) info = NULL;

    if (!ret || !qapi_VersionInfo_from_json(ret, &info, errp)) {
        return false;
    }
    hmp_printf(hmp, "%" PRId64 ".%" PRId64 ".%" PRId64 " (%s)\n",
               info->qemu->major, info->qemu->minor, info->qemu->micro,
               info->package);
    return true;
}

static void print_table(Hmp *hmp, const char *prefix, const HmpCommand *t)
{
    for (; t->name; t++) {
        hmp_printf(hmp, "%s%s%s%s -- %s\n", prefix, t->name,
                   t->params ? " " : "", t->params ? t->params : "", t->help);
    }
}

static bool hmp_info(Hmp *hmp, JsonObject *args, GError **errp)
{
    print_table(hmp, "info ", hmp_info_commands);
    return true;
}

static bool hmp_help(Hmp *hmp, JsonObject *args, GError **errp)
{
    const char *name = json_object_get_member(args, "name") ?
                       json_object_get_string_member(args, "name") : NULL;

    if (name && !strcmp(name, "info")) {
        print_table(hmp, "info ", hmp_info_commands);
        return true;
    }
    for (const HmpCommand *t = hmp_commands; t->name; t++) {
        g_auto(GStrv) alts = g_strsplit(t->name, "|", -1);

        if (!name || g_strv_contains((const char *const *)alts, name)) {
            hmp_printf(hmp, "%s%s%s -- %s\n", t->name, t->params ? " " : "",
                       t->params ? t->params : "", t->help);
        }
    }
    return true;
}

const HmpCommand hmp_info_commands[] = {
    { "status", NULL, NULL, "show the current VM status (running|paused)",
      hmp_info_status },
    { "migrate", NULL, NULL, "show migration status", hmp_info_migrate },
    { "migrate_capabilities", NULL, NULL,
      "show current migration capabilities", hmp_info_migrate_capabilities },
    { "migrate_parameters", NULL, NULL,
      "show current migration parameters", hmp_info_migrate_parameters },
    { "block", NULL, NULL, "show the block devices", hmp_info_block },
    { "version", NULL, NULL, "show the version of ferry", hmp_info_version },
    { NULL },
};

const HmpCommand hmp_commands[] = {
    { "help|?", "name:s?", "[cmd]", "show the help", hmp_help },
    { "info", NULL, "[subcommand]", "show various information about the "
      "system state", hmp_info, hmp_info_commands },
    { "stop|s", NULL, NULL, "stop emulation", hmp_stop },
    { "cont|c", NULL, NULL, "resume emulation", hmp_cont },
    { "quit|q", NULL, NULL, "quit the emulator", hmp_quit },
    { "migrate", "detach:-d,resume:-r,uri:s", "[-d] [-r] uri",
      "migrate to URI (-d: do not wait; -r: resume a paused postcopy)",
      hmp_migrate },
    { "live-update|live_update", "b:-b,binary:s?", "[-b binary]",
      "hand the guest over to a new ferry process (default: the "
      "executable ferry was started from)", hmp_live_update },
    { "migrate_incoming", "uri:s", "uri",
      "listen for an incoming migration on URI", hmp_migrate_incoming },
    { "migrate_cancel", NULL, NULL, "cancel the current migration",
      hmp_migrate_cancel },
    { "migrate_continue", "state:s", "state",
      "continue a migration paused in STATE", hmp_migrate_continue },
    { "migrate_recover", "uri:s", "uri",
      "destination: listen on URI to recover a paused postcopy",
      hmp_migrate_recover },
    { "migrate_pause", NULL, NULL,
      "pause a postcopy migration (recover it with migrate -r)",
      hmp_migrate_pause },
    { "migrate_start_postcopy", NULL, NULL,
      "switch the running migration to postcopy",
      hmp_migrate_start_postcopy },
    { "migrate_set_capability", "capability:s,state:b", "capability state",
      "turn a migration capability on or off", hmp_migrate_set_capability },
    { "migrate_set_parameter", "parameter:s,value:s", "parameter value",
      "set a migration parameter", hmp_migrate_set_parameter },
    { NULL },
};
