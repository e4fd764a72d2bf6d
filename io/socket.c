/*
 * Listen, accept, connect and fd passing.  Every descriptor is created
 * close-on-exec so that nothing leaks into child processes.
 */
#include <poll.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "io/socket.h"
#include "util/error.h"

#define MAX_FDS_PER_MSG 64

static void unix_sockaddr(const char *path, struct sockaddr_un *sun)
{
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    g_strlcpy(sun->sun_path, path, sizeof(sun->sun_path));
}

static int unix_listen(const char *path, GError **errp)
{
    struct sockaddr_un sun;
    struct stat st;
    int fd;

    if (stat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            error_setg(errp, "'%s' exists and is not a socket", path);
            return -1;
        }
        unlink(path);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        error_setg_errno(errp, errno, "cannot create unix socket");
        return -1;
    }
    unix_sockaddr(path, &sun);
    /*
     * Owner only: whoever connects controls the VM (a monitor) or talks
     * to the guest (a channel).  chmod between bind and listen: nobody can
     * connect to a socket that does not listen yet, so there is no window.
     */
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
        chmod(path, 0600) < 0 || listen(fd, 16) < 0) {
        error_setg_errno(errp, errno, "cannot listen on '%s'", path);
        close(fd);
        return -1;
    }
    return fd;
}

static struct addrinfo *resolve(const SocketAddress *addr, bool passive,
                                GError **errp)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC,
        .ai_socktype = SOCK_STREAM,
        .ai_flags = passive ? AI_PASSIVE : 0,
    };
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(addr->host, addr->port, &hints, &res);

    if (rc != 0) {
        error_setg(errp, "cannot resolve '%s:%s': %s", addr->host, addr->port,
                   gai_strerror(rc));
        return NULL;
    }
    return res;
}

static int inet_listen(const SocketAddress *addr, GError **errp)
{
    struct addrinfo *res = resolve(addr, true, errp), *ai;
    int fd = -1, err = 0, one = 1;

    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family,
                    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
            listen(fd, 16) == 0) {
            break;
        }
        err = errno;
        close(fd);
        fd = -1;
    }
    if (res) {
        freeaddrinfo(res);
        if (fd < 0) {
            error_setg_errno(errp, err, "cannot listen on %s:%s", addr->host,
                             addr->port);
        }
    }
    return fd;
}

int socket_listen(const SocketAddress *addr, GError **errp)
{
    if (addr->type == SOCKET_ADDRESS_UNIX) {
        return unix_listen(addr->path, errp);
    }
    return inet_listen(addr, errp);
}

static bool addrinfo_loopback(const struct addrinfo *ai)
{
    if (ai->ai_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)ai->ai_addr;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (ai->ai_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)ai->ai_addr;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return false;
}

bool socket_address_is_local(const SocketAddress *addr)
{
    struct addrinfo *res, *ai;
    bool local = true;

    if (addr->type == SOCKET_ADDRESS_UNIX) {
        return true;
    }
    if (!addr->host || !*addr->host) {
        return false;       /* every interface */
    }
    res = resolve(addr, true, NULL);
    if (!res) {
        return false;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        local &= addrinfo_loopback(ai);
    }
    freeaddrinfo(res);
    return local;
}

void socket_listen_cleanup(const SocketAddress *addr)
{
    if (addr->type == SOCKET_ADDRESS_UNIX) {
        unlink(addr->path);
    }
}

/*
 * Small messages (a postcopy page request, a requested page) must not wait
 * for the previous segment's ACK: no Nagle on TCP (unix sockets: no-op).
 */
static void no_delay(int fd)
{
    int one = 1;

    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int socket_accept(int listen_fd)
{
    int fd;

    do {
        fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    } while (fd < 0 && errno == EINTR);
    if (fd >= 0) {
        no_delay(fd);
    }
    return fd;
}

/* Waits for a non-blocking connect, or for @cancel_fd to become readable. */
static int wait_connected(int fd, int cancel_fd)
{
    struct pollfd p[2] = { { fd, POLLOUT, 0 }, { cancel_fd, POLLIN, 0 } };
    int rc, err = 0;
    socklen_t len = sizeof(err);

    do {
        rc = poll(p, cancel_fd >= 0 ? 2 : 1, -1);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        return -errno;
    }
    if (cancel_fd >= 0 && p[1].revents) {
        return -ECANCELED;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
        return -errno;
    }
    return -err;
}

/*
 * Connects without blocking the caller past @cancel_fd (-1: no cancel):
 * a peer whose accept queue is full would otherwise hold the caller until
 * TCP gives up, minutes later.  The fd is blocking again on return.
 */
static int connect_fd(int family, const struct sockaddr *sa, socklen_t len,
                      int cancel_fd)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int rc;

    if (fd < 0) {
        return -1;
    }
    do {
        rc = connect(fd, sa, len) < 0 ? -errno : 0;
    } while (rc == -EINTR);
    if (rc == -EINPROGRESS || rc == -EAGAIN) {
        rc = wait_connected(fd, cancel_fd);
    }
    if (rc < 0) {
        close(fd);
        errno = -rc;
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    no_delay(fd);
    return fd;
}

int socket_connect(const SocketAddress *addr, GError **errp)
{
    return socket_connect_cancellable(addr, -1, errp);
}

int socket_connect_cancellable(const SocketAddress *addr, int cancel_fd,
                               GError **errp)
{
    g_autofree char *name = socket_address_to_string(addr);
    struct addrinfo *res, *ai;
    int fd = -1, err = 0;

    if (addr->type == SOCKET_ADDRESS_UNIX) {
        struct sockaddr_un sun;

        unix_sockaddr(addr->path, &sun);
        fd = connect_fd(AF_UNIX, (struct sockaddr *)&sun, sizeof(sun),
                        cancel_fd);
        err = errno;
    } else if ((res = resolve(addr, false, errp)) != NULL) {
        for (ai = res; ai && fd < 0; ai = ai->ai_next) {
            fd = connect_fd(ai->ai_family, ai->ai_addr, ai->ai_addrlen,
                            cancel_fd);
            err = errno;
        }
        freeaddrinfo(res);
    } else {
        return -1;
    }
    if (fd < 0) {
        error_setg_errno(errp, err, "cannot connect to %s", name);
    }
    return fd;
}

static void take_fds(struct msghdr *msg, GArray *fds)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        size_t n;
        int *in;

        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        in = (int *)CMSG_DATA(c);
        for (size_t i = 0; i < n; i++) {
            int fd;

            memcpy(&fd, &in[i], sizeof(fd));
            if (fds) {
                g_array_append_val(fds, fd);
            } else {
                close(fd);
            }
        }
    }
}

ssize_t socket_recv_fds(int fd, void *buf, size_t len, GArray *fds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * MAX_FDS_PER_MSG)];
        struct cmsghdr align;
    } control;
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control.buf,
        .msg_controllen = sizeof(control.buf),
    };
    ssize_t n;

    do {
        n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n >= 0) {
        take_fds(&msg, fds);
    }
    return n;
}

ssize_t socket_send_fds(int fd, const void *buf, size_t len, const int *fds,
                        size_t nfds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * MAX_FDS_PER_MSG)];
        struct cmsghdr align;
    } control;
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    ssize_t n;

    if (nfds > MAX_FDS_PER_MSG) {
        errno = EINVAL;
        return -1;
    }
    if (nfds) {
        struct cmsghdr *c;

        memset(&control, 0, sizeof(control));
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    do {
        n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
}
