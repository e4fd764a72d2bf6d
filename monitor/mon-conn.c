/*
 * Monitor connections and listeners on the default GLib main context.
 *
 * A connection never blocks the VMM: sockets are non-blocking, output is
 * queued and written when the socket is writable, and a peer that stops
 * reading is disconnected once its queue passes MON_OUT_MAX.  Closing is
 * immediate for the fds but the owner's closed() callback runs from an
 * idle source, so code that writes to a connection never sees its owner
 * freed under its feet.  (stdio is the exception to non-blocking output:
 * it is written synchronously, like QEMU's stdio chardev.)
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <glib-unix.h>
#include <sys/socket.h>
#include "monitor-internal.h"
#include "system/live-update.h"
#include "system/live-update/handoff-table.h"
#include "util/log.h"

struct MonConn {
    int refs;
    int in_fd, out_fd;
    bool own_fds;               /* sockets: ours to close; stdio: not */
    bool closed, released;
    guint in_watch, out_watch;
    bool paused;
    bool frozen;                /* a live update's cutover: no I/O at all */
    char *chardev_id;           /* a -mon connection: its chardev */
    GString *out;               /* queued output from out_pos on */
    size_t out_pos;
    char *name;
    const MonConnOps *ops;
    void *opaque;
    GArray *fds;
    void (*gone)(void *opaque);     /* mon_conn_on_close() */
    void *gone_opaque;
};

static void conn_unref(MonConn *c)
{
    if (--c->refs == 0) {
        g_string_free(c->out, TRUE);
        g_free(c->chardev_id);
        g_free(c->name);
        g_free(c);
    }
}

static size_t out_len(MonConn *c)
{
    return c->out->len - c->out_pos;
}

void *mon_conn_opaque(MonConn *c)
{
    return c->opaque;
}

const char *mon_conn_name(MonConn *c)
{
    return c->name;
}

bool mon_conn_backlogged(MonConn *c)
{
    return out_len(c) > MON_OUT_HIGH_WATER;
}

bool mon_conn_is_closed(MonConn *c)
{
    return c->closed;
}

static void remove_watch(guint *id)
{
    if (*id) {
        g_source_remove(*id);
        *id = 0;
    }
}

static gboolean on_readable(gint fd, GIOCondition cond, gpointer opaque);
static gboolean on_writable(gint fd, GIOCondition cond, gpointer opaque);

static void update_watches(MonConn *c)
{
    if (c->closed) {
        return;
    }
    if (c->frozen) {
        remove_watch(&c->in_watch);
        remove_watch(&c->out_watch);
        return;
    }
    if (!c->paused && !c->in_watch) {
        c->in_watch = g_unix_fd_add(c->in_fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                    on_readable, c);
    } else if (c->paused) {
        remove_watch(&c->in_watch);
    }
    if (out_len(c) && !c->out_watch) {
        c->out_watch = g_unix_fd_add(c->out_fd, G_IO_OUT | G_IO_ERR,
                                     on_writable, c);
    } else if (!out_len(c)) {
        remove_watch(&c->out_watch);
    }
}

MonConn *mon_conn_new(int in_fd, int out_fd, bool own_fds, const char *name,
                      const MonConnOps *ops, void *opaque, GArray *fds)
{
    MonConn *c = g_new0(MonConn, 1);

    c->refs = 1;
    c->in_fd = in_fd;
    c->out_fd = out_fd;
    c->own_fds = own_fds;
    c->out = g_string_new(NULL);
    c->name = g_strdup(name);
    c->ops = ops;
    c->opaque = opaque;
    c->fds = fds;
    update_watches(c);
    return c;
}

static gboolean closed_cb(gpointer opaque)
{
    MonConn *c = opaque;
    bool notify = !c->released && c->gone;  /* closed() releases it */

    if (!c->released && c->ops->closed) {
        c->ops->closed(c);
    }
    if (notify) {
        c->gone(c->gone_opaque);
    }
    conn_unref(c);
    return G_SOURCE_REMOVE;
}

void mon_conn_on_close(MonConn *c, void (*fn)(void *opaque), void *opaque)
{
    c->gone = fn;
    c->gone_opaque = opaque;
}

