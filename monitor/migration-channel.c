/* Migration channels as URIs (include/monitor/migration-channel.h). */
#include <string.h>
#include "monitor/migration-channel.h"
#include "util/error.h"

static char *socket_uri(const MigrationChannelAddress *a, GError **errp)
{
    if (!g_strcmp0(a->type, "unix") && a->path) {
        return g_strdup_printf("unix:%s", a->path);
    }
    if (!g_strcmp0(a->type, "inet") && a->host && a->port) {
        return strchr(a->host, ':') ?
               g_strdup_printf("tcp:[%s]:%s", a->host, a->port) :
               g_strdup_printf("tcp:%s:%s", a->host, a->port);
    }
    error_setg(errp, "a socket channel needs type 'unix' with 'path' or "
               "type 'inet' with 'host' and 'port'");
    return NULL;
}

static char *exec_uri(const MigrationChannelAddress *a, GError **errp)
{
    GString *cmd;

    if (!a->args) {
        error_setg(errp, "an exec channel needs 'args'");
        return NULL;
    }
    cmd = g_string_new("exec:");
    for (const strList *l = a->args; l; l = l->next) {
        g_autofree char *quoted = g_shell_quote(l->value);
        g_string_append_printf(cmd, "%s%s", l == a->args ? "" : " ", quoted);
    }
    return g_string_free(cmd, FALSE);
}

char *migration_channel_uri(const MigrationChannelAddress *a, GError **errp)
{
    if (!strcmp(a->transport, "socket")) {
        return socket_uri(a, errp);
    }
    if (!strcmp(a->transport, "exec")) {
        return exec_uri(a, errp);
    }
    if (!strcmp(a->transport, "file") && a->filename) {
        return g_strdup_printf("file:%s,offset=%" G_GUINT64_FORMAT,
                               a->filename, a->has_offset ? a->offset : 0);
    }
    error_setg(errp, "transport '%s' is not supported (socket, exec, file "
               "with filename)", a->transport);
    return NULL;
}

const char *migration_channel_cpr_path(const MigrationChannel *ch,
                                       GError **errp)
{
    const MigrationChannelAddress *a = ch->addr;

    if (strcmp(a->transport, "socket") || g_strcmp0(a->type, "unix") ||
        !a->path) {
        error_setg(errp, "the cpr channel must be a unix socket with a "
                   "path");
        return NULL;
    }
    return a->path;
}

bool migration_channels_split(const MigrationChannelList *channels,
                              char **main_uri, const char **cpr_path,
                              GError **errp)
{
    *main_uri = NULL;
    *cpr_path = NULL;
    for (const MigrationChannelList *l = channels; l; l = l->next) {
        const MigrationChannel *ch = l->value;
        bool main = ch->channel_type == MIGRATION_CHANNEL_TYPE_MAIN;

        if (main ? *main_uri != NULL : *cpr_path != NULL) {
            error_setg(errp, "more than one '%s' channel",
                       MigrationChannelType_str(ch->channel_type));
            break;
        }
        if (main ? !(*main_uri = migration_channel_uri(ch->addr, errp))
                 : !(*cpr_path = migration_channel_cpr_path(ch, errp))) {
            break;
        }
    }
    if (!*errp && !*main_uri) {
        error_setg(errp, "a 'main' channel is required");
    }
    if (*errp) {
        g_clear_pointer(main_uri, g_free);
        *cpr_path = NULL;
        return false;
    }
    return true;
}
