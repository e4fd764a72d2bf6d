/*
 * What travels in a live update: named descriptors, each with a JSON
 * state of its own ("ram:pc.ram", "blk:disk0", "listen:unix:/run/qmp",
 * "qmp-client:3" with its session, ...).  The predecessor fills a table
 * and sends it; the successor receives it and each part of ferry takes
 * its entries by name while it builds the machine.
 */
#ifndef FERRY_LIVE_UPDATE_HANDOFF_TABLE_H
#define FERRY_LIVE_UPDATE_HANDOFF_TABLE_H

#include <stdbool.h>
#include <json-glib/json-glib.h>
#include "system/live-update/handoff-wire.h"

typedef struct HandoffTable HandoffTable;

HandoffTable *handoff_table_new(void);
/* Closes the descriptors nobody took. */
void handoff_table_free(HandoffTable *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HandoffTable, handoff_table_free)

/*
 * Adds @name with @fd (-1 for state alone; the descriptor stays the
 * caller's: sending duplicates it) and @state (taken; may be NULL).
 */
void handoff_table_add(HandoffTable *t, const char *name, int fd,
                       JsonObject *state);
guint handoff_table_size(HandoffTable *t);
/* Sends every entry as FDS messages of at most HANDOFF_MAX_FDS. */
bool handoff_table_send(HandoffTable *t, int sock, GError **errp);
/* Adds the entries of a received FDS message (its fds move to @t). */
bool handoff_table_receive(HandoffTable *t, HandoffMsg *msg, GError **errp);

/*
 * Takes @name out of the table: its descriptor (now the caller's; -1 if
 * none or no such entry) and, if @state is not NULL, its state (a
 * reference, or NULL).
 */
int handoff_table_take(HandoffTable *t, const char *name, JsonObject **state);
bool handoff_table_has(HandoffTable *t, const char *name);
/* The names that start with @prefix, in the order they were added. */
GPtrArray *handoff_table_names(HandoffTable *t, const char *prefix);

#endif
