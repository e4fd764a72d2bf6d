/*
 * Migration URIs: picks the transport for mig_channel_connect(), and the
 * listener that waits for a migration's incoming channels.
 *
 * A listener belongs to one migration context and is touched only from
 * the thread of its GMainContext, where its callbacks run too.
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
                            int cancel_fd, const MigFdSource *fds,
                            GError **errp)
{
    switch (scheme) {
    case MIG_SCHEME_SOCKET:
        return mig_socket_connect(uri, cancel_fd, errp);
    case MIG_SCHEME_FD:
        return mig_fd_open(uri, outgoing, fds, errp);
    case MIG_SCHEME_EXEC:
        return mig_exec_open(uri, outgoing, errp);
    case MIG_SCHEME_FILE:
        return mig_file_open(uri, outgoing, errp);
    }
    g_assert_not_reached();
}

MigChannel *mig_channel_connect(const char *uri, const MigFdSource *fds,
                                GError **errp)
{
    return mig_channel_connect_cancellable(uri, -1, fds, errp);
}

MigChannel *mig_channel_connect_cancellable(const char *uri, int cancel_fd,
                                            const MigFdSource *fds,
                                            GError **errp)
{
    MigScheme scheme;

    if (!parse_scheme(uri, &scheme, errp)) {
        return NULL;
    }
    return open_uri(uri, scheme, true, cancel_fd, fds, errp);
}

/* --- incoming ------------------------------------------------------------ */

struct MigListener {
    GMainContext *context;
    MigFdSource fds;
    GSource *source;            /* NULL: nothing pending */
    char *uri;
    int listen_fd;              /* tcp/unix until the accept */
    MigChannel *ready;          /* exec/file/fd until the idle callback */
    char *address;              /* socket actually bound */
    int adopted_fd;             /* bound by a predecessor; -1 none */
    MigChannelAccepted cb;
    void *opaque;
    bool keep_listening;        /* hand over every connection, not one */
};

MigListener *mig_listener_new(GMainContext *context, const MigFdSource *fds)
{
    MigListener *l = g_new0(MigListener, 1);

    l->context = g_main_context_ref(context);
    l->fds = *fds;
    l->listen_fd = -1;
    l->adopted_fd = -1;
    return l;
}

static void listener_clear(MigListener *l)
{
    if (l->source) {
        g_source_destroy(l->source);
        g_clear_pointer(&l->source, g_source_unref);
    }
    if (l->listen_fd >= 0) {
        close(l->listen_fd);
        l->listen_fd = -1;
        mig_socket_listen_cleanup(l->uri);
    }
    g_clear_pointer(&l->ready, mig_channel_unref);
    g_clear_pointer(&l->uri, g_free);
    l->cb = NULL;
    l->opaque = NULL;
    l->keep_listening = false;
}

void mig_listener_free(MigListener *l)
{
    if (l) {
        mig_listener_cancel(l);
        mig_listener_adopt_socket(l, -1);
        g_main_context_unref(l->context);
        g_free(l);
    }
}

/* Forgets the source the callback is about to remove by its return. */
static void listener_source_done(MigListener *l)
{
    g_clear_pointer(&l->source, g_source_unref);
}

static gboolean listener_accept(int fd, GIOCondition cond, void *opaque)
{
    MigListener *l = opaque;
    g_autoptr(GError) err = NULL;
    MigChannel *chan = mig_socket_accept(fd, l->address, &err);
    MigChannelAccepted cb = l->cb;
    void *cb_opaque = l->opaque;

    if (!chan && !err) {
        return G_SOURCE_CONTINUE;   /* the peer left before the accept */
    }
    if (err) {
        /* e.g. EMFILE: retrying would spin on the still-pending peer */
        g_warning("%s", err->message);
    }
    if (chan && l->keep_listening) {
        cb(chan, cb_opaque);
        return G_SOURCE_CONTINUE;
    }
    listener_source_done(l);
    listener_clear(l);
    cb(chan, cb_opaque);
    return G_SOURCE_REMOVE;
}

static gboolean listener_ready(void *opaque)
{
    MigListener *l = opaque;
    MigChannel *chan = g_steal_pointer(&l->ready);
    MigChannelAccepted cb = l->cb;
    void *cb_opaque = l->opaque;

    listener_source_done(l);
    listener_clear(l);
    cb(chan, cb_opaque);
    return G_SOURCE_REMOVE;
}

static void attach_source(MigListener *l, GSource *src, GSourceFunc fn)
{
    g_source_set_callback(src, fn, l, NULL);
    g_source_attach(src, l->context);
    l->source = src;
}

int mig_listener_socket(MigListener *l, const char **uri)
{
    *uri = l->uri;
    return l->source ? l->listen_fd : -1;
}

void mig_listener_adopt_socket(MigListener *l, int fd)
{
    if (l->adopted_fd >= 0) {
        close(l->adopted_fd);
    }
    l->adopted_fd = fd;
}

static bool listen_socket(MigListener *l, const char *uri, GError **errp)
{
    char *bound = NULL;
    int fd = mig_socket_listen(uri, l->adopted_fd, &bound, errp);

    if (fd < 0) {
        return false;
    }
    l->listen_fd = fd;
    l->address = bound;
    attach_source(l, g_unix_fd_source_new(fd, G_IO_IN),
                  G_SOURCE_FUNC(listener_accept));
    return true;
}

bool mig_listener_listen(MigListener *l, const char *uri,
                         MigChannelAccepted cb, void *opaque, GError **errp)
{
    MigScheme scheme;

    if (l->source) {
        error_setg(errp, "%s: an incoming migration is already pending on %s",
                   uri, l->uri);
        return false;
    }
    if (!parse_scheme(uri, &scheme, errp)) {
        return false;
    }
    g_clear_pointer(&l->address, g_free);
    if (scheme == MIG_SCHEME_SOCKET) {
        if (!listen_socket(l, uri, errp)) {
            l->adopted_fd = -1;     /* taken, and closed on failure */
            return false;
        }
        l->adopted_fd = -1;
    } else {
        l->ready = open_uri(uri, scheme, false, -1, &l->fds, errp);
        if (!l->ready) {
            return false;
        }
        attach_source(l, g_idle_source_new(), listener_ready);
    }
    l->uri = g_strdup(uri);
    l->cb = cb;
    l->opaque = opaque;
    return true;
}

void mig_listener_keep(MigListener *l, bool keep)
{
    l->keep_listening = keep && l->listen_fd >= 0;
}

char *mig_listener_address(MigListener *l)
{
    return g_strdup(l->address);
}

void mig_listener_cancel(MigListener *l)
{
    listener_clear(l);
    g_clear_pointer(&l->address, g_free);
}
