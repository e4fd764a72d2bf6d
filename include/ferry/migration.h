/*
 * libferry-migration: QEMU-grade live migration for a VMM that embeds it.
 *
 * The embedder creates one FerryMig per VM with ferry_mig_new(), handing
 * it a FerryMigVMM table: the core reaches guest RAM, dirty tracking,
 * the vCPUs, the disks and the outcome of a migration only through it.
 * Devices describe their state with VMState (ferry/vmstate.h) and
 * register it on the context.  The context then migrates the VM as
 * source (ferry_mig_start) or destination (ferry_mig_incoming), in QEMU's
 * stream format, with precopy, postcopy, RUN_ACK-gated postcopy-setup,
 * postcopy recovery and early block attach.  docs/embedding.md walks
 * through a complete example.
 *
 * Threads: the control calls (ferry_mig_*) are made from the thread that
 * runs the GMainContext given to ferry_mig_new(); the core runs its own
 * threads for the streams and calls back into the VMM from them, except
 * where a hook says "main context".  Callbacks on the main context are
 * dispatched by the embedder's loop iterating that context.
 *
 * Errors: control calls return bool (or a pointer) and set a GError.
 */
#ifndef FERRY_MIGRATION_H
#define FERRY_MIGRATION_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <ferry/migration-types.h>
#include <ferry/vmstate.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The API this header describes; bumped on incompatible changes. */
#define FERRY_MIG_API_MAJOR 1
#define FERRY_MIG_API_MINOR 1
#define FERRY_MIG_API_VERSION \
    ((FERRY_MIG_API_MAJOR << 16) | FERRY_MIG_API_MINOR)

/* The API version of the library linked at run time. */
FERRY_API uint32_t ferry_mig_api_version(void);

#define FERRY_MIG_PAGE_SHIFT 12
#define FERRY_MIG_PAGE_SIZE  (1ULL << FERRY_MIG_PAGE_SHIFT)

typedef struct FerryMig FerryMig;

/* A block of guest RAM, as the stream names it. */
typedef struct FerryMigRAMBlock {
    const char *name;           /* "pc.ram" */
    uint8_t *host;              /* mapped for the whole migration */
    uint64_t size;              /* bytes, a multiple of FERRY_MIG_PAGE_SIZE */
    int fd;                     /* backing descriptor (memfd), or -1 */
} FerryMigRAMBlock;

typedef enum FerryMigEventKind {
    FERRY_MIG_EVENT_STATUS,     /* the status changed (QMP's MIGRATION) */
    FERRY_MIG_EVENT_PASS,       /* a dirty-sync pass began (MIGRATION_PASS) */
} FerryMigEventKind;

typedef struct FerryMigEvent {
    FerryMigEventKind kind;
    MigrationStatus status;     /* STATUS: the new status */
    uint64_t pass;              /* PASS: its number, from 1 */
} FerryMigEvent;

/*
 * The VMM's side.  Every hook gets the opaque pointer given to
 * ferry_mig_new().  Hooks marked optional may be NULL.  RAM and dirty-log
 * hooks run on migration threads, the others where they say; all must be
 * safe for that.
 */
/*
 * A TLS credentials object as QEMU defines it (tls-creds-x509,
 * tls-creds-psk): @dir holds ca-cert.pem, server-cert.pem, server-key.pem,
 * client-cert.pem, client-key.pem (x509) or keys.psk, lines
 * "username:hexkey" (psk).
 */
typedef enum FerryMigTlsKind {
    FERRY_MIG_TLS_X509,
    FERRY_MIG_TLS_PSK,
} FerryMigTlsKind;

typedef struct FerryMigTlsCreds {
    FerryMigTlsKind kind;
    const char *dir;
    bool server;                /* endpoint=server */
    bool verify_peer;           /* x509: check the peer's certificate */
    const char *username;       /* psk, client: the key to use */
} FerryMigTlsCreds;

