/*
 * The destination side: listen, load the stream in a thread of its own,
 * answer the source on the return path, then (on the main thread) run the
 * guest, or leave it paused with -S.  A failed load never runs the guest.
 *
 * Locking: `inc` is written by the main thread before the load thread
 * starts and read by it afterwards; the result goes back to the main
 * thread through an idle callback.
 */
#include <errno.h>
#include "migration/channel.h"
#include "migration/incoming.h"
#include "migration/migration.h"
#include "migration/return-path.h"
#include "migration/savevm.h"
#include "migration/vmm.h"
#include "util/error.h"
#include "util/log.h"

typedef struct Incoming {
    bool started;
    bool exit_on_error;
    bool autostart;
    QEMUFile *f;
    QEMUFile *rp;               /* opened on MIG_CMD_OPEN_RETURN_PATH */
    GThread *thread;
    GError *error;              /* the load's outcome */
} Incoming;

static Incoming inc = { .autostart = true };

void migration_incoming_set_autostart(bool autostart)
{
    inc.autostart = autostart;
}

static int on_command(uint16_t cmd, const uint8_t *data, uint16_t len,
                      void *opaque, GError **errp)
{
    switch (cmd) {
    case MIG_CMD_OPEN_RETURN_PATH:
        inc.rp = qemu_file_get_return_path(inc.f);
        if (!inc.rp) {
            error_setg(errp, "the source asked for a return path, but this "
                       "transport has none");
            return -EINVAL;
        }
        return 0;
    case MIG_CMD_PING:
        if (len != 4) {
            error_setg(errp, "migration stream: PING of %u bytes", len);
            return -EINVAL;
        }
        if (inc.rp) {
            rp_send(inc.rp, MIG_RP_MSG_PONG, 4, data);
        }
        return 0;
    default:
        error_setg(errp, "migration stream: command %u is not supported "
                   "here", cmd);
        return -ENOTSUP;
    }
}

static gboolean load_finished(gpointer opaque)
{
    MigrationState *s = migration_current();
    g_autoptr(GError) err = NULL;

    if (inc.thread) {
        g_thread_join(inc.thread);
        inc.thread = NULL;
    }
    if (!inc.error && !migration_vmm()->incoming_loaded(&inc.error)) {
        g_prefix_error(&inc.error, "incoming migration: ");
    }
    if (inc.error) {
        ferry_log("incoming migration failed: %s", inc.error->message);
        g_free(s->error_desc);
        s->error_desc = g_strdup(inc.error->message);
        migrate_set_state(s, MIGRATION_STATUS_ACTIVE, MIGRATION_STATUS_FAILED);
        migration_vmm()->incoming_failed(inc.error->message,
                                         inc.exit_on_error);
        return G_SOURCE_REMOVE;
    }
    migrate_set_state(s, MIGRATION_STATUS_ACTIVE, MIGRATION_STATUS_COMPLETED);
    if (!migration_vmm()->incoming_run(inc.autostart, &err)) {
        ferry_log("incoming migration: %s", err->message);
    }
    return G_SOURCE_REMOVE;
}

static gboolean load_finished_no_thread(gpointer opaque)
{
    return load_finished(opaque);
}

static gpointer load_thread(gpointer opaque)
{
    GError *err = NULL;
    int ret = savevm_load(inc.f, on_command, NULL, &err);

    if (inc.rp) {
        /* SHUT tells the source whether it may consider itself done. */
        rp_send_be32(inc.rp, MIG_RP_MSG_SHUT, ret == 0 ? 0 : 1);
    }
    qemu_fclose(inc.f, NULL);
    inc.f = NULL;
    inc.rp = NULL;
    inc.error = err;
    g_idle_add(load_finished, NULL);
    return NULL;
}

static void accepted(MigChannel *chan, void *opaque)
{
    MigrationState *s = migration_current();

    if (!chan) {
        inc.error = g_error_new(FERRY_ERROR, FERRY_ERROR_GENERIC,
                                "incoming migration: accepting the "
                                "connection failed");
        migrate_set_state(s, MIGRATION_STATUS_SETUP, MIGRATION_STATUS_ACTIVE);
        g_idle_add(load_finished_no_thread, NULL);
        return;
    }
    ferry_log("incoming migration: connection from %s", mig_channel_name(chan));
    inc.f = qemu_file_new_input(chan);
    mig_channel_unref(chan);    /* the file holds its own reference */
    if (!migrate_set_state(s, MIGRATION_STATUS_SETUP, MIGRATION_STATUS_ACTIVE)) {
        qemu_fclose(inc.f, NULL);
        inc.f = NULL;
        return;
    }
    inc.thread = g_thread_new("mig/dest", load_thread, NULL);
}

bool migration_incoming_start(const char *uri, bool exit_on_error,
                              GError **errp)
{
    MigrationState *s = migration_current();

    if (!migration_vmm()->incoming_allowed(errp)) {
        return false;
    }
    if (inc.started) {
        error_setg(errp, "The incoming migration has already been started");
        return false;
    }
    if (!migrate_set_state(s, migration_status(s), MIGRATION_STATUS_SETUP)) {
        error_setg(errp, "cannot start an incoming migration now");
        return false;
    }
    inc.exit_on_error = exit_on_error;
    if (!mig_channel_listen(uri, accepted, NULL, errp)) {
        migrate_set_state(s, MIGRATION_STATUS_SETUP, MIGRATION_STATUS_FAILED);
        return false;
    }
    inc.started = true;
    return true;
}
