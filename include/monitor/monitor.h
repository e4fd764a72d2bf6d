/*
 * The monitor: QMP servers and the human monitor.  Events go to every QMP
 * client that finished capabilities negotiation.
 */
#ifndef FERRY_MONITOR_MONITOR_H
#define FERRY_MONITOR_MONITOR_H

#include <glib.h>
#include <stdbool.h>
#include <json-glib/json-glib.h>
#include "chardev/chardev.h"

/*
 * Sends {"event": @name, "data": @data, "timestamp": {...}} to all QMP
 * clients.  Takes ownership of @data (may be NULL).  Any thread may call it.
 */
void qmp_event_emit(const char *name, JsonNode *data);

/* Starts a QMP server for a "-qmp" spec (unix:PATH,... or tcp:HOST:PORT,...). */
bool qmp_server_add(const char *spec, GError **errp);
/* Starts the human monitor for a "-monitor" spec (stdio or unix:PATH,...). */
bool hmp_server_add(const char *spec, GError **errp);
/* Starts a monitor for a "-mon chardev=ID,mode=..." spec on @set's chardev. */
bool monitor_mon_add(const char *spec, ChardevSet *set, GError **errp);
void monitor_cleanup(void);

/*
 * Live update (monitor/qmp-handoff.c): the listeners go into @t while
 * warming, the QMP clients with their sessions at the cutover; freezing
 * stops all monitor I/O; the successor adopts the clients handed over.
 */
typedef struct HandoffTable HandoffTable;
void monitor_hand_over(HandoffTable *t, bool cutover);
void monitor_freeze(bool frozen);
void monitor_adopt_clients(void);

#endif