typedef struct FerryMigVMM {
    /* sizeof(FerryMigVMM) as the embedder compiled it: a library with a
     * longer table treats the hooks beyond it as NULL. */
    uint32_t size;

    /* RAM: a fixed list of blocks for the life of a migration. */
    unsigned (*ram_block_count)(void *opaque);
    void (*ram_block_get)(void *opaque, unsigned index,
                          FerryMigRAMBlock *block);

    /*
     * Dirty tracking.  sync ORs into @bitmap (one bit per page of block
     * @index) every page written since the previous sync or start,
     * re-arms tracking for them, and returns how many bits @bitmap now
     * has set, or -errno.  stop comes from the migration thread once the
     * migration ended, after 'completed' is reported (it may take tens of
     * ms), or not at all while a postcopy is paused.
     */
    bool (*dirty_log_start)(void *opaque, GError **errp);
    long (*dirty_log_sync)(void *opaque, unsigned index,
                           unsigned long *bitmap);
    void (*dirty_log_stop)(void *opaque);

    /* vCPUs. */
    bool (*vm_running)(void *opaque);
    bool (*vm_stop)(void *opaque, GError **errp);   /* the switchover */
    bool (*vm_start)(void *opaque, GError **errp);  /* resume after failure */
    /* auto-converge (optional): slow the vCPUs down; 0 stops it. */
    void (*vm_throttle)(void *opaque, int percent);
    int (*vm_throttle_percent)(void *opaque);

    /*
     * Disks around the switchover (optional).  The source inactivates
     * while the guest is stopped (drain, flush, release the write lock)
     * and activates again if the migration fails before the destination
     * may run.  The destination attaches (open, shared lock, warm up:
     * may be slow; with capability early-block-attach the core calls it
     * on a thread of its own while precopy runs) and activates after the
     * device state loaded.
     */
    bool (*block_inactivate)(void *opaque, GError **errp);
    bool (*block_activate)(void *opaque, GError **errp);
    bool (*block_attach)(void *opaque, GError **errp);

    /* Outcomes. */
    /* The source's guest lives elsewhere now (main context). */
    void (*source_completed)(void *opaque);
    /* May this VM receive a migration (it waits for one)? */
    bool (*incoming_allowed)(void *opaque, GError **errp);
    /* The whole stream loaded: get the guest ready to run (main context). */
    bool (*incoming_loaded)(void *opaque, GError **errp);
    /* After `completed`: run the guest, or keep it paused (main context). */
    bool (*incoming_run)(void *opaque, bool autostart, GError **errp);
    /* The load failed and the guest will not run; @exit asks the VMM to
     * end the process (QEMU's exit-on-error).  Main context. */
    void (*incoming_failed)(void *opaque, const char *why, bool exit);
    /*
     * Postcopy, destination (optional).  Before guest RAM is registered
     * for missing-page faults: nothing of the VMM may populate it from
     * then on (e.g. a background pre-fault).
     */
    bool (*incoming_postcopy_listen)(void *opaque, GError **errp);
    /* The vCPU a host thread (gettid) runs, or -1: for blocktime. */
    int (*vcpu_index_of_thread)(void *opaque, uint32_t tid);
    unsigned (*vcpu_count)(void *opaque);

    /* Status changes and passes (optional); any thread, must not block. */
    void (*event)(void *opaque, const FerryMigEvent *event);
    /*
     * "fd:NAME" URIs (optional): hands over the descriptor named @name
     * (the core closes it), or -1 with @errp set.  Main context.
     */
    int (*fd_lookup)(void *opaque, const char *name, GError **errp);
    /*
     * TLS (optional; without them tls-creds must stay "").  tls_creds
     * describes the credentials object named by the tls-creds parameter;
     * the strings it stores need to live only until it returns (the core
     * loads the files at once).  tls_authz checks a peer's x509
     * distinguished name @dn against the object named by tls-authz; with
     * @dn NULL it only says whether that object exists.  Both may run on
     * a migration thread.
     */
    bool (*tls_creds)(void *opaque, const char *id, FerryMigTlsCreds *creds,
                      GError **errp);
    bool (*tls_authz)(void *opaque, const char *id, const char *dn,
                      GError **errp);

    /*
     * Postcopy minor faults, destination (optional; API 1.1): a second
     * shared mapping of block @index's fd that neither the guest, the
     * hypervisor nor any device uses.  With it, capability
     * x-postcopy-minor-faults, a kernel with minor faults on shared
     * memory and every block in an fd, the core writes incoming pages
     * there and maps them into the guest's mapping (which must map the
     * fd MAP_SHARED) only once they are final, so POSTCOPY_RAM_DISCARD
     * frees nothing.  A VMM that pre-faults RAM populates this mapping
     * while ferry_mig_incoming_staged() says so.  Any thread.
     */
    uint8_t *(*ram_block_staging)(void *opaque, unsigned index);
    /*
     * The incoming migration is over (completed in precopy or postcopy,
     * failed, or paused past recovery; in whatever mode it ran) and the
     * core will not touch block @index's staging mapping again: the VMM
     * may unmap it, so the process maps guest RAM once (a shared page
     * mapped twice counts twice in RSS).  ram_block_staging returns NULL
     * from then on.  Optional; without it the core drops the mapping's
     * page-table entries instead.  Any thread, after the guest may run.
     */
    void (*ram_block_staging_done)(void *opaque, unsigned index);
} FerryMigVMM;

