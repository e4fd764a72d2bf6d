/*
 * What a chardev backend implements (chardev/char-*.c) and the state the
 * generic layer (chardev.c) keeps for it.
 *
 * Locking: @lock guards @out_fd and the backend's own write state, because
 * devices write from vCPU threads while the main thread connects and
 * disconnects peers.  Everything else is main-thread only.
 */
#ifndef FERRY_CHARDEV_INTERNAL_H
#define FERRY_CHARDEV_INTERNAL_H

#include "chardev/chardev.h"
#include "util/keyval.h"

typedef struct ChardevClass {
    const char *name;                   /* the -chardev backend */
    const char *const *keys;            /* its keys, besides backend and id */
    bool takes_connections;             /* can carry a monitor */
    /* Opens the backend from its parsed keys; errors name the key. */
    bool (*open)(Chardev *chr, const Keyval *kv, GError **errp);
    /* Writes under @lock; NULL: all of it to @out_fd, blocking. */
    void (*write)(Chardev *chr, const void *buf, size_t len);
    char *(*filename)(Chardev *chr);
    /* The monitor's connection ended (takes_connections only). */
    void (*connection_closed)(Chardev *chr);
    void (*close)(Chardev *chr);
} ChardevClass;

struct Chardev {
    char *id;
    const ChardevClass *cls;
    ChardevSet *set;
    GMutex lock;
    int out_fd;                         /* @lock; -1 drops the output */
    const ChardevFrontend *fe;
    void *fe_opaque;
    void *be;                           /* the backend's state */
};

extern const ChardevClass chardev_socket_class;
extern const ChardevClass chardev_file_class;
extern const ChardevClass chardev_stdio_class;
extern const ChardevClass chardev_pty_class;
extern const ChardevClass chardev_null_class;

/* The set's fd sets, for "/dev/fdset/N" paths (may be NULL). */
FdSets *chardev_fdsets(const Chardev *chr);
/* Sets where output goes (-1: nowhere), under @lock. */
void chardev_set_out_fd(Chardev *chr, int fd);
/* Writes all of @buf to @fd, retrying EINTR; stops at any other error. */
void chardev_write_all(int fd, const void *buf, size_t len);

#endif
