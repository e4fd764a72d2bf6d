/*
 * libFuzzer target for the live update's handoff messages
 * (system/live-update/handoff-wire.c, handoff-table.c): what a successor
 * reads from the socket its predecessor holds.  The input is a sequence
 * of packets, each [n-fds (low 2 bits)] [length: 2 bytes LE] [bytes]; each
 * goes over a real SOCK_SEQPACKET pair with that many descriptors of
 * /dev/null attached, and is received, parsed and, when it is an FDS
 * message, taken into a table whose entries are then all taken out.
 *
 * Besides crashes, sanitizer reports, leaks and GLib warnings (made
 * fatal), these rules abort:
 *  - a refused packet says why (a non-empty GError); an accepted one sets
 *    no GError;
 *  - no descriptor stays open: every one a packet carried is either taken
 *    out of the table or closed with the message.
 * Built and run by `make fuzz` (see the fuzzing block of the Makefile).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "fuzz-outcome.h"
#include "io/socket.h"
#include "system/live-update/handoff-table.h"
#include "system/live-update/handoff-wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define broken(...) fuzz_broken("fuzz-handoff", "(binary)", __VA_ARGS__)

static void send_packet(int sock, const uint8_t *p, size_t len, int nfds)
{
    int fds[3];

    for (int i = 0; i < nfds; i++) {
        fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    /* an empty packet carries no descriptors (and reads as EOF) */
    if (socket_send_fds(sock, p, len, fds, len ? nfds : 0) < 0) {
        broken("sending a packet of %zu bytes failed", len);
    }
    for (int i = 0; i < nfds; i++) {
        close(fds[i]);
    }
}

static void take_all(HandoffTable *t)
{
    g_autoptr(GPtrArray) names = handoff_table_names(t, "");

    for (guint i = 0; i < names->len; i++) {
        g_autoptr(JsonObject) state = NULL;
        int fd = handoff_table_take(t, g_ptr_array_index(names, i), &state);

        if (fd >= 0) {
            close(fd);
        }
    }
}

static void receive_one(int sock, HandoffTable *t)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(HandoffMsg) msg = handoff_recv(sock, 0, &err);

    if (!msg) {
        if (!err || !*err->message) {
            broken("a refused packet without a reason");
        }
        return;
    }
    if (err) {
        broken("an accepted packet with an error: %s", err->message);
    }
    if (msg->type == HANDOFF_FDS && !handoff_table_receive(t, msg, &err) &&
        (!err || !*err->message)) {
        broken("a refused FDS message without a reason");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(HandoffTable) t = handoff_table_new();
    int before = fuzz_open_fds(1024), sv[2];
    size_t pos = 0;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        abort();
    }
    while (pos + 3 <= size) {
        int nfds = data[pos] & 3;
        size_t len = data[pos + 1] | (size_t)data[pos + 2] << 8;

        pos += 3;
        len = MIN(len, size - pos);
        send_packet(sv[0], data + pos, len, nfds == 3 ? 2 : nfds);
        receive_one(sv[1], t);
        pos += len;
    }
    take_all(t);
    close(sv[0]);
    close(sv[1]);
    if (fuzz_open_fds(1024) != before) {
        broken("%d descriptors leaked", fuzz_open_fds(1024) - before);
    }
    return 0;
}
