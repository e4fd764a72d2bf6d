/* getfd / closefd: named descriptors received with SCM_RIGHTS. */
#include <unistd.h>
#include "monitor/fds.h"
#include "monitor/qmp-dispatch.h"
#include "qapi/qapi-commands.h"
#include "util/error.h"

static GHashTable *fds;     /* name -> fd (GINT_TO_POINTER) */

static void close_fd(gpointer p)
{
    close(GPOINTER_TO_INT(p));
}

static GHashTable *table(void)
{
    if (!fds) {
        fds = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, close_fd);
    }
    return fds;
}

void qmp_getfd(const char *fdname, GError **errp)
{
    QmpSession *session = qmp_session_current();
    int fd = session ? qmp_session_take_fd(session) : -1;

    if (fd < 0) {
        error_setg(errp, "No file descriptor supplied via SCM_RIGHTS");
        return;
    }
    if (g_ascii_isdigit(fdname[0])) {
        close(fd);
        error_setg(errp, "Parameter 'fdname' must not start with a digit");
        return;
    }
    g_hash_table_replace(table(), g_strdup(fdname), GINT_TO_POINTER(fd));
}

void qmp_closefd(const char *fdname, GError **errp)
{
    if (!g_hash_table_remove(table(), fdname)) {
        error_setg(errp, "File descriptor named '%s' not found", fdname);
    }
}

int monitor_fd_take(const char *name, GError **errp)
{
    gpointer key, value;

    if (!g_hash_table_steal_extended(table(), name, &key, &value)) {
        error_setg(errp, "File descriptor named '%s' has not been found", name);
        return -1;
    }
    g_free(key);
    return GPOINTER_TO_INT(value);
}

void monitor_fds_clear(void)
{
    g_clear_pointer(&fds, g_hash_table_unref);
}
