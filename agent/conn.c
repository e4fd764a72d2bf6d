/*
 * A bridge transport: a connected socket shared by the send and receive
 * loops through references (see the locking note in agent-int.h).
 */
#include <errno.h>
#include <unistd.h>
#include <sys/socket.h>
#include "agent-int.h"

Conn *conn_new(int fd)
{
    Conn *c = g_new0(Conn, 1);

    c->fd = fd;
    c->refs = 1;
    c->line = g_string_new(NULL);
    return c;
}

Conn *conn_ref(Conn *c)
{
    g_atomic_int_inc(&c->refs);
    return c;
}

void conn_unref(Conn *c)
{
    if (c && g_atomic_int_dec_and_test(&c->refs)) {
        close(c->fd);
        g_string_free(c->line, TRUE);
        g_free(c);
    }
}

void conn_shutdown(Conn *c)
{
    shutdown(c->fd, SHUT_RDWR);
}

int conn_write_all(Conn *c, const void *buf, size_t len)
{
    const char *p = buf;

    while (len) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? -errno : -EPIPE;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}
