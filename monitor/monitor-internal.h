/*
 * Internal interfaces of the monitor: connections (MonConn), the spec
 * parser, and the glue between the QMP server, events and the human
 * monitor.  Everything here runs on the main thread except
 * qmp_event_emit(), which any thread may call.
 */
#ifndef FERRY_MONITOR_INTERNAL_H
#define FERRY_MONITOR_INTERNAL_H

#include <glib.h>
#include "io/socket.h"
#include "monitor/qmp-dispatch.h"

/* Output beyond this makes a connection hang up (a client not reading). */
#define MON_OUT_MAX         (1u << 20)
/* Above this a connection stops taking input until its peer catches up. */
#define MON_OUT_HIGH_WATER  (64u << 10)
/* Received fds kept per connection (SCM_RIGHTS), for commands like getfd. */
#define MON_MAX_FDS         16

/* --- connections (mon-conn.c) ------------------------------------------ */

typedef struct MonConn MonConn;

typedef struct MonConnOps {
    /* Bytes arrived.  Not called while input is paused. */
    void (*input)(MonConn *c, const char *data, size_t len);
    /* Output fell below the high-water mark. */
    void (*drained)(MonConn *c);
    /* The connection is closed (EOF, error, overflow): free the owner. */
    void (*closed)(MonConn *c);
} MonConnOps;

/*
 * Watches @in_fd/@out_fd (may be equal) on the default main context.  The
 * connection owns socket fds; stdio fds (@own_fds false) are left open.
 * @fds, if not NULL, collects descriptors received with SCM_RIGHTS.
 */
MonConn *mon_conn_new(int in_fd, int out_fd, bool own_fds, const char *name,
                      const MonConnOps *ops, void *opaque, GArray *fds);
void *mon_conn_opaque(MonConn *c);
const char *mon_conn_name(MonConn *c);
/* Queues output; a queue above MON_OUT_MAX closes the connection. */
void mon_conn_write(MonConn *c, const char *data, size_t len);
bool mon_conn_backlogged(MonConn *c);
bool mon_conn_is_closed(MonConn *c);
void mon_conn_pause_input(MonConn *c, bool pause);
/* Closes now; ops->closed runs from the main loop, never re-entrantly. */
void mon_conn_close(MonConn *c);
/* Exit path: write what is queued (up to @timeout_ms), close, free. */
void mon_conn_shutdown(MonConn *c, int timeout_ms);
/* The owner is gone: no more callbacks; frees once closed. */
void mon_conn_release(MonConn *c);
/*
 * Calls @fn once the connection has closed while ferry runs (after the
 * owner's ops->closed), not at exit: a chardev then accepts the next
 * client.
 */
void mon_conn_on_close(MonConn *c, void (*fn)(void *opaque), void *opaque);

/* --- live update (mon-conn.c) -------------------------------------------- */

typedef struct HandoffTable HandoffTable;

/* A socket connection that another process can take over. */
bool mon_conn_can_hand_over(MonConn *c);
int mon_conn_fd(MonConn *c);
/* A -mon connection names its chardev, so a successor re-links them. */
void mon_conn_set_chardev(MonConn *c, const char *chardev_id);
const char *mon_conn_chardev(MonConn *c);
/* Frozen: neither read nor written until thawed (the cutover). */
void mon_conn_freeze(MonConn *c, bool frozen);
/* Writes queued output, waiting up to @timeout_ms for the peer. */
void mon_conn_flush(MonConn *c, int timeout_ms);
/* What is queued and not yet written. */
GBytes *mon_conn_queued_output(MonConn *c);
/* Listeners stop (or resume) accepting. */
void mon_listeners_freeze(bool frozen);
/* Adds every listener as "listen:ADDRESS". */
void mon_listeners_hand_over(HandoffTable *t);

/* --- listeners (mon-conn.c) --------------------------------------------- */

typedef void MonAcceptFn(int fd, const SocketAddress *addr, void *opaque);

/* Listens on @addr and calls @accept for each connection. */
bool mon_listen(const SocketAddress *addr, MonAcceptFn *accept, void *opaque,
                GError **errp);
void mon_listeners_close(void);

/* --- specs (monitor-spec.c) --------------------------------------------- */

/*
 * Parses "-qmp"/"-monitor" values like QEMU's chardev shorthand:
 * "unix:PATH,server=on,wait=off", "tcp:HOST:PORT,server=on,wait=off" and,
 * where @allow_stdio, "stdio".  Returns NULL for stdio.
 */
SocketAddress *monitor_spec_parse(const char *spec, bool allow_stdio,
                                  bool *is_stdio, GError **errp);

/* --- QMP ------------------------------------------------------------------ */

/* The generated command table, as a QmpCommandTable. */
const QmpCommandTable *qmp_commands(void);
/*
 * A QMP client on connected socket @fd (owned from now on), named @name in
 * the log; it may pass fds (getfd) on a unix socket.  The greeting is sent.
 */
MonConn *qmp_client_new(int fd, const char *name, bool unix_socket);
/* A QMP client's session, as a live update hands it over. */
typedef struct QmpClientState {
    const char *name;
    bool negotiated;            /* qmp_capabilities done */
    bool oob_enabled;
    bool unix_socket;
    const char *chardev;        /* a -mon client: its chardev, else NULL */
    GPtrArray *queued;          /* GBytes: requests read, not yet run */
    GBytes *partial;            /* the start of the next request */
    GBytes *output;             /* replies and events not yet written */
} QmpClientState;
typedef void QmpClientFn(void *opaque, int fd, const QmpClientState *st);

/* Every client that can be handed over (sockets), output flushed first. */
void qmp_server_foreach_client(QmpClientFn *fn, void *opaque);
/* Freezes (or thaws) every client's I/O. */
void qmp_server_freeze(bool frozen);
/* A client on @fd continuing the session @st, without a greeting. */
MonConn *qmp_client_adopt(int fd, const QmpClientState *st);
/* qmp-handoff.c: add every client to @t; rebuild the handed ones. */
void qmp_hand_over(HandoffTable *t);
void qmp_adopt_clients(void);
/* A human monitor client, as a live update hands it over. */
typedef struct HmpClientState {
    const char *name;
    const char *chardev;        /* a -mon client: its chardev, else NULL */
    const char *line;           /* the command line typed so far */
    bool discarding;            /* ... which is too long */
    GBytes *output;             /* not yet written */
} HmpClientState;
typedef void HmpClientFn(void *opaque, int fd, const HmpClientState *st);

void hmp_server_foreach_client(HmpClientFn *fn, void *opaque);
void hmp_server_freeze(bool frozen);
MonConn *hmp_client_adopt(int fd, const HmpClientState *st);

/* mon-chardev.c: @c is the connection of -mon chardev @chardev_id. */
void monitor_mon_adopt(const char *chardev_id, MonConn *c);

/* Queues a serialized event line to every negotiated QMP client. */
void qmp_server_broadcast(const char *line, size_t len);
void qmp_server_cleanup(void);
/* Delivers queued events now (main thread). */
void qmp_event_flush(void);
/* Stops event delivery for good (exit path). */
void qmp_event_cleanup(void);

/* --- human monitor --------------------------------------------------------- */

/* Forgets the -mon monitors (exit path, after their clients). */
void monitor_mon_cleanup(void);
/* A human monitor client on connected socket @fd (owned from now on). */
MonConn *hmp_client_new(int fd, const char *name);
/* Runs one HMP command line in-process; output lines end with "\r\n". */
char *hmp_run_local(const char *line);
void hmp_server_cleanup(void);

#endif
