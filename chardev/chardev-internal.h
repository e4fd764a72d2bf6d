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

typedef struct HandoffTable HandoffTable;

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
    /*
     * Live update (optional; without it out_fd travels as "out" before
     * the cutover): adds the backend's descriptors to @t with
     * chardev_hand_over_fd(), those the successor needs to build the
     * chardev before the cutover, its connection at the cutover; stops
     * (or resumes) watching them.
     */
    void (*hand_over)(Chardev *chr, HandoffTable *t, bool cutover);
    void (*freeze)(Chardev *chr, bool frozen);
    /* The successor at the cutover: takes the connected client over. */
    void (*take_client)(Chardev *chr);
    /* A monitor connection of this chardev was taken over: it is busy. */
    void (*adopt_connection)(Chardev *chr);
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
/*
 * Live update: "chardev:ID:@what" handed over by the predecessor (now
 * the backend's), or -1 to open as usual; and the predecessor's side.
 */
int chardev_take_handed_fd(Chardev *chr, const char *what);
void chardev_hand_over_fd(Chardev *chr, HandoffTable *t, const char *what,
                          int fd);
/* Sets where output goes (-1: nowhere), under @lock. */
void chardev_set_out_fd(Chardev *chr, int fd);
/* Writes all of @buf to @fd, retrying EINTR; stops at any other error. */
void chardev_write_all(int fd, const void *buf, size_t len);

#endif