/*
 * A migration context for one VM.  @vmm is copied; @context is the
 * GMainContext whose thread makes the control calls and runs the
 * main-context hooks (g_main_context_default() for a plain GLib program).
 * Capabilities and parameters start at QEMU's defaults.
 */
FERRY_API FerryMig *ferry_mig_new(const FerryMigVMM *vmm, void *opaque,
                                  GMainContext *context, GError **errp);
/* Cancels what can be cancelled, joins the threads, frees. */
FERRY_API void ferry_mig_free(FerryMig *m);

/* --- devices ----------------------------------------------------------- */

/*
 * Registers device state sent once, with the guest stopped.  Refuses an
 * (idstr, instance_id) already registered; VMSTATE_INSTANCE_ID_ANY
 * picks the next free instance.  Higher @priority is saved first.
 */
FERRY_API bool ferry_mig_register_device(FerryMig *m, const char *idstr,
                                         uint32_t instance_id,
                                         const VMStateDescription *vmsd,
                                         void *opaque, int priority,
                                         GError **errp);
/* Removes every entry of @vmsd over @opaque. */
FERRY_API void ferry_mig_unregister_device(FerryMig *m,
                                           const VMStateDescription *vmsd,
                                           void *opaque);

/* --- capabilities and parameters (QEMU's names and rules) ------------- */

/* All or nothing; refused while a migration runs. */
FERRY_API bool ferry_mig_set_capabilities(FerryMig *m,
                                          MigrationCapabilityStatusList *caps,
                                          GError **errp);
FERRY_API bool ferry_mig_capability(FerryMig *m, MigrationCapability cap);
/* The capabilities this library can enable (QEMU's order). */
FERRY_API bool ferry_mig_capability_supported(MigrationCapability cap);
/*
 * Applies the members @p has; a running migration sees max-bandwidth,
 * max-postcopy-bandwidth and downtime-limit at once, as in QEMU.
 */
FERRY_API bool ferry_mig_set_parameters(FerryMig *m,
                                        const MigrationParameters *p,
                                        GError **errp);
/* Every parameter, with its has_ flag set; free with
 * ferry_mig_parameters_free(). */
FERRY_API MigrationParameters *ferry_mig_parameters(FerryMig *m);
FERRY_API void ferry_mig_parameters_free(MigrationParameters *p);

/* --- source ------------------------------------------------------------ */

