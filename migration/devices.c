/*
 * Device state without RAM (ferry/migration.h): the small stream a live
 * update moves from one process to the next, which maps the same guest
 * RAM.  It is the migration stream's format with only FULL sections, so
 * scripts/analyze-migration reads it too.
 */
#include <errno.h>
#include <unistd.h>
#include "migration/context.h"
#include "migration/format/savevm.h"
#include "migration/state.h"
#include "util/error.h"

/* A QEMUFile over a dup of @fd: the file closes its own descriptor. */
static QEMUFile *file_on(int fd, bool output, GError **errp)
{
    int own = dup(fd);
    MigChannel *ch;
    QEMUFile *f;

    if (own < 0) {
        error_setg_errno(errp, errno, "device state: dup");
        return NULL;
    }
    ch = output ? mig_channel_new("devices", -1, own, NULL, NULL)
                : mig_channel_new("devices", own, -1, NULL, NULL);
    f = output ? qemu_file_new_output(ch) : qemu_file_new_input(ch);
    mig_channel_unref(ch);
    return f;
}

/* No stream flows: a destination still waiting for its source is idle. */
static bool idle(FerryMig *m, const char *what, GError **errp)
{
    const char *uri;

    if (migration_is_running(ferry_mig_status(m)) &&
        ferry_mig_incoming_socket(m, &uri) < 0) {
        error_setg(errp, "cannot %s device state while a migration is %s",
                   what, ferry_mig_status_name(ferry_mig_status(m)));
        return false;
    }
    return true;
}

bool ferry_mig_save_devices(FerryMig *m, int fd, GError **errp)
{
    QEMUFile *f;
    int ret;

    if (!idle(m, "save", errp) || !(f = file_on(fd, true, errp))) {
        return false;
    }
    ret = savevm_save_devices(&m->saved, f, errp);
    if (qemu_fclose(f, ret < 0 ? NULL : errp) < 0) {
        ret = -EIO;
    }
    return ret == 0;
}

static int refuse_command(uint16_t cmd, const uint8_t *data, uint16_t len,
                          void *opaque, GError **errp)
{
    error_setg(errp, "device state: unexpected command %u in the stream",
               cmd);
    return -EINVAL;
}

bool ferry_mig_load_devices(FerryMig *m, int fd, GError **errp)
{
    QEMUFile *f;
    int ret;

    if (!idle(m, "load", errp) || !(f = file_on(fd, false, errp))) {
        return false;
    }
    ret = savevm_load(&m->saved, f, refuse_command, NULL, errp);
    qemu_fclose(f, NULL);
    if (ret < 0) {
        g_prefix_error(errp, "device state: ");
    }
    return ret == 0;
}