static void close_fds(MonConn *c)
{
    c->closed = true;
    remove_watch(&c->in_watch);
    remove_watch(&c->out_watch);
    if (c->own_fds) {
        close(c->in_fd);
        if (c->out_fd != c->in_fd) {
            close(c->out_fd);
        }
    }
    g_string_truncate(c->out, 0);
    c->out_pos = 0;
}

void mon_conn_close(MonConn *c)
{
    if (c->closed) {
        return;
    }
    close_fds(c);
    c->refs++;
    g_idle_add(closed_cb, c);
}

void mon_conn_release(MonConn *c)
{
    c->released = true;
    if (!c->closed) {
        close_fds(c);
    }
    conn_unref(c);
}

/* Keeps at most MON_MAX_FDS received descriptors; closes the rest. */
static void limit_fds(MonConn *c)
{
    while (c->fds && c->fds->len > MON_MAX_FDS) {
        close(g_array_index(c->fds, int, c->fds->len - 1));
        g_array_remove_index(c->fds, c->fds->len - 1);
    }
}

static gboolean on_readable(gint fd, GIOCondition cond, gpointer opaque)
{
    MonConn *c = opaque;
    char buf[16384];
    ssize_t n;

    if (c->own_fds) {
        n = socket_recv_fds(fd, buf, sizeof(buf), c->fds);
    } else {
        n = read(fd, buf, sizeof(buf));
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return G_SOURCE_CONTINUE;
    }
    if (n <= 0) {
        if (n < 0) {
            ferry_log("monitor: %s: read error: %s", c->name,
                      g_strerror(errno));
        }
        mon_conn_close(c);
        return G_SOURCE_REMOVE;
    }
    limit_fds(c);
    c->refs++;
    c->ops->input(c, buf, n);
    conn_unref(c);
    return G_SOURCE_CONTINUE;
}

/* Writes as much queued output as the fd takes; false on a fatal error. */
static bool write_some(MonConn *c)
{
    while (out_len(c)) {
        const char *p = c->out->str + c->out_pos;
        ssize_t n = c->own_fds ?
            send(c->out_fd, p, out_len(c), MSG_NOSIGNAL | MSG_DONTWAIT) :
            write(c->out_fd, p, out_len(c));

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            break;
        }
        if (n < 0) {
            return false;
        }
        c->out_pos += n;
    }
    if (c->out_pos == c->out->len || c->out_pos > (1u << 16)) {
        g_string_erase(c->out, 0, c->out_pos);
        c->out_pos = 0;
    }
    return true;
}

