/*
 * Character devices, QEMU's -chardev: named byte streams that a device
 * (COM1 today, a guest-agent channel later) or a monitor uses.  A chardev
 * is a backend, picked from a table by its name (socket, file, pty, null,
 * stdio), with an id; one frontend may attach to it.
 *
 * Two kinds of frontend:
 *   - a device writes bytes with chardev_write() from any thread (a vCPU's,
 *     under its own lock); a write never waits on a slow or absent reader:
 *     what does not fit is dropped, as a UART with nothing listening loses
 *     its output;
 *   - a monitor takes each connection a socket backend accepts as a file
 *     descriptor (ops->connected), runs its own protocol on it, and calls
 *     chardev_connection_closed() when it ends; the socket accepts the next
 *     client only then, one client at a time as QEMU's socket chardev.
 *
 * The machine's chardevs are one ChardevSet (system/machine-init.c).
 * Everything but chardev_write() runs on the main thread.
 */
#ifndef FERRY_CHARDEV_CHARDEV_H
#define FERRY_CHARDEV_CHARDEV_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include "util/fdset.h"

typedef struct Chardev Chardev;
typedef struct ChardevSet ChardevSet;

typedef struct ChardevFrontend {
    /* A monitor: a new connection; the fd is the frontend's to close. */
    void (*connected)(void *opaque, int fd);
    /* A device: bytes the peer sent (socket backends); NULL drops them. */
    void (*input)(void *opaque, const void *buf, size_t len);
} ChardevFrontend;

/* An empty set; "/dev/fdset/N" paths resolve in @fdsets (may be NULL). */
ChardevSet *chardev_set_new(FdSets *fdsets);
/* Closes every chardev (their frontends must be gone). */
void chardev_set_free(ChardevSet *set);

/*
 * Creates a chardev from a -chardev argument, "BACKEND,id=ID,..." or its
 * JSON form ({"backend": ..., "id": ...}).  Errors name the key, without
 * the "-chardev: " the caller adds.
 */
Chardev *chardev_set_add(ChardevSet *set, const char *spec, GError **errp);

/*
 * The chardev a -serial shorthand means, created with id @id: "file:PATH",
 * "stdio", "pty", "null"; or "chardev:ID", an existing one.
 */
Chardev *chardev_set_add_shorthand(ChardevSet *set, const char *id,
                                   const char *shorthand, GError **errp);

Chardev *chardev_find(ChardevSet *set, const char *id);
/* The chardevs in creation order (element type Chardev *). */
GPtrArray *chardev_set_list(ChardevSet *set);

/*
 * Attaches the one frontend.  A monitor (@fe->connected) needs a backend
 * that accepts connections (socket).
 */
bool chardev_attach(Chardev *chr, const ChardevFrontend *fe, void *opaque,
                    GError **errp);
/* The monitor's connection ended: accept the next client. */
void chardev_connection_closed(Chardev *chr);

/* Any thread; never blocks on the reader (see above). */
void chardev_write(Chardev *chr, const void *buf, size_t len);

/*
 * Live update: every chardev's descriptors go into @t (the predecessor;
 * listeners and files while warming, connections at the cutover);
 * watching them stops or resumes; a -mon connection handed over makes its
 * chardev busy, as if it had accepted it.
 */
typedef struct HandoffTable HandoffTable;
void chardev_set_hand_over(ChardevSet *set, HandoffTable *t, bool cutover);
/* The successor at the cutover: devices' connected clients. */
void chardev_set_take_clients(ChardevSet *set);
void chardev_set_freeze(ChardevSet *set, bool frozen);
void chardev_adopt_connection(Chardev *chr);

const char *chardev_id(const Chardev *chr);
const char *chardev_backend(const Chardev *chr);
/* query-chardev's filename, in QEMU's syntax ("pty:/dev/pts/3", "file",
 * "unix:/run/m.sock,server=on", "disconnected:unix:...") */
char *chardev_filename(Chardev *chr);
/* A frontend is attached. */
bool chardev_frontend_open(const Chardev *chr);

#endif
