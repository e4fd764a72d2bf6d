/*
 * The socket backend, as a server only: it listens on a unix path, a TCP
 * address, or a socket it inherited already listening (fd=N: libvirt binds
 * the monitor's socket itself and passes it).  One client at a time, as
 * QEMU: while one is connected the next waits in the listen queue, and is
 * accepted once the first has left (a restarted libvirtd reconnects so).
 *
 * A monitor takes each connection (ChardevFrontend.connected); for a
 * device the backend keeps the connection itself, passes what arrives to
 * ops->input and sends chardev_write()'s bytes without ever blocking.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib-unix.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "chardev-internal.h"
#include "io/socket.h"
#include "util/error.h"

typedef struct SocketBackend {
    int listen_fd;
    guint listen_watch;         /* 0 while a client is connected */
    int client_fd;              /* a device's peer; -1 none */
    guint client_watch;
    bool connected;
    char *address;              /* "unix:PATH", "tcp:HOST:PORT", "fd:N" */
    SocketAddress *owned;       /* path= and host=: removed at close */
} SocketBackend;

static gboolean on_connection(gint fd, GIOCondition cond, gpointer opaque);

static void listen_again(Chardev *chr)
{
    SocketBackend *s = chr->be;

    s->connected = false;
    if (!s->listen_watch) {
        s->listen_watch = g_unix_fd_add(s->listen_fd, G_IO_IN, on_connection,
                                        chr);
    }
}

static void drop_client(Chardev *chr)
{
    SocketBackend *s = chr->be;

    if (s->client_watch) {
        g_source_remove(s->client_watch);
        s->client_watch = 0;
    }
    /* Under the lock: no vCPU may write to a descriptor being closed */
    g_mutex_lock(&chr->lock);
    chr->out_fd = -1;
    if (s->client_fd >= 0) {
        close(s->client_fd);
        s->client_fd = -1;
    }
    g_mutex_unlock(&chr->lock);
}

static gboolean on_client_input(gint fd, GIOCondition cond, gpointer opaque)
{
    Chardev *chr = opaque;
    SocketBackend *s = chr->be;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);

    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return G_SOURCE_CONTINUE;
    }
    if (n <= 0) {
        s->client_watch = 0;
        drop_client(chr);
        listen_again(chr);
        return G_SOURCE_REMOVE;
    }
    if (chr->fe && chr->fe->input) {
        chr->fe->input(chr->fe_opaque, buf, (size_t)n);
    }
    return G_SOURCE_CONTINUE;
}

static void watch_client(Chardev *chr, int cfd)
{
    SocketBackend *s = chr->be;

    s->client_fd = cfd;
    chardev_set_out_fd(chr, cfd);
    s->client_watch = g_unix_fd_add(cfd, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                    on_client_input, chr);
}

static gboolean on_connection(gint fd, GIOCondition cond, gpointer opaque)
{
    Chardev *chr = opaque;
    SocketBackend *s = chr->be;
    int cfd = socket_accept(fd);

    if (cfd < 0) {
        return G_SOURCE_CONTINUE;       /* EAGAIN, or the peer went away */
    }
    s->connected = true;
    s->listen_watch = 0;
    if (chr->fe && chr->fe->connected) {
        chr->fe->connected(chr->fe_opaque, cfd);
    } else {
        watch_client(chr, cfd);
    }
    return G_SOURCE_REMOVE;             /* one client at a time */
}