static gboolean on_writable(gint fd, GIOCondition cond, gpointer opaque)
{
    MonConn *c = opaque;
    bool was_backlogged = mon_conn_backlogged(c);
    bool keep;

    if (!write_some(c)) {
        ferry_log("monitor: %s: write error: %s", c->name, g_strerror(errno));
        mon_conn_close(c);
        return G_SOURCE_REMOVE;
    }
    keep = out_len(c) > 0;
    if (!keep) {
        c->out_watch = 0;       /* drained() may add a new watch */
    }
    if (was_backlogged && !mon_conn_backlogged(c) && c->ops->drained) {
        c->refs++;
        c->ops->drained(c);
        conn_unref(c);
    }
    return keep ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

void mon_conn_write(MonConn *c, const char *data, size_t len)
{
    if (c->closed) {
        return;
    }
    if (out_len(c) + len > MON_OUT_MAX) {
        ferry_log("monitor: %s: dropping the client, it stopped reading "
                  "(%zu bytes queued)", c->name, out_len(c));
        mon_conn_close(c);
        return;
    }
    g_string_append_len(c->out, data, len);
    if (!c->own_fds) {
        /* stdio: blocking, written at once */
        if (!write_some(c)) {
            mon_conn_close(c);
        }
        return;
    }
    update_watches(c);
}

void mon_conn_pause_input(MonConn *c, bool pause)
{
    c->paused = pause;
    update_watches(c);
}

void mon_conn_shutdown(MonConn *c, int timeout_ms)
{
    mon_conn_flush(c, timeout_ms);
    if (!c->closed) {
        if (c->own_fds) {
            shutdown(c->out_fd, SHUT_RDWR);
        }
        close_fds(c);
    }
}

/* --- live update ---------------------------------------------------------- */

bool mon_conn_can_hand_over(MonConn *c)
{
    return c->own_fds && !c->closed && c->in_fd == c->out_fd;
}

int mon_conn_fd(MonConn *c)
{
    return c->in_fd;
}

void mon_conn_set_chardev(MonConn *c, const char *chardev_id)
{
    g_free(c->chardev_id);
    c->chardev_id = g_strdup(chardev_id);
}

const char *mon_conn_chardev(MonConn *c)
{
    return c->chardev_id;
}

void mon_conn_freeze(MonConn *c, bool frozen)
{
    c->frozen = frozen;
    update_watches(c);
}

void mon_conn_flush(MonConn *c, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000LL;

    while (!c->closed && out_len(c)) {
        struct pollfd pfd = { .fd = c->out_fd, .events = POLLOUT };
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;

        if (left <= 0 || poll(&pfd, 1, left) <= 0 || !write_some(c)) {
            break;
        }
    }
}

GBytes *mon_conn_queued_output(MonConn *c)
{
    return g_bytes_new(c->out->str + c->out_pos, out_len(c));
}

/* --- listeners ------------------------------------------------------------ */

typedef struct MonListener {
    int fd;
    guint watch;
    SocketAddress *addr;
    MonAcceptFn *accept;
    void *opaque;
} MonListener;

static GPtrArray *listeners;

static gboolean on_connection(gint fd, GIOCondition cond, gpointer opaque)
{
    MonListener *l = opaque;

    /* a bounded batch, so a connection flood cannot starve the VMM */
    for (int i = 0; i < 16; i++) {
        int cfd = socket_accept(fd);

        if (cfd < 0) {
            if (errno != EAGAIN) {
                ferry_log("monitor: accept failed: %s", g_strerror(errno));
            }
            break;
        }
        l->accept(cfd, l->addr, l->opaque);
    }
    return G_SOURCE_CONTINUE;
}

/* A live update's successor takes the listener over, bound already. */
static int listen_or_take(const SocketAddress *addr, GError **errp)
{
    g_autofree char *where = socket_address_to_string(addr);
    g_autofree char *name = g_strconcat("listen:", where, NULL);
    int fd = live_update_take_fd(name, NULL);

    return fd >= 0 ? fd : socket_listen(addr, errp);
}

bool mon_listen(const SocketAddress *addr, MonAcceptFn *accept, void *opaque,
                GError **errp)
{
    int fd = listen_or_take(addr, errp);
    MonListener *l;

    if (fd < 0) {
        return false;
    }
    l = g_new0(MonListener, 1);
    l->fd = fd;
    l->addr = g_new0(SocketAddress, 1);
    l->addr->type = addr->type;
    l->addr->path = g_strdup(addr->path);
    l->addr->host = g_strdup(addr->host);
    l->addr->port = g_strdup(addr->port);
    l->accept = accept;
    l->opaque = opaque;
    l->watch = g_unix_fd_add(fd, G_IO_IN, on_connection, l);
    if (!listeners) {
        listeners = g_ptr_array_new();
    }
    g_ptr_array_add(listeners, l);
    return true;
}

void mon_listeners_close(void)
{
    for (guint i = 0; listeners && i < listeners->len; i++) {
        MonListener *l = g_ptr_array_index(listeners, i);

        g_source_remove(l->watch);
        close(l->fd);
        socket_listen_cleanup(l->addr);
        socket_address_free(l->addr);
        g_free(l);
    }
    g_clear_pointer(&listeners, g_ptr_array_unref);
}

void mon_listeners_freeze(bool frozen)
{
    for (guint i = 0; listeners && i < listeners->len; i++) {
        MonListener *l = g_ptr_array_index(listeners, i);

        if (frozen && l->watch) {
            g_source_remove(l->watch);
            l->watch = 0;
        } else if (!frozen && !l->watch) {
            l->watch = g_unix_fd_add(l->fd, G_IO_IN, on_connection, l);
        }
    }
}

void mon_listeners_hand_over(HandoffTable *t)
{
    for (guint i = 0; listeners && i < listeners->len; i++) {
        MonListener *l = g_ptr_array_index(listeners, i);
        g_autofree char *where = socket_address_to_string(l->addr);
        g_autofree char *name = g_strconcat("listen:", where, NULL);

        handoff_table_add(t, name, l->fd, NULL);
    }
}
