/*
 * tcp: and unix: transports, on top of the io/ socket helpers.
 */
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "io/socket.h"
#include "migration/transport/channel.h"
#include "util/error.h"

MigChannel *mig_socket_connect(const char *uri, int cancel_fd, GError **errp)
{
    g_autoptr(SocketAddress) addr = socket_address_parse(uri, errp);
    int fd;

    if (!addr) {
        return NULL;
    }
    /* the helper's message already names the address: "cannot connect to
     * tcp:127.0.0.1:1: Connection refused" */
    fd = socket_connect_cancellable(addr, cancel_fd, errp);
    if (fd < 0) {
        return NULL;
    }
    return mig_channel_new(uri, fd, fd, NULL, NULL);
}

/* The port the kernel picked for "tcp:HOST:0", in the URI form. */
static char *bound_address(int fd, const SocketAddress *addr)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[NI_MAXHOST], port[NI_MAXSERV];
    SocketAddress bound = { .type = SOCKET_ADDRESS_INET };

    if (addr->type == SOCKET_ADDRESS_UNIX ||
        getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
        getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port,
                    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        return socket_address_to_string(addr);
    }
    bound.host = host;
    bound.port = port;
    return socket_address_to_string(&bound);
}

int mig_socket_listen(const char *uri, int bound_fd, char **bound_name,
                      GError **errp)
{
    g_autoptr(SocketAddress) addr = socket_address_parse(uri, errp);
    int fd = bound_fd;

    if (!addr) {
        if (bound_fd >= 0) {
            close(bound_fd);
        }
        return -1;
    }
    if (fd < 0 && (fd = socket_listen(addr, errp)) < 0) {
        return -1;
    }
    *bound_name = bound_address(fd, addr);
    return fd;
}

void mig_socket_listen_cleanup(const char *uri)
{
    g_autoptr(SocketAddress) addr = socket_address_parse(uri, NULL);

    if (addr) {
        socket_listen_cleanup(addr);
    }
}

MigChannel *mig_socket_accept(int listen_fd, const char *name, GError **errp)
{
    int fd = socket_accept(listen_fd);

    if (fd < 0) {
        if (errno != EAGAIN && errno != ECONNABORTED) {
            error_setg_errno(errp, errno, "%s: accept failed", name);
        }
        return NULL;
    }
    return mig_channel_new(name, fd, fd, NULL, NULL);
}
