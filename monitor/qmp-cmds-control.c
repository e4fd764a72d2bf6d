/*
 * Commands about the monitor itself: capabilities negotiation, version,
 * the command list, the schema, quit.
 */
#include <string.h>
#include "monitor-internal.h"
#include "util/json.h"
#include "monitor/qapi-runtime.h"
#include "qapi/qapi-commands.h"
#include "qapi/qapi-introspect.h"
#include "system/runstate.h"
#include "util/error.h"

const QmpCommandTable *qmp_commands(void)
{
    static QmpCommandTable table;

    table.defs = qmp_command_table;
    table.count = qmp_command_count;
    return &table;
}

void qmp_qmp_capabilities(QMPCapabilityList *enable, GError **errp)
{
    QmpSession *s = qmp_session_current();

    if (!s || s->negotiated) {
        g_set_error(errp, FERRY_ERROR, FERRY_ERROR_COMMAND_NOT_FOUND,
                    "Capabilities negotiation is already complete, command "
                    "ignored");
        return;
    }
    for (QMPCapabilityList *l = enable; l; l = l->next) {
        if (l->value != QMP_CAPABILITY_OOB || !s->oob_offered) {
            error_setg(errp, "Capability '%s' not available",
                       QMPCapability_str(l->value));
            return;
        }
    }
    /* accepted, but no ferry command allows out-of-band execution */
    s->oob_enabled = enable != NULL;
    s->negotiated = true;
}

/*
 * The QEMU version whose QMP and command-line dialect ferry implements
 * (docs/qmp.md, "Compatibility level"): clients such as libvirt refuse a
 * binary older than the QEMU they support, so this is that dialect's
 * version, not ferry's; "package" carries ferry's own.
 */
#define QEMU_DIALECT_MAJOR 7
#define QEMU_DIALECT_MINOR 2
#define QEMU_DIALECT_MICRO 0

VersionInfo *qmp_query_version(GError **errp)
{
    VersionInfo *info = g_new0(VersionInfo, 1);

    info->qemu = g_new0(VersionTriple, 1);
    info->qemu->major = QEMU_DIALECT_MAJOR;
    info->qemu->minor = QEMU_DIALECT_MINOR;
    info->qemu->micro = QEMU_DIALECT_MICRO;
    info->package = g_strdup("ferry " FERRY_VERSION);
    return info;
}

CommandInfoList *qmp_query_commands(GError **errp)
{
    const QmpCommandTable *t = qmp_commands();
    CommandInfoList *head = NULL;

    /* built backwards so that the list comes out in table order */
    for (size_t i = t->count; i-- > 0;) {
        CommandInfoList *l = g_new0(CommandInfoList, 1);

        l->value = g_new0(CommandInfo, 1);
        l->value->name = g_strdup(t->defs[i].name);
        l->next = head;
        head = l;
    }
    return head;
}

/* 'gen': false in the schema: the reply is the generated JSON as is. */
void qmp_marshal_query_qmp_schema(JsonObject *args, JsonNode **ret,
                                  GError **errp)
{
    if (!qapi_check_no_args(args, errp)) {
        return;
    }
    *ret = qjson_parse(qmp_schema_json, strlen(qmp_schema_json), errp);
}

void qmp_quit(GError **errp)
{
    /* the main loop sends our reply before SHUTDOWN and exits after both */
    ferry_request_shutdown(false, "host-qmp-quit");
}
