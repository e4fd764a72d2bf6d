/*
 * The migration context: everything one VM's migrations need, owned by
 * one object (the public FerryMig).  Each part belongs to one file of the
 * core, which defines its struct and is the only one to touch it:
 *
 *   status, capabilities,    migration/state.c, migration/options.c
 *   parameters
 *   saved state (RAM entry,  migration/format/savevm.c,
 *   device sections)         migration/format/vmstate-register.c
 *   out                      migration/outgoing/ (the source)
 *   inc, listener            migration/incoming/incoming.c,
 *                            migration/transport/channel-uri.c
 *   ram, ram_load            migration/ram/ram.c, migration/ram/ram-load.c
 *   postcopy_dst, block_dst  migration/incoming/postcopy-dst.c, block-dst.c
 *   multifd_send, _recv      migration/multifd/send.c, recv.c
 *
 * Locking: the status is an atomic (state.c); parameters are guarded by
 * params_lock because a running migration reads them while the monitor
 * may change them; capabilities change only while no migration runs.
 * The parts document their own locking.
 */
#ifndef FERRY_MIGRATION_CONTEXT_H
#define FERRY_MIGRATION_CONTEXT_H

#include "ferry/migration.h"
#include "migration/format/savevm.h"
#include "migration/transport/channel.h"

#define MIG_PAGE_SHIFT FERRY_MIG_PAGE_SHIFT
#define MIG_PAGE_SIZE  FERRY_MIG_PAGE_SIZE
typedef FerryMigRAMBlock MigRAMBlock;

typedef struct MigOutgoing MigOutgoing;
typedef struct MigIncoming MigIncoming;
typedef struct RAMSaveState RAMSaveState;
typedef struct RAMLoadState RAMLoadState;
typedef struct PostcopyDst PostcopyDst;
typedef struct BlockDst BlockDst;
typedef struct MigTls MigTls;
typedef struct MultiFDSend MultiFDSend;
typedef struct MultiFDRecv MultiFDRecv;

struct FerryMig {
    FerryMigVMM vmm;            /* the embedder's table, missing hooks NULL */
    void *opaque;               /* the embedder's, for every hook */
    GMainContext *context;      /* where main-context work is dispatched */
    GMutex sources_lock;
    GPtrArray *sources;         /* sources_lock: mig_run_on_main's, pending */

    MigrationStatus status;     /* atomic; migrate_set_state() only */
    bool capabilities[MIGRATION_CAPABILITY__MAX];
    GMutex params_lock;
    MigrationParameters params; /* params_lock; every has_ set */
    GMutex error_lock;
    char *error_desc;           /* error_lock: the last failure's reason */

    MigFdSource fds;            /* the VMM's fd_lookup, for fd: URIs */
    SaveVMState saved;          /* the RAM entry and the device sections */
    MigOutgoing *out;
    MigIncoming *inc;
    MigListener *listener;
    RAMSaveState *ram;
    RAMLoadState *ram_load;
    PostcopyDst *postcopy_dst;
    BlockDst *block_dst;
    MigTls *tls;                /* migration/tls.c */
    MultiFDSend *multifd_send;  /* migration/multifd/send.c */
    MultiFDRecv *multifd_recv;  /* migration/multifd/recv.c */
};

/*
 * Runs @fn(@data) once on the context's main context (an idle source);
 * any thread.  Sources still pending when the context is freed are
 * destroyed with it.
 */
void mig_run_on_main(FerryMig *m, GSourceFunc fn, void *data);
/* Emits @event through the VMM's event hook, if any. */
void mig_emit(FerryMig *m, const FerryMigEvent *event);
int64_t mig_now_ms(void);

/* The reason of the last failure, for query-migrate's error-desc. */
void mig_set_error(FerryMig *m, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
void mig_clear_error(FerryMig *m);
char *mig_get_error(FerryMig *m);          /* g_free; NULL if none */

/* A consistent copy of the numeric parameters (strings are left NULL). */
void mig_params_get(FerryMig *m, MigrationParameters *out);

/* Each part's constructor and destructor (context.c calls them). */
MigOutgoing *mig_outgoing_new(void);
void mig_outgoing_free(MigOutgoing *out);
MigIncoming *mig_incoming_new(void);
void mig_incoming_free(MigIncoming *inc);
RAMSaveState *ram_save_state_new(void);
void ram_save_state_free(RAMSaveState *rs);
RAMLoadState *ram_load_state_new(void);
void ram_load_state_free(RAMLoadState *rl);
PostcopyDst *postcopy_dst_new(void);
void postcopy_dst_free(PostcopyDst *pc);
BlockDst *block_dst_new(void);
void block_dst_free(BlockDst *bd);
/* Capabilities and parameters at their defaults (options.c). */
void mig_options_init(FerryMig *m);
void mig_options_clear(FerryMig *m);
/* At migrate: zero-copy-send's rules hold for @uri (options.c). */
bool mig_zero_copy_check_start(FerryMig *m, const char *uri, GError **errp);

#endif
