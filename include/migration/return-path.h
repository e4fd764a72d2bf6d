#ifndef FERRY_MIGRATION_RETURN_PATH_H
#define FERRY_MIGRATION_RETURN_PATH_H

#include <glib.h>
#include <stdbool.h>
#include "migration/qemu-file.h"

/* The source's reader of the return path (see migration/return-path.c). */
typedef struct ReturnPath {
    QEMUFile *f;
    GThread *thread;
    GMutex lock;
    GCond cond;
    bool done;                  /* SHUT received, or the path broke */
    bool ok;                    /* SHUT said the destination loaded all */
    char *error;
} ReturnPath;

void return_path_start(ReturnPath *rp, QEMUFile *f);
void return_path_done(ReturnPath *rp, bool ok, const char *error);
/* Waits for SHUT or a failure; false with *error on failure. */
bool return_path_wait(ReturnPath *rp, char **error);
/* True (with *error) if the path already failed. */
bool return_path_failed(ReturnPath *rp, char **error);
/* Unblocks and joins the reader; frees what it held (not the file). */
void return_path_stop(ReturnPath *rp);

/* Destination side: one message, flushed. */
void rp_send(QEMUFile *rp, uint16_t type, uint16_t len, const uint8_t *data);
void rp_send_be32(QEMUFile *rp, uint16_t type, uint32_t value);

#endif
