/*
 * QMP request dispatch: checks a request object the way QEMU does, finds
 * the command in a table (normally the generated qmp_command_table), runs
 * its marshaller and builds the reply.  No I/O here: the server, the human
 * monitor and tests all feed it parsed requests.
 */
#ifndef FERRY_MONITOR_QMP_DISPATCH_H
#define FERRY_MONITOR_QMP_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <glib.h>
#include <json-glib/json-glib.h>

/* Checks @args (never NULL), runs the body, stores the result in *ret. */
typedef void QmpMarshalFn(JsonObject *args, JsonNode **ret, GError **errp);

typedef enum QmpCommandFlags {
    QCO_ALLOW_OOB = 1 << 0,
    QCO_ALLOW_PRECONFIG = 1 << 1,
    QCO_NO_SUCCESS_RESP = 1 << 2,
} QmpCommandFlags;

typedef struct QmpCommandDef {
    const char *name;
    QmpMarshalFn *fn;
    unsigned flags;             /* QmpCommandFlags */
} QmpCommandDef;

typedef struct QmpCommandTable {
    const QmpCommandDef *defs;
    size_t count;
} QmpCommandTable;

/* The protocol state of one client. */
typedef struct QmpSession {
    const QmpCommandTable *commands;
    bool negotiated;            /* qmp_capabilities done */
    bool oob_offered;           /* the greeting listed "oob" */
    bool oob_enabled;
    GArray *fds;                /* int: fds received with SCM_RIGHTS */
} QmpSession;

void qmp_session_init(QmpSession *s, const QmpCommandTable *commands);
/* Closes the received fds. */
void qmp_session_destroy(QmpSession *s);
/* Takes the oldest received fd (-1 if none), for commands like getfd. */
int qmp_session_take_fd(QmpSession *s);

/* The session whose command is running, NULL outside dispatch. */
QmpSession *qmp_session_current(void);

const QmpCommandDef *qmp_find_command(const QmpCommandTable *table,
                                      const char *name);

/*
 * Handles one request.  Returns the reply ({"return": ...} or
 * {"error": ...}, with the request's "id"), or NULL for a command with
 * QCO_NO_SUCCESS_RESP that succeeded.
 */
JsonNode *qmp_dispatch(QmpSession *s, JsonNode *request);

/* {"error": {"class": ..., "desc": ...}} for @err, plus @id if not NULL. */
JsonNode *qmp_error_response(const GError *err, JsonNode *id);

/*
 * Runs @name in-process with an already negotiated session: the return
 * value, or NULL with @errp set.  @args may be NULL.
 */
JsonNode *qmp_run(const QmpCommandTable *table, const char *name,
                  JsonObject *args, GError **errp);

#endif
