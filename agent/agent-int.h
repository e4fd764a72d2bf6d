/*
 * libferry-agent's internals: the bridge (agent/bridge.c), its send and
 * receive loops (agent/loops.c), the transport (agent/conn.c), the wire
 * format (agent/wire.c) and the state table (agent/state.c).
 *
 * Locking: a->lock guards everything in FerryAgent but the parts marked
 * otherwise.  The transport the loops use is a Conn they take a reference
 * to under the lock and then read or write without it: a swap only
 * replaces a->conn and shuts the old socket down (waking a loop blocked
 * on it); the descriptor is closed when its last reference goes, so no
 * loop ever uses a number that was closed and reused.  Completions are
 * called without the lock.
 */
#ifndef FERRY_AGENT_INT_H
#define FERRY_AGENT_INT_H

#include <glib.h>
#include <json-glib/json-glib.h>
#include "ferry/agent.h"

/* A transport: one connected socket and what was read from it. */
typedef struct Conn {
    int fd;
    gint refs;
    /* Receive loop only: the partial line, and whether lines are still
     * skipped until guest-sync-delimited's 0xFF answers @sync_id. */
    GString *line;
    bool awaiting_sync;
    bool after_sentinel;
    int64_t sync_id;
} Conn;

Conn *conn_new(int fd);
Conn *conn_ref(Conn *c);
void conn_unref(Conn *c);
/* Wakes any loop blocked on @c (no close: see above). */
void conn_shutdown(Conn *c);
/* Writes all of @buf; -errno on failure. */
int conn_write_all(Conn *c, const void *buf, size_t len);

typedef struct Call {
    char *id;
    GBytes *request;            /* the line, as sent (and sent again) */
    uint64_t seq;               /* order of the calls */
    gint64 deadline;            /* monotonic us; 0 none */
    FerryAgentDone done;
    void *opaque;
} Call;

struct FerryAgent {
    GMutex lock;
    GCond send_cond;            /* queue or transport changed, or closed */
    FerryAgentState state;
    GError *close_reason;       /* what the outstanding calls get */
    Conn *conn;                 /* NULL or dead while parked */
    bool conn_dead;
    GHashTable *calls;          /* id -> Call */
    GQueue sendq;               /* GBytes lines */
    char *token;                /* makes this bridge's ids unique */
    uint64_t next_seq;
    int wake_fd;                /* eventfd: the receive loop re-checks */
    GThread *sender, *receiver;
    FerryAgentStats stats;
};

/* state.c: the one writer of a->state; false if @to is not allowed from
 * the current state.  Caller holds a->lock. */
bool agent_set_state_locked(FerryAgent *a, FerryAgentState to);

/* bridge.c, for the loops */
void agent_wake(FerryAgent *a);
/* The transport @c failed: parks when tolerant, closes otherwise.
 * Returns the calls to fail (caller completes them unlocked). */
GPtrArray *agent_transport_failed_locked(FerryAgent *a, Conn *c,
                                         const char *why);
/* Closes with @reason (taken); returns the calls to fail. */
GPtrArray *agent_close_locked(FerryAgent *a, GError *reason);
/* Completes @calls with @a->close_reason (no lock held). */
void agent_fail_calls(FerryAgent *a, GPtrArray *calls);
/* One reply line arrived. */
void agent_handle_reply(FerryAgent *a, const char *line, size_t len);
/* Calls whose deadline passed close the bridge. */
GPtrArray *agent_expire_locked(FerryAgent *a, gint64 now, gint64 *next);
void call_free(Call *c);

/* loops.c */
gpointer agent_send_loop(gpointer opaque);
gpointer agent_recv_loop(gpointer opaque);

/* wire.c */
GBytes *wire_request(const char *command, JsonNode *args, const char *id);
GBytes *wire_sync(int64_t sync_id);
/* Feeds bytes read from @c; calls @line_cb for each complete line that
 * is not skipped by the resynchronisation. */
void wire_feed(Conn *c, const char *buf, size_t len,
               void (*line_cb)(void *opaque, const char *line, size_t len),
               void *opaque);
/* Parses a reply: its id (or NULL), and either its return value or an
 * error; false if it is no reply at all. */
bool wire_parse_reply(const char *line, size_t len, char **id,
                      JsonNode **ret, GError **error);

#endif
