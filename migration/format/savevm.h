/*
 * The migration stream in QEMU's format (QEMU's migration/savevm.c):
 *
 *   be32 "QEVM", be32 3
 *   QEMU_VM_CONFIGURATION  be32 len, machine name
 *   QEMU_VM_COMMAND        be16 cmd, be16 len, data        (any time)
 *   QEMU_VM_SECTION_START  be32 id, u8 len, idstr, be32 instance, be32 version,
 *                          data, QEMU_VM_SECTION_FOOTER be32 id
 *   QEMU_VM_SECTION_PART   be32 id, data, footer            (iterations)
 *   QEMU_VM_SECTION_END    be32 id, data, footer            (guest stopped)
 *   QEMU_VM_SECTION_FULL   as START, for device state sent once
 *   QEMU_VM_EOF
 *   QEMU_VM_VMDESCRIPTION  be32 len, JSON describing every device section
 *
 * Section ids belong to one stream: the source numbers the sections as it
 * writes them, the destination maps ids to its own entries by (idstr,
 * instance id) when a START or FULL section introduces them.
 */
#ifndef FERRY_MIGRATION_SAVEVM_H
#define FERRY_MIGRATION_SAVEVM_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include "migration/format/qemu-file.h"
#include "migration/format/register.h"
#include "migration/format/vmstate-int.h"

#define QEMU_VM_FILE_MAGIC      0x5145564d
#define QEMU_VM_FILE_VERSION    0x00000003

#define QEMU_VM_EOF             0x00
#define QEMU_VM_SECTION_START   0x01
#define QEMU_VM_SECTION_PART    0x02
#define QEMU_VM_SECTION_END     0x03
#define QEMU_VM_SECTION_FULL    0x04
#define QEMU_VM_SUBSECTION      0x05
#define QEMU_VM_VMDESCRIPTION   0x06
#define QEMU_VM_CONFIGURATION   0x07
#define QEMU_VM_COMMAND         0x08
#define QEMU_VM_SECTION_FOOTER  0x7e

/* MIG_CMD_*: commands in the stream, numbered as QEMU numbers them. */
enum {
    MIG_CMD_INVALID = 0,
    MIG_CMD_OPEN_RETURN_PATH,   /* no data: the destination opens its RP */
    MIG_CMD_PING,               /* be32: answered by MIG_RP_MSG_PONG */
    MIG_CMD_POSTCOPY_ADVISE,
    MIG_CMD_POSTCOPY_LISTEN,
    MIG_CMD_POSTCOPY_RUN,
    MIG_CMD_POSTCOPY_RAM_DISCARD,
    MIG_CMD_POSTCOPY_RESUME,
    MIG_CMD_PACKAGED,
    MIG_CMD_RECV_BITMAP,
    MIG_CMD_ENABLE_COLO,
    MIG_CMD_SWITCHOVER_START,
    MIG_CMD_MAX
};

/* MIG_RP_MSG_*: return-path messages (be16 type, be16 len, data). */
enum {
    MIG_RP_MSG_INVALID = 0,
    MIG_RP_MSG_SHUT,            /* be32: 0 if the destination loaded all */
    MIG_RP_MSG_PONG,            /* be32: the PING's value */
    MIG_RP_MSG_REQ_PAGES_ID,
    MIG_RP_MSG_REQ_PAGES,
    MIG_RP_MSG_RECV_BITMAP,
    MIG_RP_MSG_RESUME_ACK,
    MIG_RP_MSG_SWITCHOVER_ACK,
    MIG_RP_MSG_MAX
};

/*
 * ferry's own return-path message, numbered after QEMU's last one: the
 * destination loaded the postcopy package's device state and waits for
 * MIG_CMD_POSTCOPY_RUN (it never runs the guest before).  No data.
 */
#define MIG_RP_MSG_RUN_ACK      MIG_RP_MSG_MAX

