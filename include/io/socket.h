/*
 * Stream socket helpers shared by the monitors and (later) the migration
 * transports: address parsing ("unix:PATH", "tcp:HOST:PORT"), listen,
 * accept, connect, and fd passing with SCM_RIGHTS on unix sockets.
 */
#ifndef FERRY_IO_SOCKET_H
#define FERRY_IO_SOCKET_H

#include <stdbool.h>
#include <sys/types.h>
#include <glib.h>

typedef enum SocketAddressType {
    SOCKET_ADDRESS_UNIX,
    SOCKET_ADDRESS_INET,
} SocketAddressType;

typedef struct SocketAddress {
    SocketAddressType type;
    char *path;                 /* unix */
    char *host;                 /* inet: name or address, no brackets */
    char *port;                 /* inet: number or service name */
} SocketAddress;

/* "unix:PATH" or "tcp:HOST:PORT" ("tcp:[::1]:4444" for IPv6). */
SocketAddress *socket_address_parse(const char *str, GError **errp);
char *socket_address_to_string(const SocketAddress *addr);
void socket_address_free(SocketAddress *addr);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SocketAddress, socket_address_free)

/*
 * A listening socket, non-blocking and close-on-exec.  A stale unix socket
 * file at the path is replaced (as QEMU does); any other file is an error.
 */
int socket_listen(const SocketAddress *addr, GError **errp);
/* Non-blocking, close-on-exec; -1 with errno set (EAGAIN: none pending). */
int socket_accept(int listen_fd);
/* A connected, blocking, close-on-exec socket. */
int socket_connect(const SocketAddress *addr, GError **errp);
/* As socket_connect, giving up ("Operation canceled") as soon as
 * @cancel_fd (an eventfd or pipe; -1 for none) becomes readable. */
int socket_connect_cancellable(const SocketAddress *addr, int cancel_fd,
                               GError **errp);
/* A unix socket, or an inet address that resolves to loopback only. */
bool socket_address_is_local(const SocketAddress *addr);
/* Removes the file of a unix listener (no-op for inet). */
void socket_listen_cleanup(const SocketAddress *addr);

/*
 * recv() that also accepts file descriptors sent with SCM_RIGHTS: they are
 * appended to @fds (a GArray of int), made close-on-exec.  With @fds NULL,
 * received fds are closed.
 */
ssize_t socket_recv_fds(int fd, void *buf, size_t len, GArray *fds);
/* send() of @len bytes (at least 1) carrying @nfds descriptors. */
ssize_t socket_send_fds(int fd, const void *buf, size_t len, const int *fds,
                        size_t nfds);

#endif