/* fd=N: an inherited socket, which must already listen. */
static int inherited_listener(const char *str, char **address, GError **errp)
{
    guint64 n;
    int listening = 0, type = 0;
    socklen_t len = sizeof(int);
    struct sockaddr_un sun;
    socklen_t sun_len = sizeof(sun);

    if (!g_ascii_string_to_unsigned(str, 10, 3, G_MAXINT, &n, NULL)) {
        error_setg(errp, "fd=%s is not a descriptor number above 2", str);
        return -1;
    }
    if (getsockopt((int)n, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
        type != SOCK_STREAM ||
        getsockopt((int)n, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 ||
        !listening) {
        error_setg(errp, "fd=%s is not a listening stream socket", str);
        return -1;
    }
    fcntl((int)n, F_SETFD, FD_CLOEXEC);
    fcntl((int)n, F_SETFL, fcntl((int)n, F_GETFL) | O_NONBLOCK);
    if (getsockname((int)n, (struct sockaddr *)&sun, &sun_len) == 0 &&
        sun.sun_family == AF_UNIX && sun.sun_path[0]) {
        *address = g_strdup_printf("unix:%s", sun.sun_path);
    } else {
        *address = g_strdup_printf("fd:%s", str);
    }
    return (int)n;
}

static SocketAddress *own_address(const char *path, const char *host,
                                  const char *port, GError **errp)
{
    SocketAddress *a = g_new0(SocketAddress, 1);

    if (path) {
        a->type = SOCKET_ADDRESS_UNIX;
        a->path = g_strdup(path);
    } else if (host && port) {
        a->type = SOCKET_ADDRESS_INET;
        a->host = g_strdup(host);
        a->port = g_strdup(port);
    } else {
        error_setg(errp, "give path=, fd= or host= with port=");
        g_free(a);
        return NULL;
    }
    return a;
}

static bool server_only(const Keyval *kv, GError **errp)
{
    bool server, wait;

    if (!keyval_get_bool(kv, "server", false, &server, errp) ||
        !keyval_get_bool(kv, "wait", false, &wait, errp)) {
        return false;
    }
    if (!server) {
        error_setg(errp, "server=on is required (ferry's socket chardevs "
                   "only listen)");
        return false;
    }
    if (wait) {
        error_setg(errp, "wait=on is not supported (ferry does not hold "
                   "start-up for a client); use wait=off");
        return false;
    }
    return true;
}

/*
 * Where the listener is: path=, host= with port= (ferry binds and, at
 * close, removes it) or fd= (*@inherited: a socket libvirt bound).
 */
static bool listener_address(SocketBackend *s, const Keyval *kv,
                             const char **inherited, GError **errp)
{
    const char *path, *fd, *host, *port;

    if (!keyval_get_str(kv, "path", &path, errp) ||
        !keyval_get_str(kv, "fd", &fd, errp) ||
        !keyval_get_str(kv, "host", &host, errp) ||
        !keyval_get_str(kv, "port", &port, errp)) {
        return false;
    }
    if (!!path + !!fd + !!host > 1) {
        error_setg(errp, "give only one of path=, fd= and host=");
        return false;
    }
    *inherited = fd;
    if (fd) {
        return true;
    }
    s->owned = own_address(path, host, port, errp);
    if (!s->owned) {
        return false;
    }
    s->address = socket_address_to_string(s->owned);
    return true;
}

static int open_listener(SocketBackend *s, const Keyval *kv, GError **errp)
{
    const char *fd;

    if (!listener_address(s, kv, &fd, errp)) {
        return -1;
    }
    return fd ? inherited_listener(fd, &s->address, errp)
              : socket_listen(s->owned, errp);
}

static void socket_free(SocketBackend *s)
{
    if (s->owned) {
        socket_address_free(s->owned);
    }
    g_free(s->address);
    g_free(s);
}

/*
 * A live update's successor keeps the listener (bound already: no
 * client sees a refused connection) and a device's connected client.
 */
static int take_listener(Chardev *chr, SocketBackend *s, const Keyval *kv,
                         GError **errp)
{
    int fd = chardev_take_handed_fd(chr, "listen");
    const char *inherited;

    if (fd < 0) {
        return open_listener(s, kv, errp);
    }
    if (!listener_address(s, kv, &inherited, errp)) {
        close(fd);
        return -1;
    }
    if (inherited) {
        s->address = g_strdup_printf("fd:%s", inherited);
    }
    return fd;
}

static bool socket_open(Chardev *chr, const Keyval *kv, GError **errp)
{
    SocketBackend *s = g_new0(SocketBackend, 1);

    s->client_fd = -1;
    if (!server_only(kv, errp) ||
        (s->listen_fd = take_listener(chr, s, kv, errp)) < 0) {
        socket_free(s);
        return false;
    }
    chr->be = s;
    listen_again(chr);
    return true;
}

static void socket_hand_over(Chardev *chr, HandoffTable *t, bool cutover)
{
    SocketBackend *s = chr->be;

    if (cutover) {
        chardev_hand_over_fd(chr, t, "client", s->client_fd);
    } else {
        chardev_hand_over_fd(chr, t, "listen", s->listen_fd);
    }
}

/* A device's client, connected to the predecessor. */
static void socket_take_client(Chardev *chr)
{
    SocketBackend *s = chr->be;
    int client = chardev_take_handed_fd(chr, "client");

    if (client < 0) {
        return;
    }
    if (s->listen_watch) {
        g_source_remove(s->listen_watch);
        s->listen_watch = 0;
    }
    s->connected = true;
    watch_client(chr, client);
}

static void socket_freeze(Chardev *chr, bool frozen)
{
    SocketBackend *s = chr->be;

    if (frozen) {
        if (s->listen_watch) {
            g_source_remove(s->listen_watch);
            s->listen_watch = 0;
        }
        if (s->client_watch) {
            g_source_remove(s->client_watch);
            s->client_watch = 0;
        }
    } else if (s->client_fd >= 0) {
        s->client_watch = g_unix_fd_add(s->client_fd,
                                        G_IO_IN | G_IO_HUP | G_IO_ERR,
                                        on_client_input, chr);
    } else if (!s->connected) {
        listen_again(chr);
    }
}

/* A monitor's connection came from the predecessor: not listening now. */
static void socket_adopt_connection(Chardev *chr)
{
    SocketBackend *s = chr->be;

    s->connected = true;
    if (s->listen_watch) {
        g_source_remove(s->listen_watch);
        s->listen_watch = 0;
    }
}

/* A client that stops reading loses output rather than stall a vCPU. */
static void socket_write(Chardev *chr, const void *buf, size_t len)
{
    if (chr->out_fd >= 0) {
        (void)send(chr->out_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    }
}

static char *socket_filename(Chardev *chr)
{
    SocketBackend *s = chr->be;

    return g_strdup_printf("%s%s,server=on",
                           s->connected ? "" : "disconnected:", s->address);
}

static void socket_connection_closed(Chardev *chr)
{
    listen_again(chr);
}

static void socket_close(Chardev *chr)
{
    SocketBackend *s = chr->be;

    drop_client(chr);
    if (s->listen_watch) {
        g_source_remove(s->listen_watch);
    }
    close(s->listen_fd);
    if (s->owned) {
        socket_listen_cleanup(s->owned);
    }
    socket_free(s);
}

const ChardevClass chardev_socket_class = {
    .name = "socket",
    .keys = (const char *const[]){
        "path", "fd", "host", "port", "server", "wait", NULL
    },
    .takes_connections = true,
    .open = socket_open,
    .write = socket_write,
    .filename = socket_filename,
    .connection_closed = socket_connection_closed,
    .close = socket_close,
    .hand_over = socket_hand_over,
    .freeze = socket_freeze,
    .take_client = socket_take_client,
    .adopt_connection = socket_adopt_connection,
};