/* The largest postcopy package a destination accepts (QEMU's limit). */
#define MAX_VM_CMD_PACKAGED_SIZE (1U << 24)
/* At most this many ranges per POSTCOPY_RAM_DISCARD (QEMU's). */
#define MAX_DISCARDS_PER_COMMAND 12
#define POSTCOPY_RAM_DISCARD_VERSION 0

/* The machine name in the configuration section; both sides must agree. */
#define SAVEVM_MACHINE_NAME "ferry-pc-1"

/*
 * What one migration context saves and loads: the iterative entries
 * (RAM) and the device sections.  Filled while no migration runs.
 */
typedef struct SaveVMState {
    GPtrArray *live;            /* LiveEntry (savevm.c) */
    VMStateRegistry devices;
} SaveVMState;

void savevm_state_init(SaveVMState *sv);
void savevm_state_clear(SaveVMState *sv);
bool savevm_register_live(SaveVMState *sv, const char *idstr,
                          uint32_t instance_id, int version_id,
                          const SaveVMHandlers *ops, void *opaque,
                          GError **errp);

/* Source side, in stream order. */
void savevm_put_header(QEMUFile *f);
void savevm_put_command(QEMUFile *f, uint16_t cmd, uint16_t len,
                        const uint8_t *data);
int savevm_setup(SaveVMState *sv, QEMUFile *f, GError **errp);
/* 1 when every iterative entry has sent all it had, 0 if not, -errno. */
int savevm_iterate(SaveVMState *sv, QEMUFile *f);
uint64_t savevm_pending(SaveVMState *sv, bool sync);
/* Guest stopped: END sections, device sections, EOF and the vmdesc. */
int savevm_complete(SaveVMState *sv, QEMUFile *f, GError **errp);
/* Only the devices' FULL sections, between header and EOF. */
int savevm_save_devices(SaveVMState *sv, QEMUFile *f, GError **errp);
/*
 * Postcopy: MIG_CMD_PACKAGED with LISTEN, every device section and EOF
 * (no RUN: that waits for the destination's RUN_ACK).
 */
int savevm_send_package(SaveVMState *sv, QEMUFile *f, GError **errp);
/* Postcopy: what the destination asked for, in PART sections. */
int savevm_postcopy_urgent(SaveVMState *sv, QEMUFile *f);
/* Before the postcopy switchover: side channels (multifd) drained. */
int savevm_sync_side_channels(SaveVMState *sv, QEMUFile *f);
/* Postcopy's end: the iterative entries' END sections and EOF. */
int savevm_complete_postcopy(SaveVMState *sv, QEMUFile *f, GError **errp);
void savevm_cleanup(SaveVMState *sv);

/*
 * Destination: reads a whole stream into the registered entries.
 * @on_command handles QEMU_VM_COMMAND (return path, ping); it returns 0 or
 * -errno and sets errp.  Errors name the section.
 */
typedef int (*SaveVMCommandFn)(uint16_t cmd, const uint8_t *data,
                               uint16_t len, void *opaque, GError **errp);
int savevm_load(SaveVMState *sv, QEMUFile *f, SaveVMCommandFn on_command,
                void *opaque, GError **errp);
/*
 * Postcopy recovery: when the stream breaks (not when it is malformed),
 * @on_broken may hand over a new file that continues it (section ids
 * and all); NULL ends the load with the error.
 */
typedef QEMUFile *(*SaveVMBrokenFn)(QEMUFile *broken, const GError *why,
                                    void *opaque);
int savevm_load_recoverable(SaveVMState *sv, QEMUFile *f,
                            SaveVMCommandFn on_command,
                            SaveVMBrokenFn on_broken, void *opaque,
                            GError **errp);
/*
 * A postcopy package (MIG_CMD_PACKAGED's contents): commands and device
 * sections up to its EOF, with section ids of its own.
 */
int savevm_load_package(SaveVMState *sv, QEMUFile *f,
                        SaveVMCommandFn on_command, void *opaque,
                        GError **errp);
/* Reads a package of @len bytes from @f into a file that loads it. */
QEMUFile *savevm_read_package(QEMUFile *f, uint32_t len, GError **errp);

#endif
