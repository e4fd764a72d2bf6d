/*
 * libferry-agent: a host's bridge to a guest agent (QEMU's guest-agent
 * protocol, JSON lines) over a stream socket, whose calls survive the
 * guest moving to another host.  See docs/agent.md.
 *
 * Calls are asynchronous: each gets an id and exactly one completion,
 * with the command's "return" value or an error.  The bridge has two
 * threads, one sending and one receiving; completions run on them (or on
 * the thread that closes the bridge), never under the bridge's lock, so a
 * completion may start new calls or close the bridge, but not free it.
 *
 * States (docs/agent.md has the diagram):
 *   NORMAL     a transport failure is fatal: the bridge closes and every
 *              waiter gets FERRY_AGENT_ERROR_TRANSPORT at once;
 *   MIGRATING  set_migrating(true): a transport failure parks the loops,
 *              calls stay outstanding (their timeouts still run);
 *   RESUMED    resume_on_conn(): the transport was swapped, the calls
 *              whose replies were outstanding were sent again (the
 *              agent answers a repeated id from its table, so none runs
 *              twice), and tolerance stays on until set_migrating(false);
 *   CLOSED     ferry_agent_close(), a fatal failure, or a call's timeout:
 *              the bridge is torn down whatever the mode.
 */
#ifndef FERRY_AGENT_H
#define FERRY_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include "ferry/api.h"

G_BEGIN_DECLS

typedef struct FerryAgent FerryAgent;

typedef enum FerryAgentState {
    FERRY_AGENT_STATE_NORMAL,
    FERRY_AGENT_STATE_MIGRATING,
    FERRY_AGENT_STATE_RESUMED,
    FERRY_AGENT_STATE_CLOSED,
    FERRY_AGENT_STATE__MAX,
} FerryAgentState;

#define FERRY_AGENT_ERROR (ferry_agent_error_quark())
typedef enum FerryAgentError {
    FERRY_AGENT_ERROR_CLOSED,       /* the bridge was closed */
    FERRY_AGENT_ERROR_TRANSPORT,    /* the connection failed (normal mode) */
    FERRY_AGENT_ERROR_TIMEOUT,      /* this call's timeout expired */
    FERRY_AGENT_ERROR_GUEST,        /* the agent answered with an error */
    FERRY_AGENT_ERROR_INVALID,      /* refused by the bridge */
} FerryAgentError;

typedef struct FerryAgentStats {
    uint64_t calls;                 /* started */
    uint64_t completed;             /* with a "return" */
    uint64_t failed;                /* with an error */
    uint64_t resent;                /* sent again on a new transport */
    uint64_t late_replies;          /* replies to ids no longer waiting */
    uint64_t resumes;
    uint64_t parks;                 /* transport failures tolerated */
} FerryAgentStats;

/*
 * One completion per call.  @ret is the "return" value (owned by the
 * bridge, valid during the call) or NULL with @error set.
 */
typedef void (*FerryAgentDone)(void *opaque, JsonNode *ret,
                               const GError *error);

FERRY_API GQuark ferry_agent_error_quark(void);

/* A bridge on @fd (a connected stream socket, now the bridge's). */
FERRY_API FerryAgent *ferry_agent_new(int fd, GError **errp);
/* Connects to the unix socket at @path (a pvchannel's chardev). */
FERRY_API int ferry_agent_connect_unix(const char *path, GError **errp);

/*
 * Starts @command with @args (an object or NULL; copied).  @timeout_ms 0
 * waits for ever; an expired timeout closes the bridge.  Returns false
 * (without calling @done) if the bridge is closed.
 */
FERRY_API bool ferry_agent_call_async(FerryAgent *a, const char *command,
                                      JsonNode *args, unsigned timeout_ms,
                                      FerryAgentDone done, void *opaque,
                                      GError **errp);
/* The same, waiting: the "return" value (the caller's), or NULL. */
FERRY_API JsonNode *ferry_agent_call(FerryAgent *a, const char *command,
                                     JsonNode *args, unsigned timeout_ms,
                                     GError **errp);

/* Tolerance of transport failures on (around a migration) or off. */
FERRY_API void ferry_agent_set_migrating(FerryAgent *a, bool migrating);
/*
 * Swaps the transport to @fd, which becomes the bridge's in every case:
 * refused (and closed) unless migrating or resumed.
 */
FERRY_API bool ferry_agent_resume_on_conn(FerryAgent *a, int fd,
                                          GError **errp);

FERRY_API FerryAgentState ferry_agent_state(FerryAgent *a);
FERRY_API const char *ferry_agent_state_name(FerryAgentState s);
FERRY_API void ferry_agent_get_stats(FerryAgent *a, FerryAgentStats *out);

/* Tears down: every outstanding call completes with CLOSED (idempotent). */
FERRY_API void ferry_agent_close(FerryAgent *a);
/* Closes, joins the threads and frees (not from a completion). */
FERRY_API void ferry_agent_free(FerryAgent *a);

G_END_DECLS

#endif