/* tcp:HOST:PORT, unix:PATH, fd:NAME, exec:CMD, file:PATH[,offset=N]. */
FERRY_API bool ferry_mig_start(FerryMig *m, const char *uri, GError **errp);
FERRY_API bool ferry_mig_cancel(FerryMig *m, GError **errp);
/* migrate-continue: leave @state (pre-switchover). */
FERRY_API bool ferry_mig_continue(FerryMig *m, MigrationStatus state,
                                  GError **errp);
/* migrate-start-postcopy. */
FERRY_API bool ferry_mig_start_postcopy(FerryMig *m, GError **errp);
/* migrate resume=true: recover a paused postcopy over @uri. */
FERRY_API bool ferry_mig_resume(FerryMig *m, const char *uri, GError **errp);

/* --- destination ------------------------------------------------------- */

/*
 * Listens on @uri and loads the first stream that arrives (once per
 * context).  With @exit_on_error a failed load asks the VMM to exit
 * (incoming_failed's @exit).  @autostart: run once loaded (QEMU without
 * -S).
 */
FERRY_API bool ferry_mig_incoming(FerryMig *m, const char *uri,
                                  bool exit_on_error, bool autostart,
                                  GError **errp);
/* migrate-recover: a paused postcopy listens on @uri for the source. */
FERRY_API bool ferry_mig_recover(FerryMig *m, const char *uri,
                                 GError **errp);
/* `cont` before the incoming guest may run: run as soon as allowed. */
FERRY_API bool ferry_mig_incoming_autostart(FerryMig *m, GError **errp);
/*
 * True while an incoming migration would write guest RAM through the
 * VMM's staging mappings (hook ram_block_staging): postcopy-ram and
 * x-postcopy-minor-faults on, the kernel able, every block staged.  It
 * follows the capabilities until the stream's RAM block list arrives,
 * then holds what that migration chose until it is over (false from
 * then on: the staging mappings are released).  Any thread (API 1.1).
 */
FERRY_API bool ferry_mig_incoming_staged(FerryMig *m);

/* --- either side ------------------------------------------------------- */

/* migrate-pause: postcopy-active -> postcopy-paused. */
FERRY_API bool ferry_mig_pause(FerryMig *m, GError **errp);
FERRY_API MigrationStatus ferry_mig_status(FerryMig *m);
/* QEMU's query-migrate; free with ferry_mig_info_free(). */
FERRY_API MigrationInfo *ferry_mig_query(FerryMig *m);
FERRY_API void ferry_mig_info_free(MigrationInfo *info);
/* The status's QEMU name ("postcopy-active"). */
FERRY_API const char *ferry_mig_status_name(MigrationStatus status);
/* Waits for the migration threads of a finished migration (exit path). */
FERRY_API void ferry_mig_join(FerryMig *m);

/* --- live update -------------------------------------------------------- */

/*
 * The listening socket of an incoming migration that still waits for its
 * stream (tcp/unix; -1 otherwise) and its URI, to hand to the process
 * that takes over; that process passes it to
 * ferry_mig_incoming_adopt_socket() (taken) before ferry_mig_incoming()
 * with the same URI, which then listens on it instead of binding.
 */
FERRY_API int ferry_mig_incoming_socket(FerryMig *m, const char **uri);
FERRY_API void ferry_mig_incoming_adopt_socket(FerryMig *m, int fd);

/* --- device state alone (live update) ---------------------------------- */

/*
 * Writes the registered devices' state, without RAM, to @fd as a QEMU
 * stream (header, FULL sections, EOF: what QEMU's xen-save-devices-state
 * writes), for a process that maps the same guest RAM.  The guest must be
 * stopped and no migration running.  @fd stays the caller's.
 */
FERRY_API bool ferry_mig_save_devices(FerryMig *m, int fd, GError **errp);
/* Loads such a stream from @fd into the registered devices. */
FERRY_API bool ferry_mig_load_devices(FerryMig *m, int fd, GError **errp);

#ifdef __cplusplus
}
#endif

#endif
