/*
 * QMP dispatch.  Error texts and classes follow QEMU's qapi/qmp-dispatch.c
 * and monitor/qmp.c, because clients match on them.
 *
 * Runs on the main thread only; qmp_session_current() relies on that.
 */
#include <string.h>
#include <unistd.h>
#include "monitor/qmp-dispatch.h"
#include "monitor/qapi-runtime.h"
#include "util/error.h"

static QmpSession *current_session;

void qmp_session_init(QmpSession *s, const QmpCommandTable *commands)
{
    *s = (QmpSession) {
        .commands = commands,
        .oob_offered = true,
        .fds = g_array_new(FALSE, FALSE, sizeof(int)),
    };
}

void qmp_session_destroy(QmpSession *s)
{
    if (s->fds) {
        for (guint i = 0; i < s->fds->len; i++) {
            close(g_array_index(s->fds, int, i));
        }
        g_array_free(s->fds, TRUE);
        s->fds = NULL;
    }
}

int qmp_session_take_fd(QmpSession *s)
{
    int fd;

    if (!s->fds || s->fds->len == 0) {
        return -1;
    }
    fd = g_array_index(s->fds, int, 0);
    g_array_remove_index(s->fds, 0);
    return fd;
}

QmpSession *qmp_session_current(void)
{
    return current_session;
}

const QmpCommandDef *qmp_find_command(const QmpCommandTable *table,
                                      const char *name)
{
    for (size_t i = 0; i < table->count; i++) {
        if (!strcmp(table->defs[i].name, name)) {
            return &table->defs[i];
        }
    }
    return NULL;
}

JsonNode *qmp_error_response(const GError *err, JsonNode *id)
{
    JsonObject *error = json_object_new();
    JsonObject *rsp = json_object_new();

    json_object_set_string_member(error, "class", ferry_error_class(err));
    json_object_set_string_member(error, "desc", err->message);
    json_object_set_object_member(rsp, "error", error);
    if (id) {
        json_object_set_member(rsp, "id", json_node_copy(id));
    }
    return qapi_object_node(rsp);
}

/* QEMU's qmp_dispatch_check_obj(): the name of the command, or NULL. */
static const char *check_request(JsonNode *request, bool allow_oob,
                                 bool *oob, GError **errp)
{
    JsonObjectIter iter;
    const char *key, *exec_key = NULL;
    JsonNode *val;

    if (!JSON_NODE_HOLDS_OBJECT(request)) {
        error_setg(errp, "QMP input must be a JSON object");
        return NULL;
    }
    json_object_iter_init_ordered(&iter, json_node_get_object(request));
    while (json_object_iter_next_ordered(&iter, &key, &val)) {
        if (!strcmp(key, "execute") ||
            (!strcmp(key, "exec-oob") && allow_oob)) {
            if (!JSON_NODE_HOLDS_VALUE(val) ||
                json_node_get_value_type(val) != G_TYPE_STRING) {
                error_setg(errp, "QMP input member '%s' must be a string",
                           key);
                return NULL;
            }
            if (exec_key) {
                error_setg(errp, "QMP input member '%s' clashes with '%s'",
                           key, exec_key);
                return NULL;
            }
            exec_key = key;
        } else if (!strcmp(key, "arguments")) {
            if (!JSON_NODE_HOLDS_OBJECT(val)) {
                error_setg(errp,
                           "QMP input member 'arguments' must be an object");
                return NULL;
            }
        } else if (strcmp(key, "id") != 0) {
            error_setg(errp, "QMP input member '%s' is unexpected", key);
            return NULL;
        }
    }
    if (!exec_key) {
        error_setg(errp, "QMP input lacks member 'execute'");
        return NULL;
    }
    *oob = !strcmp(exec_key, "exec-oob");
    return json_object_get_string_member(json_node_get_object(request),
                                         exec_key);
}

static const QmpCommandDef *lookup(QmpSession *s, const char *name, bool oob,
                                   GError **errp)
{
    const QmpCommandDef *cmd = qmp_find_command(s->commands, name);

    if (!s->negotiated && strcmp(name, "qmp_capabilities") != 0) {
        /* QEMU answers every command with this before negotiation */
        g_set_error(errp, FERRY_ERROR, FERRY_ERROR_COMMAND_NOT_FOUND,
                    "Expecting capabilities negotiation with "
                    "'qmp_capabilities'");
        return NULL;
    }
    if (!cmd) {
        g_set_error(errp, FERRY_ERROR, FERRY_ERROR_COMMAND_NOT_FOUND,
                    "The command %s has not been found", name);
        return NULL;
    }
    if (oob && !(cmd->flags & QCO_ALLOW_OOB)) {
        error_setg(errp, "The command %s does not support OOB", name);
        return NULL;
    }
    return cmd;
}

static JsonNode *run(QmpSession *s, const QmpCommandDef *cmd,
                     JsonObject *args, GError **errp)
{
    QmpSession *outer = current_session;
    g_autoptr(JsonObject) empty = NULL;
    JsonNode *ret = NULL;
    GError *err = NULL;

    if (!args) {
        args = empty = json_object_new();
    }
    current_session = s;
    cmd->fn(args, &ret, &err);
    current_session = outer;
    if (err) {
        g_propagate_error(errp, err);
        if (ret) {
            json_node_unref(ret);
        }
        return NULL;
    }
    if (!ret && !(cmd->flags & QCO_NO_SUCCESS_RESP)) {
        ret = qapi_object_node(json_object_new());
    }
    return ret;
}

JsonNode *qmp_dispatch(QmpSession *s, JsonNode *request)
{
    g_autoptr(GError) err = NULL;
    JsonNode *id = NULL, *ret;
    JsonObject *obj, *rsp;
    const QmpCommandDef *cmd;
    const char *name;
    bool oob = false;

    if (JSON_NODE_HOLDS_OBJECT(request)) {
        id = json_object_get_member(json_node_get_object(request), "id");
    }
    name = check_request(request, s->oob_enabled, &oob, &err);
    cmd = name ? lookup(s, name, oob, &err) : NULL;
    if (!cmd) {
        return qmp_error_response(err, id);
    }
    obj = json_node_get_object(request);
    ret = run(s, cmd, json_object_get_member(obj, "arguments") ?
              json_object_get_object_member(obj, "arguments") : NULL, &err);
    if (err) {
        return qmp_error_response(err, id);
    }
    if (!ret) {
        return NULL;
    }
    rsp = json_object_new();
    json_object_set_member(rsp, "return", ret);
    if (id) {
        json_object_set_member(rsp, "id", json_node_copy(id));
    }
    return qapi_object_node(rsp);
}

JsonNode *qmp_run(const QmpCommandTable *table, const char *name,
                  JsonObject *args, GError **errp)
{
    QmpSession s = { .commands = table, .negotiated = true };
    const QmpCommandDef *cmd = lookup(&s, name, false, errp);

    return cmd ? run(&s, cmd, args, errp) : NULL;
}
