/*
 * exec:COMMAND: /bin/sh -c COMMAND.  Outgoing writes the command's stdin
 * (its stdout goes to /dev/null, as in QEMU); incoming reads its stdout
 * (stdin from /dev/null).  stderr is ferry's, so its complaints reach the
 * log.  Closing the channel reaps the child, so there are no zombies, and
 * reports a command that failed.
 */
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <sys/wait.h>
#include "migration/transport/channel.h"
#include "util/error.h"

/* How long a command may take to finish after its pipe closed: a writer
 * such as "gzip > FILE" still has to flush. */
#define EXEC_GRACE_MS   10000
#define EXEC_TERM_MS    1000
#define EXEC_POLL_MS    10

/* waitpid() with a deadline: true once reaped (or already reaped). */
static bool wait_child(GPid pid, int *status, int timeout_ms)
{
    for (int waited = 0;; waited += EXEC_POLL_MS) {
        pid_t r = waitpid(pid, status, WNOHANG);

        if (r == pid || (r < 0 && errno != EINTR)) {
            return true;    /* ECHILD: someone else reaped it */
        }
        if (waited >= timeout_ms) {
            return false;
        }
        g_usleep(EXEC_POLL_MS * 1000);
    }
}

static bool exec_reap(MigChannel *chan, GError **errp)
{
    GPid pid = GPOINTER_TO_INT(mig_channel_priv(chan));
    int status = 0;

    if (!wait_child(pid, &status, EXEC_GRACE_MS)) {
        kill(pid, SIGTERM);
        if (!wait_child(pid, &status, EXEC_TERM_MS)) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
        }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        error_setg(errp, "%s: command exited with status %d",
                   mig_channel_name(chan), WEXITSTATUS(status));
        return false;
    }
    if (WIFSIGNALED(status)) {
        error_setg(errp, "%s: command killed by signal %d",
                   mig_channel_name(chan), WTERMSIG(status));
        return false;
    }
    return true;
}

MigChannel *mig_exec_open(const char *uri, bool outgoing, GError **errp)
{
    const char *command = uri + 5;      /* after "exec:" */
    char *argv[] = { "/bin/sh", "-c", (char *)command, NULL };
    GSpawnFlags flags = G_SPAWN_DO_NOT_REAP_CHILD |
                        (outgoing ? G_SPAWN_STDOUT_TO_DEV_NULL : 0);
    g_autoptr(GError) err = NULL;
    GPid pid;
    int fd;

    if (!*command) {
        error_setg(errp, "'%s': missing command", uri);
        return NULL;
    }
    /* a NULL stdin/stdout pointer means /dev/null (stdin) or inherited */
    if (!g_spawn_async_with_pipes(NULL, argv, NULL, flags, NULL, NULL, &pid,
                                  outgoing ? &fd : NULL,
                                  outgoing ? NULL : &fd, NULL, &err)) {
        error_setg(errp, "%s: cannot run the command: %s", uri, err->message);
        return NULL;
    }
    return outgoing
        ? mig_channel_new(uri, -1, fd, exec_reap, GINT_TO_POINTER(pid))
        : mig_channel_new(uri, fd, -1, exec_reap, GINT_TO_POINTER(pid));
}
