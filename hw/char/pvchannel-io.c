/*
 * pvchannel's data path: one thread per channel moves bytes between the
 * two rings in guest RAM and the client's socket.  A thread of its own,
 * not the main loop, because a copy from or into guest RAM can wait: on a
 * postcopy destination a missing page comes over the network (and across
 * a recovery), and the main loop must stay free to serve the monitor
 * that recovers it.
 *
 * Every copy goes through guest_mem_read/guest_mem_write, so what the
 * device writes into guest RAM is in the dirty log (see pvblk.c).  The
 * device trusts only its own indexes; the guest's are checked against
 * them on every pass.  Locking: see pvchannel-internal.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include "pvchannel-internal.h"
#include "system/memory.h"
#include "util/log.h"

#define CHUNK 4096u

void pvchan_kick(PvchanState *s)
{
    uint64_t one = 1;

    (void)!write(s->kick_fd, &one, sizeof(one));
}

void pvchan_fail_locked(PvchanState *s, const char *fmt, ...)
{
    g_autofree char *why = NULL;
    va_list ap;

    va_start(ap, fmt);
    why = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    ferry_log("pvchannel %s: %s: channel stopped (error state until the "
              "guest writes CONTROL again)", s->name, why);
    s->status = PVCHAN_STATUS_ERROR;
}

/* The client went away: its slot is free for the next one. */
static gboolean connection_closed_cb(gpointer opaque)
{
    chardev_connection_closed(opaque);
    return G_SOURCE_REMOVE;
}

static void drop_conn_locked(PvchanState *s)
{
    if (s->conn_fd < 0) {
        return;
    }
    close(s->conn_fd);
    s->conn_fd = -1;
    s->tx_blocked = false;
    if (s->chr) {
        g_idle_add(connection_closed_cb, s->chr);
    }
}

void pvchan_attach_conn(PvchanState *s, int fd)
{
    g_mutex_lock(&s->lock);
    if (s->conn_fd >= 0) {
        close(fd);      /* the chardev serves one client at a time */
    } else {
        s->conn_fd = fd;
        s->tx_blocked = false;
    }
    g_mutex_unlock(&s->lock);
    pvchan_kick(s);
}

/* Guest to host: send what the guest produced, advance cons by what the
 * socket took. */
static void pump_tx(PvchanState *s)
{
    uint64_t data = s->g2h_gpa + sizeof(struct pvchan_ring_hdr);
    uint32_t prod, pending, start = s->g2h_cons;
    uint8_t buf[CHUNK];

    if (guest_mem_load_u32(s->g2h_gpa, &prod) < 0) {
        return;
    }
    pending = prod - s->g2h_cons;
    if (pending > s->g2h_size) {
        pvchan_fail_locked(s, "G2H prod %u is more than the ring (%u bytes) "
                           "ahead of cons %u", prod, s->g2h_size,
                           s->g2h_cons);
        return;
    }
    s->tx_blocked = false;
    while (pending && s->conn_fd >= 0) {
        uint32_t off = s->g2h_cons % s->g2h_size;
        uint32_t len = MIN(MIN(pending, s->g2h_size - off), CHUNK);
        ssize_t n;

        if (guest_mem_read(data + off, buf, len) < 0) {
            break;      /* checked at enable: cannot happen */
        }
        n = send(s->conn_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            s->tx_blocked = true;
            break;
        }
        if (n < 0) {
            drop_conn_locked(s);
            break;
        }
        s->g2h_cons += (uint32_t)n;
        s->bytes_out += (uint64_t)n;
        pending -= (uint32_t)n;
    }
    if (s->g2h_cons != start) {
        guest_mem_store_u32(s->g2h_gpa + offsetof(struct pvchan_ring_hdr,
                                                  cons), s->g2h_cons);
    }
}

/* Host to guest: read what fits into H2G. */
static void pump_rx(PvchanState *s)
{
    uint64_t data = s->h2g_gpa + sizeof(struct pvchan_ring_hdr);
    uint32_t cons, used, start = s->h2g_prod;
    uint8_t buf[CHUNK];

    if (guest_mem_load_u32(s->h2g_gpa + offsetof(struct pvchan_ring_hdr,
                                                 cons), &cons) < 0) {
        return;
    }
    used = s->h2g_prod - cons;
    if (used > s->h2g_size) {
        pvchan_fail_locked(s, "H2G cons %u is not within the ring (%u "
                           "bytes) behind prod %u", cons, s->h2g_size,
                           s->h2g_prod);
        return;
    }
    while (used < s->h2g_size && s->conn_fd >= 0) {
        uint32_t off = s->h2g_prod % s->h2g_size;
        uint32_t len = MIN(MIN(s->h2g_size - used, s->h2g_size - off), CHUNK);
        ssize_t n = recv(s->conn_fd, buf, len, MSG_DONTWAIT);

        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            break;
        }
        if (n <= 0) {
            drop_conn_locked(s);
            break;
        }
        if (guest_mem_write(data + off, buf, (size_t)n) < 0) {
            break;      /* checked at enable: cannot happen */
        }
        s->h2g_prod += (uint32_t)n;
        s->bytes_in += (uint64_t)n;
        used += (uint32_t)n;
    }
    s->rx_full = used >= s->h2g_size;
    if (s->h2g_prod != start) {
        guest_mem_store_u32(s->h2g_gpa, s->h2g_prod);
    }
}

void pvchan_pump_locked(PvchanState *s)
{
    if (!s->running || s->status != PVCHAN_STATUS_ENABLED) {
        return;
    }
    pump_tx(s);
    if (s->status == PVCHAN_STATUS_ENABLED) {
        pump_rx(s);
    }
}

/* What to wait for on the client's socket; caller holds s->lock. */
static short conn_events_locked(PvchanState *s)
{
    short ev = 0;

    if (s->running && s->status == PVCHAN_STATUS_ENABLED) {
        ev |= s->rx_full ? 0 : POLLIN;
        ev |= s->tx_blocked ? POLLOUT : 0;
    }
    return ev;
}

gpointer pvchan_io_thread(gpointer opaque)
{
    PvchanState *s = opaque;

    for (;;) {
        struct pollfd pfd[2] = { { .fd = s->kick_fd, .events = POLLIN } };
        uint64_t cnt;
        nfds_t n = 1;

        g_mutex_lock(&s->lock);
        if (s->stopping) {
            g_mutex_unlock(&s->lock);
            return NULL;
        }
        pvchan_pump_locked(s);
        if (s->conn_fd >= 0) {
            pfd[1] = (struct pollfd){ .fd = s->conn_fd,
                                      .events = conn_events_locked(s) };
            n = 2;
        }
        g_mutex_unlock(&s->lock);
        if (poll(pfd, n, -1) < 0 && errno != EINTR) {
            return NULL;
        }
        if (pfd[0].revents & POLLIN) {
            (void)!read(s->kick_fd, &cnt, sizeof(cnt));
        }
        /* A client that hung up while the channel could not read it: its
         * connection ends now, not at the next time bytes move. */
        if (n == 2 && (pfd[1].revents & (POLLHUP | POLLERR)) &&
            !(pfd[1].events & POLLIN)) {
            g_mutex_lock(&s->lock);
            drop_conn_locked(s);
            g_mutex_unlock(&s->lock);
        }
    }
}
