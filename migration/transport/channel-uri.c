/*
 * Migration URIs: picks the transport for mig_channel_connect() and runs
 * the one pending incoming migration of mig_channel_listen().
 *
 * Incoming state is a singleton because a VM has at most one incoming
 * migration; it is touched only from the main thread.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <glib-unix.h>
#include "migration/transport/channel.h"
#include "util/error.h"

typedef enum MigScheme {
    MIG_SCHEME_SOCKET,
    MIG_SCHEME_FD,
    MIG_SCHEME_EXEC,
    MIG_SCHEME_FILE,
} MigScheme;

static const struct {
    const char *prefix;
    MigScheme scheme;
} schemes[] = {
    { "tcp:", MIG_SCHEME_SOCKET },
    { "unix:", MIG_SCHEME_SOCKET },
    { "fd:", MIG_SCHEME_FD },
    { "exec:", MIG_SCHEME_EXEC },
    { "file:", MIG_SCHEME_FILE },
};

static bool parse_scheme(const char *uri, MigScheme *scheme, GError **errp)
{
    const char *colon = strchr(uri, ':');

    for (size_t i = 0; i < G_N_ELEMENTS(schemes); i++) {
        if (g_str_has_prefix(uri, schemes[i].prefix)) {
            *scheme = schemes[i].scheme;
            return true;
        }
    }
    if (!colon) {
        error_setg(errp, "'%s' is not a migration URI (expected tcp:, unix:, "
                   "fd:, exec: or file:)", uri);
    } else {
        error_setg(errp, "unknown migration protocol '%.*s'",
                   (int)(colon - uri + 1), uri);
    }
    return false;
}

static MigChannel *open_uri(const char *uri, MigScheme scheme, bool outgoing,
                            int cancel_fd, GError **errp)
{
    switch (scheme) {
    case MIG_SCHEME_SOCKET:
        return mig_socket_connect(uri, cancel_fd, errp);
    case MIG_SCHEME_FD:
        return mig_fd_open(uri, outgoing, errp);
    case MIG_SCHEME_EXEC:
        return mig_exec_open(uri, outgoing, errp);
    case MIG_SCHEME_FILE:
        return mig_file_open(uri, outgoing, errp);
    }
    g_assert_not_reached();
}

MigChannel *mig_channel_connect(const char *uri, GError **errp)
{
    return mig_channel_connect_cancellable(uri, -1, errp);
}

MigChannel *mig_channel_connect_cancellable(const char *uri, int cancel_fd,
                                            GError **errp)
{
    MigScheme scheme;

    if (!parse_scheme(uri, &scheme, errp)) {
        return NULL;
    }
    return open_uri(uri, scheme, true, cancel_fd, errp);
}

/* --- incoming ------------------------------------------------------------ */

static struct {
    guint source;               /* 0: nothing pending */
    char *uri;
    int listen_fd;              /* tcp/unix until the accept */
    MigChannel *ready;          /* exec/file/fd until the idle callback */
    char *address;              /* socket actually bound */
    MigChannelAccepted cb;
    void *opaque;
    bool keep_listening;        /* hand over every connection, not one */
} incoming = { .listen_fd = -1 };

static void incoming_clear(void)
{
    if (incoming.source) {
        g_source_remove(incoming.source);
        incoming.source = 0;
    }
    if (incoming.listen_fd >= 0) {
        close(incoming.listen_fd);
        incoming.listen_fd = -1;
        mig_socket_listen_cleanup(incoming.uri);
    }
    g_clear_pointer(&incoming.ready, mig_channel_unref);
    g_clear_pointer(&incoming.uri, g_free);
    incoming.cb = NULL;
    incoming.opaque = NULL;
    incoming.keep_listening = false;
}

static gboolean incoming_accept(int fd, GIOCondition cond, void *unused)
{
    g_autoptr(GError) err = NULL;
    MigChannel *chan = mig_socket_accept(fd, incoming.address, &err);

    MigChannelAccepted cb = incoming.cb;
    void *opaque = incoming.opaque;

    if (!chan && !err) {
        return G_SOURCE_CONTINUE;   /* the peer left before the accept */
    }
    if (err) {
        /* e.g. EMFILE: retrying would spin on the still-pending peer */
        g_warning("%s", err->message);
    }
    if (chan && incoming.keep_listening) {
        cb(chan, opaque);
        return G_SOURCE_CONTINUE;
    }
    incoming.source = 0;    /* removed by our return value */
    incoming_clear();
    cb(chan, opaque);
    return G_SOURCE_REMOVE;
}

static gboolean incoming_ready(void *unused)
{
    MigChannel *chan = g_steal_pointer(&incoming.ready);
    MigChannelAccepted cb = incoming.cb;
    void *opaque = incoming.opaque;

    incoming.source = 0;
    incoming_clear();
    cb(chan, opaque);
    return G_SOURCE_REMOVE;
}

static bool listen_socket(const char *uri, GError **errp)
{
    char *bound = NULL;
    int fd = mig_socket_listen(uri, &bound, errp);

    if (fd < 0) {
        return false;
    }
    incoming.listen_fd = fd;
    incoming.address = bound;
    incoming.source = g_unix_fd_add(fd, G_IO_IN, incoming_accept, NULL);
    return true;
}

bool mig_channel_listen(const char *uri, MigChannelAccepted cb, void *opaque,
                        GError **errp)
{
    MigScheme scheme;

    if (incoming.source) {
        error_setg(errp, "%s: an incoming migration is already pending on %s",
                   uri, incoming.uri);
        return false;
    }
    if (!parse_scheme(uri, &scheme, errp)) {
        return false;
    }
    g_clear_pointer(&incoming.address, g_free);
    if (scheme == MIG_SCHEME_SOCKET) {
        if (!listen_socket(uri, errp)) {
            return false;
        }
    } else {
        incoming.ready = open_uri(uri, scheme, false, -1, errp);
        if (!incoming.ready) {
            return false;
        }
        incoming.source = g_idle_add(incoming_ready, NULL);
    }
    incoming.uri = g_strdup(uri);
    incoming.cb = cb;
    incoming.opaque = opaque;
    return true;
}

void mig_channel_listen_keep(bool keep)
{
    incoming.keep_listening = keep && incoming.listen_fd >= 0;
}

char *mig_channel_listen_address(void)
{
    return g_strdup(incoming.address);
}

void mig_listen_cancel(void)
{
    incoming_clear();
    g_clear_pointer(&incoming.address, g_free);
}
