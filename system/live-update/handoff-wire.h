/*
 * The handoff socket between a ferry process and its successor: an
 * AF_UNIX SOCK_SEQPACKET pair, one message per packet.  A message is a
 * fixed header, a JSON object and up to HANDOFF_MAX_FDS descriptors
 * (SCM_RIGHTS).  docs/live-update.md has the sequence.
 */
#ifndef FERRY_LIVE_UPDATE_HANDOFF_WIRE_H
#define FERRY_LIVE_UPDATE_HANDOFF_WIRE_H

#include <stdbool.h>
#include <stdint.h>
#include <json-glib/json-glib.h>

#define HANDOFF_MAGIC       0x48595246u     /* "FRYH", little-endian */
#define HANDOFF_VERSION     1
#define HANDOFF_MAX_FDS     64
/* The JSON of one packet; larger state travels in a memfd. */
#define HANDOFF_MAX_JSON    (48u << 10)

typedef enum HandoffType {
    HANDOFF_HELLO = 1,      /* S -> P: {version, pid} */
    HANDOFF_FDS,            /* P -> S: {entries: [{name, state}]} + fds */
    HANDOFF_WELCOME,        /* P -> S: the warm-up fds are all sent */
    HANDOFF_READY,          /* S -> P: warmed up, waiting for CUTOVER */
    HANDOFF_CUTOVER,        /* P -> S: {runstate, stop-ns} + device state */
    HANDOFF_ALIVE,          /* S -> P: loaded and activated, not running */
    HANDOFF_COMMIT,         /* P -> S: the guest is yours; P exits */
    HANDOFF_ABORT,          /* either: {reason} */
    HANDOFF_TYPE_MAX,
} HandoffType;

typedef struct HandoffMsg {
    HandoffType type;
    uint16_t version;           /* the sender's HANDOFF_VERSION */
    JsonObject *body;
    GArray *fds;                /* int, owned: closed by handoff_msg_free */
} HandoffMsg;

const char *handoff_type_name(HandoffType type);

/* Sends @body (may be NULL: {}) and @nfds descriptors (dup'ed by the
 * kernel; still the caller's). */
bool handoff_send(int sock, HandoffType type, JsonObject *body,
                  const int *fds, unsigned nfds, GError **errp);
/* The same with another @version (tests of a mismatched peer). */
bool handoff_send_version(int sock, HandoffType type, uint16_t version,
                          JsonObject *body, GError **errp);
/*
 * Receives one message, waiting up to @timeout_ms (-1: forever).  A
 * closed peer, a timeout, a foreign or malformed packet is an error that
 * says which.  The version is the peer's: the caller checks it.
 */
HandoffMsg *handoff_recv(int sock, int timeout_ms, GError **errp);
/* Takes fd @i out of @msg (-1 if there is none). */
int handoff_msg_steal_fd(HandoffMsg *msg, guint i);
void handoff_msg_free(HandoffMsg *msg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HandoffMsg, handoff_msg_free)

#endif
