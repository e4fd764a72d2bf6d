/*
 * A blocking QMP client for ferryctl: connect, negotiate, run commands.
 * Transport failures are reported in the G_IO_ERROR domain, QMP errors in
 * FERRY_ERROR with the code of their class, so callers can tell them apart.
 */
#ifndef FERRYCTL_QMP_SOCKET_H
#define FERRYCTL_QMP_SOCKET_H

#include <stdbool.h>
#include <glib.h>
#include <json-glib/json-glib.h>

typedef struct QmpSocket QmpSocket;

/* @address: "unix:PATH", "tcp:HOST:PORT" or a plain unix socket path. */
QmpSocket *qmp_socket_connect(const char *address, int timeout_ms,
                              GError **errp);
/* Reads the greeting and runs qmp_capabilities. */
bool qmp_socket_negotiate(QmpSocket *s, GError **errp);
/*
 * Runs @command; returns its "return" value or NULL with @errp.  Events
 * are skipped.  If @raw is not NULL it receives the whole reply (or NULL).
 */
JsonNode *qmp_socket_execute(QmpSocket *s, const char *command,
                             JsonObject *args, JsonNode **raw, GError **errp);
void qmp_socket_close(QmpSocket *s);

#endif
